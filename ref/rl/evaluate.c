#include "ref/rl/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "ref/common/util.h"

/* Seconds between progress lines. */
#define EVAL_PROGRESS_EVERY_S 1.0

/* 1 - C(n-c, k) / C(n, k): the chance that k of the n samples include a correct one. */
static double pass_at_k(int n, int c, int k)
{
    if (n - c < k) return 1.0;
    double prod = 1.0;
    for (int i = n - c + 1; i <= n; i++) prod *= 1.0 - (double)k / i;
    return 1.0 - prod;
}

/* The progress line: prompts done, the pass rate so far, elapsed time and an ETA. */
static void progress_line(int finished, int n, double sum, double t0)
{
    double el = wall_seconds() - t0;
    fprintf(stderr, "\reval %d/%d prompts  pass %.3f so far  %.0fs elapsed, ETA %.0fs   ", finished, n,
            finished ? sum / finished : 0.0, el, finished ? el / finished * (n - finished) : 0.0);
}

int eval_split_open(const char *task, const char *eval_task, uint64_t data_seed, int eval_n, TaskSpec **spec,
                    TaskSpec **val_spec, TaskSplit **split, char *err)
{
    *spec = *val_spec = NULL;
    *split = NULL;
    int rc = task_spec_parse(task, spec, err);
    if (rc) return rc;
    if (eval_task[0] && (rc = task_spec_parse(eval_task, val_spec, err))) {
        /* The spec's own message says "task spec": name the key it came from. */
        char why[ERR_LEN];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, ERR_LEN, "bad value '%s' for 'eval_task': %s", eval_task, why);
        return rc;
    }
    return split_new_for(*spec, *val_spec ? *val_spec : *spec, data_seed, eval_n, split, err);
}

struct Evaluator {
    Generator *g; /* idle between evaluations; NULL before the first and after a failed one */
    GenConfig gc; /* the configuration g was made for */
};

Evaluator *evaluator_new(void)
{
    return calloc(1, sizeof(Evaluator));
}

void evaluator_free(Evaluator *e)
{
    if (!e) return;
    gen_free(e->g);
    free(e);
}

/* Field by field (a struct compare would read padding). */
static int same_gen_config(const GenConfig *a, const GenConfig *b)
{
    const ModelConfig *x = &a->mcfg, *y = &b->mcfg;
    return x->vocab == y->vocab && x->ctx == y->ctx && x->d_model == y->d_model && x->n_layer == y->n_layer &&
           x->n_head == y->n_head && x->d_ff == y->d_ff && a->G == b->G && a->max_groups == b->max_groups &&
           a->slots == b->slots && a->temperature == b->temperature &&
           a->prec.bf16_matmul == b->prec.bf16_matmul && a->prec.bf16_head == b->prec.bf16_head &&
           a->seed == b->seed && a->stream == b->stream && a->length == b->length && a->think_lo == b->think_lo &&
           a->think_hi == b->think_hi && a->answer_budget == b->answer_budget && a->penalty_cache == b->penalty_cache;
}

static int evaluate_with(Generator *g, const GenConfig *gc_set, const float *params, const TaskSplit *split, int n,
                         int samples, int progress, EvalResult *r, char *err);

int evaluator_run(Evaluator *e, const float *params, const GenConfig *gc_in, const TaskSplit *split, int n,
                  int samples, int progress, EvalResult *r, char *err)
{
    if (n > split_val_count(split)) {
        snprintf(err, ERR_LEN, "eval_n=%d exceeds the %d validation prompts", n, split_val_count(split));
        return 1;
    }
    GenConfig gc = *gc_in;
    gc.G = samples;
    /* Enough groups in flight to keep every slot busy, plus one group's worth of refill. */
    gc.slots = gc.slots > 0 ? gc.slots : 256;
    gc.max_groups = gc.slots / samples + 2;
    if (e->g && (!same_gen_config(&e->gc, &gc) || !gen_idle(e->g))) {
        gen_free(e->g);
        e->g = NULL;
    }
    if (!e->g) {
        if (!(e->g = gen_new(&gc, err))) return 2;
        e->gc = gc;
    }
    const int rc = evaluate_with(e->g, &gc, params, split, n, samples, progress, r, err);
    if (rc) { /* groups may be left in it: the next evaluation starts from a new one */
        gen_free(e->g);
        e->g = NULL;
    }
    return rc;
}

int evaluate(const float *params, const GenConfig *gc, const TaskSplit *split, int n, int samples, int progress,
             EvalResult *r, char *err)
{
    Evaluator e = {0};
    const int rc = evaluator_run(&e, params, gc, split, n, samples, progress, r, err);
    gen_free(e.g);
    return rc;
}

/* One evaluation on g, an idle generator made for gc (evaluator_run). Whether g is new or
 * has run evaluations before does not change a bit of the result: it holds no group between
 * evaluations, refills its slots in the same order, and a reused KV cache holds an earlier
 * sequence's keys where a new one holds zeros, which decoding reads only as finite values
 * (models/decode.c, decode_new). */
