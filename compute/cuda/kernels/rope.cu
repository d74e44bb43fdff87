// Rotary position embedding, Hugging Face's rotate-half convention (twin:
// compute/cpu/rope.go). x [N,H,HD] rotates in place: for i < HD/2 the pair
// (x[i], x[i+HD/2]) turns by sign·pos[n]·inv_freq[i]. The angle is the float32
// product, as HF forms it; cos and sin of it are taken in double and rounded,
// as the CPU twin does (at positions in the thousands this matters).
// One thread per (token, i), looping over the H heads that share its angle.
extern "C" __global__ void rope(float* x, const int* pos, const float* inv_freq, int N, int H, int HD,
                                float sign) {
    int half = HD / 2;
    GRID_STRIDE(e, (long long)N * half) {
        int n = (int)(e / half), i = (int)(e % half);
        float angle = (float)pos[n] * inv_freq[i];
        double s, c;
        sincos((double)angle, &s, &c);
        float cs = (float)c, sn = sign * (float)s;
        for (int h = 0; h < H; h++) {
            float* row = x + ((long long)n * H + h) * HD;
            float x0 = row[i], x1 = row[i + half];
            row[i] = x0 * cs - x1 * sn;
            row[i + half] = x1 * cs + x0 * sn;
        }
    }
}
