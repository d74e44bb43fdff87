package cuda_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/posttrain/posttrain/compute"
	"github.com/posttrain/posttrain/compute/cpu"
	"github.com/posttrain/posttrain/compute/cuda"
)

// Parity: every kernel on the GPU against its twin in compute/cpu, on fresh
// random inputs at Llama-3.2-1B sizes (C 2048, 32 heads, 8 kv heads, HD 64,
// FFN 8192, V 128,256). fp32 mode: relative error ‖gpu − cpu‖/‖cpu‖ ≤ 1e-5.

const parityTol = 1e-5

// 1B shape letters.
const (
	pC, pNH, pNKV, pHD, pFFN, pV = 2048, 32, 8, 64, 8192, 128256
)

// newCUDA returns the CUDA backend, or skips when this machine has no GPU.
func newCUDA(t *testing.T) *cuda.Backend {
	t.Helper()
	be, err := cuda.New()
	if errors.Is(err, cuda.ErrNoCUDA) {
		t.Skip("no CUDA device: ", err)
	}
	require.NoError(t, err, "a GPU is present but the backend did not start")
	t.Cleanup(func() { be.Close() })
	return be
}

// twin holds one input on both backends.
type twin struct {
	c, g compute.Buffer
	host []float32
}

type parity struct {
	t   *testing.T
	cpu *cpu.Backend
	gpu *cuda.Backend
	rng *rand.Rand
}

func newParity(t *testing.T) *parity {
	return &parity{t: t, cpu: cpu.New(), gpu: newCUDA(t), rng: rand.New(rand.NewPCG(7, uint64(len(t.Name()))))}
}

// randn uploads n values drawn from N(0, scale²) to both backends.
func (p *parity) randn(n int, scale float64) twin {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(p.rng.NormFloat64() * scale)
	}
	return p.from(x)
}

func (p *parity) from(x []float32) twin {
	tw := twin{c: p.cpu.Alloc(len(x)), g: p.gpu.Alloc(len(x)), host: x}
	p.cpu.Upload(tw.c, x)
	p.gpu.Upload(tw.g, x)
	return tw
}

func (p *parity) zeros(n int) twin { return p.from(make([]float32, n)) }

func (p *parity) ids(n, V int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(p.rng.IntN(V))
	}
	return ids
}

// check compares the GPU result with the CPU one.
func (p *parity) check(name string, tw twin, tol float64) {
	p.t.Helper()
	got := make([]float32, tw.g.Len())
	p.gpu.Download(got, tw.g)
	want := cpu.F(tw.c)
	require.Less(p.t, relErr(got, want), tol, "%s: relative error", name)
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func TestParityElementwise(t *testing.T) {
	p := newParity(t)
	const n = 4<<20 + 3 // odd tail
	x, y := p.randn(n, 1), p.randn(n, 1)
	p.cpu.Add(x.c, y.c)
	p.gpu.Add(x.g, y.g)
	p.check("Add", x, parityTol)
	p.cpu.Scale(x.c, 0.37)
	p.gpu.Scale(x.g, 0.37)
	p.check("Scale", x, parityTol)
	want, got := p.cpu.SumSquares(x.c), p.gpu.SumSquares(x.g)
	require.InEpsilon(t, want, got, 1e-9, "SumSquares")

	z := p.randn(1000, 1)
	p.cpu.Zero(z.c)
	p.gpu.Zero(z.g)
	p.check("Zero", z, 0)
	v := p.gpu.View(y.g, 10, 100)
	host := make([]float32, 100)
	p.gpu.Download(host, v)
	require.Equal(t, cpu.F(y.c)[10:110], host, "View")
	dst := p.zeros(100)
	p.gpu.Copy(dst.g, v)
	p.cpu.Copy(dst.c, p.cpu.View(y.c, 10, 100))
	p.check("Copy", dst, 0)
}

func TestParityMatMul(t *testing.T) {
	p := newParity(t)
	for _, tc := range []struct {
		name           string
		m, n, k        int
		transA, transB bool
		beta           float32
	}{
		{"linear x·Wᵀ", 2048, 2048, 2048, false, true, 0},
		{"dx = dy·W", 2048, 2048, 8192, false, false, 0},
		{"dW += dyᵀ·x", 2048, 2048, 1024, true, false, 1},
		{"both transposed", 300, 500, 700, true, true, 0.5},
		{"odd sizes", 17, 33, 65, false, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, c := p.randn(tc.m*tc.k, 1), p.randn(tc.k*tc.n, 1), p.randn(tc.m*tc.n, 1)
			p.cpu.MatMul(c.c, a.c, b.c, tc.m, tc.n, tc.k, tc.transA, tc.transB, 0.5, tc.beta)
			p.gpu.MatMul(c.g, a.g, b.g, tc.m, tc.n, tc.k, tc.transA, tc.transB, 0.5, tc.beta)
			p.check("MatMul", c, parityTol)
		})
	}
}

