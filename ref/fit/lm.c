#include "ref/fit/lm.h"

#include <math.h>
#include <string.h>

double lm_sse(LmPointFn fn, const void *ctx, const double *y, int n, int np, const double *theta)
{
    double grad[LM_MAX_PARAMS], sse = 0;
    (void)np;
    for (int i = 0; i < n; i++) {
        double f;
        fn(theta, i, &f, grad, ctx);
        double r = y[i] - f;
        sse += r * r;
    }
    return isfinite(sse) ? sse : INFINITY;
}

/* Solves the m x m system M d = g by Cholesky; 0 when M is not positive definite. */
static int solve_spd(int m, double M[LM_MAX_PARAMS][LM_MAX_PARAMS], const double *g, double *d)
{
    double L[LM_MAX_PARAMS][LM_MAX_PARAMS] = {{0}};
    for (int i = 0; i < m; i++) {
        for (int j = 0; j <= i; j++) {
            double s = M[i][j];
            for (int k = 0; k < j; k++) s -= L[i][k] * L[j][k];
            if (i == j) {
                if (!(s > 0)) return 0;
                L[i][i] = sqrt(s);
            } else {
                L[i][j] = s / L[j][j];
            }
        }
    }
    double z[LM_MAX_PARAMS];
    for (int i = 0; i < m; i++) {
        double s = g[i];
        for (int k = 0; k < i; k++) s -= L[i][k] * z[k];
        z[i] = s / L[i][i];
    }
    for (int i = m - 1; i >= 0; i--) {
        double s = z[i];
        for (int k = i + 1; k < m; k++) s -= L[k][i] * d[k];
        d[i] = s / L[i][i];
    }
    return 1;
}

double lm_minimize(LmPointFn fn, const void *ctx, const double *y, int n, const LmProblem *pb,
                   double *theta, int *iters)
{
    const int np = pb->np;
    double sse = lm_sse(fn, ctx, y, n, np, theta);
    double lambda = 1e-3;
    int it = 0;
    for (; it < pb->max_iter && sse > 0; it++) {
        /* Normal equations J^T J and J^T r over all parameters; residual r = y - f. */
        double JtJ[LM_MAX_PARAMS][LM_MAX_PARAMS] = {{0}}, Jtr[LM_MAX_PARAMS] = {0};
        for (int i = 0; i < n; i++) {
            double f, g[LM_MAX_PARAMS];
            fn(theta, i, &f, g, ctx);
            double r = y[i] - f;
            for (int a = 0; a < np; a++) {
                Jtr[a] += g[a] * r;
                for (int b = 0; b <= a; b++) JtJ[a][b] += g[a] * g[b];
            }
        }
        /* Active set: free parameters not pinned against a bound by the descent direction. */
        int idx[LM_MAX_PARAMS], m = 0;
        for (int a = 0; a < np; a++) {
            if (!pb->free_[a]) continue;
            if (theta[a] >= pb->hi[a] && Jtr[a] > 0) continue;
            if (theta[a] <= pb->lo[a] && Jtr[a] < 0) continue;
            idx[m++] = a;
        }
        if (m == 0) break;
        int accepted = 0, converged = 0;
        while (lambda < 1e16) {
            double M[LM_MAX_PARAMS][LM_MAX_PARAMS], g[LM_MAX_PARAMS], d[LM_MAX_PARAMS];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    int a = idx[i] > idx[j] ? idx[i] : idx[j], b = idx[i] > idx[j] ? idx[j] : idx[i];
                    M[i][j] = JtJ[a][b];
                }
                /* Marquardt's scaling by the diagonal, floored so a parameter the data barely
                 * constrains still gets a finite, damped step. */
                M[i][i] += lambda * (JtJ[idx[i]][idx[i]] > 1e-12 ? JtJ[idx[i]][idx[i]] : 1e-12);
                g[i] = Jtr[idx[i]];
            }
            if (!solve_spd(m, M, g, d)) {
                lambda *= 10;
                continue;
            }
            double trial[LM_MAX_PARAMS], step = 0;
            memcpy(trial, theta, sizeof(double) * (size_t)np);
            for (int i = 0; i < m; i++) {
                int a = idx[i];
                double v = theta[a] + d[i];
                if (v < pb->lo[a]) v = pb->lo[a];
                if (v > pb->hi[a]) v = pb->hi[a];
                trial[a] = v;
                double s = fabs(v - theta[a]);
                if (s > step) step = s;
            }
            double sse_t = lm_sse(fn, ctx, y, n, np, trial);
            if (sse_t <= sse) {
                /* Converged when the step is negligible or the sum stops falling (in relative
                 * terms at the level of double rounding). */
                converged = step < 1e-12 || sse - sse_t <= 1e-15 * sse;
                memcpy(theta, trial, sizeof(double) * (size_t)np);
                sse = sse_t;
                lambda = lambda > 1e-12 ? lambda * 0.1 : lambda;
                accepted = 1;
                break;
            }
            lambda *= 10;
        }
        if (!accepted || converged) break;
    }
    if (iters) *iters = it;
    return sse;
}
