/* One whole RL step of the default run, by phase, at the default recipe's settings (`scalerl train`
 * with no keys: the default task, 48 prompts x 16 completions, interruption length control, bf16
 * generator body, FP32 trainer, CISPO with prompt-level aggregation, batch advantage
 * normalization, zero-variance filtering, global-norm clipping, AdamW):
 *   generate  the generator of ref/rl/rollout.c samples the 48 x 16 completions (KV cache,
 *             temperature sampling, length control) and verifies them;
 *   train     the trainer's own step (ref/rl/step.h): step_prepare (rewards, advantages, the
 *             zero-variance filter, aggregation weights, rows) and step_apply (the FP32 forward
 *             over the kept completions, the CISPO loss, backward, clipping, AdamW).
 * Every timed call starts from the checkpoint's weights and moments (restored outside the timed
 * part), so every generation samples the same batch and every thread count times the same work.
 *
 * Usage: build/bench/bench_rl_step SECONDS CHECKPOINT [THREADS...] [dump=DIR] [only=PHASE] [KEY=VALUE...]
 * Prints milliseconds per phase for each thread count given (default 1 and 2), the fastest of
 * repeated calls (bench/timing.h). KEY=VALUE sets a `scalerl train` key over the defaults (presets
 * are not resolved), e.g. a smaller task for tests/test_bench.sh. only=generate|train times that phase alone (the other prints
 * 0), for a profiler: `perf record build/bench/bench_rl_step 10 CKPT 1 only=train`. dump=DIR also
 * writes DIR/batch.txt: the settings, the prompts, the first generated batch, and the loss and
 * gradient norm the step computes on it from the checkpoint's weights, for
 * bench/torch_rl_step.py to check its own step against (format below, at write_batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/timing.h"
#include "models/checkpoint.h"
#include "models/decode.h"
#include "models/model.h"
#include "models/optim.h"
#include "ref/common/args.h"
#include "ref/common/util.h"
#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/loss.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"
#include "ref/rl/runfiles.h"
#include "ref/rl/step.h"
#include "tasks/tasks.h"

enum { MAX_THREAD_COUNTS = 8 };

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_rl_step: %s: %s\n", what, err);
    exit(1);
}

typedef struct {
    TrainConfig c;
    Model m;
    float *base_params; /* the checkpoint's weights and moments, restored before every timed call */
    float *base_m, *base_v;
    long base_adam_step;
    TaskSpec *spec;
    TaskSplit *split;
    Problem *prompts; /* P */
    Generator *gen;
    TrainStep step;
    StepStats stats;
    int P, G, N;
    int *batch;              /* P: generator groups of the trained batch (the first one generated) */
    const Group **groups;    /* P: the same, as the step takes them */
    int *scratch_gi;         /* P: groups of a timed generation */
    int *finished;           /* 2P: gen_take_finished's */
} Bench;

static const Completion *completion(Bench *b, const int *groups, int i)
{
    return &gen_group(b->gen, groups[i / b->G])->c[i % b->G];
}

/* Queues the P prompts and decodes until every completion is verified; their groups go to gi. */
static void generate_into(Bench *b, int *gi)
{
    char err[ERR_LEN];
    for (int j = 0; j < b->P; j++)
        if ((gi[j] = gen_add_group(b->gen, &b->prompts[j], (uint64_t)j, (uint64_t)j, 0, err)) < 0)
            die("generator", err);
    while (gen_busy(b->gen) > 0) gen_step(b->gen, b->m.params, 0, NULL);
    if (gen_take_finished(b->gen, b->finished, 2 * b->P) != b->P) die("generator", "a group did not finish");
}

static void restore_weights(void *p)
{
    Bench *b = p;
    const size_t bytes = b->m.n_params * sizeof(float);
    memcpy(b->m.params, b->base_params, bytes);
    memcpy(b->m.adam_m, b->base_m, bytes);
    memcpy(b->m.adam_v, b->base_v, bytes);
    b->m.adam_step = b->base_adam_step;
}

static void run_generate(void *p)
{
    Bench *b = p;
    generate_into(b, b->scratch_gi);
    for (int j = 0; j < b->P; j++) gen_release(b->gen, b->scratch_gi[j]);
}

/* The trainer's step on the trained batch. The version is the end of the warmup, so that the
 * step runs at the peak learning rate. */
static void run_train(void *p)
{
    Bench *b = p;
    char err[ERR_LEN];
    step_prepare(&b->step, b->groups, b->P, b->c.warmup, &b->stats);
    if (step_apply(&b->step, &b->m, &b->stats, err)) die("train", err);
}

/* batch.txt, one record per line, fields separated by spaces:
 *   config KEY=VALUE ...                 the settings the step used
 *   vocab CHARS                          the tokenizer's characters, id order
 *   prompt J N_PROMPT TOK... ANSWER      prompt j's tokens (BOS first) and its answer text
 *   completion I N TOK... LOGP... FORCED... REWARD
 *                                        completion i (group i / G) as generated: all N tokens,
 *                                        prompt included; per token the generator's log-prob
 *                                        and whether length control forced it (0 at prompt
 *                                        positions); the verifier's reward
 *   result loss=L grad_norm=G rows=R tokens=E
 *                                        the step on this batch from the checkpoint's weights:
 *                                        the CISPO loss, the gradient norm before clipping, the
 *                                        trained rows and loss tokens (config's lr is the one
 *                                        the step used) */
