package main

// The run-lifecycle half of the reliability suite (issue 12): every class of
// failure a run can meet — divergence, writing over inputs, two writers,
// resuming the wrong thing, interrupts, panics — goes through the real binary,
// and each case asserts the exit code, the message, and that no input or
// previous run lost a byte. TestReliabilityRun logs the lifecycleTally: inputs tried,
// clear errors, panics, hangs, data lost.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/train"
)

// cliLimit is how long one command may take before it counts as a hang.
const cliLimit = 60 * time.Second

// lifecycleTally counts the suite's inputs by outcome.
type lifecycleTally struct {
	tried, clear, ok, panics, hangs, lost int
}

// outcome is one finished command.
type outcome struct {
	stdout, stderr string
	code           int
}

// lifecycleSuite holds the shared fixtures and the lifecycleTally.
type lifecycleSuite struct {
	tmp  string
	base string // a tiny trained model (sft-tiny, 2 steps) with its tokenizer
	n    lifecycleTally
}

// exec runs the binary, counting a hang and a panic.
func (s *lifecycleSuite) exec(t *testing.T, args ...string) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	s.n.tried++
	o := outcome{stdout: out.String(), stderr: errOut.String()}
	if ctx.Err() != nil {
		s.n.hangs++
		t.Fatalf("posttrain %s did not finish within %s", strings.Join(args, " "), cliLimit)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		o.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("posttrain %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(o.stderr, "goroutine ") || strings.Contains(o.stderr, "panic:") {
		s.n.panics++
		t.Errorf("posttrain %s panicked:\n%s", strings.Join(args, " "), o.stderr)
	}
	return o
}

// fails runs a command that must fail with exit 1 and an error naming each of
// want, leaving every file under guarded as it was.
func (s *lifecycleSuite) fails(t *testing.T, guarded []string, want []string, args ...string) outcome {
	t.Helper()
	before := hashTrees(t, guarded...)
	o := s.exec(t, args...)
	s.checkUnchanged(t, guarded, before)
	clear := o.code == 1 && strings.HasPrefix(o.stderr[strings.LastIndex(strings.TrimSuffix(o.stderr, "\n"), "\n")+1:], "Error: ")
	for _, w := range want {
		if !strings.Contains(o.stderr, w) {
			clear = false
			t.Errorf("posttrain %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, o.stderr)
		}
	}
	assert.Equal(t, 1, o.code, "exit code of posttrain %s; stderr:\n%s", strings.Join(args, " "), o.stderr)
	if clear {
		s.n.clear++
	}
	return o
}

// succeeds runs a command that must exit 0, leaving guarded unchanged.
func (s *lifecycleSuite) succeeds(t *testing.T, guarded []string, args ...string) outcome {
	t.Helper()
	before := hashTrees(t, guarded...)
	o := s.exec(t, args...)
	s.checkUnchanged(t, guarded, before)
	require.Equal(t, 0, o.code, "posttrain %s; stderr:\n%s", strings.Join(args, " "), o.stderr)
	s.n.ok++
	return o
}

func (s *lifecycleSuite) checkUnchanged(t *testing.T, guarded []string, before map[string]string) {
	t.Helper()
	after := hashTrees(t, guarded...)
	if !assert.Equal(t, before, after, "files under %v changed", guarded) {
		s.n.lost++
	}
}

// hashTrees maps every regular file under the roots to its sha256 (the
// lock file, which holds the last writer's pid, excluded).
func hashTrees(t *testing.T, roots ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil || !d.Type().IsRegular() || d.Name() == train.LockFile {
				return err
			}
			body, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(body)
			out[path] = hex.EncodeToString(sum[:])
			return nil
		})
		require.NoError(t, err)
	}
	return out
}

// sftArgs returns the arguments of a short sft-tiny run into out.
func sftArgs(out string, extra ...string) []string {
	return append([]string{"run", "sft-tiny", "output_dir=" + out, "max_steps=2", "save_steps=1",
		"eval_steps=0", "logging_steps=1"}, extra...)
}

// fromBase makes a recipe start from the suite's base model.
func (s *lifecycleSuite) fromBase(path string) []string {
	return []string{"model.init=", "model.tokenizer=", "model.path=" + path}
}

