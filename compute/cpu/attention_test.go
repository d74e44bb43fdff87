package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/posttrain/posttrain/compute"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attentionRef64 is the obviously-correct attention: for each (b, h) it
// materialises the full [T, T] score matrix, masks it (causal and same
// document) with −Inf, and applies a float64 softmax. Returns out
// [B,T,NH,HD] and lse [B,NH,T].
func attentionRef64(q, k, v []float64, docs []int32, s compute.AttnShape) (out, lse []float64) {
	B, T, NH, NKV, HD := s.B, s.T, s.NH, s.NKV, s.HD
	G := NH / NKV
	out = make([]float64, B*T*NH*HD)
	lse = make([]float64, B*NH*T)
	scale := 1 / math.Sqrt(float64(HD))
	visible := func(b, i, j int) bool {
		return j <= i && (docs == nil || docs[b*T+j] == docs[b*T+i])
	}
	scores := make([]float64, T*T)
	for b := range B {
		for h := range NH {
			kvh := h / G
			for i := range T {
				for j := range T {
					scores[i*T+j] = math.Inf(-1)
					if !visible(b, i, j) {
						continue
					}
					var d float64
					for x := range HD {
						d += q[((b*T+i)*NH+h)*HD+x] * k[((b*T+j)*NKV+kvh)*HD+x]
					}
					scores[i*T+j] = d * scale
				}
			}
			for i := range T {
				row := scores[i*T : (i+1)*T]
				m := math.Inf(-1)
				for _, sc := range row {
					m = math.Max(m, sc)
				}
				var sum float64
				for _, sc := range row {
					sum += math.Exp(sc - m)
				}
				lse[(b*NH+h)*T+i] = m + math.Log(sum)
				for j, sc := range row {
					p := math.Exp(sc-m) / sum
					for x := range HD {
						out[((b*T+i)*NH+h)*HD+x] += p * v[((b*T+j)*NKV+kvh)*HD+x]
					}
				}
			}
		}
	}
	return out, lse
}

// attnInputs holds random float32 inputs of one attention problem.
type attnInputs struct {
	s       compute.AttnShape
	q, k, v []float32
	docs    []int32
}

func newAttnInputs(seed uint64, s compute.AttnShape, docs []int32) attnInputs {
	rng := rand.New(rand.NewPCG(seed, 1))
	return attnInputs{
		s:    s,
		q:    randNormals(rng, s.B*s.T*s.NH*s.HD),
		k:    randNormals(rng, s.B*s.T*s.NKV*s.HD),
		v:    randNormals(rng, s.B*s.T*s.NKV*s.HD),
		docs: docs,
	}
}

// forward runs the kernel on fresh output buffers pre-filled with NaN, so a
// value the kernel fails to write shows up.
func (in attnInputs) forward(be *Backend) (out, lse []float32) {
	s := in.s
	out = filledWith(s.B*s.T*s.NH*s.HD, float32(math.NaN()))
	lse = filledWith(s.B*s.NH*s.T, float32(math.NaN()))
	be.Attention(Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k), Wrap(in.v), in.docs, s)
	return out, lse
}

func (in attnInputs) backward(be *Backend, dout, out, lse []float32) (dq, dk, dv []float32) {
	s := in.s
	dq = filledWith(len(in.q), float32(math.NaN()))
	dk = filledWith(len(in.k), float32(math.NaN()))
	dv = filledWith(len(in.v), float32(math.NaN()))
	be.AttentionBackward(Wrap(dq), Wrap(dk), Wrap(dv), Wrap(dout), Wrap(out), Wrap(lse),
		Wrap(in.q), Wrap(in.k), Wrap(in.v), in.docs, s)
	return dq, dk, dv
}

// packedDocs gives each row of T tokens consecutive documents of the given lengths.
func packedDocs(B, T int, lengths ...int) []int32 {
	docs := make([]int32, 0, B*T)
	for b := range B {
		id := int32(b * 100)
		for _, n := range lengths {
			for range n {
				docs = append(docs, id)
			}
			id++
		}
	}
	if len(docs) != B*T {
		panic(fmt.Sprintf("packedDocs: lengths sum to %d per row, want T=%d", len(docs)/B, T))
	}
	return docs
}

