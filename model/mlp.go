package model

import "github.com/posttrain/posttrain/compute"

// mlpForward runs one layer's SwiGLU feed-forward block on la.mid (N, C),
// writing out = mid + down(silu(gate(ln2)) · up(ln2)).
func (m *Model) mlpForward(l int, out compute.Buffer, la *layerActs, N int) {
	be, cfg, w := m.be, m.Config, &m.Params.Layers[l]
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	be.RMSNorm(la.ln2, la.rstd2, la.mid, w.MLPNorm, N, C, float32(cfg.RMSNormEps))
	m.project(l, "gate_proj", la.gate, la.ln2, w.Gate, N, F, C)
	m.project(l, "up_proj", la.up, la.ln2, w.Up, N, F, C)
	be.SwiGLU(la.act, la.gate, la.up)
	m.project(l, "down_proj", out, la.act, w.Down, N, C, F)
	be.Add(out, la.mid) // out = mid + act·Downᵀ
}

// mlpBackward is mlpForward reversed. On entry a.dres holds dLoss/dout; on exit
// it holds dLoss/dmid.
func (m *Model) mlpBackward(l int, la *layerActs, a *activations, N int) {
	be, cfg, w, g := m.be, m.Config, &m.Params.Layers[l], &m.Grads.Layers[l]
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	dact, dgate, dup := a.dact, a.dgate, a.dup
	dln := a.dln

	m.projectBackward(l, "down_proj", dact, g.Down, a.dres, la.act, w.Down, N, C, F, false)
	be.SwiGLUBackward(dgate, dup, dact, la.gate, la.up)
	m.projectBackward(l, "gate_proj", dln, g.Gate, dgate, la.ln2, w.Gate, N, F, C, false)
	m.projectBackward(l, "up_proj", dln, g.Up, dup, la.ln2, w.Up, N, F, C, true)
	be.RMSNormBackward(a.dres, g.MLPNorm, dln, la.mid, w.MLPNorm, la.rstd2, N, C)
}
