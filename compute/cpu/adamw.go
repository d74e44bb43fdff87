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
	stepSize := float32(float64(lr) / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	decay := 1 - lr*weightDecay
	oneMinusB1 := 1 - beta1
	oneMinusB2 := 1 - beta2

	be.elementwise(len(p), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			gi := g[i]
			mi := mm[i] + oneMinusB1*(gi-mm[i])
			vi := beta2*vv[i] + oneMinusB2*gi*gi
			mm[i], vv[i] = mi, vi
			denom := float32(math.Sqrt(float64(vi)))/bc2Sqrt + eps
			p[i] = p[i]*decay - stepSize*(mi/denom)
		}
	})
}
