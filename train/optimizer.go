package train

import (
	"fmt"
	"math"
	"regexp"
	"runtime"
	"strings"
	"sync"
)

// Param is one trainable tensor seen flat: Data and Grad have the same length, Grad is
// filled by the backward pass. Decay says whether AdamW applies weight decay to it.
type Param struct {
	Name string
	Data []float32
	Grad []float32
	// Decay is false for norm weights and biases by default (see NoDecay).
	Decay bool
}

// NewParam returns a Param whose Decay follows the NoDecay rule.
func NewParam(name string, data, grad []float32) Param {
	return Param{Name: name, Data: data, Grad: grad, Decay: !NoDecay(name)}
}

// noDecayRE matches what transformers' Trainer excludes from weight decay: biases and the
// weights of LayerNorm/RMSNorm layers (model.norm.weight, *.input_layernorm.weight, ...).
var noDecayRE = regexp.MustCompile(`bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.)`)

// NoDecay reports whether the parameter called name is excluded from weight decay.
func NoDecay(name string) bool {
	return noDecayRE.MatchString(strings.ToLower(name))
}

// AdamWConfig holds the hyper-parameters that stay fixed during a run; the learning rate
// comes from the schedule at every Step.
type AdamWConfig struct {
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
}

// AdamW is PyTorch's torch.optim.AdamW (amsgrad off): decoupled weight decay, bias-corrected
// moments. It owns the first and second moments, one pair of float32 slices per parameter.
type AdamW struct {
	cfg    AdamWConfig
	params []Param
	m, v   [][]float32 // exp_avg and exp_avg_sq, same length as params[i].Data
	step   int         // completed updates
}

// NewAdamW checks the parameters (unique names, len(Data) == len(Grad)) and the
// hyper-parameters, and allocates zeroed moments.
func NewAdamW(params []Param, cfg AdamWConfig) (*AdamW, error) {
	switch {
	case !(cfg.Beta1 >= 0 && cfg.Beta1 < 1) || !(cfg.Beta2 >= 0 && cfg.Beta2 < 1):
		return nil, fmt.Errorf("train: adamw betas must be in [0, 1), got (%g, %g)", cfg.Beta1, cfg.Beta2)
	case !(cfg.Eps > 0):
		return nil, fmt.Errorf("train: adamw eps must be > 0, got %g", cfg.Eps)
	case !(cfg.WeightDecay >= 0):
		return nil, fmt.Errorf("train: adamw weight decay must be >= 0, got %g", cfg.WeightDecay)
	}
	o := &AdamW{cfg: cfg, params: params, m: make([][]float32, len(params)), v: make([][]float32, len(params))}
	seen := make(map[string]bool, len(params))
	for i, p := range params {
		if len(p.Data) != len(p.Grad) {
			return nil, fmt.Errorf("train: parameter %q has %d values but %d gradients", p.Name, len(p.Data), len(p.Grad))
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("train: parameter %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		o.m[i] = make([]float32, len(p.Data))
		o.v[i] = make([]float32, len(p.Data))
	}
	return o, nil
}

// Params returns the parameters in the order the optimizer was given them.
func (o *AdamW) Params() []Param { return o.params }

// Steps returns the number of updates applied so far.
func (o *AdamW) Steps() int { return o.step }

// Step applies one update with learning rate lr to every parameter, reading Grad. It does
// not zero the gradients.
func (o *AdamW) Step(lr float64) {
	o.step++
	t := float64(o.step)
	u := adamwUpdate{
		beta1:      float32(o.cfg.Beta1),
		beta2:      float32(o.cfg.Beta2),
		stepSize:   float32(lr / (1 - math.Pow(o.cfg.Beta1, t))),
		bc2Sqrt:    float32(math.Sqrt(1 - math.Pow(o.cfg.Beta2, t))),
		eps:        float32(o.cfg.Eps),
		decayScale: float32(1 - lr*o.cfg.WeightDecay),
	}
	for i, p := range o.params {
		decay := p.Decay && o.cfg.WeightDecay != 0
		parallelChunks(len(p.Data), func(lo, hi int) {
			u.apply(p.Data[lo:hi], p.Grad[lo:hi], o.m[i][lo:hi], o.v[i][lo:hi], decay)
		})
	}
}

// adamwUpdate holds one step's scalars, computed once in float64 then rounded.
type adamwUpdate struct {
	beta1, beta2 float32
	stepSize     float32 // lr / (1 - β1^t)
	bc2Sqrt      float32 // sqrt(1 - β2^t)
	eps          float32
	decayScale   float32 // 1 - lr·λ
}

// apply is torch's _single_tensor_adamw for one slice:
//
//	p *= 1 - lr·λ                       (only when decay)
//	m = lerp(m, g, 1-β1)  = m + (1-β1)(g-m)
//	v = β2·v + (1-β2)·g²
//	p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)
func (u adamwUpdate) apply(p, g, m, v []float32, decay bool) {
	oneMinusB1, oneMinusB2 := 1-u.beta1, 1-u.beta2
	for i := range p {
		gi := g[i]
		if decay {
			p[i] *= u.decayScale
		}
		m[i] += oneMinusB1 * (gi - m[i])
		v[i] = u.beta2*v[i] + oneMinusB2*gi*gi
		denom := float32(math.Sqrt(float64(v[i])))/u.bc2Sqrt + u.eps
		p[i] -= u.stepSize * m[i] / denom
	}
}

// parallelMin is the element count above which a parameter is split across goroutines;
// below it the goroutine start-up costs more than the update.
const parallelMin = 1 << 16

// parallelChunks calls fn on [lo, hi) ranges covering [0, n), concurrently when n is large.
// The ranges do not overlap, and the update is elementwise, so the result does not depend on
// the number of workers.
func parallelChunks(n int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n/parallelMin)
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// ZeroGrads sets every gradient to zero, before the first micro-batch of a step.
func ZeroGrads(params []Param) {
	for _, p := range params {
		clear(p.Grad)
	}
}
