package objective

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// centralDifference is the numerical gradient of loss at x, one coordinate at
// a time: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h.
func centralDifference(x []float64, loss func(x []float64) float64) []float64 {
	const h = 1e-6
	grad := make([]float64, len(x))
	for i := range x {
		plus := append([]float64(nil), x...)
		minus := append([]float64(nil), x...)
		plus[i] += h
		minus[i] -= h
		grad[i] = (loss(plus) - loss(minus)) / (2 * h)
	}
	return grad
}

// requireFiniteDifference checks an analytic gradient against central
// differences of the loss, evaluated by the code under test.
func requireFiniteDifference(t *testing.T, name string, got, x []float64, loss func(x []float64) float64) {
	t.Helper()
	want := centralDifference(x, loss)
	require.Len(t, got, len(want), "gradient %q", name)
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-7*(1+math.Abs(want[i])), "gradient %q[%d] vs finite differences", name, i)
	}
}

// requireClose compares slices elementwise with a relative+absolute tolerance.
func requireClose(t *testing.T, want, got []float64, tol float64, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		require.InDelta(t, want[i], got[i], tol*(1+math.Abs(want[i])), "%s[%d]", what, i)
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// negLogSigmoid is −log σ(x) = log(1 + e^−x), written out for the closed
// forms in the tests (inputs are small, so the plain formula is exact enough).
func negLogSigmoid(x float64) float64 { return math.Log1p(math.Exp(-x)) }
