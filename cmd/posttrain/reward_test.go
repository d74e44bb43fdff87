package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/tasks"
)

func TestDebugRewardMatchesHF(t *testing.T) {
	var want struct {
		Rewards []float64 `json:"rewards"`
	}
	fixtures.JSON(t, &want, "tiny-llama3-rm", "expected.json")
	out, err := run(t, "debug", "reward", "--model", fixtures.Path(t, "tiny-llama3-rm"),
		"--batch", fixtures.Path(t, "tiny-llama3-rm", "expected.json"))
	require.NoError(t, err)
	var got struct {
		Rewards []float64 `json:"rewards"`
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &got))
	require.Len(t, got.Rewards, len(want.Rewards))
	for i := range want.Rewards {
		require.InEpsilon(t, want.Rewards[i], got.Rewards[i], 1e-4, "reward %d", i)
	}
}

func TestDebugRewardRejectsACausalLM(t *testing.T) {
	_, err := run(t, "debug", "reward", "--model", fixtures.Path(t, "tiny-llama3"),
		"--batch", fixtures.Path(t, "tiny-llama3-rm", "expected.json"))
	require.ErrorContains(t, err, "not LlamaForSequenceClassification")
}

// charTokenizer writes the built-in character tokenizer (ids < 264, inside the
// fixture reward model's vocabulary of 512) for the eval and score tests.
func charTokenizer(t *testing.T) string {
	dir := t.TempDir()
	require.NoError(t, tasks.WriteCharTokenizer(dir))
	return dir
}

func TestRewardEvalPrintsMetricsAndWritesFiles(t *testing.T) {
	model, tok, out := fixtures.Path(t, "tiny-llama3-rm"), charTokenizer(t), t.TempDir()
	stdout, err := run(t, "reward", "eval", "--model", model, "--tokenizer", tok, "--data", "builtin:reverse-preference", "--out", out)
	require.NoError(t, err)
	var m reward.Metrics
	require.NoError(t, json.Unmarshal([]byte(stdout), &m))
	require.Equal(t, 200, m.Pairs)
	require.Zero(t, m.Dropped)
	require.NotEmpty(t, m.ByRewardGap)
	require.Equal(t, "none", m.ByDataMargin[0].Label, "built-in pairs carry no margin")

	lines := strings.Split(strings.TrimSpace(string(readFile(t, filepath.Join(out, reward.EvalPairsFile)))), "\n")
	require.Len(t, lines, 200)
	correct, margin := 0, 0.0
	for _, l := range lines {
		var p reward.PairResult
		require.NoError(t, json.Unmarshal([]byte(l), &p))
		require.Equal(t, p.Chosen > p.Rejected, p.Correct)
		if p.Correct {
			correct++
		}
		margin += p.Chosen - p.Rejected
	}
	require.InDelta(t, float64(correct)/200, m.Accuracy, 1e-12)
	require.InDelta(t, margin/200, m.MeanMargin, 1e-9)
	require.FileExists(t, filepath.Join(out, reward.EvalHistogramFile))

	t.Run("pairs over --max-length are dropped and counted", func(t *testing.T) {
		// Every built-in pair is 42 tokens long.
		_, err := run(t, "reward", "eval", "--model", model, "--tokenizer", tok, "--data", "builtin:reverse-preference",
			"--out", t.TempDir(), "--max-length", "41")
		require.ErrorContains(t, err, "no pairs to evaluate (200 dropped for length)")
	})
}

func TestRewardScorePrintsOneLinePerRow(t *testing.T) {
	data := filepath.Join(t.TempDir(), "rows.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(`{"prompt": "reverse abcde", "completion": "edcba"}
{"prompt": "reverse abcde", "completion": "edcbz"}
{"prompt": "reverse abcde", "completion": "edcba"}
`), 0o644))
	stdout, err := run(t, "reward", "score", "--model", fixtures.Path(t, "tiny-llama3-rm"), "--tokenizer", charTokenizer(t), "--data", data)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3)
	rewards := make([]float64, 3)
	for i, l := range lines {
		var row reward.ScoredRow
		require.NoError(t, json.Unmarshal([]byte(l), &row))
		require.Equal(t, i, row.Index)
		require.NotNil(t, row.Reward, l)
		rewards[i] = *row.Reward
	}
	// Rows 0 and 2 are the same text at different batch positions. OpenBLAS
	// may pick other GEMM kernels for other rows (float32 sums in another
	// order: ~1e-7 relative per product, a few layers deep), so equal means
	// equal within 1e-5; a different last token moves the reward far more.
	require.InEpsilon(t, rewards[0], rewards[2], 1e-5, "the same row, the same reward")
	require.Greater(t, math.Abs(rewards[0]-rewards[1]), 1e-3*math.Abs(rewards[0]), "the last token differs")
}
