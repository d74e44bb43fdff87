package cpu

import (
	"math"

	"github.com/posttrain/posttrain/compute"
)

// Blocked attention: the training kernels as GEMMs over causal tiles.
//
// Shape letters as in attention.go, plus P = B·NKV (b, kv head) pairs, Tb
// query tokens per tile and R = Tb·G score rows per tile. The G query heads
// of one kv head read the same keys, so their queries are gathered into
// qg [P, T·G, HD] with rows ordered (t, g): the rows of query tokens
// [t0, t1) are then contiguous and one GEMM scores them all against keys
// [0, t1) (k rows are read in place with leading dimension W). Tiles above the
// causal diagonal are never computed, which saves (nb−1)/(2·nb) of the flops
// for nb tiles per row. Between the GEMM phases a Go-parallel pass over the
// score rows applies the causal and document masks and the softmax (forward)
// or its backward; the phases alternate and never nest, so BLAS threads and
// Go workers do not fight over the cores.

const (
	// attnTileTokens is Tb: R = Tb·G rows (256 at G = 4) keep BLAS efficient
	// while still skipping most of the masked half of the score matrix.
	attnTileTokens = 64
	// attnScratchFloats bounds one score buffer (32 MiB); tiles are processed
	// in batches that fit, so long sequences do not need B·NH·T² floats.
	attnScratchFloats = 8 << 20
)

// attnTile is one GEMM-sized piece of a (b, kv head) pair: query tokens
// [t0, t1) against keys [0, t1); its [R, t1] score block starts at off.
type attnTile struct {
	b, kvh, t0, t1, off int
}

// attnBlockedScratch is the blocked kernels' working memory, reused across calls.
type attnBlockedScratch struct {
	tiles     []attnTile
	qg, dog   []float32 // [P, T·G, HD] gathered q and dout, rows (t, g)
	og        []float32 // [P, T·G, HD] out (forward) or dq (backward) before scattering
	inv       []float32 // [P, T·G] forward: 1/Σ of each row's probabilities
	s, dp     []float32 // score blocks: scores → probabilities; dP → dS
	rowBounds []int     // per tile, scratch for the parallel row pass
}

// tileTokens returns Tb (tests set be.attnTile small to exercise many tiles).
func (be *Backend) tileTokens() int {
	if be.attnTile > 0 {
		return be.attnTile
	}
	return attnTileTokens
}

// planTiles lists every tile of every pair, pair-major, each with the offset
// of its score block inside a batch; a batch ends when the next tile would
// overflow attnScratchFloats. It returns the tiles and the batch boundaries.
func (sc *attnBlockedScratch) planTiles(s compute.AttnShape, Tb int) (tiles []attnTile, batches []int, maxBatch int) {
	G := s.NH / s.NKV
	tiles = sc.tiles[:0]
	batches = sc.rowBounds[:0]
	batches = append(batches, 0)
	used := 0
	for b := range s.B {
		for kvh := range s.NKV {
			for t0 := 0; t0 < s.T; t0 += Tb {
				t1 := min(t0+Tb, s.T)
				size := (t1 - t0) * G * t1
				if used > 0 && used+size > attnScratchFloats {
					batches = append(batches, len(tiles))
					used = 0
				}
				tiles = append(tiles, attnTile{b: b, kvh: kvh, t0: t0, t1: t1, off: used})
				used += size
				maxBatch = max(maxBatch, used)
			}
		}
	}
	batches = append(batches, len(tiles))
	sc.tiles, sc.rowBounds = tiles, batches
	return tiles, batches, maxBatch
}

// gatherHeads copies src [B, T, NH, HD] into dst [P, T·G, HD] (rows (t, g) of
// pair b·NKV+kvh); scatterHeads is its inverse.
func gatherHeads(dst, src []float32, s compute.AttnShape) {
	G := s.NH / s.NKV
	span := G * s.HD
	for b := range s.B {
		for t := range s.T {
			for kvh := range s.NKV {
				at := ((b*s.NKV+kvh)*s.T + t) * span
				from := ((b*s.T+t)*s.NH + kvh*G) * s.HD
				copy(dst[at:at+span], src[from:from+span])
			}
		}
	}
}

