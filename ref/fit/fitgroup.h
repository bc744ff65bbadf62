/* Recipes: runs grouped by their recipe (config.txt recipe=, else the directory name), each
 * seed fitted alone and all seeds pooled, and two recipes compared as the paper does.
 *
 * Seed spread of a parameter for a recipe: the largest deviation of a seed's own fit from the
 * mean over its seeds, max_i |v_i - mean(v)|, on A, ln B and log10 Cmid (the paper's "+-0.015"
 * is this quantity for A over three runs). With one seed it is 0. Two recipes differ on a
 * parameter when their pooled fits differ by more than the margin
 *     margin = max(floor, spread of recipe 1, spread of recipe 2).
 * The floors stand in for what 2-3 seeds cannot measure (the half-range of 3 normal draws is on
 * average 0.85 standard deviations, and often far less): A 0.02 (the paper's margin), B 10%
 * (|ln B1/B2| > ln 1.1; the paper's ScaleRL vs DAPO difference at a common A was 13%), Cmid 0.1
 * decade.
 *
 * Verdict of a recipe against a baseline. The ceiling is read in two forms: the paper's
 * log-logistic and the Weibull form (ref/fit/fit.h), each fitted to the same points (pooled for
 * the difference, per seed for the spread, each form with its own margin). The forms agree on the
 * data and differ in how a curve approaches its ceiling beyond them, so a difference in A that one
 * form sees and the other does not lies in the bend, not in a plateau the data show
 * (ref/fit/README.md argues this and shows the case that needed it). So:
 *   - both forms see A differ beyond their margins, the same way: "ceiling mover";
 *   - neither does: not a ceiling mover;
 *   - they disagree: each recipe's ceiling is read in the form that fits its own pooled points
 *     better (smaller sum of squared residuals), and their difference against the margin of
 *     those two readings decides.
 * Both readings are set aside where the data show the plateau: when every run of both recipes is
 * flat over the last `tail` of its compute (the least-squares line through those eval points
 * changes by at most floor_A across them, and they scatter about it by at most floor_A), the
 * plateaus decide: each run's level at its end (that line read at its last point), averaged over
 * seeds, differing by more than max(floor_A, both recipes' seed spreads of it). The forms'
 * ceilings are then extrapolations from the bend beyond data that stand still; the plateau is
 * what the data show (ref/fit/README.md, "Verdicts", argues it and shows the cases).
 * A recipe that is not a ceiling mover is compared as the paper does: both are refitted
 * (log-logistic) with A held at the mean of their log-logistic A (pooled and per seed, for the
 * spreads), and the recipe is an "efficiency shaper" when B or Cmid then differ beyond their
 * margins, else "no effect". */
#ifndef SCALERL_FITGROUP_H
#define SCALERL_FITGROUP_H

#include "ref/fit/fitrun.h"

typedef struct {
    double A, B, cmid; /* A absolute, B relative (0.1 = 10%), Cmid in decades */
    double tail;       /* the last fraction of each run's compute where its plateau is read */
} SpreadFloors;

/* OptSpec entries for the floors, for a command config struct `Type` holding a SpreadFloors
 * named `member` (fit and compare take the same keys); the defaults are the floors argued for
 * at the top of this file. */
#define SPREAD_FLOORS_OPTS(Type, member)                                                                   \
    {"floor_A", OPT_FLOAT, offsetof(Type, member.A), "0.02", 0, 1, NULL,                                  \
     "smallest seed spread assumed for A (absolute)"},                                                    \
    {"floor_B", OPT_FLOAT, offsetof(Type, member.B), "0.1", 0, 10, NULL,                                  \
     "smallest seed spread assumed for B (relative)"},                                                    \
    {"floor_cmid", OPT_FLOAT, offsetof(Type, member.cmid), "0.1", 0, 10, NULL,                            \
     "smallest seed spread assumed for Cmid (decades)"},                                                   \
    {"tail", OPT_FLOAT, offsetof(Type, member.tail), "0.2", 0.05, 0.5, NULL,                              \
     "last fraction of each run's compute where its plateau is read (verdicts)"}

