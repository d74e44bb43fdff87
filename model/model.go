// Package model is the LLaMA 3 definition: config, weights under Hugging Face
// names, forward and backward over a batch, and KV-cache generation. It is
// written against compute.Backend and never touches a device directly.
package model

import (
	"errors"
	"fmt"

	"github.com/posttrain/posttrain/compute"
)

// ErrBatch marks a batch whose shape or contents do not fit the model.
var ErrBatch = errors.New("model: invalid batch")

// Model is a LlamaForCausalLM on a compute backend.
type Model struct {
	Config *Config
	Params *Params
	// Grads has the layout of Params; nil until EnableGrads.
	Grads *Params

	be      compute.Backend
	invFreq []float32 // (HD/2) rotary inverse frequencies
	acts    *activations
	lora    *LoRA // attached adapters, or nil
	// last forward's batch, kept for the backward.
	fwd *preparedBatch
}

// New allocates a zero-initialised model for cfg on be.
func New(be compute.Backend, cfg *Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckMemory(cfg); err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Params: NewParams(be, cfg), be: be, invFreq: RopeInvFreq(cfg)}, nil
}

// Backend returns the compute backend the model runs on.
func (m *Model) Backend() compute.Backend { return m.be }

// InvFreq returns the rotary inverse frequencies (HD/2 values).
func (m *Model) InvFreq() []float32 { return m.invFreq }

// EnableGrads allocates zeroed gradient buffers (once).
func (m *Model) EnableGrads() {
	if m.Grads == nil {
		m.Grads = NewParams(m.be, m.Config)
	}
}

// ZeroGrads clears the accumulated gradients.
func (m *Model) ZeroGrads() {
	if m.Grads != nil {
		m.be.Zero(m.Grads.Flat)
	}
}

// Batch is a training or scoring batch of B rows of T tokens, row-major.
type Batch struct {
	B, T int
	// IDs are the input tokens [B*T].
	IDs []int32
	// Labels [B*T] follow Hugging Face's convention: the logits at position t are
	// scored against Labels[t+1]; IgnoreIndex (-100) positions carry no loss. Nil:
	// forward only.
	Labels []int32
	// PositionIDs [B*T]; nil means 0..T-1 in every row.
	PositionIDs []int32
	// AttentionMask [B*T] of 0/1; padding (0) is neither attended to nor scored.
	AttentionMask []int32
	// DocIDs [B*T] for packed rows: attention never crosses documents. Padding
	// may carry its own (negative) ids so it attends only to itself.
	DocIDs []int32
}

// Output is what a forward pass returns to the host.
type Output struct {
	// Loss is the mean negative log-likelihood over scored labels.
	Loss float64
	// NumTokens counts the scored labels.
	NumTokens int
	// LogProbs [B*T] is log p(Labels[n] | tokens before n), aligned with Labels;
	// 0 where the label is ignored (and at t = 0).
	LogProbs []float32
}

// preparedBatch is a validated batch with the derived host-side index arrays.
type preparedBatch struct {
	B, T    int
	ids     []int32 // (N)
	pos     []int32 // (N)
	docs    []int32 // (N) or nil
	targets []int32 // (N) target of the logits at n: Labels[n+1] or IgnoreIndex
	count   int     // scored targets
}

// prepare validates b and derives positions, document ids and shifted targets.
func (m *Model) prepare(b *Batch) (*preparedBatch, error) {
	N := b.B * b.T
	if b.B <= 0 || b.T <= 0 {
		return nil, fmt.Errorf("%w: B and T must be positive, found B=%d T=%d", ErrBatch, b.B, b.T)
	}
	if len(b.IDs) != N {
		return nil, fmt.Errorf("%w: input_ids has %d tokens, want B·T = %d", ErrBatch, len(b.IDs), N)
	}
	for name, s := range map[string][]int32{"labels": b.Labels, "position_ids": b.PositionIDs,
		"attention_mask": b.AttentionMask, "doc_ids": b.DocIDs} {
		if s != nil && len(s) != N {
			return nil, fmt.Errorf("%w: %s has %d values, want B·T = %d", ErrBatch, name, len(s), N)
		}
	}
	V := int32(m.Config.VocabSize)
	for n, id := range b.IDs {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("%w: input_ids[%d][%d] = %d is outside the vocabulary [0, %d)", ErrBatch, n/b.T, n%b.T, id, V)
		}
	}
	p := &preparedBatch{B: b.B, T: b.T, ids: b.IDs, pos: b.PositionIDs}
	if p.pos == nil {
		p.pos = make([]int32, N)
		for n := range p.pos {
			p.pos[n] = int32(n % b.T)
		}
	}
	for n, q := range p.pos {
		if q < 0 {
			return nil, fmt.Errorf("%w: position_ids[%d][%d] = %d is negative", ErrBatch, n/b.T, n%b.T, q)
		}
	}
	for n, v := range b.AttentionMask {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("%w: attention_mask[%d][%d] = %d, want 0 (padding) or 1", ErrBatch, n/b.T, n%b.T, v)
		}
	}
	if b.DocIDs != nil || b.AttentionMask != nil {
		p.docs = make([]int32, N)
		for n := range p.docs {
			if b.DocIDs != nil {
				p.docs[n] = b.DocIDs[n]
			}
			if b.AttentionMask != nil && b.AttentionMask[n] == 0 {
				p.docs[n] = -1 - int32(n) // padding attends only to itself
			}
		}
	}
	p.targets = make([]int32, N)
	for n := range p.targets {
		p.targets[n] = compute.IgnoreIndex
		if b.Labels == nil || n%b.T == b.T-1 {
			continue
		}
		lab := b.Labels[n+1]
		if lab == compute.IgnoreIndex || (b.AttentionMask != nil && b.AttentionMask[n+1] == 0) {
			continue
		}
		if lab < 0 || lab >= V {
			return nil, fmt.Errorf("%w: labels[%d][%d] = %d is outside the vocabulary [0, %d) and is not -100",
				ErrBatch, (n+1)/b.T, (n+1)%b.T, lab, V)
		}
		p.targets[n] = lab
		p.count++
	}
	return p, nil
}

// Fork returns a model that shares m's parameters (no copy of the weights) but
// runs on be with its own activations and gradients, so several goroutines
// (rollout workers) can run forward passes and generation at once. be must be
// able to read m's buffers (another instance of the same backend kind).
// Updates to m's parameters are visible to every fork.
func (m *Model) Fork(be compute.Backend) *Model {
	return &Model{Config: m.Config, Params: m.Params, be: be, invFreq: m.invFreq}
}
