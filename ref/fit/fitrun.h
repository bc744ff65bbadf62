/* Fitting the eval points of one run, or of several seeds of one recipe pooled: which points the
 * fit uses (early exclusion, fit_until), the sigmoid and power-law fits, bootstrap intervals,
 * hold-out errors, forecasts and the sensitivity of A to the early cutoff. Shared by the fit,
 * plot and compare commands.
 *
 * Early exclusion (the paper drops roughly the first epoch, a tenth of a 16k GPU-hour run, on
 * evenly spaced evals). Given exclude_below=C, points with x < C are dropped; given
 * exclude_frac=F, points with x < F * (the last fitted x). The default drops a point only when
 * both hold: x below a tenth of the last fitted x AND the point among the first tenth of the
 * points. On evenly spaced evals the two criteria coincide and this is the paper's rule; on
 * log-spaced evals, where a tenth of the compute holds most of the points, the count criterion
 * binds and only the earliest tenth of the points is dropped.
 *
 * Bootstrap (percentile intervals, 95%): each resample draws, with replacement, as many runs as
 * were pooled (only when there are several seeds), then within each drawn run as many of its
 * fitted points as it has; R0 is the mean of the drawn runs' step-0 pass rates, each redrawn from
 * its own interval (pass_rate_lo/_hi read as a 95% normal interval), since R0 is a measurement
 * too and a fixed R0 would make the intervals of B and Cmid too narrow. Every draw is a
 * counter-based random number keyed by (boot_seed, resample, run, point), so intervals do not
 * depend on the thread count.
 *
 * Drawing points independently treats a run's eval points as independent errors around the
 * curve. They are not: the policy wanders between evals, so neighbouring points err together
 * (the default run's residuals have lag-1 autocorrelation 0.2-0.5 and 1.7-2 times the standard
 * deviation of an eval's own noise; ref/fit/README.md, "Intervals"), and the point bootstrap's
 * intervals come out too narrow. boot_block=L > 1 draws each run's points as runs of L
 * consecutive fitted points (a moving-block bootstrap: a block's start uniform over the nf-L+1
 * starts, blocks until nf points, the last one cut short); L = 1 is the point bootstrap, draw for
 * draw, and L >= nf resamples whole runs only. */
#ifndef SCALERL_FITRUN_H
#define SCALERL_FITRUN_H

#include <stddef.h>

#include "ref/common/args.h"
#include "ref/fit/fit.h"
#include "ref/fit/powerlaw.h"
#include "ref/fit/rundata.h"

#define FIT_DEFAULT_EXCLUDE 0.1
#define FIT_CI_LEVEL 0.95
#define FIT_MIN_BOOT 20
/* A resample fails when it holds fewer distinct points than the curve has parameters; keeping only
 * those that fit conditions the bootstrap on nearly distinct draws, which on a handful of points
 * leaves the original data with jitter (n = 4: 27 of 200 fit, A's interval 1e-4 wide around a
 * value 0.008 from the truth). Below this share of resamples fitted, no intervals are given. */
#define FIT_MIN_BOOT_FRAC 0.9

typedef struct {
    char x[OPT_STR_LEN];  /* compute column */
    char y[OPT_STR_LEN];  /* rate column: pass_rate, or a family's pass_rate_F */
    double exclude_below; /* < 0: not given */
    double exclude_frac;  /* < 0: not given */
    double fit_until;     /* <= 0: fit every point */
    double fit_until_frac; /* <= 0: not given; else fit_until = this fraction of the run's last x */
    long fit_r0;          /* OPT_INT fields are long */
    long boot;            /* resamples; 0: no intervals */
    long boot_seed;
    long boot_block;      /* points per bootstrap block (0 or 1: points drawn one by one) */
    /* Set by the code, not by keys (0 after memset, the defaults): */
    int form;             /* FORM_* of ref/fit/fit.h: the curve fitted */
    int boot_powerlaw;    /* 1: the bootstrap also refits the power law (CurveFit.pl_boot) */
} FitSettings;

/* OptSpec entries for the settings above, for a command config struct `Type` holding a
 * FitSettings named `member`. */
