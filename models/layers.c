/* The transformer's kernels (see layers.h for the conventions). Matrix products go through
 * cblas_sgemm on fixed row tiles; everything else is plain loops that the compiler vectorizes.
 *
 * Vectorization and determinism: the build is ISO C (no FMA contraction, no fast-math), so a
 * vector lane computes exactly what the scalar code would; where a fused multiply-add is wanted
 * it is written (fmaf), and rounds once in either. Elementwise loops carry `#pragma omp simd`
 * (with -O2's cheap cost model GCC would otherwise leave most of them scalar); its reduction
 * clause is used only for maxima, which are exact in any order, never for sums, whose result
 * would then depend on alignment. Sums go through sum_lanes/dot_lanes, whose 16 partial sums
 * and final tree are explicit in the code, so they are the same wherever they run. */
#include "models/layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

/* Below these sizes a kernel runs on the calling thread alone: waking a team costs microseconds
 * (far more when another process holds a core), more than the work. Results do not depend on
 * it: tiles are the same either way. */
#define PAR_MIN_ELEMS 32768
#define PAR_MIN_MACS (1 << 18)

int par_team(int worth)
{
    return worth && omp_get_level() == 0 && omp_get_max_threads() > 1;
}

int attn_keys_padded(int n)
{
    return (n + ATTN_KEY_BLOCK - 1) / ATTN_KEY_BLOCK * ATTN_KEY_BLOCK;
}

/* Columns per tile when a reduction over rows (bias and gain gradients) is split across threads:
 * one 64-byte cache line of floats, so two threads never write the same line. */
#define COL_TILE 16

/* Output rows of a weight gradient per work unit of matmul_backward: each unit sums over all N
 * rows and repacks the whole input for its sgemm, so units are few and large: the whole gradient
 * for narrow layers, two halves from 128 outputs up (one per core on two cores). A function of
 * the shape only, so results do not depend on the thread count. */
static int dw_row_tile(int OUT)
{
    return OUT < 128 ? OUT : ((OUT + 1) / 2 + 15) / 16 * 16;
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
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = bf16_round(in[i]);
}

/* acc[0] + ... + acc[15] as a fixed pairwise tree (4 dependent steps instead of 16): halves,
 * then quarters, eighths and the last pair. Written out, so that it stays in registers (as a loop
 * over the array, GCC went through memory at every step). */
static inline float reduce16(const float acc[16])
{
    const float b0 = acc[0] + acc[8], b1 = acc[1] + acc[9], b2 = acc[2] + acc[10], b3 = acc[3] + acc[11];
    const float b4 = acc[4] + acc[12], b5 = acc[5] + acc[13], b6 = acc[6] + acc[14], b7 = acc[7] + acc[15];
    const float c0 = b0 + b4, c1 = b1 + b5, c2 = b2 + b6, c3 = b3 + b7;
    return (c0 + c2) + (c1 + c3);
}

/* Sum of x[0..n-1] in 16 interleaved partial sums, then reduce16: vectorizable, and the same
 * result for the same n wherever it runs. */
static float sum_lanes(const float *restrict x, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[i + j];
    float s = reduce16(acc);
    for (; i < n; i++) s += x[i];
    return s;
}

static inline float max2(float a, float b)
{
    return b > a ? b : a;
}

/* max(x[0..n-1]), -INFINITY for n = 0. The maximum is exact in any order; the 16 lanes and the
 * written-out tree only keep it in registers (OpenMP's max reduction went through memory). */
static float max_lanes(const float *restrict x, int n)
{
    float m[16];
    for (int j = 0; j < 16; j++) m[j] = -INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) m[j] = max2(m[j], x[i + j]);
    for (int j = 0; i + j < n; j++) m[j] = max2(m[j], x[i + j]);
    const float b0 = max2(m[0], m[8]), b1 = max2(m[1], m[9]), b2 = max2(m[2], m[10]), b3 = max2(m[3], m[11]);
    const float b4 = max2(m[4], m[12]), b5 = max2(m[5], m[13]), b6 = max2(m[6], m[14]), b7 = max2(m[7], m[15]);
    return max2(max2(max2(b0, b4), max2(b2, b6)), max2(max2(b1, b5), max2(b3, b7)));
}