func (s *lifecycleSuite) dir(name string) string { return filepath.Join(s.tmp, name) }

func writeFileAt(t *testing.T, path, body string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
	return path
}

// copyModel copies the base model directory (files only) to dst, applying
// edit to the loaded weights when it is set.
func (s *lifecycleSuite) copyModel(t *testing.T, dst string, edit func(m *model.Model)) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	for _, name := range []string{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		body, err := os.ReadFile(filepath.Join(s.base, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, name), body, 0o644))
	}
	if edit != nil {
		m, err := model.Load(cpu.New(), s.base)
		require.NoError(t, err)
		edit(m)
		require.NoError(t, m.Save(dst, model.SaveOptions{}))
	}
	return dst
}

func TestReliabilityRun(t *testing.T) {
	s := &lifecycleSuite{tmp: t.TempDir()}
	s.base = s.dir("base")
	s.succeeds(t, nil, "run", "sft-tiny", "output_dir="+s.base, "max_steps=2", "save_steps=0", "eval_steps=0")
	t.Cleanup(func() {
		t.Logf("reliability (run lifecycle): %d inputs tried: %d clear errors, %d succeeded as intended, %d panics, %d hangs, %d data lost",
			s.n.tried, s.n.clear, s.n.ok, s.n.panics, s.n.hangs, s.n.lost)
	})
	t.Run("divergence", s.divergence)
	t.Run("inputs are never overwritten", s.inputs)
	t.Run("one writer per output_dir", s.writers)
	t.Run("resume checks what it resumes", s.resume)
	t.Run("signals exit 128+n after the checkpoint", s.signals)
	t.Run("a panic is an error with a bug-report hint", s.panics)
}

func (s *lifecycleSuite) divergence(t *testing.T) {
	base := []string{s.base}
	t.Run("a huge learning rate stops at the first diverged step", func(t *testing.T) {
		out := s.dir("diverge")
		s.fails(t, base, []string{"training diverged", "sft step "},
			sftArgs(out, "max_steps=12", "optim.lr=1e6", "optim.grad_clip=0")...)
		assert.NoFileExists(t, filepath.Join(out, "model.safetensors"), "no final model from a diverged run")
		cps, err := train.ListCheckpoints(out)
		require.NoError(t, err)
		for _, c := range cps {
			_, err := model.Load(cpu.New(), c.Dir) // Load refuses non-finite weights
			assert.NoError(t, err, "checkpoint %s holds only finite weights", c.Dir)
		}
	})
	t.Run("an input model with a NaN weight", func(t *testing.T) {
		var name string
		nan := s.copyModel(t, s.dir("nan-model"), func(m *model.Model) {
			p := m.Params.Tensors[3]
			cpu.F(p.Buf)[5] = float32(math.NaN())
			name = p.Name
		})
		o := s.fails(t, []string{nan, s.base}, []string{"non-finite weight", `tensor "` + name + `" holds NaN at index 5`},
			append(sftArgs(s.dir("from-nan")), s.fromBase(nan)...)...)
		assert.NotContains(t, o.stderr, "step 1/")
	})
	t.Run("a reward margin that overflows the loss", func(t *testing.T) {
		data := writeFileAt(t, s.dir("margin.jsonl"), strings.Repeat(`{"prompt":"reverse ab","chosen":"ba","rejected":"ab","margin":1e300}`+"\n", 4))
		s.fails(t, []string{data, s.base}, []string{"reward step 1", "loss is +Inf"},
			"run", "reward-tiny", "model.path="+s.base, "data.train="+data, "output_dir="+s.dir("margin"),
			"max_steps=2", "eval_steps=0", "save_steps=0")
		// skip_nonfinite_steps skips a counted number of such steps, then stops.
		o := s.fails(t, []string{data, s.base}, []string{"reward step 3", "after skipping 2 non-finite steps"},
			"run", "reward-tiny", "model.path="+s.base, "data.train="+data, "output_dir="+s.dir("margin-skip"),
			"max_steps=5", "eval_steps=0", "save_steps=0", "logging_steps=1", "train.skip_nonfinite_steps=2")
		assert.Contains(t, o.stderr, "skipped_nonfinite=2.0000")
	})
	t.Run("a huge learning rate that saturates the weights", func(t *testing.T) {
		out := s.dir("saturate")
		s.fails(t, base, []string{"grpo iteration", "beyond ±1e+06", "training diverged"},
			"run", "grpo-tiny", "model.path="+s.base, "output_dir="+out, "max_steps=4", "save_steps=1",
			"optim.lr=1e9", "schedule.warmup_steps=0", "grpo.num_generations=2", "train.batch_size=2")
		assert.NoFileExists(t, filepath.Join(out, "model.safetensors"))
	})
	t.Run("every completion truncated away", func(t *testing.T) {
		o := s.fails(t, base, []string{"no token carries a loss", "data.max_length (4)"},
			sftArgs(s.dir("truncated"), "data.max_length=4")...)
		assert.NotContains(t, o.stderr, "step 1/", "refused before training")
	})
	t.Run("grpo prompts all longer than max_prompt_length", func(t *testing.T) {
		s.fails(t, base, []string{"no prompts", "data.max_prompt_length 1"},
			"run", "grpo-tiny", "model.path="+s.base, "output_dir="+s.dir("grpo-long"), "data.max_prompt_length=1")
	})
	t.Run("dpo pairs all longer than max_length", func(t *testing.T) {
		data := writeFileAt(t, s.dir("pairs.jsonl"), strings.Repeat(`{"prompt":"reverse abcdefgh","chosen":"hgfedcba","rejected":"abcdefgh"}`+"\n", 4))
		recipe := writeFileAt(t, s.dir("dpo.yaml"), "stage: dpo\nmodel:\n  path: "+s.base+"\ndata:\n  train: "+data+
			"\n  max_length: 8\ntrain:\n  batch_size: 2\n  max_steps: 2\n  save_steps: 0\noutput_dir: "+s.dir("dpo-trunc")+"\n")
		o := s.fails(t, []string{data, s.base}, []string{"no preference pairs left", "4 dropped", "data.max_length 8"}, "run", recipe)
		assert.NotContains(t, o.stderr, "step 1/", "refused before training")
	})
}

