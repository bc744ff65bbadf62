/* Train/validation split. The validation set is the first n_val distinct prompts of the
 * validation stream of the validation spec (the training spec unless the caller names another);
 * a hash set of their text lets the training sampler re-draw (same index,
 * attempt 1, 2, ...) whenever a draw lands on one of them, so the two are disjoint by
 * construction and both stay pure functions of (spec, seed, index).
 *
 * Refusals, so that a split is never silently degenerate and the re-draw loop always ends:
 * validation may take at most half of the problem space (task_space_size), the validation
 * stream must yield n_val distinct prompts within VAL_DRAWS_PER_PROMPT * n_val + 10000 draws,
 * and at most 90% of first training draws (measured on MASS_PROBES of them) may land in the
 * validation set; past that, the expected re-draws per training problem stay below 10 and the
 * chance of needing more than 400 is below 1e-18. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/family.h"

/* Stream keys: ASCII "val-strm" and "trn-strm", far from the small numbers callers use. */
#define VAL_STREAM 0x76616C2D7374726DULL
#define TRAIN_STREAM 0x74726E2D7374726DULL
#define VAL_DRAWS_PER_PROMPT 100
#define MASS_PROBES 4096
#define MAX_VAL_MASS 0.9

struct TaskSplit {
    const TaskSpec *spec;     /* training draws; borrowed: the caller keeps the specs alive */
    const TaskSpec *val_spec; /* validation draws: spec itself unless the caller named another */
    uint64_t seed;
    int n_val;
    Problem *val;
    int *slot;          /* open addressing, linear probing: index into val + 1, 0 when empty */
    size_t slot_mask;   /* capacity - 1; capacity is a power of two >= 2 * n_val */
};

/* FNV-1a over the prompt, then a final avalanche so that the low bits used for slots mix. */
static uint64_t prompt_hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ULL;
    return trng_fmix64(h);
}

/* The slot holding prompt, or the empty slot where it would go. */
static size_t find_slot(const TaskSplit *sp, const char *prompt)
{
    size_t i = prompt_hash(prompt) & sp->slot_mask;
    while (sp->slot[i] && strcmp(sp->val[sp->slot[i] - 1].prompt, prompt) != 0) i = (i + 1) & sp->slot_mask;
    return i;
}

int split_is_val(const TaskSplit *sp, const char *prompt)
{
    return sp->slot[find_slot(sp, prompt)] != 0;
}

int split_val_count(const TaskSplit *sp)
{
    return sp->n_val;
}

const Problem *split_val(const TaskSplit *sp, int i)
{
    return i >= 0 && i < sp->n_val ? &sp->val[i] : NULL;
}

const TaskSpec *split_spec(const TaskSplit *sp)
{
    return sp->spec;
}

const TaskSpec *split_val_spec(const TaskSplit *sp)
{
    return sp->val_spec;
}

void split_train_draw(const TaskSplit *sp, uint64_t index, Problem *out)
{
    /* Terminates: split_new measured that a draw misses the validation set with probability
     * at least 1 - MAX_VAL_MASS. */
    for (uint64_t attempt = 0;; attempt++) {
        task_draw_attempt(sp->spec, sp->seed, TRAIN_STREAM, index, attempt, out);
        if (!split_is_val(sp, out->prompt)) return;
    }
}

void split_free(TaskSplit *sp)
{
    if (!sp) return;
    free(sp->val);
    free(sp->slot);
    free(sp);
}

static int fail(TaskSplit *sp, int rc)
{
    split_free(sp);
    return rc;
}

int split_new(const TaskSpec *s, uint64_t seed, int n_val, TaskSplit **out, char *err)
{
    return split_new_for(s, s, seed, n_val, out, err);
}

int split_new_for(const TaskSpec *s, const TaskSpec *vs, uint64_t seed, int n_val, TaskSplit **out, char *err)
{
    char dummy[ERR_LEN];
    if (!err) err = dummy;
    *out = NULL;
    const char *name = task_spec_string(vs);
    if (n_val < 0 || n_val > 10000000) {
        snprintf(err, ERR_LEN, "validation size %d is out of range (expected 0..10000000)", n_val);
        return 1;
    }
    double space = task_space_size(vs);
    if (space < 2.0 * n_val) {
        snprintf(err, ERR_LEN,
                 "task spec '%s' has only %.0f distinct prompts; %d validation prompts need at least %.0f "
                 "(validation may take at most half of them)",
                 name, space, n_val, 2.0 * n_val);
        return 1;
    }
    TaskSplit *sp = calloc(1, sizeof *sp);
    size_t cap = 16;
    while (cap < 2 * (size_t)n_val) cap *= 2;
    if (sp) {
        sp->val = calloc(n_val ? (size_t)n_val : 1, sizeof *sp->val);
        sp->slot = calloc(cap, sizeof *sp->slot);
    }
    if (!sp || !sp->val || !sp->slot) {
        snprintf(err, ERR_LEN, "out of memory for a validation set of %d problems", n_val);
        return fail(sp, 2);
    }
    sp->spec = s;
    sp->val_spec = vs;
    sp->seed = seed;
    sp->slot_mask = cap - 1;

    uint64_t limit = (uint64_t)VAL_DRAWS_PER_PROMPT * (uint64_t)n_val + 10000, i;
    Problem p;
    for (i = 0; sp->n_val < n_val && i < limit; i++) {
        task_draw(vs, seed, VAL_STREAM, i, &p);
        size_t k = find_slot(sp, p.prompt);
        if (sp->slot[k]) continue;
        sp->val[sp->n_val] = p;
        sp->slot[k] = ++sp->n_val;
    }
    if (sp->n_val < n_val) {
        snprintf(err, ERR_LEN,
                 "task spec '%s': only %d distinct prompts in %llu draws, %d requested "
                 "(problem space at most %.3g prompts; expected a wider spec or fewer validation prompts)",
                 name, sp->n_val, (unsigned long long)i, n_val, space);
        return fail(sp, 1);
    }
    int hits = 0;
    for (uint64_t j = 0; j < MASS_PROBES; j++) {
        task_draw_attempt(s, seed, TRAIN_STREAM, j, 0, &p);
        hits += split_is_val(sp, p.prompt);
    }
    if (hits > MAX_VAL_MASS * MASS_PROBES) {
        snprintf(err, ERR_LEN,
                 "task spec '%s': %d validation prompts cover %.0f%% of training draws (expected at most %.0f%%; "
                 "widen the spec or use fewer validation prompts)",
                 task_spec_string(s), n_val, 100.0 * hits / MASS_PROBES, 100 * MAX_VAL_MASS);
        return fail(sp, 1);
    }
    *out = sp;
    return 0;
}
