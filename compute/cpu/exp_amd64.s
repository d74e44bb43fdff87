#include "textflag.h"

// func expShiftAVX2(dst, src []float32, shift float32) int
//
// dst[i] = e^(src[i]−shift) for whole blocks of 8, with the range reduction
// and polynomial of expf32 (see exp.go). It stops before the first block that
// holds a value outside [expVecMin, expVecMax] or a NaN and returns how many
// elements it wrote; the Go wrapper finishes such blocks with expf32.
// Register use: Y15 shift, Y14 min, Y13 max, Y12 log2e, Y11 ln2Hi,
// Y10 ln2Lo, Y9..Y5 polynomial coefficients c1..c5; Y0 x then r, Y2 n, Y3 p.
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-64
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	MOVQ dst_len+8(FP), DX
	CMPQ DX, CX
	CMOVQLT DX, CX
	VBROADCASTSS shift+48(FP), Y15
	LEAQ ·expConsts(SB), R8
	VBROADCASTSS 0(R8), Y14
	VBROADCASTSS 4(R8), Y13
	VBROADCASTSS 8(R8), Y12
	VBROADCASTSS 12(R8), Y11
	VBROADCASTSS 16(R8), Y10
	VBROADCASTSS 24(R8), Y9
	VBROADCASTSS 28(R8), Y8
	VBROADCASTSS 32(R8), Y7
	VBROADCASTSS 36(R8), Y6
	VBROADCASTSS 40(R8), Y5
	XORQ AX, AX

loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0
	VCMPPS $0x1d, Y14, Y0, Y1 // x >= min (false for NaN)
	VCMPPS $0x12, Y13, Y0, Y4 // x <= max
	VANDPS Y4, Y1, Y1
	VMOVMSKPS Y1, BX
	CMPL BX, $0xff
	JNE done

	VMULPS Y12, Y0, Y2
	VROUNDPS $0, Y2, Y2       // n = round(x·log2e)
	VFNMADD231PS Y11, Y2, Y0  // r = x − n·ln2Hi
	VFNMADD231PS Y10, Y2, Y0  //     − n·ln2Lo
	VBROADCASTSS 20(R8), Y3   // p = c0
	VFMADD213PS Y9, Y0, Y3    // p = p·r + c1
	VFMADD213PS Y8, Y0, Y3
	VFMADD213PS Y7, Y0, Y3
	VFMADD213PS Y6, Y0, Y3
	VFMADD213PS Y5, Y0, Y3
	VMULPS Y0, Y0, Y4         // r²
	VFMADD213PS Y0, Y4, Y3    // p = p·r² + r
	VBROADCASTSS 44(R8), Y4
	VADDPS Y4, Y3, Y3         // p += 1
	VCVTPS2DQ Y2, Y2
	VPBROADCASTD 48(R8), Y4
	VPADDD Y4, Y2, Y2
	VPSLLD $23, Y2, Y2        // 2^n
	VMULPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $8, AX
	SUBQ $8, CX
	JMP loop

done:
	VZEROUPPER
	MOVQ AX, ret+56(FP)
	RET