/* sum_i a[i] * b[i], in the same lane order as sum_lanes. */
static float dot_lanes(const float *restrict a, const float *restrict b, int n)
{
    float acc[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    float s = reduce16(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void embed_row(float *out, const int *tokens, const int *pos, const float *tok_emb, const float *pos_emb,
                      int n, int T, int C)
{
    const float *restrict te = tok_emb + (size_t)tokens[n] * C;
    const float *restrict pe = pos_emb + (size_t)(pos ? pos[n] : n % T) * C;
    float *restrict o = out + (size_t)n * C;
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
}

void embed_forward(float *out, const int *tokens, const int *pos, const float *tok_emb, const float *pos_emb,
                   int N, int T, int C)
{
    if (par_team((size_t)N * C >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) embed_row(out, tokens, pos, tok_emb, pos_emb, n, T, C);
    } else {
        for (int n = 0; n < N; n++) embed_row(out, tokens, pos, tok_emb, pos_emb, n, T, C);
    }
}

void embed_backward(float *dtok_emb, float *dpos_emb, const float *dout, const int *tokens, const int *pos, int N,
                    int T, int C)
{
    /* Rows scatter into shared embedding rows, so this stays on one thread: it is O(N*C) adds,
     * negligible next to the matmuls, and its order (row by row) is then fixed. */
    for (int n = 0; n < N; n++) {
        const float *restrict d = dout + (size_t)n * C;
        float *restrict dt = dtok_emb + (size_t)tokens[n] * C;
        float *restrict dp = dpos_emb + (size_t)(pos ? pos[n] : n % T) * C;
#pragma omp simd
        for (int c = 0; c < C; c++) {
            dt[c] += d[c];
            dp[c] += d[c];
        }
    }
}

static void layernorm_row(float *out, float *mean, float *rstd, const float *inp, const float *g, const float *b,
                          int n, int C)
{
    const float *restrict x = inp + (size_t)n * C;
    float *restrict o = out + (size_t)n * C;
    float m = sum_lanes(x, C) / (float)C;
    /* The variance from the centered values (two passes): no cancellation. o holds x - m. */
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = x[c] - m;
    float var = dot_lanes(o, o, C) / (float)C;
    float s = 1.0f / sqrtf(var + LN_EPS);
#pragma omp simd
    for (int c = 0; c < C; c++) o[c] = o[c] * s * g[c] + b[c];
    if (mean) mean[n] = m;
    if (rstd) rstd[n] = s;
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g, const float *b,
                       int N, int C)
{
    if (par_team((size_t)N * C >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) layernorm_row(out, mean, rstd, inp, g, b, n, C);
    } else {
        for (int n = 0; n < N; n++) layernorm_row(out, mean, rstd, inp, g, b, n, C);
    }
}

/* Row n of layernorm_backward's input gradient. With xhat = (x - m) s and dxhat = g * dout:
 * dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat)). */
static void layernorm_backward_row(float *dinp, const float *dout, const float *inp, const float *g,
                                   const float *mean, const float *rstd, int n, int C)
{
    const float *restrict x = inp + (size_t)n * C;
    const float *restrict d = dout + (size_t)n * C;
    float *restrict di = dinp + (size_t)n * C;
    const float m = mean[n], s = rstd[n];
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
        sum_dxhat = reduce16(a1);
        sum_dxhat_xhat = reduce16(a2);
        for (; c < C; c++) {
            float dxh = g[c] * d[c];
            sum_dxhat += dxh;
            sum_dxhat_xhat += dxh * ((x[c] - m) * s);
        }
    }
    const float mean_dxhat = sum_dxhat / (float)C, mean_dxhat_xhat = sum_dxhat_xhat / (float)C;
#pragma omp simd
    for (int c = 0; c < C; c++) {
        float xhat = (x[c] - m) * s;
        di[c] += s * (g[c] * d[c] - mean_dxhat - xhat * mean_dxhat_xhat);
    }
}

/* Gain and bias gradients sum over rows: split over columns, each tile of columns summing all
 * rows. */
static void layernorm_backward_cols(float *dg, float *db, const float *dout, const float *inp, const float *mean,
                                    const float *rstd, int tile, int N, int C)
{
    const int c0 = tile * COL_TILE, c1 = c0 + COL_TILE < C ? c0 + COL_TILE : C, w = c1 - c0;
    float ag[COL_TILE] = {0}, ab[COL_TILE] = {0};
    for (int n = 0; n < N; n++) {
        const float *restrict x = inp + (size_t)n * C + c0;
        const float *restrict d = dout + (size_t)n * C + c0;
        const float m = mean[n], s = rstd[n];
#pragma omp simd
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

void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp, const float *g,
                        const float *mean, const float *rstd, int N, int C)
{
    const int n_col_tiles = (C + COL_TILE - 1) / COL_TILE;
    if (par_team((size_t)N * C >= PAR_MIN_ELEMS)) {
#pragma omp parallel
        {
#pragma omp for schedule(static)
            for (int n = 0; n < N; n++) layernorm_backward_row(dinp, dout, inp, g, mean, rstd, n, C);
#pragma omp for schedule(static)
            for (int tile = 0; tile < n_col_tiles; tile++)
                layernorm_backward_cols(dg, db, dout, inp, mean, rstd, tile, N, C);
        }
    } else {
        for (int n = 0; n < N; n++) layernorm_backward_row(dinp, dout, inp, g, mean, rstd, n, C);
        for (int tile = 0; tile < n_col_tiles; tile++)
            layernorm_backward_cols(dg, db, dout, inp, mean, rstd, tile, N, C);
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
    matmul_forward_tiled(out, inp, w, bias, N, IN, OUT, bf, matmul_row_tile(N));
}

/* Row tile `tile` of matmul_forward_tiled: rows r0 .. r0 + m - 1 of out (bf16-rounded inputs first
 * when bf is given; wm the weights to multiply, rounded already when they are bf's). */
static void matmul_forward_tile(float *out, const float *inp, const float *wm, const float *bias, int N, int IN,
                                int OUT, const Bf16Scratch *bf, int rt, int tile)
{
    const int r0 = tile * rt, m = N - r0 < rt ? N - r0 : rt;
    const float *x = inp + (size_t)r0 * IN;
    if (bf) {
        bf16_round_array(bf->inp + (size_t)r0 * IN, x, (size_t)m * IN);
        x = bf->inp + (size_t)r0 * IN;
    }
    float *o = out + (size_t)r0 * OUT;
    float beta = 0.0f;
    if (bias) {
        /* One copy of the bias per row, for the product to add to (a loop, not one memcpy call
         * per row: rows are short). */
        for (int r = 0; r < m; r++) {
            float *restrict orow = o + (size_t)r * OUT;
#pragma omp simd
            for (int j = 0; j < OUT; j++) orow[j] = bias[j];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, OUT, IN, 1.0f, x, IN, wm, IN, beta, o, OUT);
}

void matmul_forward_tiled(float *out, const float *inp, const float *w, const float *bias, int N, int IN, int OUT,
                          const Bf16Scratch *bf, int rt)
{
    const int n_tiles = (N + rt - 1) / rt;
    const int round_w = bf && bf->w;
    const float *wm = round_w ? bf->w : w;
    if (par_team((size_t)N * IN * OUT >= PAR_MIN_MACS)) {
#pragma omp parallel
        {
            if (round_w) {
#pragma omp for schedule(static)
                for (int o = 0; o < OUT; o++)
                    bf16_round_array(bf->w + (size_t)o * IN, w + (size_t)o * IN, (size_t)IN);
            }
#pragma omp for schedule(static)
            for (int tile = 0; tile < n_tiles; tile++)
                matmul_forward_tile(out, inp, wm, bias, N, IN, OUT, bf, rt, tile);
        }
    } else {
        if (round_w) bf16_round_array(bf->w, w, (size_t)OUT * IN);
        for (int tile = 0; tile < n_tiles; tile++) matmul_forward_tile(out, inp, wm, bias, N, IN, OUT, bf, rt, tile);
    }
}

/* Work unit `unit` of matmul_backward (see there). */
static void matmul_backward_unit(float *dinp, float *dw, float *db, const float *dout, const float *x,
                                 const float *wm, int N, int IN, int OUT, int dw_rows, int n_dw, int rt, int unit)
{
    if (unit < n_dw) {
        const int o0 = unit * dw_rows, mo = OUT - o0 < dw_rows ? OUT - o0 : dw_rows;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mo, IN, N, 1.0f, dout + o0, OUT, x, IN, 1.0f,
                    dw + (size_t)o0 * IN, IN);
        if (db) {
            /* Column sums of dout for these outputs, rows in order, one cache line of columns at
             * a time. */
            for (int j0 = 0; j0 < mo; j0 += COL_TILE) {
                const int w = mo - j0 < COL_TILE ? mo - j0 : COL_TILE;
                float acc[COL_TILE] = {0};
                for (int n = 0; n < N; n++) {
                    const float *restrict d = dout + (size_t)n * OUT + o0 + j0;
#pragma omp simd
                    for (int j = 0; j < w; j++) acc[j] += d[j];
                }
                for (int j = 0; j < w; j++) db[o0 + j0 + j] += acc[j];
            }
        }
    } else {
        const int r0 = (unit - n_dw) * rt, m = N - r0 < rt ? N - r0 : rt;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, IN, OUT, 1.0f, dout + (size_t)r0 * OUT, OUT, wm,
                    IN, 0.0f, dinp + (size_t)r0 * IN, IN);
    }
}

void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IN, int OUT, const Bf16Scratch *bf)
{
    /* Work units: first the weight-gradient blocks (each sums over all N rows for dw_rows output
     * rows, and does the bias for the same outputs), then the row tiles of the input gradient. The
     * two halves cost the same FLOPs; dynamic scheduling balances them. */
    const int dw_rows = dw_row_tile(OUT), n_dw = (OUT + dw_rows - 1) / dw_rows;
    const int rt = matmul_row_tile(N), n_rows = dinp ? (N + rt - 1) / rt : 0;
    const float *x = bf ? bf->inp : inp;
    const float *wm = bf && bf->w ? bf->w : w;
    if (par_team((size_t)N * IN * OUT >= PAR_MIN_MACS)) {
#pragma omp parallel
        {
            if (bf) {
                if (bf->w) {
#pragma omp for schedule(static)
                    for (int o = 0; o < OUT; o++)
                        bf16_round_array(bf->w + (size_t)o * IN, w + (size_t)o * IN, (size_t)IN);
                }
#pragma omp for schedule(static)
                for (int n = 0; n < N; n++)
                    bf16_round_array(bf->inp + (size_t)n * IN, inp + (size_t)n * IN, (size_t)IN);
            }
#pragma omp for schedule(dynamic, 1)
            for (int unit = 0; unit < n_dw + n_rows; unit++)
                matmul_backward_unit(dinp, dw, db, dout, x, wm, N, IN, OUT, dw_rows, n_dw, rt, unit);
        }
    } else {
        if (bf) {
            if (bf->w) bf16_round_array(bf->w, w, (size_t)OUT * IN);
            bf16_round_array(bf->inp, inp, (size_t)N * IN);
        }
        for (int unit = 0; unit < n_dw + n_rows; unit++)
            matmul_backward_unit(dinp, dw, db, dout, x, wm, N, IN, OUT, dw_rows, n_dw, rt, unit);
    }
}

/* 2 sqrt(2/pi): gelu(x) = x * sigmoid(GELU_K2 (x + 0.044715 x^3)). */
#define GELU_K2 1.5957691216057308f
#define GELU_C 0.044715f

/* Elements per OpenMP chunk of the elementwise kernels (big enough to amortize scheduling). */
#define ELEM_CHUNK 4096

/* Two passes per chunk (in L1): the denominators, then the quotients. Fused into one loop, GCC
 * computed the quotient once per branch of fast_expf's clamps (three divisions per vector), and
 * the loop ran at half the speed; the values are the same either way. */
static void gelu_forward_chunk(float *out, float *denom, const float *inp, size_t c0, size_t n)
{
    size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
    float *d = denom ? denom : out; /* without denom, out holds them until the quotient */
#pragma omp simd
    for (size_t i = c0; i < c1; i++) {
        float x = inp[i];
        d[i] = 1.0f + fast_expf(-(GELU_K2 * (x + GELU_C * x * x * x)));
    }
#pragma omp simd
    for (size_t i = c0; i < c1; i++) out[i] = inp[i] / d[i];
}

void gelu_forward(float *out, float *denom, const float *inp, size_t n)
{
    if (par_team(n >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) gelu_forward_chunk(out, denom, inp, c0, n);
    } else {
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) gelu_forward_chunk(out, denom, inp, c0, n);
    }
}

/* With s = 1 / (1 + exp(-u)) = gelu(x) / x: gelu'(x) = s + x s (1 - s) du/dx. */
static void gelu_backward_chunk(float *dinp, const float *inp, const float *denom, const float *dout, size_t c0,
                                size_t n)
{
    size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
#pragma omp simd
    for (size_t i = c0; i < c1; i++) {
        float x = inp[i];
        float s = 1.0f / denom[i];
        float du = GELU_K2 * (1.0f + 3.0f * GELU_C * x * x);
        dinp[i] = dout[i] * (s + x * s * (1.0f - s) * du);
    }
}

void gelu_backward(float *dinp, const float *inp, const float *denom, const float *dout, size_t n)
{
    if (par_team(n >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) gelu_backward_chunk(dinp, inp, denom, dout, c0, n);
    } else {
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) gelu_backward_chunk(dinp, inp, denom, dout, c0, n);
    }
}

