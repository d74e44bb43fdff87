package cpu

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas/gonum"

	"github.com/posttrain/posttrain/compute"
)

// Causal grouped-query attention, forward and backward, and its KV-cache twin.
//
// Shape letters (see package compute): B rows, T tokens per row, NH query
// heads, NKV key/value heads, HD head dimension, G = NH/NKV query heads per
// kv head, W = NKV·HD the width of one token's keys. Query head h reads kv
// head h/G. Tensors: q, out [B, T, NH, HD]; k, v [B, T, NKV, HD]; lse [B, NH, T].
//
// The training kernels (attention_blocked.go) score causal tiles with GEMMs;
// no full [T, T] score matrix is kept between calls. The forward saves lse
// (the log-sum-exp of each query's scores) and the backward recomputes the
// probabilities as P = exp(s − lse). The cached (decoding) kernel works one
// query at a time with level-1 routines.

// Attention implements compute.Backend. It equals this reference loop:
//
//	for b, h, i:
//	    s[j] = (q[b,i,h,:]·k[b,j,h/G,:])·scale   for j ≤ i with docs[b·T+j] == docs[b·T+i]
//	    lse[b,h,i] = log Σ_j exp(s[j])
//	    out[b,i,h,:] = Σ_j exp(s[j] − lse[b,h,i])·v[b,j,h/G,:]
//
// The work is done by attentionBlocked as GEMMs over causal tiles.
func (be *Backend) Attention(out, lse, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	O, L, Q, K, V := F(out), F(lse), F(q), F(k), F(v)
	checkAttention("Attention", s, docs, len(Q), len(K), len(V), len(L))
	mustHaveLen("Attention", "out", "B·T·NH·HD", len(O), len(Q))
	be.attentionBlocked(O, L, Q, K, V, docs, s)
}

// AttentionBackward implements compute.Backend: it overwrites dq, dk, dv.
// With P[j] = exp(s[j] − lse) recomputed, D = dout_i·out_i and
// dS[j] = P[j]·(dout_i·v_j − D):
//
//	dq_i += scale·Σ_j dS[j]·k_j    dk_j += scale·dS[j]·q_i    dv_j += P[j]·dout_i
//
// dk and dv of a kv head sum over its G query heads; attentionBackwardBlocked
// forms all three as GEMMs over causal tiles.
func (be *Backend) AttentionBackward(dq, dk, dv, dout, out, lse, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	dQ, dK, dV, dO, O, L, Q, K, V := F(dq), F(dk), F(dv), F(dout), F(out), F(lse), F(q), F(k), F(v)
	checkAttention("AttentionBackward", s, docs, len(Q), len(K), len(V), len(L))
	mustHaveLen("AttentionBackward", "dq", "B·T·NH·HD", len(dQ), len(Q))
	mustHaveLen("AttentionBackward", "dout", "B·T·NH·HD", len(dO), len(Q))
	mustHaveLen("AttentionBackward", "out", "B·T·NH·HD", len(O), len(Q))
	mustHaveLen("AttentionBackward", "dk", "B·T·NKV·HD", len(dK), len(K))
	mustHaveLen("AttentionBackward", "dv", "B·T·NKV·HD", len(dV), len(V))
	be.attentionBackwardBlocked(dQ, dK, dV, dO, O, L, Q, K, V, docs, s)
}

// KVCacheWrite implements compute.Backend: cache [B, MaxT, W] rows
// start[b]..start[b]+Tq-1 receive src [B, Tq, W].
func (be *Backend) KVCacheWrite(cache, src compute.Buffer, start []int32, B, Tq, MaxT, W int) {
	C, S := F(cache), F(src)
	mustHaveLen("KVCacheWrite", "cache", "B·MaxT·W", len(C), B*MaxT*W)
	mustHaveLen("KVCacheWrite", "src", "B·Tq·W", len(S), B*Tq*W)
	mustHaveLen("KVCacheWrite", "start", "B", len(start), B)
	for b := range B {
		checkCacheRange("KVCacheWrite", b, int(start[b]), Tq, MaxT)
		at := (b*MaxT + int(start[b])) * W
		copy(C[at:at+Tq*W], S[b*Tq*W:(b+1)*Tq*W])
	}
}

// AttentionCached implements compute.Backend for decoding and chunked prefill:
// query t of row b (q [B, Tq, NH, HD]) sits at cache position p = start[b]+t and
// attends to cache positions 0..p of kCache, vCache [B, MaxT, NKV, HD], which
// must already hold the keys and values of the new tokens (KVCacheWrite first).
func (be *Backend) AttentionCached(out, q, kCache, vCache compute.Buffer, start []int32, s compute.CacheShape) {
	O, Q, K, V := F(out), F(q), F(kCache), F(vCache)
	B, Tq, MaxT, NH, NKV, HD := s.B, s.Tq, s.MaxT, s.NH, s.NKV, s.HD
	checkHeads("AttentionCached", NH, NKV, HD)
	mustHaveLen("AttentionCached", "q", "B·Tq·NH·HD", len(Q), B*Tq*NH*HD)
	mustHaveLen("AttentionCached", "out", "B·Tq·NH·HD", len(O), B*Tq*NH*HD)
	mustHaveLen("AttentionCached", "kCache", "B·MaxT·NKV·HD", len(K), B*MaxT*NKV*HD)
	mustHaveLen("AttentionCached", "vCache", "B·MaxT·NKV·HD", len(V), B*MaxT*NKV*HD)
	mustHaveLen("AttentionCached", "start", "B", len(start), B)
	for b := range B {
		checkCacheRange("AttentionCached", b, int(start[b]), Tq, MaxT)
	}
	G, W := NH/NKV, NKV*HD
	scale := attnScale(HD)
	be.forEachInterleaved(B*NKV*Tq, func(sc *attnScratch, item int) {
		t, kvh, b := item%Tq, (item/Tq)%NKV, item/(Tq*NKV)
		p := int(start[b]) + t
		sc.reserve(p+1, HD)
		keys := sc.keys[:0]
		for j := range p + 1 {
			keys = append(keys, int32(j))
		}
		kv := kvRows{k: K[b*MaxT*W+kvh*HD:], v: V[b*MaxT*W+kvh*HD:], stride: W, hd: HD}
		for h := kvh * G; h < (kvh+1)*G; h++ {
			row := ((b*Tq+t)*NH + h) * HD
			attendOne(O[row:row+HD], Q[row:row+HD], kv, keys, scale, sc)
		}
	})
}

