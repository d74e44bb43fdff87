package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/dpo"
	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/model"
)

func init() { debugCmd.AddCommand(debugLogpsCmd()) }

// pairsFile is the layout of ../shared/fixtures/dpo_expected.json's pairs.
type pairsFile struct {
	Pairs []struct {
		Prompt   []int32 `json:"prompt"`
		Chosen   []int32 `json:"chosen"`
		Rejected []int32 `json:"rejected"`
	} `json:"pairs"`
}

// readPairsFile reads token-id pairs; every field must be non-empty.
func readPairsFile(path string) ([]dpo.Pair, error) {
	if err := fileio.CheckRegular(path, maxBatchFileBytes); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pf pairsFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(pf.Pairs) == 0 {
		return nil, fmt.Errorf("%s: \"pairs\" is missing or empty; want [{\"prompt\": [ids], \"chosen\": [ids], \"rejected\": [ids]}, ...]", path)
	}
	pairs := make([]dpo.Pair, len(pf.Pairs))
	for i, p := range pf.Pairs {
		for _, f := range []struct {
			name string
			ids  []int32
		}{{"prompt", p.Prompt}, {"chosen", p.Chosen}, {"rejected", p.Rejected}} {
			if len(f.ids) == 0 {
				return nil, fmt.Errorf("%s: pairs[%d]: %q is missing or empty", path, i, f.name)
			}
		}
		pairs[i] = dpo.Pair{Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected}
	}
	return pairs, nil
}

// maxDebugBatch bounds --batch-size of the debug commands: beyond it the
// activations of one forward pass are the whole machine's memory.
const maxDebugBatch = 4096

func debugLogpsCmd() *cobra.Command {
	var dir, pairsPath, device string
	var batchSize int
	cmd := &cobra.Command{
		Use:   "logps --model DIR --pairs FILE.json",
		Short: "Print each pair's summed and mean completion log-probs given the prompt (as DPO uses them)",
		Long: "Scores token-id pairs laid out as shared/fixtures/dpo_expected.json ({\"pairs\": [{\"prompt\", \"chosen\", \"rejected\"}]}).\n" +
			"No BOS is added. The last stdout line is a JSON array with chosen_logp, rejected_logp,\n" +
			"chosen_logp_mean and rejected_logp_mean per pair.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batchSize < 1 || batchSize > maxDebugBatch {
				return fmt.Errorf("--batch-size must be in [1, %d], found %d", maxDebugBatch, batchSize)
			}
			be, err := newBackend(device)
			if err != nil {
				return err
			}
			m, err := model.Load(be, dir)
			if err != nil {
				return err
			}
			pairs, err := readPairsFile(pairsPath)
			if err != nil {
				return err
			}
			pad := int32(0)
			if len(m.Config.PadTokenID) > 0 {
				pad = int32(m.Config.PadTokenID[0])
			}
			logps, err := dpo.LogProbs(m, pairs, pad, batchSize)
			if err != nil {
				return fmt.Errorf("%s: %w", pairsPath, err)
			}
			line, err := json.Marshal(logps)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "model", "", "model directory (Hugging Face layout)")
	f.StringVar(&pairsPath, "pairs", "", "JSON file with \"pairs\" of prompt/chosen/rejected token ids")
	f.StringVar(&device, "device", "auto", "cpu, cuda or auto")
	f.IntVar(&batchSize, "batch-size", 8, "pairs per forward pass (2 rows each)")
	for _, r := range []string{"model", "pairs"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}
