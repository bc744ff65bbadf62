/* The trainer's step (ref/rl/step.h) on a batch made by hand, without a generator or schedule:
 * what step_prepare measures (rows, trained tokens, staleness histogram, FLOPs, kept groups) and
 * that step_apply moves the weights only when a group carries a signal. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "ref/common/args.h"
#include "ref/rl/step.h"
#include "tasks/tasks.h"
#include "tests/test.h"

enum { G = 4, GROUPS = 2, CTX = 16, NP = 3 };

typedef struct {
    Group g[GROUPS];
    Completion c[GROUPS][G];
    int tok[GROUPS][G][CTX], ver[GROUPS][G][CTX];
    float logp[GROUPS][G][CTX];
    unsigned char forced[GROUPS][G][CTX];
} Batch;

/* Completion (j, q): a 3-token prompt, then 2 + q sampled tokens, the first of them (position
 * NP) produced by version `v0`, the rest by v0 + 1; in group 0 rewards 1, 0, 1, 0 (a signal), in
 * group 1 `g1_reward` for all (zero variance). */
static void make_batch(Batch *b, int v0, float g1_reward)
{
    memset(b, 0, sizeof *b);
    for (int j = 0; j < GROUPS; j++) {
        b->g[j].c = b->c[j];
        for (int q = 0; q < G; q++) {
            Completion *c = &b->c[j][q];
            c->tok = b->tok[j][q];
            c->version = b->ver[j][q];
            c->logp = b->logp[j][q];
            c->forced = b->forced[j][q];
            c->n_prompt = NP;
            c->n = NP + 2 + q;
            for (int p = 0; p < c->n; p++) {
                c->tok[p] = 3 + (p * 5 + q + j) % 7;
                c->logp[p] = p >= NP ? -1.5f : 0.0f;
                c->version[p] = p == NP ? v0 : v0 + 1;
            }
            c->reward = j == 0 ? (float)(q % 2 == 0) : g1_reward;
            c->correct = c->reward > 0.5f;
        }
    }
}

int main(void)
{
    char err[ERR_LEN];
    Args a;
    TrainConfig cfg;
    char *argv[] = {"base=unused.ckpt", "out=unused"};
    if (args_parse(&a, "train", 2, argv, err) || recipe_resolve(&cfg, &a, err)) {
        printf("FAIL config: %s\n", err);
        return 1;
    }
    cfg.gens_per_prompt = G;
    cfg.warmup = 0;
    cfg.lr = 1e-3;
    const ModelConfig mc = {.vocab = tok_vocab_size(), .ctx = CTX, .d_model = 16, .n_layer = 1, .n_head = 2, .d_ff = 32};
    Model m;
    TrainStep ts;
    if (model_create(&m, &mc, 3, err) || step_init(&ts, &cfg, &mc, GROUPS, err)) {
        printf("FAIL setup: %s\n", err);
        return 1;
    }
    static Batch b;
    make_batch(&b, 5, 1.0f);
    const Group *groups[GROUPS] = {&b.g[0], &b.g[1]};
    StepStats s;
    step_prepare(&ts, groups, GROUPS, 8, &s);
    /* Group 0 is kept (4 rows, 2+3+4+5 = 14 sampled tokens), group 1 dropped. Staleness at step 8:
     * the first sampled token of each completion is 8 - 5 = 3 versions old, the others 2. */
    double flops = 0;
    for (int q = 0; q < G; q++)
        for (int p = 0; p < NP + 2 + q - 1; p++) flops += 3.0 * model_flops_token(&mc, p);
    CHECK(s.rows == 4 && s.tokens == 14 && s.adv.n_groups_kept == 1 && s.adv.n_groups_zero_var == 1,
          "prepare: rows and trained tokens of the kept group only", "rows %ld tokens %ld kept %d zero-var %d", s.rows,
          s.tokens, s.adv.n_groups_kept, s.adv.n_groups_zero_var);
    CHECK(s.stale_hist[3] == 4 && s.stale_hist[2] == 10 && s.stale_max == 3 && fabs(s.stale_mean - 32.0 / 14) < 1e-12,
          "prepare: per-token staleness histogram, mean and max", "hist[2] %ld hist[3] %ld max %ld mean %g",
          s.stale_hist[2], s.stale_hist[3], s.stale_max, s.stale_mean);
    CHECK(s.multi_version == 4, "prepare: completions spanning two versions counted", "%ld", s.multi_version);
    /* FLOPs are summed in the same order on both sides: equal to the last bit. */
    CHECK(s.flops == flops, "prepare: trainer FLOPs = 3 x forward FLOPs of the kept rows' positions",
          "got %.17g want %.17g", s.flops, flops);
    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));
    const int rc = step_apply(&ts, &m, &s, err);
    size_t moved = 0;
    for (size_t i = 0; i < m.n_params; i++) moved += m.params[i] != before[i];
    CHECK(rc == 0 && isfinite(s.grad_norm) && s.grad_norm > 0 && moved > m.n_params / 2,
          "apply: a batch with a signal moves the weights", "rc %d grad norm %g, %zu of %zu weights moved", rc,
          s.grad_norm, moved, m.n_params);
    /* Both groups zero-variance: nothing to learn, no update at all. */
    make_batch(&b, 5, 1.0f);
    for (int q = 0; q < G; q++) b.c[0][q].reward = 0.0f;
    memcpy(before, m.params, m.n_params * sizeof(float));
    step_prepare(&ts, groups, GROUPS, 9, &s);
    CHECK(step_apply(&ts, &m, &s, err) == 0 && s.rows == 0 && memcmp(before, m.params, m.n_params * sizeof(float)) == 0,
          "apply: no signal, no update", "rows %ld", s.rows);
    free(before);
    step_free(&ts);
    model_free(&m);
    return test_main_result();
}