static void residual_chunk(float *out, const float *a, const float *b, size_t c0, size_t n)
{
    size_t c1 = c0 + ELEM_CHUNK < n ? c0 + ELEM_CHUNK : n;
#pragma omp simd
    for (size_t i = c0; i < c1; i++) out[i] = a[i] + b[i];
}

void residual_forward(float *out, const float *a, const float *b, size_t n)
{
    if (par_team(n >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) residual_chunk(out, a, b, c0, n);
    } else {
        for (size_t c0 = 0; c0 < n; c0 += ELEM_CHUNK) residual_chunk(out, a, b, c0, n);
    }
}

/* out[j] = sum_{t<n} c[t] rows[t*ld + j] for j < ATTN_KEY_BLOCK. The sums run in four interleaved
 * accumulators (combined in a fixed order) so that four fused multiply-adds are in flight; written
 * as four separate arrays, each one vector, which GCC keeps in registers (a 2-D accumulator array
 * went through memory at every step). fmaf rounds once, identically in vector and scalar code. */
static inline void weighted_block(float *restrict out, const float *restrict c, const float *restrict rows, int ld,
                                  int n)
{
    enum { K = ATTN_KEY_BLOCK };
    float a0[K] = {0}, a1[K] = {0}, a2[K] = {0}, a3[K] = {0};
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const float *restrict r0 = rows + (size_t)t * ld, *restrict r1 = r0 + ld, *restrict r2 = r1 + ld,
                              *restrict r3 = r2 + ld;
        for (int j = 0; j < K; j++) a0[j] = fmaf(c[t], r0[j], a0[j]);
        for (int j = 0; j < K; j++) a1[j] = fmaf(c[t + 1], r1[j], a1[j]);
        for (int j = 0; j < K; j++) a2[j] = fmaf(c[t + 2], r2[j], a2[j]);
        for (int j = 0; j < K; j++) a3[j] = fmaf(c[t + 3], r3[j], a3[j]);
    }
    for (; t < n; t++)
        for (int j = 0; j < K; j++) a0[j] = fmaf(c[t], rows[(size_t)t * ld + j], a0[j]);
    for (int j = 0; j < K; j++) out[j] = (a0[j] + a1[j]) + (a2[j] + a3[j]);
}

