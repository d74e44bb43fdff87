package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/posttrain/posttrain/compute"
)

// LoRAConfig follows PEFT's LoraConfig fields.
type LoRAConfig struct {
	Rank          int      `json:"r" yaml:"r"`
	Alpha         float64  `json:"lora_alpha" yaml:"alpha"`
	Dropout       float64  `json:"lora_dropout" yaml:"dropout"`
	TargetModules []string `json:"target_modules" yaml:"target_modules"`
}

// Scale is alpha/r, the factor on the low-rank update.
func (c LoRAConfig) Scale() float32 { return float32(c.Alpha / float64(c.Rank)) }

// loraModules are the projections LoRA may target, by PEFT's module names.
var loraModules = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// Validate checks rank, alpha, dropout and module names.
// maxLoRARank bounds r: beyond it an adapter is larger than the layers it adapts.
const maxLoRARank = 1 << 14

func (c LoRAConfig) Validate() error {
	if c.Rank <= 0 {
		return fmt.Errorf("lora: r must be positive, found %d", c.Rank)
	}
	if c.Rank > maxLoRARank {
		return fmt.Errorf("lora: r must be <= %d, found %d", maxLoRARank, c.Rank)
	}
	if !(c.Alpha > 0) || math.IsInf(c.Alpha, 0) { // NaN fails the comparison
		return fmt.Errorf("lora: alpha must be a finite number > 0, found %g", c.Alpha)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		return fmt.Errorf("lora: dropout must be in [0, 1), found %g", c.Dropout)
	}
	if len(c.TargetModules) == 0 {
		return fmt.Errorf("lora: target_modules is empty; choose from %v", loraModules)
	}
	for _, m := range c.TargetModules {
		if !slices.Contains(loraModules, m) {
			return fmt.Errorf("lora: unknown target module %q; choose from %v", m, loraModules)
		}
	}
	return nil
}

// adapter is one low-rank update W + scale·B·A of a projection W (O, I).
type adapter struct {
	name   string         // HF name of the base weight, e.g. model.layers.0.self_attn.q_proj.weight
	A      compute.Buffer // (r, I) lora_A.weight
	B      compute.Buffer // (O, r) lora_B.weight
	dA, dB compute.Buffer
	O, I   int
	// per-pass activations, sized for the arena's tokens
	xr   compute.Buffer // (N, r) dropout(x)·Aᵀ
	xd   compute.Buffer // (N, I) dropout(x), kept only when dropout > 0
	mask []float32      // (N·I) dropout multipliers on the host (0 or 1/(1-p))
	dxr  compute.Buffer // (N, r)
}

// LoRA is a set of adapters attached to a model. While attached, the base
// weights are frozen: Backward computes adapter gradients only (plus the cheap
// norm and embedding gradients, which the trainer ignores).
type LoRA struct {
	Config LoRAConfig
	// Tensors lists the adapter weights under PEFT's names, and Grads their
	// gradients in the same order.
	Tensors, Grads []NamedTensor
	Flat, GradFlat compute.Buffer

	byLayer  []map[string]*adapter // layer → module → adapter
	capN     int
	pcg      *rand.PCG
	rng      *rand.Rand
	training bool
	disabled bool
}

// peftName is PEFT's name for an adapter matrix of a base weight name.
func peftName(base, which string) string {
	return "base_model.model." + base[:len(base)-len(".weight")] + ".lora_" + which + ".weight"
}

