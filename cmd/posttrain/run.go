package main

import (
	"context"
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
	registerStage(recipes.StageSFT, func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error) {
		res, err := sft.Run(ctx, r, sft.Options{Lifecycle: lc, Log: log})
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
type stageRunner func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error)

// stageRunners maps a recipe's stage to its runner; each stage's command file
// registers its own from init.
var stageRunners = map[string]stageRunner{}

func registerStage(stage string, run stageRunner) { stageRunners[stage] = run }

func runCmd() *cobra.Command {
	var resume string
	var lc train.Lifecycle
	cmd := &cobra.Command{
		Use:   "run RECIPE.yaml|NAME [key=value ...]",
		Short: "Run a training recipe (a YAML file or a built-in name; `posttrain recipes` lists them)",
		Long: "Run a training recipe. Overrides use dotted keys: optim.lr=1e-5 train.max_steps=100.\n" +
			"`posttrain run demo [output_dir=DIR]` runs the whole built-in demo pipeline.\n\n" +
			"An output_dir that holds a previous run is refused: --resume continues it from its newest\n" +
			"checkpoint (verified against its manifest; the recipe must match in data, batch size,\n" +
			"grad accumulation, seed and model unless --allow-recipe-change), --overwrite replaces it.\n" +
			"Exit codes: 0 finished, 1 failed, 130/143 stopped by SIGINT/SIGTERM after saving a\n" +
			"checkpoint, 70 internal error.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if lc.Resume, err = train.ParseResume(resume); err != nil {
				return err
			}
			ctx, stop := train.StopOnSignal(context.Background())
			defer stop()
			out := cmd.ErrOrStderr()
			if args[0] == "demo" {
				summary, err := demo.Run(ctx, args[1:], demo.Options{Lifecycle: lc, Log: out})
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
			msg, err := runStage(ctx, r, lc, out)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&resume, "resume", "", "continue from the newest checkpoint in output_dir; none is an error "+
		"(--resume=auto: resume when there is one, else start a new run)")
	f.Lookup("resume").NoOptDefVal = string(train.ResumeLatest)
	f.BoolVar(&lc.Overwrite, "overwrite", false, "replace the previous run in output_dir (its checkpoints and metrics are removed first); "+
		"same as train.overwrite_output_dir=true")
	f.BoolVar(&lc.AllowRecipeChange, "allow-recipe-change", false, "resume even though data, batch size, grad accumulation, seed or model differ from the checkpoint's recipe")
	return cmd
}
