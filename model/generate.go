package model

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/posttrain/posttrain/compute"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	SamplingOptions
	MaxNewTokens int
	Seed         uint64
	// StopTokens end a row when generated (the stop token is kept in the output).
	StopTokens []int32
	// Timing, when set, receives how long prefill and decoding took.
	Timing *GenerateTiming
}

// GenerateTiming splits a Generate call's wall time (benchmarks report both).
type GenerateTiming struct {
	Prefill, Decode time.Duration
	DecodeSteps     int // cached single-token forward passes
}

// kvCache holds one layer's keys and values for B rows of up to MaxT positions.
type kvCache struct {
	k, v []compute.Buffer // per layer: (B, MaxT, KVD)
	B    int
	MaxT int
}

// decodeActs is the scratch of a cached forward pass over Tq new tokens per row.
type decodeActs struct {
	x, ln         compute.Buffer // (B·Tq, C)
	q, att        compute.Buffer // (B·Tq, QD)
	k, v          compute.Buffer // (B·Tq, KVD)
	gate, up, act compute.Buffer // (B·Tq, F)
	rstd          compute.Buffer // (B·Tq)
	last          compute.Buffer // (B, C) the rows whose next token is wanted
	logits        compute.Buffer // (B, V)
}

func (m *Model) newDecodeActs(B, Tq int) *decodeActs {
	cfg, be := m.Config, m.be
	N, C, F := B*Tq, cfg.HiddenSize, cfg.IntermediateSize
	QD := cfg.NumAttentionHeads * cfg.HeadDimension()
	KVD := cfg.NumKeyValueHeads * cfg.HeadDimension()
	return &decodeActs{
		x: be.Alloc(N * C), ln: be.Alloc(N * C), q: be.Alloc(N * QD), att: be.Alloc(N * QD),
		k: be.Alloc(N * KVD), v: be.Alloc(N * KVD), gate: be.Alloc(N * F), up: be.Alloc(N * F),
		act: be.Alloc(N * F), rstd: be.Alloc(N), last: be.Alloc(B * C), logits: be.Alloc(B * cfg.VocabSize),
	}
}

// view returns d's buffers cut to B·Tq tokens.
func (d *decodeActs) view(be compute.Backend, cfg *Config, B, Tq int) *decodeActs {
	N, C, F := B*Tq, cfg.HiddenSize, cfg.IntermediateSize
	QD := cfg.NumAttentionHeads * cfg.HeadDimension()
	KVD := cfg.NumKeyValueHeads * cfg.HeadDimension()
	return &decodeActs{
		x: be.View(d.x, 0, N*C), ln: be.View(d.ln, 0, N*C), q: be.View(d.q, 0, N*QD), att: be.View(d.att, 0, N*QD),
		k: be.View(d.k, 0, N*KVD), v: be.View(d.v, 0, N*KVD), gate: be.View(d.gate, 0, N*F), up: be.View(d.up, 0, N*F),
		act: be.View(d.act, 0, N*F), rstd: be.View(d.rstd, 0, N), last: d.last, logits: d.logits,
	}
}

// forwardCached runs Tq new tokens per row through the model against the KV
// cache, row b's tokens sitting at positions start[b]..start[b]+Tq-1, and
// writes into d.logits (B, V) the logits at each row's offset pick[b] (0 ≤ pick[b] < Tq).
func (m *Model) forwardCached(cache *kvCache, d *decodeActs, ids []int32, start []int32, Tq int, pick []int) {
	be, cfg := m.be, m.Config
	B, C, F, V := cache.B, cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	N := B * Tq
	NH, NKV, HD := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDimension()
	QD, KVD := NH*HD, NKV*HD
	eps := float32(cfg.RMSNormEps)
	pos := make([]int32, N)
	for b := 0; b < B; b++ {
		for t := 0; t < Tq; t++ {
			pos[b*Tq+t] = start[b] + int32(t)
		}
	}
	be.Embedding(d.x, m.Params.Embed, ids, C)
	shape := compute.CacheShape{B: B, Tq: Tq, MaxT: cache.MaxT, NH: NH, NKV: NKV, HD: HD}
	for l := range m.Params.Layers {
		w := &m.Params.Layers[l]
		be.RMSNorm(d.ln, d.rstd, d.x, w.AttnNorm, N, C, eps)
		m.project(l, "q_proj", d.q, d.ln, w.Q, N, QD, C)
		m.project(l, "k_proj", d.k, d.ln, w.K, N, KVD, C)
		m.project(l, "v_proj", d.v, d.ln, w.V, N, KVD, C)
		be.RoPE(d.q, pos, m.invFreq, N, NH, HD)
		be.RoPE(d.k, pos, m.invFreq, N, NKV, HD)
		be.KVCacheWrite(cache.k[l], d.k, start, B, Tq, cache.MaxT, KVD)
		be.KVCacheWrite(cache.v[l], d.v, start, B, Tq, cache.MaxT, KVD)
		be.AttentionCached(d.att, d.q, cache.k[l], cache.v[l], start, shape)
		m.project(l, "o_proj", d.ln, d.att, w.O, N, C, QD) // d.ln is free again
		be.Add(d.x, d.ln)
		be.RMSNorm(d.ln, d.rstd, d.x, w.MLPNorm, N, C, eps)
		m.project(l, "gate_proj", d.gate, d.ln, w.Gate, N, F, C)
		m.project(l, "up_proj", d.up, d.ln, w.Up, N, F, C)
		be.SwiGLU(d.act, d.gate, d.up)
		m.project(l, "down_proj", d.ln, d.act, w.Down, N, C, F)
		be.Add(d.x, d.ln)
	}
	for b := 0; b < B; b++ {
		be.Copy(be.View(d.last, b*C, C), be.View(d.x, (b*Tq+pick[b])*C, C))
	}
	lnLast := be.View(d.ln, 0, B*C)
	be.RMSNorm(lnLast, be.View(d.rstd, 0, B), d.last, m.Params.Norm, B, C, eps)
	linear(be, d.logits, lnLast, m.Params.LMHead, B, V, C)
}

