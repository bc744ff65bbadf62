/* The training prompts: a fixed pool of pool_size distinct prompts (the first distinct texts of
 * the task's training stream, which never yields a validation prompt), served in epochs, each
 * epoch a fresh permutation drawn with counter-based draws keyed by (seed, epoch).
 *
 * No-Positive-Resampling acts at epoch boundaries, as the paper defines it ("never sampled again
 * in later epochs"): when an epoch starts, the prompts the filter has retired by then are left out
 * of its permutation; a prompt retired during an epoch is still served if its turn in that epoch
 * has not come (it is drawn once per epoch, so this is at most once more). Without a filter every
 * pool prompt is served every epoch.
 *
 * Distinct: a pool with repeats would serve a prompt several times per epoch and make "epoch" and
 * "later epochs" meaningless. pool_size is a maximum: a task with fewer distinct training prompts
 * gives all it has (data_pool_size says how many). */
#ifndef SCALERL_DATA_H
#define SCALERL_DATA_H

#include <stdint.h>

#include "ref/common/binio.h"
#include "ref/rl/prompt_filter.h"
#include "tasks/tasks.h"

typedef struct DataSource DataSource;

/* The pool of the first pool_size distinct training prompts (fewer if the task has fewer). NULL
 * with err and *rc = 2 when out of memory. */
DataSource *data_new(const TaskSplit *split, long pool_size, uint64_t seed, int *rc, char *err);
void data_free(DataSource *d);
long data_pool_size(const DataSource *d);
/* Serves the next prompt of the current epoch, starting a new epoch (without the prompts the
 * filter, which may be NULL, has retired) when one ends. Returns 0, or 1 with err when every
 * prompt is retired. */
int data_next(DataSource *d, const PromptFilter *filter, Problem *out, uint64_t *prompt_key, char *err);
/* The epoch being served (0-based) and how far through it: epoch + served / epoch size. */
long data_epoch(const DataSource *d);
double data_epochs(const DataSource *d);
/* Prompts in the current epoch's permutation (the pool minus those retired before it began). */
long data_epoch_size(const DataSource *d);
/* Resume state: where the source stands (epoch, position, the epoch's permutation). data_load
 * restores it into a source built with the same pool. Returns 0, or 1 with err. */
void data_save(const DataSource *d, BinWriter *w);
int data_load(DataSource *d, BinReader *r, char *err);

#endif
