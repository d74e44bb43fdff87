// The fused LM head's row kernels (twin: compute/cpu/logprobs.go). The GEMMs
// (logits = hc·wᵀ, dhc = dlogits·w, dw += dlogitsᵀ·hc) are cuBLAS calls made by
// logprobs.go; these kernels gather rows, take the log-softmax and its gradient
// in place, and scatter the gradient back.
// Shapes: R rows per chunk, C width, V vocabulary; h, dh [N,C]; hc, dhc [R,C];
// logits [R,V]; tok, target, dlogp, logp [R] (this chunk's slice).

// lm_gather: hc[r,:] = h[tok[r],:]. Grid R.
extern "C" __global__ void lm_gather(float* hc, const float* h, const int* tok, int C) {
    const float* src = h + (long long)tok[blockIdx.x] * C;
    float* dst = hc + (long long)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
}

// lm_scatter_add: dh[tok[r],:] += dhc[r,:] (tokens are distinct). Grid R.
extern "C" __global__ void lm_scatter_add(float* dh, const float* dhc, const int* tok, int C) {
    float* dst = dh + (long long)tok[blockIdx.x] * C;
    const float* src = dhc + (long long)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] += src[c];
}

// lm_logsoftmax: logp[r] = z[t] − max − log Σ exp(z − max) for row r of
// logits (z) and t = target[r]; the sum is taken in double, as a float sum over
// 128K terms would lose about four digits. With dlogp (not null) the row is
// overwritten by the gradient of dlogp[r]·logp[r]: dlogp[r]·(onehot(t) − softmax(z)).
// Grid R; block 1024 (any multiple of 32).
extern "C" __global__ void lm_logsoftmax(float* logits, float* logp, const int* target, const float* dlogp, int V) {
    __shared__ float shf[32];
    __shared__ double shd[32];
    float* z = logits + (long long)blockIdx.x * V;
    const int t = target[blockIdx.x];
    float mx = -INFINITY;
    for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, z[i]);
    mx = block_max(mx, shf);
    double s = 0.0;
    for (int i = threadIdx.x; i < V; i += blockDim.x) s += (double)expf(z[i] - mx);
    s = block_sum_d(s, shd);
    const float zt = z[t];
    __syncthreads(); // every thread has read z[t] before the row is overwritten
    if (threadIdx.x == 0) logp[blockIdx.x] = zt - mx - (float)log(s);
    if (!dlogp) return;
    const float g = dlogp[blockIdx.x];
    const float scale = (float)(-(double)g / s);
    for (int i = threadIdx.x; i < V; i += blockDim.x) {
        float d = g == 0.0f ? 0.0f : expf(z[i] - mx) * scale;
        if (i == t) d += g;
        z[i] = d;
    }
}
