package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/internal/sysmem"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

func init() {
	modelCmd.AddCommand(modelInitCmd(), modelInspectCmd())
}

func modelInitCmd() *cobra.Command {
	var configPath, out string
	var seed uint64
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "init --config FILE.json --out DIR [--seed N]",
		Short: "Create a randomly initialised model in Hugging Face layout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The input first: a broken config is the error to report even
			// when --out is also wrong.
			cfg, err := model.LoadConfig(configPath)
			if err != nil {
				return err
			}
			if err := setup.CheckNotInput("--out", out, setup.Input{Key: "--config", Path: configPath}); err != nil {
				return err
			}
			if err := setup.CheckOutputModelDir("--out", out, overwrite); err != nil {
				return err
			}
			be, err := newBackend("cpu")
			if err != nil {
				return err
			}
			m, err := model.New(be, cfg)
			if err != nil {
				return fmt.Errorf("%s: %w", configPath, err)
			}
			m.Params.InitRandom(be, cfg, seed)
			if err := m.Save(out, model.SaveOptions{}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%d parameters)\n", out, m.Params.Count())
			return nil
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "Hugging Face config.json describing the model")
	cmd.Flags().StringVar(&out, "out", "", "output directory")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "random seed")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace a model already in --out")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func modelInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Show architecture, parameter count, dtypes and memory estimates",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := inspectModel(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			c := info.Config
			fmt.Fprintf(tw, "model\t%s\n", args[0])
			fmt.Fprintf(tw, "architecture\t%v, %d layers, hidden %d, ffn %d, %d heads (%d KV, head_dim %d), vocab %d\n",
				c.Architectures, c.NumHiddenLayers, c.HiddenSize, c.IntermediateSize, c.NumAttentionHeads,
				c.NumKeyValueHeads, c.HeadDimension(), c.VocabSize)
			rope := "default"
			if c.RopeScaling != nil && c.RopeScaling.RopeType != "" {
				rope = fmt.Sprintf("%s (factor %g, original context %d)", c.RopeScaling.RopeType, c.RopeScaling.Factor, c.RopeScaling.OriginalMaxPositionEmbeddings)
			}
			fmt.Fprintf(tw, "rope\ttheta %g, scaling %s, max positions %d\n", c.RopeTheta, rope, c.MaxPositionEmbeddings)
			fmt.Fprintf(tw, "tied embeddings\t%v\n", c.TieWordEmbeddings)
			fmt.Fprintf(tw, "parameters\t%d (%.2f M)\n", info.Parameters, float64(info.Parameters)/1e6)
			fmt.Fprintf(tw, "dtypes\t%v\n", info.DTypes)
			fmt.Fprintf(tw, "inference memory\t%.2f GiB weights (float32 here; %.2f GiB in bf16) + %.1f MiB KV cache per 1,000 tokens\n",
				info.Memory.WeightsF32GiB, info.Memory.WeightsBF16GiB, info.Memory.KVCacheMiBPer1KTokens)
			fmt.Fprintf(tw, "training memory\t%.2f GiB for weights, gradients and AdamW moments (float32) + %.2f GiB activations per 1,000 tokens\n",
				info.Memory.TrainStateGiB, info.Memory.ActivationsGiBPer1KTokens)
			if info.AvailableGiB > 0 {
				fmt.Fprintf(tw, "available memory\t%.2f GiB\n", info.AvailableGiB)
			}
			for _, w := range info.Warnings {
				fmt.Fprintf(tw, "warning\t%s\n", w)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// modelInfo is what `model inspect` reports.
type modelInfo struct {
	Config     *model.Config      `json:"config"`
	Parameters int                `json:"parameters"`
	DTypes     map[string]int     `json:"dtypes"`
	Memory     model.MemoryReport `json:"memory"`
	// AvailableGiB is the memory this machine has free (0: unknown).
	AvailableGiB float64 `json:"available_gib,omitempty"`
	// Warnings say which estimates exceed AvailableGiB.
	Warnings []string `json:"warnings,omitempty"`
}

func inspectModel(dir string) (*modelInfo, error) {
	cfg, err := model.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer set.Close()
	info := &modelInfo{Config: cfg, DTypes: map[string]int{}, Memory: model.EstimateMemory(cfg)}
	names := set.Names()
	sort.Strings(names)
	for _, n := range names {
		ti, _, _ := set.Info(n)
		count := 1
		for _, d := range ti.Shape {
			count *= d
		}
		info.Parameters += count
		info.DTypes[string(ti.DType)]++
	}
	if avail, ok := sysmem.Available(); ok {
		info.AvailableGiB = float64(avail.Bytes) / (1 << 30)
		m := info.Memory
		if m.WeightsF32GiB > info.AvailableGiB {
			info.Warnings = append(info.Warnings, fmt.Sprintf("the float32 weights (%.2f GiB) exceed the %.2f GiB available (%s): this machine cannot load the model",
				m.WeightsF32GiB, info.AvailableGiB, avail.Source))
		} else if m.TrainStateGiB > info.AvailableGiB {
			info.Warnings = append(info.Warnings, fmt.Sprintf("the training state (%.2f GiB) exceeds the %.2f GiB available (%s): this machine cannot train the model",
				m.TrainStateGiB, info.AvailableGiB, avail.Source))
		}
	}
	return info, nil
}
