/* The policy-gradient losses (formulas, gradients and statistics in the header). Token-level
 * losses share one loop: each kind only decides a token's objective term and its coefficient
 * c = dJ/dlogp / w. GSPO's ratio is per sequence, so it has its own loop. */
#include "ref/rl/loss.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"

void loss_params_default(LossParams *p, LossKind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->cispo_eps_max = 4.0;
    p->eps_low = 0.2;
    p->eps_high = kind == LOSS_GRPO ? 0.2 : 0.26;
    p->gspo_eps_low = 3e-4;
    p->gspo_eps_high = 4e-4;
}

int loss_params_check(const LossParams *p, char *err)
{
    if ((unsigned)p->kind > LOSS_REINFORCE) {
        snprintf(err, ERR_LEN, "bad loss kind %d: expected one of %s", (int)p->kind, LOSS_KIND_CHOICES);
        return 1;
    }
    struct {
        const char *name;
        double value, lo, hi;
        int hi_open;
    } f[] = {
        {"cispo_eps_max", p->cispo_eps_max, 0.0, INFINITY, 0},
        {"eps_low", p->eps_low, 0.0, 1.0, 1},
        {"eps_high", p->eps_high, 0.0, INFINITY, 0},
        {"gspo_eps_low", p->gspo_eps_low, 0.0, 1.0, 1},
        {"gspo_eps_high", p->gspo_eps_high, 0.0, INFINITY, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        double v = f[i].value;
        int ok = isfinite(v) && v >= f[i].lo && (f[i].hi_open ? v < f[i].hi : 1);
        if (i == 0) ok = ok && v > 0.0;
        if (!ok) {
            snprintf(err, ERR_LEN, "bad %s=%g: expected %s", f[i].name, v,
                     i == 0 ? "a finite number > 0" : f[i].hi_open ? "a number in [0, 1)" : "a finite number >= 0");
            return 1;
        }
    }
    return 0;
}

/* Running sums of the statistics, over tokens with w > 0. */
typedef struct {
    double loss, ratio_sum, ratio_max, kl_sum;
    long n_tokens, n_clipped;
} Accum;

static void accum_token(Accum *a, double d, int clipped)
{
    double r = exp(d);
    a->ratio_sum += r;
    if (a->n_tokens == 0 || r > a->ratio_max) a->ratio_max = r;
    a->kl_sum += expm1(d) - d;
    a->n_tokens++;
    a->n_clipped += clipped;
}

/* PPO's clipped surrogate for ratio x and advantage A: writes the term min(x A, clip(x) A) and
 * returns whether the clip is the min (the gradient through x is then 0). Used per token by
 * dapo/grpo and per sequence by gspo. */
static int ppo_surrogate(double x, double A, double lo, double hi, double *term)
{
    int clipped = (A > 0.0 && x > hi) || (A < 0.0 && x < lo);
    *term = clipped ? (A > 0.0 ? hi : lo) * A : x * A;
    return clipped;
}

/* cispo, dapo, grpo, reinforce: one pass over the tokens. */
static void token_losses(float *dlogp, Accum *acc, const float *logp, const float *logp_gen, const float *w,
                         const float *adv, const int *off, int n, const LossParams *p)
{
    for (int i = 0; i < n; i++) {
        const double A = adv[i];
        for (int t = off[i]; t < off[i + 1]; t++) {
            if (!(w[t] > 0.0f)) {
                dlogp[t] = 0.0f;
                continue;
            }
            const double d = (double)logp[t] - (double)logp_gen[t], r = exp(d);
            double term, coef; /* J_t = w term, dJ_t/dlogp = w coef */
            int clipped = 0;
            switch (p->kind) {
            case LOSS_CISPO: {
                double rt = r > p->cispo_eps_max ? p->cispo_eps_max : r;
                clipped = r > p->cispo_eps_max;
                term = rt * A * logp[t];
                coef = rt * A;
                break;
            }
            case LOSS_DAPO:
            case LOSS_GRPO:
                clipped = ppo_surrogate(r, A, 1.0 - p->eps_low, 1.0 + p->eps_high, &term);
                coef = clipped ? 0.0 : r * A;
                break;
            default: /* LOSS_REINFORCE */
                term = A * logp[t];
                coef = A;
                break;
            }
            acc->loss -= w[t] * term;
            dlogp[t] = (float)(-(double)w[t] * coef);
            accum_token(acc, d, clipped);
        }
    }
}

/* gspo: one ratio per sequence, its surrogate spread over the sequence's tokens by their weights. */
static void sequence_loss(float *dlogp, Accum *acc, const float *logp, const float *logp_gen, const float *w,
                          const float *adv, const int *off, int n, const LossParams *p)
{
    for (int i = 0; i < n; i++) {
        const int n_i = off[i + 1] - off[i];
        double W = 0.0, d_sum = 0.0;
        for (int t = off[i]; t < off[i + 1]; t++) {
            W += w[t];
            d_sum += (double)logp[t] - (double)logp_gen[t];
        }
        if (n_i <= 0 || !(W > 0.0)) {
            for (int t = off[i]; t < off[i + 1]; t++) dlogp[t] = 0.0f;
            continue;
        }
        const double A = adv[i], s = exp(d_sum / n_i);
        double term;
        int clipped = ppo_surrogate(s, A, 1.0 - p->gspo_eps_low, 1.0 + p->gspo_eps_high, &term);
        acc->loss -= W * term;
        const double coef = clipped ? 0.0 : A * s / n_i; /* ds/dlogp_t = s / n_i */
        for (int t = off[i]; t < off[i + 1]; t++) {
            /* Every token moves s, so every token of a weighted sequence gets its gradient. */
            dlogp[t] = (float)(-W * coef);
            if (w[t] > 0.0f) accum_token(acc, (double)logp[t] - (double)logp_gen[t], clipped);
        }
    }
}

void loss_compute(float *dlogp, LossStats *st, const float *logp, const float *logp_gen, const float *w,
                  const float *adv, const int *off, int n, const LossParams *p)
{
    Accum acc;
    memset(&acc, 0, sizeof acc);
    if (p->kind == LOSS_GSPO)
        sequence_loss(dlogp, &acc, logp, logp_gen, w, adv, off, n, p);
    else
        token_losses(dlogp, &acc, logp, logp_gen, w, adv, off, n, p);
    if (!st) return;
    memset(st, 0, sizeof *st);
    st->loss = acc.loss;
    st->n_tokens = acc.n_tokens;
    st->n_clipped = acc.n_clipped;
    if (acc.n_tokens > 0) {
        st->clip_frac = (double)acc.n_clipped / acc.n_tokens;
        st->ratio_mean = acc.ratio_sum / acc.n_tokens;
        st->ratio_max = acc.ratio_max;
        st->mismatch_kl = acc.kl_sum / acc.n_tokens;
    }
}
