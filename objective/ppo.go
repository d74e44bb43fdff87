package objective

import (
	"fmt"
	"math"
)

// PPO's per-token losses over a [B, T] batch, flattened to [B·T] slices.
// mask [B·T] is 1 on completion tokens and 0 on padding (other weights ≥ 0
// act as token weights); means are Σ x·mask / Σ mask, TRL's masked_mean.

// PPOPolicyLoss is TRL PPOTrainer's clipped surrogate:
//
//	r = exp(logp − oldLogp)
//	loss = masked mean of max(−A·r, −A·clamp(r, 1−ε, 1+ε))
//
// logp [B·T] are the current policy's token log-probs (differentiated:
// Grads["logp"]), oldLogp and adv [B·T] are the rollout's log-probs and
// advantages, clip is ε (TRL cliprange, 0.2). Metrics: "policy/clipfrac"
// (masked fraction where the clipped term is strictly larger),
// "policy/approxkl" (½·masked mean of (logp − oldLogp)²; TRL averages over
// padding too, where the difference is 0) and "policy/ratio" (masked mean r).
func PPOPolicyLoss(logp, oldLogp, adv, mask []float64, clip float64) (Result, error) {
	const fn = "PPOPolicyLoss"
	if err := checkNonEmpty(fn, "logp", logp); err != nil {
		return Result{}, err
	}
	n := len(logp)
	for _, field := range []struct {
		name string
		x    []float64
	}{{"oldLogp", oldLogp}, {"adv", adv}, {"mask", mask}} {
		if err := checkLen(fn, field.name, field.x, n); err != nil {
			return Result{}, err
		}
	}
	if err := checkClip(fn, "clip", clip); err != nil {
		return Result{}, err
	}
	tokens, err := maskSum(fn, mask)
	if err != nil {
		return Result{}, err
	}

	e := newExprGraph()
	lp := e.param("logp", logp)
	ratio := e.exp(e.sub(lp, e.constant(oldLogp)))                                          // [B·T]
	clipped := e.clamp(ratio, e.constant(filled(n, 1-clip)), e.constant(filled(n, 1+clip))) // [B·T]
	negAdv := e.constant(scaled(adv, -1))
	pgLoss := e.maxOf(e.mul(negAdv, ratio), e.mul(negAdv, clipped)) // [B·T]
	loss := e.maskedMean(pgLoss, e.constant(mask), tokens)
	value, grads, err := e.evaluate(loss)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", fn, err)
	}

	var clippedCount, approxKL, ratioSum float64
	for i := range logp {
		d := logp[i] - oldLogp[i]
		r := math.Exp(d)
		unclippedLoss := -adv[i] * r
		clippedLoss := -adv[i] * math.Min(math.Max(r, 1-clip), 1+clip)
		if clippedLoss > unclippedLoss {
			clippedCount += mask[i]
		}
		approxKL += 0.5 * d * d * mask[i]
		ratioSum += r * mask[i]
	}
	return Result{
		Loss:  value,
		Grads: grads,
		Metrics: map[string]float64{
			"policy/clipfrac": clippedCount / tokens,
			"policy/approxkl": approxKL / tokens,
			"policy/ratio":    ratioSum / tokens,
		},
	}, nil
}

// PPOValueLoss is TRL PPOTrainer's clipped value loss:
//
//	v' = clamp(v, oldV − ε, oldV + ε)
//	loss = ½ · masked mean of max((v − R)², (v' − R)²)
//
// values [B·T] are the current value head's outputs (differentiated:
// Grads["values"]), oldValues and returns [B·T] come from the rollout,
// clipValue is ε (TRL cliprange_value, 0.2). Metrics: "value/clipfrac"
// (masked fraction where the clipped term is strictly larger).
func PPOValueLoss(values, oldValues, returns, mask []float64, clipValue float64) (Result, error) {
	const fn = "PPOValueLoss"
	if err := checkNonEmpty(fn, "values", values); err != nil {
		return Result{}, err
	}
	n := len(values)
	for _, field := range []struct {
		name string
		x    []float64
	}{{"oldValues", oldValues}, {"returns", returns}, {"mask", mask}} {
		if err := checkLen(fn, field.name, field.x, n); err != nil {
			return Result{}, err
		}
	}
	if err := checkClip(fn, "clipValue", clipValue); err != nil {
		return Result{}, err
	}
	tokens, err := maskSum(fn, mask)
	if err != nil {
		return Result{}, err
	}

	lo, hi := make([]float64, n), make([]float64, n)
	for i, v := range oldValues {
		lo[i], hi[i] = v-clipValue, v+clipValue
	}
	e := newExprGraph()
	v := e.param("values", values)
	ret := e.constant(returns)
	unclipped := e.square(e.sub(v, ret))                                        // [B·T]
	clipped := e.square(e.sub(e.clamp(v, e.constant(lo), e.constant(hi)), ret)) // [B·T]
	loss := e.scale(e.maskedMean(e.maxOf(unclipped, clipped), e.constant(mask), tokens), 0.5)
	value, grads, err := e.evaluate(loss)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", fn, err)
	}

	var clippedCount float64
	for i := range values {
		u := values[i] - returns[i]
		c := math.Min(math.Max(values[i], lo[i]), hi[i]) - returns[i]
		if c*c > u*u {
			clippedCount += mask[i]
		}
	}
	return Result{
		Loss:    value,
		Grads:   grads,
		Metrics: map[string]float64{"value/clipfrac": clippedCount / tokens},
	}, nil
}

func checkClip(fn, field string, clip float64) error {
	if clip < 0 || math.IsNaN(clip) || math.IsInf(clip, 0) {
		return fmt.Errorf("%w: %s: %s = %v, want a finite value ≥ 0 (TRL default 0.2)", ErrInput, fn, field, clip)
	}
	return nil
}

func filled(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
