package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/bench"
)

func init() { rootCmd.AddCommand(benchCmd()) }

func benchCmd() *cobra.Command {
	var s bench.Spec
	var device string
	cmd := &cobra.Command{
		Use:       "bench train|generate",
		Short:     "Time training steps or generation on a random model (flags as ../shared/bench/llama_torch.py)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"train", "generate"},
		RunE: func(cmd *cobra.Command, args []string) error {
			be, err := newBackend(device)
			if err != nil {
				return err
			}
			var res map[string]any
			switch args[0] {
			case "train":
				res, err = bench.Train(be, s)
			case "generate":
				res, err = bench.Generate(be, s)
			default:
				return fmt.Errorf("bench %q: want train or generate", args[0])
			}
			if err != nil {
				return err
			}
			line, err := json.Marshal(res)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.Dim, "dim", 256, "hidden size")
	f.IntVar(&s.Layers, "layers", 4, "decoder layers")
	f.IntVar(&s.Heads, "heads", 8, "attention heads")
	f.IntVar(&s.KVHeads, "kv-heads", 2, "key/value heads")
	f.IntVar(&s.FFN, "ffn", 768, "intermediate size")
	f.IntVar(&s.Vocab, "vocab", 8192, "vocabulary size")
	f.BoolVar(&s.Tie, "tie", false, "tie the LM head to the embedding")
	f.IntVar(&s.Seq, "seq", 256, "training sequence length")
	f.IntVar(&s.Batch, "batch", 4, "batch size")
	f.IntVar(&s.Steps, "steps", 20, "timed training steps")
	f.IntVar(&s.Warmup, "warmup", 3, "untimed warmup steps / generate runs")
	f.IntVar(&s.Prompt, "prompt", 64, "prompt length (generate)")
	f.IntVar(&s.New, "new", 64, "new tokens (generate)")
	f.IntVar(&s.Reps, "reps", 3, "timed generate runs (median)")
	f.Uint64Var(&s.Seed, "seed", 0, "seed")
	f.StringVar(&device, "device", "auto", "cpu, cuda or auto")
	return cmd
}
