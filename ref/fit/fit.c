#include "ref/fit/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/fit/lm.h"

/* Parameter vector of the refinement: A, ln B, ln Cmid - L (L = mean ln x), R0. Logs keep B and
 * Cmid positive and put all four on comparable scales. */
enum { P_A, P_LNB, P_LC, P_R0, P_COUNT };

#define B_GRID_LO 0.05
#define B_GRID_HI 50.0
#define B_BOUND_LO 1e-3
#define B_BOUND_HI 1e3

const char *form_name(int form)
{
    return form == FORM_WEIBULL ? "weibull" : "loglogistic";
}

const char *form_formula(int form)
{
    return form == FORM_WEIBULL ? "R0 + (A - R0) (1 - 2^-((C/Cmid)^B))" : "R0 + (A - R0) / (1 + (Cmid/C)^B)";
}

/* e^u capped where it would overflow; the Gumbel share is 1 to double precision long before. */
#define GUMBEL_U_MAX 700.0

double form_share(int form, double u)
{
    if (form == FORM_WEIBULL) return -expm1(-M_LN2 * exp(u < GUMBEL_U_MAX ? u : GUMBEL_U_MAX));
    return 1 / (1 + exp(-u));
}

/* scale * dF/du given u and F(u); the logistic's product in the order the fitter always used, so
 * that its fits are bit for bit what they were before the Weibull form came. */
static double form_slope_scaled(int form, double scale, double u, double share)
{
    if (form == FORM_WEIBULL) return scale * (M_LN2 * exp(u < GUMBEL_U_MAX ? u : GUMBEL_U_MAX) * (1 - share));
    return scale * share * (1 - share);
}

double sigmoid_at(const Sigmoid *s, double C)
{
    if (!(C > 0)) return s->R0;
    if (s->form == FORM_WEIBULL) return s->R0 + (s->A - s->R0) * form_share(FORM_WEIBULL, s->B * (log(C) - log(s->Cmid)));
    double z = s->B * (log(s->Cmid) - log(C));
    return s->R0 + (s->A - s->R0) / (1 + exp(z));
}

int sigmoid_compute_for(const Sigmoid *s, double R, double *C)
{
    double gain = s->A - s->R0, part = R - s->R0;
    /* R must lie strictly inside (R0, A), whichever way the curve goes. */
    if (!(gain != 0) || !(part / gain > 0) || !(part / gain < 1)) return 0;
    double c;
    if (s->form == FORM_WEIBULL) {
        /* 1 - 2^-((C/Cmid)^B) = f  <=>  (C/Cmid)^B = -log2(1 - f) */
        c = s->Cmid * pow(-log1p(-part / gain) / M_LN2, 1.0 / s->B);
    } else {
        double ratio = gain / part - 1; /* (Cmid / C)^B */
        c = s->Cmid * pow(ratio, -1.0 / s->B);
    }
    if (!isfinite(c) || c <= 0) return 0;
    *C = c;
    return 1;
}

void sigmoid_fit_defaults(SigmoidFitOpts *o)
{
    memset(o, 0, sizeof *o);
    o->A_step = 0.005;
    o->n_cmid = 100;
    o->n_b = 240;
}

void sigmoid_fit_coarse(SigmoidFitOpts *o)
{
    sigmoid_fit_defaults(o);
    o->A_step = 0.01;
    o->n_cmid = 40;
    o->n_b = 80;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int fit_check_data(const double *x, const double *y, int n, int min_points, char *err)
{
    if (n < min_points) {
        snprintf(err, ERR_LEN, "only %d points to fit, need at least %d", n, min_points);
        return 1;
    }
    double ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            snprintf(err, ERR_LEN, "non-finite data at point %d (x=%g, y=%g): expected finite numbers", i + 1,
                     x[i], y[i]);
            return 1;
        }
        if (x[i] <= 0) {
            snprintf(err, ERR_LEN, "compute %g at point %d: expected x > 0 on a log axis", x[i], i + 1);
            return 1;
        }
        if (y[i] < ymin) ymin = y[i];
        if (y[i] > ymax) ymax = y[i];
    }
    if (ymax - ymin < 1e-9) {
        snprintf(err, ERR_LEN, "flat data: every pass rate is %g, a curve needs a change", ymin);
        return 1;
    }
    double *xs = malloc(sizeof(double) * (size_t)n);
    if (!xs) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    memcpy(xs, x, sizeof(double) * (size_t)n);
    qsort(xs, (size_t)n, sizeof(double), cmp_double);
    int distinct = 1;
    for (int i = 1; i < n; i++) distinct += xs[i] != xs[i - 1];
    free(xs);
    if (distinct < min_points) {
        snprintf(err, ERR_LEN, "only %d distinct compute values, need at least %d", distinct, min_points);
        return 1;
    }
    return 0;
}

