/* Training batches over the generator's groups (the header has the contract). */
#include "ref/rl/batches.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"

int batches_init(BatchQueue *q, Generator *gen, DataSource *data, PromptFilter *filter, int P, int ring, long steps,
                 char *err)
{
    memset(q, 0, sizeof *q);
    q->gen = gen;
    q->data = data;
    q->filter = filter;
    q->P = P;
    q->ring = ring;
    q->last = steps - 1;
    const size_t held = (size_t)ring * P;
    const size_t bytes = 2 * held * sizeof(int) + (size_t)ring * sizeof(int) + (size_t)P * sizeof(Problem) +
                         (size_t)P * sizeof(uint64_t) + (size_t)P * sizeof(Group *);
    char *b = malloc(bytes);
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
    q->gi = (int *)b;
    q->finished = q->gi + held;
    q->done = q->finished + held;
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
        for (int j = 0; j < q->P; j++) {
            const int gi = gen_add_group(q->gen, &q->draws[j], (uint64_t)(b * q->P + j), q->keys[j], b, err);
            if (gi < 0) return 1;
            q->gi[(b % q->ring) * q->P + j] = gi;
        }
        q->admitted++;
    }
    return 0;
}

void batches_collect(BatchQueue *q)
{
    const int n = gen_take_finished(q->gen, q->finished, q->ring * q->P);
    for (int i = 0; i < n; i++) q->done[gen_group(q->gen, q->finished[i])->tag % q->ring]++;
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
