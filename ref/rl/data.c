#include "ref/rl/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rng.h"
#include "errbuf.h"

enum { STREAM_SHUFFLE = 0x5bf1 };

struct DataSource {
    const TaskSplit *split;
    uint64_t seed;
    long n;           /* pool size */
    uint64_t *draw;   /* draw index of each pool entry */
    long *order;      /* the current epoch's permutation of 0..n-1 */
    long epoch, cursor;
};

static void shuffle_epoch(DataSource *d)
{
    for (long i = 0; i < d->n; i++) d->order[i] = i;
    for (long i = d->n - 1; i > 0; i--) {
        long j = (long)(rng_uniform(d->seed, STREAM_SHUFFLE, (uint64_t)d->epoch, (uint64_t)i) * (double)(i + 1));
        long t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
}

DataSource *data_new(const TaskSplit *split, long pool_size, uint64_t seed, char *err)
{
    DataSource *d = calloc(1, sizeof *d);
    if (!d) goto oom;
    d->split = split;
    d->seed = seed;
    d->n = pool_size;
    d->draw = malloc((size_t)pool_size * sizeof *d->draw);
    d->order = malloc((size_t)pool_size * sizeof *d->order);
    if (!d->draw || !d->order) goto oom;
    /* The pool is the first pool_size training draws, repeats included, so that it follows the
     * task's distribution (a pool of distinct prompts would over-weight the larger parts of a
     * mixture such as add:digits=1-2, whose 1-digit part has only 100 prompts). */
    for (long i = 0; i < pool_size; i++) d->draw[i] = (uint64_t)i;
    shuffle_epoch(d);
    return d;
oom:
    data_free(d);
    snprintf(err, ERR_LEN, "out of memory for a pool of %ld training prompts", pool_size);
    return NULL;
}

void data_free(DataSource *d)
{
    if (!d) return;
    free(d->draw);
    free(d->order);
    free(d);
}

long data_pool_size(const DataSource *d)
{
    return d->n;
}

long data_epoch(const DataSource *d)
{
    return d->epoch;
}

int data_next(DataSource *d, const PromptFilter *filter, Problem *out, uint64_t *key, char *err)
{
    /* At most two passes: the rest of this epoch and one whole epoch. */
    for (long tried = 0; tried <= 2 * d->n; tried++) {
        if (d->cursor >= d->n) {
            d->epoch++;
            d->cursor = 0;
            shuffle_epoch(d);
        }
        long i = d->order[d->cursor++];
        split_train_draw(d->split, d->draw[i], out);
        uint64_t k = prompt_key(out->prompt);
        if (filter && prompt_filter_is_retired(filter, k)) continue;
        *key = k;
        return 0;
    }
    snprintf(err, ERR_LEN, "every one of the %ld training prompts is retired by the prompt filter", d->n);
    return 1;
}

void data_position(const DataSource *d, long *epoch, long *cursor)
{
    *epoch = d->epoch;
    *cursor = d->cursor;
}

void data_seek(DataSource *d, long epoch, long cursor)
{
    d->epoch = epoch;
    shuffle_epoch(d);
    d->cursor = cursor;
}
