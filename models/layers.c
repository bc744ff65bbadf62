/* The transformer's kernels (see layers.h for the conventions). Matrix products go through
 * cblas_sgemm on fixed row tiles; everything else is plain loops written so that the compiler
 * vectorizes them without reassociating any floating-point sum (the build is ISO C, so no FMA
 * contraction and no fast-math: a vector lane computes exactly what the scalar code would). */
#include "models/layers.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Longest attention row the backward keeps on the stack; model_config_check caps ctx at 4096. */
#define ATTN_MAX_KEYS 4096

/* Columns per tile when a reduction over rows (bias and gain gradients) is split across threads:
 * one 64-byte cache line of floats, so two threads never write the same line. */
#define COL_TILE 16

/* Output rows of a weight gradient per work unit of matmul_backward. */
#define DW_ROW_TILE 64

float fast_expf(float x)
{
    /* Clamp to the range where 2^k below is a normal float; exp(-87) ~ 1.6e-38 stands in for
     * anything smaller and exp(88) ~ 1.7e38 for anything larger (no kernel needs more). */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* x = k ln2 + r with k = round(x / ln2), |r| <= ln2/2; adding and subtracting 1.5 * 2^23
     * rounds to the nearest integer in the current (nearest) rounding mode. */
    const float shifter = 12582912.0f;
    float k = (x * 1.44269504088896341f + shifter) - shifter;
    /* ln2 split in two so that k * ln2_hi is exact and r keeps full precision. */
    float r = x - k * 0.693145751953125f;
    r = r - k * 1.428606765330187045e-06f;
    /* Taylor series of exp(r) to degree 7: the next term is below 6e-9 relative for |r| <= ln2/2. */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float bf16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x; /* NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                 /* ties go to the even upper half */
    u &= 0xffff0000u;
    float y;
    memcpy(&y, &u, sizeof y);
    return y;
}

void bf16_round_array(float *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = bf16_round(in[i]);
}

/* Sum of x[0..n-1] in 16 interleaved partial sums, then those in a fixed order: vectorizable, and
 * the same result for the same n wherever it runs. */
static float sum_lanes(const float *x, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += acc[j];
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum_i a[i] * b[i], in the same lane order as sum_lanes. */
static float dot_lanes(const float *a, const float *b, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += acc[j];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void embed_forward(float *out, const int *tokens, const int *pos, const float *tok_emb, const float *pos_emb,
                   int N, int T, int C)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *te = tok_emb + (size_t)tokens[n] * C;
        const float *pe = pos_emb + (size_t)(pos ? pos[n] : n % T) * C;
        float *o = out + (size_t)n * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
    }
}

