/* Every kernel of models/layers.h alone, in the spirit of ggml's test-backend-ops: each forward
 * against a plain double-precision reference written here from the contract in layers.h, each
 * backward against central finite differences of that reference, on odd shapes (widths that are
 * not multiples of the 16-float lanes or key blocks, a single row, T = 1, one head, a sequence
 * with no position of its own).
 *
 * Errors are measured in ulps (FLT_EPSILON) of a magnitude that says how large the float rounding
 * can be, and each bound gives its reason:
 *  - matmul goes through OpenBLAS, whose kernels differ by processor, so its bounds hold for ANY
 *    order of summation: a sum of n products is off by at most gamma_n = n u / (1 - n u) times the
 *    sum of their absolute values (u = FLT_EPSILON / 2: the classical bound for recursive
 *    summation, any association, with or without fused multiply-adds), checked per element as
 *    n/2 ulps (plus 1%) of that sum;
 *  - every other kernel is this repository's own code, which rounds the same under every OpenBLAS
 *    kernel set; its bound is the worst measured here times a margin, stated beside it, far below
 *    what a wrong index or formula moves (O(1) of the magnitude).
 * Finite differences run on the double reference (step 1e-5: truncation ~1e-10 relative, far
 * below a float ulp), so a backward is compared with the exact derivative of the function its
 * forward computes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <stdint.h>

#include "models/bigbuf.h"
#include "models/layers.h"
#include "models/rng.h"
#include "tests/test.h"

#define FD_STEP 1e-5

/* Bounds of the kernels that are this repository's code, in ulps of the magnitude each test
 * names: 4-8x the worst measured (in brackets), since a change to a kernel's order of operations
 * moves its rounding by small factors; a wrong index or formula is off by O(1), millions of ulps.
 * fast_expf's is its contract in layers.h ("about 2 ulp"). */
#define EXP_ULPS 2.0            /* [0.80] */
#define LAYERNORM_ULPS 8.0      /* [1.4] */
#define LAYERNORM_BWD_ULPS 8.0  /* [0.90] */
#define GELU_ULPS 4.0           /* [0.72] */
#define GELU_BWD_ULPS 4.0       /* [0.36] */
#define ATTN_ULPS 4.0           /* [0.69] */
#define ATTN_BWD_ULPS 4.0       /* [0.78] */
#define SOFTMAX_ULPS 4.0        /* [0.31] */
#define LOGP_ULPS 8.0           /* [1.9] */
#define ENTROPY_ULPS 32.0       /* [6.5] */
#define SOFTMAX_BWD_ULPS 4.0    /* [0.84] */

/* ---- helpers ---- */

/* Uniform in [lo, hi), keyed by (stream, i). */
static float uni(uint64_t stream, uint64_t i, double lo, double hi)
{
    return (float)(lo + (hi - lo) * rng_uniform(0x6b65726e, stream, 0, i));
}

static float *fill(size_t n, uint64_t stream, double lo, double hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) x[i] = uni(stream, i, lo, hi);
    return x;
}

static double *dalloc(size_t n)
{
    double *x = calloc(n ? n : 1, sizeof *x);
    if (!x) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    return x;
}

static double *to_double(const float *x, size_t n)
{
    double *d = dalloc(n);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* Largest |got - want| / (FLT_EPSILON * mag), over n values; mag NULL: a single magnitude mag0
 * for all. NaN counts as infinitely far. */
static double ulps_off(const float *got, const double *want, const double *mag, double mag0, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double m = mag ? mag[i] : mag0, d = fabs((double)got[i] - want[i]) / (FLT_EPSILON * (m > 0 ? m : 1e-300));
        worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
    }
    return worst;
}

static double max_abs(const double *x, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* A scalar loss of a kernel's double reference, as a function of the inputs held in ctx. */
typedef double (*LossFn)(const void *ctx);

/* Central differences of loss with respect to each of x[0..n-1] (a double input inside ctx). */
static void finite_diff(LossFn loss, const void *ctx, double *x, size_t n, double *grad)
{
    for (size_t i = 0; i < n; i++) {
        const double keep = x[i];
        x[i] = keep + FD_STEP;
        const double up = loss(ctx);
        x[i] = keep - FD_STEP;
        const double down = loss(ctx);
        x[i] = keep;
        grad[i] = (up - down) / (2.0 * FD_STEP);
    }
}

/* gamma_n in ulps: n/2 (u = FLT_EPSILON / 2), plus 1% for the 1 / (1 - n u) factor and the
 * rounding of the reference's magnitude. */
static double gamma_ulps(int n)
{
    return 0.5 * n * 1.01;
}

/* ---- bf16_round: bit-exact round to nearest even on 8 significant bits ---- */

/* The bfloat16 nearest to x (ties to even), by arithmetic: bf16 keeps float's exponent range and
 * 8 significant bits, so its quantum is 2^(e - 7) for |x| in [2^e, 2^(e+1)) and 2^-133 among the
 * subnormals; past the largest bf16 it overflows to infinity. */
static float bf16_reference(float x)
{
    if (isnan(x) || isinf(x) || x == 0.0f) return x;
    const double ax = fabs((double)x);
    const double quantum = ax < 0x1p-126 ? 0x1p-133 : ldexp(1.0, (int)floor(log2(ax)) - 7);
    const double r = nearbyint((double)x / quantum) * quantum; /* ties to even: the default mode */
    return fabs(r) > FLT_MAX ? (float)copysign(INFINITY, r) : (float)r;
}

static void test_bf16_round(void)
{
    enum { N = 4096 + 12, ODD = 37 };
    static float in[N], out[N];
    int k = 0;
    const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, FLT_MIN,
                              0x1p-140f /* subnormal */, 1.0f + 0x1p-8f /* a tie, to the even 1.0 */,
                              1.0f + 3 * 0x1p-8f /* a tie, to the even 1 + 2^-6 */};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) in[k++] = specials[i];
    while (k < N) {
        const uint32_t bits = (uint32_t)rng_u64(0x62663136, 0, 0, (uint64_t)k);
        /* one in four a tie: the lower 16 bits exactly half a bf16 step */
        const uint32_t b = k % 4 ? bits : (bits & 0xffff0000u) | 0x8000u;
        memcpy(&in[k++], &b, sizeof b);
    }
    int bad = 0, first = -1;
    for (int i = 0; i < N; i++) {
        out[i] = bf16_round(in[i]);
        const float want = bf16_reference(in[i]);
        const int ok = isnan(in[i]) ? isnan(out[i]) : memcmp(&out[i], &want, sizeof want) == 0;
        if (!ok && first < 0) first = i;
        bad += !ok;
    }
    CHECK(bad == 0, "bf16_round_nearest_even", "%d of %d differ from the reference; first: %a -> %a, want %a", bad, N,
          first < 0 ? 0.0 : (double)in[first], first < 0 ? 0.0 : (double)out[first],
          first < 0 ? 0.0 : (double)bf16_reference(in[first]));
    bf16_round_array(out, in + 100, ODD);
    int same = 1;
    for (int i = 0; i < ODD; i++) same &= isnan(in[100 + i]) ? isnan(out[i]) : out[i] == bf16_round(in[100 + i]);
    CHECK(same, "bf16_round_array_elementwise", "bf16_round_array of %d values differs from bf16_round", ODD);
}

