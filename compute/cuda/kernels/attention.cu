// Causal grouped-query attention (twin: compute/cpu/attention.go).
//
// Shape letters: B rows, Tq queries and Tk keys per row (Tq = Tk = T in
// training; Tk = MaxT over a KV cache), NH query heads, NKV kv heads,
// G = NH/NKV, HD head dimension. q, out, dq, dout [B,Tq,NH,HD]; k, v, dk, dv
// [B,Tk,NKV,HD]; lse, dsum [B,NH,Tq]; docs [B,T] or null; start [B] or null.
//
// Flash-attention style: scores are never stored. One warp per query (or, in
// dk/dv, per key); keys (or queries) stream through shared memory in tiles of
// 32 with one lane per tile entry, so a lane forms a whole dot product on its
// own and the online softmax needs one warp reduction per tile. Each lane
// keeps the output dimensions d = lane + 32·i (i < ATT_MAXD): HD ≤ 256.

#define ATT_WARPS 8
#define ATT_TILE 32
#define ATT_MAXD 8

// attn_smem_floats is the dynamic shared memory of attn_fwd and attn_bwd_dq
// (kernels.go computes the same): two [ATT_TILE][HD+1] tiles (padded rows: a
// lane reads its own row without bank conflicts), two [ATT_WARPS][HD] rows, and
// ATT_TILE document ids.

// attn_fwd: query t of row b sits at key position p = start[b]+t (start null:
// p = t) and attends to keys j ≤ p with docs[b,j] == docs[b,t] (docs null: all).
// Writes out and, when lse is not null, lse = log Σ_j exp(s_j).
// Grid (ceil(Tq/ATT_WARPS), NH, B); block 32·ATT_WARPS.
extern "C" __global__ void attn_fwd(float* out, float* lse, const float* q, const float* k, const float* v,
                                    const int* docs, const int* start, int Tq, int Tk, int NH, int NKV, int HD,
                                    float scale) {
    extern __shared__ float sm[];
    const int ld = HD + 1;
    float* Ks = sm;
    float* Vs = Ks + ATT_TILE * ld;
    float* Qs = Vs + ATT_TILE * ld;
    int* Ds = (int*)(Qs + 2 * ATT_WARPS * HD);

    const int b = blockIdx.z, h = blockIdx.y, kvh = h / (NH / NKV);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int t = blockIdx.x * ATT_WARPS + warp;
    const int off = start ? start[b] : 0;
    const bool active = t < Tq;
    const int p = off + t;
    const int qdoc = (docs && active) ? docs[(long long)b * Tq + t] : 0;
    float* qs = Qs + warp * HD;
    if (active) {
        const float* qrow = q + (((long long)b * Tq + t) * NH + h) * HD;
        for (int d = lane; d < HD; d += 32) qs[d] = qrow[d];
    }
    float acc[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) acc[i] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    const int last = off + min((int)(blockIdx.x + 1) * ATT_WARPS, Tq) - 1; // the block's last visible key

    for (int j0 = 0; j0 <= last; j0 += ATT_TILE) {
        __syncthreads();
        for (int e = threadIdx.x; e < ATT_TILE * HD; e += blockDim.x) {
            int jj = e / HD, d = e % HD, j = j0 + jj;
            float kv = 0.0f, vv = 0.0f;
            if (j < Tk) {
                long long at = (((long long)b * Tk + j) * NKV + kvh) * HD + d;
                kv = k[at];
                vv = v[at];
            }
            Ks[jj * ld + d] = kv;
            Vs[jj * ld + d] = vv;
        }
        if (threadIdx.x < ATT_TILE) {
            int j = j0 + threadIdx.x;
            Ds[threadIdx.x] = (docs && j < Tk) ? docs[(long long)b * Tk + j] : 0;
        }
        __syncthreads();
        if (!active || j0 > p) continue; // warp-uniform

        const int j = j0 + lane;
        const bool ok = j <= p && (!docs || Ds[lane] == qdoc);
        float s = -INFINITY;
        if (ok) {
            float dot = 0.0f;
            for (int d = 0; d < HD; d++) dot += qs[d] * Ks[lane * ld + d];
            s = dot * scale;
        }
        const float mnew = fmaxf(m, warp_max(s));
        if (mnew == -INFINITY) continue; // no visible key yet (other documents)
        const float corr = expf(m - mnew);
        const float pj = ok ? expf(s - mnew) : 0.0f;
        l = l * corr + warp_sum(pj);
        for (int i = 0; i < ATT_MAXD; i++) acc[i] *= corr;
        for (int jj = 0; jj < ATT_TILE; jj++) {
            float w = __shfl_sync(FULL_MASK, pj, jj);
            if (w == 0.0f) continue;
            for (int i = 0; i < ATT_MAXD; i++) {
                int d = lane + 32 * i;
                if (d < HD) acc[i] += w * Vs[jj * ld + d];
            }
        }
        m = mnew;
    }
    if (!active) return;
    float* orow = out + (((long long)b * Tq + t) * NH + h) * HD;
    const float inv = 1.0f / l;
    for (int i = 0; i < ATT_MAXD; i++) {
        int d = lane + 32 * i;
        if (d < HD) orow[d] = acc[i] * inv;
    }
    if (lse && lane == 0) lse[((long long)b * NH + h) * Tq + t] = m + logf(l);
}

