package setup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tasks"
	"github.com/posttrain/posttrain/train"
)

// Files every checkpoint carries besides the model and the trainer state.
const (
	// RecipeFile is the resolved recipe of the run that wrote the checkpoint.
	RecipeFile = "recipe.yaml"
	// DataHashesFile holds the sha256 of each data file the run read and of
	// its models' config.json.
	DataHashesFile = "inputs_sha256.json"
)

// ErrRecipeChanged is wrapped when a resumed run's recipe differs from its
// checkpoint's in a key that makes the continuation inexact.
var ErrRecipeChanged = errors.New("setup: recipe differs from the checkpoint's")

// Record is what a run saves with each checkpoint so that a resume can tell
// whether it continues the same run: the resolved recipe and the data files'
// content hashes.
type Record struct {
	Recipe []byte                // recipes.Recipe.Marshal
	Files  map[string]FileDigest // by recipe key: data.train, data.eval, model.path, dpo.ref_model, ...
}

// FileDigest is the content hash of one input file: a data file, or the
// config.json of a model directory (its weights are too large to hash at
// every start).
type FileDigest struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// NewRecord renders r and hashes its data files and its models' config.json
// (built-in data sets and reward functions have no file).
func NewRecord(r *recipes.Recipe) (*Record, error) {
	body, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	rec := &Record{Recipe: body, Files: map[string]FileDigest{}}
	for _, in := range recipeInputs(r) {
		if in.Path == "" || tasks.IsBuiltin(in.Path) || in.Key == "model.tokenizer" {
			continue
		}
		path := in.Path
		st, err := os.Stat(path)
		if err != nil {
			continue // not a file (task:NAME, a reward function) or missing: the stage reports it
		}
		if st.IsDir() {
			path = filepath.Join(path, "config.json")
		}
		if fileio.CheckRegular(path, 0) != nil {
			continue // a FIFO or device would block the hash; the stage's reader refuses it by name
		}
		sum, err := train.FileSHA256(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Key, err)
		}
		sum = "sha256:" + sum
		rec.Files[in.Key] = FileDigest{Path: path, SHA256: sum}
	}
	return rec, nil
}

// Write saves the record into a checkpoint directory. A nil record writes nothing.
func (rec *Record) Write(dir string) error {
	if rec == nil {
		return nil
	}
	if err := model.WriteFileAtomic(filepath.Join(dir, RecipeFile), rec.Recipe); err != nil {
		return err
	}
	body, err := json.MarshalIndent(rec.Files, "", "  ")
	if err != nil {
		return err
	}
	return model.WriteFileAtomic(filepath.Join(dir, DataHashesFile), body)
}

// ignoredKeys may change between a run and its resume without a word: they
// name where and how the run is written, not what it computes.
var ignoredKeys = []string{"output_dir", "description", "device", "train.overwrite_output_dir"}

// exactKeys, or keys under these prefixes, decide which examples each step
// sees and what model they train: changing one breaks an exact continuation.
var exactKeys = []string{"stage", "model.", "data.", "lora.", "train.batch_size", "train.grad_accum", "train.seed"}

func isExactKey(k string) bool {
	for _, p := range exactKeys {
		if k == p || strings.HasSuffix(p, ".") && strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// CompareRecord compares the record saved in checkpoint dir with cur. A
// change in an exactness key (data files or their content, batch size, grad
// accumulation, seed, model, LoRA) is an error unless allow is set; other
// changes (learning rate, schedule, max_steps, ...) are listed on log as a
// warning. A checkpoint without a record (older posttrain) is reported and
// accepted.
func CompareRecord(dir string, cur *Record, allow bool, log io.Writer) error {
	oldBody, err := os.ReadFile(filepath.Join(dir, RecipeFile))
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "warning: %s has no %s (written by an older posttrain): changes to the recipe cannot be checked\n", dir, RecipeFile)
		return nil
	}
	if err != nil {
		return err
	}
	oldFlat, err := flattenYAML(oldBody)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, RecipeFile), err)
	}
	curFlat, err := flattenYAML(cur.Recipe)
	if err != nil {
		return err
	}
	oldFiles := map[string]FileDigest{}
	if body, err := os.ReadFile(filepath.Join(dir, DataHashesFile)); err == nil {
		if err := json.Unmarshal(body, &oldFiles); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, DataHashesFile), err)
		}
	}
	var exact, other []string
	keys := slices.Sorted(maps.Keys(merge(oldFlat, curFlat)))
	for _, k := range keys {
		a, okA := oldFlat[k]
		b, okB := curFlat[k]
		if a == b && okA == okB || slices.Contains(ignoredKeys, k) {
			continue
		}
		change := fmt.Sprintf("%s (%s -> %s)", k, orUnset(a, okA), orUnset(b, okB))
		if isExactKey(k) {
			exact = append(exact, change)
		} else {
			other = append(other, change)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(merge(oldFiles, cur.Files))) {
		a, okA := oldFiles[k]
		b, okB := cur.Files[k]
		if okA && okB && a.Path == b.Path && a.SHA256 != b.SHA256 {
			exact = append(exact, fmt.Sprintf("%s content (the file %s changed since the checkpoint: sha256 %s -> %s)", k, b.Path, short(a.SHA256), short(b.SHA256)))
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(log, "warning: resuming with changed settings: %s\n", strings.Join(other, ", "))
	}
	if len(exact) == 0 {
		return nil
	}
	if allow {
		fmt.Fprintf(log, "warning: --allow-recipe-change: the run will not continue exactly: %s\n", strings.Join(exact, ", "))
		return nil
	}
	return fmt.Errorf("%w: resuming from %s with %s would not continue the same run; restore the checkpoint's values (see %s), "+
		"start a new run in another output_dir, or pass --allow-recipe-change to resume anyway",
		ErrRecipeChanged, dir, strings.Join(exact, ", "), filepath.Join(dir, RecipeFile))
}

func short(sum string) string {
	s := strings.TrimPrefix(sum, "sha256:")
	return s[:min(12, len(s))]
}

func orUnset(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return v
}

func merge[V any](a, b map[string]V) map[string]V {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, b)
	return out
}

// flattenYAML reads a recipe's YAML into dotted keys with their values
// rendered as text.
func flattenYAML(body []byte) (map[string]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, sub := range m {
				walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
			}
			return
		}
		out[prefix] = fmt.Sprint(v)
	}
	walk("", doc)
	return out, nil
}
