package ppo

import (
	"fmt"

	"github.com/posttrain/posttrain/reward"
)

// valueModel wraps a reward.Model used as PPO's critic: the score head is
// applied at every position, not only the last, and completion token j's
// value is read at position P+j−1, the state before the token was chosen
// (TRL: full_value[:, context_length−1 : −1]).
type valueModel struct {
	rm     *reward.Model
	rb     *rolloutBatch // batch of the last forward
	hidden []float32     // (B·T, C) of the last forward
}

// values runs the trunk on rb and returns the per-token values [B·R]
// (0 on padding); the activations stay for backward.
func (v *valueModel) values(rb *rolloutBatch) ([]float64, error) {
	h, err := v.rm.Trunk.ForwardHidden(rb.hiddenBatch())
	if err != nil {
		return nil, fmt.Errorf("value forward: %w", err)
	}
	C := v.rm.Trunk.Config.HiddenSize
	if len(h) != rb.B*rb.T*C {
		return nil, fmt.Errorf("value forward: hidden states have %d values, want B·T·C = %d", len(h), rb.B*rb.T*C)
	}
	v.rb, v.hidden = rb, h
	out := make([]float64, rb.B*rb.R)
	for b := range rb.B {
		for j := range rb.respLen[b] {
			pos := b*rb.T + rb.promptLen[b] + j - 1
			out[b*rb.R+j] = dot(h[pos*C:(pos+1)*C], v.rm.Score)
		}
	}
	return out, nil
}

// backward accumulates the gradient of Σ dValues·values [B·R] into the
// trunk's grads and the score head's, for the batch of the last values call.
func (v *valueModel) backward(dValues []float64) error {
	rb := v.rb
	if rb == nil {
		return fmt.Errorf("value backward: no preceding forward")
	}
	if len(dValues) != rb.B*rb.R {
		return fmt.Errorf("value backward: %d gradients, want B·R = %d", len(dValues), rb.B*rb.R)
	}
	C := v.rm.Trunk.Config.HiddenSize
	dh := make([]float32, len(v.hidden))
	for b := range rb.B {
		for j := range rb.respLen[b] {
			g := dValues[b*rb.R+j]
			if g == 0 {
				continue
			}
			pos := b*rb.T + rb.promptLen[b] + j - 1
			for c := range C {
				dh[pos*C+c] += float32(g * float64(v.rm.Score[c]))
				v.rm.ScoreGrad[c] += float32(g * float64(v.hidden[pos*C+c]))
			}
		}
	}
	v.rb, v.hidden = nil, nil
	return v.rm.Trunk.BackwardHidden(dh)
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
