package objective

import "math"

// KL estimators for the per-token penalty against the reference policy
// (Schulman's k1 and k3, TRL kl_estimator).
const (
	KLK1 = "k1" // logπ − logπ_ref: unbiased, can be negative
	KLK3 = "k3" // e^(ref−logπ) − 1 − (ref−logπ): unbiased, always ≥ 0
)

// KLPenalty is the per-token KL estimate [N] for log-probs logp and refLogp
// [N] of the sampled tokens. It returns nil for an unknown estimator or
// unequal lengths.
func KLPenalty(logp, refLogp []float64, estimator string) []float64 {
	if len(logp) != len(refLogp) {
		return nil
	}
	out := make([]float64, len(logp))
	for i := range logp {
		logRatio := refLogp[i] - logp[i]
		switch estimator {
		case KLK1:
			out[i] = -logRatio
		case KLK3:
			out[i] = math.Expm1(logRatio) - logRatio
		default:
			return nil
		}
	}
	return out
}

// PerTokenRewards is PPO's shaped reward on a [B, T] batch: every token gets
// −klCoef·KL (KL from KLPenalty, zero where mask is 0) and row b's score is
// added at its last real token (the last t with mask > 0; a row with no real
// token gets no score). scores [B]; logp, refLogp, mask [B·T]. It returns
// the rewards and the masked KL [B·T], or nil, nil on inconsistent sizes or
// an unknown estimator.
//
// TRL PPOTrainer puts the score one position after the last real token when
// that position exists (its value mask is one token longer); here it sits on
// the last real token, where the value head saw the whole completion.
func PerTokenRewards(scores []float64, logp, refLogp, mask []float64, B, T int, klCoef float64, estimator string) (rewards []float64, kl []float64) {
	n := B * T
	if B <= 0 || T <= 0 || len(scores) != B || len(logp) != n || len(refLogp) != n || len(mask) != n {
		return nil, nil
	}
	kl = KLPenalty(logp, refLogp, estimator)
	if kl == nil {
		return nil, nil
	}
	rewards = make([]float64, n)
	for b := 0; b < B; b++ {
		last := -1
		for t := 0; t < T; t++ {
			i := b*T + t
			if mask[i] == 0 {
				kl[i] = 0
				continue
			}
			kl[i] *= mask[i]
			rewards[i] = -klCoef * kl[i]
			last = i
		}
		if last >= 0 {
			rewards[last] += scores[b]
		}
	}
	return rewards, kl
}

// AdaptiveKL is the adaptive KL-coefficient controller of Ziegler et al.
// (2019), as TRL's AdaptiveKLController(init_kl_coef, target, horizon):
// after each batch the coefficient moves by a proportional error clipped to
// ±20%, scaled by nSteps/Horizon.
type AdaptiveKL struct {
	Value   float64 // current KL coefficient
	Target  float64 // target KL per sequence
	Horizon float64 // steps over which the error is corrected
}

// NewAdaptiveKL starts the controller at initCoef.
func NewAdaptiveKL(initCoef, target, horizon float64) *AdaptiveKL {
	return &AdaptiveKL{Value: initCoef, Target: target, Horizon: horizon}
}

// Update applies Value *= 1 + clip(currentKL/Target − 1, −0.2, 0.2)·nSteps/Horizon.
// A non-positive Target or Horizon leaves Value unchanged.
func (c *AdaptiveKL) Update(currentKL float64, nSteps int) {
	if !(c.Target > 0) || !(c.Horizon > 0) {
		return
	}
	proportionalError := math.Max(-0.2, math.Min(0.2, currentKL/c.Target-1))
	c.Value *= 1 + proportionalError*float64(nSteps)/c.Horizon
}