/* out[s] = scale * sum_i q[i] k_s[i] for s < nb (a multiple of ATTN_KEY_BLOCK), the keys given
 * transposed in blocks of ATTN_KEY_BLOCK: component i of key s is kT[(s / K) * kblk + i * ldk +
 * s % K], so a block of keys is one contiguous vector per dimension. */
static void scores_transposed(float *restrict out, const float *restrict q, const float *restrict kT, int ldk,
                              size_t kblk, int nb, int dim, float scale)
{
    enum { K = ATTN_KEY_BLOCK };
    for (int s0 = 0; s0 < nb; s0 += K) {
        weighted_block(out + s0, q, kT + (size_t)(s0 / K) * kblk, ldk, dim);
        for (int j = 0; j < K; j++) out[s0 + j] *= scale;
    }
}

/* y[i] = sum_{s<n} w[s] rows[s*ld + i] for i < dim, ATTN_KEY_BLOCK columns at a time (then the
 * rest one by one). */
static void weighted_rows(float *restrict y, const float *restrict w, const float *restrict rows, int ld, int n,
                          int dim)
{
    enum { K = ATTN_KEY_BLOCK };
    int i0 = 0;
    for (; i0 + K <= dim; i0 += K) weighted_block(y + i0, w, rows + i0, ld, n);
    for (int i = i0; i < dim; i++) {
        float acc = 0.0f;
        for (int s = 0; s < n; s++) acc = fmaf(w[s], rows[(size_t)s * ld + i], acc);
        y[i] = acc;
    }
}

