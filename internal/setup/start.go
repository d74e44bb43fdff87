package setup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/tokenizer"
	"github.com/posttrain/posttrain/train"
)

// Start is what every stage's run begins with. Close it when the run ends:
// it holds output_dir's lock.
type Start struct {
	Backend   compute.Backend
	Tokenizer *tokenizer.Tokenizer
	// Checkpoint is the checkpoint being resumed ("" for a fresh run) and Step
	// the step it holds.
	Checkpoint string
	Step       int
	// Record is saved into every checkpoint of the run (SaveCheckpoint does it).
	Record *Record
	lock   *train.DirLock
}

// Close releases output_dir's lock. It is safe on a nil Start and twice.
func (s *Start) Close() error {
	if s == nil {
		return nil
	}
	return s.lock.Unlock()
}

// StartRun prepares output_dir for a run of r and opens the backend and the
// tokenizer. In order:
//   - output_dir must not be, contain or lie inside an input (model.path, the
//     reference, reward or value model, the tokenizer directory);
//   - output_dir is created and locked for the run's lifetime (a second
//     writer is refused) and stale temporary checkpoints are removed;
//   - with lc.Resume, the newest checkpoint is verified against its manifest,
//     its recipe compared with r (CompareRecord) and its name printed on log;
//     no checkpoint is an error for ResumeLatest and a fresh start for
//     ResumeAuto;
//   - a fresh run into an output_dir holding another run's checkpoints,
//     metrics or model is refused unless overwrite is asked for (lc.Overwrite
//     or train.overwrite_output_dir), which removes the old checkpoints and
//     metrics log first.
func StartRun(r *recipes.Recipe, lc train.Lifecycle, log io.Writer) (_ *Start, err error) {
	if log == nil {
		log = io.Discard
	}
	if r.OutputDir == "" {
		return nil, fmt.Errorf("recipe: output_dir is empty")
	}
	if lc.Resume == train.ResumeLatest && lc.Overwrite {
		return nil, fmt.Errorf("--resume and --overwrite exclude each other: resume continues the run in %s, overwrite replaces it "+
			"(--resume=auto --overwrite resumes when there is a checkpoint and otherwise replaces the run)", r.OutputDir)
	}
	if err := CheckNotInput("output_dir", r.OutputDir, recipeInputs(r)...); err != nil {
		return nil, err
	}
	rec, err := NewRecord(r)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.OutputDir); errors.Is(err, fs.ErrNotExist) && lc.Resume == train.ResumeLatest {
		return nil, fmt.Errorf("--resume: output_dir %s does not exist, so there is no checkpoint to resume; "+
			"run without --resume to start a new run, or with --resume=auto to resume only when there is a checkpoint", r.OutputDir)
	}
	if err := os.MkdirAll(r.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("output_dir: %w", err)
	}
	lock, err := train.LockDir(r.OutputDir)
	if err != nil {
		return nil, err
	}
	s := &Start{Record: rec, lock: lock}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := train.CleanStaleTemps(r.OutputDir); err != nil {
		return nil, err
	}
	if lc.Resume != train.ResumeNone {
		rp, ok, err := train.FindResumeCheckpoint(r.OutputDir)
		if err != nil {
			return nil, fmt.Errorf("--resume: %w", err)
		}
		switch {
		case ok:
			fmt.Fprintf(log, "resuming from %s (step %d)\n", rp.Dir, rp.Step)
			if rp.Unverified {
				fmt.Fprintf(log, "warning: %s has no %s (written by an older posttrain): its files were not verified\n", rp.Dir, train.ManifestFile)
			}
			if err := CompareRecord(rp.Dir, rec, lc.AllowRecipeChange, log); err != nil {
				return nil, err
			}
			s.Checkpoint, s.Step = rp.Dir, rp.Step
		case lc.Resume == train.ResumeLatest:
			return nil, fmt.Errorf("--resume: no valid checkpoint found in output_dir %s (no checkpoint-N directory with a %s); "+
				"run without --resume to start a new run, or with --resume=auto to resume only when there is a checkpoint",
				r.OutputDir, train.TrainerStateFile)
		default:
			fmt.Fprintf(log, "--resume=auto: no checkpoint in %s, starting a new run\n", r.OutputDir)
		}
	}
	if s.Checkpoint == "" {
		if err := clearPreviousRun(r.OutputDir, lc.Overwrite || r.Train.OverwriteOutputDir, log); err != nil {
			return nil, err
		}
	}
	if s.Backend, err = Backend(r.Device); err != nil {
		return nil, err
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

// clearPreviousRun refuses an output_dir that holds another run unless
// overwrite is set, and then removes that run's checkpoints and metrics log
// (the final model files are replaced when the new run ends).
func clearPreviousRun(dir string, overwrite bool, log io.Writer) error {
	ckpts, files, err := previousRun(dir)
	if err != nil || len(ckpts)+len(files) == 0 {
		return err
	}
	found := append(slices.Clone(ckpts), files...)
	if !overwrite {
		return fmt.Errorf("%w: output_dir %s holds a previous run (%s); pass --resume to continue it, "+
			"or --overwrite (train.overwrite_output_dir=true) to replace it", ErrOutputExists, dir, strings.Join(found, ", "))
	}
	for _, c := range ckpts {
		if err := train.RemoveCheckpoint(filepath.Join(dir, c)); err != nil {
			return fmt.Errorf("--overwrite: %w", err)
		}
	}
	if err := os.Remove(filepath.Join(dir, train.MetricsFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--overwrite: %w", err)
	}
	fmt.Fprintf(log, "overwrite: replacing the previous run in %s (removed %d checkpoints and its metrics log)\n", dir, len(ckpts))
	return nil
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
