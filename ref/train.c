#include "ref/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "models/optim.h"
#include "ref/advantage.h"
#include "ref/aggregate.h"
#include "ref/data.h"
#include "ref/evaluate.h"
#include "ref/jsonl.h"
#include "ref/loss.h"
#include "ref/prompt_filter.h"
#include "ref/rollout.h"
#include "ref/runfiles.h"
#include "ref/util.h"

enum { STREAM_TRAIN_SAMPLE = 0x7a11, STREAM_EVAL_SAMPLE = 0xe7a1 };
#define STALE_BINS 17 /* staleness histogram: 0..15, and 16 or more */

typedef struct {
    const TrainConfig *c;
    Model m;
    TaskSpec *spec;
    TaskSplit *split;
    DataSource *data;
    PromptFilter *filter;
    GenConfig gc;
    Generator *gen;
    LossParams lp;
    AdamWConfig opt;
    Precision train_prec;
    int P, G, N, ring;
    int *batch_gi; /* ring * P: generator group of each group of each admitted batch */
    long admitted; /* batches admitted so far */
    long version;  /* optimizer steps taken = version of the current weights */
    double flops_gen, flops_train, wall0, cpu0;
    FILE *metrics;
    JsonWriter jw;
    /* step scratch (N completions, N * ctx flat tokens) */
    float *reward, *adv, *f_logp, *f_logp_gen, *f_w, *f_dlogp;
    unsigned char *kept;
    int *off, *f_row, *f_pos;
    int *row_comp;
    int *rows_tok, *rows_tgt;
    float *rows_logp, *rows_ent, *rows_dlogp;
    long *eval_steps;
    int n_evals, next_eval;
    double last_pass, last_step_reward;
    int progress;
} Trainer;

/* ---- schedule ---- */

static long admit_limit(const Trainer *t)
{
    const TrainConfig *c = t->c;
    switch (c->offpolicy) {
    case OFFPOLICY_PIPELINE: return t->version + c->k;
    case OFFPOLICY_PPO: return (t->version / c->k) * c->k + c->k - 1;
    default: return t->version;
    }
}

static Group *batch_group(Trainer *t, long b, int j)
{
    return gen_group(t->gen, t->batch_gi[(b % t->ring) * t->P + j]);
}

static int batch_complete(Trainer *t, long b)
{
    for (int j = 0; j < t->P; j++)
        if (batch_group(t, b, j)->n_done < t->G) return 0;
    return 1;
}

static int admit_batches(Trainer *t, char *err)
{
    long limit = admit_limit(t);
    if (limit > t->c->steps - 1) limit = t->c->steps - 1;
    while (t->admitted <= limit) {
        long b = t->admitted;
        for (int j = 0; j < t->P; j++) {
            Problem p;
            uint64_t pkey;
            if (data_next(t->data, t->c->prompt_filter ? t->filter : NULL, &p, &pkey, err)) return 1;
            int gi = gen_add_group(t->gen, &p, (uint64_t)(b * t->P + j), pkey, b, err);
            if (gi < 0) return 1;
            t->batch_gi[(b % t->ring) * t->P + j] = gi;
        }
        t->admitted++;
    }
    return 0;
}

/* ---- eval schedule ---- */

/* Steps at which to evaluate (0 and the last step always). linear: every eval_every steps. log:
 * steps/eval_every points evenly spaced in log(step) from step 1, which is evenly in log
 * compute as far as the compute per step is constant. */
static int make_eval_steps(Trainer *t)
{
    const TrainConfig *c = t->c;
    long n = c->steps / c->eval_every + 2;
    t->eval_steps = malloc((size_t)(n + 2) * sizeof(long));
    if (!t->eval_steps) return 2;
    int k = 0;
    t->eval_steps[k++] = 0;
    if (c->eval_schedule == EVAL_LINEAR) {
        for (long s = c->eval_every; s < c->steps; s += c->eval_every) t->eval_steps[k++] = s;
    } else {
        long points = c->steps / c->eval_every;
        for (long i = 0; i < points; i++) {
            double x = points > 1 ? (double)i / (double)(points - 1) : 1.0;
            long s = lround(exp(x * log((double)c->steps)));
            if (s > t->eval_steps[k - 1] && s < c->steps) t->eval_steps[k++] = s;
        }
    }
    t->eval_steps[k++] = c->steps;
    t->n_evals = k;
    return 0;
}

/* ---- metrics ---- */

static void row_times(Trainer *t)
{
    jw_num(&t->jw, "wall_s", wall_seconds() - t->wall0);
    jw_num(&t->jw, "cpu_s", cpu_seconds() - t->cpu0);
}

