package rollout

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/posttrain/posttrain/model"
)

// referenceLogProbs scores completion after prompt with the full logits of an
// unpadded single-row forward: log softmax(logits[len(prompt)+j-1])[c_j].
func referenceLogProbs(t *testing.T, m *model.Model, prompt, completion []int32) []float64 {
	t.Helper()
	ids := append(append([]int32{}, prompt...), completion...)
	T, V := len(ids), m.Config.VocabSize
	logits, err := m.Logits(&model.Batch{B: 1, T: T, IDs: ids})
	require.NoError(t, err)
	out := make([]float64, len(completion))
	for j, tok := range completion {
		row := logits[(len(prompt)+j-1)*V : (len(prompt)+j)*V]
		maxL := math.Inf(-1)
		for _, v := range row {
			maxL = math.Max(maxL, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - maxL)
		}
		out[j] = float64(row[tok]) - maxL - math.Log(sum)
	}
	return out
}

func TestModelGeneratorLogProbsMatchForward(t *testing.T) {
	m := tinyModel(t, 32, 2, 64, 1)
	gen := NewModelGenerator(m)
	prompts := [][]int32{{1, 2, 3, 4, 5}, {7, 8}, {9, 10, 11}}
	comps, err := gen.Generate(context.Background(), prompts, GenerateOptions{
		SamplingOptions: model.SamplingOptions{Temperature: 1.3, TopK: 20}, MaxNewTokens: 6, Seed: 3})
	require.NoError(t, err)
	require.Len(t, comps, 3)
	for b, c := range comps {
		require.Len(t, c.Tokens, 6)
		require.Len(t, c.LogProbs, 6)
		assert.False(t, c.Stopped)
		want := referenceLogProbs(t, m, prompts[b], c.Tokens)
		for j := range want {
			assert.InDelta(t, want[j], c.LogProbs[j], 1e-4, "row %d token %d", b, j)
		}
	}
}

func TestModelGeneratorStops(t *testing.T) {
	m := tinyModel(t, 32, 2, 64, 2)
	prompts := [][]int32{{1, 2, 3}, {4, 5}}
	greedy, err := NewModelGenerator(m).Generate(context.Background(), prompts, GenerateOptions{MaxNewTokens: 8})
	require.NoError(t, err)
	cases := []struct {
		name    string
		stops   []int32
		eos     model.TokenIDs
		wantLen []int
	}{
		{"no stop tokens: max length", nil, nil, []int{8, 8}},
		{"explicit stop token", []int32{greedy[0].Tokens[2]}, nil, nil},
		{"model eos by default", nil, model.TokenIDs{int(greedy[1].Tokens[1])}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m.Config.EOSTokenID = c.eos
			defer func() { m.Config.EOSTokenID = nil }()
			comps, err := NewModelGenerator(m).Generate(context.Background(), prompts,
				GenerateOptions{MaxNewTokens: 8, StopTokens: c.stops})
			require.NoError(t, err)
			stops := c.stops
			for _, id := range c.eos {
				stops = append(stops, int32(id))
			}
			for b, comp := range comps {
				// Greedy rows are the unstopped rows cut at their first stop token.
				want, stopped := greedy[b].Tokens, false
				for i, tok := range want {
					if containsToken(stops, tok) {
						want, stopped = want[:i+1], true
						break
					}
				}
				assert.Equal(t, want, comp.Tokens, "row %d", b)
				assert.Equal(t, stopped, comp.Stopped, "row %d", b)
				assert.Len(t, comp.LogProbs, len(comp.Tokens))
				if c.wantLen != nil {
					assert.Len(t, comp.Tokens, c.wantLen[b])
				}
			}
		})
	}
}

func containsToken(s []int32, tok int32) bool {
	for _, v := range s {
		if v == tok {
			return true
		}
	}
	return false
}

func TestModelGeneratorEdgeCases(t *testing.T) {
	m := tinyModel(t, 32, 2, 64, 3)
	gen := NewModelGenerator(m)
	t.Run("zero new tokens", func(t *testing.T) {
		comps, err := gen.Generate(context.Background(), [][]int32{{1, 2}}, GenerateOptions{})
		require.NoError(t, err)
		assert.Empty(t, comps[0].Tokens)
		assert.Empty(t, comps[0].LogProbs)
	})
	t.Run("token outside the vocabulary", func(t *testing.T) {
		_, err := gen.Generate(context.Background(), [][]int32{{1, 99}}, GenerateOptions{MaxNewTokens: 2})
		require.ErrorIs(t, err, model.ErrBatch)
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := gen.Generate(ctx, [][]int32{{1, 2}}, GenerateOptions{MaxNewTokens: 2})
		require.ErrorIs(t, err, context.Canceled)
	})
}

func modelPool(t *testing.T, m *model.Model, workers int, seed uint64) *Pool {
	t.Helper()
	pool, err := NewPool(Config{Workers: workers, BatchSize: 2, QueueSize: 2,
		NewGenerator: ForkedModelGenerators(m, cpuBackend),
		Generate: GenerateOptions{SamplingOptions: model.SamplingOptions{Temperature: 0.9, TopK: 16, TopP: 0.95},
			MaxNewTokens: 5, Seed: seed}})
	require.NoError(t, err)
	return pool
}

func modelPrompts(n int) []Prompt {
	ps := make([]Prompt, n)
	for i := range ps {
		ps[i] = Prompt{ID: i, Tokens: []int32{int32(i % 60), int32((3*i + 1) % 60), 5, int32(i%7 + 1)}[:2+i%3]}
	}
	return ps
}

func TestModelPoolIsDeterministicAcrossWorkerCounts(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := tinyModel(t, 32, 2, 64, 4)
	prompts := modelPrompts(7)
	one, _, err := modelPool(t, m, 1, 11).Run(context.Background(), prompts)
	require.NoError(t, err)
	three, st, err := modelPool(t, m, 3, 11).Run(context.Background(), prompts)
	require.NoError(t, err)
	assert.Equal(t, 35, st.GeneratedTokens)
	for i := range one {
		assert.Equal(t, one[i].Tokens, three[i].Tokens, "prompt %d", i)
		assert.Equal(t, one[i].LogProbs, three[i].LogProbs, "prompt %d", i)
	}
	other, _, err := modelPool(t, m, 3, 12).Run(context.Background(), prompts)
	require.NoError(t, err)
	differ := 0
	for i := range one {
		if !assert.ObjectsAreEqual(one[i].Tokens, other[i].Tokens) {
			differ++
		}
	}
	assert.Positive(t, differ, "another base seed samples other tokens")
}

func TestModelPoolSeesUpdatedWeights(t *testing.T) {
	defer goleak.VerifyNone(t)
	m := tinyModel(t, 32, 2, 64, 5)
	pool := modelPool(t, m, 2, 1)
	prompts := modelPrompts(4)
	before, _, err := pool.Run(context.Background(), prompts)
	require.NoError(t, err)

	// The trainer updates the policy in place; the workers' forks share it.
	m.Params.InitRandom(m.Backend(), m.Config, 99)
	after, _, err := pool.Run(context.Background(), prompts)
	require.NoError(t, err)
	fresh, _, err := modelPool(t, tinyModel(t, 32, 2, 64, 99), 1, 1).Run(context.Background(), prompts)
	require.NoError(t, err)
	for i := range after {
		assert.Equal(t, fresh[i].Tokens, after[i].Tokens, "prompt %d", i)
		assert.InDeltaSlice(t, fresh[i].LogProbs, after[i].LogProbs, 1e-5, "prompt %d", i)
	}
	assert.NotEqual(t, before[0].LogProbs, after[0].LogProbs)
}
