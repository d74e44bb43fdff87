package cuda

import (
	"fmt"
	"unsafe"

	"github.com/posttrain/posttrain/compute"
)

// The fused, chunked LM head (twin: compute/cpu/logprobs.go). Shape letters:
// N tokens, C width, V vocabulary, K tokens with a target, R rows per chunk.
// Per chunk of R target tokens: gather hc [R,C] = h[tok], logits [R,V] =
// hc·wᵀ (cuBLAS), lm_logsoftmax writes logp and turns the rows into dlogits in
// place, then dh[tok] += dlogits·w and dw += dlogitsᵀ·hc (cuBLAS). No [N,V]
// buffer ever exists: at Llama 3's V = 128,256 a chunk is R = 1046 rows.

// lmScratchBytes bounds the [R,V] logits scratch.
const lmScratchBytes = 512 << 20

const lmMaxRows = 4096

// lmChunkRows is R for K target tokens and a vocabulary of V.
func lmChunkRows(K, V int) int {
	return max(1, min(K, lmMaxRows, lmScratchBytes/(4*V)))
}

// tokenScratch keeps TokenLogProbs' device buffers between calls (they are
// the size of a chunk, so they are allocated once per run).
type tokenScratch struct {
	hc, logits, dhc scratch
}

// ensure grows s to at least bytes.
func (be *Backend) ensure(s *scratch, bytes int) cuDevicePtr {
	if s.ptr != 0 && s.size >= uint64(bytes) {
		return s.ptr
	}
	be.release(*s)
	*s = be.newScratch(bytes)
	return s.ptr
}

// TokenLogProbs implements compute.Backend.
func (be *Backend) TokenLogProbs(logp []float32, dh, dw, h, w compute.Buffer, targets []int32, dlogp []float32, N, C, V int) {
	op := "TokenLogProbs"
	H, W := buf(op, "h", h), buf(op, "w", w)
	grad := dh != nil
	var DH, DW *Buf
	if grad {
		DH, DW = buf(op, "dh", dh), buf(op, "dw", dw)
	}
	checkTokenLogProbs(logp, DH, DW, H, W, targets, dlogp, grad, N, C, V)

	var tok, tgt []int32
	var dl []float32
	for n := range N {
		if targets[n] == compute.IgnoreIndex {
			logp[n] = 0
			continue
		}
		tok = append(tok, int32(n))
		tgt = append(tgt, targets[n])
		if grad {
			dl = append(dl, dlogp[n])
		}
	}
	K := len(tok)
	if K == 0 {
		return
	}
	R := lmChunkRows(K, V)
	defer be.enter()()
	dTok, dTgt, dDl := be.uploadInts(tok), be.uploadInts(tgt), be.uploadFloats(dl)
	lp := be.newScratch(K * 4)
	defer func() {
		be.release(dTok)
		be.release(dTgt)
		be.release(dDl)
		be.release(lp)
	}()
	sc := &be.tokens
	hc := be.ensure(&sc.hc, R*C*4)
	logits := be.ensure(&sc.logits, R*V*4)
	var dhc cuDevicePtr
	if grad {
		dhc = be.ensure(&sc.dhc, R*C*4)
	}
	for c0 := 0; c0 < K; c0 += R {
		r := min(R, K-c0)
		at := uint64(c0) * 4 // byte offset of this chunk in the [K] arrays
		be.run("lm_gather", d1(r), d1(rowThreads), 0, ptrArg(hc), bufArg(H), ptrArg(dTok.ptr+at), i32Arg(C))
		be.gemm(logits, hc, W.ptr, r, V, C, false, true, 1, 0)
		needGrad := false
		for _, g := range dl[min(c0, len(dl)):min(c0+r, len(dl))] {
			needGrad = needGrad || g != 0
		}
		var dlArg arg
		if needGrad {
			dlArg = ptrArg(dDl.ptr + at)
		}
		be.run("lm_logsoftmax", d1(r), d1(1024), 0, ptrArg(logits), ptrArg(lp.ptr+at), ptrArg(dTgt.ptr+at), dlArg, i32Arg(V))
		if !needGrad {
			continue
		}
		be.gemm(dhc, logits, W.ptr, r, C, V, false, false, 1, 0)
		be.run("lm_scatter_add", d1(r), d1(rowThreads), 0, bufArg(DH), ptrArg(dhc), ptrArg(dTok.ptr+at), i32Arg(C))
		be.gemm(DW.ptr, logits, hc, V, C, r, true, false, 1, 1)
	}
	host := make([]float32, K)
	be.dtoh(unsafe.Pointer(&host[0]), lp.ptr, K*4)
	for i, n := range tok {
		logp[n] = host[i]
	}
}

// checkTokenLogProbs mirrors the CPU twin's checks: buffers at least as long
// as their shapes, targets inside the vocabulary (an out-of-range target would
// be a silent out-of-bounds read on the device).
func checkTokenLogProbs(logp []float32, DH, DW, H, W *Buf, targets []int32, dlogp []float32, grad bool, N, C, V int) {
	need := func(name, shape string, got, want int) {
		if got < want {
			panic(fmt.Sprintf("cuda: TokenLogProbs: %s %s needs %d values, got %d", name, shape, want, got))
		}
	}
	need("logp", "[N]", len(logp), N)
	need("targets", "[N]", len(targets), N)
	need("h", "[N,C]", H.n, N*C)
	need("w", "[V,C]", W.n, V*C)
	if grad {
		need("dlogp", "[N]", len(dlogp), N)
		need("dh", "[N,C]", DH.n, N*C)
		need("dw", "[V,C]", DW.n, V*C)
	}
	for n, t := range targets[:N] {
		if t != compute.IgnoreIndex && (t < 0 || int(t) >= V) {
			panic(fmt.Sprintf("cuda: TokenLogProbs: targets[%d] = %d is outside the vocabulary of %d", n, t, V))
		}
	}
}
