package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute"
)

// tokenLogProbsRef is the plain float64 reference: full logits, log-softmax
// and the analytic gradient of Σ dlogp[n]·logp[n], accumulated into dh and dw
// when they are non-nil.
func tokenLogProbsRef(logp []float64, dh, dw []float64, h, w []float32, targets []int32, dlogp []float32, N, C, V int) {
	z := make([]float64, V)
	for n := range N {
		t := targets[n]
		if t == compute.IgnoreIndex {
			logp[n] = 0
			continue
		}
		mx := math.Inf(-1)
		for v := range V {
			var s float64
			for c := range C {
				s += float64(h[n*C+c]) * float64(w[v*C+c])
			}
			z[v] = s
			mx = math.Max(mx, s)
		}
		var sum float64
		for v := range V {
			sum += math.Exp(z[v] - mx)
		}
		lse := mx + math.Log(sum)
		logp[n] = z[t] - lse
		if dh == nil {
			continue
		}
		for v := range V {
			g := -float64(dlogp[n]) * math.Exp(z[v]-lse)
			if v == int(t) {
				g += float64(dlogp[n])
			}
			for c := range C {
				dh[n*C+c] += g * float64(w[v*C+c])
				dw[v*C+c] += g * float64(h[n*C+c])
			}
		}
	}
}

func toFloat64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// lmHeadCase is random data for one TokenLogProbs call: a fraction of targets
// ignored and a fraction of dlogp zero (tokens whose loss weight is 0).
type lmHeadCase struct {
	h, w, dh, dw []float32
	targets      []int32
	dlogp        []float32
}

func newLMHeadCase(seed uint64, N, C, V int, ignoreFrac, zeroGradFrac float64) lmHeadCase {
	rng := rand.New(rand.NewPCG(seed, 7))
	lc := lmHeadCase{
		h:       randSlice(rng, N*C, 1),
		w:       randSlice(rng, V*C, 1/float32(math.Sqrt(float64(C)))*3),
		dh:      randSlice(rng, N*C, 1), // non-zero: the kernel must accumulate
		dw:      randSlice(rng, V*C, 1),
		targets: make([]int32, N),
		dlogp:   randSlice(rng, N, 1),
	}
	for n := range N {
		lc.targets[n] = int32(rng.IntN(V))
		if rng.Float64() < ignoreFrac {
			lc.targets[n] = compute.IgnoreIndex
		}
		if rng.Float64() < zeroGradFrac {
			lc.dlogp[n] = 0
		}
	}
	return lc
}

func TestTokenLogProbsMatchesReference(t *testing.T) {
	cases := []struct {
		name             string
		N, C, V, rows    int
		ignore, zeroGrad float64
	}{
		{"one token", 1, 8, 11, 0, 0, 0},
		{"auto chunk, no mask", 70, 16, 301, 0, 0, 0},
		{"small chunks, masked", 70, 16, 301, 7, 0.3, 0},
		{"masked, zero grads", 45, 24, 97, 8, 0.2, 0.3},
		{"all ignored", 12, 8, 33, 5, 1, 0},
		{"all zero grads", 12, 8, 33, 5, 0, 1},
	}
	for name, be := range testBackends() {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				be.lmHead.rows = tc.rows
				t.Cleanup(func() { be.lmHead.rows = 0 })
				N, C, V := tc.N, tc.C, tc.V
				lc := newLMHeadCase(uint64(N*V), N, C, V, tc.ignore, tc.zeroGrad)

				wantLogp := make([]float64, N)
				wantDH, wantDW := toFloat64(lc.dh), toFloat64(lc.dw)
				tokenLogProbsRef(wantLogp, wantDH, wantDW, lc.h, lc.w, lc.targets, lc.dlogp, N, C, V)

				// Forward only first: logp must not depend on the gradient path.
				fwd := make([]float32, N)
				be.TokenLogProbs(fwd, nil, nil, Wrap(lc.h), Wrap(lc.w), lc.targets, nil, N, C, V)
				logp := make([]float32, N)
				for i := range logp {
					logp[i] = float32(math.NaN()) // must be overwritten, ignored tokens included
				}
				be.TokenLogProbs(logp, Wrap(lc.dh), Wrap(lc.dw), Wrap(lc.h), Wrap(lc.w), lc.targets, lc.dlogp, N, C, V)

				for n := range N {
					require.InDelta(t, wantLogp[n], logp[n], 1e-4*(1+math.Abs(wantLogp[n])), "logp[%d]", n)
					require.InDelta(t, wantLogp[n], fwd[n], 1e-4*(1+math.Abs(wantLogp[n])), "forward-only logp[%d]", n)
					if lc.targets[n] == compute.IgnoreIndex {
						require.Zero(t, logp[n], "ignored token %d", n)
					}
				}
				for i := range wantDH {
					require.InDelta(t, wantDH[i], lc.dh[i], 1e-4*(1+math.Abs(wantDH[i])), "dh[%d]", i)
				}
				for i := range wantDW {
					require.InDelta(t, wantDW[i], lc.dw[i], 1e-4*(1+math.Abs(wantDW[i])), "dw[%d]", i)
				}
			})
		}
	}
}

