package rollout

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// genFunc is a Generator made from a function (fake generators in tests).
type genFunc func(ctx context.Context, prompts [][]int32, opts GenerateOptions) ([]Completion, error)

func (f genFunc) Generate(ctx context.Context, prompts [][]int32, opts GenerateOptions) ([]Completion, error) {
	return f(ctx, prompts, opts)
}

// echo completes a prompt with its first token + 1 and the seed's low byte,
// so tests can check which prompt and seed produced a completion.
func echo(prompts [][]int32, opts GenerateOptions) []Completion {
	out := make([]Completion, len(prompts))
	for i, p := range prompts {
		out[i] = Completion{Tokens: []int32{p[0] + 1, int32(opts.Seed & 0xff)}, LogProbs: []float32{-1, -2}}
	}
	return out
}

func sameGenerator(g Generator) func(int) (Generator, error) {
	return func(int) (Generator, error) { return g, nil }
}

func makePrompts(n int) []Prompt {
	ps := make([]Prompt, n)
	for i := range ps {
		ps[i] = Prompt{ID: i, Tokens: []int32{int32(10 * i), 1, 2}}
	}
	return ps
}

// tinyModel is a random LLaMA small enough for unit tests.
func tinyModel(t testing.TB, hidden, layers, vocab int, seed uint64) *model.Model {
	t.Helper()
	cfg := &model.Config{
		HiddenSize: hidden, IntermediateSize: 2 * hidden, NumHiddenLayers: layers,
		NumAttentionHeads: 4, NumKeyValueHeads: 2, RMSNormEps: 1e-5, RopeTheta: 10000,
		MaxPositionEmbeddings: 256, VocabSize: vocab, InitializerRange: 0.5,
	}
	be := cpu.New()
	m, err := model.New(be, cfg)
	require.NoError(t, err)
	m.Params.InitRandom(be, cfg, seed)
	return m
}

func cpuBackend() compute.Backend { return cpu.New() }