static int evaluate_with(Generator *g, const GenConfig *gc_set, const float *params, const TaskSplit *split, int n,
                         int samples, int progress, EvalResult *r, char *err)
{
    const GenConfig gc = *gc_set;
    memset(r, 0, sizeof *r);
    r->n = n;
    r->samples = samples;
    for (int k = 1; k <= samples && r->n_pass_k < EVAL_MAX_PASS_K; k *= 2) r->pass_k[r->n_pass_k++] = k;
    double sum = 0, sumsq = 0, len = 0, len_var = 0, interrupted = 0, truncated = 0;
    const unsigned mask = task_spec_family_mask(split_val_spec(split));
    if (mask & (mask - 1)) r->family_mask = mask; /* more than one family */
    int next = 0, finished = 0, rc = 0;
    int *done_groups = NULL;
    done_groups = malloc((size_t)gc.max_groups * sizeof(int));
    if (!done_groups) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
        goto done;
    }
    int n_live = 0;
    const double t0 = wall_seconds();
    double next_line = t0 + EVAL_PROGRESS_EVERY_S;
    if (progress) fprintf(stderr, "\reval: %d prompts x %d samples   ", n, samples);
    while (finished < n) {
        if (progress && wall_seconds() >= next_line) {
            progress_line(finished, n, sum, t0);
            next_line = wall_seconds() + EVAL_PROGRESS_EVERY_S;
        }
        for (; next < n && n_live < gc.max_groups; next++, n_live++) {
            if (gen_add_group(g, split_val(split, next), (uint64_t)next, 0, next, err) < 0) {
                rc = 1;
                goto done;
            }
        }
        gen_step(g, params, 0, &r->gen_flops);
        int nd = gen_take_finished(g, done_groups, gc.max_groups);
        for (int i = 0; i < nd; i++) {
            Group *gr = gen_group(g, done_groups[i]);
            int c = 0, cut = 0;
            double glen = 0, glen2 = 0;
            for (int j = 0; j < samples; j++) {
                const Completion *cp = &gr->c[j];
                const double l = cp->n - cp->n_prompt;
                c += cp->correct;
                glen += l;
                glen2 += l * l;
                cut += cp->interrupted;
                truncated += cp->truncated;
            }
            interrupted += cut; /* whole counts: the same double as adding them one by one */
            len += glen;
            if (samples > 1) len_var += fmax(0.0, (glen2 - glen * glen / samples) / (samples - 1));
            double frac = (double)c / samples;
            const int f = gr->prob.family;
            if (r->family_mask >> f & 1u) {
                r->fam_n[f]++;
                r->fam_pass_rate[f] += frac;
                r->fam_len_mean[f] += glen / samples;
                r->fam_interrupt_frac[f] += (double)cut / samples;
            }
            sum += frac;
            sumsq += frac * frac;
            for (int k = 0; k < r->n_pass_k; k++) r->pass_at_k[k] += pass_at_k(samples, c, r->pass_k[k]);
            gen_release(g, done_groups[i]);
            n_live--;
            finished++;
        }
    }
    if (progress) fprintf(stderr, "\r%*s\r", 100, ""); /* the caller's own progress line comes next */
    r->pass_rate = sum / n;
    /* 95% interval for the task's pass rate from the spread of per-prompt pass fractions (samples
     * of one prompt are correlated, so prompts, not completions, are the independent units);
     * clamped to [0, 1]. */
    double var = n > 1 ? (sumsq - sum * sum / n) / (n - 1) : 0.25;
    double half = 1.959963984540054 * sqrt(var > 0 ? var / n : 0);
    r->pass_rate_lo = fmax(0.0, r->pass_rate - half);
    r->pass_rate_hi = fmin(1.0, r->pass_rate + half);
    for (int k = 0; k < r->n_pass_k; k++) r->pass_at_k[k] /= n;
    r->len_mean = len / ((double)n * samples);
    r->len_sd_prompt = sqrt(len_var / n);
    r->interrupt_frac = interrupted / ((double)n * samples);
    r->truncate_frac = truncated / ((double)n * samples);
    for (int f = 0; f < TASK_MAX_FAMILIES; f++) {
        if (!r->fam_n[f]) continue;
        r->fam_pass_rate[f] /= r->fam_n[f];
        r->fam_len_mean[f] /= r->fam_n[f];
        r->fam_interrupt_frac[f] /= r->fam_n[f];
    }
done:
    free(done_groups);
    return rc;
}

void eval_write_families(const EvalResult *r, JsonWriter *w)
{
    static const char *const what[] = {"n", "pass_rate", "len_mean", "interrupt_frac"};
    const double *const figure[] = {NULL, r->fam_pass_rate, r->fam_len_mean, r->fam_interrupt_frac};
    for (int k = 0; k < 4; k++)
        for (int f = 0; f < TASK_MAX_FAMILIES; f++) {
            if (!(r->family_mask >> f & 1u)) continue;
            char key[64];
            snprintf(key, sizeof key, "%s_%s", what[k], task_family_name(f));
            /* A family the evaluated prompts happen not to include has no rate: null. */
            if (k == 0) jw_int(w, key, r->fam_n[f]);
            else jw_num(w, key, r->fam_n[f] ? figure[k][f] : NAN);
        }
}

int sample_val_prompts(const float *params, const GenConfig *gc_in, const TaskSplit *split, int n, int samples,
                       SampleVisit visit, void *ctx, char *err)
{
    if (n > split_val_count(split)) {
        snprintf(err, ERR_LEN, "%d prompts asked for, but there are %d validation prompts", n, split_val_count(split));
        return 1;
    }
    GenConfig gc = *gc_in;
    gc.G = samples;
    gc.max_groups = n;
    gc.slots = gc.slots > 0 ? gc.slots : 256;
    Generator *g = gen_new(&gc, err);
    if (!g) return 2;
    int *gi = malloc((size_t)n * sizeof *gi), rc = 0;
    if (!gi) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    for (int i = 0; i < n && !rc; i++)
        if ((gi[i] = gen_add_group(g, split_val(split, i), (uint64_t)i, 0, i, err)) < 0) rc = 1;
    while (!rc && gen_busy(g)) gen_step(g, params, 0, NULL);
    for (int i = 0; i < n && !rc; i++) rc = visit(ctx, i, gen_group(g, gi[i]), err);
    free(gi);
    gen_free(g);
    return rc;
}