func (s *lifecycleSuite) inputs(t *testing.T) {
	base := []string{s.base}
	batch := writeFileAt(t, s.dir("batch.json"), `{"input_ids": [[1, 2, 3]], "labels": [[2, 3, 4]]}`)
	t.Run("debug forward --out inside the model", func(t *testing.T) {
		s.fails(t, base, []string{"is inside --model"},
			"debug", "forward", "--model", s.base, "--batch", batch, "--out", filepath.Join(s.base, "model.safetensors"), "--device", "cpu")
	})
	t.Run("debug forward --out over a file needs --overwrite", func(t *testing.T) {
		out := writeFileAt(t, s.dir("grads.safetensors"), "keep me")
		s.fails(t, []string{out, s.base}, []string{"exists; pass --overwrite"},
			"debug", "forward", "--model", s.base, "--batch", batch, "--out", out, "--device", "cpu")
		s.succeeds(t, base, "debug", "forward", "--model", s.base, "--batch", batch, "--out", out, "--device", "cpu", "--overwrite")
	})
	t.Run("debug forward --out is the batch file", func(t *testing.T) {
		s.fails(t, []string{batch}, []string{"is the --batch"},
			"debug", "forward", "--model", s.base, "--batch", batch, "--out", batch, "--device", "cpu", "--overwrite")
	})
	t.Run("model init over an existing model", func(t *testing.T) {
		cfg := writeFileAt(t, s.dir("config.json"), string(readFile(t, filepath.Join(s.base, "config.json"))))
		s.fails(t, base, []string{"already holds a model", "--overwrite"}, "model", "init", "--config", cfg, "--out", s.base)
		s.fails(t, base, []string{"would overwrite --config"},
			"model", "init", "--config", filepath.Join(s.base, "config.json"), "--out", s.base, "--overwrite")
		other := s.copyModel(t, s.dir("init-over"), nil)
		s.succeeds(t, base, "model", "init", "--config", filepath.Join(s.base, "config.json"), "--out", other, "--overwrite")
	})
	t.Run("lora merge --out is the base", func(t *testing.T) {
		s.fails(t, base, []string{"is the --base"}, "lora", "merge", "--base", s.base, "--adapter", s.dir("no-adapter"), "--out", s.base)
		other := s.copyModel(t, s.dir("merge-over"), nil)
		s.fails(t, []string{other}, []string{"already holds a model"}, "lora", "merge", "--base", s.base, "--adapter", s.dir("no-adapter"), "--out", other)
	})
	t.Run("run output_dir is model.path", func(t *testing.T) {
		s.fails(t, base, []string{"output_dir", "is the model.path it reads"}, append(sftArgs(s.base), s.fromBase(s.base)...)...)
	})
	t.Run("run output_dir inside model.path", func(t *testing.T) {
		s.fails(t, base, []string{"is inside model.path"}, append(sftArgs(filepath.Join(s.base, "sub")), s.fromBase(s.base)...)...)
		assert.NoDirExists(t, filepath.Join(s.base, "sub"))
	})
	t.Run("run output_dir contains model.path", func(t *testing.T) {
		parent := s.dir("parent")
		inner := s.copyModel(t, filepath.Join(parent, "model"), nil)
		s.fails(t, []string{parent}, []string{"contains model.path"}, append(sftArgs(parent), s.fromBase(inner)...)...)
	})
	t.Run("run output_dir is the reward model", func(t *testing.T) {
		s.fails(t, base, []string{"is the ppo.reward_model it reads"}, "run", "ppo-tiny", "model.path="+s.dir("anything"),
			"ppo.reward_model="+s.base, "output_dir="+s.base)
	})
	t.Run("run output_dir is the data file's directory and the file is metrics.jsonl", func(t *testing.T) {
		dir := s.dir("data-dir")
		data := writeFileAt(t, filepath.Join(dir, "metrics.jsonl"), `{"prompt":"reverse ab","completion":"ba"}`+"\n")
		s.fails(t, []string{dir}, []string{"would overwrite data.train"}, sftArgs(dir, "data.train="+data)...)
	})
}