void attention_query(float *y, float *p, size_t ldp, const float *q, const float *kT, int ldk, size_t kblk,
                     size_t khead, const float *v, int ldv, int n_keys, int n_heads, int head_dim, float scale)
{
    /* Phase by phase over the heads rather than head by head: each phase is a short chain of
     * dependent steps (reductions, the exponential), and the heads' chains are independent, so
     * the processor overlaps them when they sit next to each other. */
    enum { MAX_HEADS = 256 }; /* model_config_check's limit */
    const int nb = attn_keys_padded(n_keys);
    float scale_h[MAX_HEADS];
    for (int h = 0; h < n_heads; h++)
        scores_transposed(p + h * ldp, q + (size_t)h * head_dim, kT + h * khead, ldk, kblk, nb, head_dim, scale);
    /* Past n_keys the scores are finite and unused: masked out of the maximum. */
    for (int h = 0; h < n_heads; h++) {
        float *restrict ph = p + h * ldp;
#pragma omp simd
        for (int s = 0; s < nb; s++) ph[s] = s < n_keys ? ph[s] : -INFINITY;
        scale_h[h] = max_lanes(ph, nb);
    }
    for (int h = 0; h < n_heads; h++) {
        float *restrict ph = p + h * ldp;
        const float mx = scale_h[h];
#pragma omp simd
        for (int s = 0; s < nb; s++) ph[s] = s < n_keys ? fast_expf(ph[s] - mx) : 0.0f;
    }
    for (int h = 0; h < n_heads; h++) scale_h[h] = 1.0f / sum_lanes(p + h * ldp, nb);
    for (int h = 0; h < n_heads; h++) {
        float *restrict ph = p + h * ldp;
        const float inv = scale_h[h];
#pragma omp simd
        for (int s = 0; s < nb; s++) ph[s] *= inv;
    }
    for (int h = 0; h < n_heads; h++)
        weighted_rows(y + (size_t)h * head_dim, p + h * ldp, v + (size_t)h * head_dim, ldv, n_keys, head_dim);
}

/* Scratch of sequence b in each of the attention scratch buffers: C x attn_keys_padded(T_b) <=
 * C x (T_b + ATTN_KEY_BLOCK - 1) floats. */
static size_t attn_scratch_offset(const SeqLayout *sl, int b, int C)
{
    return ((size_t)sl->path_off[b] + (size_t)(ATTN_KEY_BLOCK - 1) * (size_t)b) * (size_t)C;
}

enum { ATTN_SCRATCH_BUFFERS = 5 };

size_t attn_scratch_size(const SeqLayout *sl, int C)
{
    return ATTN_SCRATCH_BUFFERS * attn_scratch_offset(sl, sl->B, C);
}

/* Work below which attention stays on the calling thread: about T^2 C multiply-adds per sequence. */
static size_t attn_work(const SeqLayout *sl, int C)
{
    const size_t N = (size_t)sl->path_off[sl->B];
    return sl->B ? N * N / (size_t)sl->B * (size_t)C : 0;
}

/* Sequences per unit of the attention loops: a unit runs on one thread, in order, so a sequence
 * copies what it shares with the previous one (siblings share most of their path) instead of
 * gathering it again. A function of nothing, so results do not depend on the thread count. */