typedef struct {
    char recipe[128];
    int k;
    RunData **runs;   /* the group's runs (the array is owned, the runs are not) */
    CurveFit pooled;  /* all seeds together, bootstrap over seeds and points */
    CurveFit *seeds;  /* each seed alone, no bootstrap */
    double spread_A, spread_lnB, spread_lgC;
    SigmoidFit weibull;       /* the Weibull form, all seeds pooled, no bootstrap */
    double spread_A_weibull;  /* seed spread of its A */
} RecipeGroup;

/* Groups runs by recipe, in order of first appearance. 0 or 2 (out of memory). */
int groups_build(RunData *runs, int n, RecipeGroup **groups, int *ng, char *err);
/* Fits a group (pooled with `boot` resamples, each seed alone) and sets its spreads. */
int group_fit(RecipeGroup *g, const FitSettings *s, long boot, char *err);
void groups_free(RecipeGroup *groups, int ng);

enum { VERDICT_CEILING, VERDICT_EFFICIENCY, VERDICT_NONE };
/* Which reading decided the ceiling: both forms alike, each recipe's better-fitting form (the
 * forms disagreed), or the plateaus (every run of both flat at its end). */
enum { CEILING_READ_FORMS, CEILING_READ_BETTER_FORM, CEILING_READ_PLATEAU };
const char *reading_name(int r);
const char *verdict_name(int v);

/* The form that fits a recipe's pooled points better (FORM_*). */
int group_better_form(const RecipeGroup *g);

typedef struct {
    double dA, margin_A;       /* A of the recipe minus the baseline's, and the margin */
    double dA_weibull, margin_A_weibull; /* the same in the Weibull form */
    int forms_agree;           /* both forms read the ceiling alike (both differ the same way, or neither) */
    int form[2];               /* when they do not: each recipe's better-fitting form, [0] baseline */
    double dA_better, margin_A_better; /* and the difference and margin in those forms */
    int ceiling;               /* 1: the ceiling differs by the deciding reading */
    int reading;               /* CEILING_READ_*: the reading that decided */
    int pinned;                /* 0: that reading rests on an A fitted at its bound of 1 (or on a
                                  near-tie of the forms) and the runs' levels do not bound it, so
                                  the ceiling is extrapolated */
    int flat[2];               /* every run of the recipe flat over its tail, [0] baseline */
    double plateau[2], spread_plateau[2]; /* level at the end over seeds, and its seed spread */
    double rise[2];            /* the largest |change| of a run's tail line across its tail */
    double fall[2];            /* the lowest change of a run's tail line: whether any run falls */
    double dP, margin_P;       /* plateau of the recipe minus the baseline's, and the margin */
    double A_star;             /* common ceiling of the refit */
    double B[2], Cmid[2];      /* [0] baseline, [1] recipe, fitted with A = A_star */
    double dlnB, margin_lnB;   /* ln(B recipe / B baseline) at A_star */
    double dlgC, margin_lgC;   /* log10(Cmid recipe / Cmid baseline) at A_star */
    int verdict;
} PairCompare;

/* The ceiling difference (recipe minus baseline) that the deciding reading saw: dP for the
 * plateau, dA when both forms agree, dA_better otherwise. Its sign is the direction of a ceiling
 * mover. */
double pair_ceiling_diff(const PairCompare *p);
/* B's change and its margin in percent, for display. The test is on ln B (|dlnB| > margin_lnB);
 * the margin is shown on the side of the change (exp(m) - 1 above, 1 - exp(-m) below), so that
 * |change| > margin in percent exactly when the test finds a difference. */
void pair_B_percent(const PairCompare *p, double *change, double *margin);

/* Compares g against base (both fitted). The refit at the mean A is always done, so B and Cmid
 * at a common ceiling are reported for every pair. */
int group_compare(const RecipeGroup *base, const RecipeGroup *g, const FitSettings *s, const SpreadFloors *fl,
                  PairCompare *out, char *err);

#endif
