package train

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refAdamW is torch.optim.AdamW's _single_tensor_adamw in float64, one parameter.
type refAdamW struct {
	p, m, v []float64
	step    int
}

func (r *refAdamW) update(g []float64, lr, beta1, beta2, eps, wd float64) {
	r.step++
	bc1 := 1 - math.Pow(beta1, float64(r.step))
	bc2 := 1 - math.Pow(beta2, float64(r.step))
	for i := range r.p {
		r.p[i] *= 1 - lr*wd
		r.m[i] = r.m[i] + (1-beta1)*(g[i]-r.m[i])
		r.v[i] = beta2*r.v[i] + (1-beta2)*g[i]*g[i]
		denom := math.Sqrt(r.v[i])/math.Sqrt(bc2) + eps
		r.p[i] -= lr / bc1 * r.m[i] / denom
	}
}

func randomSlice(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * scale)
	}
	return out
}

func TestAdamWMatchesFloat64Reference(t *testing.T) {
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	rng := rand.New(rand.NewPCG(1, 2))
	params := []Param{
		NewParam("model.layers.0.mlp.up_proj.weight", randomSlice(rng, 300, 1), make([]float32, 300)),
		NewParam("model.layers.0.input_layernorm.weight", randomSlice(rng, 40, 1), make([]float32, 40)),
	}
	require.True(t, params[0].Decay)
	require.False(t, params[1].Decay)
	refs := make([]*refAdamW, len(params))
	for i, p := range params {
		refs[i] = &refAdamW{p: toF64(p.Data), m: make([]float64, len(p.Data)), v: make([]float64, len(p.Data))}
	}
	opt, err := NewAdamW(params, cfg)
	require.NoError(t, err)
	for step := range 6 {
		lr := 1e-2 * float64(step+1) / 6
		for i, p := range params {
			copy(p.Grad, randomSlice(rng, len(p.Grad), 0.5))
			wd := 0.0
			if p.Decay {
				wd = cfg.WeightDecay
			}
			refs[i].update(toF64(p.Grad), lr, cfg.Beta1, cfg.Beta2, cfg.Eps, wd)
		}
		opt.Step(lr)
	}
	assert.Equal(t, 6, opt.Steps())
	for i, p := range params {
		for j := range p.Data {
			require.InDelta(t, refs[i].p[j], float64(p.Data[j]), 1e-5*(1+math.Abs(refs[i].p[j])), "%s[%d]", p.Name, j)
		}
	}
}

func TestAdamWFirstStepMovesByLRTimesSign(t *testing.T) {
	// With zero moments the bias-corrected first update is lr·g/(|g|+eps) ≈ lr·sign(g),
	// whatever the betas: a check that does not restate the update formula.
	data := []float32{1, 1, 1}
	grad := []float32{0.5, -3, 1e-3}
	opt, err := NewAdamW([]Param{{Name: "w", Data: data, Grad: grad}}, AdamWConfig{Beta1: 0.8, Beta2: 0.99, Eps: 1e-12})
	require.NoError(t, err)
	opt.Step(0.1)
	assert.InDeltaSlice(t, []float32{0.9, 1.1, 0.9}, data, 1e-6)
}

func TestAdamWWeightDecayIsDecoupled(t *testing.T) {
	// A zero gradient leaves only the decay: p ← p·(1 − lr·λ) for decayed params, p unchanged otherwise.
	decayed := []float32{2, -4}
	norm := []float32{2, -4}
	opt, err := NewAdamW([]Param{
		{Name: "w", Data: decayed, Grad: make([]float32, 2), Decay: true},
		{Name: "norm.weight", Data: norm, Grad: make([]float32, 2), Decay: false},
	}, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5})
	require.NoError(t, err)
	opt.Step(0.1)
	assert.InDeltaSlice(t, []float32{2 * 0.95, -4 * 0.95}, decayed, 1e-7)
	assert.Equal(t, []float32{2, -4}, norm)
}

func TestAdamWParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 3*parallelMin + 17
	data, grad := randomSlice(rng, n, 1), randomSlice(rng, n, 1)
	serialData := append([]float32(nil), data...)
	m, v := make([]float32, n), make([]float32, n)

	opt, err := NewAdamW([]Param{{Name: "big", Data: data, Grad: grad, Decay: true}},
		AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	require.NoError(t, err)
	opt.Step(1e-3)
	u := adamwUpdate{beta1: 0.9, beta2: 0.999, stepSize: float32(1e-3 / (1 - 0.9)),
		bc2Sqrt: float32(math.Sqrt(1 - 0.999)), eps: 1e-8, decayScale: float32(1 - 1e-3*0.01)}
	u.apply(serialData, grad, m, v, true)
	assert.Equal(t, serialData, data)
}

