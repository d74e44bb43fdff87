// Token embedding (twin: compute/cpu/embedding.go). out, dout [N,C]; table,
// dtable [V,C]; ids [N], validated on the host. Grid: one block per token.

extern "C" __global__ void embedding_fwd(float* out, const float* table, const int* ids, int C) {
    int n = blockIdx.x;
    const float* src = table + (long long)ids[n] * C;
    float* dst = out + (long long)n * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dst[c] = src[c];
}

// embedding_bwd accumulates dtable[ids[n],:] += dout[n,:]; ids repeat, so atomically.
extern "C" __global__ void embedding_bwd(float* dtable, const float* dout, const int* ids, int C) {
    int n = blockIdx.x;
    float* dst = dtable + (long long)ids[n] * C;
    const float* src = dout + (long long)n * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) atomicAdd(dst + c, src[c]);
}
