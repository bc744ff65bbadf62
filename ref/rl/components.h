/* The ScaleRL components, one row each: what a run's config sets beside what the paper's recipe
 * sets (Khatri et al. 2025, sections 3-4; README.md, "The ScaleRL components and their keys"),
 * for `scalerl report`'s recipe table. */
#ifndef SCALERL_COMPONENTS_H
#define SCALERL_COMPONENTS_H

#include <stddef.h>

#include "ref/rl/recipe.h"

/* How the run's setting stands against the paper's: the same, scaled down with the toy (budgets,
 * validation size), or different. */
typedef enum { COMP_SAME, COMP_TOY_SCALE, COMP_DIFFERS } CompMatch;

typedef struct {
    const char *component; /* "loss" */
    const char *keys;      /* the config keys it reads: "loss eps_max" */
    char run[160];         /* this run's setting, in words */
    const char *paper;     /* the paper's */
    CompMatch match;
} ComponentRow;

#define N_COMPONENTS 11

/* Fills rows[N_COMPONENTS] for config c. */
void components_describe(const TrainConfig *c, ComponentRow *rows);
const char *comp_match_name(CompMatch m);

#endif
