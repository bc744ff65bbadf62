/* Advantages and zero-variance filtering for one RL batch.
 *
 * A batch is n_groups groups (one per prompt) of G completions each; completion i (0..N-1,
 * N = n_groups*G) belongs to group i / G and has a reward reward[i] (0/1 from the verifier,
 * possibly adjusted by the length penalty, ref/rl/length_penalty.h).
 *
 * Zero-variance filtering: a group whose G rewards are all exactly equal carries no signal. With
 * zero_var_filter=1 it is dropped: kept[i] = 0 and adv[i] = 0 for its completions, and it is left
 * out of every normalizer (the batch std below, and the aggregation denominators of
 * ref/rl/aggregate.h, which read kept[]). With zero_var_filter=0 every group is kept; an all-equal
 * group then has advantage 0 anyway, but it counts in the normalizers.
 *
 * Advantages, for a kept completion i of group g:
 *     A_i = r_i - mean_g                        (mean over the G rewards of group g)
 *     batch: A_i / (std_batch + ADV_STD_EPS)    std_batch = sqrt(mean over kept completions of A_j^2),
 *                                               the population std of the centered advantages of
 *                                               the kept batch (their mean is 0 by construction)
 *     group: A_i / (std_g + ADV_STD_EPS)        std_g = population std of group g's G rewards
 *     none:  A_i
 * Population (divide by n) rather than sample (n-1) standard deviations: the paper does not say;
 * for 0/1 rewards the population std of a group is sqrt(p(1-p)), the Bernoulli std.
 * Sums are accumulated in double. */
#ifndef SCALERL_ADVANTAGE_H
#define SCALERL_ADVANTAGE_H

/* Added to the standard deviation before dividing, so that a group or batch with (near) zero
 * spread gives finite advantages. Far below the smallest nonzero std of G <= 1024 0/1 rewards
 * (sqrt((G-1))/G >= 0.03), so it never changes a real signal measurably. */
#define ADV_STD_EPS 1e-6

/* Index order of AdvNorm, for OptSpec OPT_CHOICE tables: "batch|group|none". */
typedef enum { ADV_NORM_BATCH = 0, ADV_NORM_GROUP = 1, ADV_NORM_NONE = 2 } AdvNorm;
#define ADV_NORM_CHOICES "batch|group|none"

typedef struct {
    int n_groups, n_completions;     /* the whole batch */
    int n_groups_kept, n_completions_kept;
    int n_groups_zero_var;           /* groups whose rewards were all equal (kept or not) */
    int n_groups_all_max;            /* of those, groups whose common reward is >= 1 (all solved) */
    double reward_mean;              /* over all N completions, kept or not */
    double reward_mean_kept;         /* over kept completions (0 when none) */
    double batch_std;                /* std_batch above, computed in every mode, for the metrics */
    /* How unequally group normalization weighs the kept groups that have spread: the coefficient
     * of variation (population sd over mean) of their weights 1/std_g, computed in every mode.
     * Group and batch normalization differ in these weights and in one scale per step, which
     * Adam's per-parameter normalization largely absorbs; so at 0 the two give nearly the same
     * update. At G = 16 with 0/1 rewards a weight runs from 2 (8 of 16 correct) to 4.1 (1 of
     * 16). 0 when fewer than two groups have spread. */
    double group_weight_cv;
} AdvStats;

/* Fills adv[N], kept[N] (1 kept, 0 dropped) and *st (may be NULL) from reward[N].
 * n_groups >= 0, G >= 1. Pure function of its inputs. */
void advantages_compute(float *adv, unsigned char *kept, AdvStats *st, const float *reward, int n_groups,
                        int G, AdvNorm norm, int zero_var_filter);

#endif
