package setup

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// Start is what every stage's run begins with.
type Start struct {
	Backend   compute.Backend
	Tokenizer *tokenizer.Tokenizer
	// Checkpoint is the newest complete checkpoint when resuming ("" for a
	// fresh run) and Step the step it holds.
	Checkpoint string
	Step       int
}

// StartRun prepares output_dir (created, stale temporary checkpoints removed),
// opens the backend, finds the checkpoint to resume from when resume is set,
// and loads the tokenizer from that checkpoint or from the recipe.
func StartRun(r *recipes.Recipe, resume bool) (*Start, error) {
	if err := os.MkdirAll(r.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	if err := train.CleanStaleTemps(r.OutputDir); err != nil {
		return nil, err
	}
	be, err := Backend(r.Device)
	if err != nil {
		return nil, err
	}
	s := &Start{Backend: be}
	if resume {
		dir, step, ok, err := train.LatestCheckpoint(r.OutputDir)
		if err != nil {
			return nil, err
		}
		if ok {
			s.Checkpoint, s.Step = dir, step
		}
	}
	if s.Checkpoint != "" {
		s.Tokenizer, err = tokenizer.Load(s.Checkpoint)
	} else {
		s.Tokenizer, err = Tokenizer(r.Model.Tokenizer, r.Model.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return s, nil
}

// InitialModel returns the model and tokenizer a run of r starts from, before
// any training (the "before" of a before/after comparison).
func InitialModel(r *recipes.Recipe) (*model.Model, *tokenizer.Tokenizer, error) {
	be, err := Backend(r.Device)
	if err != nil {
		return nil, nil, err
	}
	tok, err := Tokenizer(r.Model.Tokenizer, r.Model.Path)
	if err != nil {
		return nil, nil, err
	}
	m, err := Model(be, r.Model, tok, train.DeriveSeed(r.Train.Seed, "init"))
	return m, tok, err
}

// WriteModelDir writes a causal LM in Hugging Face layout with its tokenizer
// into dir, plus its LoRA adapter in PEFT's layout when one is attached
// (baseModel goes into adapter_config.json).
func WriteModelDir(dir string, m *model.Model, tok *tokenizer.Tokenizer, baseModel string) error {
	if err := m.Save(dir, model.SaveOptions{}); err != nil {
		return err
	}
	if m.LoRA() != nil {
		if err := m.SaveAdapter(dir, baseModel); err != nil {
			return err
		}
	}
	return WriteTokenizer(tok, dir)
}

// FinishRun writes a stage's final model into outputDir (with its tokenizer,
// and its adapter under LoRA) and plots the metrics log found there.
func FinishRun(outputDir string, m *model.Model, tok *tokenizer.Tokenizer, baseModel, metricsFile string) error {
	if err := WriteModelDir(outputDir, m, tok, baseModel); err != nil {
		return err
	}
	_, err := train.PlotMetrics(filepath.Join(outputDir, metricsFile), outputDir)
	return err
}