// AttachLoRA adds freshly initialised adapters (A ~ PEFT's kaiming-uniform, B = 0,
// so the model's output is unchanged) and freezes the base weights.
func (m *Model) AttachLoRA(cfg LoRAConfig, seed uint64) (*LoRA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	be, c := m.be, m.Config
	C, F := c.HiddenSize, c.IntermediateSize
	QD, KVD := c.NumAttentionHeads*c.HeadDimension(), c.NumKeyValueHeads*c.HeadDimension()
	dims := map[string][2]int{ // module → (O, I)
		"q_proj": {QD, C}, "k_proj": {KVD, C}, "v_proj": {KVD, C}, "o_proj": {C, QD},
		"gate_proj": {F, C}, "up_proj": {F, C}, "down_proj": {C, F},
	}
	parents := map[string]string{"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
		"o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
	r := cfg.Rank
	lo := &LoRA{Config: cfg, pcg: rand.NewPCG(seed, 0x10a)}
	lo.rng = rand.New(lo.pcg)
	total := 0
	for range c.NumHiddenLayers {
		for _, mod := range loraModules {
			if slices.Contains(cfg.TargetModules, mod) {
				total += r*dims[mod][1] + dims[mod][0]*r
			}
		}
	}
	lo.Flat, lo.GradFlat = be.Alloc(total), be.Alloc(total)
	off := 0
	take := func(n int) (compute.Buffer, compute.Buffer) {
		a, g := be.View(lo.Flat, off, n), be.View(lo.GradFlat, off, n)
		off += n
		return a, g
	}
	for l := range c.NumHiddenLayers {
		layer := map[string]*adapter{}
		for _, mod := range loraModules {
			if !slices.Contains(cfg.TargetModules, mod) {
				continue
			}
			O, I := dims[mod][0], dims[mod][1]
			ad := &adapter{name: fmt.Sprintf("model.layers.%d.%s.%s.weight", l, parents[mod], mod), O: O, I: I}
			ad.A, ad.dA = take(r * I)
			ad.B, ad.dB = take(O * r)
			bound := 1 / math.Sqrt(float64(I)) // kaiming_uniform(a=√5) on (r, I)
			host := make([]float32, r*I)
			for i := range host {
				host[i] = float32((2*lo.rng.Float64() - 1) * bound)
			}
			be.Upload(ad.A, host)
			lo.Tensors = append(lo.Tensors,
				NamedTensor{Name: peftName(ad.name, "A"), Shape: []int{r, I}, Buf: ad.A},
				NamedTensor{Name: peftName(ad.name, "B"), Shape: []int{O, r}, Buf: ad.B})
			lo.Grads = append(lo.Grads,
				NamedTensor{Name: peftName(ad.name, "A"), Shape: []int{r, I}, Buf: ad.dA},
				NamedTensor{Name: peftName(ad.name, "B"), Shape: []int{O, r}, Buf: ad.dB})
			layer[mod] = ad
		}
		lo.byLayer = append(lo.byLayer, layer)
	}
	m.lora = lo
	return lo, nil
}

// LoRA returns the attached adapters, or nil.
func (m *Model) LoRA() *LoRA { return m.lora }

// SetTraining turns adapter dropout on (training) or off (evaluation).
func (lo *LoRA) SetTraining(on bool) { lo.training = on }

// SetEnabled switches the adapters off and on: with them off the model is the
// base model, which DPO uses as its reference without a second copy.
func (lo *LoRA) SetEnabled(on bool) { lo.disabled = !on }

// ZeroGrads clears the adapter gradients.
func (lo *LoRA) ZeroGrads(be compute.Backend) { be.Zero(lo.GradFlat) }

// ensure sizes the per-pass activations of every adapter for N tokens.
func (lo *LoRA) ensure(be compute.Backend, N int) {
	if N <= lo.capN {
		return
	}
	r := lo.Config.Rank
	for _, layer := range lo.byLayer {
		for _, ad := range layer {
			ad.xr, ad.dxr = be.Alloc(N*r), be.Alloc(N*r)
			if lo.Config.Dropout > 0 {
				ad.xd = be.Alloc(N * ad.I)
				ad.mask = make([]float32, N*ad.I)
			}
		}
	}
	lo.capN = N
}

// active returns the adapter of (layer, module) when one applies to this pass.
func (m *Model) adapterFor(l int, module string) *adapter {
	if m.lora == nil || m.lora.disabled {
		return nil
	}
	return m.lora.byLayer[l][module]
}

// project computes out (N, O) = x·Wᵀ plus the layer's LoRA update when one is attached:
// out += scale · (dropout(x)·Aᵀ)·Bᵀ.
func (m *Model) project(l int, module string, out, x, w compute.Buffer, N, O, I int) {
	linear(m.be, out, x, w, N, O, I)
	ad := m.adapterFor(l, module)
	if ad == nil {
		return
	}
	be, lo := m.be, m.lora
	lo.ensure(be, N)
	r := lo.Config.Rank
	xr := be.View(ad.xr, 0, N*r)
	in := x
	if lo.Config.Dropout > 0 && lo.training {
		in = be.View(ad.xd, 0, N*I)
		lo.dropout(be, in, x, ad.mask[:N*I])
	}
	linear(be, xr, in, ad.A, N, r, I)
	be.MatMul(out, xr, ad.B, N, O, r, false, true, lo.Config.Scale(), 1)
}

// projectBackward is project's backward: dx (N, I) = dout·W (+= when accumulate)
// plus the adapter path; dw (the base gradient) is skipped while LoRA is
// attached, since the base is frozen.
func (m *Model) projectBackward(l int, module string, dx, dw, dout, x, w compute.Buffer, N, O, I int, accumulate bool) {
	be := m.be
	if m.lora == nil {
		linearBackward(be, dx, dw, dout, x, w, N, O, I, accumulate)
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	be.MatMul(dx, dout, w, N, I, O, false, false, 1, beta)
	ad := m.adapterFor(l, module)
	if ad == nil {
		return
	}
	lo := m.lora
	r, s := lo.Config.Rank, lo.Config.Scale()
	xr, dxr := be.View(ad.xr, 0, N*r), be.View(ad.dxr, 0, N*r)
	in := x
	dropped := lo.Config.Dropout > 0 && lo.training
	if dropped {
		in = be.View(ad.xd, 0, N*I)
	}
	be.MatMul(ad.dB, dout, xr, O, r, N, true, false, s, 1)  // dB += s·doutᵀ·xr
	be.MatMul(dxr, dout, ad.B, N, r, O, false, false, s, 0) // dxr = s·dout·B
	be.MatMul(ad.dA, dxr, in, r, I, N, true, false, 1, 1)   // dA += dxrᵀ·in
	if !dropped {
		be.MatMul(dx, dxr, ad.A, N, I, r, false, false, 1, 1) // dx += dxr·A
		return
	}
	tmp := be.View(ad.xd, 0, N*I) // dropout(x) is no longer needed
	be.MatMul(tmp, dxr, ad.A, N, I, r, false, false, 1, 0)
	host := make([]float32, N*I)
	be.Download(host, tmp)
	for i, k := range ad.mask[:N*I] {
		host[i] *= k
	}
	be.Upload(tmp, host)
	be.Add(dx, tmp)
}

// dropout writes dst = x·mask with mask entries 0 (probability p) or 1/(1−p).
func (lo *LoRA) dropout(be compute.Backend, dst, x compute.Buffer, mask []float32) {
	p := lo.Config.Dropout
	keep := float32(1 / (1 - p))
	host := make([]float32, len(mask))
	be.Download(host, x)
	for i := range mask {
		if lo.rng.Float64() < p {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
		host[i] *= mask[i]
	}
	be.Upload(dst, host)
}

// MergeLoRA folds the adapters into the base weights (W += scale·B·A) and detaches them.
func (m *Model) MergeLoRA() error {
	lo := m.lora
	if lo == nil {
		return fmt.Errorf("model: no LoRA adapters attached")
	}
	for _, layer := range lo.byLayer {
		for _, ad := range layer {
			base, ok := m.Params.Lookup(ad.name)
			if !ok {
				return fmt.Errorf("model: LoRA target %s is not a parameter", ad.name)
			}
			m.be.MatMul(base.Buf, ad.B, ad.A, ad.O, ad.I, lo.Config.Rank, false, false, lo.Config.Scale(), 1)
		}
	}
	m.lora = nil
	return nil
}

// RNGState serialises the dropout generator, for exact resume.
func (lo *LoRA) RNGState() ([]byte, error) { return lo.pcg.MarshalBinary() }

// SetRNGState restores a state written by RNGState.
func (lo *LoRA) SetRNGState(b []byte) error { return lo.pcg.UnmarshalBinary(b) }