func TestParityEmbedding(t *testing.T) {
	p := newParity(t)
	const N, V = 8192, 32000
	table, ids := p.randn(V*pC, 1), p.ids(N, V)
	ids[1] = ids[0] // repeated ids accumulate
	out := p.zeros(N * pC)
	p.cpu.Embedding(out.c, table.c, ids, pC)
	p.gpu.Embedding(out.g, table.g, ids, pC)
	p.check("Embedding", out, 0)
	dout, dtable := p.randn(N*pC, 1), p.randn(V*pC, 1)
	p.cpu.EmbeddingBackward(dtable.c, dout.c, ids, pC)
	p.gpu.EmbeddingBackward(dtable.g, dout.g, ids, pC)
	p.check("EmbeddingBackward", dtable, parityTol)
}

func TestParityRMSNorm(t *testing.T) {
	p := newParity(t)
	const N = 8192
	x, w := p.randn(N*pC, 1), p.randn(pC, 0.2)
	for i := range w.host {
		w.host[i]++
	}
	w = p.from(w.host)
	out, rstd := p.zeros(N*pC), p.zeros(N)
	p.cpu.RMSNorm(out.c, rstd.c, x.c, w.c, N, pC, 1e-5)
	p.gpu.RMSNorm(out.g, rstd.g, x.g, w.g, N, pC, 1e-5)
	p.check("RMSNorm out", out, parityTol)
	p.check("RMSNorm rstd", rstd, parityTol)
	dout, dx, dw := p.randn(N*pC, 1), p.randn(N*pC, 1), p.randn(pC, 1)
	p.cpu.RMSNormBackward(dx.c, dw.c, dout.c, x.c, w.c, rstd.c, N, pC)
	p.gpu.RMSNormBackward(dx.g, dw.g, dout.g, x.g, w.g, rstd.g, N, pC)
	p.check("RMSNormBackward dx", dx, parityTol)
	p.check("RMSNormBackward dw", dw, parityTol)
}

func TestParityRoPE(t *testing.T) {
	p := newParity(t)
	const N = 4096
	pos := make([]int32, N)
	for i := range pos {
		pos[i] = int32(i%2048 + 6000*(i/2048)) // far positions too (llama3 scaling range)
	}
	invFreq := make([]float32, pHD/2)
	for i := range invFreq {
		invFreq[i] = float32(math.Pow(500000, -2*float64(i)/pHD))
	}
	x := p.randn(N*pNH*pHD, 1)
	p.cpu.RoPE(x.c, pos, invFreq, N, pNH, pHD)
	p.gpu.RoPE(x.g, pos, invFreq, N, pNH, pHD)
	p.check("RoPE", x, parityTol)
	p.cpu.RoPEBackward(x.c, pos, invFreq, N, pNH, pHD)
	p.gpu.RoPEBackward(x.g, pos, invFreq, N, pNH, pHD)
	p.check("RoPEBackward", x, parityTol)
	require.Less(t, relErr(cpu.F(x.c), x.host), 1e-5, "RoPEBackward undoes RoPE")
}

func TestParitySwiGLU(t *testing.T) {
	p := newParity(t)
	const n = 2048 * pFFN
	g, u, out := p.randn(n, 2), p.randn(n, 1), p.zeros(n)
	p.cpu.SwiGLU(out.c, g.c, u.c)
	p.gpu.SwiGLU(out.g, g.g, u.g)
	p.check("SwiGLU", out, parityTol)
	dout, dg, du := p.randn(n, 1), p.zeros(n), p.zeros(n)
	p.cpu.SwiGLUBackward(dg.c, du.c, dout.c, g.c, u.c)
	p.gpu.SwiGLUBackward(dg.g, du.g, dout.g, g.g, u.g)
	p.check("SwiGLUBackward dgate", dg, parityTol)
	p.check("SwiGLUBackward dup", du, parityTol)
}

func TestParityAdamW(t *testing.T) {
	p := newParity(t)
	const n = 16 << 20
	param, m, v := p.randn(n, 1), p.randn(n, 0.01), p.randn(n, 0.01)
	for i := range v.host {
		v.host[i] *= v.host[i]
	}
	v = p.from(v.host)
	for step := 1; step <= 3; step++ {
		grad := p.randn(n, 1)
		p.cpu.AdamW(param.c, grad.c, m.c, v.c, step, 1e-3, 0.9, 0.999, 1e-8, 0.01)
		p.gpu.AdamW(param.g, grad.g, m.g, v.g, step, 1e-3, 0.9, 0.999, 1e-8, 0.01)
	}
	p.check("AdamW param", param, parityTol)
	p.check("AdamW m", m, parityTol)
	p.check("AdamW v", v, parityTol)
}

