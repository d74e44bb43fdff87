package cpu

import "golang.org/x/sys/cpu"

// hasExpAVX2 selects the AVX2+FMA exp kernel (exp_amd64.s).
var hasExpAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expShiftAVX2 writes dst[i] = e^(src[i]−shift) block by block and returns how
// many values it wrote (a multiple of 8); it stops at the first block holding a
// value outside [expVecMin, expVecMax] or a NaN.
//
//go:noescape
func expShiftAVX2(dst, src []float32, shift float32) int
