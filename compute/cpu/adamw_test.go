package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
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
