package main

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/reward"
)

func init() { debugCmd.AddCommand(debugRewardCmd()) }

func debugRewardCmd() *cobra.Command {
	var dir, batchPath, device string
	cmd := &cobra.Command{
		Use:   "reward --model DIR --batch FILE.json",
		Short: `Print the reward of every row of a batch as {"rewards": [...]}`,
		Long: "Runs a LlamaForSequenceClassification reward model on a batch file with input_ids and an\n" +
			"optional attention_mask (each row is scored at its last attended, or last non-pad, token).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			be, err := newBackend(device)
			if err != nil {
				return err
			}
			rm, err := reward.Load(be, dir)
			if err != nil {
				return err
			}
			b, err := readBatchFile(batchPath)
			if err != nil {
				return err
			}
			b.Labels = nil
			if err := checkBatchFits(rm.Trunk.Config, b, batchPath); err != nil {
				return err
			}
			rewards, err := rm.Rewards(b)
			if err != nil {
				return fmt.Errorf("%s: %w", batchPath, err)
			}
			for i, r := range rewards {
				if math.IsNaN(r) || math.IsInf(r, 0) {
					return fmt.Errorf("%s: the reward of row %d is %g (not finite)", batchPath, i, r)
				}
			}
			line, err := json.Marshal(map[string][]float64{"rewards": rewards})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "model", "", "reward model directory")
	f.StringVar(&batchPath, "batch", "", "JSON with input_ids and optional attention_mask, position_ids")
	f.StringVar(&device, "device", "auto", "cpu, cuda or auto")
	for _, r := range []string{"model", "batch"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}
