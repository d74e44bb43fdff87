package cuda

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
)

// Causal grouped-query attention (kernels/attention.cu). Shapes as in package
// compute: q, out [B,T,NH,HD]; k, v [B,T,NKV,HD]; lse [B,NH,T]; caches
// [B,MaxT,NKV,HD].

// Tiling constants shared with kernels/attention.cu.
const (
	attWarps   = 8 // ATT_WARPS: queries (keys in dk/dv) per block
	attTile    = 32
	attMaxHD   = 32 * 8 // 32·ATT_MAXD
	attThreads = 32 * attWarps
)

// attnSmem is the dynamic shared memory of attn_fwd and attn_bwd_dq in bytes.
func attnSmem(HD int) int { return (2*attTile*(HD+1) + 2*attWarps*HD + attTile) * 4 }

// attnDKDVSmem is attn_bwd_dkdv's.
func attnDKDVSmem(HD int) int { return (2*attTile*(HD+1) + 2*attWarps*HD + 3*attTile) * 4 }

func attnScale(HD int) float32 { return float32(1 / math.Sqrt(float64(HD))) }

// Attention implements compute.Backend (overwrites out and lse).
func (be *Backend) Attention(out, lse, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	op := "Attention"
	O, L, Q, K, V := buf(op, "out", out), buf(op, "lse", lse), buf(op, "q", q), buf(op, "k", k), buf(op, "v", v)
	checkAttention(op, s, docs, Q.n, K.n, V.n, L.n)
	mustHaveLen(op, "out", "B·T·NH·HD", O.n, Q.n)
	defer be.enter()()
	dd := be.uploadInts(docs)
	defer be.release(dd)
	grid := dim3{(s.T + attWarps - 1) / attWarps, s.NH, s.B}
	be.run("attn_fwd", grid, d1(attThreads), attnSmem(s.HD),
		bufArg(O), bufArg(L), bufArg(Q), bufArg(K), bufArg(V), ptrArg(dd.ptr), ptrArg(0),
		i32Arg(s.T), i32Arg(s.T), i32Arg(s.NH), i32Arg(s.NKV), i32Arg(s.HD), f32Arg(attnScale(s.HD)))
}

// AttentionBackward implements compute.Backend (overwrites dq, dk, dv): first
// D = rowsum(dout∘out), then dq with one warp per query and dk, dv with one
// warp per key, so neither needs atomics.
func (be *Backend) AttentionBackward(dq, dk, dv, dout, out, lse, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	op := "AttentionBackward"
	dQ, dK, dV, dO, O := buf(op, "dq", dq), buf(op, "dk", dk), buf(op, "dv", dv), buf(op, "dout", dout), buf(op, "out", out)
	L, Q, K, V := buf(op, "lse", lse), buf(op, "q", q), buf(op, "k", k), buf(op, "v", v)
	checkAttention(op, s, docs, Q.n, K.n, V.n, L.n)
	mustHaveLen(op, "dq", "B·T·NH·HD", dQ.n, Q.n)
	mustHaveLen(op, "dout", "B·T·NH·HD", dO.n, Q.n)
	mustHaveLen(op, "out", "B·T·NH·HD", O.n, Q.n)
	mustHaveLen(op, "dk", "B·T·NKV·HD", dK.n, K.n)
	mustHaveLen(op, "dv", "B·T·NKV·HD", dV.n, V.n)
	defer be.enter()()
	dd := be.uploadInts(docs)
	defer be.release(dd)
	dsum := be.newScratch(L.n * 4) // D [B,NH,T]
	defer be.release(dsum)
	rows := s.B * s.T * s.NH
	be.run("attn_bwd_dsum", d1((rows+attWarps-1)/attWarps), d1(attThreads), 0,
		ptrArg(dsum.ptr), bufArg(dO), bufArg(O), i32Arg(s.B), i32Arg(s.T), i32Arg(s.NH), i32Arg(s.HD))
	scale := attnScale(s.HD)
	be.run("attn_bwd_dq", dim3{(s.T + attWarps - 1) / attWarps, s.NH, s.B}, d1(attThreads), attnSmem(s.HD),
		bufArg(dQ), bufArg(dO), bufArg(L), ptrArg(dsum.ptr), bufArg(Q), bufArg(K), bufArg(V), ptrArg(dd.ptr),
		i32Arg(s.T), i32Arg(s.NH), i32Arg(s.NKV), i32Arg(s.HD), f32Arg(scale))
	be.run("attn_bwd_dkdv", dim3{(s.T + attWarps - 1) / attWarps, s.NKV, s.B}, d1(attThreads), attnDKDVSmem(s.HD),
		bufArg(dK), bufArg(dV), bufArg(dO), bufArg(L), ptrArg(dsum.ptr), bufArg(Q), bufArg(K), bufArg(V), ptrArg(dd.ptr),
		i32Arg(s.T), i32Arg(s.NH), i32Arg(s.NKV), i32Arg(s.HD), f32Arg(scale))
}

