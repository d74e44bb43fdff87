package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// adamWRef is torch.optim.AdamW's update in float64.
func adamWRef(p, g, m, v []float64, step int, lr, beta1, beta2, eps, wd float64) {
	bc1 := 1 - math.Pow(beta1, float64(step))
	bc2 := 1 - math.Pow(beta2, float64(step))
	for i := range p {
		p[i] -= lr * wd * p[i]
		m[i] = beta1*m[i] + (1-beta1)*g[i]
		v[i] = beta2*v[i] + (1-beta2)*g[i]*g[i]
		p[i] -= lr * (m[i] / bc1) / (math.Sqrt(v[i]/bc2) + eps)
	}
}

func TestAdamWMatchesFloat64Reference(t *testing.T) {
	const steps = 5
	hyper := []struct{ lr, beta1, beta2, eps, wd float32 }{
		{1e-3, 0.9, 0.999, 1e-8, 0.01},
		{3e-2, 0.8, 0.95, 1e-6, 0},
	}
	for _, n := range []int{5, parallelMin + 3} {
		for _, hp := range hyper {
			t.Run(fmt.Sprintf("n=%d/lr=%g/wd=%g", n, hp.lr, hp.wd), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(n), 6))
				p := randSlice(rng, n, 1)
				m, v := make([]float32, n), make([]float32, n)
				p64, m64, v64 := toFloat64(p), make([]float64, n), make([]float64, n)
				be := New()
				for step := 1; step <= steps; step++ {
					g := randSlice(rng, n, 0.1)
					g[0] = 0 // a zero gradient exercises eps and pure decay
					be.AdamW(Wrap(p), Wrap(g), Wrap(m), Wrap(v), step, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.wd)
					adamWRef(p64, toFloat64(g), m64, v64, step, float64(hp.lr), float64(hp.beta1), float64(hp.beta2), float64(hp.eps), float64(hp.wd))
				}
				for i := range p {
					require.InDelta(t, p64[i], p[i], 1e-6*(1+math.Abs(p64[i])), "param[%d]", i)
					require.InDelta(t, m64[i], m[i], 1e-6, "m[%d]", i)
					require.InDelta(t, v64[i], v[i], 1e-7, "v[%d]", i)
				}
			})
		}
	}
}

// The AVX2 kernel must equal adamwScalar bit for bit, tails included.
func TestAdamWVectorMatchesScalar(t *testing.T) {
	for _, n := range []int{1, 8, 13, 1003} {
		rng := rand.New(rand.NewPCG(uint64(n), 9))
		p, g := randSlice(rng, n, 1), randSlice(rng, n, 0.1)
		m, v := randSlice(rng, n, 0.01), randSlice(rng, n, 0.001)
		for i := range v {
			v[i] = v[i] * v[i]
		}
		p2, m2, v2 := slices.Clone(p), slices.Clone(m), slices.Clone(v)
		be := &Backend{workers: 1}
		be.AdamW(Wrap(p), Wrap(g), Wrap(m), Wrap(v), 3, 1e-3, 0.9, 0.999, 1e-8, 0.01)
		c := adamwConsts{oneMinusB1: 1 - float32(0.9), beta2: 0.999, oneMinusB2: 1 - float32(0.999),
			bc2Sqrt: float32(math.Sqrt(1 - math.Pow(float64(float32(0.999)), 3))), eps: 1e-8,
			decay: 1 - float32(1e-3)*float32(0.01), stepSize: float32(float64(float32(1e-3)) / (1 - math.Pow(float64(float32(0.9)), 3)))}
		adamwScalar(p2, g, m2, v2, &c)
		require.Equal(t, p2, p, "n=%d params", n)
		require.Equal(t, m2, m, "n=%d m", n)
		require.Equal(t, v2, v, "n=%d v", n)
	}
}

func BenchmarkAdamW(b *testing.B) {
	const n = 7 << 20 // about config S's 7.2M parameters
	rng := rand.New(rand.NewPCG(1, 1))
	p, g := randSlice(rng, n, 1), randSlice(rng, n, 0.1)
	m, v := make([]float32, n), make([]float32, n)
	be := New()
	b.SetBytes(7 * 4 * n)
	for step := 1; b.Loop(); step++ {
		be.AdamW(Wrap(p), Wrap(g), Wrap(m), Wrap(v), step, 1e-3, 0.9, 0.999, 1e-8, 0.01)
	}
}
