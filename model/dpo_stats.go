package model

import "github.com/posttrain/posttrain/compute"

// MeanLogits returns, for the batch of the last Forward (call it before
// Backward), the mean over the vocabulary of the logits that score each label,
// aligned with Labels like Output.LogProbs: out[n] = (1/V)·Σ_v logits[n-1, v]
// where Labels[n] is scored, 0 elsewhere. DPO logs its mean over completion
// tokens as TRL's logits/chosen and logits/rejected.
//
// Since mean_v(h·W_vᵀ) = h·w̄ with w̄ = (1/V)·Σ_v W_v, this costs a [1,V]·[V,C]
// and an [N,C]·[C] product and never materialises the [N,V] logits.
func (m *Model) MeanLogits() ([]float32, error) {
	p := m.fwd
	if p == nil {
		return nil, ErrNoForward
	}
	if m.Params.LMHead == nil {
		return nil, ErrNoLMHead
	}
	be := m.be
	N, C, V := len(p.ids), m.Config.HiddenSize, m.Config.VocabSize
	uniform := make([]float32, V)
	for v := range uniform {
		uniform[v] = 1 / float32(V)
	}
	weights := be.Alloc(V) // (1, V)
	be.Upload(weights, uniform)
	wbar := be.Alloc(C) // (1, C) mean row of the LM head
	be.MatMul(wbar, weights, m.Params.LMHead, 1, C, V, false, false, 1, 0)
	means := be.Alloc(N) // (N, 1)
	be.MatMul(means, m.acts.lnf, wbar, N, 1, C, false, true, 1, 0)
	perPosition := make([]float32, N)
	be.Download(perPosition, means)
	out := make([]float32, N)
	for n, t := range p.targets {
		if t != compute.IgnoreIndex {
			out[n+1] = perPosition[n]
		}
	}
	return out, nil
}
