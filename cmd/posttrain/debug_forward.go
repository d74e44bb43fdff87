package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/spf13/cobra"

	"github.com/posttrain/posttrain/internal/fileio"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/internal/sysmem"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/model/safetensors"
)

func init() { debugCmd.AddCommand(debugForwardCmd()) }

// batchFile is the JSON layout of tiny-llama3/expected.json's batch fields.
type batchFile struct {
	InputIDs      [][]int32 `json:"input_ids"`
	Labels        [][]int32 `json:"labels"`
	AttentionMask [][]int32 `json:"attention_mask"`
	PositionIDs   [][]int32 `json:"position_ids"`
}

// maxBatchFileBytes bounds a debug batch file (the fixtures' are a few KiB).
const maxBatchFileBytes = 64 << 20

// checkBatchFits refuses a batch longer than the model's context, or whose
// activations or [B, T, vocab] logits do not fit in memory, before any
// allocation; path names the batch file.
func checkBatchFits(cfg *model.Config, b *model.Batch, path string) error {
	if err := model.CheckSequenceLength(cfg, b.T, "input_ids row length"); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := model.CheckBatchMemory(cfg, b.B, b.T, "input_ids rows × length"); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if avail, ok := sysmem.Available(); ok {
		if need := 4 * float64(b.B) * float64(b.T) * float64(cfg.VocabSize); need > float64(avail.Bytes) {
			return fmt.Errorf("%s: the logits [%d, %d, %d] need %s, but %s is available (%s)", path, b.B, b.T, cfg.VocabSize,
				sysmem.Format(need), sysmem.Format(float64(avail.Bytes)), avail.Source)
		}
	}
	return nil
}

// readBatchFile reads and checks a batch file: every field a B×T matrix.
func readBatchFile(path string) (*model.Batch, error) {
	if err := fileio.CheckRegular(path, maxBatchFileBytes); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var bf batchFile
	if err := json.Unmarshal(data, &bf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(bf.InputIDs) == 0 || len(bf.InputIDs[0]) == 0 {
		return nil, fmt.Errorf("%s: input_ids must be a non-empty [batch][seq] array", path)
	}
	B, T := len(bf.InputIDs), len(bf.InputIDs[0])
	flat := func(name string, rows [][]int32) ([]int32, error) {
		if rows == nil {
			return nil, nil
		}
		if len(rows) != B {
			return nil, fmt.Errorf("%s: %s has %d rows, input_ids has %d", path, name, len(rows), B)
		}
		out := make([]int32, 0, B*T)
		for i, r := range rows {
			if len(r) != T {
				return nil, fmt.Errorf("%s: %s row %d has %d values, want %d", path, name, i, len(r), T)
			}
			out = append(out, r...)
		}
		return out, nil
	}
	b := &model.Batch{B: B, T: T}
	for _, f := range []struct {
		name string
		rows [][]int32
		dst  *[]int32
	}{{"input_ids", bf.InputIDs, &b.IDs}, {"labels", bf.Labels, &b.Labels},
		{"attention_mask", bf.AttentionMask, &b.AttentionMask}, {"position_ids", bf.PositionIDs, &b.PositionIDs}} {
		if *f.dst, err = flat(f.name, f.rows); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func debugForwardCmd() *cobra.Command {
	var dir, batchPath, out, device string
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "forward --model DIR --batch FILE.json --out FILE.safetensors",
		Short: "Write logits and (with labels) every parameter gradient; print the loss",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := setup.CheckNotInput("--out", out, setup.Input{Key: "--model", Path: dir}, setup.Input{Key: "--batch", Path: batchPath}); err != nil {
				return err
			}
			if err := setup.CheckOutputFile("--out", out, overwrite); err != nil {
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
			b, err := readBatchFile(batchPath)
			if err != nil {
				return err
			}
			if err := checkBatchFits(m.Config, b, batchPath); err != nil {
				return err
			}
			logits, err := m.Logits(b)
			if err != nil {
				return fmt.Errorf("%s: %w", batchPath, err)
			}
			tensors := []safetensors.Tensor{{Name: "logits", Shape: []int{b.B, b.T, m.Config.VocabSize}, Data: logits}}
			var loss any
			if b.Labels != nil {
				probe, err := m.Forward(b)
				if err != nil {
					return err
				}
				if probe.NumTokens == 0 {
					return fmt.Errorf("%s: no label carries a loss: every label is -100, masked by attention_mask, "+
						"or at position 0 (labels are shifted: label t is predicted from position t-1)", batchPath)
				}
				res, err := m.ForwardBackward(b, 1/float32(max(probe.NumTokens, 1)))
				if err != nil {
					return err
				}
				loss = res.Loss
				for _, g := range m.Grads.Tensors {
					data := make([]float32, g.Size())
					be.Download(data, g.Buf)
					tensors = append(tensors, safetensors.Tensor{Name: "grad." + g.Name, Shape: g.Shape, Data: data})
				}
			}
			if err := safetensors.Write(out, tensors, nil, safetensors.F32); err != nil {
				return err
			}
			if l, ok := loss.(float64); ok && (math.IsNaN(l) || math.IsInf(l, 0)) {
				return fmt.Errorf("the loss is %g (not finite); logits and gradients were written to %s for inspection", l, out)
			}
			line, err := json.Marshal(map[string]any{"loss": loss})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(line))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "model", "", "model directory")
	f.StringVar(&batchPath, "batch", "", "JSON with input_ids and optional labels, attention_mask, position_ids")
	f.StringVar(&out, "out", "", "output .safetensors")
	f.StringVar(&device, "device", "auto", "cpu, cuda or auto")
	f.BoolVar(&overwrite, "overwrite", false, "replace an existing --out file")
	for _, r := range []string{"model", "batch", "out"} {
		_ = cmd.MarkFlagRequired(r)
	}
	return cmd
}
