package bench

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
)

// timedBackend wraps the CPU backend and adds up the wall time of each kernel,
// so a profile of where a training step's time goes (including idle cores
// between phases, which a CPU profile does not show) is one test away.
type timedBackend struct {
	*cpu.Backend
	spent map[string]time.Duration
}

func (tb *timedBackend) time(name string) func() {
	t0 := time.Now()
	return func() { tb.spent[name] += time.Since(t0) }
}

func (tb *timedBackend) MatMul(c, a, b compute.Buffer, m, n, k int, ta, tB bool, alpha, beta float32) {
	defer tb.time("MatMul")()
	tb.Backend.MatMul(c, a, b, m, n, k, ta, tB, alpha, beta)
}
func (tb *timedBackend) Add(d, s compute.Buffer) { defer tb.time("Add")(); tb.Backend.Add(d, s) }
func (tb *timedBackend) Zero(b compute.Buffer)   { defer tb.time("Zero")(); tb.Backend.Zero(b) }
func (tb *timedBackend) Embedding(o, t compute.Buffer, ids []int32, C int) {
	defer tb.time("Embedding")()
	tb.Backend.Embedding(o, t, ids, C)
}
func (tb *timedBackend) EmbeddingBackward(d, o compute.Buffer, ids []int32, C int) {
	defer tb.time("EmbeddingBackward")()
	tb.Backend.EmbeddingBackward(d, o, ids, C)
}
func (tb *timedBackend) RMSNorm(o, r, x, w compute.Buffer, N, C int, eps float32) {
	defer tb.time("RMSNorm")()
	tb.Backend.RMSNorm(o, r, x, w, N, C, eps)
}
func (tb *timedBackend) RMSNormBackward(dx, dw, do, x, w, r compute.Buffer, N, C int) {
	defer tb.time("RMSNormBackward")()
	tb.Backend.RMSNormBackward(dx, dw, do, x, w, r, N, C)
}
func (tb *timedBackend) RoPE(x compute.Buffer, pos []int32, f []float32, N, H, HD int) {
	defer tb.time("RoPE")()
	tb.Backend.RoPE(x, pos, f, N, H, HD)
}
func (tb *timedBackend) RoPEBackward(x compute.Buffer, pos []int32, f []float32, N, H, HD int) {
	defer tb.time("RoPEBackward")()
	tb.Backend.RoPEBackward(x, pos, f, N, H, HD)
}
func (tb *timedBackend) Attention(o, l, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	defer tb.time("Attention")()
	tb.Backend.Attention(o, l, q, k, v, docs, s)
}
func (tb *timedBackend) AttentionBackward(dq, dk, dv, do, o, l, q, k, v compute.Buffer, docs []int32, s compute.AttnShape) {
	defer tb.time("AttentionBackward")()
	tb.Backend.AttentionBackward(dq, dk, dv, do, o, l, q, k, v, docs, s)
}
func (tb *timedBackend) SwiGLU(o, g, u compute.Buffer) {
	defer tb.time("SwiGLU")()
	tb.Backend.SwiGLU(o, g, u)
}
func (tb *timedBackend) SwiGLUBackward(dg, du, do, g, u compute.Buffer) {
	defer tb.time("SwiGLUBackward")()
	tb.Backend.SwiGLUBackward(dg, du, do, g, u)
}
func (tb *timedBackend) TokenLogProbs(lp []float32, dh, dw, h, w compute.Buffer, t []int32, dl []float32, N, C, V int) {
	defer tb.time("TokenLogProbs")()
	tb.Backend.TokenLogProbs(lp, dh, dw, h, w, t, dl, N, C, V)
}
func (tb *timedBackend) AdamW(p, g, m, v compute.Buffer, step int, lr, b1, b2, eps, wd float32) {
	defer tb.time("AdamW")()
	tb.Backend.AdamW(p, g, m, v, step, lr, b1, b2, eps, wd)
}

// BenchmarkTrainPhases reports the wall time per kernel of config S training
// steps (go test -run=NONE -bench=TrainPhases -v ./bench/): where a step's
// time goes, including the idle gaps a CPU profile does not show.
func BenchmarkTrainPhases(b *testing.B) {
	tb := &timedBackend{Backend: cpu.New(), spent: map[string]time.Duration{}}
	s := configS()
	s.Steps, s.Warmup = max(b.N, 5), 1
	steps := float64(s.Steps + s.Warmup)
	t0 := time.Now()
	res, err := Train(tb, s)
	require.NoError(b, err)
	total := time.Since(t0)
	names := make([]string, 0, len(tb.spent))
	var sum time.Duration
	for n, d := range tb.spent {
		names = append(names, n)
		sum += d
	}
	sort.Slice(names, func(i, j int) bool { return tb.spent[names[i]] > tb.spent[names[j]] })
	for _, n := range names {
		b.Logf("%-18s %8.1f ms/step  %5.1f%%", n, tb.spent[n].Seconds()*1e3/steps, 100*tb.spent[n].Seconds()/total.Seconds())
	}
	b.Logf("kernels %.1f ms/step of %.1f (rest: model glue, init); %v tokens/s", sum.Seconds()*1e3/steps, total.Seconds()*1e3/steps, res["tokens_per_s"])
	b.ReportMetric(res["tokens_per_s"].(float64), "tokens/s")
}
