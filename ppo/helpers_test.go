package ppo

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/rollout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tinyModel is a random LLaMA small enough for gradient checks.
func tinyModel(t testing.TB, hidden, vocab int, seed uint64) *model.Model {
	t.Helper()
	cfg := &model.Config{
		HiddenSize: hidden, IntermediateSize: 2 * hidden, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 1, RMSNormEps: 1e-5, RopeTheta: 10000,
		MaxPositionEmbeddings: 64, VocabSize: vocab, InitializerRange: 0.3,
	}
	be := cpu.New()
	m, err := model.New(be, cfg)
	require.NoError(t, err)
	m.Params.InitRandom(be, cfg, seed)
	return m
}

// twoSamples are rollouts with prompts of 3 and 2 tokens and completions of
// 2 and 4 tokens: T = 6, R = 4.
func twoSamples() []rollout.Sample {
	return []rollout.Sample{
		{Prompt: rollout.Prompt{ID: 0, Tokens: []int32{1, 2, 3}},
			Completion: rollout.Completion{Tokens: []int32{4, 5}, LogProbs: []float32{-0.5, -1}, Stopped: true}, Score: 1},
		{Prompt: rollout.Prompt{ID: 1, Tokens: []int32{6, 7}},
			Completion: rollout.Completion{Tokens: []int32{8, 9, 10, 11}, LogProbs: []float32{-2, -3, -4, -5}}, Score: 0.25},
	}
}
