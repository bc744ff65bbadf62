/* Group statistics, zero-variance filtering and advantage normalization (formulas in the header). */
#include "ref/rl/advantage.h"

#include <math.h>
#include <string.h>

/* Mean and population std of one group's G rewards, and whether they are all exactly equal. */
static void group_moments(const float *r, int G, double *mean, double *std, int *all_equal)
{
    double sum = 0.0;
    int equal = 1;
    for (int j = 0; j < G; j++) {
        sum += r[j];
        if (r[j] != r[0]) equal = 0;
    }
    double m = sum / G, ss = 0.0;
    for (int j = 0; j < G; j++) ss += ((double)r[j] - m) * ((double)r[j] - m);
    *mean = m;
    *std = sqrt(ss / G);
    *all_equal = equal;
}

void advantages_compute(float *adv, unsigned char *kept, AdvStats *st, const float *reward, int n_groups,
                        int G, AdvNorm norm, int zero_var_filter)
{
    AdvStats s;
    memset(&s, 0, sizeof s);
    s.n_groups = n_groups;
    s.n_completions = n_groups * G;

    /* Pass 1: centered advantages, kept flags, and the sums the batch std needs. Advantages are
     * held in double until the final division so the batch normalizer sees unrounded values. */
    double reward_sum = 0.0, reward_sum_kept = 0.0, sq_sum_kept = 0.0;
    double w_sum = 0.0, w_sq_sum = 0.0; /* group normalization's weights 1/std_g */
    int n_weighted = 0;
    for (int g = 0; g < n_groups; g++) {
        const float *r = reward + (size_t)g * G;
        double mean, std;
        int all_equal;
        group_moments(r, G, &mean, &std, &all_equal);
        if (all_equal) {
            s.n_groups_zero_var++;
            if (r[0] >= 1.0f) s.n_groups_all_max++;
        }
        int keep = !(zero_var_filter && all_equal);
        for (int j = 0; j < G; j++) {
            size_t i = (size_t)g * G + j;
            double a = (double)r[j] - mean;
            reward_sum += r[j];
            kept[i] = (unsigned char)keep;
            if (!keep) {
                adv[i] = 0.0f;
                continue;
            }
            reward_sum_kept += r[j];
            sq_sum_kept += a * a;
            /* group and none are final here; batch is divided in pass 2. */
            adv[i] = (float)(norm == ADV_NORM_GROUP ? a / (std + ADV_STD_EPS) : a);
        }
        if (keep) {
            s.n_groups_kept++;
            s.n_completions_kept += G;
            if (std > 0.0) {
                const double w = 1.0 / (std + ADV_STD_EPS);
                w_sum += w;
                w_sq_sum += w * w;
                n_weighted++;
            }
        }
    }
    s.reward_mean = s.n_completions ? reward_sum / s.n_completions : 0.0;
    s.reward_mean_kept = s.n_completions_kept ? reward_sum_kept / s.n_completions_kept : 0.0;
    s.batch_std = s.n_completions_kept ? sqrt(sq_sum_kept / s.n_completions_kept) : 0.0;
    if (n_weighted >= 2) {
        const double mean_w = w_sum / n_weighted, var_w = w_sq_sum / n_weighted - mean_w * mean_w;
        s.group_weight_cv = var_w > 0.0 ? sqrt(var_w) / mean_w : 0.0;
    }

    /* Pass 2 (batch): recompute the centered advantage in double rather than dividing the
     * float already stored, so batch mode rounds once like the others. */
    if (norm == ADV_NORM_BATCH) {
        for (int g = 0; g < n_groups; g++) {
            const float *r = reward + (size_t)g * G;
            size_t base = (size_t)g * G;
            if (!kept[base]) continue;
            double mean, std;
            int all_equal;
            group_moments(r, G, &mean, &std, &all_equal);
            for (int j = 0; j < G; j++)
                adv[base + j] = (float)(((double)r[j] - mean) / (s.batch_std + ADV_STD_EPS));
        }
    }
    if (st) *st = s;
}
