package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/reward"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

func init() {
	cmd := &cobra.Command{Use: "reward", Short: "Evaluate reward models and score data with them"}
	cmd.AddCommand(rewardEvalCmd(), rewardScoreCmd())
	rootCmd.AddCommand(cmd)
	registerStage(recipes.StageReward, func(ctx context.Context, r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (string, error) {
		res, err := reward.Run(ctx, r, reward.Options{Lifecycle: lc, Log: log})
		if err != nil {
			return "", err
		}
		msg := fmt.Sprintf("trained %d steps: loss %.4f", res.Steps, res.TrainLoss)
		if res.Eval != nil {
			msg += fmt.Sprintf(", held-out accuracy %.3f (%d pairs)", res.Eval.Metrics.Accuracy, res.Eval.Metrics.Pairs)
		}
		return msg + "; model in " + res.OutputDir, nil
	})
}

// rewardFlags are the flags eval and score share.
type rewardFlags struct {
	dir, data, tokenizer, device, format string
	batchSize                            int
	seed                                 uint64
}

func (f *rewardFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "model", "", "reward model directory (LlamaForSequenceClassification)")
	fl.StringVar(&f.data, "data", "", ".jsonl/.parquet file or builtin:NAME (its held-out split)")
	fl.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer directory (default: the model directory)")
	fl.StringVar(&f.device, "device", "auto", "cpu, cuda or auto")
	fl.StringVar(&f.format, "format", "auto", "data format: auto, preference, messages, prompt_completion or text")
	fl.IntVar(&f.batchSize, "batch-size", 16, "rows per forward pass")
	fl.Uint64Var(&f.seed, "seed", 42, "seed of a builtin: data set")
	_ = cmd.MarkFlagRequired("model")
	_ = cmd.MarkFlagRequired("data")
}

// load opens the model, its tokenizer and the rows.
func (f *rewardFlags) load() (*reward.Model, *tokenizer.Tokenizer, []datasets.Row, error) {
	if f.batchSize < 1 || f.batchSize > maxDebugBatch {
		return nil, nil, nil, fmt.Errorf("--batch-size must be in [1, %d], found %d", maxDebugBatch, f.batchSize)
	}
	be, err := newBackend(f.device)
	if err != nil {
		return nil, nil, nil, err
	}
	rm, err := reward.Load(be, f.dir)
	if err != nil {
		return nil, nil, nil, err
	}
	tokDir := f.tokenizer
	if tokDir == "" {
		tokDir = f.dir
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("tokenizer: %w", err)
	}
	format, err := datasets.ParseFormat(f.format)
	if err != nil {
		return nil, nil, nil, err
	}
	rows, err := reward.LoadRows(f.data, format, f.seed)
	return rm, tok, rows, err
}

func rewardEvalCmd() *cobra.Command {
	var f rewardFlags
	var out string
	var maxLength int
	cmd := &cobra.Command{
		Use:   "eval --model DIR --data FILE [--out DIR]",
		Short: "Accuracy, reward statistics and a histogram of a reward model on preference pairs",
		Long: "Prints the metrics as JSON and writes " + reward.EvalMetricsFile + ", " + reward.EvalPairsFile +
			" (both rewards of every pair) and " + reward.EvalHistogramFile + " into --out (default MODEL/eval).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxLength < 0 {
				return fmt.Errorf("--max-length must be >= 0 (0: no limit), found %d", maxLength)
			}
			rm, tok, rows, err := f.load()
			if err != nil {
				return err
			}
			if err := model.CheckSequenceLength(rm.Trunk.Config, maxLength, "--max-length"); err != nil {
				return err
			}
			pairs, dropped, err := reward.EncodeEvalPairs(rows, tok, maxLength)
			if err != nil {
				return err
			}
			ev, err := rm.Evaluate(pairs, f.batchSize, dropped)
			if err != nil {
				return fmt.Errorf("%s: %w", f.data, err)
			}
			if out == "" {
				out = filepath.Join(f.dir, "eval")
			}
			if err := reward.WriteEvaluation(out, ev); err != nil {
				return err
			}
			body, err := json.MarshalIndent(ev.Metrics, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(body))
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&out, "out", "", "directory for the per-pair JSONL and the histogram (default MODEL/eval)")
	cmd.Flags().IntVar(&maxLength, "max-length", 0, "drop pairs longer than this many tokens, counted as dropped (0: no limit)")
	return cmd
}

func rewardScoreCmd() *cobra.Command {
	var f rewardFlags
	cmd := &cobra.Command{
		Use:   "score --model DIR --data FILE",
		Short: "Print one JSON line of rewards per row (prompt + completion, messages, text or preference pairs)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rm, tok, rows, err := f.load()
			if err != nil {
				return err
			}
			scored, err := rm.ScoreRows(rows, tok, f.batchSize)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, s := range scored {
				if err := enc.Encode(s); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