#define ATTN_SEQ_CHUNK 8

/* Gathers the rows on sequence b's path into its scratch: their channels of part tpart (1: k,
 * 2: v) transposed, xT[c*Tp + s] for s < T and zeros up to Tp (head h's (C/NH, Tp) block is then
 * at h * C/NH * Tp), and those of part rpart as rows, xr[s*C + c]; xT in the first scratch
 * buffer, xr in the second (U floats further). The positions b shares with sequence prev
 * (gathered before it; -1 for none) are copied from prev's scratch, one contiguous run each. */
static void gather_path(float *scratch, size_t U, const SeqLayout *sl, int b, int prev, int tpart, int rpart,
                        const float *qkv, int C)
{
    const int *path = sl->path + sl->path_off[b], T = sl->path_off[b + 1] - sl->path_off[b];
    const int Tp = attn_keys_padded(T), C3 = 3 * C;
    float *xT = scratch + attn_scratch_offset(sl, b, C), *xr = xT + U;
    int shared = 0;
    if (prev >= 0) {
        const int *pp = sl->path + sl->path_off[prev], Tq = sl->path_off[prev + 1] - sl->path_off[prev];
        while (shared < T && shared < Tq && pp[shared] == path[shared]) shared++;
        const int Tqp = attn_keys_padded(Tq);
        const float *pT = scratch + attn_scratch_offset(sl, prev, C), *pr = pT + U;
        /* The same padded length (siblings' usually is): one copy of the whole transposed block,
         * whose positions past the shared ones are all written below; else channel by channel. */
        if (shared > 0 && Tp == Tqp)
            memcpy(xT, pT, (size_t)C * Tp * sizeof *xT);
        else if (shared > 0)
            for (int c = 0; c < C; c++) memcpy(xT + (size_t)c * Tp, pT + (size_t)c * Tqp, (size_t)shared * sizeof *xT);
        memcpy(xr, pr, (size_t)shared * C * sizeof *xr);
    }
    for (int s = shared; s < T; s++) {
        const float *restrict src = qkv + (size_t)path[s] * C3;
        for (int c = 0; c < C; c++) xT[(size_t)c * Tp + s] = src[(size_t)tpart * C + c];
        memcpy(xr + (size_t)s * C, src + (size_t)rpart * C, (size_t)C * sizeof *xr);
    }
    for (int c = 0; c < C; c++)
        for (int s = T; s < Tp; s++) xT[(size_t)c * Tp + s] = 0.0f;
}

/* Per sequence: its path's keys gathered transposed (per head a (hd, Tp) block), its values as
 * rows; then each own position is one attention_query over keys 0..t for all heads: the masked
 * half of the score matrix is never computed, nor a row another sequence owns. This is unit `unit`
 * of attention_forward: sequences unit * ATTN_SEQ_CHUNK onward, in order. */
static void attention_forward_unit(float *out, float *att, float *scratch, const float *qkv, const SeqLayout *sl,
                                   int C, int NH, int unit)
{
    const int hd = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t U = attn_scratch_offset(sl, sl->B, C);
    const int b1 = (unit + 1) * ATTN_SEQ_CHUNK < sl->B ? (unit + 1) * ATTN_SEQ_CHUNK : sl->B;
    for (int b = unit * ATTN_SEQ_CHUNK, prev = -1; b < b1; b++) {
        const int *path = sl->path + sl->path_off[b], T = sl->path_off[b + 1] - sl->path_off[b], o = sl->own[b];
        if (o >= T) continue;
        const int Tp = attn_keys_padded(T);
        gather_path(scratch, U, sl, b, prev, 1, 2, qkv, C);
        prev = b;
        const float *kT = scratch + attn_scratch_offset(sl, b, C), *vr = kT + U;
        float *p = att + sl->att[b];
        const size_t ldp = (size_t)(T - o) * Tp;
        for (int t = o; t < T; t++) {
            const int r = path[t];
            float *pt = p + (size_t)(t - o) * Tp;
            attention_query(out + (size_t)r * C, pt, ldp, qkv + (size_t)r * C3, kT, Tp, ATTN_KEY_BLOCK,
                            (size_t)hd * Tp, vr, C, t + 1, NH, hd, scale);
            for (int h = 0; h < NH; h++)
                for (int s = attn_keys_padded(t + 1); s < Tp; s++) pt[(size_t)h * ldp + s] = 0.0f;
        }
    }
}

void attention_forward(float *out, float *att, float *scratch, const float *qkv, const SeqLayout *sl, int C, int NH)
{
    const int n_units = (sl->B + ATTN_SEQ_CHUNK - 1) / ATTN_SEQ_CHUNK;
    if (par_team(attn_work(sl, C) >= PAR_MIN_MACS)) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int unit = 0; unit < n_units; unit++) attention_forward_unit(out, att, scratch, qkv, sl, C, NH, unit);
    } else {
        for (int unit = 0; unit < n_units; unit++) attention_forward_unit(out, att, scratch, qkv, sl, C, NH, unit);
    }
}

