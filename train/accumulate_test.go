package train

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAccumulationWeighsByTotalTokens(t *testing.T) {
	// Two micro-batches: per-token losses {1, 1, 1} and {4}. The step loss is the mean over
	// all four tokens, 7/4, not the mean of the per-batch means (1 + 4)/2.
	micro := [][]float64{{1, 1, 1}, {4}}
	acc := NewAccumulation(4)
	var gradWeightPerToken []float64
	for _, losses := range micro {
		sum := 0.0
		for _, l := range losses {
			sum += l
			gradWeightPerToken = append(gradWeightPerToken, acc.Scale())
		}
		acc.Add(sum, len(losses))
	}
	assert.InDelta(t, 7.0/4, acc.Loss(), 1e-12)
	assert.Equal(t, 4, acc.Tokens())
	for _, w := range gradWeightPerToken {
		assert.InDelta(t, 0.25, w, 1e-12, "every token has the same weight in the gradient")
	}
}

func TestAccumulationWithoutLossTokens(t *testing.T) {
	acc := NewAccumulation(0)
	acc.Add(0, 0)
	assert.Equal(t, 0.0, acc.Scale())
	assert.Equal(t, 0.0, acc.Loss())
}

func TestLossTokens(t *testing.T) {
	assert.Equal(t, 3, LossTokens([]int32{-100, -100, 5, 7, -100, 0}))
	assert.Equal(t, 0, LossTokens(nil))
}

func TestEvery(t *testing.T) {
	assert.True(t, Every(10, 5))
	assert.False(t, Every(11, 5))
	assert.False(t, Every(0, 5), "step 0 is before any update")
	assert.False(t, Every(10, 0), "0 disables")
}

func TestStepCounts(t *testing.T) {
	tests := []struct {
		examples, batch, accum, epochs, maxSteps, perEpoch, total int
	}{
		{100, 8, 1, 3, 0, 13, 39}, // 12 full micro-batches + 1 short
		{100, 8, 4, 2, 0, 4, 8},   // 13 micro-batches in groups of 4: 4,4,4,1
		{64, 8, 2, 1, 0, 4, 4},    // exact
		{64, 8, 2, 5, 7, 4, 7},    // max_steps wins
		{0, 8, 1, 3, 0, 0, 0},     // no data
		{5, 8, 1, 1, 0, 1, 1},     // fewer examples than a batch
	}
	for _, tc := range tests {
		assert.Equal(t, tc.perEpoch, StepsPerEpoch(tc.examples, tc.batch, tc.accum), "%+v", tc)
		assert.Equal(t, tc.total, TotalSteps(tc.examples, tc.batch, tc.accum, tc.epochs, tc.maxSteps), "%+v", tc)
	}
}
