package setup

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/posttrain/posttrain/datasets"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/train"
)

// loraDropoutRNG names the LoRA dropout generator's state in trainer_state.json.
const loraDropoutRNG = "lora_dropout"

// TrainState is what a stage's checkpoint holds besides its model: the
// optimizer, the data cursor, the schedule and the LoRA dropout generator.
type TrainState struct {
	Optimizer *train.AdamW
	Sampler   *datasets.Sampler
	Schedule  train.Schedule
	LoRA      *model.LoRA // nil without adapters
	MaxSteps  int
	// Record is the run's recipe and data hashes (Start.Record), saved with
	// every checkpoint so that a resume can check it continues the same run.
	Record *Record
}

// SaveCheckpoint writes OUTPUT_DIR/checkpoint-STEP atomically: writeModel
// fills the directory with the model files, then the optimizer state and the
// trainer state (the completion marker) follow; the last keepLast are kept.
func SaveCheckpoint(outputDir string, step, keepLast int, s TrainState, writeModel func(dir string) error) error {
	ss := s.Sampler.State()
	samplerJSON, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	rngs := map[string][]byte{}
	if s.LoRA != nil {
		b, err := s.LoRA.RNGState()
		if err != nil {
			return err
		}
		rngs[loraDropoutRNG] = b
	}
	sched := s.Schedule
	state := &train.TrainerState{GlobalStep: step, MaxSteps: s.MaxSteps, Sampler: samplerJSON,
		RNGStates: rngs, Schedule: &sched, Epoch: float64(ss.Epoch)}
	_, err = train.SaveCheckpoint(outputDir, state, func(dir string) error {
		if err := writeModel(dir); err != nil {
			return err
		}
		if err := s.Record.Write(dir); err != nil {
			return err
		}
		return train.SaveOptimizer(filepath.Join(dir, train.OptimizerFile), s.Optimizer)
	}, keepLast)
	return err
}

// Restore loads a checkpoint's optimizer moments, sampler cursor and LoRA
// dropout state into s, so the resumed run continues exactly.
func Restore(dir string, s TrainState) error {
	if err := train.LoadOptimizer(filepath.Join(dir, train.OptimizerFile), s.Optimizer); err != nil {
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
	if err := s.Sampler.Restore(ss); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	if s.LoRA != nil {
		if b, ok := st.RNGStates[loraDropoutRNG]; ok {
			if err := s.LoRA.SetRNGState(b); err != nil {
				return err
			}
		}
	}
	return nil
}
