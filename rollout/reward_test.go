package rollout

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestExactMatch(t *testing.T) {
	cases := []struct {
		name string
		meta map[string]string
		text string
		want float64
		err  error
	}{
		{"match", map[string]string{"answer": "42"}, "42", 1, nil},
		{"match ignores surrounding space", map[string]string{"answer": " 42"}, "42\n", 1, nil},
		{"mismatch", map[string]string{"answer": "42"}, "41", 0, nil},
		{"no answer", nil, "42", 0, ErrNoAnswer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ExactMatch(Prompt{ID: 3, Meta: c.meta}, nil, c.text)
			if c.err != nil {
				require.ErrorIs(t, err, c.err)
				assert.Contains(t, err.Error(), "prompt 3")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func TestRewardRegistry(t *testing.T) {
	f, ok := LookupReward("exact_match")
	require.True(t, ok)
	v, err := f(Prompt{Meta: map[string]string{"answer": "x"}}, nil, "x")
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	_, ok = LookupReward("no_such_reward")
	assert.False(t, ok)

	if _, registered := LookupReward("test_length"); !registered { // -count=N reruns
		RegisterReward("test_length", func(_ Prompt, c []int32, _ string) (float64, error) { return float64(len(c)), nil })
	}
	length, ok := LookupReward("test_length")
	require.True(t, ok)
	v, err = length(Prompt{}, []int32{1, 2, 3}, "")
	require.NoError(t, err)
	assert.Equal(t, 3.0, v)
	assert.Contains(t, RewardNames(), "test_length")
	assert.Panics(t, func() { RegisterReward("test_length", ExactMatch) }, "duplicate name")
	assert.Panics(t, func() { RegisterReward("test_nil", nil) }, "nil function")
}

// decodeDigits renders tokens as decimal numbers, a stand-in for a tokenizer.
func decodeDigits(toks []int32) string {
	s := ""
	for _, t := range toks {
		s += strconv.Itoa(int(t))
	}
	return s
}

func TestRunScoresWithRewardFunction(t *testing.T) {
	defer goleak.VerifyNone(t)
	// The completion's first token is prompt token 0 + 1 (see echo), i.e. 10·id+1.
	prompts := makePrompts(6)
	for i := range prompts {
		switch i {
		case 2: // no answer: the reward function errors
		case 4:
			prompts[i].Meta = map[string]string{"answer": "wrong"}
		default:
			prompts[i].Meta = map[string]string{"answer": strconv.Itoa(10*i + 1)}
		}
	}
	firstToken := func(p Prompt, c []int32, text string) (float64, error) {
		return ExactMatch(p, c, decodeDigits(c[:1]))
	}
	pool, err := NewPool(Config{Workers: 2, BatchSize: 2, Scorer: FuncScorer(firstToken, decodeDigits),
		NewGenerator: sameGenerator(genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
			return echo(p, o), nil
		}))})
	require.NoError(t, err)
	samples, st, err := pool.Run(context.Background(), prompts)
	require.ErrorIs(t, err, ErrNoAnswer)
	assert.Contains(t, err.Error(), "prompt 2")
	assert.Equal(t, 1, st.Failed)
	assert.Zero(t, st.Retries, "a reward error is not a worker failure")
	require.Len(t, samples, 6)
	for i, s := range samples {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			assert.Len(t, s.Tokens, 2, "the completion is kept")
			switch i {
			case 2:
				require.ErrorIs(t, s.Err, ErrNoAnswer)
			case 4:
				require.NoError(t, s.Err)
				assert.Equal(t, 0.0, s.Score)
			default:
				require.NoError(t, s.Err)
				assert.Equal(t, 1.0, s.Score)
			}
		})
	}
}

// scorerFunc is a Scorer made from a function.
type scorerFunc func(ctx context.Context, s []Sample) ([]float64, error)

func (f scorerFunc) Score(ctx context.Context, s []Sample) ([]float64, error) { return f(ctx, s) }

func TestRunScorerFailures(t *testing.T) {
	errModel := errors.New("reward model out of memory")
	cases := []struct {
		name       string
		scorer     scorerFunc
		wantErr    error
		wantFailed int
		wantRetry  int
	}{
		{"batch error fails the batch's samples", func(context.Context, []Sample) ([]float64, error) {
			return nil, errModel
		}, errModel, 4, 0},
		{"wrong number of scores is a worker failure", func(context.Context, []Sample) ([]float64, error) {
			return []float64{1}, nil
		}, nil, 4, 2},
		{"panicking scorer is retried then reported", func(context.Context, []Sample) ([]float64, error) {
			panic("scorer bug")
		}, ErrWorkerPanic, 4, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			pool, err := NewPool(Config{Workers: 2, BatchSize: 2, Scorer: c.scorer,
				NewGenerator: sameGenerator(genFunc(func(_ context.Context, p [][]int32, o GenerateOptions) ([]Completion, error) {
					return echo(p, o), nil
				}))})
			require.NoError(t, err)
			samples, st, err := pool.Run(context.Background(), makePrompts(4))
			require.Error(t, err)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
			}
			assert.Len(t, samples, 4)
			assert.Equal(t, c.wantFailed, st.Failed)
			assert.Equal(t, c.wantRetry, st.Retries)
		})
	}
}
