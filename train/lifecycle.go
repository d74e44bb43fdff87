package train

import "fmt"

// ResumeMode says whether a run continues from a checkpoint in its output_dir.
type ResumeMode string

const (
	// ResumeNone starts a fresh run (an output_dir holding another run's
	// checkpoints or model is refused unless Overwrite is set).
	ResumeNone ResumeMode = ""
	// ResumeLatest continues from the newest complete checkpoint; finding none
	// is an error, as with transformers' resume_from_checkpoint=True.
	ResumeLatest ResumeMode = "latest"
	// ResumeAuto continues from the newest checkpoint when there is one and
	// starts fresh otherwise (for scripts that rerun the same command).
	ResumeAuto ResumeMode = "auto"
)

// ParseResume reads the --resume flag: true or latest, auto, or false.
func ParseResume(s string) (ResumeMode, error) {
	switch s {
	case "", "false":
		return ResumeNone, nil
	case "true", "latest":
		return ResumeLatest, nil
	case "auto":
		return ResumeAuto, nil
	}
	return ResumeNone, fmt.Errorf("--resume=%s: want latest (the default of a bare --resume), auto or false", s)
}

// Lifecycle holds the run-time choices about an output_dir's previous
// contents that are not part of a recipe.
type Lifecycle struct {
	Resume ResumeMode
	// Overwrite lets a fresh run replace what output_dir holds: the old
	// checkpoints and metrics log are removed first (transformers'
	// overwrite_output_dir; also train.overwrite_output_dir in a recipe).
	Overwrite bool
	// AllowRecipeChange resumes even when the recipe differs from the
	// checkpoint's in keys that make the continuation inexact (data, batch
	// size, grad accumulation, seed, model).
	AllowRecipeChange bool
}
