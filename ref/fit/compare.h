/* Recipes compared, as `scalerl compare` and `scalerl report` show them: every run directory
 * under a root grouped by recipe, each recipe fitted (seeds pooled, intervals resampling seeds
 * and points), sorted by A, and classified against a baseline recipe (ref/fit/fitgroup.h). */
#ifndef SCALERL_COMPARE_H
#define SCALERL_COMPARE_H

#include "ref/fit/fitgroup.h"
#include "ref/fit/plot.h"

typedef struct {
    char **dirs;
    int n_dirs;
    RunData *runs;
    int n_runs;
    RecipeGroup *groups; /* sorted by A, highest first */
    int ng;
    int base;        /* index of the baseline group */
    PairCompare *pc; /* per group, against the baseline (unset at base) */
} CompareJob;

/* Finds, loads, fits and compares (cmd names the command in notes). skip_unfinished: runs
 * without their closing row are left out (a note on stderr counts them); otherwise they are
 * compared as they stand and a note says how many there are. out (NULL: none) is the file the
 * caller will write: refused as soon as the runs are found, before any is read or fitted, if it
 * is one of their inputs. 0, or 1/2 with err: no run, a bad run, out an input, a baseline not
 * among the recipes. compare_free either way. */
int compare_load(CompareJob *j, const char *root, const FitSettings *fs, const char *baseline,
                 const SpreadFloors *floors, int skip_unfinished, const char *out, const char *cmd, char *err);
void compare_free(CompareJob *j);

/* The mean over a recipe's seeds of their last eval point's pass rate, the last within fit_until
 * when s cuts the runs (NaN without points). */
double compare_last_mean(const RecipeGroup *gr, const FitSettings *s);

/* The plot of every recipe: each seed's points in the recipe's colour, and the pooled curve with
 * its band carrying the legend entry. */
typedef struct {
    PlotSeries *s;
    int n;
    unsigned char **roles; /* per run */
    char (*labels)[300];   /* per recipe */
    int n_runs;
} ComparePlot;

int compare_plot_build(const CompareJob *j, const FitSettings *fs, ComparePlot *p, char *err);
void compare_plot_free(ComparePlot *p);

#endif
