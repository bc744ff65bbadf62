/* One optimizer step of the RL trainer on a batch of groups, in two halves so that a schedule can
 * know a step's cost before its weights change:
 *   step_prepare  rewards, advantages and zero-variance filtering (ref/rl/advantage.h), the
 *                 aggregation weights (ref/rl/aggregate.h), the rows the trainer will score
 *                 (ref/rl/rows.h), the step's FLOPs, staleness and length statistics;
 *   step_apply    the trainer's own forward over the recorded tokens (FP32 logits unless
 *                 head=bf16), the loss (ref/rl/loss.h), backward, clipping and AdamW.
 * The batch is any array of finished groups (a schedule's, or one built by hand in a test); the
 * step never calls back into the schedule. Its scratch is carved from one allocation sized for
 * the largest batch (max_groups groups of G completions of at most ctx tokens). */
#ifndef SCALERL_STEP_H
#define SCALERL_STEP_H

#include "models/model.h"
#include "models/optim.h"
#include "ref/rl/advantage.h"
#include "ref/rl/loss.h"
#include "ref/rl/recipe.h"
#include "ref/rl/rollout.h"

#define STALE_BINS 17 /* staleness histogram: 0..15, and 16 or more */

typedef struct {
    AdvStats adv;
    LossStats loss;
    double grad_norm, lr, entropy, len_mean, interrupt_frac, truncate_frac, stale_mean, flops;
    long stale_max, rows, tokens;
    long groups_drawn; /* for this batch, dynamic sampling's discarded groups included (set by the caller) */
    long multi_version; /* trained completions whose tokens come from two or more policy versions */
    long stale_hist[STALE_BINS];
} StepStats;

typedef struct {
    /* configured */
    const TrainConfig *c;
    LossParams lp;
    AdamWConfig opt;
    Precision prec;
    ModelConfig mcfg;
    int max_groups, G;
    /* the prepared batch */
    int n_groups, R, T;
    long version;
    const Group *const *groups;
    /* scratch: one allocation (base), N = max_groups * G completions, N * ctx flat tokens */
    void *base;
    float *reward, *adv, *f_logp, *f_logp_gen, *f_w, *f_dlogp;
    float *rows_logp, *rows_ent, *rows_dlogp;
    int *off, *f_row, *f_pos, *row_comp, *rows_tok, *rows_tgt;
    unsigned char *kept;
} TrainStep;

/* Sets up for batches of up to max_groups groups. Returns 0, or 2 with err when out of memory. */
int step_init(TrainStep *ts, const TrainConfig *c, const ModelConfig *mc, int max_groups, char *err);
void step_free(TrainStep *ts);
/* Prepares the step that turns weights `version` into version + 1 on groups[0..n_groups-1]
 * (each holding G finished completions); fills every field of s but the optimizer's (loss,
 * grad_norm, entropy). The groups must stay unchanged until step_apply returns. */
void step_prepare(TrainStep *ts, const Group *const *groups, int n_groups, long version, StepStats *s);
/* The prepared step's forward, loss, backward and update of m (no update when no group carries
 * a signal). Returns 0, or 1 with err when the gradient is not finite. */
int step_apply(TrainStep *ts, Model *m, StepStats *s, char *err);

#endif
