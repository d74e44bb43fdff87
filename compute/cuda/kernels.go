package cuda

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
	"unsafe"
)

//go:embed kernels/*.cu kernels/common.cuh
var kernelFS embed.FS

// kernelFiles lists the kernels each source file defines (extern "C", so the
// names are unmangled). Each file is compiled as one NVRTC program with
// common.cuh prepended.
var kernelFiles = map[string][]string{
	"adamw.cu":       {"adamw"},
	"attention.cu":   {"attn_fwd", "attn_bwd_dsum", "attn_bwd_dq", "attn_bwd_dkdv", "kv_cache_write"},
	"elementwise.cu": {"add_f32", "scale_f32", "sumsq_partial"},
	"embedding.cu":   {"embedding_fwd", "embedding_bwd"},
	"logprobs.cu":    {"lm_gather", "lm_scatter_add", "lm_logsoftmax"},
	"rmsnorm.cu":     {"rmsnorm_fwd", "rmsnorm_bwd_dx", "rmsnorm_bwd_dw"},
	"rope.cu":        {"rope"},
	"swiglu.cu":      {"swiglu_fwd", "swiglu_bwd"},
}

// methodKernels says which kernels implement each compute.Backend method
// ("cublas" for cuBLAS GEMMs, "driver" for plain driver calls). A test checks
// that every interface method is listed and every kernel exists in the sources.
var methodKernels = map[string][]string{
	"Name": {"driver"}, "Alloc": {"driver"}, "View": {"driver"}, "Upload": {"driver"},
	"Download": {"driver"}, "Zero": {"driver"}, "Copy": {"driver"},
	"MatMul":            {"cublas"},
	"Add":               {"add_f32"},
	"Scale":             {"scale_f32"},
	"SumSquares":        {"sumsq_partial"},
	"Embedding":         {"embedding_fwd"},
	"EmbeddingBackward": {"embedding_bwd"},
	"RMSNorm":           {"rmsnorm_fwd"},
	"RMSNormBackward":   {"rmsnorm_bwd_dx", "rmsnorm_bwd_dw"},
	"RoPE":              {"rope"},
	"RoPEBackward":      {"rope"},
	"Attention":         {"attn_fwd"},
	"AttentionBackward": {"attn_bwd_dsum", "attn_bwd_dq", "attn_bwd_dkdv"},
	"KVCacheWrite":      {"kv_cache_write"},
	"AttentionCached":   {"attn_fwd"},
	"SwiGLU":            {"swiglu_fwd"},
	"SwiGLUBackward":    {"swiglu_bwd"},
	"TokenLogProbs":     {"lm_gather", "cublas", "lm_logsoftmax", "lm_scatter_add"},
	"AdamW":             {"adamw"},
}

// kernelSource returns the text NVRTC compiles for one file: common.cuh, then
// the file, with a #line so compiler messages name the right file and line.
func kernelSource(file string) (string, error) {
	common, err := kernelFS.ReadFile("kernels/common.cuh")
	if err != nil {
		return "", fmt.Errorf("cuda: embedded kernels/common.cuh: %w", err)
	}
	body, err := kernelFS.ReadFile(path.Join("kernels", file))
	if err != nil {
		return "", fmt.Errorf("cuda: embedded kernels/%s: %w", file, err)
	}
	return fmt.Sprintf("#line 1 \"common.cuh\"\n%s\n#line 1 \"%s\"\n%s", common, file, body), nil
}

// sortedFiles returns kernelFiles' keys in order (deterministic loading).
func sortedFiles() []string {
	files := make([]string, 0, len(kernelFiles))
	for f := range kernelFiles {
		files = append(files, f)
	}
	sort.Strings(files)
	return files
}