/* ---- fast_expf ---- */

static void test_fast_expf(void)
{
    /* Relative error against exp in double over the whole unclamped range, on a grid and at
     * random points. The polynomial's truncation is below 6e-9 relative; the rest is float
     * rounding of the argument reduction and of the Horner steps. */
    double worst = 0.0;
    for (int i = 0; i <= 200000; i++) {
        const float x = i < 100000 ? -87.0f + 175.0f * (float)i / 100000.0f : uni(1, (uint64_t)i, -87.0, 88.0);
        const double e = exp((double)x), d = fabs((double)fast_expf(x) - e) / (FLT_EPSILON * e);
        worst = d > worst || isnan(d) ? d : worst;
    }
    CHECK_TOL(worst, EXP_ULPS, "fast_expf_relative_ulps", "max relative error %.3g ulps", worst);
    CHECK(fast_expf(-1000.0f) == fast_expf(-87.0f) && fast_expf(1000.0f) == fast_expf(88.0f) &&
              fast_expf(-INFINITY) == fast_expf(-87.0f) && fast_expf(0.0f) == 1.0f,
          "fast_expf_clamps", "outside [-87, 88] the value at the end, exp(0) = 1: got %g %g %g", (double)fast_expf(-1000.0f),
          (double)fast_expf(1000.0f), (double)fast_expf(0.0f));
}

/* ---- embedding ---- */

typedef struct {
    int N, T, C;
    const int *tok, *pos;
    const double *te, *pe, *w; /* tok_emb (V, C), pos_emb (P, C), loss weights (N, C) */
} EmbedCtx;

static double embed_loss(const void *p)
{
    const EmbedCtx *c = p;
    double L = 0.0;
    for (int n = 0; n < c->N; n++) {
        const int ps = c->pos ? c->pos[n] : n % c->T;
        for (int j = 0; j < c->C; j++)
            L += c->w[(size_t)n * c->C + j] * (c->te[(size_t)c->tok[n] * c->C + j] + c->pe[(size_t)ps * c->C + j]);
    }
    return L;
}

static void test_embed(void)
{
    enum { V = 5, P = 6, N = 11, T = 4, C = 7 };
    const int tok[N] = {3, 0, 4, 4, 1, 3, 2, 0, 4, 1, 3}, pos[N] = {5, 0, 1, 1, 2, 3, 4, 0, 5, 2, 1};
    float *te = fill(V * C, 10, -1, 1), *pe = fill(P * C, 11, -1, 1), *out = fill(N * C, 12, 0, 0);
    for (int with_pos = 0; with_pos < 2; with_pos++) {
        const int *ps = with_pos ? pos : NULL;
        embed_forward(out, tok, ps, te, pe, N, T, C);
        int exact = 1;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < C; j++)
                exact &= out[n * C + j] == te[tok[n] * C + j] + pe[(ps ? ps[n] : n % T) * C + j];
        /* One float addition per element: exactly the float sum. */
        CHECK(exact, with_pos ? "embed_forward_positions_given" : "embed_forward_positions_n_mod_T",
              "an element is not tok_emb[token] + pos_emb[position]");

        /* Backward: rows add into the embedding rows they were read from, onto what is there. */
        float *dout = fill(N * C, 13, -1, 1), *dte = fill(V * C, 14, -1, 1), *dpe = fill(P * C, 15, -1, 1);
        double *d_te = to_double(te, V * C), *d_pe = to_double(pe, P * C), *d_w = to_double(dout, N * C);
        double *g_te = dalloc(V * C), *g_pe = dalloc(P * C), *m_te = dalloc(V * C), *m_pe = dalloc(P * C);
        double *w_te = dalloc(V * C), *w_pe = dalloc(P * C);
        int terms = 1;
        for (int i = 0; i < V * C; i++) m_te[i] = fabs(dte[i]);
        for (int i = 0; i < P * C; i++) m_pe[i] = fabs(dpe[i]);
        for (int n = 0; n < N; n++)
            for (int j = 0; j < C; j++) {
                m_te[tok[n] * C + j] += fabs(dout[n * C + j]);
                m_pe[(ps ? ps[n] : n % T) * C + j] += fabs(dout[n * C + j]);
            }
        for (int v = 0; v < V; v++) {
            int k = 1;
            for (int n = 0; n < N; n++) k += tok[n] == v;
            terms = k > terms ? k : terms;
        }
        const EmbedCtx ctx = {N, T, C, tok, ps, d_te, d_pe, d_w};
        finite_diff(embed_loss, &ctx, d_te, V * C, g_te);
        finite_diff(embed_loss, &ctx, d_pe, P * C, g_pe);
        for (int i = 0; i < V * C; i++) w_te[i] = dte[i] + g_te[i];
        for (int i = 0; i < P * C; i++) w_pe[i] = dpe[i] + g_pe[i];
        embed_backward(dte, dpe, dout, tok, ps, N, T, C);
        /* A sum of the initial value and at most `terms` rows (N for positions), in any order:
         * gamma of that count, per element, of the sum of absolute values. */
        const double e_te = ulps_off(dte, w_te, m_te, 0, V * C), e_pe = ulps_off(dpe, w_pe, m_pe, 0, P * C);
        CHECK_TOL(e_te / gamma_ulps(terms), 1.0, with_pos ? "embed_backward_tok_positions_given" : "embed_backward_tok",
                  "%.3g ulps of the sum of |terms|, over gamma_%d", e_te, terms);
        CHECK_TOL(e_pe / gamma_ulps(N + 1), 1.0, with_pos ? "embed_backward_pos_positions_given" : "embed_backward_pos",
                  "%.3g ulps of the sum of |terms|, over gamma_%d", e_pe, N + 1);
        free(dout);
        free(dte);
        free(dpe);
        free(d_te);
        free(d_pe);
        free(d_w);
        free(g_te);
        free(g_pe);
        free(m_te);
        free(m_pe);
        free(w_te);
        free(w_pe);
    }
    free(te);
    free(pe);
    free(out);
}

