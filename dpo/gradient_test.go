package dpo

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/objective"
)

// lossAt is the loss of cfg on pairs under policy m (forward only).
func lossAt(t *testing.T, m *model.Model, cfg objective.DPOConfig, pairs []Pair, refC, refR []float64) float64 {
	t.Helper()
	b, err := concatenated(pairs, fixturePad)
	require.NoError(t, err)
	st, err := forwardRows(m, b, false)
	require.NoError(t, err)
	res, _, err := pairLoss(cfg, st, refC, refR)
	require.NoError(t, err)
	return res.Loss
}

// TestGradientThroughModelMatchesFiniteDifferences checks, for loss variants
// whose gradient takes different paths (per-token averaging, reference-free,
// label smoothing, the RPO term), d loss / d weight from the model's backward
// against central differences of the whole forward on the fixture model: at
// the entry with the largest gradient of several tensors.
func TestGradientThroughModelMatchesFiniteDifferences(t *testing.T) {
	_, pairs := loadDPOExpected(t)
	ref := &modelReference{m: loadFixtureModel(t, "tiny-llama3-ref"), padID: fixturePad}
	refC, refR, err := ref.logps("train", nil, pairs)
	require.NoError(t, err)
	m := loadFixtureModel(t, "tiny-llama3")
	be := m.Backend()
	for _, cfg := range []objective.DPOConfig{
		{Loss: objective.DPOIPO, Beta: 0.1},
		{Loss: objective.DPOSimPO, Beta: 2, SimPOGamma: 0.5},
		{Loss: objective.DPORobust, Beta: 0.5, LabelSmoothing: 0.2, RPOAlpha: 0.3},
		{Loss: objective.DPOSigmoid, Beta: 0.5, ReferenceFree: true},
	} {
		t.Run(cfg.Loss, func(t *testing.T) {
			b, err := concatenated(pairs, fixturePad)
			require.NoError(t, err)
			st, err := forwardRows(m, b, false)
			require.NoError(t, err)
			_, perRow, err := pairLoss(cfg, st, refC, refR)
			require.NoError(t, err)
			m.ZeroGrads()
			require.NoError(t, m.Backward(rowGradient(b, perRow)))
			for _, name := range []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"} {
				i := tensorIndex(t, m, name)
				w, g := m.Params.Tensors[i], m.Grads.Tensors[i]
				grad := make([]float32, g.Size())
				be.Download(grad, g.Buf)
				k := argmaxAbs(grad)
				data := cpu.F(w.Buf)
				orig := data[k]
				const h = 1e-2
				data[k] = orig + h
				up := lossAt(t, m, cfg, pairs, refC, refR)
				data[k] = orig - h
				down := lossAt(t, m, cfg, pairs, refC, refR)
				data[k] = orig
				fd := (up - down) / (2 * h)
				assert.InDelta(t, fd, float64(grad[k]), 3e-3*math.Abs(fd)+1e-4, "%s[%d]", name, k)
			}
		})
	}
}

func tensorIndex(t *testing.T, m *model.Model, name string) int {
	t.Helper()
	for i, p := range m.Params.Tensors {
		if p.Name == name {
			return i
		}
	}
	t.Fatalf("model has no tensor %s", name)
	return -1
}

func argmaxAbs(x []float32) int {
	best := 0
	for i, v := range x {
		if math.Abs(float64(v)) > math.Abs(float64(x[best])) {
			best = i
		}
	}
	return best
}

func TestConcatenatedBatchLayout(t *testing.T) {
	pairs := []Pair{
		{Prompt: []int32{1, 2}, Chosen: []int32{3}, Rejected: []int32{4, 5, 6}},
		{Prompt: []int32{7}, Chosen: []int32{8, 9}, Rejected: []int32{10}},
	}
	b, err := concatenated(pairs, 99)
	require.NoError(t, err)
	require.Equal(t, 4, b.B)
	require.Equal(t, 5, b.T)
	const x = -100
	assert.Equal(t, []int32{1, 2, 3, 99, 99, 7, 8, 9, 99, 99, 1, 2, 4, 5, 6, 7, 10, 99, 99, 99}, b.IDs)
	assert.Equal(t, []int32{x, x, 3, x, x, x, 8, 9, x, x, x, x, 4, 5, 6, x, 10, x, x, x}, b.Labels)
	assert.Equal(t, []int{1, 2, 3, 1}, countRows(b))
	assert.Equal(t, []float32{0, 0, 1, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 3, 3, 0, 4, 0, 0, 0}, rowGradient(b, []float64{1, 2, 3, 4}))

	for _, bad := range []Pair{{Chosen: []int32{1}, Rejected: []int32{2}}, {Prompt: []int32{1}, Rejected: []int32{2}}, {Prompt: []int32{1}, Chosen: []int32{2}}} {
		_, err := concatenated([]Pair{bad}, 0)
		assert.Error(t, err, "%+v", bad)
	}
	_, err = concatenated(nil, 0)
	assert.Error(t, err)
}

// TestLoRAReferenceIsTheBaseModel: with the adapter switched off for the
// reference pass, the reference scores like the base model even after the
// adapter moved the policy, and the policy (adapter on) scores differently.
func TestLoRAReferenceIsTheBaseModel(t *testing.T) {
	_, pairs := loadDPOExpected(t)
	m := loadFixtureModel(t, "tiny-llama3")
	base, err := LogProbs(m, pairs, fixturePad, 0)
	require.NoError(t, err)
	lo, err := m.AttachLoRA(model.LoRAConfig{Rank: 4, Alpha: 8, TargetModules: []string{"q_proj", "v_proj"}}, 7)
	require.NoError(t, err)
	for _, p := range lo.Tensors { // PEFT starts B at zero; move it so the adapter changes the output
		w := cpu.F(p.Buf)
		for i := range w {
			w[i] += 0.05 * float32((i%7)-3)
		}
	}
	ref := &modelReference{m: m, lora: lo, padID: fixturePad}
	refC, refR, err := ref.logps("train", nil, pairs)
	require.NoError(t, err)
	policy, err := LogProbs(m, pairs, fixturePad, 0)
	require.NoError(t, err)
	for i := range pairs {
		assert.InDelta(t, base[i].ChosenLogp, refC[i], 1e-4*math.Abs(base[i].ChosenLogp))
		assert.InDelta(t, base[i].RejectedLogp, refR[i], 1e-4*math.Abs(base[i].RejectedLogp))
		assert.Greater(t, math.Abs(policy[i].ChosenLogp-refC[i]), 1e-3, "the adapter is on again for the policy")
	}
}
