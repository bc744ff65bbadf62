/* metrics.jsonl rows, the eval schedule and the progress line (the header has the contract). */
#include "ref/rl/runlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/rl/runfiles.h"
#include "ref/common/util.h"
#include "ref/rl/evaluate.h"

static int plan_evals(RunLog *l)
{
    const TrainConfig *c = l->c;
    const long n = c->steps / c->eval_every + 2;
    l->eval_steps = malloc((size_t)(n + 2) * sizeof(long));
    if (!l->eval_steps) return 2;
    int k = 0;
    l->eval_steps[k++] = 0;
    if (c->eval_schedule == EVAL_LINEAR) {
        for (long s = c->eval_every; s < c->steps; s += c->eval_every) l->eval_steps[k++] = s;
    } else {
        /* Evenly in log(step) from step 1, which is evenly in log compute as far as the compute
         * per step is constant. */
        const long points = c->steps / c->eval_every;
        for (long i = 0; i < points; i++) {
            const double x = points > 1 ? (double)i / (double)(points - 1) : 1.0;
            const long s = lround(exp(x * log((double)c->steps)));
            if (s > l->eval_steps[k - 1] && s < c->steps) l->eval_steps[k++] = s;
        }
    }
    l->eval_steps[k++] = c->steps;
    l->n_evals = k;
    return 0;
}

int runlog_open(RunLog *l, const TrainConfig *c, int append, char *err)
{
    memset(l, 0, sizeof *l);
    l->c = c;
    l->wall0 = wall_seconds();
    l->cpu0 = cpu_seconds();
    l->progress = c->progress < 0 ? isatty(2) : (int)c->progress;
    l->last_pass = NAN;
    jw_init(&l->jw);
    if (plan_evals(l) || !(l->evaluator = evaluator_new())) {
        snprintf(err, ERR_LEN, "out of memory planning the evals");
        return 2;
    }
    return open_metrics(c->out, append, &l->metrics, err);
}

void runlog_close(RunLog *l)
{
    char ignored[ERR_LEN]; /* every row was written and checked when it came */
    jsonl_file_close(&l->metrics, ignored);
    jw_free(&l->jw);
    free(l->eval_steps);
    l->eval_steps = NULL;
    evaluator_free(l->evaluator);
    l->evaluator = NULL;
}

static void row_times(RunLog *l)
{
    jw_num(&l->jw, "wall_s", wall_seconds() - l->wall0);
    jw_num(&l->jw, "cpu_s", cpu_seconds() - l->cpu0);
}

static int end_row(RunLog *l, char *err)
{
    return jsonl_file_append(&l->metrics, &l->jw, err);
}

int runlog_step(RunLog *l, const RunPoint *at, const StepStats *s, const ThreadStats *th, char *err)
{
    const TrainConfig *c = l->c;
    JsonWriter *w = &l->jw;
    const double P = (double)s->adv.n_groups;
    l->last_reward = s->adv.reward_mean;
    jw_begin(w);
    jw_str(w, "kind", "step");
    jw_int(w, "step", at->step);
    jw_int(w, "version", at->step);
    jw_num(w, "flops", at->flops_gen + at->flops_train);
    jw_num(w, "flops_gen", at->flops_gen);
    jw_num(w, "flops_train", at->flops_train);
    if (isfinite(at->sim_time)) jw_num(w, "sim_time", at->sim_time);
    row_times(l);
    jw_num(w, "reward", s->adv.reward_mean);
    jw_num(w, "zero_var_frac", P ? s->adv.n_groups_zero_var / P : 0);
    jw_num(w, "kept_frac", P ? s->adv.n_groups_kept / P : 0);
    jw_num(w, "group_weight_cv", s->adv.group_weight_cv);
    if (c->dynamic_sampling) jw_int(w, "groups_drawn", s->groups_drawn);
    jw_int(w, "prompts_retired", at->prompts_retired);
    jw_int(w, "epoch", at->epoch);
    jw_num(w, "retired_frac", at->retired_frac);
    jw_num(w, "len_mean", s->len_mean);
    jw_num(w, "len_std", s->len_std);
    jw_num(w, "interrupt_frac", s->interrupt_frac);
    jw_num(w, "truncate_frac", s->truncate_frac);
    jw_num(w, "entropy", s->entropy);
    jw_num(w, "loss", s->loss.loss);
    jw_num(w, "clip_frac", s->loss.clip_frac);
    jw_num(w, "ratio_mean", s->loss.ratio_mean);
    jw_num(w, "ratio_max", s->loss.ratio_max);
    jw_num(w, "mismatch_kl", s->loss.mismatch_kl);
    jw_num(w, "far_frac", s->loss.far_frac);
    jw_num(w, "grad_norm", s->grad_norm);
    jw_int(w, "bad_steps", at->bad_steps);
    jw_num(w, "lr", s->lr);
    jw_int(w, "tokens", s->tokens);
    jw_num(w, "stale_mean", s->stale_mean);
    jw_int(w, "stale_max", s->stale_max);
    jw_num(w, "multi_version_frac", s->rows ? (double)s->multi_version / s->rows : 0);
    /* One bin per staleness the schedule allows: sync 0, ppo 0..k-1, pipeline 0..k. */
    double hist[STALE_BINS];
    const long bound = c->offpolicy == OFFPOLICY_PIPELINE ? c->k : c->offpolicy == OFFPOLICY_PPO ? c->k - 1 : 0;
    int nb = (int)(bound + 1 < STALE_BINS ? bound + 1 : STALE_BINS);
    if (s->stale_max >= nb) nb = STALE_BINS; /* cannot happen within the bound k; shown if it does */
    for (int b = 0; b < nb; b++) hist[b] = (double)s->stale_hist[b];
    jw_num_array(w, "stale_hist", hist, nb);
    if (th && th->threaded) {
        jw_num(w, "gen_util", th->gen_util);
        jw_num(w, "trainer_idle_s", th->trainer_idle_s);
    }
    return end_row(l, err);
}