/* ---- layer norm ---- */

typedef struct {
    int N, C;
    const double *x, *g, *b, *w;
} LnCtx;

/* out = (x - mean) / sqrt(var + eps) * g + b per row, in double; mean, rstd may be NULL. */
static void layernorm_ref(const LnCtx *c, double *out, double *mean, double *rstd)
{
    for (int n = 0; n < c->N; n++) {
        const double *x = c->x + (size_t)n * c->C;
        double m = 0.0, v = 0.0;
        for (int j = 0; j < c->C; j++) m += x[j];
        m /= c->C;
        for (int j = 0; j < c->C; j++) v += (x[j] - m) * (x[j] - m);
        const double s = 1.0 / sqrt(v / c->C + (double)LN_EPS);
        for (int j = 0; j < c->C; j++) out[(size_t)n * c->C + j] = (x[j] - m) * s * c->g[j] + c->b[j];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

static double layernorm_loss(const void *p)
{
    const LnCtx *c = p;
    double *out = dalloc((size_t)c->N * c->C), L = 0.0;
    layernorm_ref(c, out, NULL, NULL);
    for (size_t i = 0; i < (size_t)c->N * c->C; i++) L += c->w[i] * out[i];
    free(out);
    return L;
}

static void test_layernorm(int N, int C)
{
    char name[96];
    const size_t NC = (size_t)N * C;
    float *x = fill(NC, 20, -2, 3), *g = fill(C, 21, 0.5, 1.5), *b = fill(C, 22, -0.5, 0.5);
    float *out = fill(NC, 0, 0, 0), *mean = fill(N, 0, 0, 0), *rstd = fill(N, 0, 0, 0);
    double *dx = to_double(x, NC), *dg = to_double(g, C), *db = to_double(b, C);
    float *dout = fill(NC, 23, -1, 1);
    double *dw = to_double(dout, NC), *ref = dalloc(NC), *rmean = dalloc(N), *rrstd = dalloc(N);
    LnCtx ctx = {N, C, dx, dg, db, dw};
    layernorm_ref(&ctx, ref, rmean, rrstd);
    layernorm_forward(out, mean, rstd, x, g, b, N, C);
    /* Magnitude: |xhat g| + |b| per element, where xhat = (x - mean) rstd carries the rounding of
     * the mean and of the variance's sum (C terms each, 16 lanes then a tree). */
    double *mag = dalloc(NC), worst_stat = 0.0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < C; j++)
            mag[(size_t)n * C + j] = fabs((dx[(size_t)n * C + j] - rmean[n]) * rrstd[n] * dg[j]) + fabs(db[j]) + 1e-30;
    for (int n = 0; n < N; n++) {
        double sx = 0.0;
        for (int j = 0; j < C; j++) sx += fabs(dx[(size_t)n * C + j]);
        worst_stat = fmax(worst_stat, fabs(mean[n] - rmean[n]) / (FLT_EPSILON * sx / C));
        worst_stat = fmax(worst_stat, fabs(rstd[n] - rrstd[n]) / (FLT_EPSILON * rrstd[n]));
    }
    const double e = ulps_off(out, ref, mag, 0, NC);
    snprintf(name, sizeof name, "layernorm_forward_%dx%d", N, C);
    CHECK_TOL(e, LAYERNORM_ULPS, name, "%.3g ulps of |xhat g| + |b|", e);
    snprintf(name, sizeof name, "layernorm_forward_mean_rstd_%dx%d", N, C);
    CHECK_TOL(worst_stat, LAYERNORM_ULPS, name, "mean or rstd off by %.3g ulps (of mean |x|, of rstd)", worst_stat);
    /* mean and rstd may be NULL (no backward to follow): the output is the same. */
    float *out2 = fill(NC, 0, 0, 0);
    layernorm_forward(out2, NULL, NULL, x, g, b, N, C);
    snprintf(name, sizeof name, "layernorm_forward_without_stats_%dx%d", N, C);
    CHECK(memcmp(out, out2, NC * sizeof *out) == 0, name, "the output changed with mean, rstd NULL");

    /* Backward: dinp, dg and db all accumulate onto what they hold. */
    float *dinp = fill(NC, 24, -1, 1), *dgk = fill(C, 25, -1, 1), *dbk = fill(C, 26, -1, 1);
    double *fx = dalloc(NC), *fg = dalloc(C), *fb = dalloc(C);
    finite_diff(layernorm_loss, &ctx, dx, NC, fx);
    finite_diff(layernorm_loss, &ctx, dg, C, fg);
    finite_diff(layernorm_loss, &ctx, db, C, fb);
    for (size_t i = 0; i < NC; i++) fx[i] += dinp[i];
    for (int j = 0; j < C; j++) {
        fg[j] += dgk[j];
        fb[j] += dbk[j];
    }
    layernorm_backward(dinp, dgk, dbk, dout, x, g, mean, rstd, N, C);
    /* In ulps of each gradient's largest value: the input gradient is a difference of row sums
     * (C terms), the gain and bias gradients sums over the N rows. */
    const double ex = ulps_off(dinp, fx, NULL, max_abs(fx, NC), NC), eg = ulps_off(dgk, fg, NULL, max_abs(fg, C), C),
                 eb = ulps_off(dbk, fb, NULL, max_abs(fb, C), C);
    snprintf(name, sizeof name, "layernorm_backward_%dx%d", N, C);
    CHECK_TOL(fmax(ex, fmax(eg, eb)), LAYERNORM_BWD_ULPS, name,
              "dinp %.3g, dg %.3g, db %.3g ulps of each one's largest value", ex, eg, eb);
    free(x);
    free(g);
    free(b);
    free(out);
    free(out2);
    free(mean);
    free(rstd);
    free(dx);
    free(dg);
    free(db);
    free(dout);
    free(dw);
    free(ref);
    free(rmean);
    free(rrstd);
    free(mag);
    free(dinp);
    free(dgk);
    free(dbk);
    free(fx);
    free(fg);
    free(fb);
}

/* ---- matmul ---- */

typedef struct {
    int N, IN, OUT;
    const double *x, *w, *b, *loss_w; /* b may be NULL */
} MmCtx;

static double matmul_loss(const void *p)
{
    const MmCtx *c = p;
    double L = 0.0;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OUT; o++) {
            double s = c->b ? c->b[o] : 0.0;
            for (int i = 0; i < c->IN; i++) s += c->x[(size_t)n * c->IN + i] * c->w[(size_t)o * c->IN + i];
            L += c->loss_w[(size_t)n * c->OUT + o] * s;
        }
    return L;
}

