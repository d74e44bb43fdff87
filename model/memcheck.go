package model

import (
	"errors"
	"fmt"

	"github.com/posttrain/posttrain/internal/sysmem"
)

// ErrMemory marks a model or batch that needs more memory than the machine
// has available, found before anything is allocated.
var ErrMemory = errors.New("model: not enough memory")

// available is sysmem.Available, replaceable in tests.
var available = sysmem.Available

// CheckMemory refuses a config whose float32 weights alone exceed the memory
// available (MemAvailable, or the cgroup limit when lower). It names the
// config fields that dominate the size, so a typo (hidden_size 1000000) is
// found at once. On a machine where availability cannot be read it passes.
func CheckMemory(cfg *Config) error {
	info, ok := available()
	if !ok {
		return nil
	}
	need := 4 * parameterCount(cfg)
	if need <= float64(info.Bytes) {
		return nil
	}
	return fmt.Errorf("%w: the weights need %s as float32 (%.3g parameters; %s), but %s is available (%s); "+
		"check those fields, or use a machine with more memory",
		ErrMemory, sysmem.Format(need), need/4, dominantFields(cfg), sysmem.Format(float64(info.Bytes)), info.Source)
}

// CheckBatchMemory refuses a training batch of B rows of T tokens whose
// activation arena (the per-token buffers Forward and Backward keep) does not
// fit in the memory available. what names the setting, e.g.
// "train.batch_size × data.max_length".
func CheckBatchMemory(cfg *Config, B, T int, what string) error {
	if B <= 0 || T <= 0 {
		return fmt.Errorf("%w: %s: B and T must be positive, found B=%d T=%d", ErrBatch, what, B, T)
	}
	info, ok := available()
	if !ok {
		return nil
	}
	need := 4 * float64(arenaSize(cfg, 1)) * float64(B) * float64(T)
	if need <= float64(info.Bytes) {
		return nil
	}
	return fmt.Errorf("%w: %s = %d × %d tokens need %s of activations, but %s is available (%s); lower them",
		ErrMemory, what, B, T, sysmem.Format(need), sysmem.Format(float64(info.Bytes)), info.Source)
}

// CheckSequenceLength refuses a sequence length beyond the model's
// max_position_embeddings; what names the setting ("data.max_length").
func CheckSequenceLength(cfg *Config, T int, what string) error {
	if T > cfg.MaxPositionEmbeddings {
		return fmt.Errorf("%w: %s %d is beyond the model's max_position_embeddings %d; lower it",
			ErrBatch, what, T, cfg.MaxPositionEmbeddings)
	}
	return nil
}

// parameterCount is EstimateMemory's count in float64, which cannot overflow.
func parameterCount(cfg *Config) float64 {
	embed, layers := parameterTerms(cfg)
	return embed + layers + float64(cfg.HiddenSize)
}

// parameterTerms splits the parameters into embeddings (and untied head) and
// the transformer layers.
func parameterTerms(cfg *Config) (embed, layers float64) {
	C, F, L, V := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(cfg.NumHiddenLayers), float64(cfg.VocabSize)
	HD := float64(cfg.HeadDimension())
	QD, KVD := float64(cfg.NumAttentionHeads)*HD, float64(cfg.NumKeyValueHeads)*HD
	embed = V * C
	if !cfg.TieWordEmbeddings {
		embed *= 2
	}
	return embed, L * (2*C + 2*QD*C + 2*KVD*C + 3*F*C)
}

// dominantFields names the config fields behind the larger part of the size.
func dominantFields(cfg *Config) string {
	embed, layers := parameterTerms(cfg)
	if embed >= layers {
		return fmt.Sprintf("mostly the embeddings: vocab_size %d × hidden_size %d", cfg.VocabSize, cfg.HiddenSize)
	}
	return fmt.Sprintf("mostly the layers: num_hidden_layers %d × (hidden_size %d, intermediate_size %d, num_attention_heads %d × head_dim %d)",
		cfg.NumHiddenLayers, cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads, cfg.HeadDimension())
}

// CheckTrainingShape is what a stage checks once its model is loaded: rows of
// data.max_length tokens (rows is train.batch_size, doubled for preference
// pairs) must fit the model's context and the machine's memory.
// where names the model (its directory, or "model.init") in the error. The
// weights are already allocated when a stage calls it; what must still fit is
// the gradients (always full size), the AdamW moments (two per parameter
// unless only LoRA adapters train: fullFineTune false) and the activations.
func CheckTrainingShape(cfg *Config, rows, maxLen int, where string, fullFineTune bool) error {
	err := CheckSequenceLength(cfg, maxLen, "data.max_length")
	if err == nil {
		err = CheckBatchMemory(cfg, rows, maxLen, "train.batch_size × data.max_length")
	}
	if err == nil {
		err = checkTrainState(cfg, rows, maxLen, fullFineTune)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

// checkTrainState adds the gradients and optimizer moments to the activations.
func checkTrainState(cfg *Config, rows, maxLen int, fullFineTune bool) error {
	info, ok := available()
	if !ok {
		return nil
	}
	n := parameterCount(cfg)
	state, what := 4*n, "gradients"
	if fullFineTune {
		state, what = 12*n, "gradients and AdamW moments"
	}
	acts := 4 * float64(arenaSize(cfg, 1)) * float64(rows) * float64(maxLen)
	if state+acts <= float64(info.Bytes) {
		return nil
	}
	return fmt.Errorf("%w: training needs %s for %s (float32) plus %s of activations for train.batch_size × data.max_length = %d × %d, "+
		"but %s is available (%s); lower the batch or the length, enable LoRA, or use a smaller model",
		ErrMemory, sysmem.Format(state), what, sysmem.Format(acts), rows, maxLen, sysmem.Format(float64(info.Bytes)), info.Source)
}

// ModelSource names where a stage's model came from, for CheckTrainingShape:
// the checkpoint it resumes, else model.path, else model.init.
func ModelSource(checkpoint, path string) string {
	switch {
	case checkpoint != "":
		return checkpoint
	case path != "":
		return path
	}
	return "model.init"
}
