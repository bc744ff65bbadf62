/* One RL run's state and the four calls a schedule makes per step (the header has the contract). */
#include "ref/rl/trainer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "ref/rl/evaluate.h"
#include "ref/rl/runfiles.h"

/* Batches the generator may hold at once: sync 1, PPO-off-policy-k a round of k, PipelineRL-k
 * the batch being consumed and k ahead of it. */
static int ring_size(const TrainConfig *c)
{
    return c->offpolicy == OFFPOLICY_PIPELINE ? (int)c->k + 1 : c->offpolicy == OFFPOLICY_PPO ? (int)c->k : 1;
}

long trainer_admit_limit(const Trainer *t, long v)
{
    const TrainConfig *c = t->c;
    switch (c->offpolicy) {
    case OFFPOLICY_PIPELINE: return v + c->k;
    case OFFPOLICY_PPO: return (v / c->k) * c->k + c->k - 1;
    default: return v;
    }
}

int trainer_init(Trainer *t, const TrainConfig *c, char *err)
{
    memset(t, 0, sizeof *t);
    t->c = c;
    t->P = (int)c->prompts_per_step;
    t->G = (int)c->gens_per_prompt;
    model_set_threads((int)c->threads);
    int rc = load_base_model(c->base, &t->m, err);
    if (rc) return rc;
    /* A base is a starting model: a new run starts a new optimizer. An RL run's final.ckpt keeps
     * its Adam moments and step, and carrying them into a run that warms its rate up from zero
     * would make the run depend on how its base was made; continuing a run is resume's job
     * (ref/rl/README.md, "Checkpoints and resume"). */
    memset(t->m.adam_m, 0, t->m.n_params * sizeof *t->m.adam_m);
    memset(t->m.adam_v, 0, t->m.n_params * sizeof *t->m.adam_v);
    t->m.adam_step = 0;
    if ((rc = eval_split_open(c->task, c->eval_task, (uint64_t)c->data_seed, (int)c->eval_n, &t->spec, &t->val_spec,
                              &t->split, err)))
        return rc;
    t->data = data_new(t->split, c->train_pool, (uint64_t)c->seed, &rc, err);
    if (!t->data) return rc;
    t->filter = prompt_filter_new(c->prompt_filter_at, err);
    if (!t->filter) return 2;
    const int ring = ring_size(c);
    t->gc = gen_config_from_keys(&t->m.cfg, c->temperature, c->gen_precision, c->head, c->seed, GEN_STREAM_TRAIN,
                                 c->length, c->think_budget, c->answer_budget, c->penalty_cache);
    t->gc.G = t->G;
    t->gc.max_groups = ring * t->P;
    t->gc.slots = c->gen_slots > 0 ? (int)c->gen_slots : t->P * t->G;
    /* One generator config serves training and the evals: it must fit both specs' prompts. */
    const int train_prompt = task_max_prompt_tokens(t->spec), val_prompt = task_max_prompt_tokens(split_val_spec(t->split));
    if ((rc = gen_config_check(&t->gc, train_prompt > val_prompt ? train_prompt : val_prompt, err))) return rc;
    gen_note_answer_budget(&t->gc, task_max_answer_tokens(t->spec), "train");
    if (t->val_spec) gen_note_answer_budget(&t->gc, task_max_answer_tokens(t->val_spec), "train eval_task");
    t->gen = gen_new(&t->gc, err);
    if (!t->gen) return 2;
    if ((rc = batches_init(&t->batches, t->gen, t->data, c->prompt_filter ? t->filter : NULL, t->P, ring, c->steps,
                           (int)c->dynamic_sampling, c->dynamic_sampling_max, err)))
        return rc;
    return step_init(&t->step, c, &t->m.cfg, t->P, err);
}

int trainer_open_log(Trainer *t, int append, char *err)
{
    return runlog_open(&t->log, t->c, append, err);
}

void trainer_free(Trainer *t)
{
    runlog_close(&t->log);
    step_free(&t->step);
    batches_free(&t->batches);
    gen_free(t->gen);
    data_free(t->data);
    prompt_filter_free(t->filter);
    split_free(t->split);
    task_spec_free(t->val_spec);
    task_spec_free(t->spec);
    model_free(&t->m);
}

static void lock(Trainer *t)
{
    if (t->lock) pthread_mutex_lock(t->lock);
}

static void unlock(Trainer *t)
{
    if (t->lock) pthread_mutex_unlock(t->lock);
}

RunPoint trainer_point(Trainer *t)
{
    lock(t);
    const double sim = t->c->schedule == SCHEDULE_THREADS ? NAN : t->sim_time;
    const long retired = prompt_filter_n_retired(t->filter);
    RunPoint p = {t->version, t->flops_gen, t->flops_train, sim, retired,
                  (double)retired / (double)data_pool_size(t->data), (long)floor(t->epochs), t->epochs,
                  t->bad_steps};
    unlock(t);
    return p;
}

int trainer_prepare(Trainer *t, StepStats *s, char *err)
{
    const long v = t->version;
    lock(t);
    const Group *const *groups = batches_groups(&t->batches, v);
    /* Every group is recorded by the prompt filter before zero-variance filtering: an all-solved
     * group is precisely the one to retire. Without No-Positive-Resampling nothing is recorded. */
    int rc = 0;
    for (int j = 0; j < t->P && !rc && t->c->prompt_filter; j++) {
        int n_pass = 0;
        for (int q = 0; q < t->G; q++) n_pass += groups[j]->c[q].correct;
        rc = prompt_filter_record(t->filter, groups[j]->prompt_key, n_pass, t->G, NULL, err);
    }
    const long drawn = batches_drawn(&t->batches, v);
    t->epochs = batches_epochs(&t->batches, v);
    unlock(t);
    if (rc) return rc;
    step_prepare(&t->step, groups, t->P, v, s);
    s->groups_drawn = drawn;
    return 0;
}

int trainer_apply(Trainer *t, StepStats *s, char *err)
{
    return step_apply(&t->step, &t->m, s, err);
}

void trainer_release(Trainer *t)
{
    lock(t);
    batches_release(&t->batches, t->version);
    unlock(t);
}

int trainer_finish(Trainer *t, const StepStats *s, const ThreadStats *th, char *err)
{
    t->flops_train += s->flops;
    t->version++;
    t->bad_steps += s->bad;
    t->bad_in_row = s->bad ? t->bad_in_row + 1 : 0;
    const RunPoint at = trainer_point(t);
    int rc = runlog_step(&t->log, &at, s, th, err);
    if (!rc && t->bad_in_row >= t->c->max_bad_steps) {
        snprintf(err, ERR_LEN, "stopping at step %ld: %ld steps in a row had a non-finite loss or gradient norm "
                 "(max_bad_steps=%ld; each was skipped, so the weights are step %ld's): the run diverged (lower lr?)",
                 t->version, t->bad_in_row, t->c->max_bad_steps, t->version - t->bad_in_row);
        return 1;
    }
    if (!rc) rc = runlog_eval(&t->log, &at, t->m.params, &t->gc, t->split, 0, err);
    if (!rc) runlog_progress(&t->log, &at);
    return rc;
}
