package objective

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGAEHandWorked(t *testing.T) {
	t.Run("gamma 1 lambda 0.95 with padding", func(t *testing.T) {
		// Row 0, r = [0 0 1], V = [.5 .6 .7]:
		//   t=2: δ = 1 − .7 = .3            A = .3                  R = 1
		//   t=1: δ = .7 − .6 = .1           A = .1 + .95·.3 = .385   R = .985
		//   t=0: δ = .6 − .5 = .1           A = .1 + .95·.385       R = A + .5
		// Row 1, r = [.2 1 (9)], V = [.1 .4 (5)], last token padding (zeroed):
		//   t=2: 0;  t=1: δ = 1 − .4 = .6, A = .6, R = 1;  t=0: δ = .2 + .4 − .1 = .5, A = .5 + .95·.6 = 1.07, R = 1.17
		rewards := []float64{0, 0, 1, 0.2, 1, 9}
		values := []float64{0.5, 0.6, 0.7, 0.1, 0.4, 5}
		mask := []float64{1, 1, 1, 1, 1, 0}
		adv, ret := GAE(rewards, values, mask, 2, 3, 1, 0.95)
		requireClose(t, []float64{0.1 + 0.95*0.385, 0.385, 0.3, 1.07, 0.6, 0}, adv, 1e-15, "advantages")
		requireClose(t, []float64{0.1 + 0.95*0.385 + 0.5, 0.985, 1, 1.17, 1, 0}, ret, 1e-15, "returns")
	})
	t.Run("discounted", func(t *testing.T) {
		// γ .9, λ .5, r = [1 2], V = [.5 1]: t=1: δ = 1, A = 1, R = 2;
		// t=0: δ = 1 + .9·1 − .5 = 1.4, A = 1.4 + .45·1 = 1.85, R = 2.35.
		adv, ret := GAE([]float64{1, 2}, []float64{0.5, 1}, nil, 1, 2, 0.9, 0.5)
		requireClose(t, []float64{1.85, 1}, adv, 1e-15, "advantages")
		requireClose(t, []float64{2.35, 2}, ret, 1e-15, "returns")
	})
	t.Run("bad sizes", func(t *testing.T) {
		adv, ret := GAE([]float64{1, 2}, []float64{1}, nil, 1, 2, 1, 1)
		assert.Nil(t, adv)
		assert.Nil(t, ret)
	})
}

