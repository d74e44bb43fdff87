package main

import (
	"context"
	"fmt"
	"io"

	"github.com/posttrain/posttrain/dpo"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

func init() {
	registerStage(recipes.StageDPO, func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error) {
		res, err := dpo.Run(ctx, r, dpo.Options{Lifecycle: lc, Log: log})
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("trained %d steps: loss %.4f, reward accuracy %.3f", res.Steps, res.Metrics["loss"], res.Metrics["rewards/accuracies"])
		if res.EvalMetrics != nil {
			msg += fmt.Sprintf(", eval loss %.4f, eval reward accuracy %.3f", res.EvalMetrics["eval_loss"], res.EvalMetrics["eval_rewards/accuracies"])
		}
		return msg + "; model in " + res.OutputDir, nil
	})
}
