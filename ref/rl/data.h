/* The training prompts: a finite pool, the first pool_size draws of the task's training stream
 * (which never yields a validation prompt), served in epochs, each epoch a fresh permutation,
 * skipping prompts that No-Positive-Resampling retired. The pool follows the task's distribution,
 * repeats included (a small task space repeats prompts within an epoch, as a dataset with
 * duplicates would). It stores draw indices only; a problem is re-drawn when served (task draws
 * are pure functions). */
#ifndef SCALERL_DATA_H
#define SCALERL_DATA_H

#include <stdint.h>

#include "ref/rl/prompt_filter.h"
#include "tasks/tasks.h"

typedef struct DataSource DataSource;

/* The pool of the first pool_size training draws. NULL with err on failure. */
DataSource *data_new(const TaskSplit *split, long pool_size, uint64_t seed, char *err);
void data_free(DataSource *d);
long data_pool_size(const DataSource *d);
/* Serves the next problem of the current epoch that the filter (may be NULL) has not retired,
 * starting a new epoch when one ends. Returns 0, or 1 with err when every prompt is retired. */
int data_next(DataSource *d, const PromptFilter *filter, Problem *out, uint64_t *prompt_key, char *err);
long data_epoch(const DataSource *d);
/* Position for resuming: epoch and cursor; data_seek restores it. */
void data_position(const DataSource *d, long *epoch, long *cursor);
void data_seek(DataSource *d, long epoch, long cursor);

#endif
