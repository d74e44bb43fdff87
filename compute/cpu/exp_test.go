package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expShift must equal the scalar expf32 loop within a few ulp everywhere,
// including the blocks that fall back to it (NaN, ±Inf, under- and overflow)
// and tails shorter than a vector.
func TestExpShiftMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, -87.3, -87.4, 88.3, 88.5, 88.72, -200}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 1000} {
		for _, shift := range []float32{0, 3.5, -2} {
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(rng.Float64()*200 - 100)
				if i%13 == 5 {
					src[i] = special[i%len(special)]
				}
			}
			got := make([]float32, n)
			expShift(got, src, shift)
			for i, x := range src {
				want := expf32(x - shift)
				switch {
				case want != want:
					require.True(t, math.IsNaN(float64(got[i])), "exp(%v-%v) = %v, want NaN", x, shift, got[i])
				case want == 0 || math.IsInf(float64(want), 0):
					require.Equal(t, want, got[i], "exp(%v-%v)", x, shift)
				default:
					require.InEpsilon(t, want, got[i], 5e-7, "exp(%v-%v) at n=%d i=%d", x, shift, n, i)
				}
			}
		}
	}
}

func TestExpShiftInPlace(t *testing.T) {
	x := []float32{0, 1, -1, 2, -2, 0.5, -0.5, 3, 10}
	want := make([]float32, len(x))
	for i, v := range x {
		want[i] = expf32(v - 1)
	}
	expShift(x, x, 1)
	assert.InDeltaSlice(t, want, x, 1e-5)
}

func BenchmarkExp(b *testing.B) {
	src := make([]float32, 4096)
	for i := range src {
		src[i] = -float32(i%200) / 10
	}
	dst := make([]float32, len(src))
	b.Run("scalar", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			for i, x := range src {
				dst[i] = expf32(x)
			}
		}
	})
	b.Run("expShift", func(b *testing.B) {
		b.SetBytes(int64(4 * len(src)))
		for b.Loop() {
			expShift(dst, src, 0)
		}
	})
}
