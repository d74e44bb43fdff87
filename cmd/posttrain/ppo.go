package main

import (
	"context"
	"fmt"
	"io"

	"github.com/posttrain/posttrain/ppo"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/train"
)

func init() {
	summary := func(res *ppo.Result) string {
		return fmt.Sprintf("trained %d iterations: mean score %.4f; model in %s", res.Steps, res.MeanScore, res.OutputDir)
	}
	registerStage(recipes.StagePPO, func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error) {
		res, err := ppo.Run(ctx, r, ppo.Options{Lifecycle: lc, Log: log})
		if err != nil {
			return "", err
		}
		return summary(res), nil
	})
	registerStage(recipes.StageGRPO, func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error) {
		res, err := ppo.RunGRPO(ctx, r, ppo.Options{Lifecycle: lc, Log: log})
		if err != nil {
			return "", err
		}
		return summary(res), nil
	})
}
