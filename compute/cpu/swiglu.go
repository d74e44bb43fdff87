package cpu

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

// SwiGLU, the LLaMA MLP's gate: out = silu(gate)·up with silu(g) = g·σ(g),
// elementwise over buffers of equal length ([N, intermediate] in the model).

// SwiGLU implements compute.Backend. silu is computed as g/(1+e^−g), the form
// PyTorch's float32 kernel uses.
func (be *Backend) SwiGLU(out, gate, up compute.Buffer) {
	O, G, U := F(out), F(gate), F(up)
	checkSwiGLU("SwiGLU", len(O), len(G), len(U))
	be.elementwise(len(O), func(lo, hi int) {
		o, g, u := O[lo:hi], G[lo:hi], U[lo:hi]
		for i, gv := range g {
			o[i] = gv / (1 + expf32(-gv)) * u[i]
		}
	})
}

// SwiGLUBackward implements compute.Backend (overwrite):
//
//	dup = dout·silu(g)    dgate = dout·up·σ(g)·(1 + g·(1 − σ(g)))
func (be *Backend) SwiGLUBackward(dgate, dup, dout, gate, up compute.Buffer) {
	DG, DU, DO, G, U := F(dgate), F(dup), F(dout), F(gate), F(up)
	checkSwiGLU("SwiGLUBackward", len(DO), len(G), len(U))
	mustHaveLen("SwiGLUBackward", "dgate", "len(dout)", len(DG), len(DO))
	mustHaveLen("SwiGLUBackward", "dup", "len(dout)", len(DU), len(DO))
	be.elementwise(len(DO), func(lo, hi int) {
		dg, du, do, g, u := DG[lo:hi], DU[lo:hi], DO[lo:hi], G[lo:hi], U[lo:hi]
		for i, gv := range g {
			sig := 1 / (1 + expf32(-gv))
			du[i] = do[i] * gv * sig
			dg[i] = do[i] * u[i] * sig * (1 + gv*(1-sig))
		}
	})
}

func checkSwiGLU(op string, nOut, nGate, nUp int) {
	if nGate != nOut || nUp != nOut {
		panic(fmt.Sprintf("cpu.%s: out/dout, gate and up have %d, %d and %d values, want equal lengths", op, nOut, nGate, nUp))
	}
}