void embed_backward(float *dtok_emb, float *dpos_emb, const float *dout, const int *tokens, int N, int T, int C)
{
    /* Rows scatter into shared embedding rows, so this stays on one thread: it is O(N*C) adds,
     * negligible next to the matmuls, and its order (row by row) is then fixed. */
    for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * C;
        float *dt = dtok_emb + (size_t)tokens[n] * C;
        float *dp = dpos_emb + (size_t)(n % T) * C;
        for (int c = 0; c < C; c++) {
            dt[c] += d[c];
            dp[c] += d[c];
        }
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g, const float *b,
                       int N, int C)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float m = sum_lanes(x, C) / (float)C;
        /* The variance from the centered values (two passes): no cancellation. o holds x - m. */
        for (int c = 0; c < C; c++) o[c] = x[c] - m;
        float var = dot_lanes(o, o, C) / (float)C;
        float s = 1.0f / sqrtf(var + LN_EPS);
        for (int c = 0; c < C; c++) o[c] = o[c] * s * g[c] + b[c];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp, const float *g,
                        const float *mean, const float *rstd, int N, int C)
{
    const int n_col_tiles = (C + COL_TILE - 1) / COL_TILE;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *d = dout + (size_t)n * C;
            float *di = dinp + (size_t)n * C;
            const float m = mean[n], s = rstd[n];
            /* With xhat = (x - m) s and dxhat = g * dout:
             * dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
            float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
            {
                float a1[16] = {0}, a2[16] = {0};
                int c = 0;
                for (; c + 16 <= C; c += 16)
                    for (int j = 0; j < 16; j++) {
                        float dxh = g[c + j] * d[c + j];
                        a1[j] += dxh;
                        a2[j] += dxh * ((x[c + j] - m) * s);
                    }
                for (int j = 0; j < 16; j++) {
                    sum_dxhat += a1[j];
                    sum_dxhat_xhat += a2[j];
                }
                for (; c < C; c++) {
                    float dxh = g[c] * d[c];
                    sum_dxhat += dxh;
                    sum_dxhat_xhat += dxh * ((x[c] - m) * s);
                }
            }
            const float mean_dxhat = sum_dxhat / (float)C, mean_dxhat_xhat = sum_dxhat_xhat / (float)C;
            for (int c = 0; c < C; c++) {
                float xhat = (x[c] - m) * s;
                di[c] += s * (g[c] * d[c] - mean_dxhat - xhat * mean_dxhat_xhat);
            }
        }
        /* Gain and bias gradients sum over rows: split over columns, each tile summing all rows. */
#pragma omp for schedule(static)
        for (int tile = 0; tile < n_col_tiles; tile++) {
            const int c0 = tile * COL_TILE, c1 = c0 + COL_TILE < C ? c0 + COL_TILE : C, w = c1 - c0;
            float ag[COL_TILE] = {0}, ab[COL_TILE] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C + c0;
                const float *d = dout + (size_t)n * C + c0;
                const float m = mean[n], s = rstd[n];
                for (int j = 0; j < w; j++) {
                    ag[j] += (x[j] - m) * s * d[j];
                    ab[j] += d[j];
                }
            }
            for (int j = 0; j < w; j++) {
                dg[c0 + j] += ag[j];
                db[c0 + j] += ab[j];
            }
        }
    }
}

int matmul_row_tile(int N)
{
    /* About 8 tiles (so 2..8 threads all get work), in multiples of 16 rows, between 32 rows (below
     * which sgemm's per-call overhead shows) and 256 (beyond which it gains nothing). */
    int t = ((N + 7) / 8 + 15) / 16 * 16;
    return t < 32 ? 32 : t > 256 ? 256 : t;
}

void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IN, int OUT,
                    const Bf16Scratch *bf)
{
    const int rt = matmul_row_tile(N), n_tiles = (N + rt - 1) / rt;
    const float *wm = bf ? bf->w : w;
#pragma omp parallel
    {
        if (bf) {
#pragma omp for schedule(static)
            for (int o = 0; o < OUT; o++) bf16_round_array(bf->w + (size_t)o * IN, w + (size_t)o * IN, (size_t)IN);
        }
#pragma omp for schedule(static)
        for (int tile = 0; tile < n_tiles; tile++) {
            const int r0 = tile * rt, m = N - r0 < rt ? N - r0 : rt;
            const float *x = inp + (size_t)r0 * IN;
            if (bf) {
                bf16_round_array(bf->inp + (size_t)r0 * IN, x, (size_t)m * IN);
                x = bf->inp + (size_t)r0 * IN;
            }
            float *o = out + (size_t)r0 * OUT;
            float beta = 0.0f;
            if (bias) {
                for (int r = 0; r < m; r++) memcpy(o + (size_t)r * OUT, bias, (size_t)OUT * sizeof *o);
                beta = 1.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, OUT, IN, 1.0f, x, IN, wm, IN, beta, o, OUT);
        }
    }
}

