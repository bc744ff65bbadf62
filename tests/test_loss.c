/* Losses: values and gradients on a hand-worked batch, composed with a log-softmax to get the
 * gradient with respect to logits, the clip and truncation cases, finite differences of dlogp,
 * CISPO's stop-gradient ratio, and parameter checks. */
#include <math.h>
#include <string.h>

#include "errbuf.h"
#include "ref/rl/loss.h"
#include "tests/test.h"

/* The hand-worked batch. Six tokens, all with target token 0 of a 3-token vocabulary, in five
 * completions (sample aggregation, 5 completions: weight 1/(5*n_i)):
 *   token  completion  A     p = pi(y)  q = pi_gen(y)  r = p/q  w
 *   t0     c0          +1    1/2        1/4            2        0.1
 *   t1     c0          +1    1/2        1/2            1        0.1
 *   t2     c1          +2    1/2        1/10           5        0.2
 *   t3     c2          -1    1/4        1/2            1/2      0.2
 *   t4     c3          -1/2  1/4        1/8            2        0.2
 *   t5     c4          +1    1/4        1/2            1/2      0.2
 * p = 1/2 comes from logits (ln 2, 0, 0): softmax (1/2, 1/4, 1/4), so
 *   dlogp/dz = onehot - softmax = (1/2, -1/4, -1/4);
 * p = 1/4 from logits (0, ln 2, 0): softmax (1/4, 1/2, 1/4), dlogp/dz = (3/4, -1/2, -1/4).
 * L = ln 2 below; log p is -L or -2L. */
#define NTOK 6
#define NSEQ 5
static const int OFF[NSEQ + 1] = {0, 2, 3, 4, 5, 6};
static const float ADV[NSEQ] = {1.0f, 2.0f, -1.0f, -0.5f, 1.0f};
static const float W[NTOK] = {0.1f, 0.1f, 0.2f, 0.2f, 0.2f, 0.2f};
static const double P_TOK[NTOK] = {0.5, 0.5, 0.5, 0.25, 0.25, 0.25};
static const double Q_TOK[NTOK] = {0.25, 0.5, 0.1, 0.5, 0.125, 0.5};
static const double DIR_HALF[3] = {0.5, -0.25, -0.25}, DIR_QUARTER[3] = {0.75, -0.5, -0.25};

/* log softmax(z)[0] and softmax, in double: the model's head in miniature. */
static double log_softmax0(const double z[3], double sm[3])
{
    double mx = fmax(z[0], fmax(z[1], z[2])), s = 0.0;
    for (int k = 0; k < 3; k++) s += exp(z[k] - mx);
    for (int k = 0; k < 3; k++) sm[k] = exp(z[k] - mx) / s;
    return z[0] - mx - log(s);
}

static void logits_of(int t, double z[3])
{
    z[0] = P_TOK[t] == 0.5 ? log(2.0) : 0.0;
    z[1] = P_TOK[t] == 0.5 ? 0.0 : log(2.0);
    z[2] = 0.0;
}

static void batch_logp(float logp[NTOK], float logp_gen[NTOK])
{
    for (int t = 0; t < NTOK; t++) {
        double z[3], sm[3];
        logits_of(t, z);
        logp[t] = (float)log_softmax0(z, sm);
        logp_gen[t] = (float)log(Q_TOK[t]);
    }
}

static LossStats run(LossKind kind, float dlogp[NTOK], const LossParams *override)
{
    LossParams p;
    loss_params_default(&p, kind);
    if (override) p = *override;
    float logp[NTOK], logp_gen[NTOK];
    batch_logp(logp, logp_gen);
    LossStats st;
    loss_compute(dlogp, &st, logp, logp_gen, W, ADV, OFF, NSEQ, &p);
    return st;
}

/* Checks dlogp against the hand values and dLoss/dlogits = dlogp * (onehot - softmax) of the
 * model-side softmax against hand dlogp times the hand directions above.
 * Tolerance 1e-6: the inputs are float (logp rounded to 6e-8 relative), the ratios computed from
 * them are off by ~1e-7 relative, gradients are O(1). */
static void check_grads(const char *name, const float dlogp[NTOK], const double want[NTOK])
{
    char label[128];
    for (int t = 0; t < NTOK; t++) {
        snprintf(label, sizeof label, "%s dlogp t%d", name, t);
        CHECK_CLOSE(dlogp[t], want[t], 1e-6, label);
        double z[3], sm[3];
        logits_of(t, z);
        log_softmax0(z, sm);
        const double *dir = P_TOK[t] == 0.5 ? DIR_HALF : DIR_QUARTER;
        for (int k = 0; k < 3; k++) {
            double got = dlogp[t] * ((k == 0) - sm[k]);
            snprintf(label, sizeof label, "%s dlogits t%d k%d", name, t, k);
            CHECK_CLOSE(got, want[t] * dir[k], 1e-6, label);
        }
    }
}

