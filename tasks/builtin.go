package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/tokenizer"
)

// Built-in data sets are named in recipes as "builtin:TASK" (SFT
// conversations), "builtin:TASK-preference" (a correct answer preferred to a
// wrong one) and "builtin:TASK-prompts" (prompts for rollouts).
const BuiltinPrefix = "builtin:"

// Sizes of the built-in splits.
const (
	TrainProblems = 4000
	EvalProblems  = 200
)

// IsBuiltin reports whether a data path names a built-in data set.
func IsBuiltin(path string) bool { return strings.HasPrefix(path, BuiltinPrefix) }

// BuiltinRows returns the rows of a built-in data set for split "train" or
// "eval", in the datasets package's row form.
func BuiltinRows(path, split string, seed uint64) ([]datasets.Row, error) {
	name := strings.TrimPrefix(path, BuiltinPrefix)
	kind := ""
	for _, suffix := range []string{"-preference", "-prompts"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			name, kind = base, suffix
		}
	}
	task, err := Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", path, err)
	}
	n := TrainProblems
	if split == "eval" {
		n = EvalProblems
	}
	problems, err := task.Problems(split, n, seed)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0xbad))
	rows := make([]datasets.Row, len(problems))
	for i, p := range problems {
		where := fmt.Sprintf("%s[%s]:%d", path, split, i+1)
		user := []tokenizer.Message{{Role: "user", Content: p.Prompt}}
		switch kind {
		case "":
			rows[i] = datasets.Row{Where: where, Format: datasets.FormatMessages,
				Messages: append(user, tokenizer.Message{Role: "assistant", Content: p.Answer})}
		case "-preference":
			rows[i] = datasets.Row{Where: where, Format: datasets.FormatPreference,
				Prompt:   datasets.Content{Messages: user},
				Chosen:   datasets.Content{Messages: []tokenizer.Message{{Role: "assistant", Content: p.Answer}}},
				Rejected: datasets.Content{Messages: []tokenizer.Message{{Role: "assistant", Content: task.Wrong(p, rng)}}}}
		case "-prompts":
			rows[i] = datasets.Row{Where: where, Format: datasets.FormatPrompt, Prompt: datasets.Content{Messages: user}}
		}
	}
	return rows, nil
}

// BuiltinProblems returns the problems behind a built-in data set, to grade completions.
func BuiltinProblems(path, split string, seed uint64, n int) (Task, []Problem, error) {
	name := strings.TrimPrefix(path, BuiltinPrefix)
	name, _ = strings.CutSuffix(name, "-preference")
	name, _ = strings.CutSuffix(name, "-prompts")
	task, err := Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	ps, err := task.Problems(split, n, seed)
	return task, ps, err
}
