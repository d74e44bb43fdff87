package train

import "math"

// clipEps is the epsilon torch.nn.utils.clip_grad_norm_ adds to the norm before dividing.
const clipEps = 1e-6

// GradNorm returns the global L2 norm of all gradients, accumulated in float64 in parameter
// order so the result does not depend on the number of cores.
func GradNorm(params []Param) float64 {
	var sum float64
	for _, p := range params {
		for _, g := range p.Grad {
			sum += float64(g) * float64(g)
		}
	}
	return math.Sqrt(sum)
}

// ClipGradNorm scales all gradients by maxNorm/(norm+1e-6) when that is below 1, as
// torch.nn.utils.clip_grad_norm_ does, and returns the norm before clipping. maxNorm <= 0
// only measures. A non-finite norm is returned as is and the gradients are left alone; the
// caller decides whether to skip the step.
func ClipGradNorm(params []Param, maxNorm float64) float64 {
	norm := GradNorm(params)
	if maxNorm <= 0 || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + clipEps)
	if coef >= 1 {
		return norm
	}
	scale := float32(coef)
	for _, p := range params {
		for i := range p.Grad {
			p.Grad[i] *= scale
		}
	}
	return norm
}
