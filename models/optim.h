/* AdamW with decoupled weight decay and bias correction, global-norm gradient clipping, and the
 * learning-rate schedule (linear warmup, then constant or cosine). */
#ifndef SCALERL_OPTIM_H
#define SCALERL_OPTIM_H

#include "models/model.h"

typedef struct {
    double beta1, beta2, eps;
    double weight_decay; /* decoupled: p -= lr * wd * p, on tensors with decay=1 only */
} AdamWConfig;

/* The L2 norm of the whole gradient buffer (accumulated in double). */
double grad_global_norm(const Model *m);
/* If max_norm > 0 and the norm exceeds it, scales the gradients to max_norm. Returns the norm
 * before clipping. */
double grad_clip(Model *m, double max_norm);
/* One AdamW update of every parameter with learning rate lr; increments m->adam_step. */
void adamw_step(Model *m, const AdamWConfig *c, double lr);

typedef enum { LR_CONSTANT, LR_COSINE } LrShape;
/* Learning rate at optimizer step `step` (0-based): linear warmup from lr/warmup to lr over the
 * first `warmup` steps, then constant, or cosine from lr to min_lr at step total_steps. */
double lr_at(long step, double lr, long warmup, long total_steps, LrShape shape, double min_lr);

#endif
