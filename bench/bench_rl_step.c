/* Where the time of one RL step goes, at the reference workload (`scalerl train
 * task=sum:terms=3:digits=2 prompts_per_step=48 gens_per_prompt=16`, d_model 64, 2 layers):
 *   generate  the generator (ref/rl/rollout.c, kept across steps as the trainer keeps it) samples 48
 *             groups of 16 completions of the task's 10-token prompts, bf16 body;
 *   forward   the trainer's FP32 forward over the completions of the first 34 groups (the ~70%
 *             that carry a reward signal in the real run), as the trainer lays them out (ref/rl/rows.h):
 *             inputs tok[0..n-2] padded to the longest, targets at the sampled positions;
 *   backward  its backward.
 * With a checkpoint (what `scalerl pretrain task=sum:terms=3:digits=2` writes) the completions are
 * the real run's: ~10 tokens, many sharing their first tokens. Without one, an untrained model
 * with its thinking cut at 8..11 tokens and 4 answer tokens gives the same lengths, but random
 * tokens, so the trainer's rows share less than in the real run.
 *
 * Usage: build/bench/bench_rl_step [seconds_per_measurement [checkpoint|- [threads...]]]
 * Prints milliseconds per phase (the fastest of several repetitions: on a shared machine other
 * processes only ever add time), for each thread count given (default 1 and 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/checkpoint.h"
#include "models/decode.h"
#include "models/model.h"
#include "ref/rl/rollout.h"
#include "ref/rl/rows.h"
#include "bench/timing.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

enum { GROUPS = 48, GROUP_SIZE = 16, TRAIN_GROUPS = 34 };

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_rl_step: %s: %s\n", what, err);
    exit(1);
}

/* The training batch (B rows of T positions) the trainer would build from a generated batch. */
typedef struct {
    Model *m;
    int B, T;
    int *tokens, *targets;
    float *logp, *ent, *dlogp;
} Train;

/* One batch through the generator: GROUPS groups queued, decode steps until all are done; the
 * training batch is built from the first TRAIN_GROUPS groups (when train is not NULL), then the
 * groups are released. */
typedef struct {
    const Model *m;
    Generator *gen;
    const TaskSplit *split;
    Train *train;
    double mean_len;
} Gen;

static void build_train_batch(Train *tr, Generator *gen, const int *groups)
{
    int T = 1;
    for (int j = 0; j < TRAIN_GROUPS; j++)
        for (int q = 0; q < GROUP_SIZE; q++) {
            const Completion *c = &gen_group(gen, groups[j])->c[q];
            if (c->n - 1 > T) T = c->n - 1;
        }
    tr->B = TRAIN_GROUPS * GROUP_SIZE;
    tr->T = T;
    for (int j = 0; j < TRAIN_GROUPS; j++)
        for (int q = 0; q < GROUP_SIZE; q++) {
            const Completion *c = &gen_group(gen, groups[j])->c[q];
            const size_t row = (size_t)(j * GROUP_SIZE + q) * T;
            rows_pack(tr->tokens + row, tr->targets + row, c->tok, c->n, c->n_prompt, c->forced, T);
            for (int p = 0; p < T; p++) tr->dlogp[row + p] = tr->targets[row + p] >= 0 ? 1e-3f : 0.0f;
        }
}

static void run_generate(void *p)
{
    Gen *g = p;
    char err[ERR_LEN];
    for (int j = 0; j < GROUPS; j++)
        if (gen_add_group(g->gen, split_val(g->split, j), (uint64_t)j, 0, 0, err) < 0) die("generator", err);
    double flops = 0.0;
    while (gen_busy(g->gen) > 0) gen_step(g->gen, g->m->params, 0, &flops);
    int done[GROUPS];
    const int n = gen_take_finished(g->gen, done, GROUPS);
    if (n != GROUPS) die("generator", "a group did not finish");
    long len = 0;
    for (int i = 0; i < n; i++)
        for (int q = 0; q < GROUP_SIZE; q++) {
            const Completion *c = &gen_group(g->gen, done[i])->c[q];
            len += c->n - c->n_prompt;
        }
    g->mean_len = (double)len / (GROUPS * GROUP_SIZE);
    if (g->train) build_train_batch(g->train, g->gen, done);
    for (int i = 0; i < n; i++) gen_release(g->gen, done[i]);
}

static void run_forward(void *p)
{
    Train *t = p;
    char err[ERR_LEN];
    if (model_forward(t->m, t->tokens, t->targets, t->B, t->T, 1.0f, (Precision){0, 0}, t->logp, t->ent, err))
        die("forward", err);
}

static void run_backward(void *p)
{
    Train *t = p;
    model_zero_grad(t->m);
    model_backward(t->m, t->dlogp);
}

