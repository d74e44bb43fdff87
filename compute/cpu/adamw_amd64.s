#include "textflag.h"

// func adamwAVX2(p, g, m, v []float32, c *adamwConsts) int
//
// The AdamW update of adamwScalar on whole blocks of 8, with the same
// operations in the same order and no fused multiply-adds, so results are
// bit-identical to the scalar loop. Returns how many elements it updated.
// c holds oneMinusB1, beta2, oneMinusB2, bc2Sqrt, eps, decay, stepSize.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-112
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R9
	MOVQ v_base+72(FP), R10
	MOVQ c+96(FP), R8
	VBROADCASTSS 0(R8), Y8   // 1−β1
	VBROADCASTSS 4(R8), Y9   // β2
	VBROADCASTSS 8(R8), Y10  // 1−β2
	VBROADCASTSS 12(R8), Y11 // sqrt(bias correction 2)
	VBROADCASTSS 16(R8), Y12 // eps
	VBROADCASTSS 20(R8), Y13 // decay
	VBROADCASTSS 24(R8), Y14 // step size
	XORQ AX, AX

loop:
	CMPQ CX, $8
	JLT done
	VMOVUPS (SI), Y0  // g
	VMOVUPS (R9), Y1  // m
	VMOVUPS (R10), Y2 // v
	VMOVUPS (DI), Y3  // p
	VSUBPS Y1, Y0, Y4  // g − m
	VMULPS Y8, Y4, Y4  // (1−β1)·(g − m)
	VADDPS Y4, Y1, Y1  // m' = m + ...
	VMULPS Y10, Y0, Y5 // (1−β2)·g
	VMULPS Y0, Y5, Y5  // ·g
	VMULPS Y9, Y2, Y2  // β2·v
	VADDPS Y5, Y2, Y2  // v' = β2·v + (1−β2)·g·g
	VMOVUPS Y1, (R9)
	VMOVUPS Y2, (R10)
	VSQRTPS Y2, Y6
	VDIVPS Y11, Y6, Y6 // sqrt(v')/bc2Sqrt
	VADDPS Y12, Y6, Y6 // + eps
	VDIVPS Y6, Y1, Y7  // m'/denom
	VMULPS Y14, Y7, Y7 // stepSize·(m'/denom)
	VMULPS Y13, Y3, Y3 // p·decay
	VSUBPS Y7, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $8, AX
	SUBQ $8, CX
	JMP loop

done:
	VZEROUPPER
	MOVQ AX, ret+104(FP)
	RET
