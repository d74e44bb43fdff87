package main

import "github.com/spf13/cobra"

// rootCmd is the top of the command tree. Each command lives in its own file and
// registers itself from an init function, so adding a command touches one file.
var rootCmd = &cobra.Command{
	Use:          "posttrain",
	Short:        "Post-train LLaMA 3 family models: SFT, reward models, DPO, PPO",
	SilenceUsage: true,
	// main prints the error once and maps it to the exit code (exit.go).
	SilenceErrors: true,
}

// modelCmd groups commands that create or describe checkpoints.
var modelCmd = &cobra.Command{Use: "model", Short: "Create and inspect model checkpoints"}

// debugCmd groups commands that dump internal values for comparison with references.
var debugCmd = &cobra.Command{Use: "debug", Short: "Dump logits, gradients and log-probs for comparison with references"}

func init() {
	rootCmd.AddCommand(modelCmd, debugCmd)
}
