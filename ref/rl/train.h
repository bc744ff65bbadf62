/* The RL trainer's entry point: a run from a base checkpoint to final.ckpt, on the schedule its
 * config names (ref/rl/schedule.h), with the state described in ref/rl/trainer.h. */
#ifndef SCALERL_TRAIN_H
#define SCALERL_TRAIN_H

#include "ref/rl/recipe.h"

#include <signal.h>

/* How a run starts and when it stops early. */
typedef struct {
    long resume_step;                  /* > 0: resume from out/ckpt's checkpoint of this step */
    volatile const sig_atomic_t *stop; /* set (nonzero) by a signal handler: checkpoint, then stop */
} TrainControl;

/* The run stopped on request, its checkpoint written at step *stopped_at. */
#define TRAIN_STOPPED 3

/* Runs the RL job described by c (base checkpoint, task, output directory). Writes
 * out/config.txt, out/metrics.jsonl, out/ckpt/ (resume checkpoints), out/final.ckpt. Returns 0,
 * 1 (bad input), 2 (I/O) or TRAIN_STOPPED (with *stopped_at) with err. */
int train_run(const TrainConfig *c, const TrainControl *ctl, long *stopped_at, char *err);

#endif
