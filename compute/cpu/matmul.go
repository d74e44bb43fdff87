package cpu

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/posttrain/posttrain/compute"
)

// MatMul implements compute.Backend: c[M,N] = alpha·op(a)·op(b) + beta·c,
// op(a) [M,K] (a stored [K,M] when transA), op(b) [K,N] (b stored [N,K] when
// transB). It equals the reference loop
//
//	for i < M, j < N: c[i,j] = alpha·Σ_p op(a)[i,p]·op(b)[p,j] + beta·c[i,j]
func (be *Backend) MatMul(c, a, b compute.Buffer, m, n, k int, transA, transB bool, alpha, beta float32) {
	be.gemm(F(c), F(a), F(b), m, n, k, transA, transB, alpha, beta)
}

// gemm is MatMul on slices, row-major with tight leading dimensions. Both
// paths thread internally (OpenBLAS threads or gonum's goroutines), so callers
// must not call it from inside be.parallelFor.
func (be *Backend) gemm(c, a, b []float32, m, n, k int, transA, transB bool, alpha, beta float32) {
	// The lengths are checked here because OpenBLAS would read and write out of
	// bounds silently; a short buffer is a caller bug, not bad user input.
	if len(c) < m*n || len(a) < m*k || len(b) < k*n {
		panic(fmt.Sprintf("cpu: MatMul(M=%d, N=%d, K=%d) needs c ≥ %d, a ≥ %d, b ≥ %d values; got %d, %d, %d",
			m, n, k, m*n, m*k, k*n, len(c), len(a), len(b)))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleSlice(c[:m*n], beta)
		return
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	if be.blas != nil {
		be.blas.sgemm(cblasRowMajor, cblasOp(transA), cblasOp(transB),
			int32(m), int32(n), int32(k), alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(n))
		return
	}
	gonum.Implementation{}.Sgemm(blasOp(transA), blasOp(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, n)
}

// scaleSlice sets c = beta·c, writing exact zeros for beta == 0 as BLAS does
// (so NaN in an overwritten output does not survive).
func scaleSlice(c []float32, beta float32) {
	switch beta {
	case 1:
	case 0:
		clear(c)
	default:
		for i := range c {
			c[i] *= beta
		}
	}
}

func cblasOp(trans bool) int32 {
	if trans {
		return cblasTrans
	}
	return cblasNoTrans
}

func blasOp(trans bool) blas.Transpose {
	if trans {
		return blas.Trans
	}
	return blas.NoTrans
}