static int run_eval(Trainer *t, long step, char *err)
{
    EvalResult r;
    int rc = evaluate(t->m.params, &t->gc, t->split, (int)t->c->eval_n, (int)t->c->eval_samples, &r, err);
    if (rc) return rc;
    t->last_pass = r.pass_rate;
    jw_begin(&t->jw);
    jw_str(&t->jw, "kind", "eval");
    jw_int(&t->jw, "step", step);
    jw_num(&t->jw, "flops", t->flops_gen + t->flops_train);
    row_times(t);
    jw_num(&t->jw, "pass_rate", r.pass_rate);
    jw_num(&t->jw, "pass_rate_lo", r.pass_rate_lo);
    jw_num(&t->jw, "pass_rate_hi", r.pass_rate_hi);
    jw_int(&t->jw, "n", r.n);
    jw_int(&t->jw, "samples", r.samples);
    for (int k = 0; k < r.n_pass_k; k++) {
        char key[32];
        snprintf(key, sizeof key, "pass_at_%d", r.pass_k[k]);
        jw_num(&t->jw, key, r.pass_at_k[k]);
    }
    jw_num(&t->jw, "len_mean", r.len_mean);
    jw_num(&t->jw, "interrupt_frac", r.interrupt_frac);
    jw_num(&t->jw, "truncate_frac", r.truncate_frac);
    return jw_end(&t->jw, t->metrics, err) ? 2 : (fflush(t->metrics) ? 2 : 0);
}

static void progress_line(Trainer *t, long step)
{
    if (!t->progress) return;
    double el = wall_seconds() - t->wall0;
    double eta = step > 0 ? el / step * (t->c->steps - step) : 0;
    fprintf(stderr, "\rstep %ld/%ld  reward %.3f  pass %.3f  compute %.3g FLOP  %.0fs elapsed, ETA %.0fs   ", step,
            t->c->steps, t->last_step_reward, t->last_pass, t->flops_gen + t->flops_train, el, eta);
    if (step == t->c->steps) fputc('\n', stderr);
}

/* ---- one optimizer step ---- */

typedef struct {
    AdvStats adv;
    LossStats loss;
    double grad_norm, lr, entropy, len_mean, interrupt_frac, truncate_frac, stale_mean, flops;
    long stale_max, retired_now, rows, tokens;
    long stale_hist[STALE_BINS];
} StepStats;

/* Consumes batch t->version: rewards, filter, advantages, weights, the trainer's forward in FP32,
 * the loss, backward, clip, AdamW. */