func (s *lifecycleSuite) writers(t *testing.T) {
	t.Run("a second run into a used output_dir", func(t *testing.T) {
		out := s.dir("reuse")
		s.succeeds(t, nil, sftArgs(out, "max_steps=4")...)
		s.fails(t, []string{out}, []string{"holds a previous run", "checkpoint-4", "--resume", "--overwrite"}, sftArgs(out)...)
	})
	t.Run("--overwrite removes the old checkpoints first", func(t *testing.T) {
		out := s.dir("overwrite")
		s.succeeds(t, nil, sftArgs(out, "max_steps=4")...)
		o := s.succeeds(t, nil, append(sftArgs(out), "--overwrite")...)
		assert.Contains(t, o.stderr, "removed 2 checkpoints") // save_total_limit 2 kept checkpoint-3 and -4
		assert.NoDirExists(t, filepath.Join(out, "checkpoint-4"), "an old checkpoint left for a later --resume")
		assert.DirExists(t, filepath.Join(out, "checkpoint-2"))
		recs, err := train.ReadMetrics(filepath.Join(out, train.MetricsFile))
		require.NoError(t, err)
		assert.Len(t, recs, 2, "the metrics log is the new run's alone")
	})
	t.Run("train.overwrite_output_dir=true does the same", func(t *testing.T) {
		out := s.dir("overwrite-key")
		s.succeeds(t, nil, sftArgs(out, "max_steps=3")...)
		s.succeeds(t, nil, sftArgs(out, "train.overwrite_output_dir=true")...)
		assert.NoDirExists(t, filepath.Join(out, "checkpoint-3"))
	})
	t.Run("a locked output_dir", func(t *testing.T) {
		out := s.dir("locked")
		require.NoError(t, os.MkdirAll(out, 0o755))
		lock, err := train.LockDir(out) // another writer, as far as the binary can tell
		require.NoError(t, err)
		defer lock.Unlock()
		s.fails(t, []string{out}, []string{"is being written by another posttrain run", out}, sftArgs(out)...)
	})
	t.Run("run demo into a used output_dir", func(t *testing.T) {
		out := s.dir("demo")
		writeFileAt(t, filepath.Join(out, "sft", train.MetricsFile), `{"step":1,"loss":1}`+"\n")
		s.fails(t, []string{out}, []string{filepath.Join(out, "sft"), "--resume", "--overwrite"}, "run", "demo", "output_dir="+out)
	})
}

