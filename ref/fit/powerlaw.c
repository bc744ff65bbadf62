#include "ref/fit/powerlaw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/fit/fit.h"
#include "ref/fit/lm.h"

/* Refinement parameters: A, ln D' and ln B, where D' is D in units of the centred compute
 * u = C / exp(L) (L = mean ln C), which keeps D' near 1 whatever the scale of C. */
enum { Q_A, Q_LND, Q_LNB, Q_COUNT };

#define PL_A_STEP 0.005
#define PL_B_LO 0.01
#define PL_B_HI 5.0
#define PL_N_B 120

double powerlaw_at(const PowerLaw *p, double C)
{
    if (!(C > 0)) return -INFINITY;
    if (p->D <= 0) return p->A;
    return p->A - exp(log(p->D) - p->B * log(C));
}

static void powerlaw_point(const double *t, int i, double *f, double *g, const void *ctx)
{
    const double *lu = ctx;
    double B = exp(t[Q_LNB]);
    double w = exp(t[Q_LND] - B * lu[i]);
    *f = t[Q_A] - w;
    g[Q_A] = 1;
    g[Q_LND] = -w;
    g[Q_LNB] = w * B * lu[i];
}

int powerlaw_fit(const double *x, const double *y, int n, PowerLawFit *out, char *err)
{
    memset(out, 0, sizeof *out);
    int rc = fit_check_data(x, y, n, 4, err);
    if (rc) return rc;
    double *lu = malloc(sizeof(double) * (size_t)n);
    if (!lu) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    double L = 0, Sy = 0, Syy = 0, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++) {
        L += log(x[i]);
        Sy += y[i];
        Syy += y[i] * y[i];
        if (y[i] < ymin) ymin = y[i];
        if (y[i] > ymax) ymax = y[i];
    }
    L /= n;
    for (int i = 0; i < n; i++) lu[i] = log(x[i]) - L;

    /* Grid over A and B; for each, D = argmin is the projection of (A - y) on u^-B. */
    double A_lo = ymax + 0.001;
    if (A_lo > PL_A_MAX) A_lo = PL_A_MAX;
    int nA = (int)floor((PL_A_MAX - A_lo) / PL_A_STEP) + 1;
    double best_sse = INFINITY, bt[Q_COUNT] = {A_lo, 0, 0};
    for (int bi = 0; bi < PL_N_B; bi++) {
        double lnB = log(PL_B_LO) + (log(PL_B_HI) - log(PL_B_LO)) * bi / (PL_N_B - 1);
        double B = exp(lnB), Sw = 0, Sww = 0, Syw = 0;
        for (int i = 0; i < n; i++) {
            double w = exp(-B * lu[i]);
            Sw += w;
            Sww += w * w;
            Syw += y[i] * w;
        }
        for (int ai = 0; ai < nA; ai++) {
            double A = A_lo + ai * PL_A_STEP;
            double aw = A * Sw - Syw; /* sum (A - y) w */
            double D = aw / Sww;
            if (D < 1e-12) D = 1e-12;
            double sse = n * A * A - 2 * A * Sy + Syy - 2 * D * aw + D * D * Sww;
            if (sse < best_sse) {
                best_sse = sse;
                bt[Q_A] = A;
                bt[Q_LND] = log(D);
                bt[Q_LNB] = lnB;
            }
        }
    }
    LmProblem pb = {.np = Q_COUNT, .max_iter = 300, .free_ = {1, 1, 1}};
    pb.lo[Q_A] = ymin < 0 ? ymin : 0;
    pb.hi[Q_A] = PL_A_MAX;
    pb.lo[Q_LND] = -60;
    pb.hi[Q_LND] = 60;
    pb.lo[Q_LNB] = log(1e-4);
    pb.hi[Q_LNB] = log(PL_B_HI);
    for (int k = 0; k < Q_COUNT; k++) {
        if (bt[k] < pb.lo[k]) bt[k] = pb.lo[k];
        if (bt[k] > pb.hi[k]) bt[k] = pb.hi[k];
    }
    double sse = lm_minimize(powerlaw_point, lu, y, n, &pb, bt, NULL);
    free(lu);

    double mean = Sy / n, sst = Syy - n * mean * mean;
    out->p.A = bt[Q_A];
    out->p.B = exp(bt[Q_LNB]);
    out->p.D = exp(bt[Q_LND] + out->p.B * L);
    out->sse = sse;
    out->r2 = sst > 0 ? 1 - sse / sst : 0;
    out->n = n;
    out->A_at_bound = out->p.A >= PL_A_MAX - 1e-9;
    if (!isfinite(out->p.A) || !isfinite(out->p.B) || !isfinite(out->p.D) || !isfinite(sse)) {
        snprintf(err, ERR_LEN, "the power-law fit did not converge to finite parameters");
        return 1;
    }
    return 0;
}