/* One shape: forward (untiled, tiled by rt, without bias, bf16-emulated) against the reference,
 * backward (dinp, dw, db; dinp may be skipped) against finite differences, FP32 and bf16. */
static void test_matmul(int N, int IN, int OUT, int rt)
{
    char name[96];
    const size_t NI = (size_t)N * IN, OI = (size_t)OUT * IN, NO = (size_t)N * OUT;
    float *x = fill(NI, 30, -1, 1), *w = fill(OI, 31, -1, 1), *b = fill(OUT, 32, -1, 1), *out = fill(NO, 0, 0, 0);
    float *bf_inp = fill(NI, 0, 0, 0), *bf_w = fill(OI, 0, 0, 0);
    float *xr = fill(NI, 0, 0, 0), *wr = fill(OI, 0, 0, 0);
    bf16_round_array(xr, x, NI);
    bf16_round_array(wr, w, OI);
    double *ref = dalloc(NO), *mag = dalloc(NO);
    for (int bf = 0; bf < 2; bf++) {
        const float *xs = bf ? xr : x, *ws = bf ? wr : w; /* the reference's operands */
        const Bf16Scratch scratch = {bf_inp, bf_w}, *bfp = bf ? &scratch : NULL;
        for (int variant = 0; variant < 3; variant++) { /* untiled, tiled by rt, no bias */
            const float *bias = variant == 2 ? NULL : b;
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OUT; o++) {
                    double s = bias ? bias[o] : 0.0, m = bias ? fabs(bias[o]) : 0.0;
                    for (int i = 0; i < IN; i++) {
                        s += (double)xs[(size_t)n * IN + i] * ws[(size_t)o * IN + i];
                        m += fabs((double)xs[(size_t)n * IN + i] * ws[(size_t)o * IN + i]);
                    }
                    ref[(size_t)n * OUT + o] = s;
                    mag[(size_t)n * OUT + o] = m;
                }
            if (variant == 1) matmul_forward_tiled(out, x, w, bias, N, IN, OUT, bfp, rt);
            else matmul_forward(out, x, w, bias, N, IN, OUT, bfp);
            /* IN products and the bias: gamma_{IN+1} of the sum of their absolute values, per
             * element, whatever order OpenBLAS's kernels sum in. bf16 operands multiply exactly
             * in float (8 + 8 significant bits), so the same bound holds. */
            const double e = ulps_off(out, ref, mag, 0, NO) / gamma_ulps(IN + 1);
            snprintf(name, sizeof name, "matmul_forward_%s%s_%dx%dx%d", bf ? "bf16_" : "",
                     variant == 0 ? "" : variant == 1 ? "tiled_" : "nobias_", N, IN, OUT);
            CHECK_TOL(e, 1.0, name, "off by %.3g times gamma_%d of the sum of |terms|", e, IN + 1);
        }

        /* Backward with loss weights dout: dinp = dout w (written), dw += dout^T x, db += column
         * sums of dout, onto random values already there. */
        float *dout = fill(NO, 33, -1, 1), *dinp = fill(NI, 0, 0, 0), *dw = fill(OI, 34, -1, 1), *db = fill(OUT, 35, -1, 1);
        double *d_x = to_double(xs, NI), *d_w = to_double(ws, OI), *d_b = to_double(b, OUT), *d_l = to_double(dout, NO);
        double *fx = dalloc(NI), *fw = dalloc(OI), *fb = dalloc(OUT), *mx = dalloc(NI), *mw = dalloc(OI), *mb = dalloc(OUT);
        const MmCtx ctx = {N, IN, OUT, d_x, d_w, d_b, d_l};
        finite_diff(matmul_loss, &ctx, d_x, NI, fx);
        finite_diff(matmul_loss, &ctx, d_w, OI, fw);
        finite_diff(matmul_loss, &ctx, d_b, OUT, fb);
        for (size_t i = 0; i < OI; i++) {
            fw[i] += dw[i];
            mw[i] = fabs(dw[i]);
        }
        for (int o = 0; o < OUT; o++) {
            fb[o] += db[o];
            mb[o] = fabs(db[o]);
        }
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++) {
                const double d = dout[(size_t)n * OUT + o];
                mb[o] += fabs(d);
                for (int i = 0; i < IN; i++) {
                    mx[(size_t)n * IN + i] += fabs(d * ws[(size_t)o * IN + i]);
                    mw[(size_t)o * IN + i] += fabs(d * xs[(size_t)n * IN + i]);
                }
            }
        matmul_backward(dinp, dw, db, dout, x, w, N, IN, OUT, bfp);
        /* dinp: OUT products per element; dw and db: N products (sums) plus what was there. */
        const double ex = ulps_off(dinp, fx, mx, 0, NI) / gamma_ulps(OUT), ew = ulps_off(dw, fw, mw, 0, OI) / gamma_ulps(N + 1),
                     eb = ulps_off(db, fb, mb, 0, OUT) / gamma_ulps(N + 1);
        snprintf(name, sizeof name, "matmul_backward_%s%dx%dx%d", bf ? "bf16_" : "", N, IN, OUT);
        CHECK_TOL(fmax(ex, fmax(ew, eb)), 1.0, name,
                  "dinp, dw, db off by %.3g, %.3g, %.3g times gamma_n of the sum of |terms|", ex, ew, eb);
        /* dinp and db may be NULL: dw is the same. */
        float *dw2 = fill(OI, 34, -1, 1);
        matmul_backward(NULL, dw2, NULL, dout, x, w, N, IN, OUT, bfp);
        snprintf(name, sizeof name, "matmul_backward_%sdw_only_%dx%dx%d", bf ? "bf16_" : "", N, IN, OUT);
        CHECK(memcmp(dw, dw2, OI * sizeof *dw) == 0, name, "dw changed when dinp and db were not asked for");
        free(dw2);
        free(dout);
        free(dinp);
        free(dw);
        free(db);
        free(d_x);
        free(d_w);
        free(d_b);
        free(d_l);
        free(fx);
        free(fw);
        free(fb);
        free(mx);
        free(mw);
        free(mb);
    }
    free(x);
    free(w);
    free(b);
    free(out);
    free(bf_inp);
    free(bf_w);
    free(xr);
    free(wr);
    free(ref);
    free(mag);
}

