package reward

import (
	"path/filepath"

	"github.com/posttrain/posttrain/internal/setup"
	"github.com/posttrain/posttrain/train"
)

// restore loads the optimizer, sampler and LoRA-dropout state of a checkpoint.
func (t *trainer) restore(dir string) error { return setup.Restore(dir, t.state()) }

// state is what a checkpoint holds besides the model.
func (t *trainer) state() setup.TrainState {
	return setup.TrainState{Optimizer: t.opt, Sampler: t.sampler, Schedule: t.sched, LoRA: t.lora, MaxSteps: t.maxSteps, Record: t.run.Record}
}

// saveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically: the reward
// model (with LoRA: the frozen trunk, the trained head and the adapter
// files, unmerged so training resumes exactly), tokenizer, optimizer and
// trainer state.
func (t *trainer) saveCheckpoint(step int) error {
	return setup.SaveCheckpoint(t.r.OutputDir, step, t.r.Train.SaveTotalLimit, t.state(), func(dir string) error {
		if err := t.rm.Save(dir); err != nil {
			return err
		}
		if t.lora != nil {
			if err := t.rm.Trunk.SaveAdapter(dir, t.r.Model.Path); err != nil {
				return err
			}
		}
		return setup.WriteTokenizer(t.tok, dir)
	})
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
