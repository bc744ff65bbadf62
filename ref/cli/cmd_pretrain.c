/* scalerl pretrain: the base model. Supervised next-token training on prompt + worked solution +
 * EOS, with the loss on the completion only, from the task's training stream (never a
 * validation prompt of the same task, data_seed and eval_n). */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "models/optim.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/evaluate.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rows.h"
#include "ref/rl/runfiles.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

typedef struct {
    char task[OPT_STR_LEN], eval_task[OPT_STR_LEN], out[OPT_STR_LEN];
    long vocab, d_model, n_layer, n_head, d_ff, ctx;
    long tokens, batch, warmup, seed, data_seed, eval_n, eval_samples, threads, progress;
    double lr, min_lr_frac, weight_decay, grad_clip;
} PretrainConfig;

#define F(field) offsetof(PretrainConfig, field)
static const OptSpec pretrain_opts[] = {
    {"task", OPT_STR, F(task), DEFAULT_TASK, 0, 0, NULL, "task spec of the worked solutions"},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "checkpoint to write"},
    {"vocab", OPT_INT, F(vocab), "0", 0, 65536, NULL,
     "token ids (0: the tokenizer's); more pad the LM head with rows no text uses, a tail for its rounding"},
    {"d_model", OPT_INT, F(d_model), "64", 8, 4096, NULL, "residual width"},
    {"n_layer", OPT_INT, F(n_layer), "2", 1, 64, NULL, "layers"},
    {"n_head", OPT_INT, F(n_head), "4", 1, 256, NULL, "attention heads"},
    {"d_ff", OPT_INT, F(d_ff), "0", 0, 16384, NULL, "MLP width (0: 4 d_model)"},
    {"ctx", OPT_INT, F(ctx), "64", 8, 4096, NULL, "context length"},
    {"tokens", OPT_INT, F(tokens), "260000", 1, 1e12, NULL, "completion tokens to train on (the base model's strength)"},
    {"batch", OPT_INT, F(batch), "64", 1, 65536, NULL, "sequences per step"},
    {"lr", OPT_FLOAT, F(lr), "3e-3", 0, 1, NULL, "peak learning rate"},
    {"min_lr_frac", OPT_FLOAT, F(min_lr_frac), "0.1", 0, 1, NULL, "cosine floor, as a fraction of lr"},
    {"warmup", OPT_INT, F(warmup), "20", 0, 1e9, NULL, "warmup steps"},
    {"weight_decay", OPT_FLOAT, F(weight_decay), "0.01", 0, 10, NULL, "AdamW weight decay"},
    {"grad_clip", OPT_FLOAT, F(grad_clip), "1", 0, 1e9, NULL, "global norm clip (0: off)"},
    {"seed", OPT_INT, F(seed), "1", 0, 1e15, NULL, "initialization and data order"},
    {"data_seed", OPT_INT, F(data_seed), "1234", 0, 1e15, NULL, "task seed: must match train's to keep its validation set out"},
    {"eval_n", OPT_INT, F(eval_n), "1000", 1, 1000000, NULL, "validation prompts held out (and evaluated at the end)"},
    {"eval_task", OPT_STR, F(eval_task), "", 0, 0, NULL,
     "task spec of the validation prompts held out (as in train; empty: task)"},
    {"eval_samples", OPT_INT, F(eval_samples), "1", 0, 1024, NULL, "samples per validation prompt at the end (0: no eval)"},
    {"threads", OPT_INT, F(threads), "0", 0, 1024, NULL, "threads (0: all cores)"},
    {"progress", OPT_INT, F(progress), "-1", -1, 1, NULL, "progress on stderr: 1 always, 0 never, -1 if a terminal"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct {
    int *tok, *tgt;
    float *logp, *dlogp;
} Batch;

/* Fills batch rows with problems step*B .. step*B+B-1 of the training stream; returns the row
 * length T and the number of target tokens. */
static int make_batch(const TaskSplit *split, long step, int B, int ctx, Batch *b, int *T_out, long *n_tgt, char *err)
{
    int *seq = malloc(((size_t)B * ctx + 2 * (size_t)B) * sizeof(int));
    if (!seq) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    int *lens = seq + (size_t)B * ctx, *nps = lens + B;
    int T = 1;
    char text[TASK_PROMPT_MAX + TASK_SOLUTION_MAX + 2];
    for (int i = 0; i < B; i++) {
        Problem p;
        split_train_draw(split, (uint64_t)(step * B + i), &p);
        int np = tok_encode(p.prompt, seq + (size_t)i * ctx, ctx, err);
        snprintf(text, sizeof text, "%s%s%c", p.prompt, p.solution, tok_char(TOK_EOS));
        int n = tok_encode(text, seq + (size_t)i * ctx, ctx, err);
        if (np < 0 || n < 0) {
            free(seq);
            return 1;
        }
        lens[i] = n;
        nps[i] = np;
        if (n - 1 > T) T = n - 1;
    }
    *n_tgt = 0;
    for (int i = 0; i < B; i++)
        *n_tgt += rows_pack(b->tok + (size_t)i * T, b->tgt + (size_t)i * T, seq + (size_t)i * ctx, lens[i], nps[i],
                            NULL, T);
    free(seq);
    *T_out = T;
    return 0;
}

static int pretrain(const PretrainConfig *c, char *err)
{
    TaskSpec *spec = NULL, *val_spec = NULL;
    TaskSplit *split = NULL;
    Model m = {0};
    Batch b = {0};
    int rc;
    model_set_threads((int)c->threads);
    /* Refuse an unwritable destination now, not after minutes of training: a directory (which the
     * final rename cannot replace), then one where no file can be created. */
    struct stat st;
    if (stat(c->out, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, ERR_LEN, "out='%s' is a directory: expected the checkpoint file to write (e.g. out=%s/base.ckpt)",
                 c->out, c->out);
        return 1;
    }
    char probe[OPT_STR_LEN + 32];
    snprintf(probe, sizeof probe, "%s.probe.%ld", c->out, (long)getpid());
    FILE *pf = fopen(probe, "wb");
    if (!pf) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", c->out, strerror(errno));
        return 2;
    }
    fclose(pf);
    remove(probe);
    if ((rc = eval_split_open(c->task, c->eval_task, (uint64_t)c->data_seed, (int)c->eval_n, &spec, &val_spec, &split,
                              err)))
        goto done;
    const TaskSpec *vs = split_val_spec(split);
    /* A vocabulary beyond the tokenizer's pads the head with rows no text uses (ref/rl/README.md,
     * "A padded vocabulary"): the paper's long tail of rarely drawn tokens, for the head's
     * rounding to act on. */
    if (c->vocab && c->vocab < tok_vocab_size()) {
        snprintf(err, ERR_LEN, "vocab=%ld is smaller than the tokenizer's %d tokens: expected 0 (the tokenizer's) or at least %d",
                 c->vocab, tok_vocab_size(), tok_vocab_size());
        rc = 1;
        goto done;
    }
    ModelConfig mc = {c->vocab ? (int)c->vocab : tok_vocab_size(), (int)c->ctx, (int)c->d_model, (int)c->n_layer, (int)c->n_head,
                      (int)(c->d_ff ? c->d_ff : 4 * c->d_model)};
    const int need_train = task_max_prompt_tokens(spec) + task_max_solution_tokens(spec),
              need_val = task_max_prompt_tokens(vs) + task_max_solution_tokens(vs);
    const int need = need_train > need_val ? need_train : need_val;
    if (need > mc.ctx) {
        snprintf(err, ERR_LEN, "ctx=%d is too short for task '%s': its sequences need up to %d tokens", mc.ctx,
                 need_train >= need_val ? c->task : c->eval_task, need);
        rc = 1;
        goto done;
    }
    if ((rc = model_create(&m, &mc, (uint64_t)c->seed, err))) goto done;
    const int B = (int)c->batch, ctx = mc.ctx;
    b.tok = malloc((size_t)B * ctx * sizeof(int));
    b.tgt = malloc((size_t)B * ctx * sizeof(int));
    b.logp = malloc((size_t)B * ctx * sizeof(float));
    b.dlogp = malloc((size_t)B * ctx * sizeof(float));
    if (!b.tok || !b.tgt || !b.logp || !b.dlogp) {
        snprintf(err, ERR_LEN, "out of memory for a batch of %d", B);
        rc = 2;
        goto done;
    }
    /* Steps from the token budget: the mean completion length is estimated from one batch. */
    int T;
    long n_tgt;
    if ((rc = make_batch(split, 0, B, ctx, &b, &T, &n_tgt, err))) goto done;
    long steps = (long)ceil((double)c->tokens / (double)n_tgt);
    AdamWConfig opt = {0.9, 0.999, 1e-8, c->weight_decay};
    const int progress = c->progress < 0 ? isatty(2) : (int)c->progress;
    double t0 = wall_seconds(), loss_ema = NAN;
    long done_tokens = 0;
    for (long step = 0; step < steps; step++) {
        if ((rc = make_batch(split, step, B, ctx, &b, &T, &n_tgt, err))) goto done;
        if ((rc = model_forward(&m, b.tok, b.tgt, B, T, 1.0f, (Precision){0, 0}, b.logp, NULL, err))) goto done;
        double loss = 0;
        for (int i = 0; i < B * T; i++) {
            b.dlogp[i] = b.tgt[i] >= 0 ? -1.0f / (float)n_tgt : 0.0f;
            if (b.tgt[i] >= 0) loss -= b.logp[i];
        }
        loss /= (double)n_tgt;
        model_zero_grad(&m);
        model_backward(&m, b.dlogp);
        grad_clip(&m, c->grad_clip);
        adamw_step(&m, &opt, lr_at(step, c->lr, c->warmup, steps, LR_COSINE, c->lr * c->min_lr_frac));
        done_tokens += n_tgt;
        loss_ema = isnan(loss_ema) ? loss : 0.95 * loss_ema + 0.05 * loss;
        if (progress && (step % 10 == 0 || step == steps - 1)) {
            double el = wall_seconds() - t0;
            fprintf(stderr, "\rpretrain step %ld/%ld  loss %.4f  %.0f tok/s  ETA %.0fs   ", step + 1, steps, loss_ema,
                    done_tokens / el, el / (step + 1) * (steps - step - 1));
        }
    }
    if (progress) fputc('\n', stderr);
    char meta[1024], tok[128];
    tokenizer_meta(tok, sizeof tok);
    snprintf(meta, sizeof meta, "%s\npretrain_task=%s\npretrain_tokens=%ld\nseed=%ld\ndata_seed=%ld\n", tok,
             task_spec_string(spec), done_tokens, c->seed, c->data_seed);
    if ((rc = checkpoint_save(c->out, &m, 0, meta, err))) goto done;
    printf("pretrained %ld steps, %ld completion tokens, final loss %.4f, in %.1f s -> %s\n", steps, done_tokens,
           loss_ema, wall_seconds() - t0, c->out);
    if (c->eval_samples > 0) {
        /* No length control: the budget is the longest worked solution, as in pretraining. */
        const long budget[2] = {task_max_solution_tokens(vs), task_max_solution_tokens(vs)};
        GenConfig gc = gen_config_from_keys(&mc, 1.0, PREC_FP32, PREC_FP32, c->seed, GEN_STREAM_EVAL, LENGTH_NONE,
                                            budget, 1, 0);
        gc.slots = 256;
        EvalResult r;
        if ((rc = evaluate(m.params, &gc, split, (int)c->eval_n, (int)c->eval_samples, progress, &r, err))) goto done;
        printf("validation pass rate %.4f [%.4f, %.4f] on %d prompts x %d samples\n", r.pass_rate, r.pass_rate_lo,
               r.pass_rate_hi, r.n, r.samples);
    }
    rc = flush_stdout(err);
done:
    free(b.tok);
    free(b.tgt);
    free(b.logp);
    free(b.dlogp);
    model_free(&m);
    split_free(split);
    task_spec_free(val_spec);
    task_spec_free(spec);
    return rc;
}

int cmd_pretrain(int argc, char **argv)
{
    static const CommandSpec spec = {
        "pretrain",
        "usage: scalerl pretrain out=CKPT [task=SPEC] [tokens=N] [model keys] ...\n\n"
        "Supervised training on worked solutions (loss on the completion only): the base model.\n",
        pretrain_opts, 0, NULL};
    char err[ERR_LEN];
    Args a;
    PretrainConfig c;
    int rc;
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if ((rc = pretrain(&c, err))) return report_error("pretrain", rc, err);
    return 0;
}