// loadKernels compiles (or reads from the cache) every kernel file for this
// device and looks up its functions.
func (be *Backend) loadKernels() error {
	opts := compileOptions(be.info.Arch(), be.opts.IncludeDir)
	cache := cubinCache{dir: be.opts.CacheDir}
	if cache.dir == "-" {
		cache.dir = ""
	}
	device := be.info.Name + " " + be.info.Arch()
	compiler := "nvrtc " + be.rtc.version()
	for _, file := range sortedFiles() {
		src, err := kernelSource(file)
		if err != nil {
			return err
		}
		key := cacheKey(src, opts, device, compiler)
		cubin := cache.get(key)
		if cubin == nil {
			if cubin, err = be.rtc.compile(file, src, opts); err != nil {
				return fmt.Errorf("cuda: compiling kernels/%s (%s): %w", file, strings.Join(opts, " "), err)
			}
			_ = cache.put(key, cubin) // a failed write only costs a recompile next run
		}
		var mod cuModule
		if err := be.drv.check("cuModuleLoadData "+file, be.drv.cuModuleLoadData(&mod, unsafe.Pointer(&cubin[0]))); err != nil {
			return err
		}
		be.modules = append(be.modules, mod)
		for _, name := range kernelFiles[file] {
			var fn cuFunction
			if err := be.drv.check("cuModuleGetFunction "+name, be.drv.cuModuleGetFunction(&fn, mod, name)); err != nil {
				return fmt.Errorf("kernels/%s: %w", file, err)
			}
			be.fns[name] = fn
		}
	}
	return nil
}

// dim3 is a grid or block size.
type dim3 struct{ x, y, z int }

func d1(x int) dim3 { return dim3{x, 1, 1} }

// launcher builds cuLaunchKernel's parameter array: one 8-byte slot per
// argument (pointers and int64 fill it; int32 and float32 sit in its low
// bytes, little-endian) and an array of pointers to the slots. Both live on
// the heap inside the Backend, so their addresses are stable during the call.
type launcher struct {
	slots       [24]uint64
	ptrs        [24]unsafe.Pointer
	alpha, beta float32 // cublasGemmEx's scalars
}

// arg encodes kernel arguments into slots.
type arg uint64

func ptrArg(p cuDevicePtr) arg { return arg(p) }
func bufArg(b *Buf) arg {
	if b == nil {
		return 0
	}
	return arg(b.ptr)
}
func i32Arg(v int) arg     { return arg(uint32(int32(v))) }
func i64Arg(v int) arg     { return arg(uint64(int64(v))) }
func f32Arg(v float32) arg { return arg(*(*uint32)(unsafe.Pointer(&v))) }

// run launches kernel name on the stream. smem is the dynamic shared memory
// in bytes; above 48 KiB the kernel's limit is raised first.
func (be *Backend) run(name string, grid, block dim3, smem int, args ...arg) {
	fn, ok := be.fns[name]
	if !ok {
		panic(fmt.Sprintf("cuda: kernel %q is not loaded", name))
	}
	if grid.x == 0 || grid.y == 0 || grid.z == 0 {
		return
	}
	if smem > defaultDynamicSharedLimit {
		be.must("cuFuncSetAttribute "+name, be.drv.cuFuncSetAttribute(fn, funcAttrMaxDynamicShared, int32(smem)))
	}
	l := be.launch
	for i, a := range args {
		l.slots[i] = uint64(a)
		l.ptrs[i] = unsafe.Pointer(&l.slots[i])
	}
	res := be.drv.cuLaunchKernel(fn, uint32(grid.x), uint32(grid.y), uint32(grid.z),
		uint32(block.x), uint32(block.y), uint32(block.z), uint32(smem), be.stream,
		unsafe.Pointer(&l.ptrs[0]), nil)
	be.must("cuLaunchKernel "+name, res)
}

// gridFor returns enough blocks of `threads` for n elements of a grid-stride
// kernel, capped (grid-stride loops cover the rest).
func gridFor(n, threads int) int {
	return max(1, min((n+threads-1)/threads, 65535))
}
