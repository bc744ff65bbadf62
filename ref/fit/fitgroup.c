#include "ref/fit/fitgroup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int groups_build(RunData *runs, int n, RecipeGroup **groups, int *ng, char *err)
{
    RecipeGroup *g = calloc((size_t)(n > 0 ? n : 1), sizeof *g);
    if (!g) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    int count = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= strcmp(runs[j].recipe, runs[i].recipe) == 0;
        if (seen) continue;
        RecipeGroup *gr = &g[count++];
        snprintf(gr->recipe, sizeof gr->recipe, "%s", runs[i].recipe);
        if (!(gr->runs = malloc(sizeof(RunData *) * (size_t)(n - i)))) {
            groups_free(g, count);
            snprintf(err, ERR_LEN, "out of memory");
            return 2;
        }
        for (int j = i; j < n; j++)
            if (strcmp(runs[j].recipe, runs[i].recipe) == 0) gr->runs[gr->k++] = &runs[j];
    }
    *groups = g;
    *ng = count;
    return 0;
}

void groups_free(RecipeGroup *groups, int ng)
{
    if (!groups) return;
    for (int i = 0; i < ng; i++) {
        curve_free(&groups[i].pooled);
        if (groups[i].seeds)
            for (int j = 0; j < groups[i].k; j++) curve_free(&groups[i].seeds[j]);
        free(groups[i].seeds);
        free(groups[i].runs);
    }
    free(groups);
}

/* max_i |v_i - mean v| */
static double spread(const double *v, int k)
{
    double mean = 0, s = 0;
    for (int i = 0; i < k; i++) mean += v[i] / k;
    for (int i = 0; i < k; i++)
        if (fabs(v[i] - mean) > s) s = fabs(v[i] - mean);
    return s;
}

/* Spreads of A, ln B and log10 Cmid over per-seed fits. */
static int seed_spreads(const CurveFit *f, int k, double *sA, double *slnB, double *slgC, char *err)
{
    double *v = malloc(sizeof(double) * 3 * (size_t)k);
    if (!v) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    for (int i = 0; i < k; i++) {
        v[i] = f[i].sig.p.A;
        v[k + i] = log(f[i].sig.p.B);
        v[2 * k + i] = log10(f[i].sig.p.Cmid);
    }
    *sA = spread(v, k);
    *slnB = spread(v + k, k);
    *slgC = spread(v + 2 * k, k);
    free(v);
    return 0;
}

/* A group fitted without bootstrap under settings s (A held at *fix_A unless NULL): the pooled
 * fit into *pooled, and the seed spreads of A, ln B and log10 Cmid from each seed's own fit. */
static int fit_unbooted(const RecipeGroup *g, const FitSettings *s, const double *fix_A, SigmoidFit *pooled,
                        double *sA, double *slnB, double *slgC, char *err)
{
    CurveFit f;
    int rc = curve_fit(g->runs, g->k, s, fix_A, 0, &f, err);
    if (rc) return rc;
    *pooled = f.sig;
    curve_free(&f);
    CurveFit *seeds = calloc((size_t)g->k, sizeof *seeds);
    if (!seeds) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    for (int j = 0; j < g->k && !rc; j++) rc = curve_fit(&g->runs[j], 1, s, fix_A, 0, &seeds[j], err);
    if (!rc) rc = seed_spreads(seeds, g->k, sA, slnB, slgC, err);
    for (int j = 0; j < g->k; j++) curve_free(&seeds[j]);
    free(seeds);
    return rc;
}

int group_fit(RecipeGroup *g, const FitSettings *s, long boot, char *err)
{
    int rc = curve_fit(g->runs, g->k, s, NULL, boot, &g->pooled, err);
    if (rc) return rc;
    g->seeds = calloc((size_t)g->k, sizeof *g->seeds);
    if (!g->seeds) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    for (int j = 0; j < g->k; j++)
        if ((rc = curve_fit(&g->runs[j], 1, s, NULL, 0, &g->seeds[j], err))) return rc;
    if ((rc = seed_spreads(g->seeds, g->k, &g->spread_A, &g->spread_lnB, &g->spread_lgC, err))) return rc;
    /* The Weibull reading of the ceiling (ref/fit/fitgroup.h). */
    FitSettings w = *s;
    w.form = FORM_WEIBULL;
    double slnB, slgC;
    return fit_unbooted(g, &w, NULL, &g->weibull, &g->spread_A_weibull, &slnB, &slgC, err);
}

const char *verdict_name(int v)
{
    switch (v) {
    case VERDICT_CEILING: return "ceiling mover";
    case VERDICT_EFFICIENCY: return "efficiency shaper";
    default: return "no effect";
    }
}

int group_better_form(const RecipeGroup *g)
{
    return g->weibull.sse < g->pooled.sig.sse ? FORM_WEIBULL : FORM_LOGLOGISTIC;
}

/* A recipe's ceiling and its seed spread in one form. */
static void group_ceiling(const RecipeGroup *g, int form, double *A, double *spread)
{
    *A = form == FORM_WEIBULL ? g->weibull.p.A : g->pooled.sig.p.A;
    *spread = form == FORM_WEIBULL ? g->spread_A_weibull : g->spread_A;
}

