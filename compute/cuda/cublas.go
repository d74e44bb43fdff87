package cuda

import (
	"fmt"
	"unsafe"
)

// cuBLAS enums (cublas_api.h, library_types.h).
const (
	cublasOpN = 0
	cublasOpT = 1

	cudaR32F  = 0  // CUDA_R_32F
	cudaR16BF = 14 // CUDA_R_16BF

	cublasCompute32F         = 68 // CUBLAS_COMPUTE_32F: IEEE fp32, the parity mode
	cublasCompute32FFastTF32 = 77 // CUBLAS_COMPUTE_32F_FAST_TF32: tensor cores on fp32 data

	cublasGemmDefault = -1
)

// cublas holds libcublas's entry points; every call returns a cublasStatus_t.
type cublas struct {
	lib *library

	cublasCreate    func(h *uintptr) int32
	cublasDestroy   func(h uintptr) int32
	cublasSetStream func(h uintptr, s cuStream) int32
	cublasGemmEx    func(h uintptr, transA, transB, m, n, k int32, alpha unsafe.Pointer,
		a cuDevicePtr, aType, lda int32, b cuDevicePtr, bType, ldb int32, beta unsafe.Pointer,
		c cuDevicePtr, cType, ldc int32, computeType, algo int32) int32
}

var cublasNames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}

func loadCuBLAS() (*cublas, error) {
	lib, err := openLibrary(cublasNames...)
	if err != nil {
		return nil, err
	}
	c := &cublas{lib: lib}
	err = lib.bind(map[string]any{
		"cublasCreate_v2":    &c.cublasCreate,
		"cublasDestroy_v2":   &c.cublasDestroy,
		"cublasSetStream_v2": &c.cublasSetStream,
		"cublasGemmEx":       &c.cublasGemmEx,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func cublasCheck(call string, status int32) error {
	if status == 0 {
		return nil
	}
	return fmt.Errorf("cublas: %s: status %d", call, status)
}

// colMajorGemm is one cuBLAS (column-major) GEMM call:
// C[M,N] = alpha·opA(A)·opB(B) + beta·C with leading dimensions LDA, LDB, LDC,
// where "A" is the first operand cuBLAS sees.
type colMajorGemm struct {
	TransA, TransB int32
	M, N, K        int
	LDA, LDB, LDC  int
	SwapOperands   bool // A is the caller's b and B the caller's a
}

// rowMajorGemm maps the row-major product c[m,n] = op(a)·op(b) (a [m,k] or,
// transposed, [k,m]; b [k,n] or [n,k]; tight rows) onto column-major cuBLAS.
// A row-major [r,c] matrix is the column-major [c,r] matrix of the same bytes,
// so computing cᵀ[n,m] = op(b)ᵀ·op(a)ᵀ column-major writes c row-major:
// cuBLAS's first operand is b, its second a, and the sizes swap to (n, m, k).
func rowMajorGemm(m, n, k int, transA, transB bool) colMajorGemm {
	g := colMajorGemm{M: n, N: m, K: k, LDC: n, SwapOperands: true,
		TransA: cublasOpN, LDA: n, TransB: cublasOpN, LDB: k}
	if transB { // b is stored [n,k]: column-major [k,n], transposed to [n,k]
		g.TransA, g.LDA = cublasOpT, k
	}
	if transA { // a is stored [k,m]: column-major [m,k], transposed to [k,m]
		g.TransB, g.LDB = cublasOpT, m
	}
	return g
}
