package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// elementwiseSizes straddle parallelMin so both the inline and the parallel
// paths run, including a length that does not split evenly.
var elementwiseSizes = []int{0, 1, 7, parallelMin - 1, parallelMin, 3*parallelMin + 5}

func TestAdd(t *testing.T) {
	for _, n := range elementwiseSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			dst, src := randSlice(rng, n, 1), randSlice(rng, n+3, 1) // src may be longer
			want := make([]float32, n)
			for i := range want {
				want[i] = dst[i] + src[i]
			}
			New().Add(Wrap(dst), Wrap(src))
			require.Equal(t, want, dst)
		})
	}
}

func TestScale(t *testing.T) {
	for _, n := range elementwiseSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			x := randSlice(rng, n, 1)
			want := make([]float32, n)
			for i := range want {
				want[i] = x[i] * -0.37
			}
			New().Scale(Wrap(x), -0.37)
			require.Equal(t, want, x)
		})
	}
}

func TestSumSquares(t *testing.T) {
	for _, n := range elementwiseSizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 3))
			x := randSlice(rng, n, 1e3) // squares up to ~1e7: float32 sums would lose digits
			var want float64
			for _, v := range x {
				want += float64(v) * float64(v)
			}
			got := New().SumSquares(Wrap(x))
			require.InDelta(t, want, got, 1e-12*want)
			single := &Backend{workers: 1}
			require.Equal(t, got, single.SumSquares(Wrap(x)), "result must not depend on the worker count")
		})
	}
}
