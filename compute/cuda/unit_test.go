package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute"
)

// These tests need no GPU: they check the pieces around the device calls.

func TestCacheKeyChangesWithEveryInput(t *testing.T) {
	base := cacheKey("src", []string{"-a", "-b"}, "H200 sm_90", "nvrtc 13.0")
	require.Len(t, base, 64)
	require.Equal(t, base, cacheKey("src", []string{"-a", "-b"}, "H200 sm_90", "nvrtc 13.0"), "deterministic")
	for name, other := range map[string]string{
		"source":   cacheKey("src2", []string{"-a", "-b"}, "H200 sm_90", "nvrtc 13.0"),
		"options":  cacheKey("src", []string{"-a", "-c"}, "H200 sm_90", "nvrtc 13.0"),
		"order":    cacheKey("src", []string{"-b", "-a"}, "H200 sm_90", "nvrtc 13.0"),
		"device":   cacheKey("src", []string{"-a", "-b"}, "H100 sm_90", "nvrtc 13.0"),
		"compiler": cacheKey("src", []string{"-a", "-b"}, "H200 sm_90", "nvrtc 12.8"),
		// Moving text between parts must not collide (length-prefixed parts).
		"boundary": cacheKey("src-a", []string{"-b"}, "H200 sm_90", "nvrtc 13.0"),
	} {
		assert.NotEqual(t, base, other, name)
	}
}

func TestCubinCacheRoundTrip(t *testing.T) {
	c := cubinCache{dir: t.TempDir()}
	key := cacheKey("s", nil, "d", "c")
	require.Nil(t, c.get(key), "empty cache")
	require.NoError(t, c.put(key, []byte{1, 2, 3}))
	require.Equal(t, []byte{1, 2, 3}, c.get(key))
	require.Nil(t, c.get(cacheKey("other", nil, "d", "c")))

	off := cubinCache{}
	require.NoError(t, off.put(key, []byte{1}))
	require.Nil(t, off.get(key), "a disabled cache stores nothing")
}

func TestDefaultCacheDirHonoursEnv(t *testing.T) {
	t.Setenv(cacheDirEnv, "/tmp/x-cuda-cache")
	require.Equal(t, "/tmp/x-cuda-cache", defaultCacheDir())
}

func TestCompileOptions(t *testing.T) {
	opts := compileOptions("sm_90", "/usr/local/cuda/include")
	require.Contains(t, opts, "--gpu-architecture=sm_90")
	require.Contains(t, opts, "-std=c++17")
	require.Contains(t, opts, "--include-path=/usr/local/cuda/include", "NVRTC cannot find cuda_bf16.h without it (GPU.md)")
	require.Equal(t, "sm_86", deviceInfo{Major: 8, Minor: 6}.Arch())
}

// colMajorSgemm is the reference BLAS sgemm in column-major order, with
// cuBLAS's argument meanings: C[m,n] = alpha·op(A)·op(B) + beta·C.
func colMajorSgemm(transA, transB int32, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	at := func(i, p int) float32 { // op(A)[i,p]
		if transA == cublasOpT {
			return a[p+i*lda]
		}
		return a[i+p*lda]
	}
	bt := func(p, j int) float32 {
		if transB == cublasOpT {
			return b[j+p*ldb]
		}
		return b[p+j*ldb]
	}
	for j := range n {
		for i := range m {
			var s float32
			for p := range k {
				s += at(i, p) * bt(p, j)
			}
			c[i+j*ldc] = alpha*s + beta*c[i+j*ldc]
		}
	}
}

func TestRowMajorGemmMapsOntoColumnMajorBLAS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randn := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	const m, n, k = 5, 7, 3
	for _, tc := range []struct{ transA, transB bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("transA=%v,transB=%v", tc.transA, tc.transB), func(t *testing.T) {
			a, b, c0 := randn(m*k), randn(k*n), randn(m*n)
			opA := func(i, p int) float32 { // a is [m,k], or [k,m] when transposed
				if tc.transA {
					return a[p*m+i]
				}
				return a[i*k+p]
			}
			opB := func(p, j int) float32 {
				if tc.transB {
					return b[j*k+p]
				}
				return b[p*n+j]
			}
			want := make([]float32, m*n)
			for i := range m {
				for j := range n {
					var s float32
					for p := range k {
						s += opA(i, p) * opB(p, j)
					}
					want[i*n+j] = 2*s + 0.5*c0[i*n+j]
				}
			}
			g := rowMajorGemm(m, n, k, tc.transA, tc.transB)
			require.True(t, g.SwapOperands)
			got := append([]float32(nil), c0...)
			colMajorSgemm(g.TransA, g.TransB, g.M, g.N, g.K, 2, b, g.LDA, a, g.LDB, 0.5, got, g.LDC)
			require.InDeltaSlice(t, want, got, 1e-5)
		})
	}
}

// fakeMemory hands out increasing addresses and can be made to run out.
type fakeMemory struct {
	next   cuDevicePtr
	live   map[cuDevicePtr]uint64
	limit  uint64 // total bytes that fit; 0: unlimited
	allocs int
}

func (f *fakeMemory) used() uint64 {
	var s uint64
	for _, n := range f.live {
		s += n
	}
	return s
}

func (f *fakeMemory) alloc(bytes uint64) (cuDevicePtr, error) {
	if f.limit > 0 && f.used()+bytes > f.limit {
		return 0, errOutOfMemory
	}
	f.next += 1 << 32
	f.live[f.next] = bytes
	f.allocs++
	return f.next, nil
}

func (f *fakeMemory) free(p cuDevicePtr) error {
	if _, ok := f.live[p]; !ok {
		return errors.New("double free")
	}
	delete(f.live, p)
	return nil
}

