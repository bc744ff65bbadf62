/* Training batches over the generator's groups (the header has the contract). */
#include "ref/rl/batches.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

int batches_init(BatchQueue *q, Generator *gen, DataSource *data, PromptFilter *filter, int P, int ring, long steps,
                 int dynamic, long ds_max, char *err)
{
    memset(q, 0, sizeof *q);
    q->gen = gen;
    q->data = data;
    q->filter = filter;
    q->P = P;
    q->ring = ring;
    q->dynamic = dynamic;
    q->ds_max = ds_max;
    q->last = steps - 1;
    const size_t held = (size_t)ring * P;
    const size_t bytes = 2 * held * sizeof(int) + (size_t)ring * sizeof(int) + (size_t)ring * sizeof(long) +
                         (size_t)ring * sizeof(double) +
                         (size_t)P * sizeof(Problem) + (size_t)P * sizeof(uint64_t) + (size_t)P * sizeof(Group *);
    /* Zeroed: the resume state writes every ring slot's counters (batches_save), those of slots
     * no batch has used yet included, and a checkpoint file should hold no leftover bytes. */
    char *b = calloc(1, bytes);
    if (!b) {
        snprintf(err, ERR_LEN, "out of memory for %d batches of %d prompts", ring, P);
        return 2;
    }
    q->base = b;
    /* Largest alignment first: Problem and pointers, then 64-bit keys, then ints. */
    q->draws = (Problem *)b;
    b += (size_t)P * sizeof(Problem);
    q->groups = (const Group **)b;
    b += (size_t)P * sizeof(Group *);
    q->keys = (uint64_t *)b;
    b += (size_t)P * sizeof(uint64_t);
    q->drawn = (long *)b;
    b += (size_t)ring * sizeof(long);
    q->epochs = (double *)b;
    b += (size_t)ring * sizeof(double);
    q->gi = (int *)b;
    q->finished = q->gi + held;
    q->done = q->finished + held;
    memset(q->gi, 0, held * sizeof(int));
    memset(q->done, 0, (size_t)ring * sizeof(int));
    return 0;
}

void batches_free(BatchQueue *q)
{
    free(q->base);
    q->base = NULL;
}

int batches_admit(BatchQueue *q, long limit, char *err)
{
    if (limit > q->last) limit = q->last;
    while (q->admitted <= limit && !q->exhausted) {
        const long b = q->admitted;
        /* Draw the whole batch first, so that a batch is admitted whole or not at all. */
        for (int j = 0; j < q->P; j++)
            if (data_next(q->data, q->filter, &q->draws[j], &q->keys[j], err)) {
                q->exhausted = 1;
                return 0;
            }
        q->done[b % q->ring] = 0;
        q->drawn[b % q->ring] = q->P;
        q->epochs[b % q->ring] = data_epochs(q->data);
        for (int j = 0; j < q->P; j++) {
            /* The tag is the group's position: batch b, place j. */
            const long tag = b * q->P + j;
            const int gi = gen_add_group(q->gen, &q->draws[j], (uint64_t)tag, q->keys[j], tag, err);
            if (gi < 0) return 1;
            q->gi[(b % q->ring) * q->P + j] = gi;
        }
        q->admitted++;
    }
    return 0;
}

/* DAPO's test (its eq. 11: 0 < correct < G) is on accuracy, not on the reward: under the length
 * penalty an all-correct group whose lengths differ has unequal rewards yet nothing to learn about
 * correctness, and DAPO resamples it. */
static int all_equal_accuracy(const Group *gr, int G)
{
    for (int j = 1; j < G; j++)
        if (gr->c[j].correct != gr->c[0].correct) return 0;
    return 1;
}

/* Dynamic sampling: discards the finished group gi at position tag and queues a fresh prompt in
 * its place. Returns 1 if replaced, 0 if the group is to be kept, -1 on error. */
