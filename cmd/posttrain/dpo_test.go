package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
)

func TestDebugLogpsMatchesHF(t *testing.T) {
	var e struct {
		Logps []map[string]float64 `json:"logps"`
	}
	fixtures.JSON(t, &e, "dpo_expected.json")
	pairs := fixtures.Path(t, "dpo_expected.json")
	for _, tc := range []struct{ model, prefix string }{{"tiny-llama3", "policy"}, {"tiny-llama3-ref", "ref"}} {
		t.Run(tc.model, func(t *testing.T) {
			out, err := run(t, "debug", "logps", "--model", fixtures.Path(t, tc.model), "--pairs", pairs, "--device", "cpu")
			require.NoError(t, err)
			var got []map[string]float64
			require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &got))
			require.Len(t, got, len(e.Logps))
			for i, want := range e.Logps {
				for _, key := range []string{"chosen_logp", "rejected_logp", "chosen_logp_mean", "rejected_logp_mean"} {
					w := want[tc.prefix+"_"+key]
					assert.InDelta(t, w, got[i][key], 1e-4*math.Abs(w), "pair %d %s", i, key)
				}
			}
		})
	}
}

func TestDebugLogpsRejectsBadPairs(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"no pairs":       `{"logps": []}`,
		"empty prompt":   `{"pairs": [{"prompt": [], "chosen": [1], "rejected": [2]}]}`,
		"missing chosen": `{"pairs": [{"prompt": [1], "rejected": [2]}]}`,
		"not json":       `{"pairs": [`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "pairs.json")
			require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
			_, err := run(t, "debug", "logps", "--model", fixtures.Path(t, "tiny-llama3"), "--pairs", path, "--device", "cpu")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "pairs.json")
		})
	}
}

// TestRunDPORecipe runs a two-step DPO recipe through `posttrain run`.
func TestRunDPORecipe(t *testing.T) {
	dir := t.TempDir()
	recipe := filepath.Join(dir, "dpo.yaml")
	require.NoError(t, os.WriteFile(recipe, []byte(`stage: dpo
description: cli test
model:
  tokenizer: builtin:chars
  init: {vocab_size: 264, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2}
data:
  train: builtin:reverse-preference
  max_length: 64
train: {batch_size: 2, max_steps: 2, save_steps: 0, logging_steps: 1}
dpo: {loss_type: ipo}
device: cpu
`), 0o644))
	out := filepath.Join(dir, "out")
	stdout, err := run(t, "run", recipe, "output_dir="+out)
	require.NoError(t, err)
	assert.Contains(t, lastLine(stdout), "trained 2 steps")
	assert.FileExists(t, filepath.Join(out, "model.safetensors"))
	assert.FileExists(t, filepath.Join(out, "metrics.jsonl"))
}
