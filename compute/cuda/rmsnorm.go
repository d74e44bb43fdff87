package cuda

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

// RMSNorm implements compute.Backend: x, out [N,C]; w [C]; rstd [N]. One block per row.
func (be *Backend) RMSNorm(out, rstd, x, w compute.Buffer, N, C int, eps float32) {
	op := "RMSNorm"
	o, r, xx, ww := buf(op, "out", out), buf(op, "rstd", rstd), buf(op, "x", x), buf(op, "w", w)
	checkRMSNorm(op, N, C, xx.n, ww.n, r.n)
	mustHaveLen(op, "out", "N·C", o.n, N*C)
	defer be.enter()()
	be.run("rmsnorm_fwd", d1(N), d1(rowThreads), 0, bufArg(o), bufArg(r), bufArg(xx), bufArg(ww), i32Arg(C), f32Arg(eps))
}

// dwRows is how many rows one block of rmsnorm_bwd_dw sums before its atomic
// add: few enough blocks to keep atomics rare, enough to fill the GPU.
const dwRows = 64

// RMSNormBackward implements compute.Backend, accumulating dx [N,C] and dw [C].
func (be *Backend) RMSNormBackward(dx, dw, dout, x, w, rstd compute.Buffer, N, C int) {
	op := "RMSNormBackward"
	ddx, ddw, ddo := buf(op, "dx", dx), buf(op, "dw", dw), buf(op, "dout", dout)
	xx, ww, r := buf(op, "x", x), buf(op, "w", w), buf(op, "rstd", rstd)
	checkRMSNorm(op, N, C, xx.n, ww.n, r.n)
	mustHaveLen(op, "dx", "N·C", ddx.n, N*C)
	mustHaveLen(op, "dout", "N·C", ddo.n, N*C)
	mustHaveLen(op, "dw", "C", ddw.n, C)
	defer be.enter()()
	be.run("rmsnorm_bwd_dx", d1(N), d1(rowThreads), 0, bufArg(ddx), bufArg(ddo), bufArg(xx), bufArg(ww), bufArg(r), i32Arg(C))
	grid := dim3{(C + rowThreads - 1) / rowThreads, (N + dwRows - 1) / dwRows, 1}
	be.run("rmsnorm_bwd_dw", grid, d1(rowThreads), 0, bufArg(ddw), bufArg(ddo), bufArg(xx), bufArg(r),
		i32Arg(N), i32Arg(C), i32Arg(dwRows))
}

func checkRMSNorm(op string, N, C, nX, nW, nRstd int) {
	if N < 0 || C <= 0 {
		panic(fmt.Sprintf("cuda.%s: N=%d, C=%d: want N ≥ 0 and C > 0", op, N, C))
	}
	mustHaveLen(op, "x", "N·C", nX, N*C)
	mustHaveLen(op, "w", "C", nW, C)
	mustHaveLen(op, "rstd", "N", nRstd, N)
}
