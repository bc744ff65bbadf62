/* The fitter benchmark (`scalerl fitbench`): a bank of real runs, and for each run and each
 * budget (a fraction of the run's compute) every fitter forecasts the eval points after the
 * budget from the points up to it (ref/fit/forecast.h). Scores, per fitter:
 *   - on runs to forecast: the forecasts scored, declined and failed; the mean over forecasts of
 *     each forecast's mean absolute error (each (run, budget) weighs the same, however many points
 *     it holds out); the worst absolute error over every held-out point; the mean absolute error
 *     at each run's last point; the coverage of the 95% intervals (the share of held-out points
 *     inside the interval given for them, against 0.95); how often the fitter flagged its ceiling
 *     as not identified (information: a prefix of a run whose ceiling is in the full run may well
 *     not pin it);
 *   - on runs whose ceiling is not identifiable: how often the fitter said so (with or without a
 *     forecast, which is not scored there).
 *
 * A bank is a directory. With a manifest.jsonl there, its rows name the runs (one JSON object a
 * line; "path" relative to the bank, which may point outside it such as ../findings/...; "shape";
 * "expect": "forecast" or "refuse"; any other fields, such as the command and commit that made
 * the run, are for the reader). Without one, every run directory under it is a run to forecast,
 * its shape its recipe. Runs may keep metrics.jsonl or metrics.jsonl.gz. */
#ifndef SCALERL_FITBENCH_H
#define SCALERL_FITBENCH_H

#include "ref/fit/forecast.h"

#define FITBENCH_MIN_PREFIX 5 /* eval points (after step 0) a budget must leave to fit */

typedef struct {
    char name[1024];     /* the run as the manifest names it (or its path under the bank) */
    char shape[128];
    int expect_refuse;   /* 1: the ceiling is not identifiable from this run; a fitter should say so */
    RunData run;
    char **rows;         /* its eval rows as metrics.jsonl has them */
    int n_rows;
    double *row_x;       /* each row's x (0 at step 0) */
} BankRun;

typedef struct {
    BankRun *runs;
    int n;
    int has_manifest;
} Bank;

/* 0, 1 (bad manifest or run: message names file and line) or 2 (I/O). */
int bank_load(Bank *b, const char *dir, const char *xcol, char *err);
void bank_free(Bank *b);

typedef struct {
    int skipped;          /* the budget leaves too few points to fit, or none to forecast */
    double cut;           /* x of the budget */
    int n_prefix, n_held;
    Forecast f;           /* the fitter's answer */
    double mae, max_err, last_err; /* predicted - observed; mae and max absolute; last signed */
    int covered, with_interval;
} BenchEntry;

typedef struct {
    char fitter[1024];
    int builtin;
    int n_entries;        /* runs x budgets, run-major */
    BenchEntry *e;
    /* runs to forecast */
    int n_forecast, scored, declined, failed, flagged;
    double mae, worst, last_abs; /* NaN when nothing was scored */
    long covered, with_interval, held_scored;
    /* runs whose ceiling is not identifiable */
    int n_unident, said, unident_failed;
    double seconds;
} FitterScore;

typedef struct {
    FitSettings fs;       /* x, boot, boot_seed for the built-ins */
    const double *budgets;
    int n_budgets;
    double timeout_s;     /* per external forecast */
    int progress;         /* 1: a line per run on stderr */
} BenchSettings;

/* Runs one fitter over the bank and scores it. 0, or 2 when the harness itself failed (a
 * fitter's own failures are counted in the score). */
int fitbench_score(const Bank *b, const char *fitter, const BenchSettings *bs, FitterScore *out, char *err);
void fitbench_score_free(FitterScore *s);

#endif
