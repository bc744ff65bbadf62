/* The ScaleRL compute-performance curve and its least-squares fit.
 *
 *     R(C) = R0 + (A - R0) / (1 + (Cmid / C)^B)                 the log-logistic (the paper's)
 *     R(C) = R0 + (A - R0) (1 - 2^-((C / Cmid)^B))              the Weibull form
 *
 * Both are sigmoids on a log compute axis, R0 + (A - R0) F(u) with u = B (ln C - ln Cmid) and F the
 * share of the gain reached: the logistic F(u) = 1 / (1 + e^-u) or the Gumbel F(u) = 1 - exp(-ln 2
 * e^u). They agree below the knee (both rise like e^u) and at Cmid (half the gain), and differ in
 * how they approach the ceiling: the log-logistic's remaining gain falls as a power law of C,
 * (Cmid / C)^B, the Weibull's as exp(-(C / Cmid)^B), much faster. The toy's real runs saturate
 * like the second (ref/fit/README.md); the paper fits the first. Every statement below holds for
 * both forms.
 *
 * A is the ceiling (the pass rate approached with unlimited compute), B the steepness on a log
 * compute axis (efficiency), Cmid the compute at which half of the gain A - R0 is reached, R0
 * the pass rate at C = 0 (given, from the step-0 eval, or fitted).
 *
 * The fit follows the paper's procedure with data-derived ranges: a grid over A (up to 1 in steps
 * of A_step, from the lowest observed pass rate rather than the paper's best observed one, so
 * that a falling run fits too; on a rising run the best A lies above anyway) and Cmid (log-spaced from a decade below the
 * smallest x to two decades above the largest), the least-squares B for each grid point, the
 * smallest sum of squared residuals winning; then Levenberg-Marquardt refines A, B and Cmid (and
 * R0 when fitted) together; the refinement may take A below the best observed pass rate, which
 * noise on a plateau requires, but never above max(1, best observed). The least-squares B of a grid point is found on a fine log grid of B
 * (0.05 to 50): for fixed Cmid and B the sum of squares is a quadratic in A and R0, so the whole
 * (A, Cmid, B) grid costs one pass over the points per (Cmid, B) pair. Work is in double
 * precision with log x centred on its mean. */
#ifndef SCALERL_FIT_H
#define SCALERL_FIT_H

#include "errbuf.h"

enum { FORM_LOGLOGISTIC = 0, FORM_WEIBULL = 1, FORM_COUNT };

/* "loglogistic", "weibull". */
const char *form_name(int form);
/* The curve as a formula, e.g. "R0 + (A - R0) / (1 + (Cmid/C)^B)". */
const char *form_formula(int form);
/* F(u), the share of the gain reached at u = B (ln C - ln Cmid). */
double form_share(int form, double u);

typedef struct {
    double A, B, Cmid, R0;
    int form; /* FORM_*; 0 (the log-logistic) when a curve is written as {A, B, Cmid, R0} */
} Sigmoid;

double sigmoid_at(const Sigmoid *s, double C);
/* The compute at which the curve reaches R: 1 with *C when R lies strictly between R0 and A,
 * else 0 (R at or beyond the ceiling, or on the wrong side of R0). */
int sigmoid_compute_for(const Sigmoid *s, double R, double *C);

typedef struct {
    int form;            /* FORM_*: the curve fitted */
    int fit_r0;          /* 1: R0 is fitted; 0: held at R0 */
    double R0;
    int fix_A;           /* 1: A held at A (recipes compared at a common ceiling) */
    double A;
    double A_step;       /* A grid step (the paper's 0.005) */
    int n_cmid;          /* Cmid grid size (the paper's 100) */
    int n_b;             /* B grid size */
    int has_start;       /* 1: also refine from `start` (bootstrap refits start at the full fit) */
    Sigmoid start;
} SigmoidFitOpts;

/* The full grid: A step 0.005, 100 Cmid values, 240 B values. */
void sigmoid_fit_defaults(SigmoidFitOpts *o);
/* A coarser grid for bootstrap refits, which also start from the full-data fit. */
void sigmoid_fit_coarse(SigmoidFitOpts *o);

typedef struct {
    Sigmoid p;
    double sse, r2;
    int n;          /* points fitted */
    int A_at_bound; /* A ran to the upper bound (1): the plateau is not in the data */
    /* Fewer than 2 fitted points lie on the rise (between 10% and 90% of the gain A - R0): the
     * points bound B from below but do not measure it (a step between two points); B's value is
     * where the search stopped sharpening. */
    int B_unresolved;
    /* Cmid ran to a bound of its search, 3 decades beyond the points: the midpoint is not in
     * the data, and neither is the sigmoid's shape. */
    int Cmid_at_bound;
    int iters;      /* Levenberg-Marquardt iterations of the winning start */
} SigmoidFit;

/* Refusals (1, with err): fewer than 4 points (5 with fit_r0), fewer distinct x than that, any
 * non-finite value, x <= 0, flat y (max - min < 1e-9), a non-finite R0 or fixed A. */
int sigmoid_fit(const double *x, const double *y, int n, const SigmoidFitOpts *o, SigmoidFit *out,
                char *err);

/* Checks shared by the fitters: at least min_points points with that many distinct x > 0, every
 * value finite, y not flat. 0 or 1 with err. */
int fit_check_data(const double *x, const double *y, int n, int min_points, char *err);

#endif
