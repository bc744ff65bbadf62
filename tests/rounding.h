/* What float rounding may legitimately change between two computations of the same values, for
 * the tests that compare results computed through different kernels or row blockings (another
 * OpenBLAS kernel set, a batch of another size, the KV-cache decode against the full forward).
 * tests/README.md, "Tolerances", says how each tolerance is derived and what was measured.
 *
 * FP32: a logit is a dot product, and every reordering of its sums moves it by a few units in the
 * last place of its magnitude; log-softmax passes that on to the log-probabilities, whose own
 * rounding is at the magnitude of the log-probability. So those tolerances are k * FLT_EPSILON *
 * scale, scale the largest |logit| or |log-prob| on the positions compared (rounding_scale).
 *
 * bfloat16 emulation rounds matmul inputs (and with a bf16 head the logits) to 8 significant bits.
 * Two computations that differ by an FP32 ulp just before such a rounding can land on two
 * neighbouring bf16 values, a whole step apart (up to BF16_STEP relative): rare, but legitimate.
 * A flip moves one sequence from that position on, so bf16 comparisons count the values beyond
 * the FP32 tolerance (Spread) and allow up to half of them (no test's sequence holds half of its
 * values), none beyond one bf16 step of the scale; a path that rounds differently everywhere
 * moves nearly every value.
 *
 * Static inline functions (each test program uses some of them): the test programs include it. */
#ifndef SCALERL_TESTS_ROUNDING_H
#define SCALERL_TESTS_ROUNDING_H

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/decode.h"
#include "models/model.h"

/* The FP32 tolerance, in ulps (FLT_EPSILON) of the scale. Measured over the seven OpenBLAS kernel
 * sets an AMD EPYC runs (tests/README.md): two computations through different kernels or row
 * blockings differ by at most 2.6 ulps, the C model and a float64 reference by at most 6.7 (the
 * logits through the decode path); 64 leaves a margin of about 10 for kernel sets not measured,
 * and stays far below what a real error moves (a wrong cache entry, position or row: 1e-2 of the
 * scale, 80000 ulps, and more). */
#define FP32_ULPS 64.0

static inline double fp32_tolerance(double scale)
{
    return FP32_ULPS * FLT_EPSILON * scale;
}

/* The largest relative distance between two neighbouring bfloat16 values (8 significant bits:
 * 2^-7 just above a power of two). */
#define BF16_STEP 0x1p-7

/* The largest |logit| or |log-softmax| over the next-token predictions after each of the first
 * len[i] tokens of sequence i < n (read at seqs + i * stride), each decoded alone in FP32. Exits
 * with a FAIL line when out of memory. */
static inline double rounding_scale(const Model *m, const int *seqs, size_t stride, const int *len, int n)
{
    char err[ERR_LEN];
    const int V = m->cfg.vocab, slot = 0;
    DecodeState *ds = decode_new(&m->cfg, 1, err);
    float *logits = malloc((size_t)V * sizeof *logits);
    if (!ds || !logits) {
        printf("FAIL rounding_scale: %s\n", ds ? "out of memory" : err);
        exit(1);
    }
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        decode_reset(ds, 0);
        for (int p = 0; p < len[i]; p++) {
            decode_step(ds, m->params, &slot, seqs + (size_t)i * stride + p, 1, (Precision){0, 0}, logits);
            double mx = -INFINITY, sum = 0.0;
            for (int v = 0; v < V; v++) mx = fmax(mx, logits[v]);
            for (int v = 0; v < V; v++) sum += exp(logits[v] - mx);
            for (int v = 0; v < V; v++) worst = fmax(worst, fmax(fabs(logits[v]), fabs(logits[v] - mx - log(sum))));
        }
    }
    free(logits);
    decode_free(ds);
    return worst;
}

/* How two computations of n values at a given scale differ: the largest difference, and how
 * many differ by more than tol, the FP32 tolerance at that scale. */
typedef struct {
    double scale, tol, worst;
    long n, beyond;
} Spread;

static inline Spread spread_at(double scale)
{
    return (Spread){.scale = scale, .tol = fp32_tolerance(scale)};
}

static inline void spread_add(Spread *s, double a, double b)
{
    const double d = fabs(a - b);
    s->worst = d > s->worst || isnan(d) ? d : s->worst;
    s->beyond += !(d <= s->tol);
    s->n++;
}

#endif
