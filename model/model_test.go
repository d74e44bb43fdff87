package model_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

// tinyExpected is tiny-llama3/expected.json.
type tinyExpected struct {
	InputIDs            [][]int32 `json:"input_ids"`
	AttentionMask       [][]int32 `json:"attention_mask"`
	Labels              [][]int32 `json:"labels"`
	Loss                float64   `json:"loss"`
	FarPositionIDsStart int32     `json:"far_position_ids_start"`
	RopeInvFreq         []float64 `json:"rope_inv_freq"`
	Greedy              []struct {
		Prompt []int32 `json:"prompt"`
		Output []int32 `json:"output"`
	} `json:"greedy"`
}

func loadExpected(t *testing.T) tinyExpected {
	var e tinyExpected
	fixtures.JSON(t, &e, "tiny-llama3", "expected.json")
	return e
}

func flatten(rows [][]int32) []int32 {
	var out []int32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func (e tinyExpected) batch() *model.Batch {
	return &model.Batch{B: len(e.InputIDs), T: len(e.InputIDs[0]), IDs: flatten(e.InputIDs),
		Labels: flatten(e.Labels), AttentionMask: flatten(e.AttentionMask)}
}

func loadTiny(t *testing.T, be compute.Backend, name string) *model.Model {
	t.Helper()
	m, err := model.Load(be, fixtures.Path(t, name))
	require.NoError(t, err)
	return m
}

func readTensor(t *testing.T, path, name string) ([]float32, []int) {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	data, shape, err := f.Float32(name)
	require.NoError(t, err)
	return data, shape
}

// relErr is ‖got − want‖ / ‖want‖ over the selected indices.
func relErr(got, want []float32, keep func(i int) bool) float64 {
	var num, den float64
	for i := range want {
		if keep != nil && !keep(i) {
			continue
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / den)
}

func backends() map[string]compute.Backend {
	return map[string]compute.Backend{"openblas-or-go": cpu.New(), "pure-go": cpu.NewPureGo()}
}

func TestRopeInvFreqMatchesHF(t *testing.T) {
	e := loadExpected(t)
	cfg, err := model.LoadConfig(fixtures.Path(t, "tiny-llama3", "config.json"))
	require.NoError(t, err)
	got := model.RopeInvFreq(cfg)
	require.Len(t, got, len(e.RopeInvFreq))
	for i, want := range e.RopeInvFreq {
		require.InEpsilon(t, want, float64(got[i]), 1e-6, "inv_freq[%d]", i)
	}
}

func TestLogitsAndLossMatchHF(t *testing.T) {
	e := loadExpected(t)
	want, shape := readTensor(t, fixtures.Path(t, "tiny-llama3", "logits_sft.safetensors"), "logits")
	B, T, V := shape[0], shape[1], shape[2]
	mask := flatten(e.AttentionMask)
	for name, be := range backends() {
		t.Run(name, func(t *testing.T) {
			m := loadTiny(t, be, "tiny-llama3")
			logits, err := m.Logits(e.batch())
			require.NoError(t, err)
			require.Len(t, logits, B*T*V)
			err1 := relErr(logits, want, func(i int) bool { return mask[i/V] == 1 })
			require.Less(t, err1, 1e-4, "logits relative error")

			out, err := m.Forward(e.batch())
			require.NoError(t, err)
			require.InEpsilon(t, e.Loss, out.Loss, 1e-4)
		})
	}
}

func TestFarPositionLogitsMatchHF(t *testing.T) {
	e := loadExpected(t)
	want, shape := readTensor(t, fixtures.Path(t, "tiny-llama3", "logits_far.safetensors"), "logits")
	T := len(e.InputIDs[0])
	pos := make([]int32, T)
	for i := range pos {
		pos[i] = e.FarPositionIDsStart + int32(i)
	}
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	logits, err := m.Logits(&model.Batch{B: 1, T: T, IDs: e.InputIDs[0], PositionIDs: pos})
	require.NoError(t, err)
	require.Equal(t, len(want), len(logits), "shape %v", shape)
	require.Less(t, relErr(logits, want, nil), 1e-4)
}

// checkGrads compares every parameter gradient of m with the fixture file.
func checkGrads(t *testing.T, m *model.Model, path string) {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	names := 0
	for _, pt := range m.Grads.Tensors {
		want, shape, err := f.Float32(pt.Name)
		require.NoError(t, err, "fixture has no gradient for %s", pt.Name)
		require.Equal(t, pt.Shape, shape, pt.Name)
		got := make([]float32, pt.Size())
		m.Backend().Download(got, pt.Buf)
		require.Less(t, relErr(got, want, nil), 1e-3, "gradient of %s", pt.Name)
		names++
	}
	require.Equal(t, len(f.Names()), names, "every gradient in the fixture is checked")
}

func TestGradientsMatchHF(t *testing.T) {
	e := loadExpected(t)
	gradsPath := fixtures.Path(t, "tiny-llama3", "grads_sft.safetensors")
	for name, be := range backends() {
		t.Run(name+"/fused", func(t *testing.T) {
			m := loadTiny(t, be, "tiny-llama3")
			b := e.batch()
			probe, err := m.Forward(b)
			require.NoError(t, err)
			out, err := m.ForwardBackward(b, 1/float32(probe.NumTokens))
			require.NoError(t, err)
			require.InEpsilon(t, e.Loss, out.Loss, 1e-4)
			checkGrads(t, m, gradsPath)
		})
		t.Run(name+"/two-pass", func(t *testing.T) {
			m := loadTiny(t, be, "tiny-llama3")
			out, err := m.Forward(e.batch())
			require.NoError(t, err)
			dlogp := make([]float32, len(out.LogProbs))
			for i, lab := range flatten(e.Labels) {
				if i%len(e.Labels[0]) != 0 && lab != compute.IgnoreIndex {
					dlogp[i] = -1 / float32(out.NumTokens)
				}
			}
			require.NoError(t, m.Backward(dlogp))
			checkGrads(t, m, gradsPath)
		})
	}
}

func TestGreedyGenerationMatchesHF(t *testing.T) {
	e := loadExpected(t)
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	opts := model.GenerateOptions{MaxNewTokens: 16}
	var prompts [][]int32
	for i, g := range e.Greedy {
		out, err := m.Generate([][]int32{g.Prompt}, opts)
		require.NoError(t, err)
		require.Equal(t, g.Output, out[0], "prompt %d alone", i)
		prompts = append(prompts, g.Prompt)
	}
	// All prompts at once: rows of different lengths share one cache.
	out, err := m.Generate(prompts, opts)
	require.NoError(t, err)
	for i, g := range e.Greedy {
		require.Equal(t, g.Output, out[i], "prompt %d in a batch", i)
	}
}

func TestGenerateStopsAtStopToken(t *testing.T) {
	e := loadExpected(t)
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	g := e.Greedy[1]
	stop := g.Output[3]
	out, err := m.Generate([][]int32{g.Prompt}, model.GenerateOptions{MaxNewTokens: 16, StopTokens: []int32{stop}})
	require.NoError(t, err)
	require.Equal(t, g.Output[:4], out[0])
}

func TestSamplingIsSeededAndRespectsTopK(t *testing.T) {
	e := loadExpected(t)
	m := loadTiny(t, cpu.New(), "tiny-llama3")
	prompts := [][]int32{e.Greedy[0].Prompt, e.Greedy[1].Prompt}
	opts := model.GenerateOptions{MaxNewTokens: 12, Seed: 7, SamplingOptions: model.SamplingOptions{Temperature: 1.5, TopK: 50, TopP: 0.95}}
	a, err := m.Generate(prompts, opts)
	require.NoError(t, err)
	b, err := m.Generate(prompts, opts)
	require.NoError(t, err)
	require.Equal(t, a, b, "same seed, same samples")
	opts.Seed = 8
	c, err := m.Generate(prompts, opts)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed draws other samples")

	// Top-k 1 is greedy whatever the temperature.
	greedy, err := m.Generate(prompts, model.GenerateOptions{MaxNewTokens: 12})
	require.NoError(t, err)
	k1, err := m.Generate(prompts, model.GenerateOptions{MaxNewTokens: 12, Seed: 3, SamplingOptions: model.SamplingOptions{Temperature: 2, TopK: 1}})
	require.NoError(t, err)
	require.Equal(t, greedy, k1)
}

// TestAccumulatedMicroBatchesEqualOneBatch: gradients of micro-batches scaled
// by 1/(total loss tokens) add up to the gradient of the whole batch, so
// gradient accumulation normalises by tokens, not by a mean of means.
func TestAccumulatedMicroBatchesEqualOneBatch(t *testing.T) {
	e := loadExpected(t)
	whole := e.batch()
	T := whole.T
	row := func(r int) *model.Batch {
		return &model.Batch{B: 1, T: T, IDs: whole.IDs[r*T : (r+1)*T], Labels: whole.Labels[r*T : (r+1)*T],
			AttentionMask: whole.AttentionMask[r*T : (r+1)*T]}
	}
	two := &model.Batch{B: 2, T: T, IDs: whole.IDs[T:], Labels: whole.Labels[T:], AttentionMask: whole.AttentionMask[T:]}

	be := cpu.New()
	ref := loadTiny(t, be, "tiny-llama3")
	probe, err := ref.Forward(whole)
	require.NoError(t, err)
	total := float32(probe.NumTokens)
	_, err = ref.ForwardBackward(whole, 1/total)
	require.NoError(t, err)

	acc := loadTiny(t, be, "tiny-llama3")
	for _, mb := range []*model.Batch{row(0), two} {
		_, err := acc.ForwardBackward(mb, 1/total)
		require.NoError(t, err)
	}
	for i, g := range ref.Grads.Tensors {
		want, got := make([]float32, g.Size()), make([]float32, g.Size())
		be.Download(want, g.Buf)
		be.Download(got, acc.Grads.Tensors[i].Buf)
		require.Less(t, relErr(got, want, nil), 1e-5, g.Name)
	}
}
