/* Advantages, zero-variance filtering, aggregation weights and the length penalty, on
 * hand-worked batches. */
#include <math.h>
#include <string.h>

#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/length_penalty.h"
#include "tests/test.h"

/* The hand batch: 3 groups of G = 4.
 *   g0: 1 0 0 0   mean 1/4, centered ( 3/4, -1/4, -1/4, -1/4), group std sqrt(3/16) = 0.4330
 *   g1: 1 1 1 1   zero variance (all solved)
 *   g2: 1 1 0 0   mean 1/2, centered ( 1/2,  1/2, -1/2, -1/2), group std 1/2
 * Batch std with g1 dropped: sum of squares 9/16 + 3/16 + 4/4 = 7/4 over 8 kept completions,
 * sqrt(7/32) = 0.4677; with g1 kept (its centered values are 0): sqrt(7/48) = 0.3819.
 * Tolerance 1e-6 on advantages of size <= 2: float storage rounds at 1.2e-7 relative. */
static const float R[12] = {1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
static const double CENTERED[12] = {0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0, 0.5, 0.5, -0.5, -0.5};

static void check_adv(const char *name, const float *adv, const double *want, int n)
{
    double worst = 0.0;
    int at = 0;
    for (int i = 0; i < n; i++)
        if (fabs(adv[i] - want[i]) > worst) worst = fabs(adv[i] - want[i]), at = i;
    CHECK(worst <= 1e-6, name, "completion %d: got %.9g want %.9g", at, (double)adv[at], want[at]);
}

static void test_norm_modes(void)
{
    float adv[12];
    unsigned char kept[12];
    AdvStats st;
    double want[12];

    advantages_compute(adv, kept, &st, R, 3, 4, ADV_NORM_NONE, 1);
    check_adv("advantages none: r - group mean", adv, CENTERED, 12);
    CHECK(kept[4] == 0 && kept[5] == 0 && kept[6] == 0 && kept[7] == 0 && kept[0] && kept[11],
          "zero-variance group dropped, others kept", "kept %d %d %d", kept[0], kept[4], kept[11]);
    CHECK(st.n_groups_kept == 2 && st.n_completions_kept == 8 && st.n_groups_zero_var == 1 &&
              st.n_groups_all_max == 1,
          "advantage stats counts", "kept %d/%d zero_var %d all_max %d", st.n_groups_kept, st.n_completions_kept,
          st.n_groups_zero_var, st.n_groups_all_max);
    /* reward mean 7/12 over all; over kept (g0, g2) 3/8. */
    CHECK_CLOSE(st.reward_mean, 7.0 / 12.0, 1e-12, "reward mean over the batch");
    CHECK_CLOSE(st.reward_mean_kept, 3.0 / 8.0, 1e-12, "reward mean over kept");
    CHECK_CLOSE(st.batch_std, sqrt(7.0 / 32.0), 1e-12, "batch std without the zero-variance group");
    /* Group normalization's weights 1/std_g: 4/sqrt 3 (1 of 4) and 2 (2 of 4); the coefficient
     * of variation of two values is their difference over their sum, (2 - sqrt 3)^2 = 7 - 4 sqrt 3.
     * ADV_STD_EPS moves each weight by ~1e-5 of itself, hence tolerance 1e-5. */
    CHECK_CLOSE(st.group_weight_cv, 7.0 - 4.0 * sqrt(3.0), 1e-5, "group weights' coefficient of variation");

    advantages_compute(adv, kept, &st, R, 3, 4, ADV_NORM_BATCH, 1);
    for (int i = 0; i < 12; i++) want[i] = CENTERED[i] / (sqrt(7.0 / 32.0) + ADV_STD_EPS);
    check_adv("advantages batch: / std of kept batch", adv, want, 12);
    /* 0.75 / sqrt(7/32) = 1.6035675; ADV_STD_EPS lowers it by 3.4e-6, hence tolerance 1e-5. */
    CHECK_CLOSE(adv[0], 1.6035675, 1e-5, "advantage batch hand value 0.75/0.46771");

    advantages_compute(adv, kept, &st, R, 3, 4, ADV_NORM_GROUP, 1);
    for (int i = 0; i < 4; i++) want[i] = CENTERED[i] / (sqrt(3.0 / 16.0) + ADV_STD_EPS);
    for (int i = 4; i < 8; i++) want[i] = 0.0;
    for (int i = 8; i < 12; i++) want[i] = CENTERED[i] / (0.5 + ADV_STD_EPS);
    check_adv("advantages group: / std of own group", adv, want, 12);
    /* 0.75 / sqrt(3/16) = sqrt 3; 0.5 / 0.5 = 1; ADV_STD_EPS moves them by < 4e-6. */
    CHECK_CLOSE(adv[0], sqrt(3.0), 1e-5, "advantage group hand value sqrt 3");
    CHECK_CLOSE(adv[8], 1.0, 1e-5, "advantage group hand value 1");

    /* Filter off: all kept, g1's advantages 0, and it counts in the batch std: sqrt(7/48). */
    advantages_compute(adv, kept, &st, R, 3, 4, ADV_NORM_BATCH, 0);
    for (int i = 0; i < 12; i++) want[i] = CENTERED[i] / (sqrt(7.0 / 48.0) + ADV_STD_EPS);
    check_adv("filter off: zero-variance group counts in the batch std", adv, want, 12);
    CHECK(st.n_groups_kept == 3 && kept[5] == 1 && adv[5] == 0.0f, "filter off keeps every group",
          "kept groups %d", st.n_groups_kept);
}

/* Groups of equal spread weigh alike under group normalization (coefficient of variation 0), and
 * so does a batch with fewer than two groups that have spread; the zero-variance group is no
 * weight at all (it has no advantages to weigh). */
static void test_group_weight_cv_equal(void)
{
    const float same[12] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1};
    const float one[8] = {1, 0, 1, 0, 0, 0, 0, 0};
    float adv[12];
    unsigned char kept[12];
    AdvStats st;
    advantages_compute(adv, kept, &st, same, 3, 4, ADV_NORM_BATCH, 0);
    CHECK(st.group_weight_cv == 0.0, "group weights alike: cv 0", "got %.9g", st.group_weight_cv);
    advantages_compute(adv, kept, &st, one, 2, 4, ADV_NORM_GROUP, 1);
    CHECK(st.group_weight_cv == 0.0, "one group with spread: cv 0", "got %.9g", st.group_weight_cv);
}

