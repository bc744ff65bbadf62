/* Gradient check of the whole model: every parameter tensor's gradient from model_backward against
 * central finite differences of a loss built from model_forward's log-probabilities,
 *     loss = sum_n w_n logp_n,
 * with arbitrary weights w (the dlogp handed to the backward), some targets skipped (-1) and
 * temperature 0.7. Also: skipped positions ignore their dlogp, the backward accumulates, bad
 * inputs are refused with a message, and 1 and 2 threads give byte-identical gradients. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/rng.h"
#include "tests/test.h"

/* Finite-difference tolerances (reasons at their use): the rounding noise in units of
 * FLT_EPSILON * l1 / (2h), the truncation relative to |fd|, and the per-tensor relative L2. */
#define FD_NOISE_ULPS 16.0
#define FD_RTOL 1e-2
#define FD_L2 2e-3
/* Two backward passes' embedding gradients against twice one, in ulps of the largest (reason at
 * its use). */
#define EMB_ULPS 16.0

/* Parameters drawn far from the GPT-2 initialization (std 0.02 makes attention nearly uniform and
 * many gradients tiny): weights and embeddings uniform in +-0.6, gains 1 +- 0.3, biases +- 0.2, so
 * every path of the network carries gradient of order 0.01..1. */
static void randomize(Model *m, uint64_t seed)
{
    for (int k = 0; k < m->n_tensors; k++) {
        const TensorInfo *t = &m->tensors[k];
        const size_t len = strlen(t->name);
        const int gain = len > 2 && strcmp(t->name + len - 2, "_g") == 0;
        for (size_t i = 0; i < t->size; i++) {
            double u = 2.0 * rng_uniform(seed, 7, (uint64_t)k, i) - 1.0;
            m->params[t->offset + i] = (float)(gain ? 1.0 + 0.3 * u : t->decay ? 0.6 * u : 0.2 * u);
        }
    }
}

/* loss = sum_n w_n logp_n, accumulated in double; *l1 (if not NULL) gets sum_n |w_n logp_n|, the
 * magnitude the loss's float rounding scales with. */
static double loss_of(Model *m, const int *tok, const int *tgt, int B, int T, float temp, const float *w, double *l1)
{
    char err[ERR_LEN];
    float logp[64];
    Precision fp32 = {0, 0};
    if (model_forward(m, tok, tgt, B, T, temp, fp32, logp, NULL, err)) {
        printf("FAIL forward: %s\n", err);
        exit(1);
    }
    double s = 0.0, a = 0.0;
    for (int n = 0; n < B * T; n++) {
        s += (double)w[n] * logp[n];
        a += fabs((double)w[n] * logp[n]);
    }
    if (l1) *l1 = a;
    return s;
}

