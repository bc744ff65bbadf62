/* The schedule's batches: which generator groups make up training batch b, when it may be
 * admitted and when it is complete.
 *
 * Training batch b is the b-th block of P groups in draw order; the optimizer step that consumes
 * it produces policy version b + 1. Admitting a batch draws its P prompts from the data source
 * (skipping prompts the prompt filter retired, when a filter is given) and queues them in the
 * generator; a batch is admitted whole or not at all. At most `ring` batches are held at once
 * (slot b % ring), which is what the schedules' admission limits allow (ref/rl/schedule.h).
 *
 * Dynamic sampling (DAPO's; dynamic_sampling=1): a group that finishes all correct or all wrong
 * is discarded (its generation still counts as compute; the prompt filter, when given, records
 * it) and a fresh prompt takes its place in the batch, until the batch holds P groups with both;
 * after ds_max * P groups drawn for one batch, finished groups are kept whatever their rewards
 * (zero-variance filtering then drops them), so a policy that solves everything cannot stall the
 * run.
 * Not thread-safe: the threaded schedule calls it under its lock. */
#ifndef SCALERL_BATCHES_H
#define SCALERL_BATCHES_H

#include <stdint.h>

#include "ref/rl/data.h"
#include "ref/rl/prompt_filter.h"
#include "ref/rl/rollout.h"

typedef struct {
    Generator *gen;       /* not owned */
    DataSource *data;     /* not owned */
    PromptFilter *filter; /* not owned; NULL: every pool prompt is served */
    int P, ring;
    int dynamic;    /* dynamic sampling */
    long ds_max;    /* dynamic sampling: groups drawn per batch at most ds_max * P */
    long last;      /* the last batch the run consumes (steps - 1) */
    uint64_t extra; /* replacement groups drawn so far (their sampling keys) */
    long admitted;  /* batches admitted so far */
    int exhausted;  /* the prompt filter retired every training prompt: no more batches */
    /* one allocation (base) */
    void *base;
    int *gi;                /* ring * P: generator group at each position of each held batch */
    int *done;              /* ring: positions of the batch holding a finished, kept group */
    long *drawn;            /* ring: groups drawn for the batch, replacements included */
    double *epochs;         /* ring: the data source's epochs (fractional) when the batch was drawn */
    int *finished;          /* scratch for gen_take_finished, ring * P */
    Problem *draws;         /* P: a batch's prompts while it is admitted */
    uint64_t *keys;         /* P */
    const Group **groups;   /* P: the batch as handed to the step */
} BatchQueue;

/* Returns 0, or 2 with err when out of memory. The generator must hold ring * P groups. */
int batches_init(BatchQueue *q, Generator *gen, DataSource *data, PromptFilter *filter, int P, int ring, long steps,
                 int dynamic, long ds_max, char *err);
void batches_free(BatchQueue *q);
/* Admits batches up to `limit` (and never past the last). When the prompt filter has retired
 * every training prompt, sets q->exhausted and admits no more. Returns 0, or 1 with err. */
int batches_admit(BatchQueue *q, long limit, char *err);
/* Moves the generator's finished groups into their batches (dynamic sampling: replaces the
 * zero-variance ones). Returns 0, or 1 with err. */
int batches_collect(BatchQueue *q, char *err);
int batches_ready(const BatchQueue *q, long b);
/* The P finished groups of batch b, in draw order (valid until batches_release). */
const Group *const *batches_groups(BatchQueue *q, long b);
/* Groups drawn for batch b (P without dynamic sampling). */
long batches_drawn(const BatchQueue *q, long b);
/* Passes over the pool when batch b was drawn: its epoch is the integer part. */
double batches_epochs(const BatchQueue *q, long b);
/* Resume state: admission counters and the held batches' bookkeeping (the groups themselves are
 * the generator's, saved by gen_save). Returns 0, or 1 with err. */
void batches_save(const BatchQueue *q, BinWriter *w);
int batches_load(BatchQueue *q, BinReader *r, char *err);
/* Frees batch b's groups in the generator, once its step has consumed them. */
void batches_release(BatchQueue *q, long b);

#endif
