// Package rollout generates and scores samples for on-policy training (PPO,
// GRPO, RLOO): a pool of workers takes prompts in batches, continues them with
// the current policy, recomputes the policy's per-token log-probs, scores the
// completions with a reward model or a registered reward function, and hands
// back samples in prompt order.
//
// Workers talk to generation engines through the small Generator interface, so
// the in-process KV-cache generator (ModelGenerator) can be joined by remote
// engines (an OpenAI-compatible server) without touching the trainers.
package rollout

import (
	"context"

	"github.com/posttrain/posttrain/model"
)

// Prompt is one unit of rollout work.
type Prompt struct {
	// ID names the prompt in errors and seeds its batch; unique within a Run.
	ID int
	// Tokens is the tokenized prompt (chat template already applied).
	Tokens []int32
	// Meta carries per-prompt data for reward functions, e.g. "answer" for
	// tasks with a checkable answer.
	Meta map[string]string
}

// GenerateOptions configure one generation call.
type GenerateOptions struct {
	model.SamplingOptions
	MaxNewTokens int
	// StopTokens end a completion (the stop token is kept). Empty: the
	// generator's default (the model's eos_token_id for ModelGenerator).
	StopTokens []int32
	// Seed makes sampling reproducible. In a Pool's Config it is the base seed
	// from which every batch's seed is derived.
	Seed uint64
}

// Completion is what a generator returns for one prompt.
type Completion struct {
	// Tokens are the new tokens, ending with the stop token when Stopped.
	Tokens []int32
	// LogProbs [len(Tokens)] are log π(token | prompt, earlier tokens) under
	// the policy itself: temperature 1, no top-k/top-p filter, recomputed with
	// a full forward pass over prompt+completion as TRL does. This is the
	// quantity a trainer's own forward pass returns, so the PPO ratio starts at 1.
	LogProbs []float32
	// Stopped reports that the completion ended with a stop token (rather than
	// running into MaxNewTokens).
	Stopped bool
}

// Generator continues prompts. Implementations need not be safe for
// concurrent use: a Pool gives each worker its own generator.
type Generator interface {
	// Generate returns one completion per prompt, in order.
	Generate(ctx context.Context, prompts [][]int32, opts GenerateOptions) ([]Completion, error)
}

// Sample is a scored completion.
type Sample struct {
	Prompt Prompt
	Completion
	// Score is the reward; 0 when the pool has no scorer or Err is set.
	Score float64
	// Err is set when the sample could not be generated (after one retry) or
	// scored; the completion is kept when only scoring failed.
	Err error
	// Worker is the index of the worker that produced the sample; -1 when
	// generation failed on both attempts.
	Worker int
}
