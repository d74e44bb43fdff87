package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

// ErrOutputIsInput is wrapped when an output path is, contains or lies inside
// one of the command's inputs: writing there would destroy what is being read.
var ErrOutputIsInput = errors.New("setup: output would overwrite an input")

// ErrOutputExists is wrapped when an output already holds a model, a run or a
// file and the user did not ask to overwrite it.
var ErrOutputExists = errors.New("setup: output already exists")

// absPath resolves p to an absolute path with symlinks followed as far as the
// path exists, so "runs/../runs/x" and a link to it compare equal.
func absPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	// Resolve the longest existing prefix.
	rest := ""
	cur := abs
	for {
		if real, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// within reports whether path a is b or lies inside b.
func within(a, b string) bool {
	rel, err := filepath.Rel(b, a)
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}

// Input is a path a command reads, named by the flag or recipe key that gave it.
type Input struct {
	Key, Path string
}

// CheckNotInput refuses an output path that is an input, contains one or lies
// inside one (a model directory, a data file). Empty paths and built-in names
// (builtin:, task:) are not files and are skipped.
func CheckNotInput(outKey, out string, inputs ...Input) error {
	if out == "" {
		return nil
	}
	o := absPath(out)
	for _, in := range inputs {
		if in.Path == "" || strings.Contains(in.Path, ":") && !strings.HasPrefix(in.Path, "/") {
			continue
		}
		st, err := os.Stat(in.Path)
		if err != nil {
			continue
		}
		i := absPath(in.Path)
		switch {
		case o == i:
			return fmt.Errorf("%w: %s %s is the %s it reads; write to another path", ErrOutputIsInput, outKey, out, in.Key)
		case !st.IsDir():
			// A data file inside an output directory is safe unless it has the
			// name of a file the run writes there.
			if filepath.Dir(i) == o && slices.Contains(writtenNames, filepath.Base(i)) {
				return fmt.Errorf("%w: %s %s would overwrite %s %s; move it or write to another path", ErrOutputIsInput, outKey, out, in.Key, in.Path)
			}
		case within(i, o):
			return fmt.Errorf("%w: %s %s contains %s %s, which it would overwrite; write to another path", ErrOutputIsInput, outKey, out, in.Key, in.Path)
		case within(o, i):
			return fmt.Errorf("%w: %s %s is inside %s %s; write to another path", ErrOutputIsInput, outKey, out, in.Key, in.Path)
		}
	}
	return nil
}

// CheckOutputFile refuses to replace an existing file unless overwrite is set.
func CheckOutputFile(flag, path string, overwrite bool) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: %w", flag, path, err)
	case st.IsDir():
		return fmt.Errorf("%s %s is a directory; want a file path", flag, path)
	case !overwrite:
		return fmt.Errorf("%w: %s %s exists; pass --overwrite to replace it", ErrOutputExists, flag, path)
	}
	return nil
}

// modelFiles are the files whose presence makes a directory hold a model.
var modelFiles = []string{"config.json", "model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors", "adapter_config.json"}

// CheckOutputModelDir refuses to write a model into a directory that already
// holds one unless overwrite is set.
func CheckOutputModelDir(flag, dir string, overwrite bool) error {
	if overwrite {
		return nil
	}
	if found := presentFiles(dir, modelFiles); len(found) > 0 {
		return fmt.Errorf("%w: %s %s already holds a model (%s); pass --overwrite to replace it", ErrOutputExists, flag, dir, strings.Join(found, ", "))
	}
	return nil
}

func presentFiles(dir string, names []string) []string {
	var found []string
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			found = append(found, n)
		}
	}
	return found
}

// writtenNames are files a run writes at the top of its output_dir.
var writtenNames = append([]string{train.MetricsFile, "tokenizer.json", "tokenizer_config.json", "summary.json"}, modelFiles...)

var checkpointNameRE = regexp.MustCompile(`^checkpoint-[0-9]+$`)

// previousRun lists what a previous run left in outputDir: checkpoint
// directories, the metrics log and model files.
func previousRun(outputDir string) (checkpoints, files []string, err error) {
	entries, err := os.ReadDir(outputDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("output_dir: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && checkpointNameRE.MatchString(e.Name()) {
			checkpoints = append(checkpoints, e.Name())
		}
	}
	files = presentFiles(outputDir, append([]string{train.MetricsFile}, modelFiles...))
	slices.Sort(checkpoints)
	return checkpoints, files, nil
}

// recipeInputs are the paths a recipe reads.
func recipeInputs(r *recipes.Recipe) []Input {
	ins := []Input{{"model.path", r.Model.Path}, {"model.tokenizer", r.Model.Tokenizer},
		{"data.train", r.Data.Train}, {"data.eval", r.Data.Eval}}
	switch r.Stage {
	case recipes.StageDPO:
		ins = append(ins, Input{"dpo.ref_model", r.DPO.RefModel})
	case recipes.StagePPO:
		ins = append(ins, Input{"ppo.ref_model", r.PPO.RefModel}, Input{"ppo.reward_model", r.PPO.RewardModel}, Input{"ppo.value_model", r.PPO.ValueModel})
	case recipes.StageGRPO:
		ins = append(ins, Input{"grpo.ref_model", r.GRPO.RefModel}, Input{"grpo.reward_model", r.GRPO.RewardModel})
	}
	return ins
}