func TestAttentionMatchesReference(t *testing.T) {
	interleaved := make([]int32, 9) // documents need not be contiguous
	for i := range interleaved {
		interleaved[i] = int32(i % 2)
	}
	cases := []struct {
		name string
		s    compute.AttnShape
		docs []int32
	}{
		{"gqa", compute.AttnShape{B: 2, T: 5, NH: 4, NKV: 2, HD: 8}, nil},
		{"mqa odd head dim packed", compute.AttnShape{B: 2, T: 7, NH: 4, NKV: 1, HD: 5}, packedDocs(2, 7, 3, 1, 3)},
		{"mha interleaved docs", compute.AttnShape{B: 1, T: 9, NH: 2, NKV: 2, HD: 16}, interleaved},
		{"longer", compute.AttnShape{B: 3, T: 33, NH: 6, NKV: 2, HD: 12}, packedDocs(3, 33, 20, 13)},
	}
	for _, tc := range cases {
		in := newAttnInputs(7, tc.s, tc.docs)
		wantOut, wantLSE := attentionRef64(widen64(in.q), widen64(in.k), widen64(in.v), in.docs, tc.s)
		for bn, be := range kernelBackends() {
			t.Run(tc.name+"/"+bn, func(t *testing.T) {
				out, lse := in.forward(be)
				requireAllClose(t, wantOut, out, 1e-5, 1e-5, "out")
				requireAllClose(t, wantLSE, lse, 1e-5, 1e-5, "lse")
			})
		}
	}
}

func TestAttentionBackwardMatchesFiniteDifferences(t *testing.T) {
	s := compute.AttnShape{B: 2, T: 5, NH: 4, NKV: 2, HD: 8}
	for _, docs := range map[string][]int32{"one document": nil, "packed": packedDocs(2, 5, 2, 3)} {
		in := newAttnInputs(11, s, docs)
		dout := randNormals(rand.New(rand.NewPCG(3, 4)), len(in.q))
		q64, k64, v64, dout64 := widen64(in.q), widen64(in.k), widen64(in.v), widen64(dout)
		loss := func() float64 { // L = Σ dout ∘ out
			out, _ := attentionRef64(q64, k64, v64, docs, s)
			var l float64
			for i, o := range out {
				l += o * dout64[i]
			}
			return l
		}
		wantDQ, wantDK, wantDV := centralDiff(q64, loss), centralDiff(k64, loss), centralDiff(v64, loss)
		for bn, be := range kernelBackends() {
			t.Run(fmt.Sprintf("docs=%v/%s", docs != nil, bn), func(t *testing.T) {
				out, lse := in.forward(be)
				dq, dk, dv := in.backward(be, dout, out, lse)
				requireAllClose(t, wantDQ, dq, 1e-4, 1e-3, "dq")
				requireAllClose(t, wantDK, dk, 1e-4, 1e-3, "dk")
				requireAllClose(t, wantDV, dv, 1e-4, 1e-3, "dv")
			})
		}
	}
}

// A packed row must give every document exactly what that document alone in
// its own row gives: outputs, lse and all three gradients.
func TestAttentionDocumentsAreIsolated(t *testing.T) {
	const B, T, NH, NKV, HD = 2, 9, 4, 2, 8
	lengths := []int{3, 4, 2}
	packed := newAttnInputs(5, compute.AttnShape{B: B, T: T, NH: NH, NKV: NKV, HD: HD}, packedDocs(B, T, lengths...))
	dout := randNormals(rand.New(rand.NewPCG(9, 9)), len(packed.q))
	for bn, be := range kernelBackends() {
		t.Run(bn, func(t *testing.T) {
			out, lse := packed.forward(be)
			dq, dk, dv := packed.backward(be, dout, out, lse)
			for b := range B {
				t0 := 0
				for d, n := range lengths {
					// rows [b, t0:t0+n) of the [B, T, heads, HD] tensors
					qs := func(x []float32, heads int) []float32 {
						return x[(b*T+t0)*heads*HD : (b*T+t0+n)*heads*HD]
					}
					alone := attnInputs{
						s: compute.AttnShape{B: 1, T: n, NH: NH, NKV: NKV, HD: HD},
						q: qs(packed.q, NH), k: qs(packed.k, NKV), v: qs(packed.v, NKV),
					}
					aOut, aLSE := alone.forward(be)
					aDQ, aDK, aDV := alone.backward(be, qs(dout, NH), aOut, aLSE)
					where := fmt.Sprintf("row %d document %d", b, d)
					assert.InDeltaSlice(t, aOut, qs(out, NH), 1e-6, where+" out")
					assert.InDeltaSlice(t, aDQ, qs(dq, NH), 1e-6, where+" dq")
					assert.InDeltaSlice(t, aDK, qs(dk, NKV), 1e-6, where+" dk")
					assert.InDeltaSlice(t, aDV, qs(dv, NKV), 1e-6, where+" dv")
					for h := range NH {
						assert.InDeltaSlice(t, aLSE[h*n:(h+1)*n], lse[(b*NH+h)*T+t0:(b*NH+h)*T+t0+n], 1e-6, where+" lse")
					}
					t0 += n
				}
			}
		})
	}
}

