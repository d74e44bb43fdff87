package ppo

import (
	"math"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/recipes"
	"github.com/posttrain/posttrain/rollout"
	"github.com/posttrain/posttrain/train"
)

func TestExplainedVariance(t *testing.T) {
	returns := []float64{1, 2, 3, 4, 99}
	mask := []float64{1, 1, 1, 1, 0}
	assert.InDelta(t, 1.0, explainedVariance(returns, returns, mask), 1e-12, "a perfect critic")
	assert.InDelta(t, 0.0, explainedVariance([]float64{7, 7, 7, 7, 0}, returns, mask), 1e-12, "a constant critic")
	// residuals (0.5, 0, 0, −0.5): Var 1/8 (biased, as for returns: 5/4) → 1 − 0.125/1.25
	assert.InDelta(t, 0.9, explainedVariance([]float64{0.5, 2, 3, 4.5, 0}, returns, mask), 1e-12)
	assert.True(t, math.IsNaN(explainedVariance([]float64{0}, []float64{1}, []float64{1})))
}

func TestMinibatchesPartitionRows(t *testing.T) {
	rng := train.NewRNG(1, "test")
	for _, tc := range []struct{ B, n, parts int }{{8, 2, 2}, {7, 3, 3}, {3, 5, 3}, {4, 0, 1}} {
		mbs := minibatches(tc.B, tc.n, rng)
		require.Len(t, mbs, tc.parts)
		var all []int
		for _, mb := range mbs {
			require.NotEmpty(t, mb)
			all = append(all, mb...)
		}
		sort.Ints(all)
		want := make([]int, tc.B)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, all, "B=%d n=%d: every row exactly once", tc.B, tc.n)
	}
}

func TestGroupAdvantages(t *testing.T) {
	scores := []float64{1, 0, 0, 1, 1, 1}
	grpo, err := groupAdvantages(scores, 3, recipes.AdvantageGRPO, false)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{2.0 / 3, -1.0 / 3, -1.0 / 3, 0, 0, 0}, grpo, 1e-12)
	rloo, err := groupAdvantages(scores, 3, recipes.AdvantageRLOO, false)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1, -0.5, -0.5, 0, 0, 0}, rloo, 1e-12)
	_, err = groupAdvantages(scores, 4, recipes.AdvantageGRPO, true)
	require.Error(t, err)
	_, err = groupAdvantages(scores, 3, "ppo", true)
	require.Error(t, err)
	assert.InDelta(t, math.Sqrt(2.0/9)/2, groupStd(scores, 3), 1e-12)
}

func TestPromptBatchIDsAreUniquePerIteration(t *testing.T) {
	all := []rollout.Prompt{{Tokens: []int32{1}}, {Tokens: []int32{2}}, {Tokens: []int32{3}}}
	first := promptBatch(all, []int{2, 0}, 3, 1, 2)
	second := promptBatch(all, []int{1, 2}, 3, 2, 2)
	require.Len(t, first, 6)
	seen := map[int]bool{}
	for _, p := range append(first, second...) {
		assert.False(t, seen[p.ID], "id %d repeated", p.ID)
		seen[p.ID] = true
	}
	assert.Equal(t, []int32{3}, first[2].Tokens, "groups are contiguous")
	assert.Equal(t, []int32{1}, first[3].Tokens)
	assert.Equal(t, 6, second[0].ID)
}
