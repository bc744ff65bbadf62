/* The training pool and its epochs (the header has the contract). */
#include "ref/rl/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rng.h"
#include "errbuf.h"

enum { STREAM_SHUFFLE = 0x5bf1 };
/* A task has no more distinct training prompts to give once this many draws in a row brought no
 * new one, with `found` distinct so far: STALE_FACTOR * found + STALE_MIN. The chance that a
 * uniform task space of n prompts still hides one after n * 16 fruitless draws is below e^-16 per
 * prompt; skewed mixtures hide their rare prompts longer, which only makes such a pool a little
 * smaller. */
#define STALE_FACTOR 16
#define STALE_MIN 1000

struct DataSource {
    const TaskSplit *split;
    uint64_t seed;
    long n;          /* pool size */
    uint64_t *draw;  /* stream index of each pool prompt */
    uint64_t *key;   /* prompt_key of each pool prompt */
    long *order;     /* the current epoch's permutation of its prompts (n_epoch of them) */
    long n_epoch, epoch, cursor;
    int started;     /* the first epoch has begun */
};

/* Open addressing set of 64-bit keys (0 is the empty mark; a key of 0 is stored as 1, which only
 * merges two texts whose hashes are 0 and 1: negligible). Returns 1 if key was new. */
static int set_insert(uint64_t *set, size_t mask, uint64_t key)
{
    key = key ? key : 1;
    for (size_t i = (size_t)key & mask;; i = (i + 1) & mask) {
        if (set[i] == key) return 0;
        if (!set[i]) {
            set[i] = key;
            return 1;
        }
    }
}

static int fill_pool(DataSource *d, int *rc, char *err)
{
    size_t cap = 1024;
    while (cap < (size_t)d->n * 2) cap *= 2;
    uint64_t *set = calloc(cap, sizeof *set);
    if (!set) {
        *rc = 2;
        snprintf(err, ERR_LEN, "out of memory for a pool of %ld training prompts", d->n);
        return 1;
    }
    long found = 0;
    uint64_t last_new = 0;
    for (uint64_t i = 0; found < d->n && i - last_new <= (uint64_t)(STALE_FACTOR * found + STALE_MIN); i++) {
        Problem p;
        split_train_draw(d->split, i, &p);
        const uint64_t k = prompt_key(p.prompt);
        if (!set_insert(set, cap - 1, k)) continue;
        d->draw[found] = i;
        d->key[found++] = k;
        last_new = i;
    }
    free(set);
    d->n = found; /* a smaller task gives all it has */
    (void)rc;
    (void)err;
    return 0;
}

DataSource *data_new(const TaskSplit *split, long pool_size, uint64_t seed, int *rc, char *err)
{
    *rc = 2;
    DataSource *d = calloc(1, sizeof *d);
    if (!d) goto oom;
    d->split = split;
    d->seed = seed;
    d->n = pool_size;
    d->draw = malloc((size_t)pool_size * sizeof *d->draw);
    d->key = malloc((size_t)pool_size * sizeof *d->key);
    d->order = malloc((size_t)pool_size * sizeof *d->order);
    if (!d->draw || !d->key || !d->order) goto oom;
    if (fill_pool(d, rc, err)) {
        data_free(d);
        return NULL;
    }
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
    free(d->key);
    free(d->order);
    free(d);
}

long data_pool_size(const DataSource *d)
{
    return d->n;
}

/* The next epoch's permutation of the prompts not retired now (Fisher-Yates, counter-based). */
static void start_epoch(DataSource *d, const PromptFilter *filter)
{
    if (d->started) d->epoch++;
    d->started = 1;
    d->cursor = 0;
    d->n_epoch = 0;
    for (long i = 0; i < d->n; i++)
        if (!filter || !prompt_filter_is_retired(filter, d->key[i])) d->order[d->n_epoch++] = i;
    for (long i = d->n_epoch - 1; i > 0; i--) {
        const long j = (long)(rng_uniform(d->seed, STREAM_SHUFFLE, (uint64_t)d->epoch, (uint64_t)i) * (double)(i + 1));
        const long t = d->order[i];
        d->order[i] = d->order[j];
        d->order[j] = t;
    }
}

int data_next(DataSource *d, const PromptFilter *filter, Problem *out, uint64_t *key, char *err)
{
    if (!d->started || d->cursor >= d->n_epoch) start_epoch(d, filter);
    if (d->n_epoch == 0) {
        snprintf(err, ERR_LEN, "every one of the %ld training prompts is retired by the prompt filter", d->n);
        return 1;
    }
    const long i = d->order[d->cursor++];
    split_train_draw(d->split, d->draw[i], out);
    *key = d->key[i];
    return 0;
}

long data_epoch(const DataSource *d)
{
    return d->epoch;
}

double data_epochs(const DataSource *d)
{
    return (double)d->epoch + (d->n_epoch ? (double)d->cursor / (double)d->n_epoch : 0.0);
}

long data_epoch_size(const DataSource *d)
{
    return d->n_epoch;
}

void data_save(const DataSource *d, BinWriter *w)
{
    bw_i64(w, d->n);
    bw_i64(w, d->epoch);
    bw_i64(w, d->cursor);
    bw_i64(w, d->started);
    bw_i64(w, d->n_epoch);
    bw_bytes(w, d->order, (size_t)d->n_epoch * sizeof *d->order);
}

int data_load(DataSource *d, BinReader *r, char *err)
{
    if (br_i64(r) != d->n) {
        snprintf(err, ERR_LEN, "resume state: the training pool's size differs from this config's");
        return 1;
    }
    d->epoch = (long)br_count(r, INT64_MAX);
    d->cursor = (long)br_i64(r);
    d->started = (int)br_count(r, 1);
    d->n_epoch = (long)br_count(r, d->n);
    br_bytes(r, d->order, (size_t)d->n_epoch * sizeof *d->order);
    int ok = !r->bad && d->cursor >= 0 && d->cursor <= d->n_epoch;
    for (long i = 0; ok && i < d->n_epoch; i++) ok = d->order[i] >= 0 && d->order[i] < d->n;
    if (!ok) {
        snprintf(err, ERR_LEN, "resume state: the training pool's position is truncated or inconsistent");
        return 1;
    }
    return 0;
}
