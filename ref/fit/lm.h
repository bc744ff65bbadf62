/* Levenberg-Marquardt least squares for small models (at most LM_MAX_PARAMS parameters) with box
 * bounds, used to refine the grid solutions of the sigmoid and power-law fits.
 *
 * The model is given point by point: fn(theta, i, &f, grad, ctx) returns the prediction for point
 * i and its gradient with respect to every parameter. The residuals are y[i] - f. A parameter can
 * be held fixed (free[k] = 0). Bounds are handled by an active set: a parameter sitting on a
 * bound whose descent direction points outward is held for that iteration, and trial points are
 * clamped into the box, so the result always lies inside it. */
#ifndef SCALERL_LM_H
#define SCALERL_LM_H

#define LM_MAX_PARAMS 4

typedef void (*LmPointFn)(const double *theta, int i, double *f, double *grad, const void *ctx);

typedef struct {
    int np;                     /* number of parameters, <= LM_MAX_PARAMS */
    int free_[LM_MAX_PARAMS];   /* 1: fitted, 0: held at its start value */
    double lo[LM_MAX_PARAMS], hi[LM_MAX_PARAMS];
    int max_iter;
} LmProblem;

/* The sum of squared residuals at theta. */
double lm_sse(LmPointFn fn, const void *ctx, const double *y, int n, int np, const double *theta);

/* Refines theta in place (it must start inside the bounds) and returns the final sum of squared
 * residuals; *iters (may be NULL) gets the number of iterations taken. Never increases the sum. */
double lm_minimize(LmPointFn fn, const void *ctx, const double *y, int n, const LmProblem *pb,
                   double *theta, int *iters);

#endif
