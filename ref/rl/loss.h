/* The policy-gradient losses, as pure functions over flat per-token arrays.
 *
 * Inputs per token t of completion i (flattened at off[i]..off[i+1]-1, see ref/rl/aggregate.h):
 * logp_t (current policy, recomputed by the trainer in FP32), logp_gen_t (recorded by the
 * generator), the aggregation weight w_t (ref/rl/aggregate.h) and the completion's advantage A_i
 * (ref/rl/advantage.h). With d_t = logp_t - logp_gen_t the token ratio is r_t = exp(d_t).
 * The objective J = sum_t w_t * term_t is maximized; loss_compute returns Loss = -J and writes
 * dlogp_t = dLoss/dlogp_t, which is what model_backward takes. sg() is stop-gradient.
 *
 *   cispo:     term = sg(min(r, eps_max)) * A * logp
 *              dJ/dlogp = w * min(r, eps_max) * A; the ratio carries no gradient (MiniMax-M1,
 *              ScaleRL: truncated from above only, lower bound 0).
 *   dapo/grpo: term = min(r A, clip(r, 1 - eps_low, 1 + eps_high) A)        (PPO surrogate)
 *              dJ/dlogp = w * r * A where the unclipped branch is the min, else 0: the clip is
 *              active for A > 0 and r > 1 + eps_high, or A < 0 and r < 1 - eps_low (strict; on the
 *              boundary both branches agree and the gradient is kept). grpo is the same code with
 *              its own defaults (0.2 both sides); its sample aggregation is the recipe's business.
 *   gspo:      s_i = exp(mean over the completion's tokens of d_t)          (length-normalized)
 *              seq_term_i = min(s_i A, clip(s_i, 1 - gspo_eps_low, 1 + gspo_eps_high) A)
 *              Each sequence's term is spread over its tokens with the token weights, i.e.
 *              J = sum_i W_i * seq_term_i with W_i = sum of w_t over the completion's tokens (with
 *              sample aggregation W_i = 1/S: the GSPO paper's sequence mean).
 *              dJ/dlogp_t = W_i * A * s_i / n_i when the unclipped branch is the min, else 0.
 *   reinforce: term = A * logp, dJ/dlogp = w * A (no ratio, no clip).
 *
 * Statistics are over the tokens with w_t > 0 (the kept batch), unweighted:
 *   clip_frac   fraction of those tokens whose gradient the truncation or clip changed: cispo
 *               r > eps_max; dapo/grpo the clip conditions above; gspo every token of a
 *               sequence whose clip is active; reinforce 0.
 *   ratio_mean  mean of the token ratios r_t (token ratios for every loss, gspo included, so the
 *               metric means the same in every run); ratio_max their maximum.
 *   mismatch_kl mean of the k3 estimator r - 1 - log r = expm1(d) - d of KL(gen || train): the
 *               tokens were sampled from the generator, k3 is unbiased for that KL and never
 *               negative (Schulman's "Approximating KL divergence" note).
 * Sums are accumulated in double, in token order (deterministic). */
#ifndef SCALERL_LOSS_H
#define SCALERL_LOSS_H

/* Index order of LossKind, for OptSpec OPT_CHOICE tables: "cispo|dapo|grpo|gspo|reinforce". */
typedef enum { LOSS_CISPO = 0, LOSS_DAPO = 1, LOSS_GRPO = 2, LOSS_GSPO = 3, LOSS_REINFORCE = 4 } LossKind;
#define LOSS_KIND_CHOICES "cispo|dapo|grpo|gspo|reinforce"

typedef struct LossParams {
    LossKind kind;
    double cispo_eps_max;               /* cispo: truncation of r from above, > 0 */
    double eps_low, eps_high;           /* dapo, grpo: clip(r, 1 - eps_low, 1 + eps_high) */
    double gspo_eps_low, gspo_eps_high; /* gspo: clip(s, 1 - gspo_eps_low, 1 + gspo_eps_high) */
} LossParams;

/* Defaults (every field set, whatever the kind; the fields of other kinds are ignored):
 *   cispo_eps_max 4      ScaleRL found 4, 5 and 8 equivalent; the smallest bounds the variance most
 *   dapo  0.2 / 0.26     ScaleRL's DAPO comparison (the DAPO paper used 0.2 / 0.28)
 *   grpo  0.2 / 0.2      GRPO (DeepSeekMath)
 *   gspo  3e-4 / 4e-4    the GSPO paper (Zheng et al. 2025, arXiv 2507.18071)
 * The eps_low/eps_high fields hold grpo's values when kind is LOSS_GRPO, dapo's otherwise. */
void loss_params_default(LossParams *p, LossKind kind);
/* 0, or 1 with err (ERR_LEN bytes) naming the bad field and the accepted range:
 * cispo_eps_max > 0; eps_low, gspo_eps_low in [0, 1); eps_high, gspo_eps_high >= 0; all finite. */
int loss_params_check(const LossParams *p, char *err);

typedef struct {
    double loss;        /* -J */
    long n_tokens;      /* tokens with w > 0 */
    long n_clipped;
    double clip_frac;   /* n_clipped / n_tokens (0 when no tokens) */
    double ratio_mean, ratio_max;
    double mismatch_kl; /* mean k3 */
} LossStats;

/* Computes Loss and overwrites dlogp[off[0] .. off[n]-1] for n completions with advantages
 * adv[n]; dlogp is 0 wherever w is 0, except that under gspo every token of a sequence with
 * W_i > 0 takes the sequence's gradient (with ref/rl/aggregate.h's weights a completion's tokens are
 * all weighted or all not, so the two coincide). st may be NULL. No input may alias dlogp. */
void loss_compute(float *dlogp, LossStats *st, const float *logp, const float *logp_gen, const float *w,
                  const float *adv, const int *off, int n, const LossParams *p);

#endif