func (s *lifecycleSuite) resume(t *testing.T) {
	t.Run("--resume with nothing to resume", func(t *testing.T) {
		s.fails(t, nil, []string{"does not exist, so there is no checkpoint", "--resume=auto"}, append(sftArgs(s.dir("nothing")), "--resume")...)
		assert.NoDirExists(t, s.dir("nothing"))
		empty := s.dir("empty")
		require.NoError(t, os.MkdirAll(empty, 0o755))
		s.fails(t, []string{empty}, []string{"no valid checkpoint found", "--resume=auto"}, append(sftArgs(empty), "--resume")...)
	})
	t.Run("--resume=auto starts a new run when there is none", func(t *testing.T) {
		o := s.succeeds(t, nil, append(sftArgs(s.dir("auto")), "--resume=auto")...)
		assert.Contains(t, o.stderr, "starting a new run")
	})
	t.Run("--resume and --overwrite together", func(t *testing.T) {
		s.fails(t, nil, []string{"exclude each other"}, append(sftArgs(s.dir("both")), "--resume", "--overwrite")...)
	})
	t.Run("--resume=maybe", func(t *testing.T) {
		s.fails(t, nil, []string{"--resume=maybe"}, append(sftArgs(s.dir("maybe")), "--resume=maybe")...)
	})

	data := writeFileAt(t, s.dir("sft.jsonl"), strings.Repeat(`{"prompt":"reverse abc","completion":"cba"}`+"\n", 8))
	out := s.dir("resumable")
	s.succeeds(t, []string{data}, sftArgs(out, "data.train="+data, "max_steps=3")...)
	cp := filepath.Join(out, "checkpoint-3")

	t.Run("prints the checkpoint and warns about lr and max_steps", func(t *testing.T) {
		o := s.succeeds(t, []string{data, cp}, append(sftArgs(out, "data.train="+data, "max_steps=4", "optim.lr=1e-3"), "--resume")...)
		assert.Contains(t, o.stderr, "resuming from "+cp+" (step 3)")
		assert.Contains(t, o.stderr, "optim.lr (0.002 -> 0.001)")
		assert.Contains(t, o.stderr, "train.max_steps (3 -> 4)")
	})
	cp = filepath.Join(out, "checkpoint-4")
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"a changed seed", []string{"train.seed=7"}, "train.seed (42 -> 7)"},
		{"a changed batch size", []string{"train.batch_size=4"}, "train.batch_size (32 -> 4)"},
		{"a changed grad_accum", []string{"train.grad_accum=2"}, "train.grad_accum (1 -> 2)"},
		{"a changed model config", []string{"model.init.hidden_size=64"}, "model.init.hidden_size (128 -> 64)"},
		{"another data file", []string{"data.train=builtin:reverse"}, "data.train (" + data + " -> builtin:reverse)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(sftArgs(out, append([]string{"data.train=" + data, "max_steps=5"}, tc.extra...)...), "--resume")
			s.fails(t, []string{out, data}, []string{tc.want, "--allow-recipe-change"}, args...)
		})
	}
	t.Run("changed data content", func(t *testing.T) {
		edited := writeFileAt(t, s.dir("sft-edited.jsonl"), strings.Repeat(`{"prompt":"reverse abd","completion":"dba"}`+"\n", 8))
		body, err := os.ReadFile(data)
		require.NoError(t, err)
		defer os.WriteFile(data, body, 0o644)
		require.NoError(t, os.Rename(edited, data))
		s.fails(t, []string{out, data}, []string{"data.train content", "changed since the checkpoint"},
			append(sftArgs(out, "data.train="+data, "max_steps=5"), "--resume")...)
	})
	t.Run("a changed config.json in model.path", func(t *testing.T) {
		mpath := s.copyModel(t, s.dir("model-edited"), nil)
		dir := s.dir("from-edited")
		s.succeeds(t, []string{mpath}, append(sftArgs(dir), s.fromBase(mpath)...)...)
		cfg := filepath.Join(mpath, "config.json")
		writeFileAt(t, cfg, string(readFile(t, cfg))+"\n")
		s.fails(t, []string{dir, mpath}, []string{"model.path content", cfg},
			append(append(sftArgs(dir, "max_steps=3"), s.fromBase(mpath)...), "--resume")...)
	})
	t.Run("--allow-recipe-change resumes with a warning", func(t *testing.T) {
		o := s.succeeds(t, []string{data, cp}, append(sftArgs(out, "data.train="+data, "max_steps=5", "train.seed=7"), "--resume", "--allow-recipe-change")...)
		assert.Contains(t, o.stderr, "will not continue exactly: train.seed (42 -> 7)")
	})
	t.Run("a flipped byte in the newest checkpoint", func(t *testing.T) {
		cp := filepath.Join(out, "checkpoint-5")
		file := filepath.Join(cp, "model.safetensors")
		body, err := os.ReadFile(file)
		require.NoError(t, err)
		body[len(body)-7] ^= 0x10
		require.NoError(t, os.WriteFile(file, body, 0o644))
		s.fails(t, []string{out}, []string{file, "is damaged", "checkpoint-4"},
			append(sftArgs(out, "data.train="+data, "max_steps=6", "train.seed=7"), "--resume", "--allow-recipe-change")...)
	})
	t.Run("a checkpoint whose trainer state is garbage", func(t *testing.T) {
		dir := s.dir("garbage")
		s.succeeds(t, nil, sftArgs(dir)...)
		writeFileAt(t, filepath.Join(dir, "checkpoint-2", train.TrainerStateFile), "{")
		s.fails(t, []string{dir}, []string{"checkpoint-2 is damaged", "checkpoint-1"}, append(sftArgs(dir, "max_steps=3"), "--resume")...)
	})
}

