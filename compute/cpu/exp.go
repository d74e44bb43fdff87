package cpu

import "math"

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

// expVecMax bounds the vector kernel's inputs so that round(x·log2e) ≤ 127
// and 2^n stays a normal float32; larger inputs take expf32's path.
const expVecMax = 88.3

// expConsts feeds exp_amd64.s: bounds, range reduction, the polynomial of
// expf32 (c0 first), 1 and the float32 exponent bias (as int32 bits).
var expConsts = [13]float32{
	-87.33654022216797, expVecMax, 1.44269504088896341, 0.693359375, -2.12194440e-4,
	1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
	1, math.Float32frombits(127),
}

// expShift writes dst[i] = e^(src[i]−shift) over len(src) (dst may be src).
// It equals the reference loop
//
//	for i := range src { dst[i] = expf32(src[i] - shift) }
//
// up to the rounding of fused multiply-adds (a few ulp): on amd64 with AVX2
// and FMA, blocks of 8 run in exp_amd64.s (about 10× the scalar loop) and any
// block holding an input outside the kernel's range, a NaN, or the tail,
// falls back to expf32.
func expShift(dst, src []float32, shift float32) {
	dst = dst[:len(src)]
	i := 0
	for i < len(src) {
		if hasExpAVX2 {
			i += expShiftAVX2(dst[i:], src[i:], shift)
		}
		end := min(i+8, len(src))
		for ; i < end; i++ {
			dst[i] = expf32(src[i] - shift)
		}
	}
}