static void test_cispo(void)
{
    /* eps_max 4. Coefficient min(r,4)*A: t0 2, t1 1, t2 min(5,4)*2 = 8 (truncated), t3 -1/2,
     * t4 -1, t5 1/2. dlogp = -w*coef: -0.2, -0.1, -1.6, 0.1, 0.2, -0.1.
     * J = sum w coef logp = L(-0.2 - 0.1 - 1.6 + 0.2 + 0.4 - 0.2) = -1.5 L; Loss = 1.5 ln 2.
     * Truncated: t2 only, clip_frac 1/6. Ratio mean (2+1+5+1/2+2+1/2)/6 = 11/6, max 5.
     * k3 = r - 1 - ln r summed: 2(1 - L) + (4 - ln 5) + 2(L - 1/2) = 5 - ln 5; mean (5 - ln 5)/6. */
    float d[NTOK];
    LossStats st = run(LOSS_CISPO, d, NULL);
    const double want[NTOK] = {-0.2, -0.1, -1.6, 0.1, 0.2, -0.1};
    check_grads("cispo", d, want);
    CHECK_CLOSE(st.loss, 1.5 * log(2.0), 1e-6, "cispo loss value");
    CHECK(st.n_tokens == 6 && st.n_clipped == 1, "cispo truncated count", "n_tokens %ld n_clipped %ld", st.n_tokens,
          st.n_clipped);
    CHECK_CLOSE(st.clip_frac, 1.0 / 6.0, 1e-12, "cispo clip fraction");
    CHECK_CLOSE(st.ratio_mean, 11.0 / 6.0, 1e-6, "cispo ratio mean");
    CHECK_CLOSE(st.ratio_max, 5.0, 1e-6, "cispo ratio max");
    CHECK_CLOSE(st.mismatch_kl, (5.0 - log(5.0)) / 6.0, 1e-6, "mismatch kl k3 estimator");
}

static void test_dapo_grpo(void)
{
    /* dapo 0.2/0.26: clip(r, 0.8, 1.26).
     * t0 A>0, r=2 > 1.26: clipped, term 1.26, grad 0.
     * t1 r=1: term 1, dJ/dlogp = w r A = 0.1.
     * t2 A>0, r=5: clipped, term 1.26*2 = 2.52, grad 0.
     * t3 A<0, r=1/2 < 0.8: clipped, term 0.8*(-1) = -0.8, grad 0.
     * t4 A<0, r=2 > 1.26: min(rA, 1.26A) = min(-1, -0.63) = -1, unclipped, dJ/dlogp = 0.2*2*(-1/2) = -0.2.
     * t5 A>0, r=1/2 < 0.8: min(0.5, 0.8) = 0.5, unclipped, dJ/dlogp = 0.2*0.5 = 0.1.
     * J = 0.126 + 0.1 + 0.504 - 0.16 - 0.2 + 0.1 = 0.47; Loss -0.47; clipped 3/6. */
    float d[NTOK];
    LossStats st = run(LOSS_DAPO, d, NULL);
    const double want[NTOK] = {0.0, -0.1, 0.0, 0.0, 0.2, -0.1};
    check_grads("dapo", d, want);
    CHECK_CLOSE(st.loss, -0.47, 1e-6, "dapo loss value");
    CHECK(st.n_clipped == 3, "dapo clipped count (above 1+eps_high with A>0, below 1-eps_low with A<0)",
          "n_clipped %ld, want 3", st.n_clipped);
    /* grpo 0.2/0.2: same pattern, t0 term 1.2, t2 2.4: J = 0.12 + 0.1 + 0.48 - 0.16 - 0.2 + 0.1 = 0.44. */
    st = run(LOSS_GRPO, d, NULL);
    check_grads("grpo", d, want);
    CHECK_CLOSE(st.loss, -0.44, 1e-6, "grpo loss value");
    CHECK_CLOSE(st.clip_frac, 0.5, 1e-12, "grpo clip fraction");
}

