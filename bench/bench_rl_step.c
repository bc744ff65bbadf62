/* One whole RL step of the default run, by phase, at the default recipe's settings (`scalerl train`
 * with no keys: the default task, 48 prompts x 16 completions, interruption length control, bf16
 * generator body, FP32 trainer, CISPO with prompt-level aggregation, batch advantage
 * normalization, zero-variance filtering, global-norm clipping, AdamW):
 *   generate  the generator of ref/rl/rollout.c samples the 48 x 16 completions (KV cache,
 *             temperature sampling, length control) and verifies them;
 *   forward   advantages, the zero-variance filter, aggregation weights, the trainer's FP32
 *             forward over the kept completions and the CISPO loss, as ref/rl/train_step.c does;
 *   backward  backward, gradient clipping and the AdamW update.
 * Every timed call starts from the checkpoint's weights and moments (restored outside the timed
 * part), so every generation samples the same batch and every thread count times the same work.
 *
 * Usage: build/bench/bench_rl_step SECONDS CHECKPOINT [THREADS...] [dump=DIR] [only=PHASE]
 * Prints milliseconds per phase for each thread count given (default 1 and 2), the fastest of
 * repeated calls (bench/timing.h). only=generate|forward|backward times that phase alone (the
 * others print 0), for a profiler: `perf record build/bench/bench_rl_step 10 CKPT 1 only=forward`. dump=DIR also writes DIR/batch.txt: the settings, the prompts,
 * the first generated batch, and the loss and gradient norm the step computes on it from the
 * checkpoint's weights, for bench/torch_rl_step.py to check its own step against (format below,
 * at write_batch). */
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
#include "ref/common/runfiles.h"
#include "ref/common/util.h"
#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/loss.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"
#include "tasks/tasks.h"

enum { MAX_THREAD_COUNTS = 8, STREAM_SAMPLE = 0x7a11 };

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
    LossParams lp;
    AdamWConfig opt;
    int P, G, N;
    int *batch;      /* P: generator groups of the trained batch (the first one generated) */
    int *scratch_gi; /* P: groups of a timed generation */
    int *finished;   /* 2P: gen_take_finished's */
    /* the trainer's buffers (N completions, N * ctx tokens) */
    float *reward, *adv, *f_logp, *f_logp_gen, *f_w, *f_dlogp;
    unsigned char *kept;
    int *off, *f_row, *f_pos, *row_comp, *rows_tok, *rows_tgt;
    float *rows_logp, *rows_ent, *rows_dlogp;
    int R, T;
    AdvStats adv_stats;
    LossStats loss;
    double grad_norm;
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

/* Rewards to the loss on the trained batch, in ref/rl/train_step.c's order. */
static void run_forward(void *p)
{
    Bench *b = p;
    const TrainConfig *c = &b->c;
    const int N = b->N;
    char err[MODEL_ERR_LEN];
    for (int i = 0; i < N; i++) b->reward[i] = completion(b, b->batch, i)->reward;
    advantages_compute(b->adv, b->kept, &b->adv_stats, b->reward, b->P, b->G, (AdvNorm)c->adv_norm,
                       (int)c->zero_var_filter);
    /* The loss tokens: sampled completion tokens (forced ones are context only); rows for the
     * forward are the kept completions with a loss token. */
    int R = 0, T = 1;
    b->off[0] = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = completion(b, b->batch, i);
        const int row = b->kept[i] ? R : -1;
        int o = b->off[i];
        for (int q = cp->n_prompt; q < cp->n; q++)
            if (!cp->forced[q]) {
                b->f_logp_gen[o] = cp->logp[q];
                b->f_row[o] = row;
                b->f_pos[o++] = q;
            }
        b->off[i + 1] = o;
        if (row >= 0 && o > b->off[i]) {
            b->row_comp[R++] = i;
            T = cp->n - 1 > T ? cp->n - 1 : T;
        }
    }
    aggregation_weights(b->f_w, b->off, b->kept, b->P, b->G, (AggMode)c->agg);
    b->R = R;
    b->T = T;
    if (R == 0) return;
    for (int r = 0; r < R; r++) {
        const Completion *cp = completion(b, b->batch, b->row_comp[r]);
        int *tok = b->rows_tok + (size_t)r * T, *tgt = b->rows_tgt + (size_t)r * T;
        for (int q = 0; q < T; q++) {
            tok[q] = q < cp->n - 1 ? cp->tok[q] : TOK_PAD;
            tgt[q] = q + 1 < cp->n && q + 1 >= cp->n_prompt && !cp->forced[q + 1] ? cp->tok[q + 1] : -1;
        }
    }
    if (model_forward(&b->m, b->rows_tok, b->rows_tgt, R, T, (float)c->temperature, (Precision){0, c->head},
                      b->rows_logp, b->rows_ent, err))
        die("forward", err);
    for (int o = 0; o < b->off[N]; o++)
        b->f_logp[o] = b->f_row[o] < 0 ? b->f_logp_gen[o]
                                       : b->rows_logp[(size_t)b->f_row[o] * T + b->f_pos[o] - 1];
    loss_compute(b->f_dlogp, &b->loss, b->f_logp, b->f_logp_gen, b->f_w, b->adv, b->off, N, &b->lp);
}

