package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

func swigluRef64(gate, up []float64) []float64 {
	out := make([]float64, len(gate))
	for i, g := range gate {
		out[i] = g / (1 + math.Exp(-g)) * up[i]
	}
	return out
}

func TestSwiGLUMatchesReference(t *testing.T) {
	for _, n := range []int{5, 2*parallelMin + 3} { // the second runs in parallel
		rng := rand.New(rand.NewPCG(4, uint64(n)))
		gate, up := randNormals(rng, n), randNormals(rng, n)
		for i := range gate {
			gate[i] *= 4 // reach the saturated parts of the sigmoid
		}
		want := swigluRef64(widen64(gate), widen64(up))
		for bn, be := range kernelBackends() {
			t.Run(fmt.Sprintf("n=%d/%s", n, bn), func(t *testing.T) {
				out := filledWith(n, float32(math.NaN()))
				be.SwiGLU(Wrap(out), Wrap(gate), Wrap(up))
				requireAllClose(t, want, out, 1e-6, 1e-5, "out")
			})
		}
	}
}

func TestSwiGLUBackwardMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 40
	gate, up, dout := randNormals(rng, n), randNormals(rng, n), randNormals(rng, n)
	for i := range gate {
		gate[i] *= 3
	}
	gate64, up64, dout64 := widen64(gate), widen64(up), widen64(dout)
	loss := func() float64 {
		var l float64
		for i, o := range swigluRef64(gate64, up64) {
			l += o * dout64[i]
		}
		return l
	}
	wantDG, wantDU := centralDiff(gate64, loss), centralDiff(up64, loss)
	for bn, be := range kernelBackends() {
		t.Run(bn, func(t *testing.T) {
			dg, du := filledWith(n, float32(math.NaN())), filledWith(n, float32(math.NaN()))
			be.SwiGLUBackward(Wrap(dg), Wrap(du), Wrap(dout), Wrap(gate), Wrap(up))
			requireAllClose(t, wantDG, dg, 1e-5, 1e-4, "dgate")
			requireAllClose(t, wantDU, du, 1e-5, 1e-4, "dup")
		})
	}
}

// Large |gate| must saturate cleanly: silu(g) → g for g → +∞ and → 0 for
// g → −∞, with finite gradients (no Inf·0 = NaN from the exponential).
func TestSwiGLUSaturatesWithoutNaN(t *testing.T) {
	be := &Backend{workers: 1}
	gate := []float32{-1e4, -100, 100, 1e4}
	up := []float32{1, 1, 1, 1}
	out, dg, du := make([]float32, 4), make([]float32, 4), make([]float32, 4)
	be.SwiGLU(Wrap(out), Wrap(gate), Wrap(up))
	be.SwiGLUBackward(Wrap(dg), Wrap(du), Wrap(up), Wrap(gate), Wrap(up))
	assert.InDeltaSlice(t, []float32{0, 0, 100, 1e4}, out, 1e-30)
	assert.InDeltaSlice(t, []float32{0, 0, 1, 1}, dg, 1e-30)
	assert.Equal(t, out, du)
}

func TestSwiGLURejectsUnequalLengths(t *testing.T) {
	be := &Backend{workers: 1}
	assert.PanicsWithValue(t, "cpu.SwiGLU: out/dout, gate and up have 3, 3 and 2 values, want equal lengths", func() {
		be.SwiGLU(Wrap(make([]float32, 3)), Wrap(make([]float32, 3)), Wrap(make([]float32, 2)))
	})
}
