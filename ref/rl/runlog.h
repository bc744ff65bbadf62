/* What a run writes as it goes: metrics.jsonl rows (kind step, eval, run; one JSON object per
 * line, flushed after each), the eval schedule, and the progress line on stderr.
 *
 * Eval schedule: steps 0 and the last always; linear: every eval_every steps; log: about
 * steps/eval_every points evenly spaced in log(step). Evals use the generator's numerics and
 * length control with their own sampling stream (GEN_STREAM_EVAL, ref/rl/rollout.h), on the first eval_n validation
 * prompts, so `scalerl eval` on a run's checkpoint reproduces its eval rows. */
#ifndef SCALERL_RUNLOG_H
#define SCALERL_RUNLOG_H

#include <stdio.h>

#include "ref/common/jsonl.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"
#include "ref/rl/step.h"

typedef struct {
    const TrainConfig *c;
    JsonlFile metrics; /* metrics.jsonl: whole lines only, even on a full disk */
    JsonWriter jw;
    double wall0, cpu0;
    long *eval_steps;
    int n_evals, next_eval;
    long last_eval_step;
    double last_pass, last_reward;
    int progress;
    struct Evaluator *evaluator; /* the evals' generator, kept between them (ref/rl/evaluate.h) */
} RunLog;

/* Where the run stands when a row is written. */
typedef struct {
    long step;
    double flops_gen, flops_train;
    double sim_time; /* modelled seconds on the virtual clock; NAN under schedule=threads */
    long prompts_retired;
    double retired_frac; /* of the training pool */
    long epoch;          /* the epoch of the last trained batch (0-based) */
    double epochs;       /* passes over the pool when that batch was drawn, fractional */
    long bad_steps;      /* steps skipped for a non-finite loss or gradient norm (ref/rl/step.h) */
} RunPoint;

/* The timing-dependent fields of schedule=threads (not part of the deterministic metrics). */
typedef struct {
    int threaded;
    double gen_util;       /* fraction of the step's wall time the generator spent decoding */
    double trainer_idle_s; /* time the trainer waited for its batch */
} ThreadStats;

/* Opens DIR/metrics.jsonl (truncated, or appended to when resuming) and plans the evals.
 * Returns 0 or 2 with err. */
int runlog_open(RunLog *l, const TrainConfig *c, int append, char *err);
void runlog_close(RunLog *l);
int runlog_step(RunLog *l, const RunPoint *at, const StepStats *s, const ThreadStats *ts, char *err);
/* Evaluates params when `step` is an eval step (or always, with force=1) and writes the row. */
int runlog_eval(RunLog *l, const RunPoint *at, const float *params, const GenConfig *gc, const TaskSplit *split,
                int force, char *err);
/* The closing row: steps taken, compute, the pool, and why it stopped early (NULL: it did not). */
int runlog_run(RunLog *l, const RunPoint *at, long pool, const char *stopped, char *err);
void runlog_progress(RunLog *l, const RunPoint *at);

#endif