static void run_backward(void *p)
{
    Bench *b = p;
    if (b->R == 0) return;
    memset(b->rows_dlogp, 0, (size_t)b->R * b->T * sizeof(float));
    for (int o = 0; o < b->off[b->N]; o++)
        if (b->f_row[o] >= 0) b->rows_dlogp[(size_t)b->f_row[o] * b->T + b->f_pos[o] - 1] = b->f_dlogp[o];
    model_zero_grad(&b->m);
    model_backward(&b->m, b->rows_dlogp);
    b->grad_norm = grad_clip(&b->m, b->c.grad_clip);
    adamw_step(&b->m, &b->opt, b->c.lr);
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
 *                                        trained rows and loss tokens */
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
    fprintf(f, " lr=%.9g beta1=%.9g beta2=%.9g adam_eps=%.9g weight_decay=%.9g grad_clip=%.9g\n", c->lr,
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
    fprintf(f, "result loss=%.17g grad_norm=%.17g rows=%d tokens=%ld\n", b->loss.loss, b->grad_norm, b->R,
            b->loss.n_tokens);
    if (atomic_commit(&af, err)) die("dump", err);
}

static void *alloc_or_die(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("setup", "out of memory");
    return p;
}

static void setup(Bench *b, const char *ckpt)
{
    char err[CHECKPOINT_META_MAX > ERR_LEN ? CHECKPOINT_META_MAX : ERR_LEN];
    memset(b, 0, sizeof *b);
    TrainConfig *c = &b->c;
    if (opts_set_defaults(train_options(), c, err)) die("defaults", err);
    if (load_base_model(ckpt, &b->m, err)) die("checkpoint", err);
    b->P = (int)c->prompts_per_step;
    b->G = (int)c->gens_per_prompt;
    b->N = b->P * b->G;
    if (task_spec_parse(c->task, &b->spec, err) || split_new(b->spec, (uint64_t)c->data_seed, (int)c->eval_n, &b->split, err))
        die("task", err);
    b->prompts = alloc_or_die((size_t)b->P * sizeof *b->prompts);
    for (int j = 0; j < b->P; j++) split_train_draw(b->split, (uint64_t)j, &b->prompts[j]);
    /* Room for two batches: the trained one stays while timed generations come and go. */
    const GenConfig gc = {.mcfg = b->m.cfg, .G = b->G, .max_groups = 2 * b->P, .slots = b->N,
                          .temperature = (float)c->temperature,
                          .prec = {c->gen_precision == PREC_BF16, c->head == PREC_BF16},
                          .seed = (uint64_t)c->seed, .stream = STREAM_SAMPLE, .length = (LengthMode)c->length,
                          .think_lo = (int)c->think_budget[0], .think_hi = (int)c->think_budget[1],
                          .answer_budget = (int)c->answer_budget, .penalty_cache = (int)c->penalty_cache};
    if (gen_config_check(&gc, task_max_prompt_tokens(b->spec), err)) die("generator", err);
    if (!(b->gen = gen_new(&gc, err))) die("generator", err);
    loss_params_default(&b->lp, (LossKind)c->loss);
    b->lp.cispo_eps_max = c->eps_max;
    b->lp.eps_low = c->eps_low;
    b->lp.eps_high = c->eps_high;
    b->opt = (AdamWConfig){c->adam_beta1, c->adam_beta2, c->adam_eps, c->weight_decay};
    const size_t np = b->m.n_params * sizeof(float), N = (size_t)b->N, NT = N * (size_t)b->m.cfg.ctx;
    b->base_params = alloc_or_die(np);
    b->base_m = alloc_or_die(np);
    b->base_v = alloc_or_die(np);
    memcpy(b->base_params, b->m.params, np);
    memcpy(b->base_m, b->m.adam_m, np);
    memcpy(b->base_v, b->m.adam_v, np);
    b->base_adam_step = b->m.adam_step;
    b->batch = alloc_or_die((size_t)b->P * sizeof(int));
    b->scratch_gi = alloc_or_die((size_t)b->P * sizeof(int));
    b->finished = alloc_or_die((size_t)2 * b->P * sizeof(int));
    b->reward = alloc_or_die(N * sizeof(float));
    b->adv = alloc_or_die(N * sizeof(float));
    b->kept = alloc_or_die(N);
    b->off = alloc_or_die((N + 1) * sizeof(int));
    b->row_comp = alloc_or_die(N * sizeof(int));
    b->f_logp = alloc_or_die(NT * sizeof(float));
    b->f_logp_gen = alloc_or_die(NT * sizeof(float));
    b->f_w = alloc_or_die(NT * sizeof(float));
    b->f_dlogp = alloc_or_die(NT * sizeof(float));
    b->f_row = alloc_or_die(NT * sizeof(int));
    b->f_pos = alloc_or_die(NT * sizeof(int));
    b->rows_tok = alloc_or_die(NT * sizeof(int));
    b->rows_tgt = alloc_or_die(NT * sizeof(int));
    b->rows_logp = alloc_or_die(NT * sizeof(float));
    b->rows_ent = alloc_or_die(NT * sizeof(float));
    b->rows_dlogp = alloc_or_die(NT * sizeof(float));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_rl_step SECONDS CHECKPOINT [THREADS...] [dump=DIR]\n");
        return 1;
    }
    const double seconds = atof(argv[1]);
    if (!(seconds > 0.0) || seconds > 60.0) {
        fprintf(stderr, "bench_rl_step: bad seconds per measurement '%s': expected a number in (0, 60]\n", argv[1]);
        return 1;
    }
    int threads[MAX_THREAD_COUNTS] = {1, 2}, n_threads = 0;
    const char *dump = NULL, *only = NULL;
    for (int i = 3; i < argc; i++) {
        if (strncmp(argv[i], "dump=", 5) == 0 || strncmp(argv[i], "only=", 5) == 0) {
            *(argv[i][0] == 'd' ? &dump : &only) = argv[i] + 5;
            continue;
        }
        const int th = atoi(argv[i]);
        if (th < 1 || th > 64 || n_threads == MAX_THREAD_COUNTS) {
            fprintf(stderr, "bench_rl_step: bad thread count '%s': expected at most %d counts in 1..64\n", argv[i],
                    MAX_THREAD_COUNTS);
            return 1;
        }
        threads[n_threads++] = th;
    }
    if (n_threads == 0) n_threads = 2;
    if (only && strcmp(only, "generate") && strcmp(only, "forward") && strcmp(only, "backward")) {
        fprintf(stderr, "bench_rl_step: bad only=%s: expected generate, forward or backward\n", only);
        return 1;
    }
#define TIMED(name) (!only || strcmp(only, name) == 0)
    Bench b;
    setup(&b, argv[2]);

    /* The trained batch, and the step's loss and gradient norm on it from the checkpoint. */
    model_set_threads(threads[0]);
    generate_into(&b, b.batch);
    run_forward(&b);
    run_backward(&b);
    long len = 0;
    for (int i = 0; i < b.N; i++) {
        const Completion *cp = completion(&b, b.batch, i);
        len += cp->n - cp->n_prompt;
    }
    printf("RL step of the default run (task %s, %d x %d completions, %.1f new tokens on average, bf16 body; "
           "%d of %d groups kept, trained as %d rows x T=%d, %ld loss tokens, FP32)\n",
           b.c.task, b.P, b.G, (double)len / b.N, b.adv_stats.n_groups_kept, b.P, b.R, b.T, b.loss.n_tokens);
    printf("RESULT kind=rl_batch loss=%.9g grad_norm=%.9g rows=%d T=%d tokens=%ld\n", b.loss.loss, b.grad_norm, b.R,
           b.T, b.loss.n_tokens);
    if (dump) write_batch(&b, dump);

    printf("%7s %12s %12s %12s %12s\n", "threads", "generate ms", "forward ms", "backward ms", "total ms");
    for (int k = 0; k < n_threads; k++) {
        model_set_threads(threads[k]);
        const double tg = TIMED("generate") ? time_prepared(restore_weights, run_generate, &b, seconds) : 0.0;
        const double tf = TIMED("forward") ? time_prepared(restore_weights, run_forward, &b, seconds) : 0.0;
        restore_weights(&b);
        run_forward(&b); /* the backward differentiates the last forward, both at the checkpoint's weights */
        const double tb = TIMED("backward") ? time_prepared(restore_weights, run_backward, &b, seconds) : 0.0;
        printf("%7d %12.1f %12.1f %12.1f %12.1f\n", threads[k], 1e3 * tg, 1e3 * tf, 1e3 * tb, 1e3 * (tg + tf + tb));
        printf("RESULT kind=rl_step threads=%d generate_ms=%.2f forward_ms=%.2f backward_ms=%.2f total_ms=%.2f\n",
               threads[k], 1e3 * tg, 1e3 * tf, 1e3 * tb, 1e3 * (tg + tf + tb));
    }
    return 0;
}
