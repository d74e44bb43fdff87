// SwiGLU, the LLaMA MLP gate: out = silu(gate)·up, silu(g) = g/(1+e^−g)
// (twin: compute/cpu/swiglu.go). Buffers are [N, intermediate], flat here.

extern "C" __global__ void swiglu_fwd(float* out, const float* gate, const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// swiglu_bwd (overwrite): dup = dout·silu(g); dgate = dout·up·σ(g)·(1 + g·(1 − σ(g))).
extern "C" __global__ void swiglu_bwd(float* dgate, float* dup, const float* dout, const float* gate,
                                      const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], d = dout[i];
        float sig = 1.0f / (1.0f + expf(-g));
        dup[i] = d * g * sig;
        dgate[i] = d * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}
