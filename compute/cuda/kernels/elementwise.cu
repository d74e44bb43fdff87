// Elementwise kernels over flat buffers of n float32 (twins: compute/cpu/elementwise.go).

// add_f32: dst[i] += src[i] (the residual stream).
extern "C" __global__ void add_f32(float* dst, const float* src, long long n) {
    GRID_STRIDE(i, n) dst[i] += src[i];
}

// scale_f32: x[i] *= s (gradient clipping).
extern "C" __global__ void scale_f32(float* x, float s, long long n) {
    GRID_STRIDE(i, n) x[i] *= s;
}

// sumsq_partial: partial[blockIdx.x] = Σ x[i]² over the block's grid-stride
// share, in double; the host adds the gridDim.x partials (gradient norms).
extern "C" __global__ void sumsq_partial(double* partial, const float* x, long long n) {
    __shared__ double sh[32];
    double s = 0.0;
    GRID_STRIDE(i, n) {
        double v = (double)x[i];
        s += v * v;
    }
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}
