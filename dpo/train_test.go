package dpo

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

// tinyRecipe is a DPO run of a fresh 1-layer model on the built-in preference
// pairs: seconds on a CPU.
const tinyRecipe = `stage: dpo
description: test
model:
  tokenizer: builtin:chars
  init:
    vocab_size: 264
    hidden_size: 32
    intermediate_size: 64
    num_hidden_layers: 1
    num_attention_heads: 2
    num_key_value_heads: 1
    max_position_embeddings: 128
    tie_word_embeddings: true
data:
  train: builtin:reverse-preference
  format: preference
  max_length: 64
optim:
  lr: 1.0e-2
schedule:
  type: constant
train:
  batch_size: 4
  max_steps: 6
  logging_steps: 1
  save_steps: 0
  seed: 3
device: cpu
`

// tinyRun runs tinyRecipe into out; an override "--resume" resumes.
func tinyRun(t *testing.T, out string, overrides ...string) (*Result, []train.MetricsRecord) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny-dpo.yaml")
	require.NoError(t, os.WriteFile(path, []byte(tinyRecipe), 0o644))
	resume := slices.Contains(overrides, "--resume")
	overrides = slices.DeleteFunc(slices.Clone(overrides), func(o string) bool { return o == "--resume" })
	r, err := recipes.Load(path, append([]string{"output_dir=" + out}, overrides...))
	require.NoError(t, err)
	res, err := Run(context.Background(), r, Options{Lifecycle: lifecycle(resume)})
	require.NoError(t, err)
	recs, err := train.ReadMetrics(filepath.Join(out, metricsFile))
	require.NoError(t, err)
	return res, recs
}

func losses(recs []train.MetricsRecord) []float64 {
	var out []float64
	for _, r := range recs {
		if v, ok := r.Values["loss"]; ok {
			out = append(out, v)
		}
	}
	return out
}

// TestPrecomputedReferenceGivesSameTrajectory: the cached reference
// log-probs (computed once, then the model is dropped) and the per-batch
// reference lead to the same losses step by step; the policy starts equal to
// the reference, so the first loss is log 2.
func TestPrecomputedReferenceGivesSameTrajectory(t *testing.T) {
	perBatchDir, cachedDir := t.TempDir(), t.TempDir()
	_, perBatch := tinyRun(t, perBatchDir)
	res, cached := tinyRun(t, cachedDir, "dpo.precompute_ref_log_probs=true")
	assert.FileExists(t, filepath.Join(cachedDir, referenceCacheFile))
	assert.NoFileExists(t, filepath.Join(perBatchDir, referenceCacheFile))

	a, b := losses(perBatch), losses(cached)
	require.Len(t, a, 6)
	require.Len(t, b, 6)
	assert.InDelta(t, math.Ln2, a[0], 1e-6, "policy == reference at step 1")
	for i := range a {
		assert.InDelta(t, a[i], b[i], 1e-6, "step %d", i+1)
	}
	assert.Greater(t, math.Abs(a[5]-math.Ln2), 1e-3, "the policy moved away from the reference")
	for _, key := range []string{"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
		"logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "lr", "grad_norm"} {
		assert.Contains(t, res.Metrics, key)
	}
}

// TestResumeContinuesIdentically: a run resumed from checkpoint-3 logs the
// same steps 4..6 as an uninterrupted run.
func TestResumeContinuesIdentically(t *testing.T) {
	_, full := tinyRun(t, t.TempDir())
	out := t.TempDir()
	tinyRun(t, out, "train.save_steps=3", "dpo.precompute_ref_log_probs=true")
	require.NoError(t, os.RemoveAll(filepath.Join(out, "checkpoint-6")))
	res, resumed := tinyRun(t, out, "train.save_steps=3", "dpo.precompute_ref_log_probs=true", "--resume")
	assert.Equal(t, 3, res.Resumed)
	a, b := losses(full), losses(resumed)
	require.Len(t, b, 6)
	for i := range a {
		assert.InDelta(t, a[i], b[i], 1e-6, "step %d", i+1)
	}
}

// TestLoRAAndEval: with LoRA the reference is the base model with the adapter
// off (first loss log 2), and evaluation logs TRL's eval_ metrics.
func TestLoRAAndEval(t *testing.T) {
	res, recs := tinyRun(t, t.TempDir(), "lora.enabled=true", "lora.r=4", "lora.dropout=0", "train.max_steps=3", "train.eval_steps=3")
	l := losses(recs)
	require.Len(t, l, 3)
	assert.InDelta(t, math.Ln2, l[0], 1e-6)
	require.NotNil(t, res.EvalMetrics)
	for _, key := range []string{"eval_loss", "eval_rewards/accuracies", "eval_rewards/margins", "eval_logits/chosen", "eval_logps/rejected"} {
		assert.Contains(t, res.EvalMetrics, key)
	}
	assert.FileExists(t, filepath.Join(res.OutputDir, "adapter_model.safetensors"))
}

func lifecycle(resume bool) train.Lifecycle {
	if resume {
		return train.Lifecycle{Resume: train.ResumeLatest}
	}
	return train.Lifecycle{}
}
