package cuda

import (
	"math"
	"unsafe"

	"github.com/posttrain/posttrain/compute"
)

const elemThreads = 256

// Add implements compute.Backend: dst[i] += src[i] over dst's length.
func (be *Backend) Add(dst, src compute.Buffer) {
	d, s := buf("Add", "dst", dst), buf("Add", "src", src)
	if s.n < d.n {
		mustHaveLen("Add", "src", "len(dst)", s.n, d.n)
	}
	defer be.enter()()
	be.run("add_f32", d1(gridFor(d.n, elemThreads)), d1(elemThreads), 0, bufArg(d), bufArg(s), i64Arg(d.n))
}

// Scale implements compute.Backend: b[i] *= s.
func (be *Backend) Scale(b compute.Buffer, s float32) {
	x := buf("Scale", "b", b)
	defer be.enter()()
	be.run("scale_f32", d1(gridFor(x.n, elemThreads)), d1(elemThreads), 0, bufArg(x), f32Arg(s), i64Arg(x.n))
}

// sumBlocks is how many double partial sums SumSquares forms on the device;
// the host adds them (a fixed count, so the result does not depend on timing).
const sumBlocks = 1024

// SumSquares implements compute.Backend: Σ b[i]² accumulated in float64.
func (be *Backend) SumSquares(b compute.Buffer) float64 {
	x := buf("SumSquares", "b", b)
	if x.n == 0 {
		return 0
	}
	defer be.enter()()
	blocks := min(sumBlocks, gridFor(x.n, elemThreads))
	part := be.newScratch(blocks * 8)
	defer be.release(part)
	be.run("sumsq_partial", d1(blocks), d1(elemThreads), 0, ptrArg(part.ptr), bufArg(x), i64Arg(x.n))
	host := make([]float64, blocks)
	be.dtoh(unsafe.Pointer(&host[0]), part.ptr, blocks*8)
	var total float64
	for _, p := range host {
		total += p
	}
	return total
}

// SwiGLU implements compute.Backend: out = silu(gate)·up (overwrite).
func (be *Backend) SwiGLU(out, gate, up compute.Buffer) {
	o, g, u := buf("SwiGLU", "out", out), buf("SwiGLU", "gate", gate), buf("SwiGLU", "up", up)
	mustHaveLen("SwiGLU", "gate", "len(out)", g.n, o.n)
	mustHaveLen("SwiGLU", "up", "len(out)", u.n, o.n)
	defer be.enter()()
	be.run("swiglu_fwd", d1(gridFor(o.n, elemThreads)), d1(elemThreads), 0, bufArg(o), bufArg(g), bufArg(u), i64Arg(o.n))
}

// SwiGLUBackward implements compute.Backend: overwrites dgate and dup.
func (be *Backend) SwiGLUBackward(dgate, dup, dout, gate, up compute.Buffer) {
	op := "SwiGLUBackward"
	dg, du, do := buf(op, "dgate", dgate), buf(op, "dup", dup), buf(op, "dout", dout)
	g, u := buf(op, "gate", gate), buf(op, "up", up)
	for _, t := range []struct {
		name string
		n    int
	}{{"dgate", dg.n}, {"dup", du.n}, {"gate", g.n}, {"up", u.n}} {
		mustHaveLen(op, t.name, "len(dout)", t.n, do.n)
	}
	defer be.enter()()
	be.run("swiglu_bwd", d1(gridFor(do.n, elemThreads)), d1(elemThreads), 0,
		bufArg(dg), bufArg(du), bufArg(do), bufArg(g), bufArg(u), i64Arg(do.n))
}

// AdamW implements compute.Backend with the CPU twin's constants (PyTorch's
// ordering: bias corrections folded into a step size and a divisor).
func (be *Backend) AdamW(param, grad, m, v compute.Buffer, step int, lr, beta1, beta2, eps, weightDecay float32) {
	op := "AdamW"
	p, g, mm, vv := buf(op, "param", param), buf(op, "grad", grad), buf(op, "m", m), buf(op, "v", v)
	mustHaveLen(op, "grad", "len(param)", g.n, p.n)
	mustHaveLen(op, "m", "len(param)", mm.n, p.n)
	mustHaveLen(op, "v", "len(param)", vv.n, p.n)
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	defer be.enter()()
	be.run("adamw", d1(gridFor(p.n, elemThreads)), d1(elemThreads), 0,
		bufArg(p), bufArg(g), bufArg(mm), bufArg(vv), i64Arg(p.n),
		f32Arg(1-beta1), f32Arg(beta2), f32Arg(1-beta2), f32Arg(float32(math.Sqrt(bc2))),
		f32Arg(eps), f32Arg(1-lr*weightDecay), f32Arg(float32(float64(lr)/bc1)))
}
