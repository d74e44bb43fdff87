package reward_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// tinyRecipe is a reward run small enough for a unit test: a fresh 1-layer
// model on the built-in reversal preference pairs.
func tinyRecipe(t *testing.T, out string, overrides ...string) *recipes.Recipe {
	t.Helper()
	path := filepath.Join(t.TempDir(), "reward-test.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`stage: reward
model:
  tokenizer: builtin:chars
  init: {vocab_size: 264, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
         num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 128, rope_theta: 10000}
data:
  train: builtin:reverse-preference
  max_length: 64
optim: {lr: 1.0e-2, weight_decay: 0.0}
schedule: {type: constant}
train: {batch_size: 16, max_steps: 16, seed: 7, eval_steps: 8, save_steps: 8, logging_steps: 1}
reward: {center_rewards_coefficient: 0.01}
`), 0o644))
	r, err := recipes.Load(path, append([]string{"output_dir=" + out}, overrides...))
	require.NoError(t, err)
	return r
}

func TestRunTrainsSavesEvaluatesAndResumesExactly(t *testing.T) {
	out := t.TempDir()
	r := tinyRecipe(t, out)
	res, err := reward.Run(context.Background(), r, reward.Options{})
	require.NoError(t, err)
	require.Equal(t, 16, res.Steps)
	require.NotNil(t, res.Eval)
	require.Equal(t, 200, res.Eval.Metrics.Pairs, "the built-in held-out split")

	records, err := train.ReadMetrics(filepath.Join(out, train.MetricsFile))
	require.NoError(t, err)
	require.Len(t, records, 16)
	first := records[0].Values
	require.Contains(t, records[7].Values, "eval_accuracy")
	meanLoss := func(rs []train.MetricsRecord) float64 {
		var s float64
		for _, r := range rs {
			s += r.Values["loss"]
		}
		return s / float64(len(rs))
	}
	require.Less(t, meanLoss(records[12:]), meanLoss(records[:4]), "the Bradley–Terry loss falls")
	for _, k := range []string{"accuracy", "rewards/chosen", "rewards/rejected", "rewards/margins", "grad_norm", "lr"} {
		require.Contains(t, first, k)
	}
	for _, f := range []string{reward.EvalMetricsFile, reward.EvalPairsFile, reward.EvalHistogramFile, "loss.png", "tokenizer.json",
		filepath.Join("checkpoint-16", train.OptimizerFile)} {
		require.FileExists(t, filepath.Join(out, f))
	}

	t.Run("the saved classifier reproduces the final evaluation", func(t *testing.T) {
		rm, err := reward.Load(cpu.New(), out)
		require.NoError(t, err)
		tok, err := tokenizer.Load(out)
		require.NoError(t, err)
		_, evalPairs, _, err := reward.EncodePairs(r, tok)
		require.NoError(t, err)
		ev, err := rm.Evaluate(evalPairs, 16, 0)
		require.NoError(t, err)
		require.Equal(t, res.Eval.Metrics.Accuracy, ev.Metrics.Accuracy)
		require.InDelta(t, res.Eval.Pairs[0].Chosen, ev.Pairs[0].Chosen, 1e-5)

		var saved reward.Metrics
		raw, err := os.ReadFile(filepath.Join(out, reward.EvalMetricsFile))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(raw, &saved))
		require.Equal(t, res.Eval.Metrics.Accuracy, saved.Accuracy)
	})

	t.Run("a resumed run ends where the straight run ended", func(t *testing.T) {
		out2 := t.TempDir()
		r2 := tinyRecipe(t, out2)
		_, err := reward.Run(context.Background(), r2, reward.Options{})
		require.NoError(t, err)
		// Keep only checkpoint-8, as if the run had stopped after step 8.
		require.NoError(t, os.RemoveAll(filepath.Join(out2, "checkpoint-16")))
		require.NoError(t, os.Remove(filepath.Join(out2, "model.safetensors")))
		resumed, err := reward.Run(context.Background(), r2, reward.Options{Lifecycle: train.Lifecycle{Resume: train.ResumeLatest}})
		require.NoError(t, err)
		require.Equal(t, 8, resumed.Resumed)
		require.Equal(t, res.Model.Score, resumed.Model.Score, "score head bit for bit")
		require.Equal(t, res.TrainLoss, resumed.TrainLoss)
		require.Equal(t, res.Eval.Metrics, resumed.Eval.Metrics)
	})
}

func TestRunWithLoRATrainsAdaptersAndHead(t *testing.T) {
	out := t.TempDir()
	r := tinyRecipe(t, out, "lora.enabled=true", "lora.r=4", "lora.alpha=8", "lora.dropout=0", "train.max_steps=4", "train.save_steps=4", "train.eval_steps=0")
	res, err := reward.Run(context.Background(), r, reward.Options{})
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(out, "checkpoint-4", "adapter_model.safetensors"), "checkpoints keep the adapter unmerged")
	rm, err := reward.Load(cpu.New(), out)
	require.NoError(t, err, "the final model is a plain classifier with the adapters merged")
	require.Equal(t, res.Model.Score, rm.Score)
	tok, err := tokenizer.Load(out)
	require.NoError(t, err)
	_, evalPairs, _, err := reward.EncodePairs(r, tok)
	require.NoError(t, err)
	ev, err := rm.Evaluate(evalPairs[:20], 8, 0)
	require.NoError(t, err)
	for i, p := range ev.Pairs {
		require.InDelta(t, res.Eval.Pairs[i].Chosen, p.Chosen, 1e-4, "pair %d", i)
	}
}