static int train_step(Trainer *t, StepStats *s, char *err)
{
    const TrainConfig *c = t->c;
    const int P = t->P, G = t->G, N = t->N, ctx = t->m.cfg.ctx;
    const long v = t->version;
    memset(s, 0, sizeof *s);
    /* Rewards, and every group recorded by the prompt filter before zero-variance filtering. */
    double len = 0, intr = 0, trunc = 0;
    for (int j = 0; j < P; j++) {
        Group *gr = batch_group(t, v, j);
        int n_pass = 0;
        for (int q = 0; q < G; q++) {
            const Completion *cp = &gr->c[q];
            t->reward[j * G + q] = cp->reward;
            n_pass += cp->correct;
            len += cp->n - cp->n_prompt;
            intr += cp->interrupted;
            trunc += cp->truncated;
        }
        int retired = 0;
        if (prompt_filter_record(t->filter, gr->prompt_key, n_pass, G, &retired, err)) return 2;
        s->retired_now += retired;
    }
    s->len_mean = len / N;
    s->interrupt_frac = intr / N;
    s->truncate_frac = trunc / N;
    advantages_compute(t->adv, t->kept, &s->adv, t->reward, P, G, (AdvNorm)c->adv_norm, (int)c->zero_var_filter);

    /* Flatten the loss tokens (sampled completion tokens; forced ones are context only). */
    int R = 0, T = 1;
    t->off[0] = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = &batch_group(t, v, i / G)->c[i % G];
        int o = t->off[i];
        int row = t->kept[i] && cp->n > cp->n_prompt ? R : -1;
        for (int p = cp->n_prompt; p < cp->n; p++) {
            if (cp->forced[p]) continue;
            t->f_logp_gen[o] = cp->logp[p];
            t->f_row[o] = row;
            t->f_pos[o] = p;
            o++;
        }
        t->off[i + 1] = o;
        if (row >= 0 && o > t->off[i]) {
            t->row_comp[R++] = i;
            if (cp->n - 1 > T) T = cp->n - 1;
        }
    }
    aggregation_weights(t->f_w, t->off, t->kept, P, G, (AggMode)c->agg);
    s->rows = R;
    s->lr = lr_at(v, c->lr, c->warmup, c->steps, LR_CONSTANT, 0.0);
    if (R == 0) return 0; /* every group zero-variance: no signal, no update */

    /* Rows for the trainer's forward: inputs tok[0..n-2], targets the next token at loss
     * positions only. */
    for (int r = 0; r < R; r++) {
        const int i = t->row_comp[r];
        const Completion *cp = &batch_group(t, v, i / G)->c[i % G];
        int *tok = t->rows_tok + (size_t)r * T, *tgt = t->rows_tgt + (size_t)r * T;
        for (int p = 0; p < T; p++) {
            tok[p] = p < cp->n - 1 ? cp->tok[p] : TOK_PAD;
            tgt[p] = -1;
        }
        for (int p = cp->n_prompt; p < cp->n; p++)
            if (!cp->forced[p]) tgt[p - 1] = cp->tok[p];
        for (int p = 0; p < cp->n - 1; p++) s->flops += 3.0 * model_flops_token(&t->m.cfg, p);
    }
    (void)ctx;
    if (model_forward(&t->m, t->rows_tok, t->rows_tgt, R, T, (float)c->temperature, t->train_prec, t->rows_logp,
                      t->rows_ent, err))
        return 1;
    double ent = 0, stale = 0;
    long n_tok = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = &batch_group(t, v, i / G)->c[i % G];
        for (int o = t->off[i]; o < t->off[i + 1]; o++) {
            if (t->f_row[o] < 0) {
                t->f_logp[o] = t->f_logp_gen[o];
                continue;
            }
            size_t at = (size_t)t->f_row[o] * T + t->f_pos[o] - 1;
            t->f_logp[o] = t->rows_logp[at];
            ent += t->rows_ent[at];
            long st = v - cp->version[t->f_pos[o]];
            stale += (double)st;
            if (st > s->stale_max) s->stale_max = st;
            s->stale_hist[st < STALE_BINS - 1 ? st : STALE_BINS - 1]++;
            n_tok++;
        }
    }
    s->tokens = n_tok;
    s->entropy = n_tok ? ent / n_tok : 0;
    s->stale_mean = n_tok ? stale / n_tok : 0;
    loss_compute(t->f_dlogp, &s->loss, t->f_logp, t->f_logp_gen, t->f_w, t->adv, t->off, N, &t->lp);
    memset(t->rows_dlogp, 0, (size_t)R * T * sizeof(float));
    for (int o = 0; o < t->off[N]; o++)
        if (t->f_row[o] >= 0) t->rows_dlogp[(size_t)t->f_row[o] * T + t->f_pos[o] - 1] = t->f_dlogp[o];
    model_zero_grad(&t->m);
    model_backward(&t->m, t->rows_dlogp);
    s->grad_norm = grad_clip(&t->m, c->grad_clip);
    if (!isfinite(s->grad_norm)) {
        snprintf(err, ERR_LEN, "gradient norm is %g at step %ld: the run diverged (lower lr?)", s->grad_norm, v + 1);
        return 1;
    }
    adamw_step(&t->m, &t->opt, s->lr);
    return 0;
}

static int write_step_row(Trainer *t, const StepStats *s, char *err)
{
    JsonWriter *w = &t->jw;
    jw_begin(w);
    jw_str(w, "kind", "step");
    jw_int(w, "step", t->version);
    jw_int(w, "version", t->version);
    jw_num(w, "flops", t->flops_gen + t->flops_train);
    jw_num(w, "flops_gen", t->flops_gen);
    jw_num(w, "flops_train", t->flops_train);
    row_times(t);
    jw_num(w, "reward", s->adv.reward_mean);
    jw_num(w, "zero_var_frac", t->P ? (double)s->adv.n_groups_zero_var / t->P : 0);
    jw_num(w, "kept_frac", t->P ? (double)s->adv.n_groups_kept / t->P : 0);
    jw_int(w, "prompts_retired", prompt_filter_n_retired(t->filter));
    jw_int(w, "epoch", data_epoch(t->data));
    jw_num(w, "len_mean", s->len_mean);
    jw_num(w, "interrupt_frac", s->interrupt_frac);
    jw_num(w, "truncate_frac", s->truncate_frac);
    jw_num(w, "entropy", s->entropy);
    jw_num(w, "loss", s->loss.loss);
    jw_num(w, "clip_frac", s->loss.clip_frac);
    jw_num(w, "ratio_mean", s->loss.ratio_mean);
    jw_num(w, "ratio_max", s->loss.ratio_max);
    jw_num(w, "mismatch_kl", s->loss.mismatch_kl);
    jw_num(w, "grad_norm", s->grad_norm);
    jw_num(w, "lr", s->lr);
    jw_int(w, "tokens", s->tokens);
    jw_num(w, "stale_mean", s->stale_mean);
    jw_int(w, "stale_max", s->stale_max);
    double hist[STALE_BINS];
    int nb = (int)(t->c->k + 1 < STALE_BINS ? t->c->k + 1 : STALE_BINS);
    for (int b = 0; b < nb; b++) hist[b] = (double)s->stale_hist[b];
    jw_num_array(w, "stale_hist", hist, nb);
    return jw_end(w, t->metrics, err) ? 2 : (fflush(t->metrics) ? 2 : 0);
}

