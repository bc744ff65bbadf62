/* The RL trainer's entry point: a run from a base checkpoint to final.ckpt, on the schedule its
 * config names (ref/rl/schedule.h), with the state described in ref/rl/trainer.h. */
#ifndef SCALERL_TRAIN_H
#define SCALERL_TRAIN_H

#include "ref/rl/recipe.h"

#include <signal.h>

/* How a run starts and when it stops early. */
typedef struct {
    int overwrite;                     /* replace a run of another config, or a finished one */
    int resume;                        /* continue an unfinished run of this config from its newest
                                        * checkpoint in out/ckpt (decided under out/'s lock); 0:
                                        * start from step 0 */
    volatile const sig_atomic_t *stop; /* set (nonzero) by a signal handler: checkpoint, then stop */
} TrainControl;

/* Where a run stopped on request: after step `step`, with its newest checkpoint, the one a resume
 * goes on from, at `ckpt` (= step when the stop wrote one; 0: none, a resume starts over). */
typedef struct {
    long step, ckpt;
} TrainStop;

/* The run stopped on request (*stopped says where). */
#define TRAIN_STOPPED 3

/* Runs the RL job described by c (base checkpoint, task, output directory). Writes
 * out/config.txt, out/metrics.jsonl, out/ckpt/ (resume checkpoints), out/final.ckpt. The directory
 * is claimed once the inputs are checked (run_dir_claim, ref/rl/runfiles.h: its lock, and a run of
 * another config or a finished one refused unless ctl->overwrite). Returns 0, 1 (bad input), 2
 * (I/O) or TRAIN_STOPPED (with *stopped) with err. */
int train_run(const TrainConfig *c, const TrainControl *ctl, TrainStop *stopped, char *err);

#endif
