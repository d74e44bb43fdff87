package objective

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPPOPolicyLossClippingEdges(t *testing.T) {
	// ε = 0.2, so the ratio is clipped to [0.8, 1.2]. Per token:
	//   A    r     term max(−A·r, −A·clip(r))  d/dlogp      case
	//   +1   1.1   −1.1                        −1.1         inside the range
	//   +1   1.5   −1.2                         0           A > 0, ratio above: clipped
	//   +1   0.5   −0.5                        −0.5         A > 0, ratio below: not clipped
	//   −1   0.5   +0.8                         0           A < 0, ratio below: clipped
	//   −1   1.5   +1.5                        +1.5         A < 0, ratio above: not clipped
	//   −2   0.9   +1.8                        +1.8         inside the range
	//   +5   3.0   (masked out)                 0
	// loss = (−1.1 − 1.2 − 0.5 + 0.8 + 1.5 + 1.8)/6; gradients are /6.
	ratios := []float64{1.1, 1.5, 0.5, 0.5, 1.5, 0.9, 3.0}
	adv := []float64{1, 1, 1, -1, -1, -2, 5}
	mask := []float64{1, 1, 1, 1, 1, 1, 0}
	oldLogp := []float64{-1, -2, -0.5, -3, -1.5, -0.25, -2}
	logp := make([]float64, len(ratios))
	for i, r := range ratios {
		logp[i] = oldLogp[i] + math.Log(r)
	}

	res, err := PPOPolicyLoss(logp, oldLogp, adv, mask, 0.2)
	require.NoError(t, err)
	assert.InDelta(t, (-1.1-1.2-0.5+0.8+1.5+1.8)/6, res.Loss, 1e-14)
	requireClose(t, []float64{-1.1 / 6, 0, -0.5 / 6, 0, 1.5 / 6, 1.8 / 6, 0}, res.Grads["logp"], 1e-14, "logp grad")
	assert.InDelta(t, 2.0/6, res.Metrics["policy/clipfrac"], 1e-15)

	var wantKL, wantRatio float64
	for i := 0; i < 6; i++ {
		wantKL += 0.5 * math.Log(ratios[i]) * math.Log(ratios[i]) / 6
		wantRatio += ratios[i] / 6
	}
	assert.InDelta(t, wantKL, res.Metrics["policy/approxkl"], 1e-14)
	assert.InDelta(t, wantRatio, res.Metrics["policy/ratio"], 1e-14)

	requireFiniteDifference(t, "logp", res.Grads["logp"], logp, func(x []float64) float64 {
		r, err := PPOPolicyLoss(x, oldLogp, adv, mask, 0.2)
		require.NoError(t, err)
		return r.Loss
	})
}

func TestPPOPolicyLossOnPolicyIsMinusMeanAdvantage(t *testing.T) {
	// At the first PPO epoch logp = oldLogp, r = 1: loss = −mean A over the
	// mask and d/dlogp = −A/Σmask.
	adv := []float64{0.5, -1.5, 2, 7}
	mask := []float64{1, 1, 1, 0}
	logp := []float64{-1, -2, -3, -4}
	res, err := PPOPolicyLoss(logp, logp, adv, mask, 0.2)
	require.NoError(t, err)
	assert.InDelta(t, -(0.5-1.5+2)/3, res.Loss, 1e-15)
	requireClose(t, []float64{-0.5 / 3, 1.5 / 3, -2.0 / 3, 0}, res.Grads["logp"], 1e-15, "logp grad")
	assert.Equal(t, 0.0, res.Metrics["policy/clipfrac"])
	assert.Equal(t, 0.0, res.Metrics["policy/approxkl"])
}

func TestPPOValueLossClipping(t *testing.T) {
	// ε = 0.2; per token (v, old, R) → clamp(v) to [old−0.2, old+0.2]:
	//   (1.0, 0.9, 2)  inside: both terms 1,      d/dv = (v−R)/4 = −1/4
	//   (1.5, 1.0, 2)  v' = 1.2: 0.25 vs 0.64 → clipped term, d/dv = 0
	//   (1.5, 1.0, 0)  v' = 1.2: 2.25 vs 1.44 → unclipped,  d/dv = 1.5/4
	//   (0.0, 1.0, .5) v' = 0.8: 0.25 vs 0.09 → unclipped,  d/dv = −0.5/4
	//   masked token
	// loss = ½·(1 + 0.64 + 2.25 + 0.25)/4.
	values := []float64{1.0, 1.5, 1.5, 0.0, 9}
	old := []float64{0.9, 1.0, 1.0, 1.0, 0}
	returns := []float64{2, 2, 0, 0.5, -9}
	mask := []float64{1, 1, 1, 1, 0}
	res, err := PPOValueLoss(values, old, returns, mask, 0.2)
	require.NoError(t, err)
	assert.InDelta(t, 0.5*(1+0.64+2.25+0.25)/4, res.Loss, 1e-14)
	requireClose(t, []float64{-0.25, 0, 1.5 / 4, -0.5 / 4, 0}, res.Grads["values"], 1e-14, "values grad")
	assert.Equal(t, 0.25, res.Metrics["value/clipfrac"])

	requireFiniteDifference(t, "values", res.Grads["values"], values, func(x []float64) float64 {
		r, err := PPOValueLoss(x, old, returns, mask, 0.2)
		require.NoError(t, err)
		return r.Loss
	})
}

func TestPPORejectsBadInput(t *testing.T) {
	one := []float64{0}
	_, err := PPOPolicyLoss(one, one, []float64{1, 2}, one, 0.2)
	require.ErrorIs(t, err, ErrInput)
	require.ErrorContains(t, err, "adv has 2 values, want 1")
	_, err = PPOPolicyLoss(one, one, one, []float64{0}, 0.2)
	require.ErrorContains(t, err, "mask selects no token")
	_, err = PPOPolicyLoss(one, one, one, []float64{1}, -0.1)
	require.ErrorContains(t, err, "clip = -0.1")
	_, err = PPOValueLoss(nil, nil, nil, nil, 0.2)
	require.ErrorContains(t, err, "values is empty")
	_, err = PPOValueLoss(one, one, one, []float64{-1}, 0.2)
	require.ErrorContains(t, err, "mask[0] = -1")
}