func scatterHeads(dst, src []float32, s compute.AttnShape) {
	G := s.NH / s.NKV
	span := G * s.HD
	for b := range s.B {
		for t := range s.T {
			for kvh := range s.NKV {
				at := ((b*s.NKV+kvh)*s.T + t) * span
				to := ((b*s.T+t)*s.NH + kvh*G) * s.HD
				copy(dst[to:to+span], src[at:at+span])
			}
		}
	}
}

// attentionBlocked is Attention's implementation (see Attention for the
// reference loop it equals).
func (be *Backend) attentionBlocked(O, L, Q, K, V []float32, docs []int32, s compute.AttnShape) {
	B, T, NH, NKV, HD := s.B, s.T, s.NH, s.NKV, s.HD
	G, W := NH/NKV, NKV*HD
	scale := attnScale(HD)
	sc := &be.attn
	tiles, batches, maxBatch := sc.planTiles(s, be.tileTokens())
	sc.qg = grow(sc.qg, len(Q))
	rows := B * NH * T
	sc.og = grow(sc.og, (rows+attnScaleRows)*HD)
	sc.inv = grow(sc.inv, (rows+attnScaleRows-1)/attnScaleRows*attnScaleRows)
	sc.s = grow(sc.s, maxBatch)
	gatherHeads(sc.qg, Q, s)

	for bi := 0; bi+1 < len(batches); bi++ {
		batch := tiles[batches[bi]:batches[bi+1]]
		for _, tl := range batch {
			R, p := (tl.t1-tl.t0)*G, tl.b*NKV+tl.kvh
			qi := sc.qg[(p*T+tl.t0)*G*HD:]
			be.gemmLD(sc.s[tl.off:], qi, K[tl.b*T*W+tl.kvh*HD:], R, tl.t1, HD, false, true, scale, HD, W, 0, tl.t1)
		}
		be.forEachDynamic(len(batch), func(i int) {
			tl := batch[i]
			R, p := (tl.t1-tl.t0)*G, tl.b*NKV+tl.kvh
			for r := range R {
				t, h := tl.t0+r/G, tl.kvh*G+r%G
				row := sc.s[tl.off+r*tl.t1 : tl.off+(r+1)*tl.t1]
				L[(tl.b*NH+h)*T+t], sc.inv[(p*T+tl.t0)*G+r] = softmaxCausalRow(row, docs, tl.b, T, t)
			}
		})
		for _, tl := range batch {
			R, p := (tl.t1-tl.t0)*G, tl.b*NKV+tl.kvh
			oi := sc.og[(p*T+tl.t0)*G*HD:]
			be.gemmLD(oi, sc.s[tl.off:], V[tl.b*T*W+tl.kvh*HD:], R, HD, tl.t1, false, false, 1, tl.t1, W, 0, HD)
		}
	}
	// Normalise each output row by its 1/Σ (HD values instead of t+1).
	be.forEachDynamic(len(sc.inv)/attnScaleRows, func(i int) {
		for r := i * attnScaleRows; r < (i+1)*attnScaleRows; r++ {
			row := sc.og[r*HD : (r+1)*HD]
			inv := sc.inv[r]
			for d := range row {
				row[d] *= inv
			}
		}
	})
	scatterHeads(O, sc.og, s)
}

// attnScaleRows is the number of output rows one worker normalises at a time;
// attentionBlocked pads og and inv to a multiple of it (the padding rows are
// scaled but never scattered).
const attnScaleRows = 64

// softmaxCausalRow turns the scores z[0:t1] of query t into unnormalised
// probabilities e^(z[j]−max) over the keys it may see (j ≤ t in its document;
// every other entry becomes 0, as the following GEMM reads the whole row). It
// returns the log-sum-exp of the scores and 1/Σ, by which the caller scales
// the output row instead of normalising t+1 probabilities.
func softmaxCausalRow(z []float32, docs []int32, b, T, t int) (lse, inv float32) {
	var row []int32
	if docs != nil {
		row = docs[b*T : (b+1)*T]
	}
	var m float32
	if row == nil {
		m = maxOf(z[:t+1])
	} else {
		m = float32(math.Inf(-1))
		for j := 0; j <= t; j++ {
			if row[j] == row[t] && z[j] > m {
				m = z[j]
			}
		}
	}
	expShift(z[:t+1], z[:t+1], m)
	if row != nil {
		for j := 0; j <= t; j++ {
			if row[j] != row[t] {
				z[j] = 0
			}
		}
	}
	clear(z[t+1:])
	sum := sum32(z[:t+1])
	return m + float32(math.Log(float64(sum))), 1 / sum
}

