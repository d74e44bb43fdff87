package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ropeRef64 rotates x [N, H, HD] in float64 with Hugging Face's rotate-half
// rule, out = x·cos + rotate_half(x)·sin with rotate_half(x) = (−x2, x1). The
// angle of each pair comes from angle(n, i).
func ropeRef64(x []float64, N, H, HD int, angle func(n, i int) float64) []float64 {
	half := HD / 2
	out := make([]float64, len(x))
	for n := range N {
		for h := range H {
			row := x[(n*H+h)*HD : (n*H+h+1)*HD]
			for d := range HD {
				i := d % half
				var rotated float64 // rotate_half(x)[d]
				if d < half {
					rotated = -row[d+half]
				} else {
					rotated = row[d-half]
				}
				a := angle(n, i)
				out[(n*H+h)*HD+d] = row[d]*math.Cos(a) + rotated*math.Sin(a)
			}
		}
	}
	return out
}

// float32Angle is the angle as HF forms it: the float32 product pos·invFreq.
func float32Angle(pos []int32, invFreq []float32) func(n, i int) float64 {
	return func(n, i int) float64 { return float64(float32(pos[n]) * invFreq[i]) }
}

func ropeInvFreq(HD int) []float32 {
	f := make([]float32, HD/2)
	for i := range f {
		f[i] = float32(1 / math.Pow(500000, float64(2*i)/float64(HD)))
	}
	return f
}

func TestRoPEMatchesReference(t *testing.T) {
	cases := []struct {
		name     string
		N, H, HD int
	}{
		{"small", 6, 3, 8},
		{"parallel", 96, 8, 64}, // 49152 values > parallelMin
		{"head dim over the stack buffer", 3, 2, 300},
	}
	for _, tc := range cases {
		rng := rand.New(rand.NewPCG(6, uint64(tc.N)))
		x := randNormals(rng, tc.N*tc.H*tc.HD)
		pos := make([]int32, tc.N)
		for n := range pos {
			pos[n] = int32(rng.IntN(9000))
		}
		invFreq := ropeInvFreq(tc.HD)
		want := ropeRef64(widen64(x), tc.N, tc.H, tc.HD, float32Angle(pos, invFreq))
		for bn, be := range kernelBackends() {
			t.Run(tc.name+"/"+bn, func(t *testing.T) {
				got := append([]float32(nil), x...)
				be.RoPE(Wrap(got), pos, invFreq, tc.N, tc.H, tc.HD)
				requireAllClose(t, want, got, 2e-6, 1e-5, "x")
			})
		}
	}
}

// At large positions the float32 angle differs from the exact product by up
// to half an ulp of the angle; HF uses the float32 one, and so must we.
func TestRoPEFormsTheAngleInFloat32(t *testing.T) {
	const N, H, HD = 4, 1, 4
	pos := []int32{8000, 8001, 8191, 8023}
	invFreq := []float32{0.9876543, 0.3333333}
	rng := rand.New(rand.NewPCG(7, 7))
	x := randNormals(rng, N*H*HD)
	want := ropeRef64(widen64(x), N, H, HD, float32Angle(pos, invFreq))
	exact := ropeRef64(widen64(x), N, H, HD, func(n, i int) float64 { return float64(pos[n]) * float64(invFreq[i]) })
	var gap float64
	for i := range want {
		gap = max(gap, math.Abs(want[i]-exact[i]))
	}
	require.Greater(t, gap, 1e-4, "precondition: the two angle conventions must be distinguishable here")

	got := append([]float32(nil), x...)
	(&Backend{workers: 1}).RoPE(Wrap(got), pos, invFreq, N, H, HD)
	requireAllClose(t, want, got, 2e-6, 1e-5, "x")
}

func TestRoPEBackwardIsTheTranspose(t *testing.T) {
	const N, H, HD = 5, 2, 8
	rng := rand.New(rand.NewPCG(8, 8))
	x, dout := randNormals(rng, N*H*HD), randNormals(rng, N*H*HD)
	pos := []int32{0, 1, 7, 300, 4095}
	invFreq := ropeInvFreq(HD)
	x64, dout64 := widen64(x), widen64(dout)
	loss := func() float64 {
		var l float64
		for i, o := range ropeRef64(x64, N, H, HD, float32Angle(pos, invFreq)) {
			l += o * dout64[i]
		}
		return l
	}
	wantDX := centralDiff(x64, loss)
	for bn, be := range kernelBackends() {
		t.Run(bn, func(t *testing.T) {
			dx := append([]float32(nil), dout...)
			be.RoPEBackward(Wrap(dx), pos, invFreq, N, H, HD)
			requireAllClose(t, wantDX, dx, 1e-5, 1e-4, "dx")

			roundTrip := append([]float32(nil), x...)
			be.RoPE(Wrap(roundTrip), pos, invFreq, N, H, HD)
			be.RoPEBackward(Wrap(roundTrip), pos, invFreq, N, H, HD)
			assert.InDeltaSlice(t, x, roundTrip, 1e-5, "RoPEBackward undoes RoPE")
		})
	}
}

func TestRoPERejectsBadShapes(t *testing.T) {
	be := &Backend{workers: 1}
	assert.PanicsWithValue(t, "cpu.RoPE: invFreq has 3 values, want HD/2 = 4", func() {
		be.RoPE(Wrap(make([]float32, 8)), []int32{0}, make([]float32, 3), 1, 1, 8)
	})
	assert.Panics(t, func() { be.RoPE(Wrap(make([]float32, 7)), []int32{0}, make([]float32, 3), 1, 1, 7) }, "odd head dimension")
}
