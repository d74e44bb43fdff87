package cuda

import (
	"fmt"
	"unsafe"

	"github.com/posttrain/posttrain/compute"
)

// MatMul implements compute.Backend: c[M,N] = alpha·op(a)·op(b) + beta·c,
// row-major, through cublasGemmEx (rowMajorGemm maps the layout).
func (be *Backend) MatMul(c, a, b compute.Buffer, m, n, k int, transA, transB bool, alpha, beta float32) {
	C, A, B := buf("MatMul", "c", c), buf("MatMul", "a", a), buf("MatMul", "b", b)
	if C.n < m*n || A.n < m*k || B.n < k*n {
		panic(fmt.Sprintf("cuda: MatMul(M=%d, N=%d, K=%d) needs c ≥ %d, a ≥ %d, b ≥ %d values; got %d, %d, %d",
			m, n, k, m*n, m*k, k*n, C.n, A.n, B.n))
	}
	defer be.enter()()
	be.gemm(C.ptr, A.ptr, B.ptr, m, n, k, transA, transB, alpha, beta)
}

// gemm is MatMul on device pointers; the caller holds the context.
func (be *Backend) gemm(c, a, b cuDevicePtr, m, n, k int, transA, transB bool, alpha, beta float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // c = beta·c; cuBLAS rejects the zero leading dimensions
		if beta == 0 {
			be.must("cuMemsetD32Async", be.drv.cuMemsetD32Async(c, 0, uint64(m*n), be.stream))
		} else if beta != 1 {
			be.run("scale_f32", d1(gridFor(m*n, elemThreads)), d1(elemThreads), 0, ptrArg(c), f32Arg(beta), i64Arg(m*n))
		}
		return
	}
	g := rowMajorGemm(m, n, k, transA, transB)
	first, second := b, a
	compute := int32(cublasCompute32F)
	if be.opts.TF32 {
		compute = cublasCompute32FFastTF32
	}
	// alpha and beta are read from host memory during the call (pointer mode
	// host); they live in the heap-allocated launcher.
	sc := be.launch
	sc.alpha, sc.beta = alpha, beta
	st := be.blas.cublasGemmEx(be.handle, g.TransA, g.TransB, int32(g.M), int32(g.N), int32(g.K),
		unsafe.Pointer(&sc.alpha), first, cudaR32F, int32(g.LDA), second, cudaR32F, int32(g.LDB),
		unsafe.Pointer(&sc.beta), c, cudaR32F, int32(g.LDC), compute, cublasGemmDefault)
	if err := cublasCheck(fmt.Sprintf("cublasGemmEx(m=%d, n=%d, k=%d)", m, n, k), st); err != nil {
		panic(err)
	}
}
