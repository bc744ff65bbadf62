/* The plain power law R(C) = A - D * C^(-B) (A ceiling, D > 0, B > 0), fitted beside the sigmoid
 * on the same points to show what the paper showed: its A depends on the window it is fitted on.
 *
 * Fit: a grid over A (just above the best observed pass rate to PL_A_MAX in steps of 0.005) and
 * B (log-spaced 0.01 to 5), D in closed form for each grid point (the model is linear in D), then
 * Levenberg-Marquardt on A, ln D and ln B together. A is not capped at 1: a power law has no
 * reason to respect the pass-rate scale, and an A of 1 or more is itself the warning sign; it is
 * bounded at PL_A_MAX only to keep the search finite (an A there means "unbounded"). */
#ifndef SCALERL_POWERLAW_H
#define SCALERL_POWERLAW_H

#include "errbuf.h"

#define PL_A_MAX 1.5

typedef struct {
    double A, B, D;
} PowerLaw;

typedef struct {
    PowerLaw p;
    double sse, r2;
    int n;
    int A_at_bound; /* A ran to PL_A_MAX */
} PowerLawFit;

double powerlaw_at(const PowerLaw *p, double C);

/* Refuses (1, with err) the same degenerate inputs as sigmoid_fit: fewer than 4 points or
 * distinct x, non-finite values, x <= 0, flat y. */
int powerlaw_fit(const double *x, const double *y, int n, PowerLawFit *out, char *err);

#endif
