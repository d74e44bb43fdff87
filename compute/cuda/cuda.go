// Package cuda implements compute.Backend on NVIDIA GPUs.
//
// The driver API (libcuda.so.1), NVRTC and cuBLAS are loaded at run time with
// purego, so the package builds without cgo and without CUDA, and New returns
// an error wrapping ErrNoCUDA on machines without a GPU. Kernels are the CUDA C
// files in kernels/, embedded in the binary and compiled by NVRTC for the
// device in hand once, then cached on disk (kcache.go). Every kernel has a
// twin in compute/cpu and a parity test against it (parity_test.go).
//
// Storage is float32 (the interface's Upload/Download are float32); GEMMs go
// through cublasGemmEx with IEEE fp32 compute, or TF32 tensor cores when
// Options.TF32 is set. All work is queued on one stream; Download and
// SumSquares wait for it.
package cuda

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/posttrain/posttrain/compute"
)

var _ compute.Backend = (*Backend)(nil)

// Options configure New.
type Options struct {
	Device int // device ordinal
	// TF32 lets cuBLAS use TF32 tensor cores for float32 GEMMs (about 8×
	// faster, 10-bit mantissa inputs); off, results match the CPU to ~1e-6.
	TF32 bool
	// CacheDir holds compiled kernels; "" uses $POSTTRAIN_CUDA_CACHE or the
	// user cache directory. "-" disables the cache.
	CacheDir string
	// IncludeDir is passed to NVRTC as --include-path (cuda_bf16.h lives there).
	IncludeDir string
}

// Backend is the CUDA implementation of compute.Backend. Like every backend
// it is used by one goroutine at a time.
type Backend struct {
	drv    *driver
	rtc    *nvrtc
	blas   *cublas
	info   deviceInfo
	dev    cuDevice
	ctx    cuContext
	stream cuStream
	handle uintptr // cuBLAS handle bound to stream
	alloc  *allocator
	opts   Options

	modules []cuModule
	fns     map[string]cuFunction // kernel name -> function
	launch  *launcher
	tokens  tokenScratch // TokenLogProbs' chunk buffers
}

var (
	availOnce sync.Once
	availDesc string
	availOK   bool
)

// Available describes the first GPU ("cuda:0 NVIDIA H200 (sm_90, ...)") or,
// when there is none, says why ("libcuda.so.1 not found ..."). It loads the
// driver and NVRTC and cuBLAS but compiles nothing; doctor and device "auto"
// call it.
func Available() (string, bool) {
	availOnce.Do(func() {
		drv, err := loadDriver()
		if err == nil {
			var di deviceInfo
			di, _, err = drv.probe(0)
			if err == nil {
				if _, err = loadNVRTC(); err == nil {
					if _, err = loadCuBLAS(); err == nil {
						availDesc, availOK = di.String(), true
						return
					}
				}
			}
		}
		availDesc = strings.TrimPrefix(err.Error(), ErrNoCUDA.Error()+": ")
	})
	return availDesc, availOK
}

// New opens device 0 with default options.
func New() (*Backend, error) { return NewWithOptions(Options{}) }

// NewWithOptions loads the CUDA libraries, opens the device, and compiles (or
// loads from the cache) every kernel. Errors wrap ErrNoCUDA when the machine
// lacks a GPU or the libraries.
func NewWithOptions(o Options) (*Backend, error) {
	if o.IncludeDir == "" {
		o.IncludeDir = "/usr/local/cuda/include"
	}
	if o.CacheDir == "" {
		o.CacheDir = defaultCacheDir()
	}
	drv, err := loadDriver()
	if err != nil {
		return nil, err
	}
	info, dev, err := drv.probe(o.Device)
	if err != nil {
		return nil, err
	}
	rtc, err := loadNVRTC()
	if err != nil {
		return nil, err
	}
	blas, err := loadCuBLAS()
	if err != nil {
		return nil, err
	}
	be := &Backend{drv: drv, rtc: rtc, blas: blas, info: info, dev: dev, opts: o, fns: map[string]cuFunction{}}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := be.open(); err != nil {
		be.Close()
		return nil, err
	}
	return be, nil
}

