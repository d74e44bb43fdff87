package model

import "github.com/posttrain/posttrain/compute"

// layerActs are the activations one decoder layer keeps for its backward.
// N = B·T tokens; QD = NH·HD; KVD = NKV·HD.
type layerActs struct {
	ln1   compute.Buffer // (N, C)   input_layernorm output
	rstd1 compute.Buffer // (N)      its reciprocal RMS
	q     compute.Buffer // (N, QD)  queries after RoPE
	k     compute.Buffer // (N, KVD) keys after RoPE
	v     compute.Buffer // (N, KVD) values
	att   compute.Buffer // (N, QD)  attention output before o_proj
	lse   compute.Buffer // (B, NH, T) attention log-sum-exp
	mid   compute.Buffer // (N, C)   residual stream after attention
	ln2   compute.Buffer // (N, C)   post_attention_layernorm output
	rstd2 compute.Buffer // (N)
	gate  compute.Buffer // (N, F)   gate_proj output
	up    compute.Buffer // (N, F)   up_proj output
	act   compute.Buffer // (N, F)   silu(gate)·up
}

// activations is the arena of one forward/backward pass, sized by B·T and
// reused while batches fit. Every field is a view of one allocation.
type activations struct {
	capN int // tokens the arena was sized for

	res    []compute.Buffer // (L+1) × (N, C): res[l] enters layer l, res[L] leaves the trunk
	layers []layerActs
	lnf    compute.Buffer // (N, C) final norm output (the LM head's input)
	rstdf  compute.Buffer // (N)

	// Backward scratch, shared by all layers.
	dres  compute.Buffer // (N, C)   gradient of the residual stream
	dln   compute.Buffer // (N, C)   gradient of a norm's output
	dq    compute.Buffer // (N, QD)
	dk    compute.Buffer // (N, KVD)
	dv    compute.Buffer // (N, KVD)
	datt  compute.Buffer // (N, QD)
	dgate compute.Buffer // (N, F)
	dup   compute.Buffer // (N, F)
	dact  compute.Buffer // (N, F)

	flat compute.Buffer
}

// arenaFor returns an arena with room for B·T tokens, reusing the current one when it fits.
func (m *Model) arenaFor(B, T int) *activations {
	N := B * T
	if m.acts != nil && m.acts.capN >= N {
		return m.acts.sized(m.be, m.Config, B, T)
	}
	m.acts = &activations{capN: N}
	m.acts.flat = m.be.Alloc(arenaSize(m.Config, N))
	return m.acts.sized(m.be, m.Config, B, T)
}

// arenaSize counts the floats an arena for N tokens needs.
func arenaSize(cfg *Config, N int) int {
	C, F, L := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	QD := cfg.NumAttentionHeads * cfg.HeadDimension()
	KVD := cfg.NumKeyValueHeads * cfg.HeadDimension()
	perLayer := 3*N*C + 2*N + 2*N*QD + 2*N*KVD + N*cfg.NumAttentionHeads + 3*N*F
	return (L+1)*N*C + L*perLayer + N*C + N + 2*N*C + 2*N*QD + 2*N*KVD + 3*N*F
}

// sized lays out views for exactly B·T tokens at the front of the allocation.
func (a *activations) sized(be compute.Backend, cfg *Config, B, T int) *activations {
	N := B * T
	C, F, L := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHiddenLayers
	QD := cfg.NumAttentionHeads * cfg.HeadDimension()
	KVD := cfg.NumKeyValueHeads * cfg.HeadDimension()
	off := 0
	take := func(n int) compute.Buffer {
		v := be.View(a.flat, off, n)
		off += n
		return v
	}
	a.res = make([]compute.Buffer, L+1)
	for l := range a.res {
		a.res[l] = take(N * C)
	}
	a.layers = make([]layerActs, L)
	for l := range a.layers {
		la := &a.layers[l]
		la.ln1, la.rstd1 = take(N*C), take(N)
		la.q, la.k, la.v = take(N*QD), take(N*KVD), take(N*KVD)
		la.att, la.lse = take(N*QD), take(N*cfg.NumAttentionHeads)
		la.mid, la.ln2, la.rstd2 = take(N*C), take(N*C), take(N)
		la.gate, la.up, la.act = take(N*F), take(N*F), take(N*F)
	}
	a.lnf, a.rstdf = take(N*C), take(N)
	a.dres, a.dln = take(N*C), take(N*C)
	a.dq, a.dk, a.dv, a.datt = take(N*QD), take(N*KVD), take(N*KVD), take(N*QD)
	a.dgate, a.dup, a.dact = take(N*F), take(N*F), take(N*F)
	return a
}
