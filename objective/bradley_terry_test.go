package objective

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBradleyTerryHandWorked(t *testing.T) {
	// One pair, r_c = 1, r_r = 0, no margin or centring:
	// loss = log(1 + e⁻¹) = 0.3132616875182228, d/dr_c = −(1 − σ(1)) = −0.2689414213699951.
	res, err := BradleyTerry([]float64{1}, []float64{0}, nil, 0)
	require.NoError(t, err)
	assert.InDelta(t, 0.3132616875182228, res.Loss, 1e-15)
	assert.InDelta(t, -0.2689414213699951, res.Grads["chosen"][0], 1e-15)
	assert.InDelta(t, 0.2689414213699951, res.Grads["rejected"][0], 1e-15)
	assert.Equal(t, 1.0, res.Metrics["accuracy"])
}

func TestBradleyTerryClosedForm(t *testing.T) {
	cases := []struct {
		name                string
		chosen, rejected, m []float64
		center              float64
	}{
		{"plain", []float64{0.5, -1.2, 2.0}, []float64{0.1, -0.3, 2.5}, nil, 0},
		{"margin", []float64{0.5, -1.2, 2.0}, []float64{0.1, -0.3, 2.5}, []float64{1, 0, 0.5}, 0},
		{"margin and centring", []float64{0.5, -1.2, 2.0, 0.7}, []float64{0.1, -0.3, 2.5, 0.7}, []float64{1, 0, 0.5, -0.25}, 0.01},
		{"centring only", []float64{3, -2}, []float64{1, 1}, nil, 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := BradleyTerry(tc.chosen, tc.rejected, tc.m, tc.center)
			require.NoError(t, err)

			n := float64(len(tc.chosen))
			var wantLoss float64
			wantChosen := make([]float64, len(tc.chosen))
			wantRejected := make([]float64, len(tc.chosen))
			var correct float64
			for i := range tc.chosen {
				margin := 0.0
				if tc.m != nil {
					margin = tc.m[i]
				}
				z := tc.chosen[i] - tc.rejected[i] - margin
				s := tc.chosen[i] + tc.rejected[i]
				wantLoss += negLogSigmoid(z)/n + tc.center*s*s/n
				wantChosen[i] = -(1-sigmoid(z))/n + 2*tc.center*s/n
				wantRejected[i] = (1-sigmoid(z))/n + 2*tc.center*s/n
				if tc.chosen[i] > tc.rejected[i] {
					correct++
				}
			}
			assert.InDelta(t, wantLoss, res.Loss, 1e-14)
			requireClose(t, wantChosen, res.Grads["chosen"], 1e-14, "chosen grad")
			requireClose(t, wantRejected, res.Grads["rejected"], 1e-14, "rejected grad")
			assert.InDelta(t, correct/n, res.Metrics["accuracy"], 0)
			assert.Equal(t, res.Loss, res.Metrics["loss"])

			requireFiniteDifference(t, "chosen", res.Grads["chosen"], tc.chosen, func(x []float64) float64 {
				r, err := BradleyTerry(x, tc.rejected, tc.m, tc.center)
				require.NoError(t, err)
				return r.Loss
			})
			requireFiniteDifference(t, "rejected", res.Grads["rejected"], tc.rejected, func(x []float64) float64 {
				r, err := BradleyTerry(tc.chosen, x, tc.m, tc.center)
				require.NoError(t, err)
				return r.Loss
			})
		})
	}
}

func TestBradleyTerryTiesAreWrongAndLargeGapsAreStable(t *testing.T) {
	res, err := BradleyTerry([]float64{1, 800, -800}, []float64{1, 0, 0}, nil, 0)
	require.NoError(t, err)
	assert.InDelta(t, 1.0/3, res.Metrics["accuracy"], 1e-15, "a tie counts as wrong")
	// −log σ(0) = log 2; −log σ(800) ≈ 0; −log σ(−800) = 800 exactly in float64.
	assert.InDelta(t, (math.Ln2+800)/3, res.Loss, 1e-12)
	assert.InDelta(t, -1.0/3, res.Grads["chosen"][2], 1e-15)
	assert.InDelta(t, 0, res.Grads["chosen"][1], 1e-300)
	for _, g := range res.Grads["chosen"] {
		assert.False(t, math.IsNaN(g))
	}
}

func TestBradleyTerryRejectsBadShapes(t *testing.T) {
	_, err := BradleyTerry(nil, nil, nil, 0)
	require.ErrorIs(t, err, ErrInput)
	_, err = BradleyTerry([]float64{1, 2}, []float64{1}, nil, 0)
	require.ErrorIs(t, err, ErrInput)
	require.ErrorContains(t, err, "rRejected has 1 values, want 2")
	_, err = BradleyTerry([]float64{1}, []float64{1}, []float64{0, 0}, 0)
	require.ErrorIs(t, err, ErrInput)
}