func TestNewAdamWRejectsBadInput(t *testing.T) {
	ok := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	tests := []struct {
		name   string
		params []Param
		cfg    AdamWConfig
		want   string
	}{
		{"length mismatch", []Param{{Name: "w", Data: make([]float32, 3), Grad: make([]float32, 2)}}, ok, `"w" has 3 values but 2 gradients`},
		{"duplicate", []Param{{Name: "w"}, {Name: "w"}}, ok, `"w" is listed twice`},
		{"beta", nil, AdamWConfig{Beta1: 1, Beta2: 0.9, Eps: 1e-8}, "betas must be in [0, 1)"},
		{"eps", nil, AdamWConfig{Beta1: 0.9, Beta2: 0.9}, "eps must be > 0"},
		{"decay", nil, AdamWConfig{Beta1: 0.9, Beta2: 0.9, Eps: 1, WeightDecay: -1}, "weight decay must be >= 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAdamW(tc.params, tc.cfg)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNoDecay(t *testing.T) {
	tests := map[string]bool{
		"model.norm.weight":                               true,
		"model.layers.3.input_layernorm.weight":           true,
		"model.layers.3.post_attention_layernorm.weight":  true,
		"model.layers.0.self_attn.q_proj.bias":            true,
		"model.layers.0.self_attn.q_norm.weight":          true,
		"model.embed_tokens.weight":                       false,
		"model.layers.0.self_attn.q_proj.weight":          false,
		"model.layers.0.mlp.down_proj.weight":             false,
		"lm_head.weight":                                  false,
		"score.weight":                                    false,
		"base_model.model.layers.0.q_proj.lora_A.weight":  false,
		"model.layers.0.self_attn.normalizer_proj.weight": false,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) { assert.Equal(t, want, NoDecay(name)) })
	}
}

func TestOptimizerStateResumesExactly(t *testing.T) {
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	makeParams := func() []Param {
		rng := rand.New(rand.NewPCG(5, 6))
		return []Param{
			NewParam("a.weight", randomSlice(rng, 50, 1), make([]float32, 50)),
			NewParam("a.norm.weight", randomSlice(rng, 7, 1), make([]float32, 7)),
		}
	}
	grads := func(step int, params []Param) {
		rng := rand.New(rand.NewPCG(uint64(step), 9))
		for _, p := range params {
			copy(p.Grad, randomSlice(rng, len(p.Grad), 1))
		}
	}
	straight := makeParams()
	opt, err := NewAdamW(straight, cfg)
	require.NoError(t, err)
	for step := range 5 {
		grads(step, straight)
		opt.Step(1e-2)
	}

	first := makeParams()
	opt1, err := NewAdamW(first, cfg)
	require.NoError(t, err)
	for step := range 3 {
		grads(step, first)
		opt1.Step(1e-2)
	}
	path := filepath.Join(t.TempDir(), OptimizerFile)
	require.NoError(t, SaveOptimizer(path, opt1))

	// A fresh process: parameters restored (here: copied), optimizer state loaded from disk.
	resumed := makeParams()
	for i := range resumed {
		copy(resumed[i].Data, first[i].Data)
	}
	opt2, err := NewAdamW(resumed, cfg)
	require.NoError(t, err)
	require.NoError(t, LoadOptimizer(path, opt2))
	assert.Equal(t, 3, opt2.Steps())
	for step := 3; step < 5; step++ {
		grads(step, resumed)
		opt2.Step(1e-2)
	}
	for i := range straight {
		assert.Equal(t, straight[i].Data, resumed[i].Data, straight[i].Name)
	}

	// A different parameter set is refused with the name that is missing.
	other, err := NewAdamW([]Param{NewParam("b.weight", make([]float32, 50), make([]float32, 50)),
		NewParam("a.norm.weight", make([]float32, 7), make([]float32, 7))}, cfg)
	require.NoError(t, err)
	require.ErrorContains(t, LoadOptimizer(path, other), `"exp_avg.b.weight"`)
	fewer, err := NewAdamW([]Param{NewParam("a.weight", make([]float32, 50), make([]float32, 50))}, cfg)
	require.NoError(t, err)
	require.ErrorContains(t, LoadOptimizer(path, fewer), "holds 4 tensors, expected 2")
}

func TestSetStateChecksLengths(t *testing.T) {
	opt, err := NewAdamW([]Param{{Name: "w", Data: make([]float32, 3), Grad: make([]float32, 3)}},
		AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	err = opt.SetState(AdamWState{Step: 1, ExpAvg: map[string][]float32{"w": {1}}, ExpAvgSq: map[string][]float32{"w": {1, 2, 3}}})
	require.ErrorContains(t, err, `"w" has 1/3 values, the parameter has 3`)
}

func toF64(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}
