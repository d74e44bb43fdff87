package cpu

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
)

// RMSNorm as Hugging Face's LlamaRMSNorm computes it in float32:
// rstd = rsqrt(mean(x²) + eps), out = w·(x·rstd). Shapes: x, out [N, C];
// w [C]; rstd [N], kept for the backward. The mean is accumulated in float64.

// RMSNorm implements compute.Backend. Rows are independent and split over workers.
func (be *Backend) RMSNorm(out, rstd, x, w compute.Buffer, N, C int, eps float32) {
	O, R, X, Wt := F(out), F(rstd), F(x), F(w)
	checkRMSNorm("RMSNorm", N, C, len(X), len(Wt), len(R))
	mustHaveLen("RMSNorm", "out", "N·C", len(O), N*C)
	be.elementwiseRows(N, C, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			xr, or := X[n*C:(n+1)*C], O[n*C:(n+1)*C]
			var ss float64
			for _, xv := range xr {
				ss += float64(xv) * float64(xv)
			}
			variance := float32(ss / float64(C))
			r := float32(1 / math.Sqrt(float64(variance+eps)))
			R[n] = r
			for j, xv := range xr {
				or[j] = Wt[j] * (xv * r)
			}
		}
	})
}

// RMSNormBackward implements compute.Backend, accumulating into dx [N, C] and
// dw [C]. With x̂ = x·rstd and g = dout∘w:
//
//	dx[n,:] += rstd[n]·(g − x̂·mean_j(g[j]·x̂[j]))    dw[j] += Σ_n dout[n,j]·x̂[n,j]
//
// dx is split over rows; dw is split over columns (each worker reads every row
// of its column range), so no two workers add into the same dw value.
func (be *Backend) RMSNormBackward(dx, dw, dout, x, w, rstd compute.Buffer, N, C int) {
	DX, DW, DO, X, Wt, R := F(dx), F(dw), F(dout), F(x), F(w), F(rstd)
	checkRMSNorm("RMSNormBackward", N, C, len(X), len(Wt), len(R))
	mustHaveLen("RMSNormBackward", "dx", "N·C", len(DX), N*C)
	mustHaveLen("RMSNormBackward", "dout", "N·C", len(DO), N*C)
	mustHaveLen("RMSNormBackward", "dw", "C", len(DW), C)
	be.elementwiseRows(N, C, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			xr, dor, dxr := X[n*C:(n+1)*C], DO[n*C:(n+1)*C], DX[n*C:(n+1)*C]
			r := R[n]
			var dotGX float64 // Σ_j g[j]·x̂[j]
			for j, xv := range xr {
				dotGX += float64(dor[j]*Wt[j]) * float64(xv*r)
			}
			meanGX := float32(dotGX / float64(C))
			for j, xv := range xr {
				dxr[j] += r * (dor[j]*Wt[j] - xv*r*meanGX)
			}
		}
	})
	be.elementwiseRows(C, N, func(lo, hi int) {
		// Sum over rows in float64, one block of columns at a time (stack buffer).
		var acc [256]float64
		for c0 := lo; c0 < hi; c0 += len(acc) {
			c1 := min(c0+len(acc), hi)
			blk := acc[:c1-c0]
			clear(blk)
			for n := range N {
				xr, dor, r := X[n*C+c0:n*C+c1], DO[n*C+c0:n*C+c1], R[n]
				for j, xv := range xr {
					blk[j] += float64(dor[j] * (xv * r))
				}
			}
			for j, a := range blk {
				DW[c0+j] += float32(a)
			}
		}
	})
}

// checkRMSNorm validates x [N,C], w [C], rstd [N].
func checkRMSNorm(op string, N, C, nX, nW, nRstd int) {
	if N < 0 || C <= 0 {
		panic(fmt.Sprintf("cpu.%s: N=%d, C=%d: want N ≥ 0 and C > 0", op, N, C))
	}
	mustHaveLen(op, "x", "N·C", nX, N*C)
	mustHaveLen(op, "w", "C", nW, C)
	mustHaveLen(op, "rstd", "N", nRstd, N)
}