static void test_gspo(void)
{
    /* gspo with eps 0.2/0.3 (wide, so the hand example has both cases), own advantages
     * (-1, 2, -1, -1/2, 1). Sequence ratios s = exp(mean d): c0 sqrt(2*1) = sqrt 2, c1 5, c2 1/2,
     * c3 2, c4 1/2; sequence weights W = 0.2 each (c0: 0.1 + 0.1).
     * c0 A<0, s = 1.414 > 1.3: min(-1.414, -1.3) = -sqrt 2, unclipped; dJ/dlogp_t = W A s / n =
     *    0.2 * (-1) * sqrt2 / 2 = -0.1 sqrt 2 for t0 and t1.
     * c1 A>0, s=5 > 1.3: clipped, term 2.6.   c2 A<0, s=1/2 < 0.8: clipped, term -0.8.
     * c3 A<0, s=2: unclipped, term -1, dJ/dlogp = 0.2*(-1/2)*2/1 = -0.2.
     * c4 A>0, s=1/2: unclipped, term 1/2, dJ/dlogp = 0.2*1*0.5 = 0.1.
     * J = 0.2(-sqrt2 + 2.6 - 0.8 - 1 + 0.5) = 0.26 - 0.2 sqrt 2; clipped tokens t2, t3: 2/6. */
    LossParams p;
    loss_params_default(&p, LOSS_GSPO);
    p.gspo_eps_low = 0.2;
    p.gspo_eps_high = 0.3;
    const float adv[NSEQ] = {-1.0f, 2.0f, -1.0f, -0.5f, 1.0f};
    float logp[NTOK], logp_gen[NTOK], d[NTOK];
    batch_logp(logp, logp_gen);
    LossStats st;
    loss_compute(d, &st, logp, logp_gen, W, adv, OFF, NSEQ, &p);
    const double want[NTOK] = {0.1 * sqrt(2.0), 0.1 * sqrt(2.0), 0.0, 0.0, 0.2, -0.1};
    check_grads("gspo", d, want);
    CHECK_CLOSE(st.loss, -(0.26 - 0.2 * sqrt(2.0)), 1e-6, "gspo loss value");
    CHECK(st.n_clipped == 2, "gspo clipped tokens", "n_clipped %ld, want 2", st.n_clipped);

    /* The default (GSPO paper) range [1 - 3e-4, 1 + 4e-4]: s = 1.0003 with A>0 is inside,
     * s = 1.0005 is clipped. One token each, w 1, A 1: dlogp = -s or 0. */
    loss_params_default(&p, LOSS_GSPO);
    const int off1[3] = {0, 1, 2};
    const float a1[2] = {1.0f, 1.0f}, w1[2] = {1.0f, 1.0f};
    const float lp[2] = {(float)log(1.0003), (float)log(1.0005)}, lg[2] = {0.0f, 0.0f};
    loss_compute(d, &st, lp, lg, w1, a1, off1, 2, &p);
    CHECK_CLOSE(d[0], -1.0003, 1e-6, "gspo default range keeps s=1.0003");
    CHECK(d[1] == 0.0f && st.n_clipped == 1, "gspo default range clips s=1.0005", "dlogp %g clipped %ld",
          (double)d[1], st.n_clipped);
}

static void test_reinforce(void)
{
    /* dJ/dlogp = w A: 0.1, 0.1, 0.4, -0.2, -0.1, 0.2.
     * J = sum w A logp = L(-0.1 - 0.1 - 0.4 + 0.4 + 0.2 - 0.4) = -0.4 L; Loss 0.4 ln 2. */
    float d[NTOK];
    LossStats st = run(LOSS_REINFORCE, d, NULL);
    const double want[NTOK] = {-0.1, -0.1, -0.4, 0.2, 0.1, -0.2};
    check_grads("reinforce", d, want);
    CHECK_CLOSE(st.loss, 0.4 * log(2.0), 1e-6, "reinforce loss value");
    CHECK(st.n_clipped == 0, "reinforce never clips", "n_clipped %ld", st.n_clipped);
}

/* Central differences of Loss in each logp_t, over the float values actually stored (so input
 * rounding does not enter). For cispo the ratio is a stop-gradient: logp_gen_t moves with logp_t
 * so r stays fixed and only the log-prob factor is differentiated. Step 2^-10: truncation error
 * h^2/6 * |d3 Loss| <= 2e-7 * |w A r| here (r <= 5), and double evaluation of O(1) losses
 * leaves ~1e-13 / 2e-3; tolerance 2e-6 covers that plus dlogp's float rounding (6e-8 relative). */