// attn_bwd_dsum: dsum[b,h,t] = dout[b,t,h,:]·out[b,t,h,:], the D of the
// softmax backward. One warp per (b, t, h): grid ceil(B·T·NH/ATT_WARPS).
extern "C" __global__ void attn_bwd_dsum(float* dsum, const float* dout, const float* out, int B, int T, int NH,
                                         int HD) {
    long long item = (long long)blockIdx.x * ATT_WARPS + (threadIdx.x >> 5);
    int lane = threadIdx.x & 31;
    if (item >= (long long)B * T * NH) return;
    int h = (int)(item % NH), t = (int)((item / NH) % T), b = (int)(item / ((long long)NH * T));
    const float* a = dout + item * HD;
    const float* o = out + item * HD;
    float s = 0.0f;
    for (int d = lane; d < HD; d += 32) s += a[d] * o[d];
    s = warp_sum(s);
    if (lane == 0) dsum[((long long)b * NH + h) * T + t] = s;
}

// attn_bwd_dq (overwrite): with P_j = exp(s_j − lse) recomputed and
// dS_j = P_j·(dout·v_j − D), dq = scale·Σ_j dS_j·k_j. Same tiling as attn_fwd
// (one warp per query, one lane per key of a tile); grid and block as attn_fwd.
extern "C" __global__ void attn_bwd_dq(float* dq, const float* dout, const float* lse, const float* dsum,
                                       const float* q, const float* k, const float* v, const int* docs, int T,
                                       int NH, int NKV, int HD, float scale) {
    extern __shared__ float sm[];
    const int ld = HD + 1;
    float* Ks = sm;
    float* Vs = Ks + ATT_TILE * ld;
    float* Qs = Vs + ATT_TILE * ld;
    float* Gs = Qs + ATT_WARPS * HD;
    int* Ds = (int*)(Gs + ATT_WARPS * HD);

    const int b = blockIdx.z, h = blockIdx.y, kvh = h / (NH / NKV);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int t = blockIdx.x * ATT_WARPS + warp;
    const bool active = t < T;
    float* qs = Qs + warp * HD;
    float* gs = Gs + warp * HD;
    float L = 0.0f, D = 0.0f;
    int qdoc = 0;
    if (active) {
        long long row = (((long long)b * T + t) * NH + h) * HD;
        for (int d = lane; d < HD; d += 32) {
            qs[d] = q[row + d];
            gs[d] = dout[row + d];
        }
        L = lse[((long long)b * NH + h) * T + t];
        D = dsum[((long long)b * NH + h) * T + t];
        if (docs) qdoc = docs[(long long)b * T + t];
    }
    float acc[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) acc[i] = 0.0f;
    const int last = min((int)(blockIdx.x + 1) * ATT_WARPS, T) - 1;

    for (int j0 = 0; j0 <= last; j0 += ATT_TILE) {
        __syncthreads();
        for (int e = threadIdx.x; e < ATT_TILE * HD; e += blockDim.x) {
            int jj = e / HD, d = e % HD, j = j0 + jj;
            float kv = 0.0f, vv = 0.0f;
            if (j < T) {
                long long at = (((long long)b * T + j) * NKV + kvh) * HD + d;
                kv = k[at];
                vv = v[at];
            }
            Ks[jj * ld + d] = kv;
            Vs[jj * ld + d] = vv;
        }
        if (threadIdx.x < ATT_TILE) {
            int j = j0 + threadIdx.x;
            Ds[threadIdx.x] = (docs && j < T) ? docs[(long long)b * T + j] : 0;
        }
        __syncthreads();
        if (!active || j0 > t) continue;

        const int j = j0 + lane;
        float ds = 0.0f;
        if (j <= t && (!docs || Ds[lane] == qdoc)) {
            float s = 0.0f, dp = 0.0f;
            for (int d = 0; d < HD; d++) {
                s += qs[d] * Ks[lane * ld + d];
                dp += gs[d] * Vs[lane * ld + d];
            }
            float pj = expf(s * scale - L);
            ds = pj * (dp - D);
        }
        for (int jj = 0; jj < ATT_TILE; jj++) {
            float w = __shfl_sync(FULL_MASK, ds, jj);
            if (w == 0.0f) continue;
            for (int i = 0; i < ATT_MAXD; i++) {
                int d = lane + 32 * i;
                if (d < HD) acc[i] += w * Ks[jj * ld + d];
            }
        }
    }
    if (!active) return;
    float* row = dq + (((long long)b * T + t) * NH + h) * HD;
    for (int i = 0; i < ATT_MAXD; i++) {
        int d = lane + 32 * i;
        if (d < HD) row[d] = scale * acc[i];
    }
}

