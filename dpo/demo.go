package dpo

import (
	"context"
	"fmt"

	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tasks"
)

// DemoRecipe is the built-in recipe of the demo's DPO stage.
const DemoRecipe = "demo-dpo"

// DemoResult is the demo stage's outcome: task scores of the starting (SFT)
// model and of the DPO-trained one on the same problems.
type DemoResult struct {
	Before, After tasks.Score
	Run           *Result
}

// Demo runs the demo's DPO stage: recipe demo-dpo with model.path = sftDir and
// output_dir = outDir (overrides, key=value, apply after those), and scores
// greedy task accuracy on problems before and after (maxNewTokens per answer).
func Demo(ctx context.Context, sftDir, outDir string, overrides []string, task tasks.Task, problems []tasks.Problem, maxNewTokens int, opts Options) (*DemoResult, error) {
	r, err := recipes.Load(DemoRecipe, append([]string{"model.path=" + sftDir, "output_dir=" + outDir}, overrides...))
	if err != nil {
		return nil, err
	}
	before, err := scoreCheckpoint(r, task, problems, maxNewTokens)
	if err != nil {
		return nil, fmt.Errorf("dpo demo: scoring the starting model: %w", err)
	}
	res, err := Run(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	after, err := tasks.Evaluate(res.Model, res.Tokenizer, task, problems, maxNewTokens, 50)
	if err != nil {
		return nil, fmt.Errorf("dpo demo: scoring the trained model: %w", err)
	}
	return &DemoResult{Before: before, After: after, Run: res}, nil
}

// scoreCheckpoint scores the model a run of r starts from.
func scoreCheckpoint(r *recipes.Recipe, task tasks.Task, problems []tasks.Problem, maxNewTokens int) (tasks.Score, error) {
	m, tok, err := setup.InitialModel(r)
	if err != nil {
		return tasks.Score{}, err
	}
	return tasks.Evaluate(m, tok, task, problems, maxNewTokens, 50)
}