static void test_finite_differences(void)
{
    /* A tiny model whose every dimension differs, so that a transposed index shows. */
    const ModelConfig cfg = {.vocab = 7, .ctx = 8, .d_model = 8, .n_layer = 2, .n_head = 2, .d_ff = 12};
    enum { B = 2, T = 6, N = B * T };
    const float temp = 0.7f;
    char err[ERR_LEN];
    Model m;
    if (model_create(&m, &cfg, 1, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    randomize(&m, 11);
    int tok[N], tgt[N];
    float w[N];
    for (int n = 0; n < N; n++) {
        tok[n] = (int)(rng_u64(3, 0, 0, (uint64_t)n) % (uint64_t)cfg.vocab);
        tgt[n] = n % 5 == 2 ? -1 : (int)(rng_u64(3, 1, 0, (uint64_t)n) % (uint64_t)cfg.vocab);
        w[n] = (float)(2.0 * rng_uniform(3, 2, 0, (uint64_t)n) - 1.0);
    }
    model_zero_grad(&m);
    double l1;
    loss_of(&m, tok, tgt, B, T, temp, w, &l1);
    model_backward(&m, w);

    /* Central differences with step h carry two errors. Rounding: each loss is a sum of FP32
     * log-probs, off by a few ulps of l1 = sum |w logp| (the ulps depend on the kernels OpenBLAS
     * picked), and the difference of two is divided by 2h: FD_NOISE_ULPS units of
     * FLT_EPSILON * l1 / (2h) (~1e-4 here). Truncation: h^2/6 f''' relative to f', FD_RTOL (grows
     * as h^2: measured worst element error 1e-3 at h = 1e-2, 8e-3 at 3e-2). h = 3e-3 balances the
     * two. Per element |analytic - fd| <= FD_NOISE_ULPS * unit + FD_RTOL * |fd|, reported as the
     * worst ratio of the two sides (measured at most 0.10 over the kernel sets of
     * tests/README.md); per tensor, a relative L2 error below FD_L2 (measured at most 2.0e-4).
     * Gradient norms per tensor are 3..12, so a wrong gradient is off by O(1). */
    const double h = 3e-3, unit = FLT_EPSILON * l1 / (2.0 * h);
    double worst_all = 0.0, l2_all = 0.0;
    for (int k = 0; k < m.n_tensors; k++) {
        const TensorInfo *t = &m.tensors[k];
        double worst = 0.0, diff2 = 0.0, norm2 = 0.0;
        size_t worst_i = 0;
        for (size_t i = 0; i < t->size; i++) {
            float *p = &m.params[t->offset + i];
            const float keep = *p;
            *p = keep + (float)h;
            const double up = loss_of(&m, tok, tgt, B, T, temp, w, NULL);
            *p = keep - (float)h;
            const double down = loss_of(&m, tok, tgt, B, T, temp, w, NULL);
            *p = keep;
            const double fd = (up - down) / (2.0 * h);
            const double d = fabs(m.grads[t->offset + i] - fd);
            diff2 += d * d;
            norm2 += fd * fd;
            const double ratio = d / (FD_NOISE_ULPS * unit + FD_RTOL * fabs(fd));
            if (ratio > worst || isnan(ratio)) {
                worst = ratio;
                worst_i = i;
            }
        }
        const double l2 = norm2 > 0.0 ? sqrt(diff2 / norm2) : INFINITY;
        char name[96];
        snprintf(name, sizeof name, "grad_fd_%s", t->name);
        CHECK(worst <= 1.0 && l2 <= FD_L2, name,
              "element %zu: analytic %.6g off by %.3g times the tolerance (noise unit %.3g); relative L2 error %.3g "
              "(|fd| %.3g)",
              worst_i, (double)m.grads[t->offset + worst_i], worst, unit, l2, sqrt(norm2));
        worst_all = fmax(worst_all, worst);
        l2_all = fmax(l2_all, l2);
    }
    /* The same, over all tensors, for bench/coretypes.sh's table. */
    CHECK_TOL(worst_all, 1.0, "grad_fd_elements", "worst element off by %.3g times the tolerance", worst_all);
    CHECK_TOL(l2_all, FD_L2, "grad_fd_l2", "worst relative L2 error %.3g", l2_all);
    model_free(&m);
}

/* Skipped targets: logp and entropy 0 there, and their dlogp (here NaN) never reaches a gradient;
 * the backward accumulates (two backward passes give exactly twice one). */
static void test_skipped_and_accumulation(void)
{
    const ModelConfig cfg = {.vocab = 9, .ctx = 10, .d_model = 16, .n_layer = 2, .n_head = 4, .d_ff = 24};
    enum { B = 3, T = 7, N = B * T };
    char err[ERR_LEN];
    Model m;
    if (model_create(&m, &cfg, 5, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    randomize(&m, 12);
    int tok[N], tgt[N];
    float w[N], w_nan[N], logp[N], ent[N];
    for (int n = 0; n < N; n++) {
        tok[n] = (n * 5 + 1) % cfg.vocab;
        tgt[n] = n % 3 == 0 ? -1 : (n * 7 + 2) % cfg.vocab;
        w[n] = tgt[n] < 0 ? 0.0f : 0.1f * (float)(n % 4) - 0.15f;
        w_nan[n] = tgt[n] < 0 ? NAN : w[n];
    }
    Precision fp32 = {0, 0};
    model_zero_grad(&m);
    model_forward(&m, tok, tgt, B, T, 1.3f, fp32, logp, ent, err);
    int zeros_ok = 1;
    for (int n = 0; n < N; n++)
        if (tgt[n] < 0 && (logp[n] != 0.0f || ent[n] != 0.0f)) zeros_ok = 0;
        else if (tgt[n] >= 0 && !(logp[n] < 0.0f && ent[n] > 0.0f)) zeros_ok = 0;
    CHECK(zeros_ok, "skipped_positions_zero", "logp/entropy not 0 at a skipped position, or not <0/>0 elsewhere");
    model_backward(&m, w);
    float *once = malloc(m.n_params * sizeof *once);
    memcpy(once, m.grads, m.n_params * sizeof *once);
    model_zero_grad(&m);
    model_backward(&m, w_nan);
    CHECK(memcmp(once, m.grads, m.n_params * sizeof *once) == 0, "skipped_dlogp_ignored",
          "gradients changed when dlogp at skipped positions was NaN");
    model_backward(&m, w);
    /* Exactly twice for tensors whose gradient is added once per backward: gains and biases (our
     * loops), and sgemm with beta 1, which adds each product sum to dw in one rounding as long as
     * the sum over rows (21 here) fits in one of OpenBLAS's K blocks (hundreds, under every
     * kernel set), so x + x = 2x exactly. The embeddings add row by row onto the running sum, so
     * there the two passes associate differently, and sums that cancel (a position's gradient over
     * the batch) lose relative precision: EMB_ULPS ulps of the embeddings' largest gradient
     * (measured at most 1.9). */
    size_t off = 0, emb_end = m.tensors[1].offset + m.tensors[1].size;
    double worst = 0.0, worst_emb = 0.0, emb_scale = 0.0;
    for (size_t i = 0; i < emb_end; i++) emb_scale = fmax(emb_scale, fabs(once[i]));
    for (size_t i = 0; i < m.n_params; i++) {
        double d = fabs((double)m.grads[i] - 2.0 * once[i]);
        if (i >= emb_end) {
            off += !(d == 0.0);
            worst = fmax(worst, d);
        } else {
            worst_emb = d > worst_emb || isnan(d) ? d : worst_emb;
        }
    }
    CHECK(off == 0, "backward_accumulates", "%zu of %zu gradients past the embeddings are not twice one pass (worst %.3g)",
          off, m.n_params - emb_end, worst);
    CHECK_TOL(worst_emb, EMB_ULPS * FLT_EPSILON * emb_scale, "backward_accumulates_embeddings",
              "max |embedding gradient - twice one pass| %.3g > %g ulps of %.3g", worst_emb, EMB_ULPS, emb_scale);
    free(once);
    model_free(&m);
}

static void test_bad_inputs(void)
{
    const ModelConfig cfg = {.vocab = 5, .ctx = 4, .d_model = 8, .n_layer = 1, .n_head = 2, .d_ff = 8};
    char err[ERR_LEN];
    Model m;
    model_create(&m, &cfg, 1, err);
    Precision fp32 = {0, 0};
    int tok[5] = {0, 1, 2, 3, 4}, tgt[5] = {1, 2, 3, 4, -1};
    float logp[5];
    int rc = model_forward(&m, tok, tgt, 1, 5, 1.0f, fp32, logp, NULL, err);
    CHECK(rc == 1 && strstr(err, "T=5"), "bad_T_refused", "rc %d, err '%s'", rc, err);
    int bad_tok[2] = {1, 5};
    rc = model_forward(&m, bad_tok, tgt, 1, 2, 1.0f, fp32, logp, NULL, err);
    CHECK(rc == 1 && strstr(err, "token id 5"), "bad_token_refused", "rc %d, err '%s'", rc, err);
    int bad_tgt[2] = {1, -2};
    rc = model_forward(&m, tok, bad_tgt, 1, 2, 1.0f, fp32, logp, NULL, err);
    CHECK(rc == 1 && strstr(err, "target id -2"), "bad_target_refused", "rc %d, err '%s'", rc, err);
    rc = model_forward(&m, tok, tgt, 1, 2, 0.0f, fp32, logp, NULL, err);
    CHECK(rc == 1 && strstr(err, "temperature"), "bad_temperature_refused", "rc %d, err '%s'", rc, err);
    rc = model_forward(&m, tok, tgt, 0, 2, 1.0f, fp32, logp, NULL, err);
    CHECK(rc == 1 && strstr(err, "B=0"), "bad_B_refused", "rc %d, err '%s'", rc, err);
    model_free(&m);
}

/* Forward and backward on 1 and on 2 threads, on a batch large enough that every kernel splits
 * into several tiles: the kernels split outputs, never sums, so the results must be identical. */
static void test_threads_identical(void)
{
    const ModelConfig cfg = {.vocab = 13, .ctx = 32, .d_model = 32, .n_layer = 2, .n_head = 4, .d_ff = 96};
    enum { B = 40, T = 32, N = B * T };
    char err[ERR_LEN];
    static int tok[N], tgt[N];
    static float w[N], lp1[N], lp2[N], en1[N], en2[N];
    for (int n = 0; n < N; n++) {
        tok[n] = (int)(rng_u64(9, 0, 0, (uint64_t)n) % 13);
        tgt[n] = n % 7 == 0 ? -1 : (int)(rng_u64(9, 1, 0, (uint64_t)n) % 13);
        w[n] = (float)rng_uniform(9, 2, 0, (uint64_t)n) - 0.5f;
    }
    Model m1, m2;
    model_create(&m1, &cfg, 21, err);
    model_create(&m2, &cfg, 21, err);
    randomize(&m1, 4);
    randomize(&m2, 4);
    const Precision precs[2] = {{0, 0}, {1, 1}};
    for (int k = 0; k < 2; k++) {
        model_zero_grad(&m1);
        model_zero_grad(&m2);
        model_set_threads(1);
        model_forward(&m1, tok, tgt, B, T, 0.9f, precs[k], lp1, en1, err);
        model_backward(&m1, w);
        model_set_threads(2);
        model_forward(&m2, tok, tgt, B, T, 0.9f, precs[k], lp2, en2, err);
        model_backward(&m2, w);
        char name[64];
        snprintf(name, sizeof name, "threads_1_vs_2_identical%s", k ? "_bf16" : "");
        CHECK(memcmp(lp1, lp2, sizeof lp1) == 0 && memcmp(en1, en2, sizeof en1) == 0 &&
                  memcmp(m1.grads, m2.grads, m1.n_params * sizeof(float)) == 0,
              name, "logp, entropy or gradients differ between 1 and 2 threads");
    }
    model_free(&m1);
    model_free(&m2);
}

int main(void)
{
    model_set_threads(2);
    test_finite_differences();
    test_skipped_and_accumulation();
    test_bad_inputs();
    test_threads_identical();
    return test_main_result();
}
