package cuda_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

// The tiny-llama3 fixtures end to end on the GPU: the same numerical contracts
// the model tests check on the CPU (logits and loss 1e-4, gradients 1e-3,
// greedy generation token for token), here through the CUDA backend.

type tinyExpected struct {
	InputIDs      [][]int32 `json:"input_ids"`
	AttentionMask [][]int32 `json:"attention_mask"`
	Labels        [][]int32 `json:"labels"`
	Loss          float64   `json:"loss"`
	Greedy        []struct {
		Prompt []int32 `json:"prompt"`
		Output []int32 `json:"output"`
	} `json:"greedy"`
}

func flatten(rows [][]int32) []int32 {
	var out []int32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func tinyOnGPU(t *testing.T) (*model.Model, tinyExpected, *model.Batch) {
	be := newCUDA(t)
	var e tinyExpected
	fixtures.JSON(t, &e, "tiny-llama3", "expected.json")
	m, err := model.Load(be, fixtures.Path(t, "tiny-llama3"))
	require.NoError(t, err)
	b := &model.Batch{B: len(e.InputIDs), T: len(e.InputIDs[0]), IDs: flatten(e.InputIDs),
		Labels: flatten(e.Labels), AttentionMask: flatten(e.AttentionMask)}
	return m, e, b
}

func readFixtureTensor(t *testing.T, f *safetensors.File, name string) []float32 {
	data, _, err := f.Float32(name)
	require.NoError(t, err, name)
	return data
}

func TestFixtureLogitsAndLossOnGPU(t *testing.T) {
	m, e, b := tinyOnGPU(t)
	f, err := safetensors.Open(fixtures.Path(t, "tiny-llama3", "logits_sft.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	want := readFixtureTensor(t, f, "logits")
	logits, err := m.Logits(b)
	require.NoError(t, err)
	V := m.Config.VocabSize
	mask := flatten(e.AttentionMask)
	var num, den float64
	for i := range want {
		if mask[i/V] == 1 {
			d := float64(logits[i] - want[i])
			num, den = num+d*d, den+float64(want[i])*float64(want[i])
		}
	}
	require.Less(t, math.Sqrt(num/den), 1e-4, "logits relative error")
	out, err := m.Forward(b)
	require.NoError(t, err)
	require.InEpsilon(t, e.Loss, out.Loss, 1e-4)
}

func TestFixtureGradientsOnGPU(t *testing.T) {
	m, e, b := tinyOnGPU(t)
	probe, err := m.Forward(b)
	require.NoError(t, err)
	out, err := m.ForwardBackward(b, 1/float32(probe.NumTokens))
	require.NoError(t, err)
	require.InEpsilon(t, e.Loss, out.Loss, 1e-4)
	f, err := safetensors.Open(fixtures.Path(t, "tiny-llama3", "grads_sft.safetensors"))
	require.NoError(t, err)
	defer f.Close()
	for _, pt := range m.Grads.Tensors {
		want := readFixtureTensor(t, f, pt.Name)
		got := make([]float32, pt.Size())
		m.Backend().Download(got, pt.Buf)
		require.Less(t, relErr(got, want), 1e-3, "gradient of %s", pt.Name)
	}
}

func TestFixtureGreedyGenerationOnGPU(t *testing.T) {
	m, e, _ := tinyOnGPU(t)
	var prompts [][]int32
	for i, g := range e.Greedy {
		out, err := m.Generate([][]int32{g.Prompt}, model.GenerateOptions{MaxNewTokens: 16})
		require.NoError(t, err)
		require.Equal(t, g.Output, out[0], "prompt %d", i)
		prompts = append(prompts, g.Prompt)
	}
	out, err := m.Generate(prompts, model.GenerateOptions{MaxNewTokens: 16})
	require.NoError(t, err)
	for i, g := range e.Greedy {
		require.Equal(t, g.Output, out[i], "prompt %d in a batch", i)
	}
}