int runlog_eval(RunLog *l, const RunPoint *at, const float *params, const GenConfig *gc_train,
                const TaskSplit *split, int force, char *err)
{
    if (!force) {
        if (l->next_eval >= l->n_evals || l->eval_steps[l->next_eval] != at->step) return 0;
        l->next_eval++;
    }
    GenConfig gc = *gc_train;
    gc.stream = GEN_STREAM_EVAL;
    EvalResult r;
    int rc = evaluator_run(l->evaluator, params, &gc, split, (int)l->c->eval_n, (int)l->c->eval_samples, l->progress,
                           &r, err);
    if (rc) return rc;
    l->last_pass = r.pass_rate;
    l->last_eval_step = at->step;
    JsonWriter *w = &l->jw;
    jw_begin(w);
    jw_str(w, "kind", "eval");
    jw_int(w, "step", at->step);
    jw_num(w, "flops", at->flops_gen + at->flops_train);
    if (isfinite(at->sim_time)) jw_num(w, "sim_time", at->sim_time);
    row_times(l);
    jw_num(w, "pass_rate", r.pass_rate);
    jw_num(w, "pass_rate_lo", r.pass_rate_lo);
    jw_num(w, "pass_rate_hi", r.pass_rate_hi);
    jw_int(w, "n", r.n);
    jw_int(w, "samples", r.samples);
    for (int k = 0; k < r.n_pass_k; k++) {
        char key[32];
        snprintf(key, sizeof key, "pass_at_%d", r.pass_k[k]);
        jw_num(w, key, r.pass_at_k[k]);
    }
    jw_num(w, "len_mean", r.len_mean);
    jw_num(w, "len_sd_prompt", r.len_sd_prompt);
    jw_num(w, "interrupt_frac", r.interrupt_frac);
    jw_num(w, "truncate_frac", r.truncate_frac);
    eval_write_families(&r, w);
    return end_row(l, err);
}

int runlog_run(RunLog *l, const RunPoint *at, long pool, const char *stopped, char *err)
{
    JsonWriter *w = &l->jw;
    jw_begin(w);
    jw_str(w, "kind", "run");
    jw_str(w, "recipe", l->c->recipe);
    jw_int(w, "steps", at->step);
    jw_num(w, "flops", at->flops_gen + at->flops_train);
    row_times(l);
    jw_int(w, "prompts_retired", at->prompts_retired);
    jw_int(w, "train_pool", pool);
    jw_num(w, "epochs", at->epochs);
    if (stopped) jw_str(w, "stopped", stopped);
    return end_row(l, err);
}

void runlog_progress(RunLog *l, const RunPoint *at)
{
    if (!l->progress) return;
    const long steps = l->c->steps;
    const double el = wall_seconds() - l->wall0, eta = at->step > 0 ? el / at->step * (steps - at->step) : 0;
    fprintf(stderr, "\rstep %ld/%ld  reward %.3f  pass %.3f  compute %.3g FLOP  %.0fs elapsed, ETA %.0fs   ",
            at->step, steps, l->last_reward, l->last_pass, at->flops_gen + at->flops_train, el, eta);
    if (at->step == steps) fputc('\n', stderr);
}