static int replace(BatchQueue *q, int gi, long tag, char *err)
{
    const Group *gr = gen_group(q->gen, gi);
    const int slot = (int)((tag / q->P) % q->ring);
    if (!all_equal_accuracy(gr, gr->n_done) || q->drawn[slot] >= q->ds_max * q->P || q->exhausted) return 0;
    Problem p;
    uint64_t key;
    char why[ERR_LEN];
    if (data_next(q->data, q->filter, &p, &key, why)) {
        q->exhausted = 1; /* no prompt left to draw: keep this one */
        return 0;
    }
    /* The trainer records the groups it consumes; a discarded one never reaches it, and an
     * all-solved group is exactly what No-Positive-Resampling retires, so it is recorded here. */
    if (q->filter && prompt_filter_record(q->filter, gr->prompt_key, gr->c[0].correct ? gr->n_done : 0, gr->n_done,
                                          NULL, err))
        return -1;
    gen_release(q->gen, gi);
    /* Replacement keys follow every position's key (tags are below steps * P), so no two groups
     * share sampling draws. */
    const uint64_t rng_key = (uint64_t)(q->last + 1) * (uint64_t)q->P + q->extra++;
    const int ng = gen_add_group(q->gen, &p, rng_key, key, tag, err);
    if (ng < 0) return -1;
    q->gi[slot * q->P + (int)(tag % q->P)] = ng;
    q->drawn[slot]++;
    return 1;
}

int batches_collect(BatchQueue *q, char *err)
{
    const int n = gen_take_finished(q->gen, q->finished, q->ring * q->P);
    for (int i = 0; i < n; i++) {
        const long tag = gen_group(q->gen, q->finished[i])->tag;
        const int r = q->dynamic ? replace(q, q->finished[i], tag, err) : 0;
        if (r < 0) return 1;
        if (r == 0) q->done[(tag / q->P) % q->ring]++;
    }
    return 0;
}

long batches_drawn(const BatchQueue *q, long b)
{
    return q->drawn[b % q->ring];
}

double batches_epochs(const BatchQueue *q, long b)
{
    return q->epochs[b % q->ring];
}

int batches_ready(const BatchQueue *q, long b)
{
    return b < q->admitted && q->done[b % q->ring] == q->P;
}

const Group *const *batches_groups(BatchQueue *q, long b)
{
    for (int j = 0; j < q->P; j++) q->groups[j] = gen_group(q->gen, q->gi[(b % q->ring) * q->P + j]);
    return q->groups;
}

void batches_release(BatchQueue *q, long b)
{
    for (int j = 0; j < q->P; j++) gen_release(q->gen, q->gi[(b % q->ring) * q->P + j]);
}

void batches_save(const BatchQueue *q, BinWriter *w)
{
    const size_t held = (size_t)q->ring * q->P;
    bw_i64(w, q->ring);
    bw_i64(w, q->P);
    bw_i64(w, q->admitted);
    bw_i64(w, q->exhausted);
    bw_i64(w, (int64_t)q->extra);
    bw_bytes(w, q->gi, held * sizeof *q->gi);
    bw_bytes(w, q->done, (size_t)q->ring * sizeof *q->done);
    bw_bytes(w, q->drawn, (size_t)q->ring * sizeof *q->drawn);
    bw_bytes(w, q->epochs, (size_t)q->ring * sizeof *q->epochs);
}

int batches_load(BatchQueue *q, BinReader *r, char *err)
{
    const size_t held = (size_t)q->ring * q->P;
    if (br_i64(r) != q->ring || br_i64(r) != q->P) {
        snprintf(err, ERR_LEN, "resume state: the batch ring's size differs from this config's");
        return 1;
    }
    q->admitted = (long)br_count(r, q->last + 1);
    q->exhausted = (int)br_count(r, 1);
    q->extra = (uint64_t)br_i64(r);
    br_bytes(r, q->gi, held * sizeof *q->gi);
    br_bytes(r, q->done, (size_t)q->ring * sizeof *q->done);
    br_bytes(r, q->drawn, (size_t)q->ring * sizeof *q->drawn);
    br_bytes(r, q->epochs, (size_t)q->ring * sizeof *q->epochs);
    int ok = !r->bad;
    for (size_t i = 0; ok && i < held; i++) ok = q->gi[i] >= 0 && q->gi[i] < (int)held;
    if (!ok) {
        snprintf(err, ERR_LEN, "resume state: the batch ring is truncated or inconsistent");
        return 1;
    }
    return 0;
}