#define FIT_SETTINGS_OPTS(Type, member)                                                                    \
    {"x", OPT_STR, offsetof(Type, member.x), "flops", 0, 0, NULL,                                         \
     "compute column of the eval rows for the x axis (flops, wall_s, cpu_s, ...)"},                      \
    {"y", OPT_STR, offsetof(Type, member.y), "pass_rate", 0, 0, NULL,                                     \
     "rate column fitted: pass_rate, or on a mixed task one family's (pass_rate_sum, pass_rate_pair, ...)"}, \
    {"exclude_below", OPT_FLOAT, offsetof(Type, member.exclude_below), "-1", -1, 1e300, NULL,             \
     "drop points with x below this (-1: not set)"},                                                      \
    {"exclude_frac", OPT_FLOAT, offsetof(Type, member.exclude_frac), "-1", -1, 1, NULL,                   \
     "drop points with x below this fraction of the last fitted x (-1: the default rule, see README)"},   \
    {"fit_until", OPT_FLOAT, offsetof(Type, member.fit_until), "0", 0, 1e300, NULL,                       \
     "fit only points with x <= this and score the prediction on the rest (0: fit all)"},                 \
    {"fit_until_frac", OPT_FLOAT, offsetof(Type, member.fit_until_frac), "0", 0, 1, NULL,                 \
     "like fit_until, as a fraction of each run's last x (0.5: the paper's half-budget check)"},          \
    {"fit_r0", OPT_INT, offsetof(Type, member.fit_r0), "0", 0, 1, NULL,                                   \
     "1: fit R0 instead of taking the step-0 pass rate"},                                                 \
    {"boot", OPT_INT, offsetof(Type, member.boot), "200", 0, 100000, NULL,                                \
     "bootstrap resamples for intervals (0: none, else at least 20)"},                                    \
    {"boot_seed", OPT_INT, offsetof(Type, member.boot_seed), "1", 0, 2147483647, NULL,                    \
     "seed of the bootstrap draws"},                                                                      \
    {"boot_block", OPT_INT, offsetof(Type, member.boot_block), "1", 1, 100000, NULL,                      \
     "bootstrap blocks of this many consecutive eval points (1: points drawn one by one; see README)"}

/* Checks combinations the option table cannot (both exclusion keys, boot in 1..19). */
int fit_settings_check(const FitSettings *s, char *err);

enum { ROLE_FIT, ROLE_EARLY, ROLE_LATE };

/* How many of r's points (sorted by x) lie within fit_until / fit_until_frac: all without a cut.
 * What a verdict may read of the data beyond the fit (the plateau, the last point) stops there. */
int fit_n_until(const RunData *r, const FitSettings *s);
/* The role of each point of r (role has r->n entries); counts through the pointers. */
void fit_window(const RunData *r, const FitSettings *s, unsigned char *role, int *n_fit, int *n_early,
                int *n_late);

typedef struct {
    int k;             /* runs pooled */
    SigmoidFit sig;    /* sig.p.R0: the mean step-0 pass rate, or fitted */
    int fixed_A;       /* refit at a given A */
    PowerLawFit pl;
    int has_pl;
    char pl_warning[200]; /* empty when the power law's A is plausible */
    int points, excluded, holdout;
    double x_min, x_max;  /* fitted range */
    double y_best;        /* best fitted pass rate */
    double hold_mae, hold_max; /* prediction error beyond fit_until (NaN without hold-out) */
    double hold_last;          /* predicted minus observed at the last point, when it is held out (the
                                * mean over the runs of a pooled fit) */
    int boot_ok;          /* resamples that gave a fit */
    Sigmoid *boot;        /* their parameters */
    int pl_boot_ok;       /* with FitSettings.boot_powerlaw: resamples the power law fitted */
    PowerLaw *pl_boot;    /* and its parameters on them */
    int has_ci;           /* boot_ok >= FIT_MIN_BOOT and >= FIT_MIN_BOOT_FRAC of the resamples */
    double A_lo, A_hi, B_lo, B_hi, Cmid_lo, Cmid_hi;
} CurveFit;

/* Fits the k runs pooled (k = 1: one run). fix_A: NULL, or the ceiling to hold A at (no power
 * law then). boot: resamples (0: none). 0, or 1/2 with err naming the run when one is at fault. */
int curve_fit(RunData *const *runs, int k, const FitSettings *s, const double *fix_A, long boot, CurveFit *out,
              char *err);
void curve_free(CurveFit *c);

/* Predicted pass rate at C, with the bootstrap interval of the curve (NaN without intervals). */
void curve_predict(const CurveFit *c, double C, double *R, double *lo, double *hi);
/* The same from the power law (R NaN without one; the interval needs boot_powerlaw). */
void curve_predict_powerlaw(const CurveFit *c, double C, double *R, double *lo, double *hi);

typedef struct {
    int reachable;      /* R lies below the fitted ceiling (and above R0) */
    double C;           /* compute to reach R, when reachable */
    double lo, hi;      /* bootstrap interval; hi is infinite when over 2.5% of resamples never get there */
    double frac;        /* share of resamples that reach R */
} TargetResult;

void curve_target(const CurveFit *c, double R, TargetResult *t);

typedef struct {
    double frac;   /* exclude_frac of this row; -1: the default rule */
    int ok;        /* enough points were left to fit */
    int points;
    double first_x; /* smallest fitted x */
    double A, B, Cmid, pl_A;
} CutoffRow;

#define FIT_N_CUTOFFS 6

/* How A (sigmoid and power law) moves with the early cutoff: the default rule, then
 * exclude_frac = 0, 0.01, 0.03, 0.1, 0.3; rows[FIT_N_CUTOFFS]. */
void curve_cutoffs(RunData *const *runs, int k, const FitSettings *s, CutoffRow *rows);

/* Quantile q of the sorted values v[0..n-1], linearly interpolated. */
double quantile_sorted(const double *v, int n, double q);

#endif