/* Whether the two forms fit a recipe's pooled points about equally well: sums of squares within
 * 2%. The eval points are not independent, so a smaller gap does not pick a tail (ref/fit/README.md,
 * "Limits": synthetic near-ties within 0.2% read a higher ceiling as lower; the committed real runs'
 * choices are 4-50% apart, save one at 0.3%). */
static int group_forms_tie(const RecipeGroup *g)
{
    double a = g->weibull.sse, b = g->pooled.sig.sse;
    return fabs(a - b) <= 0.02 * (a > b ? a : b);
}

/* Whether a recipe's A in one form ran to the fit's bound. */
static int group_at_bound(const RecipeGroup *g, int form)
{
    return form == FORM_WEIBULL ? g->weibull.A_at_bound : g->pooled.sig.A_at_bound;
}

static double max3(double a, double b, double c)
{
    double m = a > b ? a : b;
    return m > c ? m : c;
}

const char *reading_name(int r)
{
    switch (r) {
    case CEILING_READ_FORMS: return "both forms";
    case CEILING_READ_BETTER_FORM: return "better form";
    default: return "plateau";
    }
}

/* A run's last `tail` of compute: the least-squares line through its eval points there, read at
 * the run's last x (where the run stands at its end, with the noise of one point averaged out and
 * without the lag of a plain mean behind a run still creeping up), the line's change across the
 * window, and the points' scatter about it. 0 when the window holds fewer than 4 points (no line
 * worth the name: not flat). */
static int run_tail(const RunData *r, int n_pts, double tail, double *level, double *rise, double *scatter)
{
    if (n_pts < 4 || !(r->pts[n_pts - 1].x > 0)) return 0; /* a fraction of compute needs compute > 0 */
    double xl = r->pts[n_pts - 1].x, x0 = (1 - tail) * xl;
    int n = 0;
    double mx = 0, my = 0;
    for (int i = 0; i < n_pts; i++)
        if (r->pts[i].x >= x0) {
            n++;
            mx += r->pts[i].x / xl;
            my += r->pts[i].y;
        }
    if (n < 4) return 0;
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n_pts; i++)
        if (r->pts[i].x >= x0) {
            sxx += (r->pts[i].x / xl - mx) * (r->pts[i].x / xl - mx);
            sxy += (r->pts[i].x / xl - mx) * (r->pts[i].y - my);
        }
    double b = sxx > 0 ? sxy / sxx : 0, ssr = 0;
    for (int i = 0; i < n_pts; i++)
        if (r->pts[i].x >= x0) {
            double e = r->pts[i].y - my - b * (r->pts[i].x / xl - mx);
            ssr += e * e;
        }
    *level = my + b * (1 - mx);
    *rise = b * tail;
    *scatter = sqrt(ssr / (n - 2));
    return 1;
}

/* A recipe's plateau (mean over seeds of each run's tail level), its seed spread, whether every run
 * is flat (|rise| and scatter within tol), the largest |rise| and the lowest rise (0 for a run with
 * no tail line). */
static int group_tail(const RecipeGroup *g, const FitSettings *s, double tail, double tol, double *plateau,
                      double *spr, double *rise, double *fall, int *flat, char *err)
{
    double *v = malloc(sizeof(double) * (size_t)g->k);
    if (!v) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    *flat = g->k > 0;
    *rise = 0;
    *fall = 0;
    *plateau = 0;
    for (int j = 0; j < g->k; j++) {
        double m = 0, r = 0, sc = 0;
        const int n = fit_n_until(g->runs[j], s); /* a half-budget check reads no later point */
        int ok = run_tail(g->runs[j], n, tail, &m, &r, &sc);
        if (!ok) m = n ? g->runs[j]->pts[n - 1].y : 0;
        *flat &= ok && fabs(r) <= tol && sc <= tol;
        if (fabs(r) > fabs(*rise)) *rise = r;
        if (r < *fall) *fall = r;
        v[j] = m;
        *plateau += m / g->k;
    }
    *spr = spread(v, g->k);
    free(v);
    return 0;
}

double pair_ceiling_diff(const PairCompare *p)
{
    if (p->reading == CEILING_READ_PLATEAU) return p->dP;
    return p->forms_agree ? p->dA : p->dA_better;
}

void pair_B_percent(const PairCompare *p, double *change, double *margin)
{
    *change = 100 * (exp(p->dlnB) - 1);
    *margin = 100 * (p->dlnB >= 0 ? exp(p->margin_lnB) - 1 : 1 - exp(-p->margin_lnB));
}

