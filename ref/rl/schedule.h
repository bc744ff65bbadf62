/* The schedules that interleave generation and optimizer steps (one mechanism, three policies).
 *
 * A batch may be admitted to the generator (its prompts drawn and queued) only when the trainer's
 * version v allows it (trainer_admit_limit):
 *   sync:      b <= v            (generate batch v with version v, train, repeat)
 *   pipeline:  b <= v + k        (PipelineRL-k: the generator runs ahead by at most k batches,
 *                                 so no token of batch b is older than version b - k)
 *   ppo:       b < (v/k + 1) k   (PPO-off-policy-k: k batches per round, all generated with the
 *                                 round's first version, then k optimizer steps)
 *
 * schedule_deterministic: one thread, a reproducible interleaving (schedule_sim.c).
 * schedule_threads: PipelineRL-k with a real generator thread; the bound k is enforced at run
 * time, the interleaving depends on timing (schedule_threads.c). */
#ifndef SCALERL_SCHEDULE_H
#define SCALERL_SCHEDULE_H

#include "ref/rl/trainer.h"

/* Run every step of t's config from t->version on. Return 0, or 1/2 with err. */
int schedule_deterministic(Trainer *t, char *err);
int schedule_threads(Trainer *t, char *err);

#endif