func TestWhiten(t *testing.T) {
	// Unmasked values 1, 2, 3: mean 2, unbiased variance (1 + 0 + 1)/2 = 1.
	x := []float64{1, 2, 3, 4}
	mask := []float64{1, 1, 1, 0}
	s := math.Sqrt(1 + 1e-8)
	requireClose(t, []float64{-1 / s, 0, 1 / s, 2 / s}, Whiten(x, mask, true), 1e-15, "shifted")
	requireClose(t, []float64{2 - 1/s, 2, 2 + 1/s, 2 + 2/s}, Whiten(x, mask, false), 1e-15, "mean kept")

	// No mask: mean 2.5, unbiased variance (2.25 + .25 + .25 + 2.25)/3 = 5/3.
	s = math.Sqrt(5.0/3 + 1e-8)
	requireClose(t, []float64{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, Whiten(x, nil, true), 1e-15, "no mask")

	assert.Nil(t, Whiten(x, []float64{0, 0, 1, 0}, true), "one value has no variance")
	assert.Nil(t, Whiten(x, []float64{1, 1}, true), "mask length")
}

func TestGRPOAdvantages(t *testing.T) {
	// Group [1 2 3]: mean 2, unbiased std 1. Group [5 5]: std 0.
	scores := []float64{1, 2, 3, 5, 5}
	assert.Nil(t, GRPOAdvantages(scores, 2, true), "5 scores are not groups of 2")
	groups := []float64{1, 2, 3, 5, 5, 5}
	requireClose(t, []float64{-1 / 1.0001, 0, 1 / 1.0001, 0, 0, 0}, GRPOAdvantages(groups, 3, true), 1e-15, "scaled")
	requireClose(t, []float64{-1, 0, 1, 0, 0, 0}, GRPOAdvantages(groups, 3, false), 1e-15, "unscaled")
	// [0 0 1 1]: mean .5, unbiased std sqrt(1/3).
	std := math.Sqrt(1.0 / 3)
	requireClose(t, []float64{-0.5 / (std + 1e-4), -0.5 / (std + 1e-4), 0.5 / (std + 1e-4), 0.5 / (std + 1e-4)},
		GRPOAdvantages([]float64{0, 0, 1, 1}, 4, true), 1e-15, "group of four")
	requireClose(t, []float64{0, 0}, GRPOAdvantages([]float64{3, -1}, 1, true), 0, "groups of one")
}

func TestRLOOAdvantages(t *testing.T) {
	// [1 2 3]: 1 − 2.5, 2 − 2, 3 − 1.5; [4 0]: 4 − 0, 0 − 4.
	requireClose(t, []float64{-1.5, 0, 1.5}, RLOOAdvantages([]float64{1, 2, 3}, 3), 1e-15, "group of three")
	requireClose(t, []float64{4, -4, 1, -1}, RLOOAdvantages([]float64{4, 0, 2, 1}, 2), 1e-15, "pairs")
	assert.Nil(t, RLOOAdvantages([]float64{1, 2}, 1), "no baseline without another sample")
	assert.Nil(t, RLOOAdvantages([]float64{1, 2, 3}, 2))
}

func TestKLPenalty(t *testing.T) {
	logp := []float64{-1, -2, -0.5}
	ref := []float64{-1.5, -1, -0.5}
	requireClose(t, []float64{0.5, -1, 0}, KLPenalty(logp, ref, "k1"), 1e-15, "k1")
	// k3 with log-ratio ref − logp = −0.5, 1, 0: e^x − 1 − x.
	requireClose(t, []float64{math.Exp(-0.5) - 1 + 0.5, math.E - 2, 0}, KLPenalty(logp, ref, "k3"), 1e-15, "k3")
	for _, k := range KLPenalty(logp, ref, "k3") {
		assert.GreaterOrEqual(t, k, 0.0)
	}
	assert.Nil(t, KLPenalty(logp, ref, "k2"))
	assert.Nil(t, KLPenalty(logp, ref[:1], "k1"))
}

func TestPerTokenRewards(t *testing.T) {
	// Row 0 has two real tokens, row 1 three; k1 KL = logp − ref.
	logp := []float64{-1, -2, -7, -0.5, -1, -3}
	ref := []float64{-1.5, -1, -1, -0.5, -2, -2}
	mask := []float64{1, 1, 0, 1, 1, 1}
	rewards, kl := PerTokenRewards([]float64{2, -1}, logp, ref, mask, 2, 3, 0.05, "k1")
	requireClose(t, []float64{0.5, -1, 0, 0, 1, -1}, kl, 1e-15, "kl")
	requireClose(t, []float64{-0.025, 0.05 + 2, 0, 0, -0.05, 0.05 - 1}, rewards, 1e-15, "rewards")

	r, k := PerTokenRewards([]float64{2}, logp, ref, mask, 2, 3, 0.05, "k1")
	assert.Nil(t, r)
	assert.Nil(t, k)
}

func TestAdaptiveKL(t *testing.T) {
	c := NewAdaptiveKL(0.2, 6, 10000)
	c.Update(12, 256) // error 1 clipped to 0.2: × (1 + 0.2·256/10000)
	require.InDelta(t, 0.2*1.00512, c.Value, 1e-15)
	c.Update(3, 256) // error −0.5 clipped to −0.2
	require.InDelta(t, 0.2*1.00512*0.99488, c.Value, 1e-15)
	before := c.Value
	c.Update(6.6, 100) // error 0.1 inside the clip
	require.InDelta(t, before*(1+0.1*100/10000.0), c.Value, 1e-15)
}