// kvRows addresses one kv head of one batch row: key j is k[j·stride : j·stride+hd].
type kvRows struct {
	k, v       []float32
	stride, hd int
}

// attendOne writes out [HD] = softmax(scale·q·Kᵀ)·V over the listed keys and
// returns the log-sum-exp of the scores. Two passes: scores and their max,
// then exponentials accumulated into a float32 [HD] row.
func attendOne(out, q []float32, kv kvRows, keys []int32, scale float32, sc *attnScratch) float32 {
	scores := sc.scores[:len(keys)]
	m := float32(math.Inf(-1))
	for n, j := range keys {
		at := int(j) * kv.stride
		x := dotHD(q, kv.k[at:at+kv.hd]) * scale
		scores[n] = x
		m = max(m, x)
	}
	expShift(scores, scores, m)
	acc := sc.acc
	clear(acc)
	var sum float32
	for n, j := range keys {
		p := scores[n]
		sum += p
		at := int(j) * kv.stride
		axpyHD(acc, p, kv.v[at:at+kv.hd])
	}
	inv := 1 / sum
	for d := range out {
		out[d] = acc[d] * inv
	}
	return m + float32(math.Log(float64(sum)))
}

func attnScale(HD int) float32 { return float32(1 / math.Sqrt(float64(HD))) }

// attnScratch is per-goroutine working memory for the attention kernels,
// reused across calls through attnScratchPool and grown on demand, so a
// training step does not allocate per query.
type attnScratch struct {
	keys   []int32   // key positions one query may attend to, ≤ T
	scores []float32 // one score per entry of keys
	acc    []float32 // [HD] float32 accumulator
}

var attnScratchPool = sync.Pool{New: func() any { return new(attnScratch) }}

// reserve makes room for nKeys keys and a head of width hd.
func (sc *attnScratch) reserve(nKeys, hd int) {
	if cap(sc.keys) < nKeys {
		sc.keys = make([]int32, 0, nKeys)
		sc.scores = make([]float32, nKeys)
	}
	if cap(sc.acc) < hd {
		sc.acc = make([]float32, hd)
	}
	sc.acc = sc.acc[:hd]
}

// causalKeys lists the keys query i of row b may see: j ≤ i in the same
// document (docs nil: every j ≤ i). Documents need not be contiguous.
func (sc *attnScratch) causalKeys(docs []int32, b, T, i int) []int32 {
	keys := sc.keys[:0]
	if docs == nil {
		for j := range i + 1 {
			keys = append(keys, int32(j))
		}
		return keys
	}
	row := docs[b*T : (b+1)*T]
	d := row[i]
	for j := range i + 1 {
		if row[j] == d {
			keys = append(keys, int32(j))
		}
	}
	return keys
}

// forEachInterleaved calls body(sc, item) for every item in [0, n); worker w
// of W takes items w, w+W, w+2W, ... so that work growing with the item index
// spreads evenly. Each worker owns one scratch for its whole run.
func (be *Backend) forEachInterleaved(n int, body func(sc *attnScratch, item int)) {
	w := min(max(be.workers, 1), n)
	run := func(worker int) {
		sc := attnScratchPool.Get().(*attnScratch)
		defer attnScratchPool.Put(sc)
		for item := worker; item < n; item += w {
			body(sc, item)
		}
	}
	if w <= 1 {
		if n > 0 {
			run(0)
		}
		return
	}
	be.parallelFor(w, func(lo, hi int) {
		for worker := lo; worker < hi; worker++ {
			run(worker)
		}
	})
}

// dotHD returns Σ a[i]·b[i] over len(a). gonum's level-1 routines run SIMD
// assembly on amd64 and arm64 (about 3× a scalar Go loop at HD = 32) and
// fall back to Go loops elsewhere.
func dotHD(a, b []float32) float32 { return level1.Sdot(len(a), a, 1, b, 1) }

// axpyHD computes y[i] += alpha·x[i] over len(y).
func axpyHD(y []float32, alpha float32, x []float32) { level1.Saxpy(len(y), alpha, x, 1, y, 1) }

var level1 gonum.Implementation

func checkHeads(op string, NH, NKV, HD int) {
	if NH <= 0 || NKV <= 0 || HD <= 0 || NH%NKV != 0 {
		panic(fmt.Sprintf("cpu.%s: NH=%d, NKV=%d, HD=%d: want positive sizes with NH a multiple of NKV", op, NH, NKV, HD))
	}
}

func checkCacheRange(op string, b, start, Tq, MaxT int) {
	if start < 0 || start+Tq > MaxT {
		panic(fmt.Sprintf("cpu.%s: row %d writes positions %d..%d, outside the cache [0, %d)", op, b, start, start+Tq-1, MaxT))
	}
}

// checkAttention validates the shapes shared by the forward and the backward:
// q [B,T,NH,HD], k and v [B,T,NKV,HD], lse [B,NH,T], docs nil or [B·T].
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
