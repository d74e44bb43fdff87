// Package bench times training steps and generation on randomly initialised
// models, reporting the same JSON keys as ../shared/bench/llama_torch.py so
// the two can be compared side by side.
package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
)

// Spec mirrors llama_torch.py's flags.
type Spec struct {
	Dim, Layers, Heads, KVHeads, FFN, Vocab int
	Tie                                     bool
	Seq, Batch, Steps, Warmup               int
	Prompt, New, Reps                       int
	Seed                                    uint64
}

// Validate checks the counts the flags give before any allocation; the model
// shape itself is checked by model.New (bounds and memory), and the batch's
// activations here.
func (s Spec) Validate() error {
	for _, f := range []struct {
		name   string
		v, min int
	}{
		{"--dim", s.Dim, 1}, {"--layers", s.Layers, 1}, {"--heads", s.Heads, 1}, {"--kv-heads", s.KVHeads, 1},
		{"--ffn", s.FFN, 1}, {"--vocab", s.Vocab, 1}, {"--seq", s.Seq, 1}, {"--batch", s.Batch, 1},
		{"--steps", s.Steps, 1}, {"--warmup", s.Warmup, 0}, {"--prompt", s.Prompt, 1}, {"--new", s.New, 1}, {"--reps", s.Reps, 1},
	} {
		if f.v < f.min {
			return fmt.Errorf("bench: %s must be >= %d, found %d", f.name, f.min, f.v)
		}
	}
	const maxRuns = 1 << 20
	if s.Steps > maxRuns || s.Warmup > maxRuns || s.Reps > maxRuns {
		return fmt.Errorf("bench: --steps, --warmup and --reps must be <= %d", maxRuns)
	}
	cfg := s.config(max(s.Seq, s.Prompt+s.New))
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := model.CheckBatchMemory(cfg, s.Batch, max(s.Seq, s.Prompt), "--batch × --seq"); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func (s Spec) config(maxPos int) *model.Config {
	return &model.Config{
		ModelType: "llama", HiddenSize: s.Dim, IntermediateSize: s.FFN, NumHiddenLayers: s.Layers,
		NumAttentionHeads: s.Heads, NumKeyValueHeads: s.KVHeads, RMSNormEps: 1e-5, RopeTheta: 500000,
		MaxPositionEmbeddings: max(maxPos, 1), VocabSize: s.Vocab, TieWordEmbeddings: s.Tie,
		HiddenAct: "silu", InitializerRange: 0.02,
	}
}

func (s Spec) newModel(be compute.Backend, maxPos int) (*model.Model, error) {
	m, err := model.New(be, s.config(maxPos))
	if err != nil {
		return nil, err
	}
	m.Params.InitRandom(be, m.Config, s.Seed)
	return m, nil
}

// Train times full training steps (forward, cross-entropy, backward, AdamW
// lr 1e-4 wd 0.01) on random tokens, as llama_torch.py train does.
func Train(be compute.Backend, s Spec) (map[string]any, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m, err := s.newModel(be, s.Seq)
	if err != nil {
		return nil, err
	}
	m.EnableGrads()
	mom1, mom2 := be.Alloc(m.Params.Count()), be.Alloc(m.Params.Count())
	rng := rand.New(rand.NewPCG(s.Seed+1, 1))
	batches := make([]*model.Batch, min(s.Steps+s.Warmup, 8))
	for i := range batches {
		// Row of T+1 random tokens: inputs are the first T, labels the last T
		// shifted back into HF's convention (label t+1 scored at t).
		b := &model.Batch{B: s.Batch, T: s.Seq, IDs: make([]int32, s.Batch*s.Seq), Labels: make([]int32, s.Batch*s.Seq)}
		for r := 0; r < s.Batch; r++ {
			row := make([]int32, s.Seq+1)
			for j := range row {
				row[j] = int32(rng.IntN(s.Vocab))
			}
			copy(b.IDs[r*s.Seq:], row[:s.Seq])
			copy(b.Labels[r*s.Seq:], row[:s.Seq])
			// HF shift: logits at t score Labels[t+1] = row[t+1]; the last input's
			// target row[T] cannot be expressed, so one target per row is dropped.
		}
		batches[i] = b
	}
	var times []float64
	var losses []float64
	scale := 1 / float32(s.Batch*(s.Seq-1))
	for step := 0; step < s.Warmup+s.Steps; step++ {
		b := batches[step%len(batches)]
		t0 := time.Now()
		m.ZeroGrads()
		out, err := m.ForwardBackward(b, scale)
		if err != nil {
			return nil, err
		}
		be.AdamW(m.Params.Flat, m.Grads.Flat, mom1, mom2, step+1, 1e-4, 0.9, 0.999, 1e-8, 0.01)
		dt := time.Since(t0).Seconds()
		losses = append(losses, out.Loss)
		if step >= s.Warmup {
			times = append(times, dt)
		}
	}
	med := median(times)
	tps := float64(s.Batch*s.Seq) / med
	return map[string]any{
		"impl": "posttrain-go", "backend": be.Name(), "threads": runtime.GOMAXPROCS(0), "mode": "train",
		"config":         specConfig(s),
		"params":         m.Params.Count(),
		"tokens_per_s":   round(tps, 2),
		"step_ms_median": round(med*1e3, 2), "step_ms_min": round(slices.Min(times)*1e3, 2),
		"step_ms_max": round(slices.Max(times)*1e3, 2),
		"loss_first":  round(losses[0], 4), "loss_last": round(losses[len(losses)-1], 4),
		"peak_rss_mb": round(PeakRSSMiB(), 1),
	}, nil
}

// Generate times batched KV-cache generation with temperature-1 sampling on
// random prompts, reporting prefill and decode throughput separately.
func Generate(be compute.Backend, s Spec) (map[string]any, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	m, err := s.newModel(be, s.Prompt+s.New)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(s.Seed+1, 2))
	prompts := make([][]int32, s.Batch)
	for b := range prompts {
		prompts[b] = make([]int32, s.Prompt)
		for j := range prompts[b] {
			prompts[b][j] = int32(rng.IntN(s.Vocab))
		}
	}
	var pre, dec []float64
	var timing model.GenerateTiming
	for r := 0; r < s.Warmup+max(s.Reps, 1); r++ {
		opts := model.GenerateOptions{MaxNewTokens: s.New, Seed: s.Seed + 2, Timing: &timing,
			SamplingOptions: model.SamplingOptions{Temperature: 1}}
		if _, err := m.Generate(prompts, opts); err != nil {
			return nil, err
		}
		if r >= s.Warmup {
			pre = append(pre, timing.Prefill.Seconds())
			dec = append(dec, timing.Decode.Seconds())
		}
	}
	tp, td := median(pre), median(dec)
	nDec := s.New - 1
	return map[string]any{
		"impl": "posttrain-go", "backend": be.Name(), "threads": runtime.GOMAXPROCS(0), "mode": "generate",
		"config":                    specConfig(s),
		"params":                    m.Params.Count(),
		"prefill_tokens_per_s":      round(float64(s.Batch*s.Prompt)/tp, 2),
		"prefill_ms_median":         round(tp*1e3, 2),
		"decode_tokens_per_s":       round(float64(s.Batch*nDec)/td, 2),
		"decode_ms_per_step_median": round(td/float64(max(nDec, 1))*1e3, 3),
		"e2e_new_tokens_per_s":      round(float64(s.Batch*s.New)/(tp+td), 2),
		"peak_rss_mb":               round(PeakRSSMiB(), 1),
	}, nil
}

func specConfig(s Spec) map[string]any {
	return map[string]any{"dim": s.Dim, "layers": s.Layers, "heads": s.Heads, "kv_heads": s.KVHeads,
		"ffn": s.FFN, "vocab": s.Vocab, "tie": s.Tie, "seq": s.Seq, "batch": s.Batch,
		"steps": s.Steps, "warmup": s.Warmup, "prompt": s.Prompt, "new": s.New, "dtype": "float32"}
}

func median(xs []float64) float64 {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	n := len(ys)
	if n%2 == 1 {
		return ys[n/2]
	}
	return (ys[n/2-1] + ys[n/2]) / 2
}

func round(x float64, digits int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', digits, 64), 64)
	return v
}

// PeakRSSMiB reads the process's peak resident set (VmHWM) from /proc, in MiB
// (llama_torch.py reports ru_maxrss, the same quantity).
func PeakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb)
			return kb / 1024
		}
	}
	return 0
}