/* ---- set-up and the loop ---- */

static int setup(Trainer *t, const TrainConfig *c, char *err)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->P = (int)c->prompts_per_step;
    t->G = (int)c->gens_per_prompt;
    t->N = t->P * t->G;
    t->wall0 = wall_seconds();
    t->cpu0 = cpu_seconds();
    t->progress = c->progress < 0 ? isatty(2) : (int)c->progress;
    t->last_pass = NAN;
    model_set_threads((int)c->threads);
    int rc = load_base_model(c->base, &t->m, err);
    if (rc) return rc;
    if ((rc = task_spec_parse(c->task, &t->spec, err))) return rc;
    if ((rc = split_new(t->spec, (uint64_t)c->data_seed, (int)c->eval_n, &t->split, err))) return rc;
    t->data = data_new(t->split, c->train_pool, (uint64_t)c->seed, err);
    if (!t->data) return 2;
    t->filter = prompt_filter_new(c->prompt_filter_at, err);
    if (!t->filter) return 2;

    loss_params_default(&t->lp, (LossKind)c->loss);
    t->lp.cispo_eps_max = c->eps_max;
    t->lp.eps_low = c->eps_low;
    t->lp.eps_high = c->eps_high;
    t->lp.gspo_eps_low = c->gspo_eps_low;
    t->lp.gspo_eps_high = c->gspo_eps_high;
    t->opt = (AdamWConfig){c->adam_beta1, c->adam_beta2, c->adam_eps, c->weight_decay};
    t->train_prec = (Precision){0, c->head == PREC_BF16};

    t->ring = c->offpolicy == OFFPOLICY_PIPELINE ? (int)c->k + 1 : c->offpolicy == OFFPOLICY_PPO ? (int)c->k : 1;
    GenConfig *gc = &t->gc;
    gc->mcfg = t->m.cfg;
    gc->G = t->G;
    gc->max_groups = t->ring * t->P;
    gc->slots = c->gen_slots > 0 ? (int)c->gen_slots : t->N;
    gc->temperature = (float)c->temperature;
    gc->prec = (Precision){c->gen_precision == PREC_BF16, c->head == PREC_BF16};
    gc->seed = (uint64_t)c->seed;
    gc->stream = STREAM_TRAIN_SAMPLE;
    gc->length = (LengthMode)c->length;
    gc->think_lo = (int)c->think_budget[0];
    gc->think_hi = (int)c->think_budget[1];
    gc->answer_budget = (int)c->answer_budget;
    gc->penalty_cache = (int)c->penalty_cache;
    if ((rc = gen_config_check(gc, task_max_prompt_tokens(t->spec), err))) return rc;
    t->gen = gen_new(gc, err);
    if (!t->gen) return 2;

    const int N = t->N, ctx = t->m.cfg.ctx;
    const size_t ft = (size_t)N * ctx;
    t->batch_gi = malloc((size_t)t->ring * t->P * sizeof(int));
    t->reward = malloc(N * sizeof(float));
    t->adv = malloc(N * sizeof(float));
    t->kept = malloc(N);
    t->off = malloc((N + 1) * sizeof(int));
    t->row_comp = malloc(N * sizeof(int));
    t->f_logp = malloc(ft * sizeof(float));
    t->f_logp_gen = malloc(ft * sizeof(float));
    t->f_w = malloc(ft * sizeof(float));
    t->f_dlogp = malloc(ft * sizeof(float));
    t->f_row = malloc(ft * sizeof(int));
    t->f_pos = malloc(ft * sizeof(int));
    t->rows_tok = malloc(ft * sizeof(int));
    t->rows_tgt = malloc(ft * sizeof(int));
    t->rows_logp = malloc(ft * sizeof(float));
    t->rows_ent = malloc(ft * sizeof(float));
    t->rows_dlogp = malloc(ft * sizeof(float));
    if (!t->batch_gi || !t->reward || !t->adv || !t->kept || !t->off || !t->row_comp || !t->f_logp ||
        !t->f_logp_gen || !t->f_w || !t->f_dlogp || !t->f_row || !t->f_pos || !t->rows_tok || !t->rows_tgt ||
        !t->rows_logp || !t->rows_ent || !t->rows_dlogp || make_eval_steps(t)) {
        snprintf(err, ERR_LEN, "out of memory for a batch of %d completions", N);
        return 2;
    }
    /* Eval uses the generator's numerics and length control, its own sampling stream. */
    jw_init(&t->jw);
    return 0;
}

