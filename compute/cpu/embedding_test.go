package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEmbedding(t *testing.T) {
	cases := []struct{ N, C, V int }{{1, 3, 2}, {9, 5, 4}, {300, 128, 50}} // the last one runs in parallel
	for _, tc := range cases {
		t.Run(fmt.Sprintf("N=%d,C=%d,V=%d", tc.N, tc.C, tc.V), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.N), 4))
			table := randSlice(rng, tc.V*tc.C, 1)
			ids := make([]int32, tc.N)
			for n := range ids {
				ids[n] = int32(rng.IntN(tc.V))
			}
			out := randSlice(rng, tc.N*tc.C, 1) // overwritten
			New().Embedding(Wrap(out), Wrap(table), ids, tc.C)
			for n, id := range ids {
				require.Equal(t, table[int(id)*tc.C:int(id+1)*tc.C], out[n*tc.C:(n+1)*tc.C], "row %d", n)
			}
		})
	}
}

// TestEmbeddingBackwardFiniteDifferences checks dtable against central
// differences of L = Σ dout·Embedding(table) (linear in table, so exact up to
// rounding), with repeated ids so that accumulation across tokens is exercised.
func TestEmbeddingBackwardFiniteDifferences(t *testing.T) {
	cases := []struct{ N, C, V int }{{6, 3, 4}, {400, 96, 7}} // the second runs in parallel
	for _, tc := range cases {
		t.Run(fmt.Sprintf("N=%d,C=%d,V=%d", tc.N, tc.C, tc.V), func(t *testing.T) {
			be := New()
			N, C, V := tc.N, tc.C, tc.V
			rng := rand.New(rand.NewPCG(uint64(N), 5))
			table := randSlice(rng, V*C, 1)
			dout := randSlice(rng, N*C, 1)
			ids := make([]int32, N)
			for n := range ids {
				ids[n] = int32(rng.IntN(V - 1)) // the last row is never used: its gradient stays put
			}
			dtable := randSlice(rng, V*C, 1)
			initial := append([]float32(nil), dtable...)
			be.EmbeddingBackward(Wrap(dtable), Wrap(dout), ids, C)

			out := make([]float32, N*C)
			loss := func() float64 {
				be.Embedding(Wrap(out), Wrap(table), ids, C)
				var l float64
				for i := range out {
					l += float64(dout[i]) * float64(out[i])
				}
				return l
			}
			const eps = 0.5 // L is linear: any step is exact up to rounding
			for _, i := range []int{0, C - 1, (V-1)*C - 1, (V - 1) * C, V*C - 1} {
				orig := table[i]
				table[i] = orig + eps
				up := loss()
				table[i] = orig - eps
				down := loss()
				table[i] = orig
				fd := (up - down) / (2 * eps)
				require.InDelta(t, fd, dtable[i]-initial[i], 1e-4*(1+float64(N)/float64(V)), "dtable[%d]", i)
			}
			require.Equal(t, initial[(V-1)*C:], dtable[(V-1)*C:], "unused row must be untouched")
		})
	}
}

func TestEmbeddingIDOutOfRangePanics(t *testing.T) {
	be := New()
	table, out := make([]float32, 4*2), make([]float32, 2*2)
	require.PanicsWithValue(t, "cpu: embedding: ids[1] = 4 is outside the table's 4 rows", func() {
		be.Embedding(Wrap(out), Wrap(table), []int32{0, 4}, 2)
	})
	require.PanicsWithValue(t, "cpu: embedding: ids[0] = -1 is outside the table's 4 rows", func() {
		be.EmbeddingBackward(Wrap(table), Wrap(out), []int32{-1, 0}, 2)
	})
}