// TestTokenLogProbsFiniteDifferences checks dh and dw against central
// differences of L = Σ dlogp[n]·logp[n] computed by the kernel's own forward.
func TestTokenLogProbsFiniteDifferences(t *testing.T) {
	const N, C, V = 5, 4, 7
	const eps = 1e-2
	for name, be := range testBackends() {
		t.Run(name, func(t *testing.T) {
			lc := newLMHeadCase(3, N, C, V, 0, 0)
			lc.targets[2] = compute.IgnoreIndex
			clear(lc.dh)
			clear(lc.dw)
			logp := make([]float32, N)
			be.TokenLogProbs(logp, Wrap(lc.dh), Wrap(lc.dw), Wrap(lc.h), Wrap(lc.w), lc.targets, lc.dlogp, N, C, V)

			loss := func() float64 {
				be.TokenLogProbs(logp, nil, nil, Wrap(lc.h), Wrap(lc.w), lc.targets, nil, N, C, V)
				var l float64
				for n := range N {
					l += float64(lc.dlogp[n]) * float64(logp[n])
				}
				return l
			}
			for _, p := range []struct {
				name       string
				param, grd []float32
			}{{"h", lc.h, lc.dh}, {"w", lc.w, lc.dw}} {
				for i := range p.param {
					orig := p.param[i]
					p.param[i] = orig + eps
					up := loss()
					p.param[i] = orig - eps
					down := loss()
					p.param[i] = orig
					fd := (up - down) / (2 * eps)
					require.InDelta(t, fd, p.grd[i], 2e-3*(1+math.Abs(fd)), "d%s[%d]", p.name, i)
				}
			}
			for c := range C {
				require.Zero(t, lc.dh[2*C+c], "ignored token's dh")
			}
		})
	}
}

// TestTokenLogProbsReusesScratch checks that a repeated call allocates far
// less than one [N,V] logits buffer: the chunk buffers live in the Backend.
func TestTokenLogProbsReusesScratch(t *testing.T) {
	const N, C, V = 512, 32, 4096
	be := New()
	lc := newLMHeadCase(5, N, C, V, 0.1, 0)
	logp := make([]float32, N)
	call := func() {
		be.TokenLogProbs(logp, Wrap(lc.dh), Wrap(lc.dw), Wrap(lc.h), Wrap(lc.w), lc.targets, lc.dlogp, N, C, V)
	}
	call()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	call()
	runtime.ReadMemStats(&after)
	// gonum's parallel GEMM (the pure-Go path) allocates some bookkeeping per
	// call; an [N,V] logits buffer would be 8 MiB.
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(N*V*4/16), "bytes allocated by a warm call (one [N,V] buffer is %d)", N*V*4)
}

func TestTokenLogProbsBadTargetPanics(t *testing.T) {
	be := NewPureGo()
	h, w := make([]float32, 2*3), make([]float32, 5*3)
	require.PanicsWithValue(t, "cpu: TokenLogProbs: targets[1] = 5 is outside the vocabulary of 5", func() {
		be.TokenLogProbs(make([]float32, 2), nil, nil, Wrap(h), Wrap(w), []int32{0, 5}, nil, 2, 3, 5)
	})
}

func BenchmarkTokenLogProbs(b *testing.B) {
	const N, C, V = 1024, 256, 8192
	backends := testBackends()
	for _, rows := range []int{256, 1024} {
		be := New()
		be.lmHead.rows = rows
		backends[fmt.Sprintf("default-rows%d", rows)] = be
	}
	for name, be := range backends {
		for _, withGrad := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/grad=%v", name, withGrad), func(b *testing.B) {
				lc := newLMHeadCase(1, N, C, V, 0, 0)
				logp := make([]float32, N)
				var dh, dw compute.Buffer
				if withGrad {
					dh, dw = Wrap(lc.dh), Wrap(lc.dw)
				}
				b.ResetTimer()
				for b.Loop() {
					be.TokenLogProbs(logp, dh, dw, Wrap(lc.h), Wrap(lc.w), lc.targets, lc.dlogp, N, C, V)
				}
				gemms := 1.0
				if withGrad {
					gemms = 3
				}
				flops := gemms * 2 * N * C * V
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
