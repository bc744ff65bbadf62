/* One RL run's state, split as the run uses it: what is configured, the components it owns, and
 * where the run stands. The schedules (ref/rl/schedule.h) drive it through four calls per
 * optimizer step, on the batch its version names:
 *   trainer_prepare  records the batch's groups in the prompt filter and prepares the step
 *                    (ref/rl/step.h), whose FLOPs are then known;
 *   trainer_apply    the optimizer step (weights version -> version + 1);
 *   trainer_release  frees the batch's groups in the generator;
 *   trainer_finish   advances the version, writes the step row, evaluates when due.
 * Under schedule=threads, `lock` guards the generator, the data source, the prompt filter, the
 * batches and flops_gen, which the generator thread also touches; these calls take it. */
#ifndef SCALERL_TRAINER_H
#define SCALERL_TRAINER_H

#include <pthread.h>
#include <signal.h>

#include "models/model.h"
#include "ref/rl/batches.h"
#include "ref/rl/data.h"
#include "ref/rl/prompt_filter.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"
#include "ref/rl/runlog.h"
#include "ref/rl/step.h"
#include "tasks/tasks.h"

typedef struct {
    /* configured */
    const TrainConfig *c;
    GenConfig gc;
    int P, G;
    /* owned */
    Model m;
    TaskSpec *spec;
    TaskSpec *val_spec; /* eval_task's, or NULL: validation drawn from spec */
    TaskSplit *split;
    DataSource *data;
    PromptFilter *filter;
    Generator *gen;
    BatchQueue batches;
    TrainStep step;
    RunLog log;
    /* where the run stands */
    long version; /* optimizer steps taken = version of the trainer's weights */
    long bad_steps;  /* steps skipped for a non-finite loss or gradient norm (the step rows' bad_steps) */
    long bad_in_row; /* of them, the latest consecutive ones: max_bad_steps of them stop the run */
    double flops_gen, flops_train;
    double sim_time;  /* the deterministic schedule's virtual clock: the trainer's (schedule_sim.c) */
    double gen_clock; /* and the generator's */
    double epochs;   /* passes over the training pool when the last trained batch was drawn */
    pthread_mutex_t *lock; /* schedule=threads; NULL otherwise */
    /* checkpoints and interruption (ref/rl/resume.h) */
    long ckpt_due_at;                   /* a checkpoint fell due after this step and waits for an idle
                                         * step boundary; 0: none (steps start at 1) */
    int ckpt_late_noted;                /* the note that it is a whole ckpt_every late was printed */
    volatile const sig_atomic_t *stop;  /* nonzero (the signal's number) once a signal asks to stop */
    int stopped;                        /* the run stopped on request (after a checkpoint, if it could) */
    long ckpt_step;                     /* the newest checkpoint written or resumed from; 0: none */
} Trainer;

/* Loads the base model and builds every component; the run log is opened by trainer_open_log
 * once the run directory is ready. Returns 0, 1 (bad input) or 2 (I/O, memory) with err; on
 * failure trainer_free still frees what was built. */
int trainer_init(Trainer *t, const TrainConfig *c, char *err);
int trainer_open_log(Trainer *t, int append, char *err);
void trainer_free(Trainer *t);

/* The generator's admission limit at trainer version v: the highest batch it may hold. */
long trainer_admit_limit(const Trainer *t, long v);
/* Where the run stands, for a metrics row. */
RunPoint trainer_point(Trainer *t);

int trainer_prepare(Trainer *t, StepStats *s, char *err);
int trainer_apply(Trainer *t, StepStats *s, char *err);
void trainer_release(Trainer *t);
int trainer_finish(Trainer *t, const StepStats *s, const ThreadStats *th, char *err);

#endif
