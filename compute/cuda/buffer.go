package cuda

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/posttrain/posttrain/compute"
)

// Buf is a run of float32 in device memory: n values at ptr. Views share the
// block of the buffer they were cut from and keep it alive.
type Buf struct {
	ptr  cuDevicePtr
	n    int
	root *block
}

// block is one allocation; when the last Buf referring to it is collected,
// a cleanup returns it to the caching allocator.
type block struct {
	ptr  cuDevicePtr
	size uint64
}

// Len implements compute.Buffer.
func (b *Buf) Len() int { return b.n }

// Ptr is the device address of the first value.
func (b *Buf) Ptr() uint64 { return b.ptr }

// buf returns the device buffer behind b; a foreign buffer is a programming
// error (the model mixed backends).
func buf(op, name string, b compute.Buffer) *Buf {
	cb, ok := b.(*Buf)
	if !ok || cb == nil {
		panic(fmt.Sprintf("cuda.%s: %s is a %T, not a buffer of the CUDA backend", op, name, b))
	}
	return cb
}

// mustHaveLen panics unless a tensor has the length its shape implies (the
// CPU backend's check, so both fail alike on a wrong-sized buffer).
func mustHaveLen(op, tensor, formula string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("cuda.%s: %s has %d values, want %s = %d", op, tensor, got, formula, want))
	}
}

// Alloc implements compute.Backend: a zero-filled buffer of n float32.
func (be *Backend) Alloc(n int) compute.Buffer {
	if n < 0 {
		panic(fmt.Sprintf("cuda.Alloc: negative length %d", n))
	}
	defer be.enter()()
	p, size, err := be.alloc.get(uint64(max(n, 1)) * 4)
	if err != nil {
		panic(fmt.Errorf("cuda.Alloc(%d floats): %w", n, err))
	}
	blk := &block{ptr: p, size: size}
	runtime.AddCleanup(blk, func(a *allocator) { a.put(p, size) }, be.alloc)
	b := &Buf{ptr: p, n: n, root: blk}
	be.zero(b)
	return b
}

// View implements compute.Backend.
func (be *Backend) View(b compute.Buffer, off, n int) compute.Buffer {
	src := buf("View", "b", b)
	if off < 0 || n < 0 || off+n > src.n {
		panic(fmt.Sprintf("cuda.View: [%d, %d) is outside a buffer of %d values", off, off+n, src.n))
	}
	return &Buf{ptr: src.ptr + uint64(off)*4, n: n, root: src.root}
}

// Upload implements compute.Backend: dst[0:len(src)] = src.
func (be *Backend) Upload(dst compute.Buffer, src []float32) {
	d := buf("Upload", "dst", dst)
	if len(src) > d.n {
		panic(fmt.Sprintf("cuda.Upload: %d values into a buffer of %d", len(src), d.n))
	}
	if len(src) == 0 {
		return
	}
	defer be.enter()()
	be.htod(d.ptr, unsafe.Pointer(&src[0]), len(src)*4)
}

// htod queues a copy from host memory. From pageable memory the driver
// returns once the data is staged, so the caller may reuse src at once.
func (be *Backend) htod(dst cuDevicePtr, src unsafe.Pointer, bytes int) {
	be.must("cuMemcpyHtoDAsync", be.drv.cuMemcpyHtoDAsync(dst, src, uint64(bytes), be.stream))
}

// Download implements compute.Backend: dst = src[0:len(dst)]. To pageable
// memory the copy is complete when the call returns.
func (be *Backend) Download(dst []float32, src compute.Buffer) {
	s := buf("Download", "src", src)
	if len(dst) > s.n {
		panic(fmt.Sprintf("cuda.Download: %d values from a buffer of %d", len(dst), s.n))
	}
	if len(dst) == 0 {
		return
	}
	defer be.enter()()
	be.dtoh(unsafe.Pointer(&dst[0]), s.ptr, len(dst)*4)
}

func (be *Backend) dtoh(dst unsafe.Pointer, src cuDevicePtr, bytes int) {
	be.must("cuMemcpyDtoHAsync", be.drv.cuMemcpyDtoHAsync(dst, src, uint64(bytes), be.stream))
	be.sync()
}

// Zero implements compute.Backend.
func (be *Backend) Zero(b compute.Buffer) {
	defer be.enter()()
	be.zero(buf("Zero", "b", b))
}

func (be *Backend) zero(b *Buf) {
	if b.n > 0 {
		be.must("cuMemsetD32Async", be.drv.cuMemsetD32Async(b.ptr, 0, uint64(b.n), be.stream))
	}
}

// Copy implements compute.Backend.
func (be *Backend) Copy(dst, src compute.Buffer) {
	d, s := buf("Copy", "dst", dst), buf("Copy", "src", src)
	mustHaveLen("Copy", "src", "len(dst)", s.n, d.n)
	if d.n == 0 {
		return
	}
	defer be.enter()()
	be.must("cuMemcpyDtoDAsync", be.drv.cuMemcpyDtoDAsync(d.ptr, s.ptr, uint64(d.n)*4, be.stream))
}

// scratch is a temporary device block for host side inputs (ids, positions)
// and small results. Release returns it to the cache right after the kernels
// that read it are queued: later users are queued behind them on the stream.
type scratch struct {
	ptr  cuDevicePtr
	size uint64
}

func (be *Backend) newScratch(bytes int) scratch {
	p, size, err := be.alloc.get(uint64(max(bytes, 4)))
	if err != nil {
		panic(fmt.Errorf("cuda: scratch of %d bytes: %w", bytes, err))
	}
	return scratch{ptr: p, size: size}
}

func (be *Backend) release(s scratch) {
	if s.ptr != 0 {
		be.alloc.put(s.ptr, s.size)
	}
}

// uploadInts copies a host int32 slice to a fresh scratch block; nil or empty
// gives the zero scratch (a null pointer for the kernel).
func (be *Backend) uploadInts(v []int32) scratch {
	if len(v) == 0 {
		return scratch{}
	}
	s := be.newScratch(len(v) * 4)
	be.htod(s.ptr, unsafe.Pointer(&v[0]), len(v)*4)
	return s
}

// uploadFloats is uploadInts for float32.
func (be *Backend) uploadFloats(v []float32) scratch {
	if len(v) == 0 {
		return scratch{}
	}
	s := be.newScratch(len(v) * 4)
	be.htod(s.ptr, unsafe.Pointer(&v[0]), len(v)*4)
	return s
}
