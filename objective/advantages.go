package objective

import "math"

// Plain helpers for PPO/GRPO/RLOO advantages. They are never differentiated,
// so they are ordinary Go. [B, T] arrays are flat, row-major [B·T] slices.
// The functions keep the signatures callers expect (no error result): on
// inconsistent sizes they return nil, which callers must check.

// GAE is generalised advantage estimation as TRL PPOTrainer computes it,
// per row b, backwards over t:
//
//	δ_t = r_t + γ·V_{t+1} − V_t        (V_T = 0)
//	A_t = δ_t + γ·λ·A_{t+1}             returns_t = A_t + V_t
//
// rewards, values, mask [B·T]; rewards and values are zeroed where mask is
// 0 first (TRL masks both before the loop), so with right padding the
// advantages and returns there are 0. A nil mask means all ones. The
// advantages are not whitened: call Whiten (PPO's default) and zero the
// padding afterwards, as TRL does.
func GAE(rewards, values, mask []float64, B, T int, gamma, lambda float64) (advantages, returns []float64) {
	n := B * T
	if B <= 0 || T <= 0 || len(rewards) != n || len(values) != n || (mask != nil && len(mask) != n) {
		return nil, nil
	}
	advantages, returns = make([]float64, n), make([]float64, n)
	for b := 0; b < B; b++ {
		var nextValue, lastAdv float64
		for t := T - 1; t >= 0; t-- {
			i := b*T + t
			r, v := rewards[i], values[i]
			if mask != nil {
				r, v = r*mask[i], v*mask[i]
			}
			delta := r + gamma*nextValue - v
			lastAdv = delta + gamma*lambda*lastAdv
			advantages[i] = lastAdv
			returns[i] = lastAdv + v
			nextValue = v
		}
	}
	return advantages, returns
}

// Whiten is TRL's masked_whiten: (x − mean)/sqrt(var + 1e-8) with the
// masked mean and the unbiased (Bessel-corrected) masked variance, applied
// to every element (padding included, as in TRL). With shiftMean false the
// mean is added back, so only the scale changes (TRL's reward whitening).
// A nil mask means all ones. It returns nil when mask has a different
// length or selects fewer than two values (the variance is undefined; TRL
// raises there).
func Whiten(x, mask []float64, shiftMean bool) []float64 {
	if mask == nil {
		mask = ones(len(x))
	}
	if len(mask) != len(x) {
		return nil
	}
	count := sum(mask)
	if !(count > 1) {
		return nil
	}
	mu := maskedMean(x, mask, count)
	var ss float64
	for i := range x {
		d := x[i] - mu
		ss += d * d * mask[i]
	}
	variance := ss / (count - 1) // masked mean of squares × count/(count−1)
	invStd := 1 / math.Sqrt(variance+1e-8)
	out := make([]float64, len(x))
	for i := range x {
		out[i] = (x[i] - mu) * invStd
		if !shiftMean {
			out[i] += mu
		}
	}
	return out
}

// GRPOAdvantages is TRL GRPOTrainer's group-relative advantage. scores
// [G·groupSize] hold groupSize completions per prompt, contiguous:
//
//	A_i = r_i − mean_group            (scaleByStd false)
//	A_i = (r_i − mean_group)/(std_group + 1e-4)
//
// with std the unbiased (n−1) standard deviation, as torch.std; a group of
// one has std 0. Returns nil when groupSize < 1 or does not divide
// len(scores).
func GRPOAdvantages(scores []float64, groupSize int, scaleByStd bool) []float64 {
	if groupSize < 1 || len(scores)%groupSize != 0 {
		return nil
	}
	out := make([]float64, len(scores))
	for start := 0; start < len(scores); start += groupSize {
		group := scores[start : start+groupSize]
		mu := mean(group)
		var std float64
		if groupSize > 1 {
			var ss float64
			for _, r := range group {
				ss += (r - mu) * (r - mu)
			}
			std = math.Sqrt(ss / float64(groupSize-1))
		}
		for j, r := range group {
			a := r - mu
			if scaleByStd {
				a /= std + 1e-4
			}
			out[start+j] = a
		}
	}
	return out
}

// RLOOAdvantages is the REINFORCE leave-one-out baseline (TRL RLOOTrainer):
// each score minus the mean of the other groupSize−1 scores of its group.
// scores [G·groupSize] are contiguous groups (TRL lays its rloo_k samples
// out the other way round, [k, G]; regroup before calling). Returns nil when
// groupSize < 2 or does not divide len(scores).
func RLOOAdvantages(scores []float64, groupSize int) []float64 {
	if groupSize < 2 || len(scores)%groupSize != 0 {
		return nil
	}
	out := make([]float64, len(scores))
	for start := 0; start < len(scores); start += groupSize {
		group := scores[start : start+groupSize]
		total := sum(group)
		for j, r := range group {
			out[start+j] = r - (total-r)/float64(groupSize-1)
		}
	}
	return out
}