/* ---- GELU and the residual ---- */

static double gelu_ref(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

typedef struct {
    size_t n;
    const double *x, *w;
} EltCtx;

static double gelu_loss(const void *p)
{
    const EltCtx *c = p;
    double L = 0.0;
    for (size_t i = 0; i < c->n; i++) L += c->w[i] * gelu_ref(c->x[i]);
    return L;
}

static void test_gelu(void)
{
    enum { N = 37 };
    float *x = fill(N, 40, -6, 6), *out = fill(N, 0, 0, 0), *dout = fill(N, 41, -1, 1), *dinp = fill(N, 0, 0, 0);
    x[0] = 0.0f;
    x[1] = -30.0f; /* far out: exp clamps, gelu -> -0 */
    double *dx = to_double(x, N), *dw = to_double(dout, N), *ref = dalloc(N), *mag = dalloc(N), *fd = dalloc(N);
    for (int i = 0; i < N; i++) {
        ref[i] = gelu_ref(dx[i]);
        mag[i] = fabs(dx[i]) + 1e-30; /* gelu(x) = x sigmoid(u): rounding relative to |x| */
    }
    float *denom = fill(N, 0, 0, 0), *out2 = fill(N, 0, 0, 0);
    gelu_forward(out, denom, x, N);
    /* x times a sigmoid from fast_expf (a few ulps), u from a cubic: in ulps of |x|. */
    const double e = ulps_off(out, ref, mag, 0, N);
    CHECK_TOL(e, GELU_ULPS, "gelu_forward", "%.3g ulps of |x|", e);
    /* Without the denominators kept (the decode's call), the same values. */
    gelu_forward(out2, NULL, x, N);
    CHECK(memcmp(out, out2, N * sizeof *out) == 0, "gelu_forward_without_denominators",
          "an output differs from the call that keeps the denominators");
    const EltCtx ctx = {N, dx, dw};
    finite_diff(gelu_loss, &ctx, dx, N, fd);
    gelu_backward(dinp, x, denom, dout, N);
    /* gelu'(x) = s + x s (1 - s) u'(x): terms up to about 1 + x^2 in size, times dout. */
    for (int i = 0; i < N; i++) mag[i] = fabs(dw[i]) * (1.0 + dx[i] * dx[i]);
    const double eb = ulps_off(dinp, fd, mag, 0, N);
    CHECK_TOL(eb, GELU_BWD_ULPS, "gelu_backward", "%.3g ulps of |dout| (1 + x^2)", eb);
    /* The residual: one float addition per element, exact. */
    float *a = fill(N, 42, -1, 1), *r = fill(N, 0, 0, 0);
    residual_forward(r, a, x, N);
    int exact = 1;
    for (int i = 0; i < N; i++) exact &= r[i] == a[i] + x[i];
    CHECK(exact, "residual_forward", "an element is not a + b");
    free(x);
    free(out);
    free(out2);
    free(denom);
    free(dout);
    free(dinp);
    free(dx);
    free(dw);
    free(ref);
    free(mag);
    free(fd);
    free(a);
    free(r);
}

/* ---- attention ---- */

/* A causal attention problem in double: the rows of qkv (N, 3C), the sequences as paths of rows
 * (SeqLayout's path and path_off), loss weights on the output rows. */
typedef struct {
    int N, C, NH, B;
    const int *path, *path_off, *own;
    const double *qkv, *w;
} AttnCtx;

/* out[r] for every row owned by a sequence, p (if not NULL) in SeqLayout's att layout. */
static void attention_ref(const AttnCtx *c, double *out, double *p, const size_t *att)
{
    const int C = c->C, hd = C / c->NH;
    const double scale = 1.0 / sqrt((double)hd);
    double s[64];
    for (int b = 0; b < c->B; b++) {
        const int *path = c->path + c->path_off[b], T = c->path_off[b + 1] - c->path_off[b], Tp = attn_keys_padded(T);
        for (int t = c->own[b]; t < T; t++) {
            const double *q = c->qkv + (size_t)path[t] * 3 * C;
            for (int h = 0; h < c->NH; h++) {
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    const double *k = c->qkv + (size_t)path[j] * 3 * C + C;
                    s[j] = 0.0;
                    for (int i = 0; i < hd; i++) s[j] += q[h * hd + i] * k[h * hd + i];
                    s[j] *= scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j <= t; j++) sum += (s[j] = exp(s[j] - mx));
                for (int i = 0; i < hd; i++) {
                    double y = 0.0;
                    for (int j = 0; j <= t; j++) y += s[j] / sum * c->qkv[(size_t)path[j] * 3 * C + 2 * C + h * hd + i];
                    out[(size_t)path[t] * C + h * hd + i] = y;
                }
                if (p) {
                    double *ph = p + att[b] + (size_t)h * (T - c->own[b]) * Tp + (size_t)(t - c->own[b]) * Tp;
                    for (int j = 0; j < Tp; j++) ph[j] = j <= t ? s[j] / sum : 0.0;
                }
            }
        }
    }
}