/* A dropped group leaves the normalizers: the advantages of g0 and g2 are the same, bit for bit,
 * whether the batch also holds zero-variance groups (all solved or all failed) or not. */
static void test_zero_variance_leaves_normalizers(void)
{
    const float small[8] = {1, 0, 0, 0, 1, 1, 0, 0};
    const float big[16] = {0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0};
    float a_small[8], a_big[16];
    unsigned char k_small[8], k_big[16];
    AdvStats s_small, s_big;
    advantages_compute(a_small, k_small, &s_small, small, 2, 4, ADV_NORM_BATCH, 1);
    advantages_compute(a_big, k_big, &s_big, big, 4, 4, ADV_NORM_BATCH, 1);
    CHECK(memcmp(a_small, a_big + 4, 4 * sizeof(float)) == 0 && memcmp(a_small + 4, a_big + 12, 4 * sizeof(float)) == 0,
          "zero-variance groups leave the batch std", "a_small[0] %g a_big[4] %g", (double)a_small[0],
          (double)a_big[4]);
    CHECK(a_big[0] == 0.0f && a_big[8] == 0.0f && !k_big[0] && !k_big[8], "dropped groups get advantage 0",
          "%g %g", (double)a_big[0], (double)a_big[8]);
    CHECK(s_big.n_groups_zero_var == 2 && s_big.n_groups_all_max == 1, "all-failed and all-solved both counted",
          "zero_var %d all_max %d", s_big.n_groups_zero_var, s_big.n_groups_all_max);

    /* Aggregation denominators: the kept completions' weights do not change either. */
    const int off_small[9] = {0, 1, 3, 6, 7, 9, 10, 14, 15};
    int off_big[17] = {0};
    const int len_big[16] = {5, 5, 5, 5, 1, 2, 3, 1, 2, 2, 2, 2, 2, 1, 4, 1};
    for (int i = 0; i < 16; i++) off_big[i + 1] = off_big[i] + len_big[i];
    for (AggMode m = AGG_PROMPT; m <= AGG_TOKEN; m++) {
        float w_small[15], w_big[43]; /* 20 + 7 + 8 + 8 tokens */
        aggregation_weights(w_small, off_small, k_small, 2, 4, m);
        double sum = aggregation_weights(w_big, off_big, k_big, 4, 4, m);
        int same = memcmp(w_small, w_big + off_big[4], 7 * sizeof(float)) == 0 &&
                   memcmp(w_small + 7, w_big + off_big[12], 8 * sizeof(float)) == 0;
        double dropped = 0.0;
        for (int t = 0; t < off_big[4]; t++) dropped += w_big[t];
        for (int t = off_big[8]; t < off_big[12]; t++) dropped += w_big[t];
        char label[96];
        snprintf(label, sizeof label, "aggregation mode %d: dropped groups weigh 0, kept weights unchanged", (int)m);
        CHECK(same && dropped == 0.0 && fabs(sum - 1.0) < 1e-6, label, "same %d dropped %g sum %g", same, dropped, sum);
    }
}

/* Two groups of G = 2, all kept; completion lengths 2, 4 | 3, 1 (completion 1 is twice as long
 * as completion 0, in the same group).
 *   prompt: 2 prompts; g0 has 6 tokens: w = 1/(2*6) = 1/12; g1 has 4: w = 1/8.
 *           Tokens are equal within a group: completion 1 weighs twice completion 0 in total.
 *   sample: 4 completions: w = 1/(4 n_i) = 1/8, 1/16 | 1/12, 1/4. Completions are equal
 *           (each 1/4 in total): completion 1's tokens weigh half of completion 0's.
 *   token:  10 tokens: w = 1/10 everywhere.
 * Tolerance 1e-8: single float roundings of weights <= 1/4. */