static void write_batch(Bench *b, const char *dir)
{
    char err[ERR_LEN], path[OPT_STR_LEN + 16];
    if (mkdir_p(dir, err) || path_join(path, sizeof path, dir, "batch.txt", err)) die("dump", err);
    AtomicFile af;
    if (atomic_open(&af, path, err)) die("dump", err);
    FILE *f = af.f;
    const TrainConfig *c = &b->c;
    char name[64];
    fprintf(f, "config P=%d G=%d vocab=%d ctx=%d temperature=%.9g think_lo=%ld think_hi=%ld answer_budget=%ld",
            b->P, b->G, b->m.cfg.vocab, b->m.cfg.ctx, c->temperature, c->think_budget[0], c->think_budget[1],
            c->answer_budget);
    opts_choice_name(LOSS_KIND_CHOICES, c->loss, name, sizeof name);
    fprintf(f, " loss=%s eps_max=%.9g", name, c->eps_max);
    opts_choice_name(AGG_MODE_CHOICES, c->agg, name, sizeof name);
    fprintf(f, " agg=%s", name);
    opts_choice_name(ADV_NORM_CHOICES, c->adv_norm, name, sizeof name);
    fprintf(f, " adv_norm=%s zero_var_filter=%ld adv_std_eps=%.9g", name, c->zero_var_filter, ADV_STD_EPS);
    fprintf(f, " lr=%.9g beta1=%.9g beta2=%.9g adam_eps=%.9g weight_decay=%.9g grad_clip=%.9g\n", b->stats.lr,
            c->adam_beta1, c->adam_beta2, c->adam_eps, c->weight_decay, c->grad_clip);
    fprintf(f, "vocab ");
    for (int v = 0; v < b->m.cfg.vocab; v++) fputc(tok_char(v), f);
    fputc('\n', f);
    const Completion *first = NULL;
    for (int j = 0; j < b->P; j++) {
        first = &gen_group(b->gen, b->batch[j])->c[0];
        fprintf(f, "prompt %d %d", j, first->n_prompt);
        for (int q = 0; q < first->n_prompt; q++) fprintf(f, " %d", first->tok[q]);
        fprintf(f, " %s\n", b->prompts[j].answer);
    }
    for (int i = 0; i < b->N; i++) {
        const Completion *cp = completion(b, b->batch, i);
        fprintf(f, "completion %d %d", i, cp->n);
        for (int q = 0; q < cp->n; q++) fprintf(f, " %d", cp->tok[q]);
        for (int q = 0; q < cp->n; q++) fprintf(f, " %.9g", q < cp->n_prompt ? 0.0 : (double)cp->logp[q]);
        for (int q = 0; q < cp->n; q++) fprintf(f, " %d", q < cp->n_prompt ? 0 : cp->forced[q]);
        fprintf(f, " %.9g\n", (double)cp->reward);
    }
    fprintf(f, "result loss=%.17g grad_norm=%.17g rows=%ld tokens=%ld\n", b->stats.loss.loss, b->stats.grad_norm,
            b->stats.rows, b->stats.tokens);
    if (atomic_commit(&af, err)) die("dump", err);
}

static void *alloc_or_die(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("setup", "out of memory");
    return p;
}

