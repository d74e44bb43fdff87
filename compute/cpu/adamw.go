package cpu

import (
	"math"

	"github.com/posttrain/posttrain/compute"
)

// AdamW implements compute.Backend with PyTorch's torch.optim.AdamW semantics
// (step counts from 1), for every element i:
//
//	p -= lr·wd·p
//	m  = β1·m + (1-β1)·g
//	v  = β2·v + (1-β2)·g²
//	p -= lr·(m/(1-β1^t)) / (sqrt(v/(1-β2^t)) + eps)
//
// The arithmetic is ordered as PyTorch's single-tensor path orders it (m by
// lerp, the bias corrections folded into a step size and a divisor) so results
// agree to the last bit or two in float32.
func (be *Backend) AdamW(param, grad, m, v compute.Buffer, step int, lr, beta1, beta2, eps, weightDecay float32) {
	p, g, mm, vv := F(param), F(grad), F(m), F(v)
	g, mm, vv = g[:len(p)], mm[:len(p)], vv[:len(p)]

	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	c := adamwConsts{
		oneMinusB1: 1 - beta1, beta2: beta2, oneMinusB2: 1 - beta2,
		bc2Sqrt: float32(math.Sqrt(bc2)), eps: eps, decay: 1 - lr*weightDecay,
		stepSize: float32(float64(lr) / bc1),
	}
	be.elementwise(len(p), func(lo, hi int) {
		if hasAVX2 {
			lo += adamwAVX2(p[lo:hi], g[lo:hi], mm[lo:hi], vv[lo:hi], &c)
		}
		adamwScalar(p[lo:hi], g[lo:hi], mm[lo:hi], vv[lo:hi], &c)
	})
}

// adamwConsts are the per-step constants of the update (layout shared with
// adamw_amd64.s: seven float32 in this order).
type adamwConsts struct {
	oneMinusB1, beta2, oneMinusB2, bc2Sqrt, eps, decay, stepSize float32
}

// adamwScalar is the reference loop; adamw_amd64.s performs the same
// operations in the same order, eight elements at a time.
func adamwScalar(p, g, mm, vv []float32, c *adamwConsts) {
	g, mm, vv = g[:len(p)], mm[:len(p)], vv[:len(p)]
	for i := range p {
		gi := g[i]
		mi := mm[i] + c.oneMinusB1*(gi-mm[i])
		vi := c.beta2*vv[i] + c.oneMinusB2*gi*gi
		mm[i], vv[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/c.bc2Sqrt + c.eps
		p[i] = p[i]*c.decay - c.stepSize*(mi/denom)
	}
}
