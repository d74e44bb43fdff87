package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// deviceMemory is what the caching allocator needs from the driver; tests
// substitute a fake, so the bookkeeping is checked without a GPU.
type deviceMemory interface {
	alloc(bytes uint64) (cuDevicePtr, error)
	free(p cuDevicePtr) error
}

// errOutOfMemory is what deviceMemory.alloc returns when the device is full;
// the allocator then releases its cache and tries once more.
var errOutOfMemory = errors.New("cuda: out of device memory")

// allocator is a caching allocator: freed blocks go to a free list keyed by
// their rounded size and are handed out again, because cuMemAlloc/cuMemFree
// synchronise the device and cost tens of microseconds. Safe for concurrent
// use: buffers are returned by GC cleanups, which run on their own goroutine.
type allocator struct {
	mu    sync.Mutex
	mem   deviceMemory
	free  map[uint64][]cuDevicePtr
	stats AllocStats
}

// AllocStats counts device memory in bytes.
type AllocStats struct {
	InUse  uint64 // handed out and not yet returned
	Cached uint64 // returned, held for reuse
	Peak   uint64 // largest InUse so far
	Allocs int    // cuMemAlloc calls (cache misses)
}

func newAllocator(mem deviceMemory) *allocator {
	return &allocator{mem: mem, free: map[uint64][]cuDevicePtr{}}
}

const (
	minBlock   = 512     // the driver aligns to 256 B anyway; fewer tiny classes
	largeBlock = 1 << 20 // above this, round to 2 MiB pages instead of powers of two
	largeRound = 2 << 20
)

// blockSize rounds a request up to its size class: powers of two up to 1 MiB
// (at most 2× waste on small buffers), then multiples of 2 MiB (at most 2 MiB
// waste on the large ones that dominate memory).
func blockSize(bytes uint64) uint64 {
	if bytes <= minBlock {
		return minBlock
	}
	if bytes <= largeBlock {
		s := uint64(minBlock)
		for s < bytes {
			s <<= 1
		}
		return s
	}
	return (bytes + largeRound - 1) / largeRound * largeRound
}

// get returns a block of at least bytes and its rounded size.
func (a *allocator) get(bytes uint64) (cuDevicePtr, uint64, error) {
	size := blockSize(bytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if list := a.free[size]; len(list) > 0 {
		p := list[len(list)-1]
		a.free[size] = list[:len(list)-1]
		a.stats.Cached -= size
		a.use(size)
		return p, size, nil
	}
	p, err := a.mem.alloc(size)
	if errors.Is(err, errOutOfMemory) {
		// Unreachable buffers return through GC cleanups: collect them, give
		// every cached block back to the driver, and try once more.
		a.mu.Unlock()
		runtime.GC()
		runtime.Gosched()
		a.mu.Lock()
		if ferr := a.trimLocked(); ferr != nil {
			return 0, 0, ferr
		}
		p, err = a.mem.alloc(size)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("allocating %d bytes (%d in use, peak %d): %w", size, a.stats.InUse, a.stats.Peak, err)
	}
	a.stats.Allocs++
	a.use(size)
	return p, size, nil
}

func (a *allocator) use(size uint64) {
	a.stats.InUse += size
	a.stats.Peak = max(a.stats.Peak, a.stats.InUse)
}

// put returns a block to the cache. Kernels still queued on the stream may
// read it, which is safe: every later use of the block is queued behind them.
func (a *allocator) put(p cuDevicePtr, size uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.free[size] = append(a.free[size], p)
	a.stats.InUse -= size
	a.stats.Cached += size
}

// trim gives every cached block back to the device.
func (a *allocator) trim() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.trimLocked()
}

func (a *allocator) trimLocked() error {
	var first error
	for size, list := range a.free {
		for _, p := range list {
			if err := a.mem.free(p); err != nil && first == nil {
				first = err
			}
			a.stats.Cached -= size
		}
		delete(a.free, size)
	}
	return first
}

func (a *allocator) snapshot() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}
