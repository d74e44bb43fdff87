package cpu

import "github.com/posttrain/posttrain/compute"

// parallelMin is the element count below which elementwise kernels run on the
// calling goroutine: spawning workers costs about a microsecond, which is the
// time one core needs for a few tens of thousands of float32 adds.
const parallelMin = 1 << 15

// sumBlocks is how many partial sums SumSquares forms; fixed (not one per
// worker) so that the result is bit-identical whatever the worker count.
const sumBlocks = 16

// Add implements compute.Backend: dst[i] += src[i] over dst's length.
func (be *Backend) Add(dst, src compute.Buffer) {
	d, s := F(dst), F(src)
	s = s[:len(d)]
	be.elementwise(len(d), func(lo, hi int) {
		dd, ss := d[lo:hi], s[lo:hi]
		for i := range dd {
			dd[i] += ss[i]
		}
	})
}

// Scale implements compute.Backend: b[i] *= s.
func (be *Backend) Scale(b compute.Buffer, s float32) {
	x := F(b)
	be.elementwise(len(x), func(lo, hi int) {
		xx := x[lo:hi]
		for i := range xx {
			xx[i] *= s
		}
	})
}

// SumSquares implements compute.Backend: Σ b[i]² accumulated in float64.
func (be *Backend) SumSquares(b compute.Buffer) float64 {
	x := F(b)
	if len(x) < parallelMin {
		return sumSquares(x)
	}
	var partial [sumBlocks]float64
	block := (len(x) + sumBlocks - 1) / sumBlocks
	be.parallelFor(sumBlocks, func(b0, b1 int) {
		for blk := b0; blk < b1; blk++ {
			lo := min(blk*block, len(x))
			hi := min(lo+block, len(x))
			partial[blk] = sumSquares(x[lo:hi])
		}
	})
	var total float64
	for _, p := range partial {
		total += p
	}
	return total
}

// sumSquares is Σ x[i]² in float64 with four independent accumulators, so the
// adds pipeline instead of waiting on one another.
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		v := float64(x[i])
		s0 += v * v
	}
	return (s0 + s1) + (s2 + s3)
}

// elementwise runs body over [0, n), split across workers when n is large.
func (be *Backend) elementwise(n int, body func(lo, hi int)) {
	if n < parallelMin {
		body(0, n)
		return
	}
	be.parallelFor(n, body)
}
