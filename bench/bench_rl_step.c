/* Where the model time of one RL step goes, at the shapes of the reference workload (`scalerl
 * train task=sum:terms=3:digits=2 prompts_per_step=48 gens_per_prompt=16` on the default
 * d_model 64, 2-layer model): the generator (ref/rollout.c, as the trainer runs it) samples 48
 * groups of 16 completions of the task's 10-token prompts in emulated bf16, ~10 tokens each
 * (thinking cut at 8..11 tokens, 4 answer tokens: the untrained model would otherwise ramble);
 * the trainer runs its FP32 forward and backward over the ~70% of them in groups with a reward
 * signal, rows padded to the longest (T = 23, mean length ~19).
 *
 * Usage: build/bench/bench_rl_step [seconds_per_measurement [threads...]]
 * Prints milliseconds per phase (the fastest of several repetitions: on a shared machine other
 * processes only ever add time), for each thread count given (default 1 and 2). */
#include <stdio.h>
#include <stdlib.h>

#include "models/decode.h"
#include "models/model.h"
#include "models/rng.h"
#include "ref/args.h"
#include "ref/rollout.h"
#include "ref/util.h"
#include "tasks/tasks.h"

enum { GROUPS = 48, GROUP_SIZE = 16, PROMPT_LEN = 10, TRAIN_ROWS = 544, TRAIN_T = 23 };

typedef void (*BenchFn)(void *ctx);

/* Seconds per call of fn: one warm-up call, then at least 3 calls and at least `seconds` in all;
 * the fastest counts. */
static double time_it(BenchFn fn, void *ctx, double seconds)
{
    fn(ctx);
    double best = 1e300, t_start = wall_seconds();
    for (int reps = 0; reps < 3 || wall_seconds() - t_start < seconds; reps++) {
        double t0 = wall_seconds();
        fn(ctx);
        double t = wall_seconds() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_rl_step: %s: %s\n", what, err);
    exit(1);
}

/* One batch through a kept generator, as the trainer's: GROUPS groups queued, decode steps until
 * all are done, the groups released. Returns the mean completion length. */
typedef struct {
    const Model *m;
    Generator *gen;
    const TaskSplit *split;
    double mean_len;
} Gen;

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
    long len = 0;
    for (int i = 0; i < n; i++) {
        const Group *gr = gen_group(g->gen, done[i]);
        for (int q = 0; q < GROUP_SIZE; q++) len += gr->c[q].n - gr->c[q].n_prompt;
        gen_release(g->gen, done[i]);
    }
    g->mean_len = (double)len / (GROUPS * GROUP_SIZE);
}

typedef struct {
    Model *m;
    int *tokens, *targets;
    float *logp, *ent, *dlogp;
} Train;

static void run_forward(void *p)
{
    Train *t = p;
    char err[MODEL_ERR_LEN];
    if (model_forward(t->m, t->tokens, t->targets, TRAIN_ROWS, TRAIN_T, 1.0f, (Precision){0, 0}, t->logp, t->ent,
                      err))
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
    int threads[8] = {1, 2}, n_threads = 2;
    if (argc > 2) {
        n_threads = 0;
        for (int i = 2; i < argc && n_threads < 8; i++) {
            threads[n_threads] = atoi(argv[i]);
            if (threads[n_threads] < 1 || threads[n_threads] > 64) {
                fprintf(stderr, "bench_rl_step: bad thread count '%s': expected 1..64\n", argv[i]);
                return 1;
            }
            n_threads++;
        }
    }
    const ModelConfig cfg = {.vocab = tok_vocab_size(), .ctx = 64, .d_model = 64, .n_layer = 2, .n_head = 4,
                             .d_ff = 256};
    char err[MODEL_ERR_LEN];
    Model m;
    if (model_create(&m, &cfg, 1, err)) die("model", err);
    const int V = cfg.vocab;

    TaskSpec *spec;
    TaskSplit *split;
    char terr[ERR_LEN];
    if (task_spec_parse("sum:terms=3:digits=2", &spec, terr) || split_new(spec, 1, GROUPS, &split, terr))
        die("task", terr);
    const GenConfig gc = {.mcfg = cfg, .G = GROUP_SIZE, .max_groups = GROUPS, .slots = GROUPS * GROUP_SIZE,
                          .temperature = 1.0f, .prec = {1, 0}, .seed = 1, .stream = 1, .length = LENGTH_INTERRUPT,
                          .think_lo = 8, .think_hi = 11, .answer_budget = 4, .penalty_cache = 0};
    Gen g = {.m = &m, .gen = gen_new(&gc, terr), .split = split};
    if (!g.gen) die("generator", terr);
    run_generate(&g);
    /* Training rows: a prompt of PROMPT_LEN tokens, then a completion; the row's n - 1 inputs are
     * 16..22 tokens (mean 19), padded to TRAIN_T; targets at completion positions only. */
    const size_t NT = (size_t)TRAIN_ROWS * TRAIN_T;
    Train tr = {.m = &m, .tokens = malloc(NT * sizeof(int)), .targets = malloc(NT * sizeof(int)),
                .logp = malloc(NT * sizeof(float)), .ent = malloc(NT * sizeof(float)),
                .dlogp = malloc(NT * sizeof(float))};
    if (!tr.tokens || !tr.targets || !tr.logp || !tr.ent || !tr.dlogp)
        die("setup", "out of memory");
    long scored = 0;
    for (int r = 0; r < TRAIN_ROWS; r++) {
        const int len = 16 + (int)(rng_u64(7, 2, (uint64_t)r, 0) % 7);
        for (int t = 0; t < TRAIN_T; t++) {
            const size_t at = (size_t)r * TRAIN_T + (size_t)t;
            tr.tokens[at] = t == 0 ? 1 : t < len ? 4 + (int)(rng_u64(7, 3, (uint64_t)r, (uint64_t)t) % (uint64_t)(V - 4)) : 0;
            tr.targets[at] = t >= PROMPT_LEN - 1 && t < len ? 4 + (int)(rng_u64(7, 4, (uint64_t)r, (uint64_t)t) % (uint64_t)(V - 4)) : -1;
            tr.dlogp[at] = tr.targets[at] >= 0 ? 1e-3f : 0.0f;
            scored += tr.targets[at] >= 0;
        }
    }
    printf("RL step shapes: generate %d x %d completions (10-token prompts, %.1f new tokens), bf16 body; "
           "train %d rows x T=%d (%ld scored), FP32\n",
           GROUPS, GROUP_SIZE, g.mean_len, TRAIN_ROWS, TRAIN_T, scored);
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
