package datasets

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exampleOfLen makes an example whose ids are base, base+1, ... and whose labels carry loss
// everywhere but the first token, as the encoders produce.
func exampleOfLen(n int, base int32) Example {
	ex := Example{IDs: make([]int32, n), Labels: make([]int32, n)}
	for t := range n {
		ex.IDs[t] = base + int32(t)
		ex.Labels[t] = base + int32(t)
	}
	ex.Labels[0] = IgnoreIndex
	return ex
}

func TestPackBestFitDecreasing(t *testing.T) {
	lengths := []int{3, 7, 5, 5, 2, 8, 1}
	var examples []Example
	for i, n := range lengths {
		examples = append(examples, exampleOfLen(n, int32(100*i)))
	}
	rows, err := Pack(examples, 10)
	require.NoError(t, err)
	// Longest first: 8 opens row 0, 7 row 1, 5 row 2; the second 5 best-fits row 2 (room 5),
	// 3 row 1 (room 3), 2 row 0 (room 2); 1 fits nowhere and opens row 3.
	wantDocs := [][]int{{5, 4}, {1, 0}, {2, 3}, {6}}
	require.Len(t, rows, len(wantDocs))
	for r, docs := range wantDocs {
		var want Sequence
		for d, i := range docs {
			want = appendDoc(want, examples[i], int32(d))
		}
		assert.Equal(t, want, rows[r], "row %d", r)
	}

	// Row 0 in detail: example 5 (8 tokens) then example 4 (2 tokens).
	assert.Equal(t, []int32{0, 1, 2, 3, 4, 5, 6, 7, 0, 1}, rows[0].PositionIDs, "positions restart per document")
	assert.Equal(t, []int32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, rows[0].DocIDs)
	assert.Equal(t, []int32{500, 501, 502, 503, 504, 505, 506, 507, 400, 401}, rows[0].IDs)
	assert.Equal(t, IgnoreIndex, rows[0].Labels[0])
	assert.Equal(t, IgnoreIndex, rows[0].Labels[8], "a document's first token is never a target")
	assert.Equal(t, int32(401), rows[0].Labels[9])
}

func TestPackMasksDocumentStartsEvenIfLabelled(t *testing.T) {
	a := Example{IDs: []int32{1, 2}, Labels: []int32{1, 2}} // LossOnAll-style labels
	rows, err := Pack([]Example{a, a}, 4)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, []int32{IgnoreIndex, 2, IgnoreIndex, 2}, rows[0].Labels)
}

// bestFitReference is the plain O(n × rows) best-fit decreasing; only the fill of each row is
// compared, since ties between rows of equal room may be broken either way.
func bestFitReference(lengths []int, seqLen int) []int {
	sorted := slices.Clone(lengths)
	slices.SortStableFunc(sorted, func(a, b int) int { return b - a })
	var fill []int
	for _, n := range sorted {
		best := -1
		for r, f := range fill {
			if seqLen-f >= n && (best < 0 || f > fill[best]) {
				best = r
			}
		}
		if best < 0 {
			fill = append(fill, 0)
			best = len(fill) - 1
		}
		fill[best] += n
	}
	slices.Sort(fill)
	return fill
}

func TestPackMatchesReferenceBestFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 20 {
		seqLen := 16 + rng.IntN(200)
		lengths := make([]int, 1+rng.IntN(300))
		examples := make([]Example, len(lengths))
		for i := range lengths {
			lengths[i] = 1 + rng.IntN(seqLen)
			examples[i] = exampleOfLen(lengths[i], 0)
		}
		rows, err := Pack(examples, seqLen)
		require.NoError(t, err)
		fill := make([]int, len(rows))
		total := 0
		for r, row := range rows {
			fill[r] = len(row.IDs)
			total += len(row.IDs)
			assert.LessOrEqual(t, len(row.IDs), seqLen)
		}
		slices.Sort(fill)
		assert.Equal(t, bestFitReference(lengths, seqLen), fill, "trial %d", trial)
		sum := 0
		for _, n := range lengths {
			sum += n
		}
		assert.Equal(t, sum, total, "every token is packed exactly once")
	}
}

func TestPackErrors(t *testing.T) {
	_, err := Pack([]Example{exampleOfLen(5, 0)}, 4)
	assert.EqualError(t, err, "datasets: example 0 has 5 tokens; packing into rows of 4 needs 1 to 4 (set max_length to truncate first)")
	_, err = Pack([]Example{exampleOfLen(1, 0)}, 0)
	assert.Error(t, err)
	_, err = Pack([]Example{{}}, 4)
	assert.Error(t, err)
}

func TestCollate(t *testing.T) {
	short := Single(Example{IDs: []int32{7, 8}, Labels: []int32{IgnoreIndex, 8}})
	packed, err := Pack([]Example{exampleOfLen(2, 10), exampleOfLen(2, 20)}, 4)
	require.NoError(t, err)

	batch, err := Collate([]Sequence{short, packed[0]}, 0, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, batch.B)
	assert.Equal(t, 4, batch.T, "T 0 pads to the longest row")
	assert.Equal(t, []int32{7, 8, 2, 2, 10, 11, 20, 21}, batch.IDs)
	assert.Equal(t, []int32{IgnoreIndex, 8, IgnoreIndex, IgnoreIndex, IgnoreIndex, 11, IgnoreIndex, 21}, batch.Labels)
	assert.Equal(t, []int32{0, 1, 0, 0, 0, 1, 0, 1}, batch.PositionIDs)
	assert.Equal(t, []int32{0, 0, -1, -2, 0, 0, 1, 1}, batch.DocIDs, "each pad token is its own document")
	assert.Equal(t, 3, batch.LossTokens)

	batch, err = Collate([]Sequence{short}, 3, 0)
	require.NoError(t, err)
	assert.Equal(t, []int32{7, 8, 0}, batch.IDs)

	_, err = Collate([]Sequence{packed[0]}, 3, 0)
	assert.EqualError(t, err, "datasets: a row of 4 tokens does not fit a batch of length 3")
	_, err = Collate(nil, 3, 0)
	assert.Error(t, err)
}