static double attention_loss(const void *p)
{
    const AttnCtx *c = p;
    double *out = dalloc((size_t)c->N * c->C), L = 0.0;
    attention_ref(c, out, NULL, NULL);
    for (size_t i = 0; i < (size_t)c->N * c->C; i++) L += c->w[i] * out[i];
    free(out);
    return L;
}

/* Five sequences over shared rows: 0 is 9 positions of its own; 1 shares 0's first 4 rows, then
 * 15 of its own (19 keys: past one key block); 2 is one position (T = 1); 3 is a prefix of 0
 * with no position of its own; 4 is empty. */
static void test_attention(int C, int NH)
{
    enum { B = 5, NROWS = 9 + 15 + 1 };
    char name[96];
    const int path_off[B + 1] = {0, 9, 28, 29, 34, 34}, own[B] = {0, 4, 0, 5, 0};
    int path[34];
    for (int t = 0; t < 9; t++) path[t] = t;
    for (int t = 0; t < 19; t++) path[9 + t] = t < 4 ? t : 9 + (t - 4);
    path[28] = 24;
    for (int t = 0; t < 5; t++) path[29 + t] = t;
    size_t att[B + 1] = {0};
    for (int b = 0; b < B; b++) {
        const int T = path_off[b + 1] - path_off[b];
        att[b + 1] = att[b] + (size_t)NH * (T - own[b]) * attn_keys_padded(T);
    }
    const SeqLayout sl = {B, NROWS, path_off, path, own, att};
    const size_t N3 = (size_t)NROWS * 3 * C, NC = (size_t)NROWS * C;
    float *qkv = fill(N3, 50, -1.5, 1.5), *out = fill(NC, 0, 0, 0), *p = fill(att[B], 0, 7, 7); /* 7: stale */
    float *scratch = fill(attn_scratch_size(&sl, C), 0, 0, 0), *dout = fill(NC, 51, -1, 1), *dqkv = fill(N3, 0, 0, 0);
    double *d_qkv = to_double(qkv, N3), *d_w = to_double(dout, NC), *ref = dalloc(NC), *pref = dalloc(att[B]);
    const AttnCtx ctx = {NROWS, C, NH, B, path, path_off, own, d_qkv, d_w};
    attention_ref(&ctx, ref, pref, att);
    attention_forward(out, p, scratch, qkv, &sl, C, NH);
    /* Outputs in ulps of the largest |v|, probabilities in ulps of 1: the scores sum head_dim
     * products, the exponentials carry fast_expf's few ulps, the normalizing sum up to 19 terms.
     * Past each query's last key the probabilities must be exactly 0. */
    double vmax = 0.0;
    for (int r = 0; r < NROWS; r++)
        for (int i = 0; i < C; i++) vmax = fmax(vmax, fabs(d_qkv[(size_t)r * 3 * C + 2 * C + i]));
    const double e = ulps_off(out, ref, NULL, vmax, NC), ep = ulps_off(p, pref, NULL, 1.0, att[B]);
    int zeros = 1;
    for (size_t i = 0; i < att[B]; i++) zeros &= pref[i] != 0.0 || p[i] == 0.0f;
    snprintf(name, sizeof name, "attention_forward_C%d_heads%d", C, NH);
    CHECK_TOL(fmax(e, ep), ATTN_ULPS, name, "outputs %.3g ulps of max |v|, probabilities %.3g ulps", e, ep);
    snprintf(name, sizeof name, "attention_forward_masked_zero_C%d_heads%d", C, NH);
    CHECK(zeros, name, "a probability past the query's position is not 0");

    /* One query through attention_query alone, keys in a plain (head_dim, ld) matrix per head:
     * the last position of sequence 1 (19 keys). */
    {
        const int T = 19, Tp = attn_keys_padded(T), hd = C / NH, *pa = path + path_off[1];
        float *kT = fill((size_t)C * Tp, 0, 0, 0), *v = fill((size_t)T * C, 0, 0, 0), *y = fill(C, 0, 0, 0);
        float *pq = fill((size_t)NH * Tp, 0, 0, 0);
        for (int s = 0; s < T; s++)
            for (int c = 0; c < C; c++) {
                kT[(size_t)c * Tp + s] = qkv[(size_t)pa[s] * 3 * C + C + c];
                v[(size_t)s * C + c] = qkv[(size_t)pa[s] * 3 * C + 2 * C + c];
            }
        attention_query(y, pq, (size_t)Tp, qkv + (size_t)pa[T - 1] * 3 * C, kT, Tp, ATTN_KEY_BLOCK, (size_t)hd * Tp, v, C,
                        T, NH, hd, 1.0f / sqrtf((float)hd));
        const double *pr = pref + att[1];
        const size_t rows = (size_t)(T - own[1]);
        double worst_p = 0.0;
        for (int h = 0; h < NH; h++)
            for (int s = 0; s < Tp; s++)
                worst_p = fmax(worst_p, fabs(pq[(size_t)h * Tp + s] - pr[(size_t)h * rows * Tp + (rows - 1) * Tp + s]) /
                                            FLT_EPSILON);
        const double ey = ulps_off(y, ref + (size_t)pa[T - 1] * C, NULL, vmax, C);
        snprintf(name, sizeof name, "attention_query_C%d_heads%d", C, NH);
        CHECK_TOL(fmax(ey, worst_p), ATTN_ULPS, name, "output %.3g ulps of max |v|, probabilities %.3g ulps", ey,
                  worst_p);
        free(kT);
        free(v);
        free(y);
        free(pq);
    }

    double *fd = dalloc(N3);
    finite_diff(attention_loss, &ctx, d_qkv, N3, fd);
    attention_backward(dqkv, scratch, dout, qkv, p, &sl, C, NH);
    /* In ulps of the largest gradient: every key's and value's gradient sums over the queries
     * that see it (up to 19, across sequences that share the row). */
    const double eb = ulps_off(dqkv, fd, NULL, max_abs(fd, N3), N3);
    snprintf(name, sizeof name, "attention_backward_C%d_heads%d", C, NH);
    CHECK_TOL(eb, ATTN_BWD_ULPS, name, "%.3g ulps of the largest gradient", eb);
    free(qkv);
    free(out);
    free(p);
    free(scratch);
    free(dout);
    free(dqkv);
    free(d_qkv);
    free(d_w);
    free(ref);
    free(pref);
    free(fd);
}

