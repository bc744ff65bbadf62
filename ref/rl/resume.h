/* Checkpoints that resume a run exactly, and the resume itself.
 *
 * When: after the step that reaches a multiple of ckpt_every (or that a signal interrupts), at the
 * first step boundary from there at which the generator is idle (gen_idle: no queued or half-
 * decoded completion, so no KV cache needs saving). Under the deterministic schedule with its
 * default rates and the default model the generator is idle at every boundary, so that is the
 * step itself (not for every config: below); the rule is deterministic in any case, so an
 * interrupted and resumed run takes exactly the steps of an uninterrupted one. The threaded schedule pauses admission until its generator is idle.
 *
 * Under the deterministic schedule a generator slower than the trainer (sim_gen_gflops below
 * sim_train_gflops, as in tests/test_resume.sh's busy-generator case) may still be decoding at
 * every boundary; then a due checkpoint waits, perhaps to the run's end, and none is written. A
 * signal does not wait for that: at a boundary where the generator is busy the run stops without
 * a checkpoint (pausing admission, as the threaded schedule does, would change the steps after
 * it, so the resumed run would not be the uninterrupted one), and a resume goes on from the
 * newest checkpoint, or from step 0 when there is none.
 *
 * What: DIR/ckpt/step-NNNNNNNN.ckpt holds the weights, Adam moments and step
 * (models/checkpoint.h); DIR/ckpt/step-NNNNNNNN.state everything else: the step, FLOP counters,
 * virtual clocks, epochs and the skipped-step counters; the run log's place (next eval, last pass rate and reward, elapsed
 * time); the training pool's epoch, position and permutation; the prompt filter (pass rates and
 * retired set); the batch ring; the generator's held groups, whole records. The .state has a
 * magic, a layout check, a length and a CRC-32, and is written after the .ckpt, both atomically:
 * a checkpoint is complete iff its .state reads back valid. The `keep` newest are kept.
 *
 * Resume: a freshly built trainer (trainer_init) takes the newest valid checkpoint's state (a
 * newer invalid one skipped with a note; checkpoints none of which is valid refused, since starting
 * over would replace the run's metrics), and metrics.jsonl is cut back to the rows of steps up to
 * it (its own eval row included; what a kill leaves past it, a torn last line included, dropped;
 * damage among the rows kept refused). Everything drawn later is a counter-based function of (seed, step, index),
 * so the rest of the run is what it would have been. */
#ifndef SCALERL_RESUME_H
#define SCALERL_RESUME_H

#include "ref/rl/trainer.h"

/* Refuses (1 with err) an out= so long that the run's longest path, a checkpoint's, would not fit
 * in what atomic_open takes: checked with the keys, before anything is created. */
int resume_check_out(const TrainConfig *c, char *err);
/* Writes the checkpoint of t->version and removes all but the `keep` newest. 0 or 2 with err. */
int resume_save(Trainer *t, char *err);
/* Called by a schedule after every step, with the generator's state stable (under the lock in
 * the threaded schedule): marks a checkpoint due every ckpt_every steps or when t->stop is set,
 * and writes it when the generator is idle. Sets t->stopped once a requested stop has its
 * checkpoint (the schedule then returns). 0, or 2 with err. */
int resume_after_step(Trainer *t, char *err);
/* How many checkpoints run directory dir holds (steps with a .ckpt or a .state), valid or not; 0
 * also for a lone .ckpt without its .state (the first checkpoint, cut short by a kill). */
long resume_found(const char *dir);
/* The step to resume t's run from: its newest checkpoint whose two files read back valid and hold
 * t's model; when a newer one is not, a note on stderr names it and why. 0 with *step (0 when
 * resume_found finds none: the run starts from step 0); 1 when there are checkpoints and none is
 * valid, naming the newest's fault and how to start over; 2 on I/O. */
int resume_pick(const Trainer *t, long *step, char *err);
/* Restores t (built by trainer_init for the same config) from the checkpoint at `step`.
 * Returns 0, 1 (a bad or foreign checkpoint) or 2 (I/O) with err. */
int resume_load(Trainer *t, long step, char *err);
/* Cuts dir/metrics.jsonl back to its rows of steps <= step: from the first row past step (or the
 * run row) on, and a torn last line. A line before that which is not a row, or a row out of step
 * order, is refused (1, naming file:line and what was expected) with the file left as it is.
 * Returns 0, or 1/2 with err. */
int resume_cut_metrics(const char *dir, long step, char *err);

#endif
