// Package compute defines the kernel interface the model is written against.
//
// The interface is op-shaped, in the style of llm.c: each layer kernel has a
// forward and, where training needs one, a backward that sits next to it. All
// tensors are row-major and live in Buffers owned by a Backend; the CPU backend
// (compute/cpu) stores float32 slices, a GPU backend stores device memory.
// Integer side inputs (token ids, positions, document ids) are passed as host
// slices; a device backend uploads them.
//
// Shape letters used throughout (declared once here, used in every kernel):
//
//	B   batch rows              T   sequence length (tokens per row)
//	N   tokens = B·T            C   model width (hidden_size)
//	V   vocabulary size         NH  query heads
//	NKV key/value heads         HD  head dimension
//
// Conventions that every implementation must honour:
//   - "overwrite" outputs are fully written; "accumulate" outputs are added to
//     (gradients of parameters and of the residual stream accumulate).
//   - Weights of linear layers are stored as Hugging Face stores them, [out, in].
//   - Ignored labels are IgnoreIndex (-100).
package compute

// IgnoreIndex marks a target token that contributes no loss (Hugging Face's -100).
const IgnoreIndex = -100

// Buffer is a contiguous run of float32 values owned by a Backend.
type Buffer interface {
	Len() int
}

// AttnShape describes a batch of attention inputs laid out as
// q [B, T, NH, HD], k and v [B, T, NKV, HD], out [B, T, NH, HD].
type AttnShape struct {
	B, T, NH, NKV, HD int
}

// CacheShape describes cached attention for decoding: q [B, Tq, NH, HD] holds the
// new tokens; the caches are [B, MaxT, NKV, HD].
type CacheShape struct {
	B, Tq, MaxT, NH, NKV, HD int
}

// Backend is the set of kernels the model needs. Implementations must be safe
// for use by one goroutine at a time; they may parallelise internally.
type Backend interface {
	// Name is a short human-readable description ("cpu (OpenBLAS)", "cuda:0 ...").
	Name() string

	// Alloc returns a zero-filled buffer of n float32 values.
	Alloc(n int) Buffer
	// View returns the sub-buffer [off, off+n) of b sharing its storage.
	View(b Buffer, off, n int) Buffer
	// Upload copies src into dst[0:len(src)].
	Upload(dst Buffer, src []float32)
	// Download copies src[0:len(dst)] into dst.
	Download(dst []float32, src Buffer)
	// Zero sets every element of b to 0.
	Zero(b Buffer)
	// Copy copies src into dst (equal lengths).
	Copy(dst, src Buffer)

	// MatMul computes c[M,N] = alpha·op(a)·op(b) + beta·c where op(a) is [M,K]
	// (a stored [K,M] when transA) and op(b) is [K,N] (b stored [N,K] when transB).
	// A linear layer y = x·Wᵀ with W [out,in] is MatMul(y, x, W, N, out, in, false, true, 1, 0).
	MatMul(c, a, b Buffer, m, n, k int, transA, transB bool, alpha, beta float32)

	// Add computes dst[i] += src[i] over dst's length (the residual stream).
	Add(dst, src Buffer)
	// Scale computes b[i] *= s.
	Scale(b Buffer, s float32)
	// SumSquares returns Σ b[i]² accumulated in float64 (gradient norms).
	SumSquares(b Buffer) float64

	// Embedding writes out[n,:] = table[ids[n],:] (overwrite); out [N,C], table [V,C].
	Embedding(out, table Buffer, ids []int32, C int)
	// EmbeddingBackward accumulates dtable[ids[n],:] += dout[n,:].
	EmbeddingBackward(dtable, dout Buffer, ids []int32, C int)

	// RMSNorm writes out[n,:] = x[n,:]·rstd[n]·w and rstd[n] = 1/sqrt(mean(x[n,:]²)+eps);
	// x, out [N,C], w [C], rstd [N] (kept for the backward).
	RMSNorm(out, rstd, x, w Buffer, N, C int, eps float32)
	// RMSNormBackward accumulates dx [N,C] and dw [C] from dout [N,C].
	RMSNormBackward(dx, dw, dout, x, w, rstd Buffer, N, C int)

	// RoPE rotates x [N, H, HD] in place at the given positions (one per token),
	// Hugging Face's rotate-half convention: pairs (i, i+HD/2) rotate by
	// angle pos·invFreq[i], invFreq [HD/2]. Angles are formed in float32 as HF does.
	RoPE(x Buffer, pos []int32, invFreq []float32, N, H, HD int)
	// RoPEBackward applies the inverse rotation to the gradient dx in place.
	RoPEBackward(dx Buffer, pos []int32, invFreq []float32, N, H, HD int)

	// Attention is causal grouped-query attention with scale 1/sqrt(HD). Query i
	// attends to keys j ≤ i of its row with docs[b·T+j] == docs[b·T+i] (docs nil:
	// one document per row). Writes out (overwrite) and lse [B, NH, T], the
	// log-sum-exp of each query's scores, which the backward reuses.
	Attention(out, lse, q, k, v Buffer, docs []int32, s AttnShape)
	// AttentionBackward overwrites dq, dk, dv from dout.
	AttentionBackward(dq, dk, dv, dout, out, lse, q, k, v Buffer, docs []int32, s AttnShape)

	// KVCacheWrite copies src [B, Tq, W] into cache [B, MaxT, W] at rows
	// start[b]..start[b]+Tq-1 (W = NKV·HD).
	KVCacheWrite(cache, src Buffer, start []int32, B, Tq, MaxT, W int)
	// AttentionCached writes out [B, Tq, NH, HD] for new queries whose tokens sit at
	// cache positions start[b]+t; each attends to cache positions 0..start[b]+t.
	AttentionCached(out, q, kCache, vCache Buffer, start []int32, s CacheShape)

	// SwiGLU writes out[i] = silu(gate[i])·up[i] (overwrite).
	SwiGLU(out, gate, up Buffer)
	// SwiGLUBackward overwrites dgate and dup from dout.
	SwiGLUBackward(dgate, dup, dout, gate, up Buffer)

	// TokenLogProbs is the fused, chunked LM head and log-softmax: for each token
	// n it computes logits h[n,:]·Wᵀ (w [V,C]) and writes
	// logp[n] = log softmax(logits)[targets[n]] (0 where targets[n] == IgnoreIndex),
	// without ever holding an [N, V] buffer. When dh is non-nil it also
	// accumulates the gradient of Σ_n dlogp[n]·logp[n] into dh [N,C] and dw [V,C].
	// logp and dlogp are host slices of length N.
	TokenLogProbs(logp []float32, dh, dw, h, w Buffer, targets []int32, dlogp []float32, N, C, V int)

	// AdamW updates param in place from grad with decoupled weight decay and bias
	// correction; m and v are the first and second moments; step counts from 1.
	AdamW(param, grad, m, v Buffer, step int, lr, beta1, beta2, eps, weightDecay float32)
}