typedef struct {
    const double *lx; /* ln x - L */
    int form;
    int fit_r0;
    double R0;        /* when not fitted */
} SigmoidCtx;

static void sigmoid_point(const double *t, int i, double *f, double *g, const void *vctx)
{
    const SigmoidCtx *c = vctx;
    double A = t[P_A], B = exp(t[P_LNB]), R0 = c->fit_r0 ? t[P_R0] : c->R0;
    double u = B * (c->lx[i] - t[P_LC]);
    double s = form_share(c->form, u);
    double dfu = form_slope_scaled(c->form, A - R0, u, s); /* d f / d u */
    *f = R0 + (A - R0) * s;
    g[P_A] = s;
    g[P_LNB] = dfu * u;
    g[P_LC] = -dfu * B;
    g[P_R0] = c->fit_r0 ? 1 - s : 0;
}

typedef struct {
    double A, lnB, lc, R0, sse;
} GridBest;

/* The grid search. For each (Cmid, B) one pass over the points gives the sums from which the sum
 * of squares at every A (and the best R0, when fitted) follows in closed form. */
static void grid_search(const double *lx, const double *y, int n, const SigmoidFitOpts *o, double lmin,
                        double lmax, double A_lo, double A_hi, double r0_lo, double r0_hi, GridBest *best,
                        double *s)
{
    int nA = o->fix_A ? 1 : (int)floor((A_hi - A_lo) / o->A_step + 1e-9) + 1;
    if (!o->fix_A && A_lo + (nA - 1) * o->A_step < A_hi - 1e-12) nA++; /* include A_hi itself */
    double Sy = 0, Syy = 0;
    for (int i = 0; i < n; i++) {
        Sy += y[i];
        Syy += y[i] * y[i];
    }
    double c_lo = lmin - log(10), c_hi = lmax + 2 * log(10);
    /* A start that is valid even if every grid sum came out non-finite. */
    *best = (GridBest){o->fix_A ? o->A : A_hi, log(1.0), 0.5 * (lmin + lmax), o->fit_r0 ? r0_lo : o->R0, INFINITY};
    for (int ci = 0; ci < o->n_cmid; ci++) {
        double lc = o->n_cmid > 1 ? c_lo + (c_hi - c_lo) * ci / (o->n_cmid - 1) : 0.5 * (c_lo + c_hi);
        for (int bi = 0; bi < o->n_b; bi++) {
            double lnB = log(B_GRID_LO) + (log(B_GRID_HI) - log(B_GRID_LO)) * bi / (o->n_b > 1 ? o->n_b - 1 : 1);
            double B = exp(lnB), Sys = 0, Ss = 0, Sss = 0;
            for (int i = 0; i < n; i++) {
                s[i] = form_share(o->form, B * (lx[i] - lc));
                Sys += y[i] * s[i];
                Ss += s[i];
                Sss += s[i] * s[i];
            }
            for (int ai = 0; ai < nA; ai++) {
                double A = o->fix_A ? o->A : (ai == nA - 1 ? A_hi : A_lo + ai * o->A_step);
                double R0 = o->R0, sse;
                /* Residual e_i = (y_i - A s_i) - R0 (1 - s_i) = v_i - R0 u_i. */
                double vv = Syy - 2 * A * Sys + A * A * Sss;
                double vu = Sy - Sys - A * (Ss - Sss);
                double uu = n - 2 * Ss + Sss;
                if (o->fit_r0) {
                    R0 = uu > 1e-300 ? vu / uu : r0_lo;
                    if (R0 < r0_lo) R0 = r0_lo;
                    if (R0 > r0_hi) R0 = r0_hi;
                }
                sse = vv - 2 * R0 * vu + R0 * R0 * uu;
                if (sse < best->sse) {
                    best->sse = sse;
                    best->A = A;
                    best->lnB = lnB;
                    best->lc = lc;
                    best->R0 = R0;
                }
            }
        }
    }
}

