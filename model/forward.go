package model

import (
	"errors"
	"fmt"
	"math"

	"github.com/posttrain/posttrain/compute"
)

// ErrNoForward is returned by Backward when no forward pass precedes it.
var ErrNoForward = errors.New("model: Backward called without a preceding Forward")

// trunk runs embedding, the decoder layers and the final norm, leaving the LM
// head's input in a.lnf (N, C).
func (m *Model) trunk(p *preparedBatch) *activations {
	be, cfg := m.be, m.Config
	N, C := p.B*p.T, cfg.HiddenSize
	a := m.arenaFor(p.B, p.T)
	be.Embedding(a.res[0], m.Params.Embed, p.ids, C)
	for l := range a.layers {
		la := &a.layers[l]
		m.attentionForward(l, a.res[l], la, p)
		m.mlpForward(l, a.res[l+1], la, N)
	}
	be.RMSNorm(a.lnf, a.rstdf, a.res[cfg.NumHiddenLayers], m.Params.Norm, N, C, float32(cfg.RMSNormEps))
	return a
}

// trunkBackward runs the trunk in reverse from dLoss/dlnf, which the caller has
// left in a.dln, accumulating every parameter gradient.
func (m *Model) trunkBackward(p *preparedBatch, a *activations) {
	be, cfg := m.be, m.Config
	N, C, L := p.B*p.T, cfg.HiddenSize, cfg.NumHiddenLayers
	be.Zero(a.dres)
	be.RMSNormBackward(a.dres, m.Grads.Norm, a.dln, a.res[L], m.Params.Norm, a.rstdf, N, C)
	for l := L - 1; l >= 0; l-- {
		la := &a.layers[l]
		m.mlpBackward(l, la, a, N)
		m.attentionBackward(l, a.res[l], la, a, p)
	}
	be.EmbeddingBackward(m.Grads.Embed, a.dres, p.ids, C)
}

// ErrNoLMHead is returned by the LM-head entry points of a sequence classifier.
var ErrNoLMHead = errors.New("model: this is a sequence classifier (no lm_head); use ForwardHidden")

// Forward runs the model on b and returns the mean loss over labelled tokens
// and their log-probabilities. Activations are kept for Backward.
func (m *Model) Forward(b *Batch) (*Output, error) {
	if m.Params.LMHead == nil {
		return nil, ErrNoLMHead
	}
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	a := m.trunk(p)
	m.fwd = p
	logp := make([]float32, len(p.ids))
	m.be.TokenLogProbs(logp, nil, nil, a.lnf, m.Params.LMHead, p.targets, nil, len(p.ids), m.Config.HiddenSize, m.Config.VocabSize)
	return p.output(logp), nil
}

// Backward accumulates into m.Grads the gradient of Σ dlogp[n]·LogProbs[n] for
// the batch of the last Forward; dlogp [B*T] is aligned with Labels like
// Output.LogProbs. The LM-head logits are recomputed chunk by chunk rather than
// stored.
func (m *Model) Backward(dlogp []float32) error {
	p := m.fwd
	if p == nil {
		return ErrNoForward
	}
	if len(dlogp) != len(p.ids) {
		return fmt.Errorf("%w: dlogp has %d values, want B·T = %d", ErrBatch, len(dlogp), len(p.ids))
	}
	m.EnableGrads()
	a := m.acts
	shifted := p.unshift(dlogp)
	logp := make([]float32, len(p.ids))
	m.be.Zero(a.dln)
	m.be.TokenLogProbs(logp, a.dln, m.Grads.LMHead, a.lnf, m.Params.LMHead, p.targets, shifted, len(p.ids), m.Config.HiddenSize, m.Config.VocabSize)
	m.trunkBackward(p, a)
	m.fwd = nil
	return nil
}

// ForwardBackward is Forward followed by the backward of scale·(summed NLL),
// fused so the LM head's logits are computed once. With scale = 1/NumTokens the
// gradient is that of the mean loss; gradient accumulation passes
// 1/(tokens across all micro-batches) instead.
func (m *Model) ForwardBackward(b *Batch, scale float32) (*Output, error) {
	if m.Params.LMHead == nil {
		return nil, ErrNoLMHead
	}
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	m.EnableGrads()
	a := m.trunk(p)
	N := len(p.ids)
	coef := make([]float32, N)
	for n, t := range p.targets {
		if t != compute.IgnoreIndex {
			coef[n] = -scale // d(−logp·scale)/dlogp
		}
	}
	logp := make([]float32, N)
	m.be.Zero(a.dln)
	m.be.TokenLogProbs(logp, a.dln, m.Grads.LMHead, a.lnf, m.Params.LMHead, p.targets, coef, N, m.Config.HiddenSize, m.Config.VocabSize)
	m.trunkBackward(p, a)
	return p.output(logp), nil
}

// Logits returns the full logits (B, T, V) on the host: for debugging and
// small models only (it materialises B·T·V floats).
func (m *Model) Logits(b *Batch) ([]float32, error) {
	if m.Params.LMHead == nil {
		return nil, ErrNoLMHead
	}
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	a := m.trunk(p)
	N, C, V := len(p.ids), m.Config.HiddenSize, m.Config.VocabSize
	out := m.be.Alloc(N * V)
	linear(m.be, out, a.lnf, m.Params.LMHead, N, V, C)
	host := make([]float32, N*V)
	m.be.Download(host, out)
	return host, nil
}

// output shifts per-target log-probs onto the label positions and averages the loss.
func (p *preparedBatch) output(logp []float32) *Output {
	out := &Output{NumTokens: p.count, LogProbs: make([]float32, len(logp))}
	var sum float64
	for n, t := range p.targets {
		if t == compute.IgnoreIndex {
			continue
		}
		out.LogProbs[n+1] = logp[n]
		sum -= float64(logp[n])
	}
	if p.count > 0 {
		out.Loss = sum / float64(p.count)
	} else {
		out.Loss = math.NaN()
	}
	return out
}

// unshift maps per-label coefficients back onto the positions whose logits score them.
func (p *preparedBatch) unshift(perLabel []float32) []float32 {
	out := make([]float32, len(perLabel))
	for n, t := range p.targets {
		if t != compute.IgnoreIndex {
			out[n] = perLabel[n+1]
		}
	}
	return out
}

// ForwardHidden runs the trunk on b and returns the final-norm hidden states
// (B·T, C) on the host: the input of any head (a reward model's score, a value
// head). Activations are kept for BackwardHidden.
func (m *Model) ForwardHidden(b *Batch) ([]float32, error) {
	p, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	a := m.trunk(p)
	m.fwd = p
	h := make([]float32, len(p.ids)*m.Config.HiddenSize)
	m.be.Download(h, a.lnf)
	return h, nil
}

// BackwardHidden accumulates into m.Grads the gradient of a head's loss given
// dh = dLoss/dhidden (B·T, C) for the batch of the last ForwardHidden.
func (m *Model) BackwardHidden(dh []float32) error {
	p := m.fwd
	if p == nil {
		return ErrNoForward
	}
	if want := len(p.ids) * m.Config.HiddenSize; len(dh) != want {
		return fmt.Errorf("%w: dh has %d values, want B·T·C = %d", ErrBatch, len(dh), want)
	}
	m.EnableGrads()
	a := m.acts
	m.be.Upload(a.dln, dh)
	m.trunkBackward(p, a)
	m.fwd = nil
	return nil
}