// attn_bwd_dkdv (overwrite): one warp per key j of kv head kvh; it loops over
// the G query heads of the group and the queries i ≥ j in tiles of 32 (one
// lane per query):  dv_j = Σ P_ij·dout_i,  dk_j = scale·Σ dS_ij·q_i.
// Grid (ceil(T/ATT_WARPS), NKV, B); block 32·ATT_WARPS; dynamic shared memory:
// two [ATT_TILE][HD+1] tiles (q, dout), two [ATT_WARPS][HD] rows (k_j, v_j),
// and ATT_TILE each of lse, D and document ids.
extern "C" __global__ void attn_bwd_dkdv(float* dk, float* dv, const float* dout, const float* lse,
                                         const float* dsum, const float* q, const float* k, const float* v,
                                         const int* docs, int T, int NH, int NKV, int HD, float scale) {
    extern __shared__ float sm[];
    const int ld = HD + 1;
    float* Qs = sm;
    float* Gs = Qs + ATT_TILE * ld;
    float* Kj = Gs + ATT_TILE * ld;
    float* Vj = Kj + ATT_WARPS * HD;
    float* Ls = Vj + ATT_WARPS * HD;
    float* Ss = Ls + ATT_TILE;
    int* Ds = (int*)(Ss + ATT_TILE);

    const int b = blockIdx.z, kvh = blockIdx.y, G = NH / NKV;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int j = blockIdx.x * ATT_WARPS + warp;
    const bool active = j < T;
    float* kj = Kj + warp * HD;
    float* vj = Vj + warp * HD;
    int kdoc = 0;
    if (active) {
        long long row = (((long long)b * T + j) * NKV + kvh) * HD;
        for (int d = lane; d < HD; d += 32) {
            kj[d] = k[row + d];
            vj[d] = v[row + d];
        }
        if (docs) kdoc = docs[(long long)b * T + j];
    }
    float ak[ATT_MAXD], av[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) ak[i] = av[i] = 0.0f;
    const int first = blockIdx.x * ATT_WARPS; // the block's first key: earlier queries see none of its keys

    for (int h = kvh * G; h < (kvh + 1) * G; h++) {
        for (int i0 = first - first % ATT_TILE; i0 < T; i0 += ATT_TILE) {
            __syncthreads();
            for (int e = threadIdx.x; e < ATT_TILE * HD; e += blockDim.x) {
                int ii = e / HD, d = e % HD, i = i0 + ii;
                float qv = 0.0f, gv = 0.0f;
                if (i < T) {
                    long long at = (((long long)b * T + i) * NH + h) * HD + d;
                    qv = q[at];
                    gv = dout[at];
                }
                Qs[ii * ld + d] = qv;
                Gs[ii * ld + d] = gv;
            }
            if (threadIdx.x < ATT_TILE) {
                int i = i0 + threadIdx.x;
                bool in = i < T;
                Ls[threadIdx.x] = in ? lse[((long long)b * NH + h) * T + i] : 0.0f;
                Ss[threadIdx.x] = in ? dsum[((long long)b * NH + h) * T + i] : 0.0f;
                Ds[threadIdx.x] = (docs && in) ? docs[(long long)b * T + i] : 0;
            }
            __syncthreads();
            if (!active || i0 + ATT_TILE - 1 < j) continue;

            const int i = i0 + lane;
            float pij = 0.0f, ds = 0.0f;
            if (i < T && i >= j && (!docs || Ds[lane] == kdoc)) {
                float s = 0.0f, dp = 0.0f;
                for (int d = 0; d < HD; d++) {
                    s += Qs[lane * ld + d] * kj[d];
                    dp += Gs[lane * ld + d] * vj[d];
                }
                pij = expf(s * scale - Ls[lane]);
                ds = pij * (dp - Ss[lane]);
            }
            for (int ii = 0; ii < ATT_TILE; ii++) {
                float wp = __shfl_sync(FULL_MASK, pij, ii);
                float ws = __shfl_sync(FULL_MASK, ds, ii);
                if (wp == 0.0f && ws == 0.0f) continue;
                for (int x = 0; x < ATT_MAXD; x++) {
                    int d = lane + 32 * x;
                    if (d < HD) {
                        av[x] += wp * Gs[ii * ld + d];
                        ak[x] += ws * Qs[ii * ld + d];
                    }
                }
            }
        }
    }
    if (!active) return;
    long long row = (((long long)b * T + j) * NKV + kvh) * HD;
    for (int x = 0; x < ATT_MAXD; x++) {
        int d = lane + 32 * x;
        if (d < HD) {
            dk[row + d] = scale * ak[x];
            dv[row + d] = av[x];
        }
    }
}

// kv_cache_write: cache [B,MaxT,W] rows start[b]..start[b]+Tq−1 = src [B,Tq,W].
extern "C" __global__ void kv_cache_write(float* cache, const float* src, const int* start, int B, int Tq, int MaxT,
                                          int W) {
    GRID_STRIDE(e, (long long)B * Tq * W) {
        int w = (int)(e % W);
        int t = (int)((e / W) % Tq);
        int b = (int)(e / ((long long)W * Tq));
        cache[((long long)b * MaxT + start[b] + t) * W + w] = src[e];
    }
}