/* Pass 1, per sequence, position by position over its own positions, keys 0..t only (in blocks of
 * ATTN_KEY_BLOCK; p and hence ds are 0 past t), each step for all heads (phase by phase, as in
 * attention_query):
 *   dp_s = dy_t . v_s, ds_s = p_s (dp_s - sum_s' p_s' dp_s') / sqrt(hd), dq_t = sum_s ds_s k_s,
 *   and dk_s += ds_s q_t, dv_s += p_s dy_t accumulated per position of the sequence's path.
 * Pass 2 adds every sequence's dk, dv into the rows of its path, sequence by sequence, split over
 * column tiles (so no two threads write one row's channel, and each sum has a fixed order). */
enum { ATTN_MAX_HEADS = 256, ATTN_COLS = 16 }; /* model_config_check's limit; one cache line of floats */

/* Pass 1 of attention_backward for unit `unit`: sequences unit * ATTN_SEQ_CHUNK onward, in order. */
static void attention_backward_unit(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                    const float *att, const SeqLayout *sl, int C, int NH, int unit)
{
    const int hd = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t U = attn_scratch_offset(sl, sl->B, C);
    const int b1 = (unit + 1) * ATTN_SEQ_CHUNK < sl->B ? (unit + 1) * ATTN_SEQ_CHUNK : sl->B;
    for (int b = unit * ATTN_SEQ_CHUNK, prev = -1; b < b1; b++) {
        const int *path = sl->path + sl->path_off[b], T = sl->path_off[b + 1] - sl->path_off[b], o = sl->own[b];
        if (o >= T) continue;
        const int Tp = attn_keys_padded(T);
        const size_t off = attn_scratch_offset(sl, b, C), hs = (size_t)hd * Tp;
        /* vT: per head h a (hd, Tp) block at h*hs; kr: the path's keys as rows; dk, dv: (T, C)
         * rows; ds: one row of Tp per head. */
        float *vT = scratch + off, *kr = vT + U, *dk = kr + U, *dv = dk + U, *ds = dv + U;
        gather_path(scratch, U, sl, b, prev, 2, 1, qkv, C);
        prev = b;
        const float *p = att + sl->att[b];
        const size_t ps = (size_t)(T - o) * Tp;
        float pdp[ATTN_MAX_HEADS];
        for (int t = o; t < T; t++) {
            const int nb = attn_keys_padded(t + 1), r = path[t];
            const float *dy = dout + (size_t)r * C, *qt = qkv + (size_t)r * C3, *pt = p + (size_t)(t - o) * Tp;
            for (int h = 0; h < NH; h++)
                scores_transposed(ds + (size_t)h * Tp, dy + h * hd, vT + h * hs, Tp, ATTN_KEY_BLOCK, nb, hd, 1.0f);
            for (int h = 0; h < NH; h++) pdp[h] = dot_lanes(pt + h * ps, ds + (size_t)h * Tp, nb);
            for (int h = 0; h < NH; h++) {
                const float *restrict pr = pt + h * ps;
                float *restrict dsh = ds + (size_t)h * Tp;
                const float c = pdp[h];
#pragma omp simd
                for (int s = 0; s < nb; s++) dsh[s] = pr[s] * (dsh[s] - c) * scale;
            }
            /* dk_s += ds_s q_t, dv_s += p_s dy_t over keys 0..t, a head's channels as one vector;
             * the first query to reach key s (the first own position, or s itself) starts its
             * sums (no zeroing pass). */
            for (int s = 0; s <= t; s++) {
                const int first = t == (s < o ? o : s);
                for (int h = 0; h < NH; h++) {
                    float *restrict dkr = dk + (size_t)s * C + h * hd, *restrict dvr = dv + (size_t)s * C + h * hd;
                    const float *restrict qh = qt + h * hd, *restrict dyh = dy + h * hd;
                    const float dss = ds[(size_t)h * Tp + s], ps_ = pt[h * ps + s];
                    if (first) {
#pragma omp simd
                        for (int i = 0; i < hd; i++) {
                            dkr[i] = dss * qh[i];
                            dvr[i] = ps_ * dyh[i];
                        }
                    } else {
#pragma omp simd
                        for (int i = 0; i < hd; i++) {
                            dkr[i] = fmaf(dss, qh[i], dkr[i]);
                            dvr[i] = fmaf(ps_, dyh[i], dvr[i]);
                        }
                    }
                }
            }
            for (int h = 0; h < NH; h++)
                weighted_rows(dqkv + (size_t)r * C3 + h * hd, ds + (size_t)h * Tp, kr + h * hd, C, t + 1, hd);

        }
    }
}

/* Pass 2 of attention_backward for column tile `tile`: tiles of whole cache lines within the k
 * part, then within the v part. */
