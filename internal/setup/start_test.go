package setup

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

func tinyRecipe(t *testing.T, out string, overrides ...string) *recipes.Recipe {
	t.Helper()
	r, err := recipes.Load("sft-tiny", append([]string{"output_dir=" + out, "device=cpu"}, overrides...))
	require.NoError(t, err)
	return r
}

func TestCheckNotInput(t *testing.T) {
	tmp := t.TempDir()
	modelDir := filepath.Join(tmp, "model")
	require.NoError(t, os.MkdirAll(modelDir, 0o755))
	link := filepath.Join(tmp, "link")
	require.NoError(t, os.Symlink(modelDir, link))
	data := filepath.Join(tmp, "runs", "metrics.jsonl")
	require.NoError(t, os.MkdirAll(filepath.Dir(data), 0o755))
	require.NoError(t, os.WriteFile(data, []byte("{}"), 0o644))
	in := []Input{{"model.path", modelDir}, {"data.train", data}, {"ppo.reward_model", "task:reverse"}}
	for _, tc := range []struct{ out, want string }{
		{modelDir, "is the model.path it reads"},
		{link, "is the model.path it reads"},
		{modelDir + "/../model/", "is the model.path it reads"},
		{filepath.Join(modelDir, "sub"), "is inside model.path"},
		{tmp, "contains model.path"},
		{filepath.Dir(data), "would overwrite data.train"},
		{data, "is the data.train it reads"},
	} {
		err := CheckNotInput("output_dir", tc.out, in...)
		require.ErrorIs(t, err, ErrOutputIsInput, tc.out)
		assert.Contains(t, err.Error(), tc.want, tc.out)
	}
	require.NoError(t, CheckNotInput("output_dir", filepath.Join(tmp, "model-sft"), in...), "a sibling with a common prefix")
	require.NoError(t, CheckNotInput("output_dir", "", in...))
}

func TestStartRunRefusesAPreviousRunUnlessOverwriteOrResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r := tinyRecipe(t, out)
	st, err := StartRun(r, train.Lifecycle{}, nil)
	require.NoError(t, err)
	_, err = StartRun(r, train.Lifecycle{}, nil)
	require.ErrorIs(t, err, train.ErrLocked, "one writer at a time")
	require.NoError(t, st.Close())

	require.NoError(t, os.MkdirAll(filepath.Join(out, "checkpoint-7"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, train.MetricsFile), []byte("{}\n"), 0o644))
	_, err = StartRun(r, train.Lifecycle{}, nil)
	require.ErrorIs(t, err, ErrOutputExists)
	assert.Contains(t, err.Error(), "checkpoint-7, metrics.jsonl")

	_, err = StartRun(r, train.Lifecycle{Resume: train.ResumeLatest}, nil)
	require.ErrorContains(t, err, "no valid checkpoint found", "checkpoint-7 has no marker: not a checkpoint")

	var log bytes.Buffer
	st, err = StartRun(r, train.Lifecycle{Overwrite: true}, &log)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.NoDirExists(t, filepath.Join(out, "checkpoint-7"))
	assert.NoFileExists(t, filepath.Join(out, train.MetricsFile))
	assert.Contains(t, log.String(), "removed 1 checkpoints")

	_, err = StartRun(r, train.Lifecycle{Resume: train.ResumeLatest, Overwrite: true}, nil)
	require.ErrorContains(t, err, "exclude each other")
}

func TestCompareRecordSortsChangesByEffect(t *testing.T) {
	dir := t.TempDir()
	old, err := NewRecord(tinyRecipe(t, "a"))
	require.NoError(t, err)
	require.NoError(t, old.Write(dir))

	cur, err := NewRecord(tinyRecipe(t, "b", "optim.lr=1e-3", "train.max_steps=9", "device=auto"))
	require.NoError(t, err)
	var log bytes.Buffer
	require.NoError(t, CompareRecord(dir, cur, false, &log))
	assert.Contains(t, log.String(), "optim.lr (0.002 -> 0.001), train.max_steps (600 -> 9)")
	assert.NotContains(t, log.String(), "output_dir", "where the run is written may change")
	assert.NotContains(t, log.String(), "device")

	cur, err = NewRecord(tinyRecipe(t, "a", "train.seed=1", "lora.enabled=true"))
	require.NoError(t, err)
	err = CompareRecord(dir, cur, false, &log)
	require.ErrorIs(t, err, ErrRecipeChanged)
	assert.Contains(t, err.Error(), "lora.enabled (false -> true), train.seed (42 -> 1)")
	log.Reset()
	require.NoError(t, CompareRecord(dir, cur, true, &log))
	assert.Contains(t, log.String(), "will not continue exactly")

	log.Reset()
	require.NoError(t, CompareRecord(t.TempDir(), cur, false, &log), "a checkpoint from before records")
	assert.Contains(t, log.String(), "cannot be checked")
}