void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IN, int OUT, const Bf16Scratch *bf)
{
    /* Work units: first the weight-gradient tiles (each sums over all N rows for DW_ROW_TILE output
     * rows, and does the bias for the same outputs), then the row tiles of the input gradient. The
     * two halves cost the same FLOPs; dynamic scheduling balances them. */
    const int n_dw = (OUT + DW_ROW_TILE - 1) / DW_ROW_TILE;
    const int rt = matmul_row_tile(N), n_rows = dinp ? (N + rt - 1) / rt : 0;
    const float *x = bf ? bf->inp : inp;
    const float *wm = bf ? bf->w : w;
#pragma omp parallel
    {
        if (bf) {
#pragma omp for schedule(static)
            for (int o = 0; o < OUT; o++) bf16_round_array(bf->w + (size_t)o * IN, w + (size_t)o * IN, (size_t)IN);
#pragma omp for schedule(static)
            for (int n = 0; n < N; n++)
                bf16_round_array(bf->inp + (size_t)n * IN, inp + (size_t)n * IN, (size_t)IN);
        }
#pragma omp for schedule(dynamic, 1)
        for (int unit = 0; unit < n_dw + n_rows; unit++) {
            if (unit < n_dw) {
                const int o0 = unit * DW_ROW_TILE, mo = OUT - o0 < DW_ROW_TILE ? OUT - o0 : DW_ROW_TILE;
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mo, IN, N, 1.0f, dout + o0, OUT, x, IN, 1.0f,
                            dw + (size_t)o0 * IN, IN);
                if (db) {
                    float acc[DW_ROW_TILE] = {0};
                    for (int n = 0; n < N; n++) {
                        const float *d = dout + (size_t)n * OUT + o0;
                        for (int j = 0; j < mo; j++) acc[j] += d[j];
                    }
                    for (int j = 0; j < mo; j++) db[o0 + j] += acc[j];
                }
            } else {
                const int r0 = (unit - n_dw) * rt, m = N - r0 < rt ? N - r0 : rt;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, IN, OUT, 1.0f, dout + (size_t)r0 * OUT,
                            OUT, wm, IN, 0.0f, dinp + (size_t)r0 * IN, IN);
            }
        }
    }
}

/* 2 sqrt(2/pi): gelu(x) = x * sigmoid(GELU_K2 (x + 0.044715 x^3)). */
#define GELU_K2 1.5957691216057308f
#define GELU_C 0.044715f

/* Elements per OpenMP chunk of the elementwise kernels (big enough to amortize scheduling). */
#define ELEM_CHUNK 4096

void gelu_forward(float *out, const float *inp, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) {
        size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
        for (size_t i = c0; i < c1; i++) {
            float x = inp[i];
            float u = GELU_K2 * (x + GELU_C * x * x * x);
            out[i] = x / (1.0f + fast_expf(-u));
        }
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) {
        size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
        for (size_t i = c0; i < c1; i++) {
            float x = inp[i];
            float u = GELU_K2 * (x + GELU_C * x * x * x);
            float s = 1.0f / (1.0f + fast_expf(-u));
            float du = GELU_K2 * (1.0f + 3.0f * GELU_C * x * x);
            dinp[i] = dout[i] * (s + x * s * (1.0f - s) * du);
        }
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) {
        size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
        for (size_t i = c0; i < c1; i++) out[i] = a[i] + b[i];
    }
}

void attention_query(float *y, float *p, const float *q, const float *kT, int ldk, const float *v, int ldv,
                     int n_keys, int head_dim, float scale)
{
    /* Scores with the keys transposed: the inner loop runs over keys, contiguous, and each score
     * is summed over the head dimension in order. */
    for (int s = 0; s < n_keys; s++) p[s] = 0.0f;
    for (int i = 0; i < head_dim; i++) {
        const float qi = q[i];
        const float *k = kT + (size_t)i * ldk;
        for (int s = 0; s < n_keys; s++) p[s] += qi * k[s];
    }
    float mx = -INFINITY;
    for (int s = 0; s < n_keys; s++) {
        p[s] *= scale;
        mx = p[s] > mx ? p[s] : mx;
    }
    for (int s = 0; s < n_keys; s++) p[s] = fast_expf(p[s] - mx);
    const float inv = 1.0f / sum_lanes(p, n_keys);
    for (int s = 0; s < n_keys; s++) p[s] *= inv;
    for (int i = 0; i < head_dim; i++) y[i] = 0.0f;
    for (int s = 0; s < n_keys; s++) {
        const float ps = p[s];
        const float *vs = v + (size_t)s * ldv;
        for (int i = 0; i < head_dim; i++) y[i] += ps * vs[i];
    }
}