// open retains the primary context, creates the stream and the cuBLAS handle,
// and loads the kernels. The caller holds the OS thread.
func (be *Backend) open() error {
	d := be.drv
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&be.ctx, be.dev)); err != nil {
		return err
	}
	if err := d.check("cuCtxSetCurrent", d.cuCtxSetCurrent(be.ctx)); err != nil {
		return err
	}
	if err := d.check("cuStreamCreate", d.cuStreamCreate(&be.stream, streamNonBlocking)); err != nil {
		return err
	}
	if err := cublasCheck("cublasCreate", be.blas.cublasCreate(&be.handle)); err != nil {
		return err
	}
	if err := cublasCheck("cublasSetStream", be.blas.cublasSetStream(be.handle, be.stream)); err != nil {
		return err
	}
	be.alloc = newAllocator(driverMemory{d})
	be.launch = &launcher{}
	return be.loadKernels()
}

// Close releases the device resources. Buffers must not be used afterwards.
func (be *Backend) Close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if be.ctx == 0 {
		return nil
	}
	d := be.drv
	d.cuCtxSetCurrent(be.ctx)
	if be.stream != 0 {
		d.cuStreamSynchronize(be.stream)
	}
	var first error
	if be.alloc != nil {
		for _, s := range []scratch{be.tokens.hc, be.tokens.logits, be.tokens.dhc} {
			be.release(s)
		}
		be.tokens = tokenScratch{}
		first = be.alloc.trim()
	}
	for _, m := range be.modules {
		d.cuModuleUnload(m)
	}
	if be.handle != 0 {
		be.blas.cublasDestroy(be.handle)
	}
	if be.stream != 0 {
		d.cuStreamDestroy(be.stream)
	}
	d.cuDevicePrimaryCtxRelease(be.dev)
	be.ctx, be.stream, be.handle, be.modules = 0, 0, 0, nil
	return first
}

// Name implements compute.Backend.
func (be *Backend) Name() string {
	mode := "fp32"
	if be.opts.TF32 {
		mode = "fp32, TF32 GEMMs"
	}
	return fmt.Sprintf("%s [%s]", be.info, mode)
}

// Memory reports the caching allocator's counters.
func (be *Backend) Memory() AllocStats { return be.alloc.snapshot() }

// enter pins the goroutine to its OS thread and makes the context current on
// it: CUDA contexts are per thread and goroutines move between threads. Use
// as `defer be.enter()()`.
func (be *Backend) enter() func() {
	runtime.LockOSThread()
	be.must("cuCtxSetCurrent", be.drv.cuCtxSetCurrent(be.ctx))
	return runtime.UnlockOSThread
}

// must panics on a failed driver call. The Backend interface has no error
// results; a failing call on a working context means a device fault or a bug,
// which no caller can recover from.
func (be *Backend) must(call string, res int32) {
	if err := be.drv.check(call, res); err != nil {
		panic(err)
	}
}

// sync waits for the stream.
func (be *Backend) sync() { be.must("cuStreamSynchronize", be.drv.cuStreamSynchronize(be.stream)) }

// Sync waits until every queued kernel has finished (for timing).
func (be *Backend) Sync() {
	defer be.enter()()
	be.sync()
}

// driverMemory is deviceMemory on the real driver.
type driverMemory struct{ d *driver }

func (m driverMemory) alloc(bytes uint64) (cuDevicePtr, error) {
	var p cuDevicePtr
	res := m.d.cuMemAlloc(&p, bytes)
	if res == 2 { // CUDA_ERROR_OUT_OF_MEMORY
		return 0, errOutOfMemory
	}
	return p, m.d.check("cuMemAlloc", res)
}

func (m driverMemory) free(p cuDevicePtr) error { return m.d.check("cuMemFree", m.d.cuMemFree(p)) }
