#include "ref/rl/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/checkpoint.h"
#include "ref/rl/evaluate.h"
#include "ref/common/runfiles.h"
#include "ref/rl/trainer.h"
#include "ref/common/util.h"

enum { STREAM_TRAIN_SAMPLE = 0x7a11, STREAM_EVAL_SAMPLE = 0xe7a1 };

/* ---- schedule ---- */

long trainer_admit_limit(const Trainer *t, long version)
{
    const TrainConfig *c = t->c;
    switch (c->offpolicy) {
    case OFFPOLICY_PIPELINE: return version + c->k;
    case OFFPOLICY_PPO: return (version / c->k) * c->k + c->k - 1;
    default: return version;
    }
}

Group *trainer_batch_group(Trainer *t, long b, int j)
{
    return gen_group(t->gen, t->batch_gi[(b % t->ring) * t->P + j]);
}

int trainer_batch_ready(const Trainer *t, long b)
{
    return b < t->admitted && t->batch_done[b % t->ring] == t->P;
}

void trainer_collect_finished(Trainer *t)
{
    int n = gen_take_finished(t->gen, t->finished_scratch, t->gc.max_groups);
    for (int i = 0; i < n; i++) t->batch_done[gen_group(t->gen, t->finished_scratch[i])->tag % t->ring]++;
}

