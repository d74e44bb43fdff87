package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rmsnormRef64 is LlamaRMSNorm in float64: out[n,:] = w·x[n,:]/sqrt(mean(x²)+eps).
func rmsnormRef64(x, w []float64, N, C int, eps float64) (out, rstd []float64) {
	out, rstd = make([]float64, N*C), make([]float64, N)
	for n := range N {
		var ss float64
		for j := range C {
			ss += x[n*C+j] * x[n*C+j]
		}
		rstd[n] = 1 / math.Sqrt(ss/float64(C)+eps)
		for j := range C {
			out[n*C+j] = w[j] * x[n*C+j] * rstd[n]
		}
	}
	return out, rstd
}

type rmsnormCase struct {
	name string
	N, C int
}

// "wide" is above the parallel threshold and wider than the 256-column dw block.
var rmsnormCases = []rmsnormCase{{"small", 3, 7}, {"wide", 50, 700}}

func TestRMSNormMatchesReference(t *testing.T) {
	const eps = 1e-5
	for _, tc := range rmsnormCases {
		rng := rand.New(rand.NewPCG(1, uint64(tc.C)))
		x, w := randNormals(rng, tc.N*tc.C), randNormals(rng, tc.C)
		wantOut, wantRstd := rmsnormRef64(widen64(x), widen64(w), tc.N, tc.C, eps)
		for bn, be := range kernelBackends() {
			t.Run(tc.name+"/"+bn, func(t *testing.T) {
				out, rstd := filledWith(tc.N*tc.C, float32(math.NaN())), filledWith(tc.N, float32(math.NaN()))
				be.RMSNorm(Wrap(out), Wrap(rstd), Wrap(x), Wrap(w), tc.N, tc.C, eps)
				requireAllClose(t, wantOut, out, 1e-6, 1e-5, "out")
				requireAllClose(t, wantRstd, rstd, 0, 1e-6, "rstd")
			})
		}
	}
}

// The backward accumulates: dx and dw start from arbitrary values and end at
// those values plus the gradient of L = Σ dout∘out.
func TestRMSNormBackwardMatchesFiniteDifferences(t *testing.T) {
	const eps = 1e-5
	tc := rmsnormCase{"small", 3, 7}
	rng := rand.New(rand.NewPCG(2, 2))
	x, w, dout := randNormals(rng, tc.N*tc.C), randNormals(rng, tc.C), randNormals(rng, tc.N*tc.C)
	dx0, dw0 := randNormals(rng, tc.N*tc.C), randNormals(rng, tc.C)
	x64, w64, dout64 := widen64(x), widen64(w), widen64(dout)
	loss := func() float64 {
		out, _ := rmsnormRef64(x64, w64, tc.N, tc.C, eps)
		var l float64
		for i, o := range out {
			l += o * dout64[i]
		}
		return l
	}
	wantDX, wantDW := centralDiff(x64, loss), centralDiff(w64, loss)
	for i := range wantDX {
		wantDX[i] += float64(dx0[i])
	}
	for j := range wantDW {
		wantDW[j] += float64(dw0[j])
	}
	for bn, be := range kernelBackends() {
		t.Run(bn, func(t *testing.T) {
			out, rstd := make([]float32, tc.N*tc.C), make([]float32, tc.N)
			be.RMSNorm(Wrap(out), Wrap(rstd), Wrap(x), Wrap(w), tc.N, tc.C, eps)
			dx, dw := append([]float32(nil), dx0...), append([]float32(nil), dw0...)
			be.RMSNormBackward(Wrap(dx), Wrap(dw), Wrap(dout), Wrap(x), Wrap(w), Wrap(rstd), tc.N, tc.C)
			requireAllClose(t, wantDX, dx, 1e-4, 1e-3, "dx")
			requireAllClose(t, wantDW, dw, 1e-4, 1e-3, "dw")
		})
	}
}

// On a problem big enough to run in parallel, the parallel backward (dw split
// over column blocks) equals the serial one.
func TestRMSNormBackwardParallelEqualsSerial(t *testing.T) {
	const eps = 1e-6
	tc := rmsnormCases[1]
	require.Greater(t, tc.N*tc.C, parallelMin, "precondition: large enough to run in parallel")
	rng := rand.New(rand.NewPCG(3, 3))
	x, w, dout := randNormals(rng, tc.N*tc.C), randNormals(rng, tc.C), randNormals(rng, tc.N*tc.C)
	grads := map[string][2][]float32{}
	for bn, be := range kernelBackends() {
		out, rstd := make([]float32, tc.N*tc.C), make([]float32, tc.N)
		be.RMSNorm(Wrap(out), Wrap(rstd), Wrap(x), Wrap(w), tc.N, tc.C, eps)
		dx, dw := make([]float32, tc.N*tc.C), make([]float32, tc.C)
		be.RMSNormBackward(Wrap(dx), Wrap(dw), Wrap(dout), Wrap(x), Wrap(w), Wrap(rstd), tc.N, tc.C)
		grads[bn] = [2][]float32{dx, dw}
	}
	assert.Equal(t, grads["serial"], grads["parallel"])
	assert.NotZero(t, grads["serial"][1][tc.C-1], "the last dw column block is written")
}

func TestRMSNormRejectsBadShapes(t *testing.T) {
	be := &Backend{workers: 1}
	assert.PanicsWithValue(t, "cpu.RMSNorm: w has 3 values, want C = 4", func() {
		be.RMSNorm(Wrap(make([]float32, 8)), Wrap(make([]float32, 2)), Wrap(make([]float32, 8)), Wrap(make([]float32, 3)), 2, 4, 1e-5)
	})
}
