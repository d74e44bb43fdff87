// Package cpu implements compute.Backend on the CPU in float32.
//
// Kernels are plain Go loops parallelised over goroutines (one per core); GEMM
// goes through OpenBLAS when libopenblas.so.0 can be loaded at run time and
// through a pure-Go path otherwise. Every fast path has a plain reference loop
// it is tested against.
package cpu

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/posttrain/posttrain/compute"
)

// Buf is the CPU backend's buffer: a float32 slice.
type Buf struct {
	Data []float32
}

// Len implements compute.Buffer.
func (b *Buf) Len() int { return len(b.Data) }

// F returns the float32 storage of a buffer created by this backend.
func F(b compute.Buffer) []float32 {
	if b == nil {
		return nil
	}
	cb, ok := b.(*Buf)
	if !ok {
		panic(fmt.Sprintf("cpu: buffer of type %T does not belong to the CPU backend", b))
	}
	return cb.Data
}

// Wrap makes a compute.Buffer that shares the given slice.
func Wrap(data []float32) *Buf { return &Buf{Data: data} }

var _ compute.Backend = (*Backend)(nil)

// Backend is the CPU implementation of compute.Backend.
type Backend struct {
	workers int
	blas    *openBLAS     // nil when OpenBLAS is not available
	lmHead  lmHeadScratch // TokenLogProbs' reusable chunk buffers
	attn    attnBlockedScratch
	// attnTile is the blocked attention's query tokens per tile; 0 picks
	// attnTileTokens (tests set it small to exercise many tiles).
	attnTile int
}

// Alloc implements compute.Backend.
func (be *Backend) Alloc(n int) compute.Buffer { return &Buf{Data: make([]float32, n)} }

// View implements compute.Backend.
func (be *Backend) View(b compute.Buffer, off, n int) compute.Buffer {
	return &Buf{Data: F(b)[off : off+n : off+n]}
}

// Upload implements compute.Backend.
func (be *Backend) Upload(dst compute.Buffer, src []float32) { copy(F(dst), src) }

// Download implements compute.Backend.
func (be *Backend) Download(dst []float32, src compute.Buffer) { copy(dst, F(src)) }

// Zero implements compute.Backend; large buffers (the gradients, every step)
// are cleared by all workers.
func (be *Backend) Zero(b compute.Buffer) {
	x := F(b)
	be.elementwise(len(x), func(lo, hi int) { clear(x[lo:hi]) })
}

// Copy implements compute.Backend.
func (be *Backend) Copy(dst, src compute.Buffer) { copy(F(dst), F(src)) }

// Workers reports how many goroutines the kernels split work across.
func (be *Backend) Workers() int { return be.workers }

// parallelFor runs body over [0, n) split into contiguous chunks, one per
// worker. Small n runs inline to avoid goroutine overhead.
func (be *Backend) parallelFor(n int, body func(lo, hi int)) {
	w := be.workers
	if w <= 1 || n < 2 {
		body(0, n)
		return
	}
	if w > n {
		w = n
	}
	var wg sync.WaitGroup
	var relay panicRelay
	chunk := (n + w - 1) / w
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer relay.catch()
			body(lo, hi)
		}()
	}
	wg.Wait()
	relay.rethrow()
}

// panicRelay carries the first panic of a worker goroutine to the goroutine
// that waits for the workers, so a broken invariant inside a kernel reaches
// the caller (and the CLI's recover) instead of ending the process with a
// goroutine dump.
type panicRelay struct {
	once sync.Once
	val  any
}

// catch must be deferred directly by the worker.
func (p *panicRelay) catch() {
	if r := recover(); r != nil {
		p.once.Do(func() { p.val = r })
	}
}

// rethrow re-panics on the waiting goroutine; call it after the workers are done.
func (p *panicRelay) rethrow() {
	if p.val != nil {
		panic(p.val)
	}
}

// forEachDynamic calls body(i) for every i in [0, n) on be.workers
// goroutines that take the next unclaimed index, so items of uneven cost
// (causal attention tiles) balance across cores.
func (be *Backend) forEachDynamic(n int, body func(i int)) {
	w := min(be.workers, n)
	if w <= 1 {
		for i := range n {
			body(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var relay panicRelay
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer relay.catch()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				body(i)
			}
		}()
	}
	wg.Wait()
	relay.rethrow()
}

func defaultWorkers() int { return runtime.GOMAXPROCS(0) }

// New returns a CPU backend using every core GOMAXPROCS allows and OpenBLAS when
// libopenblas.so.0 loads.
func New() *Backend { return &Backend{workers: defaultWorkers(), blas: loadOpenBLAS()} }

// NewPureGo returns a CPU backend that never uses OpenBLAS.
func NewPureGo() *Backend { return &Backend{workers: defaultWorkers()} }

// Name implements compute.Backend.
func (be *Backend) Name() string { return "cpu (" + be.BLAS() + ")" }

// NewForPool returns a backend for one of n concurrent workers (rollout
// generators): its kernels use GOMAXPROCS/n goroutines and the pure-Go GEMM.
// OpenBLAS's OpenMP threads are process-wide, so n workers each calling it
// at once oversubscribe the cores and spin against each other (measured: 4
// workers 15× slower than 2 on 2 cores); Go's scheduler shares cores well.
// With n ≤ 1 it is New().
func NewForPool(n int) *Backend {
	if n <= 1 {
		return New()
	}
	return &Backend{workers: max(1, defaultWorkers()/n)}
}
