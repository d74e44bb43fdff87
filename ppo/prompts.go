package ppo

import (
	"fmt"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/tasks"
	"github.com/posttrain/posttrain/tokenizer"
)

// loadPrompts returns the training prompts of a recipe. A built-in task
// (builtin:NAME-prompts) brings each problem's answer in Meta, for task:NAME
// rewards; a file's prompts carry no Meta.
func loadPrompts(r *recipes.Recipe, tok *tokenizer.Tokenizer) ([]rollout.Prompt, error) {
	maxLen := r.Data.MaxPromptLength
	if tasks.IsBuiltin(r.Data.Train) {
		_, problems, err := tasks.BuiltinProblems(r.Data.Train, "train", r.Train.Seed, tasks.TrainProblems)
		if err != nil {
			return nil, fmt.Errorf("data.train: %w", err)
		}
		out := make([]rollout.Prompt, 0, len(problems))
		for _, p := range problems {
			ids, err := tasks.PromptIDs(tok, p.Prompt)
			if err != nil {
				return nil, fmt.Errorf("data.train %s: %w", r.Data.Train, err)
			}
			if maxLen > 0 && len(ids) > maxLen {
				continue
			}
			out = append(out, rollout.Prompt{Tokens: ids, Meta: map[string]string{MetaPrompt: p.Prompt, MetaAnswer: p.Answer}})
		}
		return nonEmpty(r, out)
	}
	format := datasets.FormatAuto
	if r.Data.Format != "" {
		f, err := datasets.ParseFormat(r.Data.Format)
		if err != nil {
			return nil, err
		}
		format = f
	}
	rows, _, _, err := setup.Splits(r.Data, format, r.Train.Seed)
	if err != nil {
		return nil, err
	}
	encoded, _, err := datasets.EncodePrompts(rows, tok, datasets.PromptOptions{MaxLength: maxLen, SkipBadRows: r.Data.SkipBadRows})
	if err != nil {
		return nil, err
	}
	out := make([]rollout.Prompt, len(encoded))
	for i, ids := range encoded {
		out[i] = rollout.Prompt{Tokens: ids}
	}
	return nonEmpty(r, out)
}

func nonEmpty(r *recipes.Recipe, ps []rollout.Prompt) ([]rollout.Prompt, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("data.train %s: no prompts (all longer than data.max_prompt_length %d?)", r.Data.Train, r.Data.MaxPromptLength)
	}
	return ps, nil
}

// promptBatch copies the sampled prompts, each repeated k times (GRPO's
// group; k = 1 for PPO), with ids unique across the run: iteration step's
// prompts get ids from (step−1)·n·k on, so the pool's per-batch seeds, derived
// from the ids, differ every iteration and repeat exactly on resume.
func promptBatch(all []rollout.Prompt, idx []int, k, step, perStep int) []rollout.Prompt {
	out := make([]rollout.Prompt, 0, len(idx)*k)
	base := (step - 1) * perStep * k
	for _, i := range idx {
		for range k {
			p := all[i]
			p.ID = base + len(out)
			out = append(out, p)
		}
	}
	return out
}
