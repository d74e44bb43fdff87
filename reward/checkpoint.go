package reward

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/train"
)

// restore loads the optimizer, sampler and LoRA-dropout state of a checkpoint.
func (t *trainer) restore(dir string) error {
	if err := train.LoadOptimizer(filepath.Join(dir, train.OptimizerFile), t.opt); err != nil {
		return err
	}
	st, err := train.LoadTrainerState(dir)
	if err != nil {
		return err
	}
	var ss datasets.SamplerState
	if err := json.Unmarshal(st.Sampler, &ss); err != nil {
		return fmt.Errorf("%s: sampler state: %w", dir, err)
	}
	if err := t.sampler.Restore(ss); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if t.lora != nil {
		if b, ok := st.RNGStates["lora_dropout"]; ok {
			if err := t.lora.SetRNGState(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// saveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically: the reward
// model (with LoRA: the frozen trunk, the trained head and the adapter
// files, unmerged so training resumes exactly), tokenizer, optimizer and
// trainer state.
func (t *trainer) saveCheckpoint(step int) error {
	ss := t.sampler.State()
	samplerJSON, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	rngs := map[string][]byte{}
	if t.lora != nil {
		b, err := t.lora.RNGState()
		if err != nil {
			return err
		}
		rngs["lora_dropout"] = b
	}
	sched := t.sched
	state := &train.TrainerState{GlobalStep: step, MaxSteps: t.maxSteps, Sampler: samplerJSON,
		RNGStates: rngs, Schedule: &sched, Epoch: float64(ss.Epoch)}
	_, err = train.SaveCheckpoint(t.r.OutputDir, state, func(dir string) error {
		if err := t.rm.Save(dir); err != nil {
			return err
		}
		if t.lora != nil {
			if err := t.rm.Trunk.SaveAdapter(dir, t.r.Model.Path); err != nil {
				return err
			}
		}
		if err := setup.WriteTokenizer(t.tok, dir); err != nil {
			return err
		}
		return train.SaveOptimizer(filepath.Join(dir, train.OptimizerFile), t.opt)
	}, t.r.Train.SaveTotalLimit)
	return err
}

// saveFinal writes the final reward model (LoRA merged, so it loads as a plain
// LlamaForSequenceClassification), the tokenizer, the held-out evaluation and
// the metric plots into OUTPUT_DIR.
func (t *trainer) saveFinal(ev *Evaluation) error {
	if t.lora != nil {
		if err := t.rm.Trunk.MergeLoRA(); err != nil {
			return err
		}
		t.lora = nil
	}
	dir := t.r.OutputDir
	if err := t.rm.Save(dir); err != nil {
		return err
	}
	if err := setup.WriteTokenizer(t.tok, dir); err != nil {
		return err
	}
	if ev != nil {
		if err := WriteEvaluation(dir, ev); err != nil {
			return err
		}
	}
	_, err := train.PlotMetrics(filepath.Join(dir, train.MetricsFile), dir)
	return err
}
