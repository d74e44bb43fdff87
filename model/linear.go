package model

import "github.com/posttrain/posttrain/compute"

// linear computes out (N, O) = x (N, I) · wᵀ for w (O, I), Hugging Face's layout.
func linear(be compute.Backend, out, x, w compute.Buffer, N, O, I int) {
	be.MatMul(out, x, w, N, O, I, false, true, 1, 0)
}

// linearBackward is linear's backward: dw (O, I) += doutᵀ · x, and
// dx (N, I) = dout · w, added to dx when accumulate is set (several
// projections read the same input).
func linearBackward(be compute.Backend, dx, dw, dout, x, w compute.Buffer, N, O, I int, accumulate bool) {
	be.MatMul(dw, dout, x, O, I, N, true, false, 1, 1)
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	be.MatMul(dx, dout, w, N, I, O, false, false, 1, beta)
}
