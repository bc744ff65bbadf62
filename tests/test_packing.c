/* The training forward computes its (B, T) grid as a tree of rows: each sequence keeps its
 * positions up to its last scored one, and a position whose tokens up to it equal an earlier
 * sequence's is that sequence's row (attention then runs per sequence over its path of rows).
 * Here: a padded batch with shared prefixes (a common prompt, a sequence repeated with other
 * targets, one that is a prefix of another) scores like its sequences run one by one, with the
 * same gradient; whatever follows a sequence's last target (tokens, dlogp) has no effect at all;
 * a batch with nothing to score gives zeros and no gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/rng.h"
#include "tests/rounding.h"
#include "tests/test.h"

static const ModelConfig CFG = {.vocab = 9, .ctx = 40, .d_model = 24, .n_layer = 2, .n_head = 3, .d_ff = 40};
enum { B = 6, T = 37 };
#define TEMPERATURE 0.8f
/* The relative L2 gradient difference allowed, in ulps (FLT_EPSILON); reason at its use. */
#define GRAD_ULPS 32.0
/* Kept length of each sequence (1 + its last target), 0: nothing scored. 37 and 20 span three
 * and two key blocks of the attention kernels. */
static const int KEPT[B] = {20, 0, 37, 5, 37, 12};
/* Sequence b's tokens agree with sequence SHARE_WITH[b]'s (-1: none) up to position SHARED[b]:
 * 2 and 3 share a prompt with 0, 4 repeats 2 (every row borrowed, other targets), 5 is a prefix
 * of 0 (other targets on the same rows). */
static const int SHARE_WITH[B] = {-1, -1, 0, 0, 2, 0}, SHARED[B] = {0, 0, 6, 4, 37, 12};

/* Weights far from the tiny GPT-2 initialization, so that attention is far from uniform. */
static void make_model(Model *m, uint64_t seed)
{
    char err[ERR_LEN];
    if (model_create(m, &CFG, seed, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += (float)(0.4 * (2.0 * rng_uniform(seed, 9, 0, i) - 1.0));
}

typedef struct {
    int tok[B * T], tgt[B * T];
    float dlogp[B * T];
} Batch;

/* Sequence b: random tokens; targets at a few positions before KEPT[b] - 1 and always at it; -1
 * after it, where tokens are `tail` (any value: nothing may read them). */
static void make_batch(Batch *x, int tail)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const int n = b * T + t;
            const uint64_t r = rng_u64(4, (uint64_t)b, (uint64_t)t, 0);
            const int kept = t < KEPT[b];
            x->tok[n] = !kept ? tail
                        : t < SHARED[b] ? x->tok[SHARE_WITH[b] * T + t]
                                        : (int)(r % (uint64_t)CFG.vocab);
            x->tgt[n] = kept && (t == KEPT[b] - 1 || r % 3 == 0) ? (int)((r >> 8) % (uint64_t)CFG.vocab) : -1;
            x->dlogp[n] = (float)(2.0 * rng_uniform(4, 1, (uint64_t)n, 0) - 1.0);
        }
}

static int forward(Model *m, const int *tok, const int *tgt, int nb, int nt, float *logp, float *ent)
{
    char err[ERR_LEN];
    int rc = model_forward(m, tok, tgt, nb, nt, TEMPERATURE, (Precision){0, 0}, logp, ent, err);
    if (rc) printf("FAIL forward: %s\n", err);
    return rc;
}

