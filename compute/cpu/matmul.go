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
	if len(c) < m*n || len(a) < m*k || len(b) < k*n {
		panic(fmt.Sprintf("cpu: MatMul(M=%d, N=%d, K=%d) needs c ≥ %d, a ≥ %d, b ≥ %d values; got %d, %d, %d",
			m, n, k, m*n, m*k, k*n, len(c), len(a), len(b)))
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	be.gemmLD(c, a, b, m, n, k, transA, transB, alpha, lda, ldb, beta, n)
}

// gemmLD is gemm with explicit leading dimensions (row strides) for a, b and
// c, so kernels can multiply sub-matrices in place (one kv head's keys inside
// [T, NKV·HD], a tile of a score matrix).
func (be *Backend) gemmLD(c, a, b []float32, m, n, k int, transA, transB bool, alpha float32, lda, ldb int, beta float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	// The lengths are checked here because OpenBLAS would read and write out of
	// bounds silently; a short buffer is a caller bug, not bad user input.
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	if !fitsStrided(len(c), m, n, ldc) || !fitsStrided(len(a), aRows, aCols, lda) || !fitsStrided(len(b), bRows, bCols, ldb) {
		panic(fmt.Sprintf("cpu: MatMul(M=%d, N=%d, K=%d, lda=%d, ldb=%d, ldc=%d) got c, a, b of %d, %d, %d values: too short",
			m, n, k, lda, ldb, ldc, len(c), len(a), len(b)))
	}
	if k == 0 || alpha == 0 {
		for i := range m {
			scaleSlice(c[i*ldc:i*ldc+n], beta)
		}
		return
	}
	if be.blas != nil {
		be.blas.sgemm(cblasRowMajor, cblasOp(transA), cblasOp(transB),
			int32(m), int32(n), int32(k), alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
		return
	}
	gonum.Implementation{}.Sgemm(blasOp(transA), blasOp(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// fitsStrided reports whether a buffer of n values holds a rows×cols matrix
// with row stride ld ≥ cols.
func fitsStrided(n, rows, cols, ld int) bool {
	if rows == 0 || cols == 0 {
		return true
	}
	return ld >= cols && n >= (rows-1)*ld+cols
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
