package cpu

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
)

// The fused LM head: logits, log-softmax and their gradient, chunk by chunk.
//
// Shape letters (see package compute): N tokens, C model width, V vocabulary,
// R tokens per chunk. Tensors: h, dh [N,C]; w, dw [V,C]; per chunk the scratch
// holds hc [R,C] (gathered hidden states), logits [R,V] and dhc [R,C].
//
// Only tokens with a target enter a chunk, so masked prompt and padding tokens
// cost nothing. Per chunk the three GEMMs (logits = hc·wᵀ, dhc = dlogits·w,
// dw += dlogitsᵀ·hc) thread inside BLAS (or gonum), and the softmax rows between
// them are split across be.parallelFor; the phases alternate and never nest.
// dw is accumulated by one GEMM at a time, so no two threads add into it.

// lmHeadScratchFloats bounds the [R,V] logits scratch (64 MiB): 1024 rows up
// to V = 16K, 524 at 32K, 128 at Llama 3's 128K vocabulary.
const lmHeadScratchFloats = 16 << 20

const (
	lmHeadMinRows = 16 // each chunk streams all of w through the GEMMs: amortise it
	// lmHeadMaxRows: every chunk reads and writes all of dw [V,C] in its
	// dw += dlogitsᵀ·hc GEMM, so more rows per chunk means less traffic;
	// measured at N 1024, C 256, V 8192: 1024 rows 150 GFLOP/s, 256 rows 80–125.
	lmHeadMaxRows = 1024
)

// lmHeadScratch holds TokenLogProbs' chunk buffers; they grow on demand and are
// reused across calls so the hot path does not allocate.
type lmHeadScratch struct {
	rows   int       // tokens per chunk; 0 picks from V (tests set it small)
	tok    []int     // [R] token index of each chunk row
	hc     []float32 // [R,C] gathered hidden states
	logits []float32 // [R,V] logits, then probabilities, then dlogits
	dhc    []float32 // [R,C] gradient of hc before it is scattered into dh
}

// chunkRows returns R for a vocabulary of V and N tokens.
func (s *lmHeadScratch) chunkRows(N, V int) int {
	r := s.rows
	if r == 0 {
		r = min(max(lmHeadScratchFloats/V, lmHeadMinRows), lmHeadMaxRows)
	}
	return max(min(r, N), 1)
}

func (s *lmHeadScratch) reserve(R, C, V int) {
	s.tok = grow(s.tok, R)
	s.hc = grow(s.hc, R*C)
	s.logits = grow(s.logits, R*V)
	s.dhc = grow(s.dhc, R*C)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// TokenLogProbs implements compute.Backend. It equals this reference:
//
//	for n < N with targets[n] != IgnoreIndex:
//	    z = h[n,:]·wᵀ;  p = softmax(z);  logp[n] = z[t] - log Σ_v exp(z[v])
//	    g = dlogp[n]·(onehot(t) - p)            (when dh != nil)
//	    dh[n,:] += g·w;  dw += gᵀ·h[n,:]
//
// and logp[n] = 0 for ignored tokens, which add nothing to dh or dw.
func (be *Backend) TokenLogProbs(logp []float32, dh, dw, h, w compute.Buffer, targets []int32, dlogp []float32, N, C, V int) {
	H, W := F(h), F(w)
	grad := dh != nil
	var DH, DW []float32
	if grad {
		DH, DW = F(dh), F(dw)
	}
	checkTokenLogProbs(logp, DH, DW, H, W, targets, dlogp, grad, N, C, V)

	sc := &be.lmHead
	R := sc.chunkRows(N, V)
	sc.reserve(R, C, V)
	for n := 0; n < N; {
		// Collect the next R tokens that have a target.
		cnt := 0
		for ; n < N && cnt < R; n++ {
			if targets[n] == compute.IgnoreIndex {
				logp[n] = 0
				continue
			}
			sc.tok[cnt] = n
			cnt++
		}
		if cnt > 0 {
			be.lmHeadChunk(sc, sc.tok[:cnt], logp, DH, DW, H, W, targets, dlogp, grad, C, V)
		}
	}
}

// lmHeadChunk runs the forward and, when grad, the backward of the tokens tok.
func (be *Backend) lmHeadChunk(sc *lmHeadScratch, tok []int, logp, DH, DW, H, W []float32,
	targets []int32, dlogp []float32, grad bool, C, V int) {
	R := len(tok)
	// Consecutive tokens (the common case: no mask inside the chunk) are used
	// in place; otherwise their rows are gathered into hc.
	contiguous := tok[R-1]-tok[0] == R-1
	var hc []float32
	if contiguous {
		hc = H[tok[0]*C : (tok[0]+R)*C]
	} else {
		hc = sc.hc[:R*C]
		for r, n := range tok {
			copy(hc[r*C:(r+1)*C], H[n*C:(n+1)*C])
		}
	}

	logits := sc.logits[:R*V]
	be.gemm(logits, hc, W, R, V, C, false, true, 1, 0) // [R,C]·[V,C]ᵀ

	needGrad := false
	if grad {
		for _, n := range tok {
			if dlogp[n] != 0 {
				needGrad = true
				break
			}
		}
	}
	be.parallelFor(R, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			n := tok[r]
			row := logits[r*V : (r+1)*V]
			if needGrad {
				logp[n] = logSoftmaxGrad(row, int(targets[n]), dlogp[n])
			} else {
				logp[n] = logSoftmaxAt(row, int(targets[n]))
			}
		}
	})
	if !needGrad {
		return
	}

	// dlogits now sits in logits. dh[tok] += dlogits·w, dw += dlogitsᵀ·hc.
	if contiguous {
		be.gemm(DH[tok[0]*C:(tok[0]+R)*C], logits, W, R, C, V, false, false, 1, 1)
	} else {
		dhc := sc.dhc[:R*C]
		be.gemm(dhc, logits, W, R, C, V, false, false, 1, 0)
		for r, n := range tok {
			dst, src := DH[n*C:(n+1)*C], dhc[r*C:(r+1)*C]
			for i := range dst {
				dst[i] += src[i]
			}
		}
	}
	be.gemm(DW, logits, hc, V, C, R, true, false, 1, 1) // [R,V]ᵀ·[R,C]
}