void attention_forward(float *out, float *att, float *kT, float *vT, const float *qkv, int B, int T, int C,
                       int NH)
{
    const int hd = C / NH;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const float *rows = qkv + (size_t)b * T * 3 * C;
        float *kTh = kT + (size_t)bh * hd * T, *vTh = vT + (size_t)bh * hd * T;
        for (int s = 0; s < T; s++)
            for (int i = 0; i < hd; i++) {
                kTh[(size_t)i * T + s] = rows[(size_t)s * 3 * C + C + h * hd + i];
                vTh[(size_t)i * T + s] = rows[(size_t)s * 3 * C + 2 * C + h * hd + i];
            }
        for (int t = 0; t < T; t++)
            attention_query(out + ((size_t)b * T + t) * C + h * hd, att + ((size_t)bh * T + t) * T,
                            rows + (size_t)t * 3 * C + h * hd, kTh, T, rows + 2 * C + h * hd, 3 * C, t + 1, hd,
                            scale);
    }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, const float *vT,
                        int B, int T, int C, int NH)
{
    const int hd = C / NH;
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        const int b = bh / NH, h = bh % NH;
        const float *rows = qkv + (size_t)b * T * 3 * C;
        float *drows = dqkv + (size_t)b * T * 3 * C;
        const float *vTh = vT + (size_t)bh * hd * T;
        for (int t = 0; t < T; t++)
            for (int j = 0; j < 3; j++) memset(drows + (size_t)t * 3 * C + j * C + h * hd, 0, (size_t)hd * sizeof(float));
        float dp[ATTN_MAX_KEYS];
        for (int t = 0; t < T; t++) {
            const int n = t + 1;
            const float *p = att + ((size_t)bh * T + t) * T;
            const float *dy = dout + ((size_t)b * T + t) * C + h * hd;
            const float *q = rows + (size_t)t * 3 * C + h * hd;
            float *dq = drows + (size_t)t * 3 * C + h * hd;
            /* dp[s] = dy . v_s, with v transposed so the loop over keys is contiguous. */
            for (int s = 0; s < n; s++) dp[s] = 0.0f;
            for (int i = 0; i < hd; i++) {
                const float dyi = dy[i];
                const float *vi = vTh + (size_t)i * T;
                for (int s = 0; s < n; s++) dp[s] += dyi * vi[s];
            }
            /* Softmax backward: dscore_s = p_s (dp_s - sum_r p_r dp_r), then the 1/sqrt(hd) scale. */
            const float pdp = dot_lanes(p, dp, n);
            for (int s = 0; s < n; s++) {
                const float ds = p[s] * (dp[s] - pdp) * scale;
                const float ps = p[s];
                const float *k = rows + (size_t)s * 3 * C + C + h * hd;
                float *dk = drows + (size_t)s * 3 * C + C + h * hd;
                float *dv = drows + (size_t)s * 3 * C + 2 * C + h * hd;
                for (int i = 0; i < hd; i++) {
                    dq[i] += ds * k[i];
                    dk[i] += ds * q[i];
                    dv[i] += ps * dy[i];
                }
            }
        }
    }
}

void logsoftmax_forward(float *probs, float *logp, float *entropy, const float *logits, const int *targets,
                        float temperature, int N, int V)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) {
            logp[n] = 0.0f;
            if (entropy) entropy[n] = 0.0f;
            continue;
        }
        const float *l = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float mx = -INFINITY;
        for (int v = 0; v < V; v++) {
            p[v] = l[v] / temperature; /* p holds z = logits / temperature for now */
            mx = p[v] > mx ? p[v] : mx;
        }
        const float zt = p[targets[n]] - mx;
        /* Entropy = log S - sum_v p_v (z_v - max), with S = sum_v exp(z_v - max). */
        float acc[16] = {0}, sum_ez = 0.0f;
        for (int v = 0; v < V; v++) {
            float zc = p[v] - mx;
            p[v] = fast_expf(zc);
            acc[v & 15] += p[v] * zc;
        }
        for (int j = 0; j < 16; j++) sum_ez += acc[j];
        const float S = sum_lanes(p, V), logS = logf(S), inv = 1.0f / S;
        for (int v = 0; v < V; v++) p[v] *= inv;
        logp[n] = zt - logS;
        if (entropy) entropy[n] = logS - sum_ez * inv;
    }
}

void logsoftmax_backward(float *dlogits, const float *probs, const int *targets, const float *dlogp,
                         float temperature, int N, int V)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *d = dlogits + (size_t)n * V;
        if (targets[n] < 0) {
            memset(d, 0, (size_t)V * sizeof *d);
            continue;
        }
        const float *p = probs + (size_t)n * V;
        const float g = dlogp[n] / temperature;
        for (int v = 0; v < V; v++) d[v] = -g * p[v];
        d[targets[n]] += g;
    }
}
