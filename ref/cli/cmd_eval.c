/* scalerl eval and scalerl sample: a checkpoint on validation prompts, measured or shown. Both
 * use the RL run's generator (length control, numerics), so their numbers match the trainer's
 * eval rows for the same keys. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models/model.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/rl/evaluate.h"
#include "ref/common/jsonl.h"
#include "ref/rl/recipe.h"
#include "ref/rl/runfiles.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

typedef struct {
    char ckpt[OPT_STR_LEN], task[OPT_STR_LEN];
    long n, samples, seed, data_seed, eval_n, threads, json, progress;
    double temperature;
    int length, gen_precision, head;
    long think_budget[2], answer_budget;
} EvalConfig;

#define F(field) offsetof(EvalConfig, field)
/* Shared keys; `eval` and `sample` differ in the defaults of n and samples. */
#define EVAL_COMMON_OPTS                                                                                           \
    {"ckpt", OPT_STR, F(ckpt), NULL, 0, 0, NULL, "checkpoint"},                                                     \
        {"task", OPT_STR, F(task), DEFAULT_TASK, 0, 0, NULL, "task spec"},                                       \
        {"temperature", OPT_FLOAT, F(temperature), "1", 0, 10, NULL, "sampling temperature (0: greedy)"},          \
        {"seed", OPT_INT, F(seed), "1", 0, 1e15, NULL, "sampling seed"},                                           \
        {"data_seed", OPT_INT, F(data_seed), "1234", 0, 1e15, NULL, "task seed (as in train)"},                    \
        {"eval_n", OPT_INT, F(eval_n), "2000", 1, 1000000, NULL, "size of the validation set (as in train)"},      \
        {"length", OPT_CHOICE, F(length), "interrupt", 0, 0, LENGTH_CHOICES, "length control"},                   \
        {"think_budget", OPT_RANGE, F(think_budget), DEFAULT_THINK_BUDGET, 1, 4096, NULL, "thinking tokens before interruption"}, \
        {"answer_budget", OPT_INT, F(answer_budget), DEFAULT_ANSWER_BUDGET, 1, 4096, NULL, "tokens after the marker"},              \
        {"gen_precision", OPT_CHOICE, F(gen_precision), "bf16", 0, 0, PREC_CHOICES, "generator matmul precision"}, \
        {"head", OPT_CHOICE, F(head), "fp32", 0, 0, PREC_CHOICES, "LM head precision"},                           \
        {"threads", OPT_INT, F(threads), "0", 0, 1024, NULL, "threads (0: all cores)"}