static void setup(Bench *b, const TrainConfig *config, const char *ckpt)
{
    char err[CHECKPOINT_META_MAX > ERR_LEN ? CHECKPOINT_META_MAX : ERR_LEN];
    memset(b, 0, sizeof *b);
    b->c = *config;
    TrainConfig *c = &b->c;
    if (load_base_model(ckpt, &b->m, err)) die("checkpoint", err);
    b->P = (int)c->prompts_per_step;
    b->G = (int)c->gens_per_prompt;
    b->N = b->P * b->G;
    if (task_spec_parse(c->task, &b->spec, err) ||
        split_new(b->spec, (uint64_t)c->data_seed, (int)c->eval_n, &b->split, err))
        die("task", err);
    b->prompts = alloc_or_die((size_t)b->P * sizeof *b->prompts);
    for (int j = 0; j < b->P; j++) split_train_draw(b->split, (uint64_t)j, &b->prompts[j]);
    /* Room for two batches: the trained one stays while timed generations come and go. */
    GenConfig gc = gen_config_from_keys(&b->m.cfg, c->temperature, c->gen_precision, c->head, c->seed,
                                        GEN_STREAM_TRAIN, c->length, c->think_budget, c->answer_budget,
                                        c->penalty_cache);
    gc.G = b->G;
    gc.max_groups = 2 * b->P;
    gc.slots = b->N;
    if (gen_config_check(&gc, task_max_prompt_tokens(b->spec), err)) die("generator", err);
    if (!(b->gen = gen_new(&gc, err))) die("generator", err);
    if (step_init(&b->step, c, &b->m.cfg, b->P, err)) die("step", err);
    const size_t np = b->m.n_params * sizeof(float);
    b->base_params = alloc_or_die(np);
    b->base_m = alloc_or_die(np);
    b->base_v = alloc_or_die(np);
    memcpy(b->base_params, b->m.params, np);
    memcpy(b->base_m, b->m.adam_m, np);
    memcpy(b->base_v, b->m.adam_v, np);
    b->base_adam_step = b->m.adam_step;
    b->batch = alloc_or_die((size_t)b->P * sizeof(int));
    b->groups = alloc_or_die((size_t)b->P * sizeof *b->groups);
    b->scratch_gi = alloc_or_die((size_t)b->P * sizeof(int));
    b->finished = alloc_or_die((size_t)2 * b->P * sizeof(int));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_rl_step SECONDS CHECKPOINT [THREADS...] [dump=DIR] [only=PHASE] [KEY=VALUE...]\n");
        return 1;
    }
    const double seconds = atof(argv[1]);
    if (!(seconds > 0.0) || seconds > 60.0) {
        fprintf(stderr, "bench_rl_step: bad seconds per measurement '%s': expected a number in (0, 60]\n", argv[1]);
        return 1;
    }
    int threads[MAX_THREAD_COUNTS] = {1, 2}, n_threads = 0;
    const char *dump = NULL, *only = NULL;
    TrainConfig config;
    char err[ERR_LEN];
    if (opts_set_defaults(train_options(), &config, err)) die("defaults", err);
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "dump=", 5) == 0 || strncmp(argv[i], "only=", 5) == 0) {
            *(argv[i][0] == 'd' ? &dump : &only) = argv[i] + 5;
            continue;
        }
        const char *eq = strchr(argv[i], '=');
        if (eq) { /* a `scalerl train` key over the defaults */
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
            const OptSpec *spec = opts_find(train_options(), key);
            if (!spec) {
                fprintf(stderr, "bench_rl_step: unknown key '%s': expected a `scalerl train` key\n", key);
                return 1;
            }
            if (opts_set_value(spec, &config, eq + 1, err)) die("key", err);
            continue;
        }
        char *end;
        const long th = strtol(argv[i], &end, 10);
        if (*end || th < 1 || th > 64 || n_threads == MAX_THREAD_COUNTS) {
            fprintf(stderr, "bench_rl_step: bad thread count '%s': expected at most %d counts in 1..64\n", argv[i],
                    MAX_THREAD_COUNTS);
            return 1;
        }
        threads[n_threads++] = (int)th;
    }
    if (n_threads == 0) n_threads = 2;
    if (only && strcmp(only, "generate") && strcmp(only, "train")) {
        fprintf(stderr, "bench_rl_step: bad only=%s: expected generate or train\n", only);
        return 1;
    }
#define TIMED(name) (!only || strcmp(only, name) == 0)
    Bench b;
    setup(&b, &config, argv[2]);

    /* The trained batch, and the step's loss and gradient norm on it from the checkpoint. */
    model_set_threads(threads[0]);
    generate_into(&b, b.batch);
    for (int j = 0; j < b.P; j++) b.groups[j] = gen_group(b.gen, b.batch[j]);
    run_train(&b);
    long len = 0;
    for (int i = 0; i < b.N; i++) {
        const Completion *cp = completion(&b, b.batch, i);
        len += cp->n - cp->n_prompt;
    }
    printf("RL step (task %s, %d x %d completions, %.1f new tokens on average, bf16 body; "
           "%d of %d groups kept, trained as %ld rows x T=%d, %ld loss tokens, FP32)\n",
           b.c.task, b.P, b.G, (double)len / b.N, b.stats.adv.n_groups_kept, b.P, b.stats.rows, b.step.T,
           b.stats.tokens);
    printf("RESULT kind=rl_batch loss=%.9g grad_norm=%.9g rows=%ld T=%d tokens=%ld\n", b.stats.loss.loss,
           b.stats.grad_norm, b.stats.rows, b.step.T, b.stats.tokens);
    if (dump) write_batch(&b, dump);

    printf("%7s %12s %12s %12s\n", "threads", "generate ms", "train ms", "total ms");
    for (int k = 0; k < n_threads; k++) {
        model_set_threads(threads[k]);
        const double tg = TIMED("generate") ? time_prepared(restore_weights, run_generate, &b, seconds) : 0.0;
        const double tt = TIMED("train") ? time_prepared(restore_weights, run_train, &b, seconds) : 0.0;
        printf("%7d %12.1f %12.1f %12.1f\n", threads[k], 1e3 * tg, 1e3 * tt, 1e3 * (tg + tt));
        printf("RESULT kind=rl_step threads=%d generate_ms=%.2f train_ms=%.2f total_ms=%.2f\n", threads[k], 1e3 * tg,
               1e3 * tt, 1e3 * (tg + tt));
    }
    return 0;
}
