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

// hasAVX2 selects the AVX2 AdamW kernel (adamw_amd64.s).
var hasAVX2 = cpu.X86.HasAVX2

// adamwAVX2 applies adamwScalar's update to whole blocks of 8 of p (g, m, v at
// least as long) and returns how many elements it updated.
//
//go:noescape
func adamwAVX2(p, g, m, v []float32, c *adamwConsts) int