// Filling a KV cache by a prefill and then token-by-token decoding must give
// the same outputs as full causal attention over the whole sequence, also for
// a batch whose rows sit at different offsets in their caches.
func TestAttentionCachedMatchesFullAttention(t *testing.T) {
	const B, T, NH, NKV, HD, MaxT = 2, 10, 4, 2, 8, 12
	const W = NKV * HD
	full := newAttnInputs(21, compute.AttnShape{B: B, T: T, NH: NH, NKV: NKV, HD: HD}, nil)
	cases := []struct {
		name    string
		prompt  []int // tokens of each row already in the cache before batched steps
		chunk   int   // tokens per batched step after the prompt
		batched bool  // prompt written with one batched call (needs equal prompts)
	}{
		{"batched prefill then decode", []int{4, 4}, 1, true},
		{"rows at different offsets, decode", []int{3, 6}, 1, false},
		{"rows at different offsets, chunks of 2", []int{1, 4}, 2, false},
	}
	for _, tc := range cases {
		for bn, be := range kernelBackends() {
			t.Run(tc.name+"/"+bn, func(t *testing.T) {
				want, _ := full.forward(be)
				kCache := filledWith(B*MaxT*W, float32(math.NaN())) // unwritten slots must never be read
				vCache := filledWith(B*MaxT*W, float32(math.NaN()))
				// tokens returns rows [t0, t0+n) of row b of a [B, T, heads·HD] tensor.
				tokens := func(x []float32, b, t0, n, width int) []float32 {
					return x[(b*T+t0)*width : (b*T+t0+n)*width]
				}
				gather := func(x []float32, start []int32, n, width int) []float32 {
					var g []float32
					for b := range B {
						g = append(g, tokens(x, b, int(start[b]), n, width)...)
					}
					return g
				}
				attend := func(start []int32, n int) {
					cs := compute.CacheShape{B: B, Tq: n, MaxT: MaxT, NH: NH, NKV: NKV, HD: HD}
					be.KVCacheWrite(Wrap(kCache), Wrap(gather(full.k, start, n, W)), start, B, n, MaxT, W)
					be.KVCacheWrite(Wrap(vCache), Wrap(gather(full.v, start, n, W)), start, B, n, MaxT, W)
					out := filledWith(B*n*NH*HD, float32(math.NaN()))
					be.AttentionCached(Wrap(out), Wrap(gather(full.q, start, n, NH*HD)), Wrap(kCache), Wrap(vCache), start, cs)
					for b := range B {
						assert.InDeltaSlice(t, tokens(want, b, int(start[b]), n, NH*HD), out[b*n*NH*HD:(b+1)*n*NH*HD], 1e-5,
							"row %d positions %d..%d", b, start[b], int(start[b])+n-1)
					}
				}

				start := make([]int32, B)
				if tc.batched {
					attend(start, tc.prompt[0])
				} else {
					for b := range B { // prefill each row alone through views of its cache row
						n := tc.prompt[b]
						at := b * MaxT * W
						cs := compute.CacheShape{B: 1, Tq: n, MaxT: MaxT, NH: NH, NKV: NKV, HD: HD}
						be.KVCacheWrite(Wrap(kCache[at:at+MaxT*W]), Wrap(tokens(full.k, b, 0, n, W)), []int32{0}, 1, n, MaxT, W)
						be.KVCacheWrite(Wrap(vCache[at:at+MaxT*W]), Wrap(tokens(full.v, b, 0, n, W)), []int32{0}, 1, n, MaxT, W)
						out := make([]float32, n*NH*HD)
						be.AttentionCached(Wrap(out), Wrap(tokens(full.q, b, 0, n, NH*HD)), Wrap(kCache[at:at+MaxT*W]), Wrap(vCache[at:at+MaxT*W]), []int32{0}, cs)
						assert.InDeltaSlice(t, tokens(want, b, 0, n, NH*HD), out, 1e-5, "row %d prefill", b)
					}
				}
				for b := range B {
					start[b] = int32(tc.prompt[b])
				}
				for {
					if int(max(start[0], start[1]))+tc.chunk > T {
						break
					}
					attend(start, tc.chunk)
					for b := range B {
						start[b] += int32(tc.chunk)
					}
				}
			})
		}
	}
}

