package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/tokenizer"
)

func init() { rootCmd.AddCommand(generateCmd()) }

func generateCmd() *cobra.Command {
	var (
		dir, promptIDs, prompt, device string
		opts                           model.GenerateOptions
	)
	cmd := &cobra.Command{
		Use:   "generate --model DIR (--prompt-ids 1,2,3 | --prompt TEXT)",
		Short: "Continue a prompt with the model (temperature 0 is greedy)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (promptIDs == "") == (prompt == "") {
				return fmt.Errorf("give exactly one of --prompt-ids and --prompt")
			}
			if err := checkSamplingFlags(opts); err != nil {
				return err
			}
			be, err := newBackend(device)
			if err != nil {
				return err
			}
			m, err := model.Load(be, dir)
			if err != nil {
				return err
			}
			opts.StopTokens = append(opts.StopTokens, eosIDs(m.Config)...)
			w := cmd.OutOrStdout()
			if promptIDs != "" {
				ids, err := parseIDs(promptIDs)
				if err != nil {
					return err
				}
				out, err := m.Generate([][]int32{ids}, opts)
				if err != nil {
					return fmt.Errorf("--prompt-ids, --max-new-tokens: %w", err)
				}
				line, _ := json.Marshal(out[0])
				fmt.Fprintln(w, string(line))
				return nil
			}
			if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
				return fmt.Errorf("--prompt needs a tokenizer in %s (tokenizer.json): %w; use --prompt-ids instead", dir, err)
			}
			tok, err := tokenizer.Load(dir)
			if err != nil {
				return err
			}
			opts.StopTokens = append(opts.StopTokens, tok.EOS()...)
			ids := tok.Encode(prompt, tokenizer.EncodeOptions{Special: true, BOS: true})
			out, err := m.Generate([][]int32{ids}, opts)
			if err != nil {
				return fmt.Errorf("--prompt, --max-new-tokens: %w", err)
			}
			fmt.Fprintln(w, tok.Decode(out[0]))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "model", "", "model directory (Hugging Face layout)")
	f.StringVar(&promptIDs, "prompt-ids", "", "comma-separated prompt token ids; prints the new ids as a JSON array")
	f.StringVar(&prompt, "prompt", "", "prompt text (needs the model's tokenizer)")
	f.IntVar(&opts.MaxNewTokens, "max-new-tokens", 32, "tokens to generate")
	f.Float64Var(&opts.Temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	f.IntVar(&opts.TopK, "top-k", 0, "keep the k most likely tokens (0: all)")
	f.Float64Var(&opts.TopP, "top-p", 1, "nucleus sampling mass")
	f.Uint64Var(&opts.Seed, "seed", 0, "sampling seed")
	f.StringVar(&device, "device", "auto", "cpu, cuda or auto")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}

// checkSamplingFlags refuses values the sampler would misread, before the
// model is loaded: the library's Validate accepts top-p 0 as "off", the flag
// does not.
func checkSamplingFlags(o model.GenerateOptions) error {
	switch {
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) || o.Temperature < 0:
		return fmt.Errorf("--temperature must be a finite number >= 0 (0 is greedy), found %g", o.Temperature)
	case math.IsNaN(o.TopP) || o.TopP <= 0 || o.TopP > 1:
		return fmt.Errorf("--top-p must be in (0, 1] (1 keeps every token), found %g", o.TopP)
	case o.TopK < 0:
		return fmt.Errorf("--top-k must be >= 0 (0 keeps every token), found %d", o.TopK)
	case o.MaxNewTokens < 0:
		return fmt.Errorf("--max-new-tokens must be >= 0, found %d", o.MaxNewTokens)
	}
	return nil
}

// eosIDs are the config's end-of-sequence ids as stop tokens.
func eosIDs(cfg *model.Config) []int32 {
	var out []int32
	for _, id := range cfg.EOSTokenID {
		out = append(out, int32(id))
	}
	return out
}

func parseIDs(s string) ([]int32, error) {
	var ids []int32
	for i, part := range strings.Split(s, ",") {
		v, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--prompt-ids: item %d (%q) is not an integer", i+1, part)
		}
		ids = append(ids, int32(v))
	}
	return ids, nil
}
