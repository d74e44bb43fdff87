package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/internal/fixtures"
)

// startRun starts `posttrain run sft-tiny` into dir without waiting.
func startRun(t *testing.T, dir string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"run", "sft-tiny", "output_dir=" + dir, "max_steps=40", "save_steps=5"}, extra...)
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("stderr of %v:\n%s", args, stderr.String())
		}
	})
	return cmd
}

// waitFor polls until path exists.
func waitFor(t *testing.T, path string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %s", path, limit)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestResumeAfterSIGKILLIsExact is the acceptance test of exact resume: a run
// killed at an arbitrary moment after its first checkpoint and resumed ends
// with the same bytes as an uninterrupted run.
func TestResumeAfterSIGKILLIsExact(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	full := startRun(t, a)
	require.NoError(t, full.Wait())
	want := readFile(t, filepath.Join(a, "model.safetensors"))

	// Kill points: the moment the first checkpoint is complete, and a while
	// after a later one (mid-step or mid-save, wherever the machine's speed
	// puts it). A run that already finished is resumed all the same.
	for attempt, kill := range []struct {
		after string
		delay time.Duration
	}{{"checkpoint-5/trainer_state.json", 0}, {"checkpoint-15/trainer_state.json", 150 * time.Millisecond}} {
		require.NoError(t, os.RemoveAll(b))
		killed := startRun(t, b)
		waitFor(t, filepath.Join(b, kill.after), time.Minute)
		time.Sleep(kill.delay)
		if err := killed.Process.Signal(syscall.SIGKILL); err != nil {
			require.ErrorIs(t, err, os.ErrProcessDone)
		}
		_ = killed.Wait()
		t.Logf("attempt %d: killed %v after %s appeared", attempt, kill.delay, kill.after)

		// A half-written checkpoint and an unmarked one must never be picked.
		require.NoError(t, os.MkdirAll(filepath.Join(b, ".tmp-checkpoint-995-x"), 0o755))
		require.NoError(t, os.MkdirAll(filepath.Join(b, "checkpoint-999"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(b, "checkpoint-999", "model.safetensors"), []byte("garbage"), 0o644))

		resumed := startRun(t, b, "--resume")
		require.NoError(t, resumed.Wait())
		got := readFile(t, filepath.Join(b, "model.safetensors"))
		require.True(t, bytes.Equal(want, got), "resumed model differs from the uninterrupted run (attempt %d)", attempt)
		require.NoDirExists(t, filepath.Join(b, ".tmp-checkpoint-995-x"), "stale temporary checkpoints are cleaned")
	}
}

// TestSIGINTSavesAndResumes: Ctrl-C ends the run cleanly with a checkpoint of
// the current step, from which --resume finishes identically.
func TestSIGINTSavesAndResumes(t *testing.T) {
	tmp := t.TempDir()
	a, b := filepath.Join(tmp, "A"), filepath.Join(tmp, "B")
	require.NoError(t, startRun(t, a).Wait())

	run := startRun(t, b, "save_steps=1000")
	// The first metrics line is written at step 10 of 40: interrupt then.
	waitFor(t, filepath.Join(b, "metrics.jsonl"), time.Minute)
	require.NoError(t, run.Process.Signal(syscall.SIGINT))
	var exit *exec.ExitError
	require.ErrorAs(t, run.Wait(), &exit)
	require.Equal(t, 130, exit.ExitCode(), "SIGINT saves a checkpoint and exits with 128+SIGINT")
	matches, err := filepath.Glob(filepath.Join(b, "checkpoint-*", "trainer_state.json"))
	require.NoError(t, err)
	require.Len(t, matches, 1, "one checkpoint saved on interrupt")
	var st struct {
		GlobalStep int `json:"global_step"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, matches[0]), &st))
	require.Greater(t, st.GlobalStep, 0)
	require.Less(t, st.GlobalStep, 40, "interrupted before the end")

	require.NoError(t, startRun(t, b, "save_steps=1000", "--resume").Wait())
	require.Equal(t, readFile(t, filepath.Join(a, "model.safetensors")), readFile(t, filepath.Join(b, "model.safetensors")))
}

func TestRunOutputsHFCheckpointsMetricsAndPlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	out, err := run(t, "run", "sft-tiny", "output_dir="+dir, "max_steps=10", "save_steps=5", "train.eval_steps=5")
	require.NoError(t, err)
	require.Contains(t, out, "trained 10 steps")
	for _, f := range []string{"model.safetensors", "config.json", "generation_config.json", "tokenizer.json",
		"tokenizer_config.json", "metrics.jsonl", "loss.png",
		"checkpoint-5/model.safetensors", "checkpoint-5/optimizer.safetensors", "checkpoint-5/trainer_state.json",
		"checkpoint-10/tokenizer.json", "checkpoint-10/config.json"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	lines := bytes.Split(bytes.TrimSpace(readFile(t, filepath.Join(dir, "metrics.jsonl"))), []byte("\n"))
	var last map[string]float64
	require.NoError(t, json.Unmarshal(lines[len(lines)-1], &last))
	for _, k := range []string{"step", "loss", "lr", "grad_norm", "tokens_per_s", "eval_loss"} {
		require.Contains(t, last, k)
	}
	// The final model generates.
	_, err = run(t, "generate", "--model", dir, "--prompt", "reverse abcde", "--max-new-tokens", "4")
	require.NoError(t, err)

	_, err = run(t, "run", "sft-tiny", "output_dir="+dir, "optim.learning_rate=1")
	require.ErrorContains(t, err, `unknown key "optim.learning_rate"`)
}

func TestRunReportsSkippedRowsAndVocabularyMismatch(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "train.jsonl")
	require.NoError(t, os.WriteFile(data, []byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}
{"messages":[{"role":"user","content":"x"}
{"prompt":"a"}
`), 0o644))
	_, err := run(t, "run", "sft-tiny", "output_dir="+filepath.Join(tmp, "a"), "data.train="+data, "eval_steps=0")
	require.ErrorContains(t, err, data+":2: malformed JSON")

	out, err := run(t, "run", "sft-tiny", "output_dir="+filepath.Join(tmp, "b"), "data.train="+data, "eval_steps=0",
		"data.skip_bad_rows=true", "max_steps=2")
	require.NoError(t, err)
	require.Contains(t, out, "2 bad rows skipped")
	require.Contains(t, out, data+`:3: field "messages" is missing`)

	dir := fixtures.Dir(t)
	_, err = run(t, "run", "sft-tiny", "output_dir="+filepath.Join(tmp, "c"), "model.init=",
		"model.path="+filepath.Join(dir, "tiny-llama3"), "model.tokenizer="+filepath.Join(dir, "tokenizer", "llama3"), "max_steps=1")
	require.ErrorContains(t, err, "has vocab_size 512 but the tokenizer has 128256 tokens")
}