static void teardown(Trainer *t)
{
    gen_free(t->gen);
    data_free(t->data);
    prompt_filter_free(t->filter);
    split_free(t->split);
    task_spec_free(t->spec);
    model_free(&t->m);
    if (t->metrics) fclose(t->metrics);
    jw_free(&t->jw);
    free(t->batch_gi);
    free(t->reward);
    free(t->adv);
    free(t->kept);
    free(t->off);
    free(t->row_comp);
    free(t->f_logp);
    free(t->f_logp_gen);
    free(t->f_w);
    free(t->f_dlogp);
    free(t->f_row);
    free(t->f_pos);
    free(t->rows_tok);
    free(t->rows_tgt);
    free(t->rows_logp);
    free(t->rows_ent);
    free(t->rows_dlogp);
    free(t->eval_steps);
}

static int eval_due(Trainer *t, long step, char *err)
{
    if (t->next_eval >= t->n_evals || t->eval_steps[t->next_eval] != step) return 0;
    t->next_eval++;
    GenConfig saved = t->gc;
    t->gc.stream = STREAM_EVAL_SAMPLE;
    int rc = run_eval(t, step, err);
    t->gc = saved;
    return rc;
}

static int loop(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    int rc;
    if ((rc = eval_due(t, 0, err))) return rc;
    progress_line(t, 0);
    while (t->version < c->steps) {
        const long v = t->version;
        if ((rc = admit_batches(t, err))) return rc;
        /* (A) the trainer waits for its batch; PPO rounds finish generating first. */
        while (c->offpolicy == OFFPOLICY_PPO ? gen_busy(t->gen) > 0 : !batch_complete(t, v))
            if (gen_step(t->gen, t->m.params, v, &t->flops_gen) == 0) {
                snprintf(err, ERR_LEN, "internal: batch %ld incomplete with nothing to generate", v);
                return 1;
            }
        /* (B) decode steps a concurrent generator takes during the trainer's step, with version v. */
        if (c->offpolicy == OFFPOLICY_PIPELINE)
            for (long i = 0; i < c->overlap && gen_busy(t->gen) > 0; i++)
                gen_step(t->gen, t->m.params, v, &t->flops_gen);
        StepStats s;
        if ((rc = train_step(t, &s, err))) return rc;
        t->flops_train += s.flops;
        for (int j = 0; j < t->P; j++) gen_release(t->gen, t->batch_gi[(v % t->ring) * t->P + j]);
        t->version++; /* (C) publish: the generator's next token uses the new weights */
        t->last_step_reward = s.adv.reward_mean;
        if ((rc = write_step_row(t, &s, err))) return rc;
        if ((rc = eval_due(t, t->version, err))) return rc;
        progress_line(t, t->version);
    }
    return 0;
}

int train_run(const TrainConfig *c, char *err)
{
    Trainer t;
    int rc = setup(&t, c, err);
    if (!rc) rc = mkdir_p(c->out, err);
    if (!rc) rc = write_run_config(c, err);
    if (!rc) rc = open_metrics(c->out, &t.metrics, err);
    if (!rc) rc = loop(&t, err);
    if (!rc) {
        jw_begin(&t.jw);
        jw_str(&t.jw, "kind", "run");
        jw_str(&t.jw, "recipe", c->recipe);
        jw_int(&t.jw, "steps", t.version);
        jw_num(&t.jw, "flops", t.flops_gen + t.flops_train);
        row_times(&t);
        jw_int(&t.jw, "prompts_retired", prompt_filter_n_retired(t.filter));
        jw_int(&t.jw, "train_pool", data_pool_size(t.data));
        rc = jw_end(&t.jw, t.metrics, err) ? 2 : 0;
    }
    if (!rc) rc = save_run_checkpoint(c, &t.m, t.version, err);
    teardown(&t);
    return rc;
}
