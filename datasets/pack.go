package datasets

import (
	"fmt"
	"slices"
)

// Sequence is one batch row before padding: a single example, or several packed together.
type Sequence struct {
	IDs         []int32 // [T]
	Labels      []int32 // [T]; IgnoreIndex at the first token of every document
	PositionIDs []int32 // [T]; restart at 0 for each document, so RoPE sees each one alone
	DocIDs      []int32 // [T]; 0, 1, ... per document; attention never crosses documents
}

// Single makes an unpacked row of one example.
func Single(ex Example) Sequence {
	return appendDoc(Sequence{}, ex, 0)
}

// appendDoc adds ex as document doc of s.
func appendDoc(s Sequence, ex Example, doc int32) Sequence {
	start := len(s.IDs)
	s.IDs = append(s.IDs, ex.IDs...)
	s.Labels = append(s.Labels, ex.Labels...)
	for t := range ex.IDs {
		s.PositionIDs = append(s.PositionIDs, int32(t))
		s.DocIDs = append(s.DocIDs, doc)
	}
	if len(ex.IDs) > 0 {
		// The previous document's last token must not be trained to predict this one's first.
		s.Labels[start] = IgnoreIndex
	}
	return s
}

// Pack places examples into rows of at most seqLen tokens by best-fit decreasing: longest
// first, each into the open row with the least room that still fits it, a new row when none
// does. This is TRL's "bfd" packing; it fills rows far better than concatenating in order and
// never splits an example. Examples must already be truncated to seqLen.
func Pack(examples []Example, seqLen int) ([]Sequence, error) {
	if seqLen <= 0 {
		return nil, fmt.Errorf("datasets: packing length %d must be positive", seqLen)
	}
	order := make([]int, len(examples))
	for i, ex := range examples {
		if len(ex.IDs) == 0 || len(ex.IDs) > seqLen {
			return nil, fmt.Errorf("datasets: example %d has %d tokens; packing into rows of %d needs 1 to %d "+
				"(set max_length to truncate first)", i, len(ex.IDs), seqLen, seqLen)
		}
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(examples[b].IDs) - len(examples[a].IDs) })

	var bins [][]int             // example indices per row, in placement order
	room := newRoomIndex(seqLen) // open rows by free space
	for _, i := range order {
		n := len(examples[i].IDs)
		b, free, ok := room.takeBestFit(n)
		if !ok {
			b, free = len(bins), seqLen
			bins = append(bins, nil)
		}
		bins[b] = append(bins[b], i)
		room.add(b, free-n)
	}
	rows := make([]Sequence, len(bins))
	for b, members := range bins {
		for doc, i := range members {
			rows[b] = appendDoc(rows[b], examples[i], int32(doc))
		}
	}
	return rows, nil
}

// roomIndex finds, in O(log seqLen), the open row with the least free space ≥ n: a segment
// tree over free-space values 0..seqLen counting rows, with the rows of each value on a stack.
type roomIndex struct {
	leaves int     // power of two ≥ seqLen+1
	count  []int32 // [2*leaves] segment tree of row counts; leaf f at leaves+f
	rows   [][]int // rows[f]: the rows with f free slots
}

func newRoomIndex(seqLen int) *roomIndex {
	leaves := 1
	for leaves < seqLen+1 {
		leaves *= 2
	}
	return &roomIndex{leaves: leaves, count: make([]int32, 2*leaves), rows: make([][]int, seqLen+1)}
}

func (r *roomIndex) add(row, free int) {
	if free == 0 {
		return // a full row never takes anything again
	}
	r.rows[free] = append(r.rows[free], row)
	r.bump(free, 1)
}

func (r *roomIndex) bump(free int, delta int32) {
	for node := r.leaves + free; node > 0; node /= 2 {
		r.count[node] += delta
	}
}

// takeBestFit removes and returns the row with the least free space ≥ n.
func (r *roomIndex) takeBestFit(n int) (row, free int, ok bool) {
	free = r.leftmostFrom(1, 0, r.leaves, n)
	if free < 0 {
		return 0, 0, false
	}
	stack := r.rows[free]
	row = stack[len(stack)-1]
	r.rows[free] = stack[:len(stack)-1]
	r.bump(free, -1)
	return row, free, true
}

// leftmostFrom returns the smallest leaf ≥ n with a non-zero count under node (covering
// leaves [lo, hi)), or -1.
func (r *roomIndex) leftmostFrom(node, lo, hi, n int) int {
	if hi <= n || r.count[node] == 0 {
		return -1
	}
	if hi-lo == 1 {
		return lo
	}
	mid := (lo + hi) / 2
	if f := r.leftmostFrom(2*node, lo, mid, n); f >= 0 {
		return f
	}
	return r.leftmostFrom(2*node+1, mid, hi, n)
}
