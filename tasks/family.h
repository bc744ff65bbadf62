/* The inside of tasks/: what a task family provides, and the parsed spec. A family is a table
 * of difficulty keys plus four functions; spec.c parses keys generically, so adding a family
 * is one Family value and one line in spec.c's table. */
#ifndef SCALERL_TASKS_FAMILY_H
#define SCALERL_TASKS_FAMILY_H

#include <stddef.h>

#include "tasks/tasks.h"
#include "tasks/trng.h"

#define FAM_MAX_KEYS 4
#define SPEC_MAX_PARTS 16
#define SPEC_CANON_LEN 2048
#define TASK_ANSWER_MAX ((int)sizeof(((Problem *)0)->answer)) /* bytes, with the 0 */

typedef struct {
    const char *name;
    long lo, hi;         /* accepted values */
    long def_lo, def_hi; /* default */
    int range_ok;        /* accepts LO-HI as well as N */
} FamKey;

/* Values of a family's keys, in the order of its key table. */
typedef struct {
    long lo[FAM_MAX_KEYS], hi[FAM_MAX_KEYS];
} FamParams;

/* Worst cases over everything a parameterization can draw. */
typedef struct {
    int prompt_chars;   /* with BOS and '=' */
    int solution_chars; /* scratchpad, marker, answer; no EOS */
    int answer_chars;   /* Problem.answer */
    double space;       /* distinct prompts: exact for arithmetic, an upper bound for countdown */
} FamLimits;

typedef struct {
    const char *name;
    int n_keys;
    FamKey keys[FAM_MAX_KEYS];
    void (*limits)(const FamParams *p, FamLimits *out);
    /* Family-specific feasibility beyond the key ranges; 0, or 1 with err. */
    int (*check)(const FamParams *p, char *err);
    /* Fills prompt, solution, answer (and nums/target); out is zeroed, family set by caller. */
    void (*draw)(const FamParams *p, TRng *r, Problem *out);
    /* 1 iff ans[0..len) (the text after the last marker, all vocabulary characters) is a
     * correct answer to p. */
    int (*verify)(const Problem *p, const char *ans, size_t len);
} Family;

extern const Family family_add, family_sub, family_mul, family_sum, family_countdown, family_pair;

/* The family with index i (the value of Problem.family), or NULL for an index no family has. */
const Family *task_family(int i);

typedef struct {
    int family; /* index into the family table */
    FamParams prm;
    double weight; /* as given (default 1); draws use weight / sum of weights */
    FamLimits lim;
} SpecPart;

struct TaskSpec {
    int n;
    SpecPart part[SPEC_MAX_PARTS];
    double cum[SPEC_MAX_PARTS]; /* running sums of the weights */
    char canon[SPEC_CANON_LEN];
};

/* task_draw with a fourth key word: the split re-draws a training index that landed in the
 * validation set with attempt 1, 2, ... task_draw is attempt 0. */
void task_draw_attempt(const TaskSpec *s, uint64_t seed, uint64_t stream, uint64_t index,
                       uint64_t attempt, Problem *out);

/* Appends text to a problem buffer; the family's limits guarantee it fits, and this keeps a
 * wrong limit from ever writing out of bounds (the text is cut instead, and tests catch it). */
void text_append(char *buf, size_t cap, size_t *len, const char *text);
void text_append_char(char *buf, size_t cap, size_t *len, char c);

/* Decimal digits in v >= 0. */
int digits_of(long v);

#endif
