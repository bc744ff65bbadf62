/* The RL trainer: generation (ref/rl/rollout.h) and optimizer steps on one schedule.
 *
 * Schedules, one mechanism. Training batch b is the b-th block of prompts_per_step groups in
 * stream order; the optimizer step that consumes it produces policy version b+1. A batch may be
 * admitted to the generator (its prompts drawn and queued) only when the trainer's version v
 * allows it:
 *   sync:      b <= v            (generate batch v with version v, train, repeat)
 *   pipeline:  b <= v + k        (PipelineRL-k: the generator runs ahead by at most k batches,
 *                                 so no token of batch b is older than version b - k)
 *   ppo:       b < (v/k + 1) k   (PPO-off-policy-k: k batches per round, all generated with the
 *                                 round's first version, then k optimizer steps)
 * The deterministic schedule alternates: (A) the generator decodes with version v until batch v
 * is complete (the trainer waits), (B) the trainer takes step v while the generator runs `overlap`
 * more decode steps with version v (what a concurrent generator does during a trainer step),
 * (C) version v+1 is published and the generator switches to it at its next token, keeping its
 * KV caches. With k = 0 nothing beyond batch v is admitted, so pipeline k=0 is sync exactly. */
#ifndef SCALERL_TRAIN_H
#define SCALERL_TRAIN_H

#include "ref/rl/recipe.h"

/* Runs the RL job described by c (base checkpoint, task, output directory). Writes
 * out/config.txt, out/metrics.jsonl, out/final.ckpt. The directory is claimed after the inputs are
 * checked (run_dir_claim, ref/common/runfiles.h: its lock, and a run of another config or a
 * finished one refused unless overwrite). Returns 0, 1 (bad input) or 2 (I/O). */
int train_run(const TrainConfig *c, int overwrite, char *err);

#endif