/* ---- log-softmax ---- */

typedef struct {
    int N, V;
    double temperature;
    const int *scored, *target;
    const double *logits, *g; /* g: the weight of each scored row's log p(target) in the loss */
} SmCtx;

/* log softmax(logits[n] / T)[v] into lp, entropy per row into ent (if not NULL). */
static void logsoftmax_ref(const SmCtx *c, int n, double *lp, double *ent)
{
    const double *l = c->logits + (size_t)n * c->V;
    double mx = -INFINITY, sum = 0.0;
    for (int v = 0; v < c->V; v++) mx = fmax(mx, l[v] / c->temperature);
    for (int v = 0; v < c->V; v++) sum += exp(l[v] / c->temperature - mx);
    double h = 0.0;
    for (int v = 0; v < c->V; v++) {
        lp[v] = l[v] / c->temperature - mx - log(sum);
        h -= exp(lp[v]) * lp[v];
    }
    if (ent) *ent = h;
}

static double logsoftmax_loss(const void *p)
{
    const SmCtx *c = p;
    double *lp = dalloc(c->V), L = 0.0;
    for (int n = 0; n < c->N; n++) {
        if (!c->scored[n]) continue;
        logsoftmax_ref(c, n, lp, NULL);
        L += c->g[n] * lp[c->target[n]];
    }
    free(lp);
    return L;
}