static void test_aggregation_hand(void)
{
    const int off[5] = {0, 2, 6, 9, 10};
    const unsigned char kept[4] = {1, 1, 1, 1};
    const double want[3][10] = {
        {1. / 12, 1. / 12, 1. / 12, 1. / 12, 1. / 12, 1. / 12, 1. / 8, 1. / 8, 1. / 8, 1. / 8},
        {1. / 8, 1. / 8, 1. / 16, 1. / 16, 1. / 16, 1. / 16, 1. / 12, 1. / 12, 1. / 12, 1. / 4},
        {.1, .1, .1, .1, .1, .1, .1, .1, .1, .1},
    };
    const char *names[3] = {"aggregation prompt hand weights", "aggregation sample hand weights",
                            "aggregation token hand weights"};
    for (AggMode m = AGG_PROMPT; m <= AGG_TOKEN; m++) {
        float w[10];
        double sum = aggregation_weights(w, off, kept, 2, 2, m);
        double worst = 0.0;
        for (int t = 0; t < 10; t++) worst = fmax(worst, fabs(w[t] - want[m][t]));
        CHECK(worst <= 1e-8 && fabs(sum - 1.0) <= 1e-6, names[m], "worst %g sum %.9g", worst, sum);
    }
    /* Drop g1 (as the zero-variance filter would): prompt 1/6, sample 1/4 and 1/8, token 1/6. */
    const unsigned char half[4] = {1, 1, 0, 0};
    float w[10];
    aggregation_weights(w, off, half, 2, 2, AGG_PROMPT);
    CHECK_CLOSE(w[0], 1.0 / 6.0, 1e-8, "prompt weights with one group dropped");
    aggregation_weights(w, off, half, 2, 2, AGG_SAMPLE);
    CHECK(fabs(w[0] - 0.25) < 1e-8 && fabs(w[2] - 0.125) < 1e-8 && w[6] == 0.0f && w[9] == 0.0f,
          "sample weights with one group dropped", "%g %g %g", (double)w[0], (double)w[2], (double)w[6]);
    aggregation_weights(w, off, half, 2, 2, AGG_TOKEN);
    CHECK_CLOSE(w[5], 1.0 / 6.0, 1e-8, "token weights with one group dropped");
    /* Nothing kept: all weights 0, sum 0. */
    const unsigned char none[4] = {0, 0, 0, 0};
    double sum = aggregation_weights(w, off, none, 2, 2, AGG_SAMPLE);
    double total = 0.0;
    for (int t = 0; t < 10; t++) total += fabs(w[t]);
    CHECK(sum == 0.0 && total == 0.0, "nothing kept: zero weights", "sum %g total %g", sum, total);
    /* An empty completion is left out of the sample count, so the others still sum to 1:
     * lengths 2, 0 | 3, 1 -> S = 3. */
    const int off_empty[5] = {0, 2, 2, 5, 6};
    sum = aggregation_weights(w, off_empty, kept, 2, 2, AGG_SAMPLE);
    CHECK(fabs(sum - 1.0) < 1e-6 && fabs(w[0] - 1.0 / 6.0) < 1e-8, "empty completion leaves the sample count",
          "sum %g w0 %g", sum, (double)w[0]);
}

/* L_max 14, L_cache 2: free up to 12 tokens, linear to -1 at 14, -1 beyond. */
static void test_length_penalty(void)
{
    CHECK(overlong_penalty(0, 14, 2) == 0.0 && overlong_penalty(12, 14, 2) == 0.0, "no penalty up to L_max - L_cache",
          "%g %g", overlong_penalty(0, 14, 2), overlong_penalty(12, 14, 2));
    CHECK_CLOSE(overlong_penalty(13, 14, 2), -0.5, 1e-15, "penalty halfway through the cache");
    CHECK(overlong_penalty(14, 14, 2) == -1.0 && overlong_penalty(100, 14, 2) == -1.0, "penalty -1 at and beyond L_max",
          "%g %g", overlong_penalty(14, 14, 2), overlong_penalty(100, 14, 2));
    CHECK(length_penalized_reward(1.0f, 13, 14, 2) == 0.5f && length_penalized_reward(1.0f, 20, 14, 2) == 0.0f,
          "correct traces are penalized", "%g %g", (double)length_penalized_reward(1.0f, 13, 14, 2),
          (double)length_penalized_reward(1.0f, 20, 14, 2));
    CHECK(length_penalized_reward(0.0f, 20, 14, 2) == 0.0f, "wrong traces are not penalized", "%g",
          (double)length_penalized_reward(0.0f, 20, 14, 2));
    CHECK(overlong_penalty(14, 14, 0) == 0.0 && overlong_penalty(15, 14, 0) == -1.0, "L_cache 0 is a step at L_max",
          "%g %g", overlong_penalty(14, 14, 0), overlong_penalty(15, 14, 0));
}

int main(void)
{
    test_norm_modes();
    test_group_weight_cv_equal();
    test_zero_variance_leaves_normalizers();
    test_aggregation_hand();
    test_length_penalty();
    return test_main_result();
}