static const OptSpec eval_opts[] = {
    EVAL_COMMON_OPTS,
    {"n", OPT_INT, F(n), "1000", 1, 1000000, NULL, "validation prompts to evaluate (at most eval_n)"},
    {"samples", OPT_INT, F(samples), "16", 1, 1024, NULL, "completions per prompt"},
    {"json", OPT_INT, F(json), "0", 0, 1, NULL, "print one JSON object instead of text"},
    {"progress", OPT_INT, F(progress), "-1", -1, 1, NULL, "progress on stderr: 1 always, 0 never, -1 if a terminal"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static const OptSpec sample_opts[] = {
    EVAL_COMMON_OPTS,
    {"n", OPT_INT, F(n), "5", 1, 1000, NULL, "validation prompts to show"},
    {"samples", OPT_INT, F(samples), "1", 1, 64, NULL, "completions per prompt"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct {
    Model m;
    TaskSpec *spec;
    TaskSplit *split;
    GenConfig gc;
} EvalSetup;

static int setup(const EvalConfig *c, EvalSetup *s, const char *cmd, char *err)
{
    memset(s, 0, sizeof *s);
    model_set_threads((int)c->threads);
    int rc = load_base_model(c->ckpt, &s->m, err);
    if (rc) return rc;
    if ((rc = task_spec_parse(c->task, &s->spec, err))) return rc;
    if (c->n > c->eval_n) {
        snprintf(err, ERR_LEN, "bad value n=%ld: at most eval_n=%ld validation prompts exist", c->n, c->eval_n);
        return 1;
    }
    if ((rc = split_new(s->spec, (uint64_t)c->data_seed, (int)c->eval_n, &s->split, err))) return rc;
    GenConfig *gc = &s->gc;
    *gc = gen_config_from_keys(&s->m.cfg, c->temperature, c->gen_precision, c->head, c->seed, GEN_STREAM_EVAL,
                               c->length, c->think_budget, c->answer_budget, 0);
    gc->G = (int)c->samples;
    gc->max_groups = 1;
    gc->slots = 256;
    if ((rc = gen_config_check(gc, task_max_prompt_tokens(s->spec), err))) return rc;
    gen_note_answer_budget(gc, task_max_answer_tokens(s->spec), cmd);
    return 0;
}

static void teardown(EvalSetup *s)
{
    split_free(s->split);
    task_spec_free(s->spec);
    model_free(&s->m);
}

static int print_eval(const EvalConfig *c, const EvalResult *r, char *err)
{
    if (!c->json) {
        printf("pass rate %.4f  95%% interval [%.4f, %.4f]  (%d prompts x %d samples, %s)\n", r->pass_rate,
               r->pass_rate_lo, r->pass_rate_hi, r->n, r->samples, c->task);
        for (int k = 0; k < r->n_pass_k; k++) printf("pass@%-3d %.4f\n", r->pass_k[k], r->pass_at_k[k]);
        printf("mean completion length %.2f tokens (sd within a prompt %.2f), interrupted %.4f, truncated %.4f\n",
               r->len_mean, r->len_sd_prompt, r->interrupt_frac, r->truncate_frac);
        for (int f = 0; f < TASK_MAX_FAMILIES; f++)
            if (r->fam_n[f]) /* nonzero only for the families of a mixed task */
                printf("%-10s %5d prompts  pass rate %.4f  mean length %.2f  interrupted %.4f\n", task_family_name(f),
                       r->fam_n[f], r->fam_pass_rate[f], r->fam_len_mean[f], r->fam_interrupt_frac[f]);
        return flush_stdout(err);
    }
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    jw_str(&w, "ckpt", c->ckpt);
    jw_str(&w, "task", c->task);
    jw_int(&w, "n", r->n);
    jw_int(&w, "samples", r->samples);
    jw_num(&w, "pass_rate", r->pass_rate);
    jw_num(&w, "pass_rate_lo", r->pass_rate_lo);
    jw_num(&w, "pass_rate_hi", r->pass_rate_hi);
    for (int k = 0; k < r->n_pass_k; k++) {
        char key[32];
        snprintf(key, sizeof key, "pass_at_%d", r->pass_k[k]);
        jw_num(&w, key, r->pass_at_k[k]);
    }
    jw_num(&w, "len_mean", r->len_mean);
    jw_num(&w, "len_sd_prompt", r->len_sd_prompt);
    jw_num(&w, "interrupt_frac", r->interrupt_frac);
    jw_num(&w, "truncate_frac", r->truncate_frac);
    eval_write_families(r, &w);
    int rc = jw_end(&w, stdout, err);
    jw_free(&w);
    return rc ? rc : flush_stdout(err);
}

int cmd_eval(int argc, char **argv)
{
    static const CommandSpec spec = {
        "eval",
        "usage: scalerl eval ckpt=F [task=SPEC] [n=1000] [samples=16] [temperature=1] [json=1]\n\n"
        "Validation pass rate with a 95% interval, pass@k, completion length, interruption rate;\n"
        "on a mixed task (task=sum@0.3,pair@0.7) also each family's pass rate, length and interruption.\n",
        eval_opts, 0, NULL};
    char err[ERR_LEN];
    Args a;
    EvalConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    EvalSetup s;
    EvalResult r;
    if (!(rc = setup(&c, &s, "eval", err)) && !(rc = evaluate(s.m.params, &s.gc, s.split, (int)c.n, (int)c.samples,
                                                 c.progress < 0 ? isatty(2) : (int)c.progress, &r, err)))
        rc = print_eval(&c, &r, err);
    teardown(&s);
    return rc ? report_error("eval", rc, err) : 0;
}

/* Prints a prompt, its completions (specials as their characters) and their rewards; ctx is the
 * EvalConfig. */
static int print_group(void *ctx, int i, const Group *gr, char *err)
{
    const EvalConfig *c = ctx;
    (void)i;
    char text[4096];
    printf("prompt   %s   (answer %s)\n", gr->prob.prompt, gr->prob.answer);
    for (int j = 0; j < c->samples; j++) {
        const Completion *cp = &gr->c[j];
        tok_decode(cp->tok + cp->n_prompt, cp->n - cp->n_prompt, text, sizeof text);
        printf("  sample %-3d reward %g%s  %s\n", j, cp->reward, cp->interrupted ? " (interrupted)" : "", text);
    }
    /* Stops the sampling once stdout has failed (a full disk): the rest would be lost too. */
    return ferror(stdout) ? flush_stdout(err) : 0;
}

int cmd_sample(int argc, char **argv)
{
    static const CommandSpec spec = {"sample",
                                     "usage: scalerl sample ckpt=F [task=SPEC] [n=5] [samples=1]\n\n"
                                     "Shows validation prompts, sampled completions and their rewards.\n",
                                     sample_opts, 0, NULL};
    char err[ERR_LEN];
    Args a;
    EvalConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    EvalSetup s;
    if (!(rc = setup(&c, &s, "sample", err)))
        rc = sample_val_prompts(s.m.params, &s.gc, s.split, (int)c.n, (int)c.samples, print_group, &c, err);
    if (!rc) rc = flush_stdout(err);
    teardown(&s);
    return rc ? report_error("sample", rc, err) : 0;
}