int sigmoid_fit(const double *x, const double *y, int n, const SigmoidFitOpts *o, SigmoidFit *out, char *err)
{
    memset(out, 0, sizeof *out);
    int rc = fit_check_data(x, y, n, o->fit_r0 ? 5 : 4, err);
    if (rc) return rc;
    if (!o->fit_r0 && !isfinite(o->R0)) {
        snprintf(err, ERR_LEN, "R0 is not finite: expected the step-0 pass rate or fit_r0=1");
        return 1;
    }
    if (o->fix_A && !isfinite(o->A)) {
        snprintf(err, ERR_LEN, "fixed A is not finite");
        return 1;
    }
    double *lx = malloc(sizeof(double) * (size_t)n * 2);
    if (!lx) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    double *scratch = lx + n;
    double L = 0, ymin = INFINITY, ymax = -INFINITY, ymean = 0;
    for (int i = 0; i < n; i++) {
        L += log(x[i]);
        ymean += y[i];
        if (y[i] < ymin) ymin = y[i];
        if (y[i] > ymax) ymax = y[i];
    }
    L /= n;
    ymean /= n;
    double lmin = INFINITY, lmax = -INFINITY;
    for (int i = 0; i < n; i++) {
        lx[i] = log(x[i]) - L;
        if (lx[i] < lmin) lmin = lx[i];
        if (lx[i] > lmax) lmax = lx[i];
    }
    double A_hi = ymax > 1 ? ymax : 1;
    double r0_lo = ymin < 0 ? ymin : 0, r0_hi = ymax > 1 ? ymax : 1;

    GridBest gb;
    grid_search(lx, y, n, o, lmin, lmax, ymin, A_hi, r0_lo, r0_hi, &gb, scratch);

    SigmoidCtx ctx = {lx, o->form, o->fit_r0, o->R0};
    LmProblem pb = {.np = P_COUNT, .max_iter = 300};
    pb.free_[P_A] = !o->fix_A;
    pb.free_[P_LNB] = 1;
    pb.free_[P_LC] = 1;
    pb.free_[P_R0] = o->fit_r0;
    pb.lo[P_A] = ymin < 0 ? ymin : 0;
    pb.hi[P_A] = A_hi;
    if (o->fix_A) pb.lo[P_A] = pb.hi[P_A] = o->A;
    pb.lo[P_LNB] = log(B_BOUND_LO);
    pb.hi[P_LNB] = log(B_BOUND_HI);
    pb.lo[P_LC] = lmin - 3 * log(10);
    pb.hi[P_LC] = lmax + 3 * log(10);
    pb.lo[P_R0] = o->fit_r0 ? r0_lo : o->R0;
    pb.hi[P_R0] = o->fit_r0 ? r0_hi : o->R0;

    double starts[2][P_COUNT] = {{gb.A, gb.lnB, gb.lc, gb.R0}};
    int n_starts = 1;
    if (o->has_start && o->start.B > 0 && o->start.Cmid > 0) {
        double *s = starts[n_starts++];
        s[P_A] = o->fix_A ? o->A : o->start.A;
        s[P_LNB] = log(o->start.B);
        s[P_LC] = log(o->start.Cmid) - L;
        s[P_R0] = o->fit_r0 ? o->start.R0 : o->R0;
        for (int k = 0; k < P_COUNT; k++) {
            if (s[k] < pb.lo[k]) s[k] = pb.lo[k];
            if (s[k] > pb.hi[k]) s[k] = pb.hi[k];
        }
    }
    double best_sse = INFINITY, best[P_COUNT] = {0};
    for (int k = 0; k < n_starts; k++) {
        int iters;
        double sse = lm_minimize(sigmoid_point, &ctx, y, n, &pb, starts[k], &iters);
        if (sse < best_sse) {
            best_sse = sse;
            memcpy(best, starts[k], sizeof best);
            out->iters = iters;
        }
    }
    double sst = 0;
    int on_rise = 0;
    for (int i = 0; i < n; i++) {
        sst += (y[i] - ymean) * (y[i] - ymean);
        double share = form_share(o->form, exp(best[P_LNB]) * (lx[i] - best[P_LC]));
        on_rise += share >= 0.1 && share <= 0.9;
    }
    free(lx);

    out->p.A = best[P_A];
    out->p.B = exp(best[P_LNB]);
    out->p.Cmid = exp(best[P_LC] + L);
    out->p.R0 = o->fit_r0 ? best[P_R0] : o->R0;
    out->p.form = o->form;
    out->sse = best_sse;
    out->r2 = 1 - best_sse / sst;
    out->n = n;
    out->A_at_bound = !o->fix_A && out->p.A >= A_hi - 1e-9;
    out->B_unresolved = on_rise < 2;
    out->Cmid_at_bound = best[P_LC] <= pb.lo[P_LC] + 1e-9 || best[P_LC] >= pb.hi[P_LC] - 1e-9;
    if (!isfinite(out->p.A) || !isfinite(out->p.B) || !isfinite(out->p.Cmid) || !isfinite(out->p.R0) ||
        !isfinite(best_sse)) {
        snprintf(err, ERR_LEN, "the fit did not converge to finite parameters");
        return 1;
    }
    return 0;
}
