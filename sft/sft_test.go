package sft_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/sft"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

func recipe(t *testing.T, overrides ...string) *recipes.Recipe {
	t.Helper()
	r, err := recipes.Load("sft-tiny", append([]string{"output_dir=" + filepath.Join(t.TempDir(), "out")}, overrides...))
	require.NoError(t, err)
	return r
}

func TestSFTLowersHeldOutLoss(t *testing.T) {
	r := recipe(t, "max_steps=30", "save_steps=0", "eval_steps=30")
	res, err := sft.Run(context.Background(), r, sft.Options{})
	require.NoError(t, err)
	require.Equal(t, 30, res.Steps)
	records, err := train.ReadMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, records)
	first := records[0].Values["loss"]
	require.Less(t, res.TrainLoss, first*0.8, "training loss falls from %g", first)
	require.Less(t, res.EvalLoss, 4.0, "held-out loss well below ln(264) = 5.6 of an untrained model")
}

func TestEvalHookStopsEarlyAndItsModelIsFinal(t *testing.T) {
	r := recipe(t, "max_steps=40", "save_steps=0", "eval_steps=10")
	var seen []int
	hook := func(step int, m *model.Model, tok *tokenizer.Tokenizer) (map[string]float64, bool, error) {
		seen = append(seen, step)
		return map[string]float64{"eval_custom": float64(step)}, step == 20, nil
	}
	res, err := sft.Run(context.Background(), r, sft.Options{EvalHook: hook})
	require.NoError(t, err)
	require.Equal(t, []int{10, 20}, seen)
	require.Equal(t, 20, res.Steps)
	records, err := train.ReadMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
	require.NoError(t, err)
	last := records[len(records)-1]
	require.Equal(t, 20.0, last.Values["eval_custom"])
	require.FileExists(t, filepath.Join(r.OutputDir, "model.safetensors"))
}

func TestCancelledContextSavesACheckpoint(t *testing.T) {
	r := recipe(t, "max_steps=40", "save_steps=0", "eval_steps=0")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(train.ErrInterrupted)
	_, err := sft.Run(ctx, r, sft.Options{})
	require.ErrorIs(t, err, sft.ErrInterrupted)
	dir, step, ok, err := train.LatestCheckpoint(r.OutputDir)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, step, "the current step's checkpoint: %s", dir)
}
