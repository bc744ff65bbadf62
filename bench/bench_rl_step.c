/* Where the model time of one RL step goes, at the shapes of the reference workload (`scalerl
 * train task=sum:terms=3:digits=2 prompts_per_step=48 gens_per_prompt=16` on the default
 * d_model 64, 2-layer model): the generator decodes 768 completions of ~10 tokens after a
 * 10-token prompt in emulated bf16; the trainer runs its FP32 forward and backward over the ~70%
 * of them in groups with a reward signal, rows padded to the longest (T = 23, mean length ~19).
 *
 * The generator's loop is the rollout's (one decode_step per position over all sequences, a
 * kept cache), without its bookkeeping.
 *
 * Usage: build/bench/bench_rl_step [seconds_per_measurement [threads...]]
 * Prints milliseconds per phase (the fastest of several repetitions: on a shared machine other
 * processes only ever add time), for each thread count given (default 1 and 2). */
#include <stdio.h>
#include <stdlib.h>

#include "models/decode.h"
#include "models/model.h"
#include "models/rng.h"
#include "ref/util.h"
#include "tasks/tasks.h"

enum { N_COMPLETIONS = 768, PROMPT_LEN = 10, NEW_TOKENS = 10, TRAIN_ROWS = 544, TRAIN_T = 23 };

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

/* The generator's loop as ref/rollout.c runs it on one batch: a kept KV cache, one decode_step
 * over every sequence per position (prompt tokens fed one by one), a sample after the prompt. */
typedef struct {
    const Model *m;
    DecodeState *ds;
    int *prompts; /* (N_COMPLETIONS, PROMPT_LEN) */
    int *slots, *fed, *out;
    float *logits;
} Gen;

static void run_generate(void *p)
{
    Gen *g = p;
    const int V = g->m->cfg.vocab;
    for (int i = 0; i < N_COMPLETIONS; i++) decode_reset(g->ds, i);
    for (int pos = 0; pos < PROMPT_LEN + NEW_TOKENS - 1; pos++) {
        for (int i = 0; i < N_COMPLETIONS; i++)
            g->fed[i] = pos < PROMPT_LEN ? g->prompts[i * PROMPT_LEN + pos] : g->out[i];
        decode_step(g->ds, g->m->params, g->slots, g->fed, N_COMPLETIONS, (Precision){1, 0}, g->logits);
        if (pos < PROMPT_LEN - 1) continue;
        for (int i = 0; i < N_COMPLETIONS; i++) {
            float lp;
            g->out[i] = sample_token(g->logits + (size_t)i * V, V, 1.0f, rng_uniform(1, 1, (uint64_t)i, (uint64_t)pos),
                                     &lp);
        }
    }
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

    /* Generation: every completion runs its prompt and NEW_TOKENS samples (no stop token, so all
     * have the same length, as the mean completion of the workload). */
    Gen g = {.m = &m, .ds = decode_new(&cfg, N_COMPLETIONS, err),
             .prompts = malloc((size_t)N_COMPLETIONS * PROMPT_LEN * sizeof(int)),
             .slots = malloc((size_t)N_COMPLETIONS * sizeof(int)), .fed = malloc((size_t)N_COMPLETIONS * sizeof(int)),
             .out = malloc((size_t)N_COMPLETIONS * sizeof(int)),
             .logits = malloc((size_t)N_COMPLETIONS * V * sizeof(float))};
    if (!g.ds) die("decode state", err);
    /* Training rows: a prompt of PROMPT_LEN tokens, then a completion; the row's n - 1 inputs are
     * 16..22 tokens (mean 19), padded to TRAIN_T; targets at completion positions only. */
    const size_t NT = (size_t)TRAIN_ROWS * TRAIN_T;
    Train tr = {.m = &m, .tokens = malloc(NT * sizeof(int)), .targets = malloc(NT * sizeof(int)),
                .logp = malloc(NT * sizeof(float)), .ent = malloc(NT * sizeof(float)),
                .dlogp = malloc(NT * sizeof(float))};
    if (!g.prompts || !g.slots || !g.fed || !g.out || !g.logits || !tr.tokens || !tr.targets || !tr.logp || !tr.ent || !tr.dlogp)
        die("setup", "out of memory");
    for (int i = 0; i < N_COMPLETIONS; i++) {
        g.slots[i] = i;
        for (int t = 0; t < PROMPT_LEN; t++)
            g.prompts[i * PROMPT_LEN + t] =
                t == 0 ? 1 : 4 + (int)(rng_u64(7, 1, (uint64_t)i, (uint64_t)t) % (uint64_t)(V - 4));
    }
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
    printf("RL step shapes: generate %d x (%d prompt + %d new) tokens, bf16 body; train %d rows x T=%d "
           "(%ld scored), FP32\n",
           N_COMPLETIONS, PROMPT_LEN, NEW_TOKENS, TRAIN_ROWS, TRAIN_T, scored);
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
    decode_free(g.ds);
    free(g.prompts);
    free(g.slots);
    free(g.fed);
    free(g.out);
    free(g.logits);
    free(tr.tokens);
    free(tr.targets);
    free(tr.logp);
    free(tr.ent);
    free(tr.dlogp);
    model_free(&m);
    return 0;
}