// logSoftmaxAt returns z[t] - log Σ exp(z) and overwrites z with exp(z - max z).
func logSoftmaxAt(z []float32, t int) float32 {
	zt := z[t]
	mx := maxOf(z)
	return zt - mx - float32(math.Log(expShiftedSum(z, mx)))
}

// logSoftmaxGrad returns z[t] - log Σ exp(z) and overwrites z with the
// gradient of g·logp with respect to z: g·(onehot(t) - softmax(z)).
func logSoftmaxGrad(z []float32, t int, g float32) float32 {
	zt := z[t]
	mx := maxOf(z)
	sum := expShiftedSum(z, mx)
	logp := zt - mx - float32(math.Log(sum))
	if g == 0 {
		clear(z)
		return logp
	}
	scale := float32(-float64(g) / sum)
	for i := range z {
		z[i] *= scale
	}
	z[t] += g
	return logp
}

// expShiftedSum overwrites z[i] with exp(z[i] - mx) and returns their sum in
// float64 (a float32 sum over 128K terms would lose about four digits).
func expShiftedSum(z []float32, mx float32) float64 {
	expShift(z, z, mx)
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(z); i += 4 {
		s0 += float64(z[i])
		s1 += float64(z[i+1])
		s2 += float64(z[i+2])
		s3 += float64(z[i+3])
	}
	for ; i < len(z); i++ {
		s0 += float64(z[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// maxOf returns the largest of z (−Inf for an empty z) with four
// independent running maxima, so the compares pipeline.
func maxOf(z []float32) float32 {
	m0 := float32(math.Inf(-1))
	m1, m2, m3 := m0, m0, m0
	i := 0
	for ; i+4 <= len(z); i += 4 {
		if z[i] > m0 {
			m0 = z[i]
		}
		if z[i+1] > m1 {
			m1 = z[i+1]
		}
		if z[i+2] > m2 {
			m2 = z[i+2]
		}
		if z[i+3] > m3 {
			m3 = z[i+3]
		}
	}
	for ; i < len(z); i++ {
		if z[i] > m0 {
			m0 = z[i]
		}
	}
	return max(m0, m1, m2, m3)
}

// checkTokenLogProbs panics when a buffer is shorter than its shape or a
// target is outside the vocabulary. The model validates targets and sizes
// buffers itself, so these fire only on an internal bug; they run before any
// GEMM because OpenBLAS would otherwise read and write out of bounds.
func checkTokenLogProbs(logp, DH, DW, H, W []float32, targets []int32, dlogp []float32, grad bool, N, C, V int) {
	need := func(name, shape string, got, want int) {
		if got < want {
			panic(fmt.Sprintf("cpu: TokenLogProbs: %s %s needs %d values, got %d", name, shape, want, got))
		}
	}
	need("logp", "[N]", len(logp), N)
	need("targets", "[N]", len(targets), N)
	need("h", "[N,C]", len(H), N*C)
	need("w", "[V,C]", len(W), V*C)
	if grad {
		need("dlogp", "[N]", len(dlogp), N)
		need("dh", "[N,C]", len(DH), N*C)
		need("dw", "[V,C]", len(DW), V*C)
	}
	for n, t := range targets[:N] {
		if t != compute.IgnoreIndex && (t < 0 || int(t) >= V) {
			panic(fmt.Sprintf("cpu: TokenLogProbs: targets[%d] = %d is outside the vocabulary of %d", n, t, V))
		}
	}
}