// Generate continues each prompt (rows may differ in length) with up to
// opts.MaxNewTokens tokens using a KV cache, and returns the new tokens of each
// row (ending at its first stop token, which is included).
func (m *Model) Generate(prompts [][]int32, opts GenerateOptions) ([][]int32, error) {
	cfg, be := m.Config, m.be
	B := len(prompts)
	if B == 0 {
		return nil, nil
	}
	maxLen := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, fmt.Errorf("%w: prompt %d is empty", ErrBatch, i)
		}
		for j, id := range p {
			if id < 0 || int(id) >= cfg.VocabSize {
				return nil, fmt.Errorf("%w: prompt %d token %d = %d is outside the vocabulary [0, %d)", ErrBatch, i, j, id, cfg.VocabSize)
			}
		}
		maxLen = max(maxLen, len(p))
	}
	if err := m.checkGenerate(B, maxLen, opts); err != nil {
		return nil, err
	}
	if opts.MaxNewTokens == 0 {
		return make([][]int32, B), nil
	}
	maxT := maxLen + opts.MaxNewTokens
	KVD := cfg.NumKeyValueHeads * cfg.HeadDimension()
	cache := &kvCache{B: B, MaxT: maxT}
	for range m.Params.Layers {
		cache.k = append(cache.k, be.Alloc(B*maxT*KVD))
		cache.v = append(cache.v, be.Alloc(B*maxT*KVD))
	}
	full := m.newDecodeActs(B, maxLen)
	logits := make([]float32, B*cfg.VocabSize)

	// Prefill: prompts right-padded to maxLen. Padding sits after each row's
	// real tokens, so causal attention keeps it out of the real positions, and
	// decoding overwrites its cache slots.
	ids := make([]int32, B*maxLen)
	start := make([]int32, B)
	pick := make([]int, B)
	for b, p := range prompts {
		copy(ids[b*maxLen:], p)
		pick[b] = len(p) - 1
	}
	t0 := time.Now()
	m.forwardCached(cache, full.view(be, cfg, B, maxLen), ids, start, maxLen, pick)
	be.Download(logits, full.logits)
	t1 := time.Now()
	steps := 0
	defer func() {
		if opts.Timing != nil {
			*opts.Timing = GenerateTiming{Prefill: t1.Sub(t0), Decode: time.Since(t1), DecodeSteps: steps}
		}
	}()

	// One sampler per row, seeded from (seed, row): rows draw independently,
	// so they can be sampled in parallel and a row's tokens do not depend on
	// how many other rows finished early.
	samplers := make([]*Sampler, B)
	for b := range samplers {
		samplers[b] = NewSampler(opts.SamplingOptions, opts.Seed+uint64(b)*0x9e3779b97f4a7c15)
	}
	out := make([][]int32, B)
	done := make([]bool, B)
	step := full.view(be, cfg, B, 1)
	next := make([]int32, B)
	zero := make([]int, B)
	for i := 0; i < opts.MaxNewTokens; i++ {
		sampleRows(B, opts.Temperature > 0, func(b int) {
			if !done[b] {
				next[b] = samplers[b].Next(logits[b*cfg.VocabSize : (b+1)*cfg.VocabSize])
			}
		})
		active := 0
		for b := range prompts {
			if done[b] {
				continue
			}
			tok := next[b]
			out[b] = append(out[b], tok)
			if slices.Contains(opts.StopTokens, tok) {
				done[b] = true
			} else {
				active++
			}
		}
		if active == 0 || i == opts.MaxNewTokens-1 {
			break
		}
		for b, p := range prompts {
			start[b] = int32(len(p) + len(out[b]) - 1)
		}
		m.forwardCached(cache, step, next, start, 1, zero)
		be.Download(logits, full.logits)
		steps++
	}
	return out, nil
}

// sampleRows runs draw for every row, split across the cores when sampling
// (greedy argmax is too cheap to be worth the goroutines).
func sampleRows(B int, parallel bool, draw func(b int)) {
	workers := min(runtime.GOMAXPROCS(0), B)
	if !parallel || workers < 2 {
		for b := 0; b < B; b++ {
			draw(b)
		}
		return
	}
	var wg sync.WaitGroup
	var once sync.Once
	var panicked any // the first worker's panic, re-raised on this goroutine
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { panicked = r })
				}
			}()
			for b := w; b < B; b += workers {
				draw(b)
			}
		}()
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}
