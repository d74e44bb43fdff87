// AdamW with PyTorch's torch.optim.AdamW semantics (twin: compute/cpu/adamw.go),
// same operation order: m by lerp, the bias corrections folded by the host
// into step_size = lr/(1−β1^t) and bc2_sqrt = sqrt(1−β2^t).
extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, long long n,
                                 float one_minus_b1, float beta2, float one_minus_b2, float bc2_sqrt,
                                 float eps, float decay, float step_size) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = m[i] + one_minus_b1 * (gi - m[i]);
        float vi = beta2 * v[i] + one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = p[i] * decay - step_size * (mi / denom);
    }
}