static void test_finite_differences(void)
{
    const LossKind kinds[] = {LOSS_CISPO, LOSS_DAPO, LOSS_GRPO, LOSS_GSPO, LOSS_REINFORCE};
    const char *names[] = {"cispo", "dapo", "grpo", "gspo", "reinforce"};
    for (int k = 0; k < 5; k++) {
        LossParams p;
        loss_params_default(&p, kinds[k]);
        if (kinds[k] == LOSS_GSPO) p.gspo_eps_low = 0.2, p.gspo_eps_high = 0.3;
        /* gspo: c0 with A < 0, so a multi-token sequence is unclipped and every token's
         * dependence on s is exercised. */
        float adv[NSEQ];
        memcpy(adv, ADV, sizeof adv);
        if (kinds[k] == LOSS_GSPO) adv[0] = -1.0f;
        float logp[NTOK], logp_gen[NTOK], d[NTOK], scratch[NTOK];
        batch_logp(logp, logp_gen);
        loss_compute(d, NULL, logp, logp_gen, W, adv, OFF, NSEQ, &p);
        double worst = 0.0;
        for (int t = 0; t < NTOK; t++) {
            float lp0 = logp[t], lg0 = logp_gen[t];
            /* A power-of-two step keeps lp0 +- h and lg0 +- h exact in float (|values| < 4), so
             * cispo's ratio is held exactly. */
            float xp = lp0 + 0x1p-10f, xm = lp0 - 0x1p-10f;
            LossStats sp, sm;
            logp[t] = xp;
            if (kinds[k] == LOSS_CISPO) logp_gen[t] = lg0 + (xp - lp0);
            loss_compute(scratch, &sp, logp, logp_gen, W, adv, OFF, NSEQ, &p);
            logp[t] = xm;
            if (kinds[k] == LOSS_CISPO) logp_gen[t] = lg0 + (xm - lp0);
            loss_compute(scratch, &sm, logp, logp_gen, W, adv, OFF, NSEQ, &p);
            logp[t] = lp0;
            logp_gen[t] = lg0;
            double fd = (sp.loss - sm.loss) / ((double)xp - (double)xm);
            worst = fmax(worst, fabs(fd - d[t]));
        }
        char label[96];
        snprintf(label, sizeof label, "%s dlogp matches finite differences", names[k]);
        CHECK(worst <= 2e-6, label, "worst |fd - dlogp| %.3g > 2e-6", worst);
    }
}

/* CISPO's ratio carries no gradient. A gradient through r would give
 * d/dlogp [r A logp] = r A (1 + logp), not r A. We check that dlogp is -w min(r, eps) A, and that
 * moving logp_gen changes dlogp only through the coefficient: scaled by exactly r'/r for an
 * untruncated token, unchanged for a truncated one. */
static void test_cispo_stop_gradient(void)
{
    LossParams p;
    loss_params_default(&p, LOSS_CISPO);
    const int off[3] = {0, 1, 2};
    const float adv[2] = {1.0f, 1.0f}, w[2] = {0.5f, 0.5f};
    /* token 0: r = 1.5 (untruncated); token 1: r = 6 (truncated at 4); logp = ln(1/2). */
    const float logp[2] = {(float)log(0.5), (float)log(0.5)};
    float lg[2] = {(float)log(0.5 / 1.5), (float)log(0.5 / 6.0)};
    float d0[2], d1[2];
    loss_compute(d0, NULL, logp, lg, w, adv, off, 2, &p);
    /* Tolerance 1e-6: r from float logs is off by ~1e-7 relative. */
    CHECK_CLOSE(d0[0], -0.5 * 1.5, 1e-6, "cispo dlogp = -w r A below eps_max");
    CHECK_CLOSE(d0[1], -0.5 * 4.0, 1e-6, "cispo dlogp = -w eps_max A when truncated");
    CHECK(fabs(d0[0] - (-0.5 * 1.5 * (1.0 + log(0.5)))) > 0.1, "cispo has no d/dlogp of the ratio",
          "dlogp %g equals the gradient-through-ratio value", (double)d0[0]);
    /* Move logp_gen down by 0.1 (r grows by e^0.1 ~ 1.105; token 1 stays truncated). */
    float lg2[2] = {lg[0] - 0.1f, lg[1] - 0.1f};
    loss_compute(d1, NULL, logp, lg2, w, adv, off, 2, &p);
    double scale = exp((double)lg[0] - (double)lg2[0]);
    CHECK_CLOSE(d1[0] / d0[0], scale, 1e-6, "cispo: logp_gen moves dlogp only through r");
    CHECK(d1[1] == d0[1], "cispo: truncated token ignores logp_gen", "%g vs %g", (double)d1[1], (double)d0[1]);
}