func TestBlockSizeClasses(t *testing.T) {
	for _, tc := range []struct{ in, want uint64 }{
		{1, 512}, {512, 512}, {513, 1024}, {1000, 1024}, {1 << 20, 1 << 20},
		{1<<20 + 1, 2 << 20}, {3 << 20, 4 << 20}, {4 << 20, 4 << 20},
	} {
		assert.Equal(t, tc.want, blockSize(tc.in), "blockSize(%d)", tc.in)
	}
}

func TestAllocatorReusesReturnedBlocks(t *testing.T) {
	mem := &fakeMemory{live: map[cuDevicePtr]uint64{}}
	a := newAllocator(mem)
	p1, s1, err := a.get(1000)
	require.NoError(t, err)
	require.Equal(t, uint64(1024), s1)
	p2, _, err := a.get(3 << 20)
	require.NoError(t, err)
	require.Equal(t, AllocStats{InUse: 1024 + 4<<20, Peak: 1024 + 4<<20, Allocs: 2}, a.snapshot())

	a.put(p1, s1)
	require.Equal(t, AllocStats{InUse: 4 << 20, Cached: 1024, Peak: 1024 + 4<<20, Allocs: 2}, a.snapshot())
	p3, _, err := a.get(900) // same class: the cached block comes back, no driver call
	require.NoError(t, err)
	require.Equal(t, p1, p3)
	require.Equal(t, 2, mem.allocs)

	a.put(p3, 1024)
	a.put(p2, 4<<20)
	require.NoError(t, a.trim())
	require.Empty(t, mem.live, "trim gives every cached block back")
	require.Equal(t, uint64(0), a.snapshot().Cached)
}

func TestAllocatorTrimsCacheWhenDeviceIsFull(t *testing.T) {
	mem := &fakeMemory{live: map[cuDevicePtr]uint64{}, limit: 8 << 20}
	a := newAllocator(mem)
	p, s, err := a.get(6 << 20)
	require.NoError(t, err)
	a.put(p, s) // cached, still held from the driver
	_, _, err = a.get(4 << 20)
	require.NoError(t, err, "the cached 6 MiB block is released to make room")
	require.Equal(t, uint64(4<<20), mem.used())

	_, _, err = a.get(6 << 20)
	require.ErrorIs(t, err, errOutOfMemory, "really full")
	require.Contains(t, err.Error(), "in use")
}

func TestKernelSourcesCoverEveryBackendMethod(t *testing.T) {
	iface := reflect.TypeFor[compute.Backend]()
	for i := range iface.NumMethod() {
		name := iface.Method(i).Name
		kernels, ok := methodKernels[name]
		require.True(t, ok, "compute.Backend.%s has no entry in methodKernels", name)
		require.NotEmpty(t, kernels, name)
	}
	require.Len(t, methodKernels, iface.NumMethod(), "methodKernels lists only interface methods")

	defined := map[string]string{} // kernel -> file
	for file, names := range kernelFiles {
		src, err := kernelSource(file)
		require.NoError(t, err)
		require.Contains(t, src, "__device__ float block_sum", "common.cuh is prepended to %s", file)
		for _, n := range names {
			re := regexp.MustCompile(`extern "C" __global__ void ` + n + `\(`)
			require.Regexp(t, re, src, "kernels/%s defines %s", file, n)
			defined[n] = file
		}
		// Every extern "C" kernel in the file is listed (none is unreachable).
		for _, m := range regexp.MustCompile(`extern "C" __global__ void (\w+)\(`).FindAllStringSubmatch(src, -1) {
			require.Contains(t, names, m[1], "kernels/%s defines %s but kernelFiles does not list it", file, m[1])
		}
	}
	for method, kernels := range methodKernels {
		for _, k := range kernels {
			if k == "cublas" || k == "driver" {
				continue
			}
			require.Contains(t, defined, k, "%s uses kernel %s", method, k)
		}
	}

	entries, err := kernelFS.ReadDir("kernels")
	require.NoError(t, err)
	var embedded []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".cu") {
			embedded = append(embedded, e.Name())
		}
	}
	sort.Strings(embedded)
	require.Equal(t, sortedFiles(), embedded, "every embedded .cu file is compiled")
}

func TestKernelArgumentEncoding(t *testing.T) {
	require.Equal(t, arg(math.Float32bits(1.5)), f32Arg(1.5))
	require.Equal(t, arg(0xffffffff), i32Arg(-1), "an int32 fills the low four bytes only")
	require.Equal(t, arg(math.MaxUint64), i64Arg(-1))
	require.Equal(t, arg(0), bufArg(nil), "a nil buffer is a null pointer")
	require.Equal(t, 1, gridFor(0, 256))
	require.Equal(t, 4, gridFor(1000, 256))
	require.Equal(t, 65535, gridFor(1<<40, 256))
}

func TestLMChunkRows(t *testing.T) {
	require.Equal(t, 1046, lmChunkRows(8192, 128256), "512 MiB of logits at Llama 3's vocabulary")
	require.Equal(t, 10, lmChunkRows(10, 128256), "never more rows than tokens")
	require.Equal(t, lmMaxRows, lmChunkRows(1<<20, 512))
}

func TestAttentionSharedMemoryFitsTheDefaultLimitAtLlamaHeadSizes(t *testing.T) {
	for _, hd := range []int{16, 64, 128} {
		require.LessOrEqual(t, attnSmem(hd), defaultDynamicSharedLimit, "HD %d", hd)
		require.LessOrEqual(t, attnDKDVSmem(hd), defaultDynamicSharedLimit, "HD %d", hd)
	}
}
