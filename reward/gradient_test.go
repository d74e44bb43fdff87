package reward

import (
	"cmp"
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/internal/fixtures"
	"github.com/posttrain/posttrain/objective"
)

// TestFullGradientMatchesFiniteDifferences checks the whole reward-model
// gradient of the training loss (Bradley–Terry with per-pair margins and
// reward centring, through the score head and every trunk tensor) against
// central finite differences of the loss, on the tiny fixture reward model.
func TestFullGradientMatchesFiniteDifferences(t *testing.T) {
	rm, err := Load(cpu.New(), fixtures.Path(t, "tiny-llama3-rm"))
	require.NoError(t, err)
	rm.Trunk.EnableGrads()
	pairs := []Pair{
		{Chosen: []int32{5, 17, 300, 42, 7}, Rejected: []int32{5, 17, 300, 9}, Margin: 0.5, HasMargin: true},
		{Chosen: []int32{11, 3, 250}, Rejected: []int32{11, 3, 251, 60, 61, 62}, Margin: -0.25, HasMargin: true},
		{Chosen: []int32{400, 401}, Rejected: []int32{400, 402, 403}, Margin: 1, HasMargin: true},
	}
	const center = 0.05
	b, margins, err := pairBatch(pairs, rm.PadID)
	require.NoError(t, err)
	require.Equal(t, []float64{0.5, -0.25, 1}, margins)

	loss := func() float64 {
		r, err := rm.Rewards(b)
		require.NoError(t, err)
		res, err := objective.BradleyTerry(r[:3], r[3:], margins, center)
		require.NoError(t, err)
		return res.Loss
	}
	rm.ZeroGrads()
	// The step's scale: these 3 pairs are half of a 6-pair accumulated step.
	res, err := rm.pairLossBackward(b, margins, center, 0.5)
	require.NoError(t, err)
	require.InDelta(t, loss(), res.Loss, 1e-12)
	require.Positive(t, res.Loss)

	type param struct {
		name       string
		data, grad []float32
	}
	params := []param{{ScoreWeight, rm.Score, rm.ScoreGrad}}
	for i, p := range rm.Trunk.Params.Tensors {
		params = append(params, param{p.Name, cpu.F(p.Buf), cpu.F(rm.Trunk.Grads.Tensors[i].Buf)})
	}
	checked := 0
	for _, p := range params {
		t.Run(p.name, func(t *testing.T) {
			// The entries with the largest analytic gradient: finite differences
			// in float32 resolve them well above rounding noise.
			idx := make([]int, len(p.grad))
			for i := range idx {
				idx[i] = i
			}
			slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(float64(p.grad[b])), math.Abs(float64(p.grad[a]))) })
			for _, i := range idx[:3] {
				want := float64(p.grad[i]) / 0.5 // undo the step scale
				if math.Abs(want) < 1e-4 {
					continue // an embedding row no token uses
				}
				orig := p.data[i]
				const eps = 1e-2
				p.data[i] = orig + eps
				up := loss()
				p.data[i] = orig - eps
				down := loss()
				p.data[i] = orig
				fd := (up - down) / (2 * float64(eps))
				require.InDelta(t, want, fd, 2e-2*math.Abs(want)+1e-4, "%s[%d]", p.name, i)
				checked++
			}
		})
	}
	require.Greater(t, checked, 3*len(params)/2, "most tensors checked")
}
