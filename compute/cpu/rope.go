package cpu

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
)

// Rotary position embedding, Hugging Face's rotate-half convention. x is
// [N, H, HD] (N tokens, H heads); for i < HD/2 the pair (x[i], x[i+HD/2]) is
// rotated by the angle pos[n]·invFreq[i]:
//
//	x[i]      ← x[i]·cos − x[i+HD/2]·sin
//	x[i+HD/2] ← x[i+HD/2]·cos + x[i]·sin
//
// The angle is the float32 product, as HF forms it (inv_freq @ position_ids in
// float32); cos and sin of that float32 angle are then rounded to float32. At
// positions in the thousands this float32 angle differs visibly from a float64
// one, so computing it in float64 would drift from HF.

// RoPE implements compute.Backend.
func (be *Backend) RoPE(x compute.Buffer, pos []int32, invFreq []float32, N, H, HD int) {
	be.rope("RoPE", F(x), pos, invFreq, N, H, HD, 1)
}

// RoPEBackward implements compute.Backend: the rotation is orthogonal, so the
// gradient goes back through its transpose, the rotation by −angle.
func (be *Backend) RoPEBackward(dx compute.Buffer, pos []int32, invFreq []float32, N, H, HD int) {
	be.rope("RoPEBackward", F(dx), pos, invFreq, N, H, HD, -1)
}

// rope rotates X [N, H, HD] in place by sign·angle (sign ±1).
func (be *Backend) rope(op string, X []float32, pos []int32, invFreq []float32, N, H, HD int, sign float32) {
	if N < 0 || H <= 0 || HD <= 0 || HD%2 != 0 {
		panic(fmt.Sprintf("cpu.%s: N=%d, H=%d, HD=%d: want positive sizes and an even head dimension", op, N, H, HD))
	}
	half := HD / 2
	mustHaveLen(op, "x", "N·H·HD", len(X), N*H*HD)
	mustHaveLen(op, "pos", "N", len(pos), N)
	mustHaveLen(op, "invFreq", "HD/2", len(invFreq), half)
	body := func(lo, hi int) {
		// cos and sin for one token, shared by its H heads; a stack buffer for
		// the usual head sizes (HD ≤ 256).
		var stack [2 * 128]float32
		cs := stack[:]
		if 2*half > len(cs) {
			cs = make([]float32, 2*half)
		}
		cosT, sinT := cs[:half], cs[half:2*half]
		for n := lo; n < hi; n++ {
			p := float32(pos[n])
			for i, f := range invFreq {
				angle := float64(p * f)
				cosT[i] = float32(math.Cos(angle))
				sinT[i] = sign * float32(math.Sin(angle))
			}
			for h := range H {
				lower := X[(n*H+h)*HD : (n*H+h)*HD+half]
				upper := X[(n*H+h)*HD+half : (n*H+h+1)*HD]
				for i, c := range cosT {
					s := sinT[i]
					x0, x1 := lower[i], upper[i]
					lower[i] = x0*c - x1*s
					upper[i] = x1*c + x0*s
				}
			}
		}
	}
	be.elementwiseRows(N, H*HD, body)
}
