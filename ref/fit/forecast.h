/* One forecast of the fitter benchmark: a fitter sees the eval points of a run up to a compute
 * cut and predicts the pass rate at every later eval point, with an optional 95% prediction
 * interval; it may also say that the ceiling is not identified from what it saw, beside its
 * predictions (a forecast of the next points can be good while A is not pinned: the toy's default
 * run fitted on half its compute forecasts its end within 0.02 with A at the bound 1), or instead
 * of them (it declines to forecast).
 *
 * Built-in fitters (names in forecast_builtin_names):
 *   loglogistic  the paper's sigmoid (ref/fit/fit.h), as `scalerl fit` fits it;
 *   weibull      the Weibull form, which approaches its ceiling faster;
 *   powerlaw     R = A - D C^-B (ref/fit/powerlaw.h).
 * Each is fitted with the fit command's defaults (early exclusion, R0 from the step-0 row) on the
 * points with x <= cut. Its interval at x is the bootstrap percentile band of the fitted curve
 * widened by the scatter of single points, in quadrature:
 *     lo = R - sqrt((R - q_2.5)^2 + (1.96 s)^2),  hi = R + sqrt((q_97.5 - R)^2 + (1.96 s)^2),
 * s^2 = SSE / (n - 3), because a held-out point is one noisy measurement, not the mean curve. A
 * sigmoid says its ceiling is not identified when A ran to the bound 1 or the bootstrap's 97.5%
 * quantile of A reached it; the power law when its A is 1 or more (ref/fit/powerlaw.h: the sign
 * that no ceiling was found). The built-ins always forecast when their fit succeeds.
 *
 * External fitters speak a protocol of JSON lines (forecast_external; ref/fit/README.md has it in
 * full): standard input is one query line {"kind":"query","x":X,"predict":[x1,...]} then the
 * run's eval rows with x <= cut exactly as metrics.jsonl has them (step-0 row included);
 * standard output is one line {"x":..,"R":..} (optional "lo", "hi") per asked x, in any order,
 * and optionally a line {"identified":false}, alone to decline. A non-zero exit, a signal, the
 * time limit, or output that breaks the protocol fails the forecast, with the reason in `why`. */
#ifndef SCALERL_FORECAST_H
#define SCALERL_FORECAST_H

#include "ref/fit/fitrun.h"
#include "ref/fit/rundata.h"

enum { FORECAST_OK, FORECAST_DECLINED, FORECAST_FAILED };

typedef struct {
    int status;             /* FORECAST_*: predictions for every asked x, none, or a failure */
    int unidentified;       /* the fitter said the ceiling is not identified */
    char why[300];          /* FORECAST_FAILED: what went wrong, one line */
    int n;                  /* points asked for */
    double *R, *lo, *hi;    /* predictions at the asked x; lo and hi NaN where none was given */
    double seconds;         /* wall time of the fitter */
} Forecast;

extern const char *const forecast_builtin_names[]; /* NULL-terminated */
int forecast_is_builtin(const char *name);

/* Allocates the arrays for n points and sets status FORECAST_FAILED with an empty why. 0 or 2. */
int forecast_init(Forecast *f, int n, char *err);
void forecast_free(Forecast *f);

/* A built-in fitter on run r cut at x <= cut (s: x column, boot, boot_seed; the rest defaults).
 * The fit's own refusals (too few points) come back as FORECAST_FAILED; the return is 2 only for the
 * harness's own failures (memory). */
int forecast_builtin(const char *name, RunData *r, double cut, const FitSettings *s, const double *xs, Forecast *f,
                     char *err);

/* An external fitter: cmd through sh -c, with the prefix rows (raw metrics lines, the caller's
 * selection) after the query. 2 only when the process could not be run at all. */
int forecast_external(const char *cmd, const char *xcol, char *const *rows, int n_rows, const double *xs,
                      double timeout_s, Forecast *f, char *err);

/* Parses an external fitter's standard output into f (exposed for the tests). */
void forecast_parse(const char *out, const double *xs, Forecast *f);

#endif
