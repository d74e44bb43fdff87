package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// testBackends returns the backends every kernel test runs on: the default
// one (OpenBLAS when it loads) and the pure-Go one.
func testBackends() map[string]*Backend {
	return map[string]*Backend{"default": New(), "purego": NewPureGo()}
}

func randSlice(rng *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = scale * float32(rng.NormFloat64())
	}
	return s
}

// matMulRef is the plain triple loop MatMul must equal, accumulated in float64.
func matMulRef(c, a, b []float32, m, n, k int, transA, transB bool, alpha, beta float32) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			c[i*n+j] = float32(float64(alpha)*s + float64(beta)*float64(c[i*n+j]))
		}
	}
}

func TestMatMulMatchesReference(t *testing.T) {
	sizes := []struct{ m, n, k int }{
		{1, 1, 1}, {3, 5, 7}, {17, 1, 33}, {64, 48, 80}, {129, 67, 131},
	}
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {0.5, 1}, {-2, 0.25}}
	for name, be := range testBackends() {
		for _, sz := range sizes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, sc := range scalars {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v/alpha=%g,beta=%g", name, sz.m, sz.n, sz.k, tr[0], tr[1], sc.alpha, sc.beta), func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(sz.m), uint64(sz.k)))
						a := randSlice(rng, sz.m*sz.k, 1)
						b := randSlice(rng, sz.k*sz.n, 1)
						c := randSlice(rng, sz.m*sz.n, 1)
						want := append([]float32(nil), c...)
						matMulRef(want, a, b, sz.m, sz.n, sz.k, tr[0], tr[1], sc.alpha, sc.beta)
						be.MatMul(Wrap(c), Wrap(a), Wrap(b), sz.m, sz.n, sz.k, tr[0], tr[1], sc.alpha, sc.beta)
						tol := 1e-5 * float32(math.Sqrt(float64(sz.k))) * 4
						for i := range want {
							require.InDelta(t, want[i], c[i], float64(tol), "c[%d]", i)
						}
					})
				}
			}
		}
	}
}

func TestMatMulBetaZeroOverwritesNaN(t *testing.T) {
	for name, be := range testBackends() {
		t.Run(name, func(t *testing.T) {
			a := []float32{1, 2, 3, 4} // [2,2]
			b := []float32{1, 0, 0, 1} // identity
			c := []float32{float32(math.NaN()), 7, 7, 7}
			be.MatMul(Wrap(c), Wrap(a), Wrap(b), 2, 2, 2, false, false, 1, 0)
			require.Equal(t, []float32{1, 2, 3, 4}, c)
		})
	}
}

func TestMatMulZeroInnerDimensionScalesC(t *testing.T) {
	for name, be := range testBackends() {
		t.Run(name, func(t *testing.T) {
			c := []float32{1, 2, 3, 4}
			be.MatMul(Wrap(c), Wrap(nil), Wrap(nil), 2, 2, 0, false, false, 1, 0.5)
			require.Equal(t, []float32{0.5, 1, 1.5, 2}, c)
		})
	}
}

func TestMatMulShortBufferPanics(t *testing.T) {
	be := NewPureGo()
	require.PanicsWithValue(t,
		"cpu: MatMul(M=2, N=2, K=2) needs c ≥ 4, a ≥ 4, b ≥ 4 values; got 4, 3, 4",
		func() {
			be.MatMul(Wrap(make([]float32, 4)), Wrap(make([]float32, 3)), Wrap(make([]float32, 4)), 2, 2, 2, false, false, 1, 0)
		})
}

func BenchmarkMatMul(b *testing.B) {
	for name, be := range testBackends() {
		for _, size := range []int{256, 1024} {
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				x := randSlice(rng, size*size, 1)
				w := randSlice(rng, size*size, 1)
				y := make([]float32, size*size)
				b.ResetTimer()
				for b.Loop() {
					be.MatMul(Wrap(y), Wrap(x), Wrap(w), size, size, size, false, true, 1, 0)
				}
				flops := 2 * float64(size) * float64(size) * float64(size)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkMatMulModelShapes times the GEMMs of one training step of the
// issue's config S (N = 1024 tokens, C 256, F 768, KV width 64, LM-head chunks
// of 256 rows over V 8192): forward y = x·Wᵀ, dx = dy·W and dW += dyᵀ·x.
func BenchmarkMatMulModelShapes(b *testing.B) {
	be := New()
	shapes := []struct {
		name           string
		m, n, k        int
		transA, transB bool
	}{
		{"fwd qo 1024x256x256", 1024, 256, 256, false, true},
		{"fwd kv 1024x64x256", 1024, 64, 256, false, true},
		{"fwd gate 1024x768x256", 1024, 768, 256, false, true},
		{"fwd down 1024x256x768", 1024, 256, 768, false, true},
		{"dx gate 1024x256x768", 1024, 256, 768, false, false},
		{"dW gate 768x256x1024", 768, 256, 1024, true, false},
		{"dW kv 64x256x1024", 64, 256, 1024, true, false},
		{"lm logits 256x8192x256", 256, 8192, 256, false, true},
		{"lm dh 256x256x8192", 256, 256, 8192, false, false},
		{"lm dW 8192x256x256", 8192, 256, 256, true, false},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := randSlice(rng, s.m*s.k, 1)
			w := randSlice(rng, s.k*s.n, 1)
			y := make([]float32, s.m*s.n)
			for b.Loop() {
				be.MatMul(Wrap(y), Wrap(x), Wrap(w), s.m, s.n, s.k, s.transA, s.transB, 1, 1)
			}
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
