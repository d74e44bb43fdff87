package train

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func guardFixture(t *testing.T, skips int) (*StepGuard, []float32, []float32) {
	t.Helper()
	data, grad := []float32{1, 2}, []float32{0.1, 0.1}
	params := []Param{{Name: "w", Data: data, Grad: grad, Decay: true}}
	opt, err := NewAdamW(params, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	require.NoError(t, err)
	return &StepGuard{Params: params, Opt: opt, MaxNorm: 1, MaxSkips: skips}, data, grad
}

func TestStepGuardStopsOnNonFiniteLoss(t *testing.T) {
	g, data, _ := guardFixture(t, 0)
	before := append([]float32(nil), data...)
	_, _, err := g.Step(7, math.NaN(), 1e-3)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Contains(t, err.Error(), "loss is NaN")
	var nf *NonFiniteError
	require.ErrorAs(t, err, &nf)
	assert.Equal(t, 7, nf.Step)
	assert.Equal(t, before, data, "no update on a non-finite step")
}

func TestStepGuardStopsOnNonFiniteGradNorm(t *testing.T) {
	g, _, grad := guardFixture(t, 0)
	grad[1] = float32(math.Inf(1))
	_, _, err := g.Step(3, 0.5, 1e-3)
	var nf *NonFiniteError
	require.True(t, errors.As(err, &nf))
	assert.Equal(t, "grad_norm", nf.What)
	assert.Equal(t, 3, nf.Step)
}

func TestStepGuardSkipsUpToMaxSkips(t *testing.T) {
	g, data, _ := guardFixture(t, 2)
	before := append([]float32(nil), data...)
	for step := 1; step <= 2; step++ {
		_, skipped, err := g.Step(step, math.Inf(1), 1e-3)
		require.NoError(t, err)
		assert.True(t, skipped)
	}
	assert.Equal(t, before, data)
	assert.Equal(t, 2, g.Skipped)
	_, _, err := g.Step(3, math.Inf(1), 1e-3)
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Contains(t, err.Error(), "after skipping 2")
	_, skipped, err := g.Step(4, 0.5, 1e-3)
	require.NoError(t, err)
	assert.False(t, skipped)
	assert.NotEqual(t, before, data, "a finite step updates")
}

func TestStepGuardNamesANonFiniteParameter(t *testing.T) {
	g, _, _ := guardFixture(t, 0)
	_, _, err := g.Step(1, 0.5, math.Inf(1)) // an infinite learning rate overflows the weights
	require.ErrorIs(t, err, ErrNonFinite)
	assert.Contains(t, err.Error(), "parameter w[0]")
}

func TestFirstNonFinite(t *testing.T) {
	assert.Equal(t, -1, FirstNonFinite([]float32{0, -1, 3e38}))
	assert.Equal(t, 2, FirstNonFinite([]float32{0, 1, float32(math.NaN())}))
	assert.Equal(t, 0, FirstNonFinite([]float32{float32(math.Inf(-1))}))
}

func TestStepGuardStopsOnExplodingParameters(t *testing.T) {
	g, data, _ := guardFixture(t, 5)
	_, _, err := g.Step(2, 0.5, 2*MaxParamMagnitude) // finite loss and norm, weights pushed past the bound
	var nf *NonFiniteError
	require.ErrorAs(t, err, &nf)
	assert.Contains(t, nf.What, "parameter w[0] (beyond ±1e+06)")
	assert.Equal(t, 0, g.Skipped, "an applied update cannot be skipped")
	assert.Equal(t, -1, firstExploded([]float32{1e5, -1e6}))
	assert.Equal(t, 1, firstExploded([]float32{0, float32(math.NaN())}))
	_ = data
}