// signals runs a long sft-tiny, waits for its first logged step and stops it
// with sig: the checkpoint of the step in flight is saved and the exit code is
// 128+sig.
func (s *lifecycleSuite) signals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			out := s.dir("signal-" + tc.sig.String())
			cmd := exec.Command(binary, sftArgs(out, "max_steps=100000", "save_steps=0")...)
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			s.n.tried++
			lines := bufio.NewScanner(stderr)
			var tail bytes.Buffer
			for lines.Scan() {
				tail.WriteString(lines.Text() + "\n")
				if strings.HasPrefix(lines.Text(), "step 1/") {
					break
				}
			}
			require.NoError(t, cmd.Process.Signal(tc.sig))
			rest, _ := io.ReadAll(stderr)
			tail.Write(rest)
			err = cmd.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "stderr:\n%s", tail.String())
			assert.Equal(t, tc.code, exit.ExitCode(), "stderr:\n%s", tail.String())
			assert.Contains(t, tail.String(), "is saved")
			assert.NotContains(t, tail.String(), "goroutine ")
			rp, ok, err := train.FindResumeCheckpoint(out)
			require.NoError(t, err)
			require.True(t, ok, "a checkpoint was saved")
			assert.Positive(t, rp.Step)
			if exit.ExitCode() == tc.code {
				s.n.ok++
			}
		})
	}
}

// panics checks the top-level recover in-process: a command that panics ends
// in an error with a bug-report hint and exit code 70, not a stack dump.
func (s *lifecycleSuite) panics(t *testing.T) {
	boom := &cobra.Command{Use: "boom", Hidden: true, RunE: func(*cobra.Command, []string) error {
		var m map[string]int
		m["x"]++ // a nil-map write: a runtime panic
		return nil
	}}
	rootCmd.AddCommand(boom)
	defer rootCmd.RemoveCommand(boom)
	rootCmd.SetArgs([]string{"boom"})
	defer rootCmd.SetArgs(nil)
	var stderr bytes.Buffer
	code := exitCode(execute(), &stderr)
	s.n.tried++
	assert.Equal(t, exitInternal, code)
	assert.Contains(t, stderr.String(), "internal error: assignment to entry in nil map")
	assert.Contains(t, stderr.String(), "this is a bug in posttrain")
	assert.NotContains(t, stderr.String(), "goroutine ")
	if code == exitInternal {
		s.n.clear++
	}
}