int main(int argc, char **argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds > 0.0) || seconds > 60.0) {
        fprintf(stderr, "bench_rl_step: bad seconds per measurement '%s': expected a number in (0, 60]\n", argv[1]);
        return 1;
    }
    const char *ckpt = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    int threads[8] = {1, 2}, n_threads = 2;
    if (argc > 3) {
        n_threads = 0;
        for (int i = 3; i < argc && n_threads < 8; i++) {
            threads[n_threads] = atoi(argv[i]);
            if (threads[n_threads] < 1 || threads[n_threads] > 64) {
                fprintf(stderr, "bench_rl_step: bad thread count '%s': expected 1..64\n", argv[i]);
                return 1;
            }
            n_threads++;
        }
    }
    char err[CHECKPOINT_META_MAX > ERR_LEN ? CHECKPOINT_META_MAX : ERR_LEN];
    Model m;
    if (ckpt) {
        if (checkpoint_load(ckpt, &m, NULL, err)) die("checkpoint", err);
    } else {
        const ModelConfig cfg = {.vocab = tok_vocab_size(), .ctx = 64, .d_model = 64, .n_layer = 2, .n_head = 4,
                                 .d_ff = 256};
        if (model_create(&m, &cfg, 1, err)) die("model", err);
    }
    TaskSpec *spec;
    TaskSplit *split;
    if (task_spec_parse("sum:terms=3:digits=2", &spec, err) || split_new(spec, 1, GROUPS, &split, err))
        die("task", err);
    /* The trainer's defaults with a trained model (think 24..32, answer 8); cut short without. */
    const GenConfig gc = {.mcfg = m.cfg, .G = GROUP_SIZE, .max_groups = GROUPS, .slots = GROUPS * GROUP_SIZE,
                          .temperature = 1.0f, .prec = {1, 0}, .seed = 1, .stream = 1, .length = LENGTH_INTERRUPT,
                          .think_lo = ckpt ? 24 : 8, .think_hi = ckpt ? 32 : 11, .answer_budget = ckpt ? 8 : 4,
                          .penalty_cache = 0};
    const size_t NT = (size_t)TRAIN_GROUPS * GROUP_SIZE * m.cfg.ctx;
    Train tr = {.m = &m, .tokens = malloc(NT * sizeof(int)), .targets = malloc(NT * sizeof(int)),
                .logp = malloc(NT * sizeof(float)), .ent = malloc(NT * sizeof(float)),
                .dlogp = malloc(NT * sizeof(float))};
    Gen g = {.m = &m, .gen = gen_new(&gc, err), .split = split, .train = &tr};
    if (!g.gen) die("generator", err);
    if (!tr.tokens || !tr.targets || !tr.logp || !tr.ent || !tr.dlogp) die("setup", "out of memory");
    run_generate(&g);
    g.train = NULL; /* the training batch stays the first one */
    long scored = 0, kept = 0;
    for (int r = 0; r < tr.B; r++) {
        int len = tr.T;
        while (len > 0 && tr.targets[(size_t)r * tr.T + len - 1] < 0) len--;
        kept += len;
        for (int t = 0; t < tr.T; t++) scored += tr.targets[(size_t)r * tr.T + t] >= 0;
    }
    printf("RL step (%s): generate %d x %d completions (10-token prompts, %.1f new tokens), bf16 body; "
           "train %d rows x T=%d (mean length %.1f, %ld scored), FP32\n",
           ckpt ? "trained model" : "untrained model", GROUPS, GROUP_SIZE, g.mean_len, tr.B, tr.T,
           (double)kept / tr.B, scored);
    printf("%7s %12s %12s %12s %12s\n", "threads", "generate ms", "forward ms", "backward ms", "total ms");
    for (int k = 0; k < n_threads; k++) {
        model_set_threads(threads[k]);
        const double tg = time_it(run_generate, &g, seconds);
        const double tf = time_it(run_forward, &tr, seconds);
        run_forward(&tr); /* the backward differentiates the last forward */
        const double tb = time_it(run_backward, &tr, seconds);
        printf("%7d %12.1f %12.1f %12.1f %12.1f\n", threads[k], 1e3 * tg, 1e3 * tf, 1e3 * tb, 1e3 * (tg + tf + tb));
        printf("RESULT kind=rl_step threads=%d generate_ms=%.2f forward_ms=%.2f backward_ms=%.2f\n", threads[k],
               1e3 * tg, 1e3 * tf, 1e3 * tb);
    }
    gen_free(g.gen);
    split_free(split);
    task_spec_free(spec);
    free(tr.tokens);
    free(tr.targets);
    free(tr.logp);
    free(tr.ent);
    free(tr.dlogp);
    model_free(&m);
    return 0;
}
