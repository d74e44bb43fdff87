package ppo

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/model"
	"github.com/posttrain/posttrain/objective"
	"github.com/posttrain/posttrain/reward"
)

// checkParamGradient compares analytic[i] for a few entries of every tensor
// with central differences of loss, perturbing the shared weights in place.
func checkParamGradient(t *testing.T, tensors []model.NamedTensor, grads func(i int) []float32, loss func() float64) {
	t.Helper()
	const eps = 1e-2
	checked := 0
	for ti, p := range tensors {
		data := cpu.F(p.Buf)
		g := grads(ti)
		for _, i := range []int{0, len(data) / 3, len(data) - 1} {
			orig := data[i]
			data[i] = orig + eps
			up := loss()
			data[i] = orig - eps
			down := loss()
			data[i] = orig
			numeric := (up - down) / (2 * eps)
			assert.InDelta(t, numeric, float64(g[i]), 2e-3+3e-2*math.Abs(numeric), "%s[%d]", p.Name, i)
			checked++
		}
	}
	require.Greater(t, checked, 10)
}

// TestPolicyLossGradientThroughModel checks the whole PPO policy path: the
// model's completion log-probs, the gorgonia clipped surrogate, the scatter
// back to label positions and model.Backward, against finite differences.
func TestPolicyLossGradientThroughModel(t *testing.T) {
	m := tinyModel(t, 16, 12, 3)
	m.EnableGrads()
	rb, err := newRolloutBatch(twoSamples(), 0)
	require.NoError(t, err)
	// Old log-probs near the model's own so some ratios clip and some do not.
	cur, err := policyLogProbs(m, rb)
	require.NoError(t, err)
	adv := []float64{1.5, -0.7, 0, 0, 0.3, -1.2, 2.0, -0.4}
	for i := range rb.oldLogp {
		rb.oldLogp[i] = cur[i] + 0.3*math.Sin(float64(3*i))*rb.mask[i]
	}
	loss := func() float64 {
		logp, err := policyLogProbs(m, rb)
		require.NoError(t, err)
		res, err := objective.PPOPolicyLoss(logp, rb.oldLogp, adv, rb.mask, 0.2)
		require.NoError(t, err)
		return res.Loss
	}
	m.ZeroGrads()
	logp, err := policyLogProbs(m, rb)
	require.NoError(t, err)
	res, err := objective.PPOPolicyLoss(logp, rb.oldLogp, adv, rb.mask, 0.2)
	require.NoError(t, err)
	require.Greater(t, res.Metrics["policy/clipfrac"], 0.0, "the check should cover clipped tokens")
	require.Less(t, res.Metrics["policy/clipfrac"], 1.0)
	require.NoError(t, m.Backward(rb.scatter(res.Grads["logp"], 1)))
	checkParamGradient(t, m.Params.Tensors, func(i int) []float32 { return cpu.F(m.Grads.Tensors[i].Buf) }, loss)
}

// TestValueLossGradientThroughModel does the same for the value model: the
// per-token values read at position P+j−1, the clipped value loss, and the
// backward through the score head and the trunk.
func TestValueLossGradientThroughModel(t *testing.T) {
	lm := tinyModel(t, 16, 12, 5)
	_, rm, err := reward.FromCausalLM(cpu.New(), lm, 7)
	require.NoError(t, err)
	for i := range rm.Score {
		rm.Score[i] *= 4 // values of order 0.1–1
	}
	rm.Trunk.EnableGrads()
	v := &valueModel{rm: rm}
	require.Error(t, v.backward(nil), "backward without a forward")
	rb, err := newRolloutBatch(twoSamples(), 0)
	require.NoError(t, err)
	old, err := v.values(rb)
	require.NoError(t, err)
	returns := make([]float64, len(old))
	for i := range old {
		old[i] += 0.3 * math.Cos(float64(5*i))
		returns[i] = 0.5 * math.Sin(float64(i+1))
	}
	loss := func() float64 {
		vals, err := v.values(rb)
		require.NoError(t, err)
		res, err := objective.PPOValueLoss(vals, old, returns, rb.mask, 0.2)
		require.NoError(t, err)
		return res.Loss
	}
	rm.ZeroGrads()
	vals, err := v.values(rb)
	require.NoError(t, err)
	for i, m := range rb.mask {
		if m == 0 {
			assert.Zero(t, vals[i], "padding gets no value")
		}
	}
	res, err := objective.PPOValueLoss(vals, old, returns, rb.mask, 0.2)
	require.NoError(t, err)
	require.NoError(t, v.backward(res.Grads["values"]))
	scoreGrad := append([]float32(nil), rm.ScoreGrad...)
	checkParamGradient(t, rm.Trunk.Params.Tensors, func(i int) []float32 { return cpu.F(rm.Trunk.Grads.Tensors[i].Buf) }, loss)
	for _, c := range []int{0, 7, 15} {
		orig := rm.Score[c]
		rm.Score[c] = orig + 1e-2
		up := loss()
		rm.Score[c] = orig - 1e-2
		down := loss()
		rm.Score[c] = orig
		assert.InDelta(t, (up-down)/2e-2, float64(scoreGrad[c]), 2e-3, "score.weight[%d]", c)
	}
}

func TestKLLoss(t *testing.T) {
	logp := []float64{-1, -2, -0.5, -3}
	ref := []float64{-1.5, -1, -0.5, -9}
	mask := []float64{1, 1, 1, 0}
	const beta = 0.04
	loss, grad, err := klLoss(logp, ref, mask, beta)
	require.NoError(t, err)
	var want float64
	for i := range 3 {
		d := ref[i] - logp[i]
		want += math.Exp(d) - d - 1
	}
	assert.InDelta(t, beta*want/3, loss, 1e-12)
	for i := range logp {
		// d/dlogp of β·(e^(ref−logp) − (ref−logp) − 1)/N = β·(1 − e^(ref−logp))/N
		assert.InDelta(t, mask[i]*beta*(1-math.Exp(ref[i]-logp[i]))/3, grad[i], 1e-12, "grad[%d]", i)
	}
	assert.InDelta(t, 0.0, func() float64 { l, _, _ := klLoss(logp, logp, mask, beta); return l }(), 1e-12, "no KL to itself")

	_, _, err = klLoss(logp, ref[:2], mask, beta)
	require.Error(t, err)
	_, _, err = klLoss(logp, ref, []float64{0, 0, 0, 0}, beta)
	require.Error(t, err)
}