func TestParityAttention(t *testing.T) {
	p := newParity(t)
	for _, tc := range []struct {
		name string
		s    compute.AttnShape
		docs bool
	}{
		{"1B shape", compute.AttnShape{B: 2, T: 512, NH: pNH, NKV: pNKV, HD: pHD}, false},
		{"packed documents", compute.AttnShape{B: 2, T: 300, NH: pNH, NKV: pNKV, HD: pHD}, true},
		{"HD 128, odd T", compute.AttnShape{B: 1, T: 77, NH: 8, NKV: 2, HD: 128}, false},
		{"tiny-llama3 HD 16", compute.AttnShape{B: 3, T: 24, NH: 4, NKV: 2, HD: 16}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			nq, nk := s.B*s.T*s.NH*s.HD, s.B*s.T*s.NKV*s.HD
			var docs []int32
			if tc.docs {
				docs = make([]int32, s.B*s.T)
				for i := range docs {
					docs[i] = int32((i % s.T) / 37) // documents of 37 tokens
				}
			}
			q, k, v := p.randn(nq, 1), p.randn(nk, 1), p.randn(nk, 1)
			out, lse := p.zeros(nq), p.zeros(s.B*s.NH*s.T)
			p.cpu.Attention(out.c, lse.c, q.c, k.c, v.c, docs, s)
			p.gpu.Attention(out.g, lse.g, q.g, k.g, v.g, docs, s)
			p.check("Attention out", out, parityTol)
			p.check("Attention lse", lse, parityTol)

			dout := p.randn(nq, 1)
			dq, dk, dv := p.randn(nq, 1), p.randn(nk, 1), p.randn(nk, 1) // overwritten
			p.cpu.AttentionBackward(dq.c, dk.c, dv.c, dout.c, out.c, lse.c, q.c, k.c, v.c, docs, s)
			p.gpu.AttentionBackward(dq.g, dk.g, dv.g, dout.g, out.g, lse.g, q.g, k.g, v.g, docs, s)
			p.check("AttentionBackward dq", dq, parityTol)
			p.check("AttentionBackward dk", dk, parityTol)
			p.check("AttentionBackward dv", dv, parityTol)
		})
	}
}

func TestParityKVCacheAndCachedAttention(t *testing.T) {
	p := newParity(t)
	for _, tc := range []struct {
		name string
		s    compute.CacheShape
	}{
		{"decode batch 64", compute.CacheShape{B: 64, Tq: 1, MaxT: 256, NH: pNH, NKV: pNKV, HD: pHD}},
		{"prefill chunk", compute.CacheShape{B: 4, Tq: 128, MaxT: 512, NH: pNH, NKV: pNKV, HD: pHD}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			W := s.NKV * s.HD
			start := make([]int32, s.B)
			for b := range start {
				start[b] = int32(p.rng.IntN(s.MaxT - s.Tq + 1))
			}
			kc, vc := p.randn(s.B*s.MaxT*W, 1), p.randn(s.B*s.MaxT*W, 1)
			kn, vn := p.randn(s.B*s.Tq*W, 1), p.randn(s.B*s.Tq*W, 1)
			for _, c := range []struct{ cache, src twin }{{kc, kn}, {vc, vn}} {
				p.cpu.KVCacheWrite(c.cache.c, c.src.c, start, s.B, s.Tq, s.MaxT, W)
				p.gpu.KVCacheWrite(c.cache.g, c.src.g, start, s.B, s.Tq, s.MaxT, W)
			}
			p.check("KVCacheWrite", kc, 0)
			q, out := p.randn(s.B*s.Tq*s.NH*s.HD, 1), p.zeros(s.B*s.Tq*s.NH*s.HD)
			p.cpu.AttentionCached(out.c, q.c, kc.c, vc.c, start, s)
			p.gpu.AttentionCached(out.g, q.g, kc.g, vc.g, start, s)
			p.check("AttentionCached", out, parityTol)
		})
	}
}

func TestParityTokenLogProbs(t *testing.T) {
	p := newParity(t)
	const N = 192
	h, w := p.randn(N*pC, 1), p.randn(pV*pC, 0.02)
	targets := p.ids(N, pV)
	dlogp := make([]float32, N)
	for n := range targets {
		if n%5 == 0 {
			targets[n] = compute.IgnoreIndex
		} else {
			dlogp[n] = -1 / float32(N)
		}
	}
	want, got := make([]float32, N), make([]float32, N)
	p.cpu.TokenLogProbs(want, nil, nil, h.c, w.c, targets, nil, N, pC, pV)
	p.gpu.TokenLogProbs(got, nil, nil, h.g, w.g, targets, nil, N, pC, pV)
	require.Less(t, relErr(got, want), parityTol, "logp (no gradient)")

	dh, dw := p.randn(N*pC, 1), p.zeros(pV*pC)
	p.cpu.TokenLogProbs(want, dh.c, dw.c, h.c, w.c, targets, dlogp, N, pC, pV)
	p.gpu.TokenLogProbs(got, dh.g, dw.g, h.g, w.g, targets, dlogp, N, pC, pV)
	require.Less(t, relErr(got, want), parityTol, "logp (with gradient)")
	for n, tg := range targets {
		if tg == compute.IgnoreIndex {
			require.Zero(t, got[n], "ignored token %d", n)
		}
	}
	p.check("TokenLogProbs dh", dh, parityTol)
	p.check("TokenLogProbs dw", dw, parityTol)
}
