package model

import "github.com/posttrain/posttrain/compute"

// attentionForward runs one layer's attention block on the residual stream
// res (N, C), leaving mid = res + o_proj(attention(rope(q), rope(k), v)).
func (m *Model) attentionForward(l int, res compute.Buffer, la *layerActs, p *preparedBatch) {
	be, cfg, w := m.be, m.Config, &m.Params.Layers[l]
	N, C := p.B*p.T, cfg.HiddenSize
	NH, NKV, HD := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDimension()
	QD, KVD := NH*HD, NKV*HD

	be.RMSNorm(la.ln1, la.rstd1, res, w.AttnNorm, N, C, float32(cfg.RMSNormEps))
	m.project(l, "q_proj", la.q, la.ln1, w.Q, N, QD, C)
	m.project(l, "k_proj", la.k, la.ln1, w.K, N, KVD, C)
	m.project(l, "v_proj", la.v, la.ln1, w.V, N, KVD, C)
	be.RoPE(la.q, p.pos, m.invFreq, N, NH, HD)
	be.RoPE(la.k, p.pos, m.invFreq, N, NKV, HD)
	be.Attention(la.att, la.lse, la.q, la.k, la.v, p.docs, compute.AttnShape{B: p.B, T: p.T, NH: NH, NKV: NKV, HD: HD})
	m.project(l, "o_proj", la.mid, la.att, w.O, N, C, QD)
	be.Add(la.mid, res) // mid = res + att·Oᵀ
}

// attentionBackward is attentionForward reversed. On entry a.dres holds
// dLoss/dmid; on exit it holds dLoss/dres (the layer input).
func (m *Model) attentionBackward(l int, res compute.Buffer, la *layerActs, a *activations, p *preparedBatch) {
	be, cfg, w, g := m.be, m.Config, &m.Params.Layers[l], &m.Grads.Layers[l]
	N, C := p.B*p.T, cfg.HiddenSize
	NH, NKV, HD := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDimension()
	QD, KVD := NH*HD, NKV*HD
	datt, dq, dk, dv := a.datt, a.dq, a.dk, a.dv
	dln := a.dln

	// mid = res + att·Oᵀ: the residual passes dres through unchanged.
	m.projectBackward(l, "o_proj", datt, g.O, a.dres, la.att, w.O, N, C, QD, false)
	be.AttentionBackward(dq, dk, dv, datt, la.att, la.lse, la.q, la.k, la.v, p.docs,
		compute.AttnShape{B: p.B, T: p.T, NH: NH, NKV: NKV, HD: HD})
	be.RoPEBackward(dq, p.pos, m.invFreq, N, NH, HD)
	be.RoPEBackward(dk, p.pos, m.invFreq, N, NKV, HD)
	m.projectBackward(l, "q_proj", dln, g.Q, dq, la.ln1, w.Q, N, QD, C, false)
	m.projectBackward(l, "k_proj", dln, g.K, dk, la.ln1, w.K, N, KVD, C, true)
	m.projectBackward(l, "v_proj", dln, g.V, dv, la.ln1, w.V, N, KVD, C, true)
	be.RMSNormBackward(a.dres, g.AttnNorm, dln, res, w.AttnNorm, la.rstd1, N, C)
}
