package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/posttrain/posttrain/recipes"
	"github.com/spf13/cobra"
)

// recipesCmd lists the built-in recipes, or prints one resolved recipe so it can be copied
// and edited: `posttrain recipes sft-tiny optim.lr=1e-5 > mine.yaml`.
var recipesCmd = &cobra.Command{
	Use:   "recipes [NAME|RECIPE.yaml [key=value ...]]",
	Short: "List the built-in recipes, or print one with its defaults and overrides applied",
	RunE: func(cmd *cobra.Command, args []string) error {
		out := cmd.OutOrStdout()
		if len(args) == 0 {
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tSTAGE\tDESCRIPTION")
			for _, b := range recipes.Builtins() {
				fmt.Fprintf(w, "%s\t%s\t%s\n", b.Name, b.Stage, b.Description)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			_, err := fmt.Fprintln(out, "\n`posttrain run demo [output_dir=DIR]` runs sft-tiny, demo-reward, demo-dpo, demo-ppo and demo-grpo in turn.")
			return err
		}
		r, err := recipes.Load(args[0], args[1:])
		if err != nil {
			return err
		}
		data, err := r.Marshal()
		if err != nil {
			return err
		}
		_, err = out.Write(data)
		return err
	},
}

func init() {
	rootCmd.AddCommand(recipesCmd)
}