func TestAttentionRejectsBadShapes(t *testing.T) {
	be := &Backend{workers: 1}
	s := compute.AttnShape{B: 1, T: 4, NH: 4, NKV: 2, HD: 8}
	in := newAttnInputs(1, s, nil)
	out, lse := make([]float32, len(in.q)), make([]float32, s.B*s.NH*s.T)
	assert.PanicsWithValue(t, "cpu.Attention: k has 63 values, want B·T·NKV·HD = 64", func() {
		be.Attention(Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k[:63]), Wrap(in.v), nil, s)
	})
	assert.Panics(t, func() {
		be.Attention(Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k), Wrap(in.v), nil, compute.AttnShape{B: 1, T: 4, NH: 4, NKV: 3, HD: 8})
	}, "NH not a multiple of NKV")
	assert.Panics(t, func() {
		be.Attention(Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k), Wrap(in.v), []int32{0, 0}, s)
	}, "docs shorter than B·T")
	require.PanicsWithValue(t, "cpu.KVCacheWrite: row 0 writes positions 3..4, outside the cache [0, 4)", func() {
		be.KVCacheWrite(Wrap(make([]float32, 4*16)), Wrap(make([]float32, 2*16)), []int32{3}, 1, 2, 4, 16)
	})
}

func BenchmarkAttention(b *testing.B) {
	s := compute.AttnShape{B: 4, T: 256, NH: 8, NKV: 2, HD: 32}
	in := newAttnInputs(1, s, nil)
	for _, tile := range []int{0, 32, 128, 256} {
		be := New()
		be.attnTile = tile
		out, lse := in.forward(be)
		dout := randNormals(rand.New(rand.NewPCG(2, 2)), len(out))
		dq, dk, dv := make([]float32, len(in.q)), make([]float32, len(in.k)), make([]float32, len(in.v))
		b.Run(fmt.Sprintf("forward/tile=%d", be.tileTokens()), func(b *testing.B) {
			for b.Loop() {
				be.Attention(Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k), Wrap(in.v), nil, s)
			}
		})
		b.Run(fmt.Sprintf("backward/tile=%d", be.tileTokens()), func(b *testing.B) {
			for b.Loop() {
				be.AttentionBackward(Wrap(dq), Wrap(dk), Wrap(dv), Wrap(dout), Wrap(out), Wrap(lse),
					Wrap(in.q), Wrap(in.k), Wrap(in.v), nil, s)
			}
		})
	}
}

// Scratch comes from a pool and is reused: a call allocates a few closures,
// never memory that grows with B, T or the number of queries.
func TestAttentionDoesNotAllocatePerQuery(t *testing.T) {
	s := compute.AttnShape{B: 2, T: 64, NH: 4, NKV: 2, HD: 16}
	in := newAttnInputs(3, s, packedDocs(2, 64, 40, 24))
	be := &Backend{workers: 1}
	out, lse := in.forward(be)
	dout := randNormals(rand.New(rand.NewPCG(1, 1)), len(out))
	dq, dk, dv := in.backward(be, dout, out, lse)
	O, L, Q, K, V := Wrap(out), Wrap(lse), Wrap(in.q), Wrap(in.k), Wrap(in.v)
	dQ, dK, dV, dO := Wrap(dq), Wrap(dk), Wrap(dv), Wrap(dout)
	forward := testing.AllocsPerRun(5, func() { be.Attention(O, L, Q, K, V, in.docs, s) })
	backward := testing.AllocsPerRun(5, func() { be.AttentionBackward(dQ, dK, dV, dO, O, L, Q, K, V, in.docs, s) })
	assert.LessOrEqual(t, forward, 4.0, "allocations per Attention call")
	assert.LessOrEqual(t, backward, 4.0, "allocations per AttentionBackward call")
}
