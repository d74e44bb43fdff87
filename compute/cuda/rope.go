package cuda

import (
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

// RoPE implements compute.Backend: x [N,H,HD] rotates in place (rotate-half).
func (be *Backend) RoPE(x compute.Buffer, pos []int32, invFreq []float32, N, H, HD int) {
	be.rope("RoPE", x, pos, invFreq, N, H, HD, 1)
}

// RoPEBackward implements compute.Backend: the inverse rotation of dx.
func (be *Backend) RoPEBackward(dx compute.Buffer, pos []int32, invFreq []float32, N, H, HD int) {
	be.rope("RoPEBackward", dx, pos, invFreq, N, H, HD, -1)
}

func (be *Backend) rope(op string, x compute.Buffer, pos []int32, invFreq []float32, N, H, HD int, sign float32) {
	X := buf(op, "x", x)
	if N < 0 || H <= 0 || HD <= 0 || HD%2 != 0 {
		panic(fmt.Sprintf("cuda.%s: N=%d, H=%d, HD=%d: want positive sizes and an even head dimension", op, N, H, HD))
	}
	mustHaveLen(op, "x", "N·H·HD", X.n, N*H*HD)
	mustHaveLen(op, "pos", "N", len(pos), N)
	mustHaveLen(op, "invFreq", "HD/2", len(invFreq), HD/2)
	if N == 0 {
		return
	}
	defer be.enter()()
	p, f := be.uploadInts(pos), be.uploadFloats(invFreq)
	defer be.release(p)
	defer be.release(f)
	be.run("rope", d1(gridFor(N*HD/2, elemThreads)), d1(elemThreads), 0,
		bufArg(X), ptrArg(p.ptr), ptrArg(f.ptr), i32Arg(N), i32Arg(H), i32Arg(HD), f32Arg(sign))
}