int trainer_admit(Trainer *t, long limit, char *err)
{
    if (limit > t->c->steps - 1) limit = t->c->steps - 1;
    Problem *batch = t->draw_scratch;
    uint64_t *keys = t->key_scratch;
    while (t->admitted <= limit && !t->exhausted) {
        long b = t->admitted;
        /* Draw the whole batch first, so that a batch is admitted whole or not at all. */
        for (int j = 0; j < t->P; j++)
            if (data_next(t->data, t->c->prompt_filter ? t->filter : NULL, &batch[j], &keys[j], err)) {
                t->exhausted = 1;
                return 0;
            }
        t->batch_done[b % t->ring] = 0;
        for (int j = 0; j < t->P; j++) {
            int gi = gen_add_group(t->gen, &batch[j], (uint64_t)(b * t->P + j), keys[j], b, err);
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

/* The generator's FLOPs so far (written by the generator thread under schedule=threads). */
static double gen_flops(Trainer *t)
{
    if (t->lock) pthread_mutex_lock(t->lock);
    double f = t->flops_gen;
    if (t->lock) pthread_mutex_unlock(t->lock);
    return f;
}

static void row_times(Trainer *t)
{
    jw_num(&t->jw, "wall_s", wall_seconds() - t->wall0);
    jw_num(&t->jw, "cpu_s", cpu_seconds() - t->cpu0);
}

static int run_eval(Trainer *t, long step, char *err)
{
    EvalResult r;
    int rc = evaluate(t->m.params, &t->gc, t->split, (int)t->c->eval_n, (int)t->c->eval_samples, t->progress, &r, err);
    if (rc) return rc;
    t->last_pass = r.pass_rate;
    t->last_eval_step = step;
    jw_begin(&t->jw);
    jw_str(&t->jw, "kind", "eval");
    jw_int(&t->jw, "step", step);
    jw_num(&t->jw, "flops", gen_flops(t) + t->flops_train);
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
    return jsonl_file_append(&t->metrics, &t->jw, err);
}

static void progress_line(Trainer *t, long step)
{
    if (!t->progress) return;
    double el = wall_seconds() - t->wall0;
    double eta = step > 0 ? el / step * (t->c->steps - step) : 0;
    fprintf(stderr, "\rstep %ld/%ld  reward %.3f  pass %.3f  compute %.3g FLOP  %.0fs elapsed, ETA %.0fs   ", step,
            t->c->steps, t->last_step_reward, t->last_pass, gen_flops(t) + t->flops_train, el, eta);
    if (step == t->c->steps) fputc('\n', stderr);
}

static int write_step_row(Trainer *t, const StepStats *s, char *err)
{
    JsonWriter *w = &t->jw;
    jw_begin(w);
    jw_str(w, "kind", "step");
    jw_int(w, "step", t->version);
    jw_int(w, "version", t->version);
    const double fg = gen_flops(t);
    jw_num(w, "flops", fg + t->flops_train);
    jw_num(w, "flops_gen", fg);
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
    jw_int(w, "bad_steps", t->bad_steps);
    jw_num(w, "lr", s->lr);
    jw_int(w, "tokens", s->tokens);
    jw_num(w, "stale_mean", s->stale_mean);
    jw_int(w, "stale_max", s->stale_max);
    jw_num(w, "multi_version_frac", s->rows ? (double)s->multi_version / s->rows : 0);
    double hist[STALE_BINS];
    /* One bin per staleness the schedule allows: sync 0, ppo 0..k-1, pipeline 0..k. */
    long bound = t->c->offpolicy == OFFPOLICY_PIPELINE ? t->c->k : t->c->offpolicy == OFFPOLICY_PPO ? t->c->k - 1 : 0;
    int nb = (int)(bound + 1 < STALE_BINS ? bound + 1 : STALE_BINS);
    if (s->stale_max >= nb) nb = STALE_BINS; /* cannot happen within the bound k; shown if it does */
    for (int b = 0; b < nb; b++) hist[b] = (double)s->stale_hist[b];
    jw_num_array(w, "stale_hist", hist, nb);
    if (s->threaded) {
        jw_num(w, "gen_util", s->gen_util);
        jw_num(w, "trainer_idle_s", s->trainer_idle_s);
    }
    return jsonl_file_append(&t->metrics, w, err);
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
    t->batch_done = calloc((size_t)t->ring, sizeof(int));
    t->finished_scratch = malloc((size_t)gc->max_groups * sizeof(int));
    t->draw_scratch = malloc((size_t)t->P * sizeof(Problem));
    t->key_scratch = malloc((size_t)t->P * sizeof(uint64_t));
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
    if (!t->batch_gi || !t->batch_done || !t->finished_scratch || !t->draw_scratch || !t->key_scratch || !t->reward || !t->adv || !t->kept || !t->off || !t->row_comp || !t->f_logp ||
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
    char ignored[ERR_LEN]; /* every row was written and checked when it came */
    jsonl_file_close(&t->metrics, ignored);
    jw_free(&t->jw);
    free(t->batch_gi);
    free(t->batch_done);
    free(t->finished_scratch);
    free(t->draw_scratch);
    free(t->key_scratch);
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

void trainer_release_batch(Trainer *t)
{
    const long v = t->version;
    if (t->lock) pthread_mutex_lock(t->lock);
    for (int j = 0; j < t->P; j++) gen_release(t->gen, t->batch_gi[(v % t->ring) * t->P + j]);
    if (t->lock) pthread_mutex_unlock(t->lock);
}

int trainer_finish_step(Trainer *t, const StepStats *s, char *err)
{
    int rc;
    t->flops_train += s->flops;
    t->version++;
    t->last_step_reward = s->adv.reward_mean;
    t->bad_steps += s->bad;
    t->bad_in_row = s->bad ? t->bad_in_row + 1 : 0;
    if ((rc = write_step_row(t, s, err))) return rc;
    if (t->bad_in_row >= t->c->max_bad_steps) {
        snprintf(err, ERR_LEN, "stopping at step %ld: %ld steps in a row had a non-finite loss or gradient norm "
                 "(max_bad_steps=%ld; each was skipped, so the weights are step %ld's): the run diverged (lower lr?)",
                 t->version, t->bad_in_row, t->c->max_bad_steps, t->version - t->bad_in_row);
        return 1;
    }
    if ((rc = eval_due(t, t->version, err))) return rc;
    progress_line(t, t->version);
    return 0;
}

/* The deterministic schedule (train.h): (A) generate until batch v is ready, (B) `overlap` more
 * decode steps with version v, (C) train on batch v and publish version v+1. */
static int deterministic_loop(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    int rc;
    while (t->version < c->steps) {
        const long v = t->version;
        if ((rc = trainer_admit(t, trainer_admit_limit(t, v), err))) return rc;
        if (v >= t->admitted) break; /* every training prompt retired */
        /* PPO rounds generate all their batches with the round's first version. */
        while (c->offpolicy == OFFPOLICY_PPO ? gen_busy(t->gen) > 0 : !trainer_batch_ready(t, v)) {
            if (gen_step(t->gen, t->m.params, v, &t->flops_gen) == 0) {
                snprintf(err, ERR_LEN, "internal: batch %ld incomplete with nothing to generate", v);
                return 1;
            }
            trainer_collect_finished(t);
        }
        if (c->offpolicy == OFFPOLICY_PIPELINE)
            for (long i = 0; i < c->overlap && gen_busy(t->gen) > 0; i++) {
                gen_step(t->gen, t->m.params, v, &t->flops_gen);
                trainer_collect_finished(t);
            }
        StepStats s;
        if ((rc = trainer_step(t, &s, err))) return rc;
        trainer_release_batch(t);
        if ((rc = trainer_finish_step(t, &s, err))) return rc;
    }
    return 0;
}

static int loop(Trainer *t, char *err)
{
    int rc = eval_due(t, 0, err);
    if (rc) return rc;
    progress_line(t, 0);
    rc = t->c->schedule == SCHEDULE_THREADS ? pipeline_threads_loop(t, err) : deterministic_loop(t, err);
    /* A run cut short by the prompt filter still ends with an eval of its final weights. */
    if (!rc && t->version < t->c->steps && t->last_eval_step < t->version) {
        if (t->progress) fprintf(stderr, "\nevery training prompt is retired: stopping at step %ld\n", t->version);
        rc = run_eval(t, t->version, err);
    }
    return rc;
}

int train_run(const TrainConfig *c, int overwrite, char *err)
{
    Trainer t;
    RunDir rd = {-1, RUN_ABSENT, 0};
    int rc = setup(&t, c, err);
    if (!rc) rc = run_dir_claim(c, overwrite, &rd, err);
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
        if (t.version < c->steps) jw_str(&t.jw, "stopped", "every training prompt retired by the prompt filter");
        rc = jsonl_file_append(&t.metrics, &t.jw, err);
    }
    if (!rc) rc = save_run_checkpoint(c, &t.m, t.version, err);
    teardown(&t);
    run_dir_release(&rd);
    return rc;
}