static void test_logsoftmax(int V)
{
    enum { N = 6 };
    char name[96];
    const int scored[N] = {1, 0, 2, 1, 0, 1}, target[N] = {0, 0, 3, 1, 0, 2};
    const float temperature = 0.7f;
    const size_t NV = (size_t)N * V;
    float *logits = fill(NV, 60, -4, 4), *probs = fill(NV, 0, 0, 0), *dlogits = fill(NV, 61, -1, 1);
    float zmax[N], logsum[N], ent[N], gsum[N];
    for (int n = 0; n < N; n++) zmax[n] = logsum[n] = ent[n] = -7.0f; /* sentinels: unscored rows stay */
    logits[2 * V + 5 % V] = 30.0f; /* a dominant logit: probabilities near 0 and 1 */
    double *d_l = to_double(logits, NV), g[N], *lp = dalloc(V);
    for (int n = 0; n < N; n++) g[n] = uni(62, (uint64_t)n, -1, 1);
    const SmCtx ctx = {N, V, temperature, scored, target, d_l, g};
    logsoftmax_forward(probs, zmax, logsum, ent, logits, scored, temperature, N, V);
    /* Probabilities in ulps of p (|log p| + V): z - max rounds at |z - max|, which exp passes on as
     * relative error, then fast_expf's few ulps and the sum of V terms. log p = (z - zmax) -
     * logsum as the model forms it, in ulps of max(|z - zmax|, |logsum|, 1). The entropy sums V
     * terms p |z - zmax|, in ulps of sum p |log p| + |log sum| (its rounding grows with V). */
    double ep = 0.0, el = 0.0, eh = 0.0;
    int untouched = 1;
    for (int n = 0; n < N; n++) {
        if (!scored[n]) {
            untouched &= zmax[n] == -7.0f && logsum[n] == -7.0f && ent[n] == -7.0f;
            continue;
        }
        double h, habs = 0.0;
        logsoftmax_ref(&ctx, n, lp, &h);
        for (int v = 0; v < V; v++) {
            const double pv = exp(lp[v]), z = d_l[(size_t)n * V + v] / temperature;
            ep = fmax(ep, fabs(probs[(size_t)n * V + v] - pv) / (FLT_EPSILON * pv * (fabs(lp[v]) + V)));
            const double got = ((float)(logits[(size_t)n * V + v] / temperature) - zmax[n]) - logsum[n];
            el = fmax(el, fabs(got - lp[v]) / (FLT_EPSILON * fmax(fmax(fabs(z - zmax[n]), fabs(logsum[n])), 1.0)));
            habs += pv * fabs(lp[v]);
        }
        eh = fmax(eh, fabs(ent[n] - h) / (FLT_EPSILON * (habs + fabs(logsum[n]) + 1e-30)));
    }
    snprintf(name, sizeof name, "logsoftmax_forward_probs_V%d", V);
    CHECK_TOL(ep, SOFTMAX_ULPS, name, "%.3g ulps of p (|log p| + V)", ep);
    snprintf(name, sizeof name, "logsoftmax_forward_logp_V%d", V);
    CHECK_TOL(el, LOGP_ULPS, name, "%.3g ulps of max(|z - zmax|, |logsum|, 1)", el);
    snprintf(name, sizeof name, "logsoftmax_forward_entropy_V%d", V);
    CHECK_TOL(eh, ENTROPY_ULPS, name, "%.3g ulps of sum p |log p| + |log sum|", eh);
    snprintf(name, sizeof name, "logsoftmax_forward_unscored_untouched_V%d", V);
    CHECK(untouched, name, "a row with scored = 0 had zmax, logsum or entropy written");

    /* Backward as the model uses it: gsum = g / T per scored row, the kernel writes -gsum p, the
     * caller adds gsum at the target; against finite differences of sum g log p(target). */
    double *fd = dalloc(NV);
    finite_diff(logsoftmax_loss, &ctx, d_l, NV, fd);
    for (int n = 0; n < N; n++) gsum[n] = scored[n] ? (float)g[n] / temperature : 0.0f;
    logsoftmax_backward(dlogits, probs, scored, gsum, N, V);
    for (int n = 0; n < N; n++)
        if (scored[n]) dlogits[(size_t)n * V + target[n]] += gsum[n];
    /* Elementwise: a product and one addition at the target, in ulps of |g| / T. */
    double eb = 0.0;
    int zero_rows = 1;
    for (int n = 0; n < N; n++) {
        if (!scored[n]) {
            for (int v = 0; v < V; v++) zero_rows &= dlogits[(size_t)n * V + v] == 0.0f;
            continue;
        }
        eb = fmax(eb, ulps_off(dlogits + (size_t)n * V, fd + (size_t)n * V, NULL, fabs(g[n]) / temperature, V));
    }
    snprintf(name, sizeof name, "logsoftmax_backward_V%d", V);
    CHECK_TOL(eb, SOFTMAX_BWD_ULPS, name, "%.3g ulps of |g| / T", eb);
    snprintf(name, sizeof name, "logsoftmax_backward_unscored_zero_V%d", V);
    CHECK(zero_rows, name, "a row with scored = 0 has a nonzero gradient");
    free(logits);
    free(probs);
    free(dlogits);
    free(d_l);
    free(lp);
    free(fd);
}

/* par_team: a team only for work worth it, with more than one thread allowed, and never inside a
 * team (where a nested region would be a team of one). */
static void test_par_team(void)
{
    omp_set_num_threads(2);
    CHECK(par_team(1) == 1, "par_team_two_threads", "par_team(1) is %d with 2 threads, expected 1", par_team(1));
    CHECK(par_team(0) == 0, "par_team_small_work", "par_team(0) is %d, expected 0", par_team(0));
    int inside = -1;
#pragma omp parallel num_threads(2)
    {
#pragma omp single
        inside = par_team(1);
    }
    CHECK(inside == 0, "par_team_inside_team", "par_team(1) inside a team is %d, expected 0", inside);
    omp_set_num_threads(1);
    CHECK(par_team(1) == 0, "par_team_one_thread", "par_team(1) is %d with 1 thread, expected 0", par_team(1));
    omp_set_num_threads(2);
}

/* bigbuf_alloc: 64-byte aligned below 2 MB, 2 MB aligned from there, every byte writable (the
 * sanitizer build checks the writes). */
static void test_bigbuf(void)
{
    const size_t sizes[] = {1, 100, 2u << 20, (3u << 20) + 5};
    for (int k = 0; k < 4; k++) {
        unsigned char *p = bigbuf_alloc(sizes[k]);
        const size_t align = sizes[k] >= (2u << 20) ? (2u << 20) : 64;
        char name[64];
        snprintf(name, sizeof name, "bigbuf_alloc_%zu", sizes[k]);
        CHECK(p && (uintptr_t)p % align == 0, name, "got %p for %zu bytes, expected a multiple of %zu", (void *)p,
              sizes[k], align);
        if (p) {
            memset(p, 0xab, sizes[k]);
            snprintf(name, sizeof name, "bigbuf_alloc_%zu_writable", sizes[k]);
            CHECK(p[0] == 0xab && p[sizes[k] - 1] == 0xab, name, "the first or last byte did not keep its value");
        }
        free(p);
    }
}

int main(void)
{
    test_par_team();
    test_bigbuf();
    test_bf16_round();
    test_fast_expf();
    test_embed();
    test_layernorm(5, 7);
    test_layernorm(1, 19);
    test_matmul(9, 5, 7, 4);    /* nothing a multiple of a lane or block */
    test_matmul(1, 3, 2, 1);    /* a single row */
    test_matmul(70, 6, 5, 32);  /* three row tiles of matmul_forward (32, 32, 6) */
    test_matmul(5, 3, 130, 5);  /* two weight-gradient units (80 + 50 outputs) */
    test_gelu();
    test_attention(9, 3); /* head_dim 3 */
    test_attention(5, 1); /* one head */
    test_logsoftmax(13);
    test_logsoftmax(37);
    return test_main_result();
}
