package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/demo"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/sft"
	"github.com/posttrain/posttrain/train"
)

func init() {
	rootCmd.AddCommand(runCmd())
	registerStage(recipes.StageSFT, func(ctx context.Context, r *recipes.Recipe, resume bool, log io.Writer) (string, error) {
		res, err := sft.Run(ctx, r, sft.Options{Resume: resume, Log: log})
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("trained %d steps: loss %.4f", res.Steps, res.TrainLoss)
		if !math.IsNaN(res.EvalLoss) {
			msg += fmt.Sprintf(", eval loss %.4f", res.EvalLoss)
		}
		msg += "; model in " + res.OutputDir
		if rep := res.DataReport; rep.Skipped > 0 || rep.Truncated > 0 {
			msg += "\ndata: " + rep.String()
		}
		return msg, nil
	})
}

// stageRunner runs one recipe of a stage and returns a one-line summary.
type stageRunner func(ctx context.Context, r *recipes.Recipe, resume bool, log io.Writer) (string, error)

// stageRunners maps a recipe's stage to its runner; each stage's command file
// registers its own from init.
var stageRunners = map[string]stageRunner{}

func registerStage(stage string, run stageRunner) { stageRunners[stage] = run }

func runCmd() *cobra.Command {
	var resume bool
	cmd := &cobra.Command{
		Use:   "run RECIPE.yaml|NAME [key=value ...]",
		Short: "Run a training recipe (a YAML file or a built-in name; `posttrain recipes` lists them)",
		Long: "Run a training recipe. Overrides use dotted keys: optim.lr=1e-5 train.max_steps=100.\n" +
			"`posttrain run demo [output_dir=DIR]` runs the whole built-in demo pipeline.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := train.StopOnSignal(context.Background())
			defer stop()
			out := cmd.ErrOrStderr()
			if args[0] == "demo" {
				summary, err := demo.Run(ctx, args[1:], demo.Options{Resume: resume, Log: out})
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), summary)
				return nil
			}
			r, err := recipes.Load(args[0], args[1:])
			if err != nil {
				return err
			}
			runStage, ok := stageRunners[r.Stage]
			if !ok {
				return fmt.Errorf("recipe %s: stage %q cannot run yet", args[0], r.Stage)
			}
			msg, err := runStage(ctx, r, resume, out)
			if errors.Is(err, train.ErrInterrupted) || errors.Is(err, sft.ErrInterrupted) {
				fmt.Fprintln(out, err)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	cmd.Flags().BoolVar(&resume, "resume", false, "continue from the newest complete checkpoint in output_dir")
	return cmd
}