static void attention_backward_tile(float *dqkv, const float *scratch, const SeqLayout *sl, int C, int tile)
{
    const int COLS = ATTN_COLS, C3 = 3 * C, tiles_half = (C + COLS - 1) / COLS, N = sl->n_rows;
    const size_t U = attn_scratch_offset(sl, sl->B, C);
    const int part = tile / tiles_half, c0 = tile % tiles_half * COLS, w = C - c0 < COLS ? C - c0 : COLS;
    for (int r = 0; r < N; r++)
        memset(dqkv + (size_t)r * C3 + (size_t)(1 + part) * C + c0, 0, (size_t)w * sizeof(float));
    for (int b = 0; b < sl->B; b++) {
        const int *path = sl->path + sl->path_off[b], T = sl->path_off[b + 1] - sl->path_off[b];
        if (sl->own[b] >= T) continue; /* no query of its own: adds nothing */
        const float *src = scratch + attn_scratch_offset(sl, b, C) + (size_t)(2 + part) * U + c0;
        for (int s = 0; s < T; s++) {
            float *restrict dst = dqkv + (size_t)path[s] * C3 + (size_t)(1 + part) * C + c0;
            const float *restrict from = src + (size_t)s * C;
#pragma omp simd
            for (int c = 0; c < w; c++) dst[c] += from[c];
        }
    }
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                        const SeqLayout *sl, int C, int NH)
{
    const int n_units = (sl->B + ATTN_SEQ_CHUNK - 1) / ATTN_SEQ_CHUNK;
    const int n_tiles = 2 * ((C + ATTN_COLS - 1) / ATTN_COLS);
    if (par_team(attn_work(sl, C) >= PAR_MIN_MACS)) {
#pragma omp parallel
        {
#pragma omp for schedule(dynamic, 1)
            for (int unit = 0; unit < n_units; unit++)
                attention_backward_unit(dqkv, scratch, dout, qkv, att, sl, C, NH, unit);
#pragma omp for schedule(static)
            for (int tile = 0; tile < n_tiles; tile++) attention_backward_tile(dqkv, scratch, sl, C, tile);
        }
    } else {
        for (int unit = 0; unit < n_units; unit++)
            attention_backward_unit(dqkv, scratch, dout, qkv, att, sl, C, NH, unit);
        for (int tile = 0; tile < n_tiles; tile++) attention_backward_tile(dqkv, scratch, sl, C, tile);
    }
}

static void logsoftmax_row(float *probs, float *zmax, float *logsum, float *entropy, const float *logits,
                           float temperature, int n, int V)
{
    const float *restrict l = logits + (size_t)n * V;
    float *restrict p = probs + (size_t)n * V;
#pragma omp simd
    for (int v = 0; v < V; v++) p[v] = l[v] / temperature; /* p holds z = logits / temperature for now */
    const float mx = max_lanes(p, V);
#pragma omp simd
    for (int v = 0; v < V; v++) p[v] = fast_expf(p[v] - mx);
    /* Entropy = log S - sum_v e_v (z_v - max) / S, with e_v = exp(z_v - max), S = sum_v e_v;
     * z_v - max recomputed exactly as above. */
    float acc[16] = {0}, sum_ez = 0.0f;
    int v = 0;
    for (; v + 16 <= V; v += 16)
        for (int j = 0; j < 16; j++) acc[j] += p[v + j] * (l[v + j] / temperature - mx);
    sum_ez = reduce16(acc);
    for (; v < V; v++) sum_ez += p[v] * (l[v] / temperature - mx);
    const float S = sum_lanes(p, V), logS = logf(S), inv = 1.0f / S;
#pragma omp simd
    for (int v = 0; v < V; v++) p[v] *= inv;
    zmax[n] = mx;
    logsum[n] = logS;
    if (entropy) entropy[n] = logS - sum_ez * inv;
}

void logsoftmax_forward(float *probs, float *zmax, float *logsum, float *entropy, const float *logits,
                        const int *scored, float temperature, int N, int V)
{
    if (par_team((size_t)N * V >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++)
            if (scored[n]) logsoftmax_row(probs, zmax, logsum, entropy, logits, temperature, n, V);
    } else {
        for (int n = 0; n < N; n++)
            if (scored[n]) logsoftmax_row(probs, zmax, logsum, entropy, logits, temperature, n, V);
    }
}

static void logsoftmax_backward_row(float *dlogits, const float *probs, const int *scored, const float *gsum, int n,
                                    int V)
{
    float *d = dlogits + (size_t)n * V;
    if (!scored[n]) {
        memset(d, 0, (size_t)V * sizeof *d);
        return;
    }
    const float *p = probs + (size_t)n * V;
    const float g = gsum[n];
#pragma omp simd
    for (int v = 0; v < V; v++) d[v] = -g * p[v];
}

void logsoftmax_backward(float *dlogits, const float *probs, const int *scored, const float *gsum, int N, int V)
{
    if (par_team((size_t)N * V >= PAR_MIN_ELEMS)) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) logsoftmax_backward_row(dlogits, probs, scored, gsum, n, V);
    } else {
        for (int n = 0; n < N; n++) logsoftmax_backward_row(dlogits, probs, scored, gsum, n, V);
    }
}
