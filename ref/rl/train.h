/* The RL trainer's entry point: a run from a base checkpoint to final.ckpt, on the schedule its
 * config names (ref/rl/schedule.h), with the state described in ref/rl/trainer.h. */
#ifndef SCALERL_TRAIN_H
#define SCALERL_TRAIN_H

#include "ref/rl/recipe.h"

/* Runs the RL job described by c (base checkpoint, task, output directory). Writes
 * out/config.txt, out/metrics.jsonl, out/final.ckpt. Returns 0, 1 (bad input) or 2 (I/O). */
int train_run(const TrainConfig *c, char *err);

#endif
