package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/tokenizer"
)

func init() {
	loraCmd := &cobra.Command{Use: "lora", Short: "Work with LoRA adapters (PEFT layout)"}
	loraCmd.AddCommand(loraMergeCmd())
	rootCmd.AddCommand(loraCmd)
}

func loraMergeCmd() *cobra.Command {
	var base, adapter, out string
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "merge --base DIR --adapter DIR --out DIR",
		Short: "Fold a LoRA adapter into its base model and write a full checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := setup.CheckNotInput("--out", out, setup.Input{Key: "--base", Path: base}, setup.Input{Key: "--adapter", Path: adapter}); err != nil {
				return err
			}
			if err := setup.CheckOutputModelDir("--out", out, overwrite); err != nil {
				return err
			}
			be, err := newBackend("cpu")
			if err != nil {
				return err
			}
			m, err := model.Load(be, base)
			if err != nil {
				return err
			}
			if _, err := m.LoadAdapter(adapter); err != nil {
				return err
			}
			if err := m.MergeLoRA(); err != nil {
				return err
			}
			if err := m.Save(out, model.SaveOptions{}); err != nil {
				return err
			}
			// Carry the tokenizer along when the base (or adapter) directory has one.
			for _, dir := range []string{adapter, base} {
				if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
					continue
				}
				tok, err := tokenizer.Load(dir)
				if err != nil {
					return err
				}
				for name, body := range tok.Files() {
					if err := model.WriteFileAtomic(filepath.Join(out, name), body); err != nil {
						return err
					}
				}
				break
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %s into %s: wrote %s\n", adapter, base, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "base model directory")
	cmd.Flags().StringVar(&adapter, "adapter", "", "adapter directory (adapter_config.json, adapter_model.safetensors)")
	cmd.Flags().StringVar(&out, "out", "", "output directory for the merged model")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace a model already in --out")
	for _, f := range []string{"base", "adapter", "out"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}