// KVCacheWrite implements compute.Backend: cache [B,MaxT,W] rows
// start[b]..start[b]+Tq-1 receive src [B,Tq,W].
func (be *Backend) KVCacheWrite(cache, src compute.Buffer, start []int32, B, Tq, MaxT, W int) {
	op := "KVCacheWrite"
	C, S := buf(op, "cache", cache), buf(op, "src", src)
	mustHaveLen(op, "cache", "B·MaxT·W", C.n, B*MaxT*W)
	mustHaveLen(op, "src", "B·Tq·W", S.n, B*Tq*W)
	mustHaveLen(op, "start", "B", len(start), B)
	for b := range B {
		checkCacheRange(op, b, int(start[b]), Tq, MaxT)
	}
	if S.n == 0 {
		return
	}
	defer be.enter()()
	st := be.uploadInts(start)
	defer be.release(st)
	be.run("kv_cache_write", d1(gridFor(S.n, elemThreads)), d1(elemThreads), 0,
		bufArg(C), bufArg(S), ptrArg(st.ptr), i32Arg(B), i32Arg(Tq), i32Arg(MaxT), i32Arg(W))
}

// AttentionCached implements compute.Backend: attn_fwd over the cache, query t
// of row b at position start[b]+t, no lse.
func (be *Backend) AttentionCached(out, q, kCache, vCache compute.Buffer, start []int32, s compute.CacheShape) {
	op := "AttentionCached"
	O, Q, K, V := buf(op, "out", out), buf(op, "q", q), buf(op, "kCache", kCache), buf(op, "vCache", vCache)
	checkHeads(op, s.NH, s.NKV, s.HD)
	mustHaveLen(op, "q", "B·Tq·NH·HD", Q.n, s.B*s.Tq*s.NH*s.HD)
	mustHaveLen(op, "out", "B·Tq·NH·HD", O.n, s.B*s.Tq*s.NH*s.HD)
	mustHaveLen(op, "kCache", "B·MaxT·NKV·HD", K.n, s.B*s.MaxT*s.NKV*s.HD)
	mustHaveLen(op, "vCache", "B·MaxT·NKV·HD", V.n, s.B*s.MaxT*s.NKV*s.HD)
	mustHaveLen(op, "start", "B", len(start), s.B)
	for b := range s.B {
		checkCacheRange(op, b, int(start[b]), s.Tq, s.MaxT)
	}
	if s.B == 0 || s.Tq == 0 {
		return
	}
	defer be.enter()()
	st := be.uploadInts(start)
	defer be.release(st)
	grid := dim3{(s.Tq + attWarps - 1) / attWarps, s.NH, s.B}
	be.run("attn_fwd", grid, d1(attThreads), attnSmem(s.HD),
		bufArg(O), ptrArg(0), bufArg(Q), bufArg(K), bufArg(V), ptrArg(0), ptrArg(st.ptr),
		i32Arg(s.Tq), i32Arg(s.MaxT), i32Arg(s.NH), i32Arg(s.NKV), i32Arg(s.HD), f32Arg(attnScale(s.HD)))
}

func checkHeads(op string, NH, NKV, HD int) {
	if NH <= 0 || NKV <= 0 || HD <= 0 || NH%NKV != 0 {
		panic(fmt.Sprintf("cuda.%s: NH=%d, NKV=%d, HD=%d: want positive sizes with NH a multiple of NKV", op, NH, NKV, HD))
	}
	if HD > attMaxHD {
		panic(fmt.Sprintf("cuda.%s: head dimension %d is above the kernels' limit of %d", op, HD, attMaxHD))
	}
}

func checkCacheRange(op string, b, start, Tq, MaxT int) {
	if start < 0 || start+Tq > MaxT {
		panic(fmt.Sprintf("cuda.%s: row %d writes positions %d..%d, outside the cache [0, %d)", op, b, start, start+Tq-1, MaxT))
	}
}

func checkAttention(op string, s compute.AttnShape, docs []int32, nQ, nK, nV, nLSE int) {
	checkHeads(op, s.NH, s.NKV, s.HD)
	mustHaveLen(op, "q", "B·T·NH·HD", nQ, s.B*s.T*s.NH*s.HD)
	mustHaveLen(op, "k", "B·T·NKV·HD", nK, s.B*s.T*s.NKV*s.HD)
	mustHaveLen(op, "v", "B·T·NKV·HD", nV, s.B*s.T*s.NKV*s.HD)
	mustHaveLen(op, "lse", "B·NH·T", nLSE, s.B*s.NH*s.T)
	if docs != nil {
		mustHaveLen(op, "docs", "B·T", len(docs), s.B*s.T)
	}
}
