package model

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/posttrain/posttrain/compute"
)

// LayerParams are one decoder layer's weights, stored [out, in] as Hugging Face
// stores them. Shape letters: C hidden, F intermediate, NH/NKV heads, HD head dim.
type LayerParams struct {
	AttnNorm compute.Buffer // (C)         input_layernorm.weight
	Q        compute.Buffer // (NH*HD, C)  self_attn.q_proj.weight
	K        compute.Buffer // (NKV*HD, C) self_attn.k_proj.weight
	V        compute.Buffer // (NKV*HD, C) self_attn.v_proj.weight
	O        compute.Buffer // (C, NH*HD)  self_attn.o_proj.weight
	MLPNorm  compute.Buffer // (C)         post_attention_layernorm.weight
	Gate     compute.Buffer // (F, C)      mlp.gate_proj.weight
	Up       compute.Buffer // (F, C)      mlp.up_proj.weight
	Down     compute.Buffer // (C, F)      mlp.down_proj.weight
}

// Params holds every tensor of a LlamaForCausalLM as views into one flat
// buffer, so optimizers, gradient clipping and (later) gradient all-reduce work
// on a single allocation. Gradients use the same type.
type Params struct {
	Embed  compute.Buffer // (V, C) model.embed_tokens.weight
	Layers []LayerParams
	Norm   compute.Buffer // (C)    model.norm.weight
	LMHead compute.Buffer // (V, C) lm_head.weight; the same buffer as Embed when tied; nil for a sequence classifier

	// Flat is the storage every field above is a view of.
	Flat compute.Buffer
	// Tensors lists the tensors under their Hugging Face names in checkpoint
	// order; a tied LM head is not listed (it is not in the file).
	Tensors []NamedTensor
}

// NamedTensor is one parameter tensor under its Hugging Face name.
type NamedTensor struct {
	Name  string
	Shape []int
	Buf   compute.Buffer
	// Norm is true for RMSNorm weights: initialised to one and, by default,
	// excluded from weight decay.
	Norm bool
}

// Size returns the number of elements.
func (t NamedTensor) Size() int { return t.Buf.Len() }

// paramSpec is one entry of the parameter layout.
type paramSpec struct {
	name  string
	shape []int
	field *compute.Buffer
	norm  bool
}

// layout lists the parameters of cfg, pointing each at its field in p.
func (p *Params) layout(cfg *Config) []paramSpec {
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	HD := cfg.HeadDimension()
	qDim, kvDim := cfg.NumAttentionHeads*HD, cfg.NumKeyValueHeads*HD
	specs := []paramSpec{{"model.embed_tokens.weight", []int{V, C}, &p.Embed, false}}
	p.Layers = make([]LayerParams, cfg.NumHiddenLayers)
	for l := range p.Layers {
		lp := &p.Layers[l]
		pre := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			paramSpec{pre + "input_layernorm.weight", []int{C}, &lp.AttnNorm, true},
			paramSpec{pre + "self_attn.q_proj.weight", []int{qDim, C}, &lp.Q, false},
			paramSpec{pre + "self_attn.k_proj.weight", []int{kvDim, C}, &lp.K, false},
			paramSpec{pre + "self_attn.v_proj.weight", []int{kvDim, C}, &lp.V, false},
			paramSpec{pre + "self_attn.o_proj.weight", []int{C, qDim}, &lp.O, false},
			paramSpec{pre + "post_attention_layernorm.weight", []int{C}, &lp.MLPNorm, true},
			paramSpec{pre + "mlp.gate_proj.weight", []int{F, C}, &lp.Gate, false},
			paramSpec{pre + "mlp.up_proj.weight", []int{F, C}, &lp.Up, false},
			paramSpec{pre + "mlp.down_proj.weight", []int{C, F}, &lp.Down, false},
		)
	}
	specs = append(specs, paramSpec{"model.norm.weight", []int{C}, &p.Norm, true})
	if !cfg.TieWordEmbeddings && !cfg.IsSequenceClassifier() {
		specs = append(specs, paramSpec{"lm_head.weight", []int{V, C}, &p.LMHead, false})
	}
	return specs
}

// NewParams allocates zeroed parameters for cfg on be.
func NewParams(be compute.Backend, cfg *Config) *Params {
	p := &Params{}
	specs := p.layout(cfg)
	total := 0
	for _, s := range specs {
		total += numel(s.shape)
	}
	p.Flat = be.Alloc(total)
	off := 0
	for _, s := range specs {
		n := numel(s.shape)
		*s.field = be.View(p.Flat, off, n)
		off += n
		p.Tensors = append(p.Tensors, NamedTensor{Name: s.name, Shape: s.shape, Buf: *s.field, Norm: s.norm})
	}
	if cfg.TieWordEmbeddings && !cfg.IsSequenceClassifier() {
		p.LMHead = p.Embed
	}
	return p
}

// Count returns the number of parameters (a tied head counted once).
func (p *Params) Count() int { return p.Flat.Len() }

// Lookup returns the tensor with the given Hugging Face name.
func (p *Params) Lookup(name string) (NamedTensor, bool) {
	for _, t := range p.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return NamedTensor{}, false
}

// InitRandom fills p the way transformers initialises a fresh LlamaForCausalLM:
// linear and embedding weights ~ N(0, initializer_range²), norm weights 1.
func (p *Params) InitRandom(be compute.Backend, cfg *Config, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	std := cfg.InitializerRange
	if std <= 0 {
		std = 0.02
	}
	for _, t := range p.Tensors {
		host := make([]float32, t.Size())
		for i := range host {
			if t.Norm {
				host[i] = 1
			} else {
				host[i] = float32(rng.NormFloat64() * std)
			}
		}
		be.Upload(t.Buf, host)
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// shapeFits reports whether shape equals want.
func shapeFits(shape, want []int) bool {
	if len(shape) != len(want) {
		return false
	}
	for i := range shape {
		if shape[i] != want[i] {
			return false
		}
	}
	return true
}

// paramBytes estimates memory for n float32 values, in GiB.
func gib(bytes float64) float64 { return bytes / math.Pow(2, 30) }
