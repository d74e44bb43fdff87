package ppo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/rollout"
)

func TestRolloutBatchLayout(t *testing.T) {
	rb, err := newRolloutBatch(twoSamples(), 99)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 6, 4}, []int{rb.B, rb.T, rb.R})
	assert.Equal(t, []int32{1, 2, 3, 4, 5, 99, 6, 7, 8, 9, 10, 11}, rb.ids)
	assert.Equal(t, []int32{-100, -100, -100, 4, 5, -100, -100, -100, 8, 9, 10, 11}, rb.labels)
	assert.Equal(t, []int32{1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1}, rb.attn)
	assert.Equal(t, []float64{1, 1, 0, 0, 1, 1, 1, 1}, rb.mask)
	assert.Equal(t, []float64{-0.5, -1, 0, 0, -2, -3, -4, -5}, rb.oldLogp)
	assert.Equal(t, []float64{1, 0.25}, rb.scores)
	assert.Equal(t, []bool{true, false}, rb.stopped)

	labelAligned := []float32{0, 0, 0, 10, 11, 0, 0, 0, 20, 21, 22, 23}
	resp := rb.gather(labelAligned)
	assert.Equal(t, []float64{10, 11, 0, 0, 20, 21, 22, 23}, resp)
	assert.Equal(t, labelAligned, rb.scatter(resp, 1), "scatter is gather's transpose on completion tokens")
	assert.Equal(t, float32(-20), rb.scatter(resp, -2)[3])

	sub := rb.rows([]int{1})
	assert.Equal(t, rb.ids[6:], sub.ids)
	assert.Equal(t, []float64{1, 1, 1, 1}, sub.mask)
	assert.Equal(t, []int{2}, sub.promptLen)
	assert.Equal(t, []float64{0.25}, sub.scores)
}

func TestRolloutBatchRejectsBadSamples(t *testing.T) {
	cases := map[string]func(s []rollout.Sample){
		"empty prompt":        func(s []rollout.Sample) { s[0].Prompt.Tokens = nil },
		"log-probs mismatch":  func(s []rollout.Sample) { s[1].LogProbs = s[1].LogProbs[:2] },
		"no completion token": func(s []rollout.Sample) { s[0].Tokens, s[0].LogProbs, s[1].Tokens, s[1].LogProbs = nil, nil, nil, nil },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			s := twoSamples()
			breakIt(s)
			_, err := newRolloutBatch(s, 0)
			require.Error(t, err)
		})
	}
	_, err := newRolloutBatch(nil, 0)
	require.Error(t, err)
}

func TestEntropy(t *testing.T) {
	assert.InDelta(t, 0.6931471805599453, entropy([]float32{3, 3}), 1e-12)
	assert.InDelta(t, 1.0986122886681098, entropy([]float32{-1, -1, -1}), 1e-12)
	// p = (e²,1)/(e²+1): H = log(1+e²) − 2e²/(1+e²)
	assert.InDelta(t, 0.3653339, entropy([]float32{2, 0}), 1e-6)
}
