// RMSNorm as Hugging Face's LlamaRMSNorm (twin: compute/cpu/rmsnorm.go):
// rstd = 1/sqrt(mean(x²)+eps), out = w·(x·rstd). x, out, dx, dout [N,C]; w, dw [C];
// rstd [N]. Row kernels: one block per row.

extern "C" __global__ void rmsnorm_fwd(float* out, float* rstd, const float* x, const float* w,
                                       int C, float eps) {
    __shared__ float sh[32];
    long long row = blockIdx.x;
    const float* xr = x + row * C;
    float* orow = out + row * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) ss += xr[c] * xr[c];
    ss = block_sum(ss, sh);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    if (threadIdx.x == 0) rstd[row] = r;
    for (int c = threadIdx.x; c < C; c += blockDim.x) orow[c] = w[c] * (xr[c] * r);
}

// rmsnorm_bwd_dx accumulates dx[n,:] += rstd·(g − x̂·mean(g·x̂)), g = dout∘w, x̂ = x·rstd.
extern "C" __global__ void rmsnorm_bwd_dx(float* dx, const float* dout, const float* x, const float* w,
                                          const float* rstd, int C) {
    __shared__ float sh[32];
    long long row = blockIdx.x;
    const float* xr = x + row * C;
    const float* dr = dout + row * C;
    float* dxr = dx + row * C;
    float r = rstd[row];
    float dot = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dot += (dr[c] * w[c]) * (xr[c] * r);
    float mean = block_sum(dot, sh) / (float)C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) dxr[c] += r * (dr[c] * w[c] - xr[c] * r * mean);
}

// rmsnorm_bwd_dw accumulates dw[c] += Σ_n dout[n,c]·x[n,c]·rstd[n]. Grid:
// (ceil(C/blockDim.x), ceil(N/rows)); each thread sums one column over `rows`
// rows (reads coalesce across the threads of a row) and adds atomically.
extern "C" __global__ void rmsnorm_bwd_dw(float* dw, const float* dout, const float* x, const float* rstd,
                                          int N, int C, int rows) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    int n0 = blockIdx.y * rows, n1 = min(n0 + rows, N);
    float acc = 0.0f;
    for (int n = n0; n < n1; n++) {
        long long at = (long long)n * C + c;
        acc += dout[at] * (x[at] * rstd[n]);
    }
    atomicAdd(dw + c, acc);
}