int group_compare(const RecipeGroup *base, const RecipeGroup *g, const FitSettings *s, const SpreadFloors *fl,
                  PairCompare *out, char *err)
{
    memset(out, 0, sizeof *out);
    out->dA = g->pooled.sig.p.A - base->pooled.sig.p.A;
    out->margin_A = max3(fl->A, base->spread_A, g->spread_A);
    out->dA_weibull = g->weibull.p.A - base->weibull.p.A;
    out->margin_A_weibull = max3(fl->A, base->spread_A_weibull, g->spread_A_weibull);
    /* +1 / -1: the ceiling is higher / lower by this reading; 0: no difference beyond its margin. */
    int by_ll = fabs(out->dA) > out->margin_A ? (out->dA > 0 ? 1 : -1) : 0;
    int by_w = fabs(out->dA_weibull) > out->margin_A_weibull ? (out->dA_weibull > 0 ? 1 : -1) : 0;
    out->forms_agree = by_ll == by_w;
    if (out->forms_agree) {
        out->ceiling = by_ll != 0;
        out->reading = CEILING_READ_FORMS;
        /* Both forms read the ceiling alike: one form with both ceilings inside the bound backs it. */
        out->pinned = (!group_at_bound(base, FORM_LOGLOGISTIC) && !group_at_bound(g, FORM_LOGLOGISTIC)) ||
                      (!group_at_bound(base, FORM_WEIBULL) && !group_at_bound(g, FORM_WEIBULL));
    } else {
        out->reading = CEILING_READ_BETTER_FORM;
        double A0, A1, s0, s1;
        out->form[0] = group_better_form(base);
        out->form[1] = group_better_form(g);
        group_ceiling(base, out->form[0], &A0, &s0);
        group_ceiling(g, out->form[1], &A1, &s1);
        out->dA_better = A1 - A0;
        out->margin_A_better = max3(fl->A, s0, s1);
        out->ceiling = fabs(out->dA_better) > out->margin_A_better;
        /* Each recipe's tail is chosen by its fit: pinned when both choices are clear and both
         * chosen ceilings lie inside the bound. */
        out->pinned = !group_at_bound(base, out->form[0]) && !group_at_bound(g, out->form[1]) &&
                      !group_forms_tie(base) && !group_forms_tie(g);
    }
    /* Where every run of both is flat, the plateau the data reach decides (ref/fit/fitgroup.h). */
    int rc = group_tail(base, s, fl->tail, fl->A, &out->plateau[0], &out->spread_plateau[0], &out->rise[0],
                        &out->fall[0], &out->flat[0], err);
    if (!rc)
        rc = group_tail(g, s, fl->tail, fl->A, &out->plateau[1], &out->spread_plateau[1], &out->rise[1], &out->fall[1],
                        &out->flat[1], err);
    if (rc) return rc;
    out->dP = out->plateau[1] - out->plateau[0];
    out->margin_P = max3(fl->A, out->spread_plateau[0], out->spread_plateau[1]);
    if (out->flat[0] && out->flat[1]) {
        out->ceiling = fabs(out->dP) > out->margin_P;
        out->reading = CEILING_READ_PLATEAU;
        out->pinned = 1; /* read off the data, not a fitted A */
    }
    /* A reading of a higher ceiling that no fitted A pins is still backed by the data when the
     * recipe's runs, not falling, already stand beyond the margin above the baseline's flat
     * plateau: its ceiling is at least where they stand. Likewise for a lower one. Not falling is
     * every run's (no tail line falls by more than the flatness tolerance): one seed falling
     * while the others rise does not bound the ceiling from below. */
    if (!out->pinned && out->ceiling) {
        double d = pair_ceiling_diff(out);
        if (d > 0 && out->flat[0] && out->fall[1] >= -fl->A && out->dP > out->margin_P) out->pinned = 1;
        if (d < 0 && out->flat[1] && out->fall[0] >= -fl->A && out->dP < -out->margin_P) out->pinned = 1;
    }
    out->A_star = 0.5 * (g->pooled.sig.p.A + base->pooled.sig.p.A);
    /* Both refitted at A = A_star: pooled fits and per-seed spreads of ln B and log10 Cmid. */
    SigmoidFit fb, fg;
    double slnB[2], slgC[2], sA;
    rc = fit_unbooted(base, s, &out->A_star, &fb, &sA, &slnB[0], &slgC[0], err);
    if (!rc) rc = fit_unbooted(g, s, &out->A_star, &fg, &sA, &slnB[1], &slgC[1], err);
    if (rc) return rc;
    const Sigmoid *pb = &fb.p, *pg = &fg.p;
    out->B[0] = pb->B;
    out->B[1] = pg->B;
    out->Cmid[0] = pb->Cmid;
    out->Cmid[1] = pg->Cmid;
    out->dlnB = log(pg->B / pb->B);
    out->margin_lnB = max3(log(1 + fl->B), slnB[0], slnB[1]);
    out->dlgC = log10(pg->Cmid / pb->Cmid);
    out->margin_lgC = max3(fl->cmid, slgC[0], slgC[1]);
    if (out->ceiling) out->verdict = VERDICT_CEILING;
    else if (fabs(out->dlnB) > out->margin_lnB || fabs(out->dlgC) > out->margin_lgC) out->verdict = VERDICT_EFFICIENCY;
    else out->verdict = VERDICT_NONE;
    return 0;
}
