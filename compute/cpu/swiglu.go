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
		var e [swigluBlock]float32
		for b0 := lo; b0 < hi; b0 += swigluBlock {
			o, g, u := O[b0:min(b0+swigluBlock, hi)], G[b0:min(b0+swigluBlock, hi)], U[b0:min(b0+swigluBlock, hi)]
			en := negExp(e[:len(g)], g)
			for i, gv := range g {
				o[i] = gv / (1 + en[i]) * u[i]
			}
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
		var e [swigluBlock]float32
		for b0 := lo; b0 < hi; b0 += swigluBlock {
			b1 := min(b0+swigluBlock, hi)
			swigluBackwardBlock(DG[b0:b1], DU[b0:b1], DO[b0:b1], G[b0:b1], U[b0:b1], e[:b1-b0])
		}
	})
}

// swigluBackwardBlock is SwiGLUBackward on one block; e is scratch of len(g).
func swigluBackwardBlock(dg, du, do, g, u, e []float32) {
	en := negExp(e, g)
	for i, gv := range g {
		sig := 1 / (1 + en[i])
		du[i] = do[i] * gv * sig
		dg[i] = do[i] * u[i] * sig * (1 + gv*(1-sig))
	}
}

// swigluBlock is how many e^−g values the kernels form at once (on the stack).
const swigluBlock = 512

// negExp writes e[i] = e^(−g[i]) and returns e.
func negExp(e, g []float32) []float32 {
	for i, gv := range g {
		e[i] = -gv
	}
	expShift(e, e, 0)
	return e
}

func checkSwiGLU(op string, nOut, nGate, nUp int) {
	if nGate != nOut || nUp != nOut {
		panic(fmt.Sprintf("cpu.%s: out/dout, gate and up have %d, %d and %d values, want equal lengths", op, nOut, nGate, nUp))
	}
}
