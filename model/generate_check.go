package model

import (
	"fmt"
	"math"

	"github.com/posttrain/posttrain/internal/sysmem"
)

// Validate reports sampling settings that have no meaning: a negative, NaN or
// infinite temperature, a negative top-k, a top-p outside [0, 1] (0 and 1
// both mean no nucleus filter).
func (o SamplingOptions) Validate() error {
	switch {
	case math.IsNaN(o.Temperature) || math.IsInf(o.Temperature, 0) || o.Temperature < 0:
		return fmt.Errorf("%w: temperature must be a finite number >= 0 (0 is greedy), found %g", ErrBatch, o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("%w: top-k must be >= 0 (0 keeps every token), found %d", ErrBatch, o.TopK)
	case math.IsNaN(o.TopP) || o.TopP < 0 || o.TopP > 1:
		return fmt.Errorf("%w: top-p must be in [0, 1] (0 and 1 keep every token), found %g", ErrBatch, o.TopP)
	}
	return nil
}

// checkGenerate validates opts against the prompts before Generate allocates
// its KV cache of (layers, 2, rows, longest prompt + max new tokens, KV width).
func (m *Model) checkGenerate(B, maxPrompt int, opts GenerateOptions) error {
	if err := opts.SamplingOptions.Validate(); err != nil {
		return err
	}
	if opts.MaxNewTokens < 0 {
		return fmt.Errorf("%w: max new tokens must be >= 0, found %d", ErrBatch, opts.MaxNewTokens)
	}
	cfg := m.Config
	if room := cfg.MaxPositionEmbeddings - maxPrompt; opts.MaxNewTokens > room {
		return fmt.Errorf("%w: a prompt of %d tokens plus %d new tokens is beyond the model's max_position_embeddings %d; "+
			"ask for at most %d new tokens", ErrBatch, maxPrompt, opts.MaxNewTokens, cfg.MaxPositionEmbeddings, max(room, 0))
	}
	info, ok := available()
	if !ok {
		return nil
	}
	kv := 4 * 2 * float64(cfg.NumHiddenLayers) * float64(B) * float64(maxPrompt+opts.MaxNewTokens) *
		float64(cfg.NumKeyValueHeads*cfg.HeadDimension())
	if kv > float64(info.Bytes) {
		return fmt.Errorf("%w: the KV cache for %d rows of %d + %d tokens needs %s, but %s is available (%s); ask for fewer new tokens",
			ErrMemory, B, maxPrompt, opts.MaxNewTokens, sysmem.Format(kv), sysmem.Format(float64(info.Bytes)), info.Source)
	}
	return nil
}
