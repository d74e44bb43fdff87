package cpu

import (
	"fmt"
	"math"
)

// expf32 returns e^x in float32 using Cephes' expf range reduction and
// polynomial (relative error about 2e-7, the same order as float32 rounding).
// It is several times faster than float32(math.Exp(float64(x))), which matters
// in attention (one exp per query-key pair) and SwiGLU (one per activation).
// Results below the float32 normal range flush to 0.
func expf32(x float32) float32 {
	const (
		maxArg = 88.72283935546875  // log(MaxFloat32)
		minArg = -87.33654022216797 // log(SmallestNormalFloat32)
		log2e  = 1.44269504088896341
		ln2Hi  = 0.693359375 // ln2 split so n·ln2Hi is exact in float32
		ln2Lo  = -2.12194440e-4
	)
	switch {
	case x != x:
		return x
	case x > maxArg:
		return float32(math.Inf(1))
	case x < minArg:
		return 0
	}
	// Round x·log2(e) to the nearest integer without math.Floor (a call on
	// amd64 v1): adding 1.5·2²³ leaves no fraction bits in a float32.
	const roundMagic = 12582912
	n := (x*log2e + roundMagic) - roundMagic
	r := x - n*ln2Hi - n*ln2Lo
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	e := int32(n)
	if e > 127 { // only near maxArg: 2^128 is not a float32, scale in two steps
		e--
		p *= 2
	}
	return p * math.Float32frombits(uint32(e+127)<<23)
}

// mustHaveLen panics unless a tensor has the length its shape implies. The
// Backend interface has no error results, so a wrong-sized buffer is a
// programming error; this turns a silent overrun or an index panic deep in a
// worker goroutine into a message naming the kernel, the tensor and its shape.
func mustHaveLen(op, tensor, formula string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("cpu.%s: %s has %d values, want %s = %d", op, tensor, got, formula, want))
	}
}
