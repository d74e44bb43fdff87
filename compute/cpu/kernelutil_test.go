package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// kernelBackends returns one serial backend and one that splits work over
// three goroutines even on a two-core machine, so parallel paths and their
// race freedom (go test -race) are exercised everywhere.
func kernelBackends() map[string]*Backend {
	return map[string]*Backend{"serial": {workers: 1}, "parallel": {workers: 3},
		"openblas tiles of 2": {workers: 2, blas: loadOpenBLAS(), attnTile: 2}}
}

func randNormals(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func widen64(x []float32) []float64 {
	w := make([]float64, len(x))
	for i, v := range x {
		w[i] = float64(v)
	}
	return w
}

func filledWith(n int, v float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// centralDiff returns dL/dx by central differences, perturbing x in place
// (and restoring it); loss is a float64 reference forward.
func centralDiff(x []float64, loss func() float64) []float64 {
	const h = 1e-6
	g := make([]float64, len(x))
	for i := range x {
		orig := x[i]
		x[i] = orig + h
		up := loss()
		x[i] = orig - h
		down := loss()
		x[i] = orig
		g[i] = (up - down) / (2 * h)
	}
	return g
}

// requireAllClose checks |got−want| ≤ atol + rtol·|want| element by element.
func requireAllClose(t *testing.T, want []float64, got []float32, atol, rtol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		diff := math.Abs(float64(got[i]) - want[i])
		if !(diff <= atol+rtol*math.Abs(want[i])) {
			require.Failf(t, "values differ", "%s[%d]: got %g, want %g (diff %g)", what, i, got[i], want[i], diff)
		}
	}
}

func TestExpf32MatchesMathExp(t *testing.T) {
	worst := 0.0
	for x := -87.0; x <= 88.7; x += 0.0137 {
		xf := float32(x)
		want := math.Exp(float64(xf))
		rel := math.Abs(float64(expf32(xf))-want) / want
		worst = max(worst, rel)
	}
	assert.Less(t, worst, 3e-7, "worst relative error")

	for _, tc := range []struct {
		x, want float32
	}{
		{0, 1},
		{float32(math.Inf(-1)), 0},
		{-200, 0},
		{89, float32(math.Inf(1))},
		{float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		t.Run(fmt.Sprint(tc.x), func(t *testing.T) {
			assert.Equal(t, tc.want, expf32(tc.x))
		})
	}
	assert.True(t, math.IsNaN(float64(expf32(float32(math.NaN())))))
	near := expf32(88.72)
	assert.False(t, math.IsInf(float64(near), 0), "e^88.72 is below MaxFloat32")
	assert.InEpsilon(t, math.Exp(float64(float32(88.72))), float64(near), 3e-7)
}

func TestMustHaveLenNamesTheTensor(t *testing.T) {
	assert.PanicsWithValue(t, "cpu.Attention: q has 3 values, want B·T·NH·HD = 4", func() {
		mustHaveLen("Attention", "q", "B·T·NH·HD", 3, 4)
	})
	assert.NotPanics(t, func() { mustHaveLen("Attention", "q", "B·T·NH·HD", 4, 4) })
}