static void test_padded_matches_alone(void)
{
    Model m;
    make_model(&m, 3);
    Batch x;
    make_batch(&x, 0);
    float logp[B * T], ent[B * T];
    model_zero_grad(&m);
    if (forward(&m, x.tok, x.tgt, B, T, logp, ent)) exit(1);
    model_backward(&m, x.dlogp);
    float *batch_grad = malloc(m.n_params * sizeof *batch_grad);
    memcpy(batch_grad, m.grads, m.n_params * sizeof *batch_grad);

    /* The same sequences one by one, each on its own kept length; gradients accumulate. */
    double worst_lp = 0.0, worst_ent = 0.0;
    int zeros_ok = 1;
    model_zero_grad(&m);
    for (int b = 0; b < B; b++) {
        const int *tok = x.tok + b * T, *tgt = x.tgt + b * T;
        if (KEPT[b] == 0) {
            for (int t = 0; t < T; t++) zeros_ok &= logp[b * T + t] == 0.0f && ent[b * T + t] == 0.0f;
            continue;
        }
        float lp1[T], en1[T];
        if (forward(&m, tok, tgt, 1, KEPT[b], lp1, en1)) exit(1);
        model_backward(&m, x.dlogp + b * T);
        for (int t = 0; t < T; t++) {
            const float lp = t < KEPT[b] ? lp1[t] : 0.0f, en = t < KEPT[b] ? en1[t] : 0.0f;
            worst_lp = fmax(worst_lp, fabs((double)lp - logp[b * T + t]));
            worst_ent = fmax(worst_ent, fabs((double)en - ent[b * T + t]));
        }
    }
    /* The two runs multiply differently shaped blocks, which OpenBLAS rounds differently, and sum
     * shared rows' gradients in another order: log-probs and entropies within the FP32 tolerance
     * at the largest |logit| or |log-prob| at this temperature (tests/rounding.h). A packing or
     * sharing error (a row at the wrong position, a target scored on the wrong row) moves logp by
     * O(0.1). */
    const double tol = fp32_tolerance(rounding_scale(&m, x.tok, T, KEPT, B) / TEMPERATURE);
    CHECK_TOL(worst_lp, tol, "padded_batch_logp_matches_alone", "max |logp diff| %.3g > %.3g", worst_lp, tol);
    CHECK_TOL(worst_ent, tol, "padded_batch_entropy_matches_alone", "max |entropy diff| %.3g > %.3g", worst_ent, tol);
    CHECK(zeros_ok, "unscored_sequence_gives_zeros", "a sequence with no target got a nonzero logp or entropy");
    double d2 = 0.0, n2 = 0.0;
    for (size_t i = 0; i < m.n_params; i++) {
        const double d = (double)batch_grad[i] - m.grads[i];
        d2 += d * d;
        n2 += (double)m.grads[i] * m.grads[i];
    }
    /* Gradients: the same reorderings, then summed over rows in another order (a shared row's
     * gradient once against once per sequence): relative L2 difference within GRAD_ULPS ulps
     * (measured at most 3.7 over the kernel sets of tests/README.md). A
     * shared row's gradient counted once instead of per sequence moves it by O(10%). */
    CHECK(n2 > 0.0, "padded_batch_grad_nonzero", "the gradient is zero: the comparison below would mean nothing");
    CHECK_TOL(sqrt(d2 / (n2 + 1e-300)), GRAD_ULPS * FLT_EPSILON, "padded_batch_grad_matches_alone",
              "relative L2 gradient difference %.3g > %g ulps (norm %.3g)", sqrt(d2 / (n2 + 1e-300)), GRAD_ULPS,
              sqrt(n2));
    free(batch_grad);
    model_free(&m);
}

/* Past the last target of a sequence nothing is computed: other tail tokens and NaN dlogp there
 * leave logp, entropy and gradients byte-identical. */
static void test_tail_ignored(void)
{
    Model m;
    make_model(&m, 5);
    Batch a, b;
    make_batch(&a, 0);
    make_batch(&b, CFG.vocab - 1);
    for (int n = 0; n < B * T; n++)
        if (b.tgt[n] < 0) b.dlogp[n] = NAN;
    float lpa[B * T], ena[B * T], lpb[B * T], enb[B * T];
    model_zero_grad(&m);
    if (forward(&m, a.tok, a.tgt, B, T, lpa, ena)) exit(1);
    model_backward(&m, a.dlogp);
    float *ga = malloc(m.n_params * sizeof *ga);
    memcpy(ga, m.grads, m.n_params * sizeof *ga);
    model_zero_grad(&m);
    if (forward(&m, b.tok, b.tgt, B, T, lpb, enb)) exit(1);
    model_backward(&m, b.dlogp);
    CHECK(memcmp(lpa, lpb, sizeof lpa) == 0 && memcmp(ena, enb, sizeof ena) == 0, "tail_tokens_ignored",
          "logp or entropy changed with the tokens after the last target");
    CHECK(memcmp(ga, m.grads, m.n_params * sizeof *ga) == 0, "tail_dlogp_ignored",
          "gradients changed with the tokens or dlogp after the last target");
    free(ga);
    model_free(&m);
}

/* Nothing scored anywhere: zeros out, and the backward adds nothing (grads stay exactly 0). */
static void test_nothing_scored(void)
{
    Model m;
    make_model(&m, 7);
    int tok[2 * 5], tgt[2 * 5];
    float logp[2 * 5], ent[2 * 5], dlogp[2 * 5];
    for (int n = 0; n < 10; n++) {
        tok[n] = n % CFG.vocab;
        tgt[n] = -1;
        logp[n] = ent[n] = 1.0f;
        dlogp[n] = 1.0f;
    }
    model_zero_grad(&m);
    int rc = forward(&m, tok, tgt, 2, 5, logp, ent);
    int zeros = 1;
    for (int n = 0; n < 10; n++) zeros &= logp[n] == 0.0f && ent[n] == 0.0f;
    model_backward(&m, dlogp);
    int grad_zero = 1;
    for (size_t i = 0; i < m.n_params; i++) grad_zero &= m.grads[i] == 0.0f;
    CHECK(rc == 0 && zeros && grad_zero, "nothing_scored", "rc %d, outputs zero %d, gradients zero %d", rc, zeros,
          grad_zero);
    model_free(&m);
}

int main(void)
{
    model_set_threads(1);
    test_padded_matches_alone();
    test_tail_ignored();
    test_nothing_scored();
    return test_main_result();
}