// attentionBackwardBlocked is AttentionBackward's implementation. Per tile,
// with S = scale·Q_i·Kᵀ recomputed and P = exp(S − lse):
//
//	dP = dO_i·Vᵀ    dS = P∘(dP − D)·scale    (D = rowwise dout·out)
//	dQ_i = dS·K     dK += dSᵀ·Q_i             dV += Pᵀ·dO_i
func (be *Backend) attentionBackwardBlocked(dQ, dK, dV, dO, O, L, Q, K, V []float32, docs []int32, s compute.AttnShape) {
	T, NH, NKV, HD := s.T, s.NH, s.NKV, s.HD
	G, W := NH/NKV, NKV*HD
	scale := attnScale(HD)
	sc := &be.attn
	tiles, batches, maxBatch := sc.planTiles(s, be.tileTokens())
	sc.qg = grow(sc.qg, len(Q))
	sc.dog = grow(sc.dog, len(Q))
	sc.og = grow(sc.og, len(Q))
	sc.s = grow(sc.s, maxBatch)
	sc.dp = grow(sc.dp, maxBatch)
	gatherHeads(sc.qg, Q, s)
	gatherHeads(sc.dog, dO, s)
	clear(dK)
	clear(dV)

	for bi := 0; bi+1 < len(batches); bi++ {
		batch := tiles[batches[bi]:batches[bi+1]]
		for _, tl := range batch {
			R, p := (tl.t1-tl.t0)*G, tl.b*NKV+tl.kvh
			kv := tl.b*T*W + tl.kvh*HD
			at := (p*T + tl.t0) * G * HD
			be.gemmLD(sc.s[tl.off:], sc.qg[at:], K[kv:], R, tl.t1, HD, false, true, scale, HD, W, 0, tl.t1)
			be.gemmLD(sc.dp[tl.off:], sc.dog[at:], V[kv:], R, tl.t1, HD, false, true, 1, HD, W, 0, tl.t1)
		}
		be.forEachDynamic(len(batch), func(i int) {
			tl := batch[i]
			R := (tl.t1 - tl.t0) * G
			for r := range R {
				t, h := tl.t0+r/G, tl.kvh*G+r%G
				orow := ((tl.b*T+t)*NH + h) * HD
				D := dotHD(dO[orow:orow+HD], O[orow:orow+HD])
				lo, hi := tl.off+r*tl.t1, tl.off+(r+1)*tl.t1
				softmaxBackwardRow(sc.s[lo:hi], sc.dp[lo:hi], docs, tl.b, T, t, L[(tl.b*NH+h)*T+t], D, scale)
			}
		})
		for _, tl := range batch {
			R, p := (tl.t1-tl.t0)*G, tl.b*NKV+tl.kvh
			kv := tl.b*T*W + tl.kvh*HD
			at := (p*T + tl.t0) * G * HD
			be.gemmLD(sc.og[at:], sc.dp[tl.off:], K[kv:], R, HD, tl.t1, false, false, 1, tl.t1, W, 0, HD)
			be.gemmLD(dK[kv:], sc.dp[tl.off:], sc.qg[at:], tl.t1, HD, R, true, false, 1, tl.t1, HD, 1, W)
			be.gemmLD(dV[kv:], sc.s[tl.off:], sc.dog[at:], tl.t1, HD, R, true, false, 1, tl.t1, HD, 1, W)
		}
	}
	scatterHeads(dQ, sc.og, s)
}

// sum32 returns Σ x[i] with four independent float32 accumulators.
func sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i]
		s1 += x[i+1]
		s2 += x[i+2]
		s3 += x[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// softmaxBackwardRow recomputes query t's probabilities p[j] = exp(s[j] − lse)
// into s and overwrites dp[j] with dS[j] = p[j]·(dp[j] − D)·scale, both 0 for
// keys the query may not see.
func softmaxBackwardRow(s, dp []float32, docs []int32, b, T, t int, lse, D, scale float32) {
	var row []int32
	if docs != nil {
		row = docs[b*T : (b+1)*T]
	}
	expShift(s[:t+1], s[:t+1], lse)
	for j := 0; j <= t; j++ {
		if row != nil && row[j] != row[t] {
			s[j], dp[j] = 0, 0
			continue
		}
		dp[j] = s[j] * (dp[j] - D) * scale
	}
	clear(s[t+1:])
	clear(dp[t+1:])
}