/* On-policy (logp == logp_gen, r = 1), every ratio loss reduces to REINFORCE's gradient -w A. */
static void test_on_policy_agreement(void)
{
    const LossKind kinds[] = {LOSS_CISPO, LOSS_DAPO, LOSS_GRPO, LOSS_GSPO, LOSS_REINFORCE};
    float logp[NTOK], logp_gen[NTOK], d[NTOK];
    batch_logp(logp, logp_gen);
    double worst = 0.0, kl = 0.0;
    long clipped = 0;
    for (int k = 0; k < 5; k++) {
        LossParams p;
        loss_params_default(&p, kinds[k]);
        LossStats st;
        loss_compute(d, &st, logp, logp, W, ADV, OFF, NSEQ, &p);
        for (int i = 0; i < NSEQ; i++)
            for (int t = OFF[i]; t < OFF[i + 1]; t++) worst = fmax(worst, fabs(d[t] + W[t] * ADV[i]));
        kl = fmax(kl, st.mismatch_kl);
        clipped += st.n_clipped;
    }
    /* Exact: r = exp(0) = 1 and every product is of floats times 1. */
    CHECK(worst == 0.0, "on-policy gradients equal -w A for every loss", "worst diff %g", worst);
    CHECK(kl == 0.0 && clipped == 0, "on-policy: no mismatch, no clipping", "kl %g clipped %ld", kl, clipped);
}

/* Tokens with zero weight (dropped completions) get no gradient and stay out of the stats. */
static void test_zero_weight(void)
{
    float w[NTOK];
    memcpy(w, W, sizeof w);
    w[2] = 0.0f; /* drop c1, the truncated token */
    float logp[NTOK], logp_gen[NTOK], d[NTOK];
    batch_logp(logp, logp_gen);
    LossParams p;
    loss_params_default(&p, LOSS_CISPO);
    LossStats st;
    loss_compute(d, &st, logp, logp_gen, w, ADV, OFF, NSEQ, &p);
    CHECK(d[2] == 0.0f && st.n_tokens == 5 && st.n_clipped == 0, "zero-weight tokens: no gradient, no stats",
          "dlogp %g n_tokens %ld n_clipped %ld", (double)d[2], st.n_tokens, st.n_clipped);
}

static void test_params(void)
{
    char err[ERR_LEN];
    LossParams p;
    loss_params_default(&p, LOSS_CISPO);
    CHECK(p.cispo_eps_max == 4.0 && p.eps_low == 0.2 && p.eps_high == 0.26 && p.gspo_eps_low == 3e-4 &&
              p.gspo_eps_high == 4e-4,
          "loss defaults", "eps_max %g eps %g/%g gspo %g/%g", p.cispo_eps_max, p.eps_low, p.eps_high,
          p.gspo_eps_low, p.gspo_eps_high);
    loss_params_default(&p, LOSS_GRPO);
    CHECK(p.eps_low == 0.2 && p.eps_high == 0.2, "grpo defaults 0.2/0.2", "%g/%g", p.eps_low, p.eps_high);
    CHECK(loss_params_check(&p, err) == 0, "defaults pass the check", "%s", err);
    p.cispo_eps_max = 0.0;
    CHECK(loss_params_check(&p, err) == 1 && strstr(err, "cispo_eps_max"), "eps_max 0 rejected", "err '%s'", err);
    loss_params_default(&p, LOSS_DAPO);
    p.eps_low = 1.0;
    CHECK(loss_params_check(&p, err) == 1 && strstr(err, "eps_low=1"), "eps_low 1 rejected", "err '%s'", err);
    loss_params_default(&p, LOSS_DAPO);
    p.gspo_eps_high = NAN;
    CHECK(loss_params_check(&p, err) == 1 && strstr(err, "gspo_eps_high"), "NaN rejected", "err '%s'", err);
    loss_params_default(&p, LOSS_DAPO);
    p.kind = (LossKind)7;
    CHECK(loss_params_check(&p, err) == 1 && strstr(err, "cispo|dapo"), "bad kind rejected", "err '%s'", err);
}

int main(void)
{
    test_cispo();
    test_dapo_grpo();
    test_gspo();
    test_reinforce();
    test_finite_differences();
    test_cispo_stop_gradient();
    test_on_policy_agreement();
    test_zero_weight();
    test_params();
    return test_main_result();
}
