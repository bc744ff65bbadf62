#include "ref/fit/fitrun.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/rng.h"

/* Streams of the bootstrap's counter-based draws. */
enum { STREAM_BOOT_RUNS = 0xB0071, STREAM_BOOT_POINTS = 0xB0072, STREAM_BOOT_R0 = 0xB0073 };

int fit_settings_check(const FitSettings *s, char *err)
{
    if (s->exclude_below >= 0 && s->exclude_frac >= 0) {
        snprintf(err, ERR_LEN, "exclude_below=%g and exclude_frac=%g both given: expected at most one",
                 s->exclude_below, s->exclude_frac);
        return 1;
    }
    if (s->fit_until > 0 && s->fit_until_frac > 0) {
        snprintf(err, ERR_LEN, "fit_until=%g and fit_until_frac=%g both given: expected at most one", s->fit_until,
                 s->fit_until_frac);
        return 1;
    }
    if (s->boot > 0 && s->boot < FIT_MIN_BOOT) {
        snprintf(err, ERR_LEN, "bad value %ld for 'boot': expected 0 (no intervals) or at least %d", s->boot,
                 FIT_MIN_BOOT);
        return 1;
    }
    if (s->x[0] == 0) {
        snprintf(err, ERR_LEN, "empty 'x': expected a compute column such as flops, wall_s or cpu_s");
        return 1;
    }
    /* pass_rate_lo and _hi are the interval's ends, not a family's rate. */
    if (strncmp(s->y, "pass_rate", 9) != 0 || (s->y[9] != 0 && s->y[9] != '_') || strcmp(s->y, "pass_rate_lo") == 0 ||
        strcmp(s->y, "pass_rate_hi") == 0) {
        snprintf(err, ERR_LEN, "bad value '%s' for 'y': expected pass_rate or a family's pass_rate_F (pass_rate_sum, ...)",
                 s->y);
        return 1;
    }
    return 0;
}

int fit_n_until(const RunData *r, const FitSettings *s)
{
    double until = s->fit_until;
    if (s->fit_until_frac > 0 && r->n > 0) until = s->fit_until_frac * r->pts[r->n - 1].x; /* sorted by x */
    int n = 0;
    while (n < r->n && !(until > 0 && r->pts[n].x > until)) n++;
    return n;
}

void fit_window(const RunData *r, const FitSettings *s, unsigned char *role, int *n_fit, int *n_early,
                int *n_late)
{
    int in_window = 0;
    double x_end = 0, until = s->fit_until;
    if (s->fit_until_frac > 0 && r->n > 0) until = s->fit_until_frac * r->pts[r->n - 1].x; /* sorted by x */
    for (int i = 0; i < r->n; i++) {
        int late = until > 0 && r->pts[i].x > until;
        role[i] = late ? ROLE_LATE : ROLE_FIT;
        if (!late) {
            in_window++;
            if (r->pts[i].x > x_end) x_end = r->pts[i].x;
        }
    }
    /* Points are sorted by x, so rank among the windowed points is the running count. */
    int max_rank = (int)floor(FIT_DEFAULT_EXCLUDE * in_window);
    int rank = 0;
    for (int i = 0; i < r->n; i++) {
        if (role[i] == ROLE_LATE) continue;
        double x = r->pts[i].x;
        int early;
        if (s->exclude_below >= 0) early = x < s->exclude_below;
        else if (s->exclude_frac >= 0) early = x < s->exclude_frac * x_end;
        else early = x < FIT_DEFAULT_EXCLUDE * x_end && rank < max_rank;
        if (!(x > 0)) early = 1; /* no place on a log axis */
        if (early) role[i] = ROLE_EARLY;
        rank++;
    }
    int nf = 0, ne = 0, nl = 0;
    for (int i = 0; i < r->n; i++) {
        nf += role[i] == ROLE_FIT;
        ne += role[i] == ROLE_EARLY;
        nl += role[i] == ROLE_LATE;
    }
    *n_fit = nf;
    *n_early = ne;
    *n_late = nl;
}

double quantile_sorted(const double *v, int n, double q)
{
    if (n <= 0) return NAN;
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return v[n - 1];
    if (i < 0) return v[0];
    double t = pos - i;
    if (isinf(v[i + 1]) || isinf(v[i])) return t > 0 ? v[i + 1] : v[i];
    return v[i] + t * (v[i + 1] - v[i]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The pooled fitted points of k runs, and the windows' roles (for the hold-out). */
typedef struct {
    double *x, *y;
    int n;
    unsigned char **role; /* per run */
    int **idx;            /* per run: indices of its fitted points */
    int *n_fit;           /* per run */
    double r0;            /* mean step-0 pass rate */
} Pool;

static void pool_free(Pool *p, int k)
{
    for (int j = 0; j < k; j++) {
        if (p->role) free(p->role[j]);
        if (p->idx) free(p->idx[j]);
    }
    free(p->role);
    free(p->idx);
    free(p->n_fit);
    free(p->x);
    free(p->y);
    memset(p, 0, sizeof *p);
}

static int pool_build(RunData *const *runs, int k, const FitSettings *s, Pool *p, CurveFit *out, char *err)
{
    memset(p, 0, sizeof *p);
    int total = 0;
    for (int j = 0; j < k; j++) total += runs[j]->n;
    p->x = malloc(sizeof(double) * (size_t)(total + 1));
    p->y = malloc(sizeof(double) * (size_t)(total + 1));
    p->role = calloc((size_t)k, sizeof *p->role);
    p->idx = calloc((size_t)k, sizeof *p->idx);
    p->n_fit = calloc((size_t)k, sizeof *p->n_fit);
    if (!p->x || !p->y || !p->role || !p->idx || !p->n_fit) goto oom;
    for (int j = 0; j < k; j++) {
        const RunData *r = runs[j];
        if (!(p->role[j] = malloc((size_t)r->n + 1))) goto oom;
        if (!(p->idx[j] = malloc(sizeof(int) * ((size_t)r->n + 1)))) goto oom;
        int nf, ne, nl;
        fit_window(r, s, p->role[j], &nf, &ne, &nl);
        p->n_fit[j] = nf;
        out->excluded += ne;
        out->holdout += nl;
        if (!s->fit_r0 && !r->has_r0) {
            snprintf(err, ERR_LEN, "%s: no step-0 eval row to take R0 from (expected one, or fit_r0=1)", r->dir);
            return 1;
        }
        p->r0 += r->r0 / k;
        for (int i = 0, c = 0; i < r->n; i++) {
            if (p->role[j][i] != ROLE_FIT) continue;
            p->idx[j][c++] = i;
            p->x[p->n] = r->pts[i].x;
            p->y[p->n] = r->pts[i].y;
            p->n++;
        }
    }
    return 0;
oom:
    snprintf(err, ERR_LEN, "out of memory");
    return 2;
}

/* One bootstrap resample into (x, y); returns its point count and the drawn runs' mean R0. */
static int draw_resample(RunData *const *runs, int k, const Pool *p, uint64_t seed, long block, long b, double *x,
                         double *y, double *r0)
{
    int n = 0;
    *r0 = 0;
    for (int m = 0; m < k; m++) {
        int j = k == 1 ? 0 : (int)(rng_uniform(seed, STREAM_BOOT_RUNS, (uint64_t)b, (uint64_t)m) * k);
        if (j >= k) j = k - 1;
        const RunData *r = runs[j];
        /* R0 is one measurement too: redraw it from its own interval (read as a 95% normal
         * interval), so that the intervals of A, B and Cmid carry its uncertainty. */
        double r0_j = r->r0;
        if (isfinite(r->r0_lo) && isfinite(r->r0_hi) && r->r0_hi > r->r0_lo) {
            double u1 = rng_uniform(seed, STREAM_BOOT_R0, (uint64_t)b, 2 * (uint64_t)m);
            double u2 = rng_uniform(seed, STREAM_BOOT_R0, (uint64_t)b, 2 * (uint64_t)m + 1);
            double z = sqrt(-2 * log(u1 > 1e-300 ? u1 : 1e-300)) * cos(2 * M_PI * u2);
            r0_j += z * (r->r0_hi - r->r0_lo) / (2 * 1.959964);
        }
        *r0 += r0_j / k;
        /* Indices of run j's fitted points: blocks of L consecutive ones, each block's start
         * drawn uniformly with replacement (L = 1: single points, as the draw has always been). */
        int nf = p->n_fit[j];
        int L = block > 1 ? (block < nf ? (int)block : nf) : 1, start = 0;
        for (int t = 0; t < nf; t++) {
            if (t % L == 0) {
                start = (int)(rng_uniform(seed, STREAM_BOOT_POINTS, (uint64_t)b, ((uint64_t)m << 32) | (uint64_t)t) *
                              (nf - L + 1));
                if (start > nf - L) start = nf - L;
            }
            int pick = start + t % L;
            x[n] = r->pts[p->idx[j][pick]].x;
            y[n] = r->pts[p->idx[j][pick]].y;
            n++;
        }
    }
    return n;
}

static int bootstrap(RunData *const *runs, int k, const FitSettings *s, const SigmoidFitOpts *full, const Pool *p,
                     long boot, CurveFit *out, char *err)
{
    int with_pl = s->boot_powerlaw && out->has_pl;
    Sigmoid *all = malloc(sizeof(Sigmoid) * (size_t)boot);
    PowerLaw *pl_all = with_pl ? malloc(sizeof(PowerLaw) * (size_t)boot) : NULL;
    unsigned char *ok = calloc((size_t)boot, 1), *pl_ok = calloc((size_t)boot, 1);
    /* With several seeds a resample can draw the largest run k times. */
    int cap = 0;
    for (int j = 0; j < k; j++)
        if (p->n_fit[j] > cap) cap = p->n_fit[j];
    cap = cap * k + 1;
    if (!all || !ok || !pl_ok || (with_pl && !pl_all)) {
        free(all);
        free(pl_all);
        free(ok);
        free(pl_ok);
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    int oom = 0;
#pragma omp parallel
    {
        double *x = malloc(sizeof(double) * (size_t)cap), *y = malloc(sizeof(double) * (size_t)cap);
        if (!x || !y) {
#pragma omp atomic write
            oom = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (long b = 0; b < boot; b++) {
            if (!x || !y) continue;
            double r0;
            int n = draw_resample(runs, k, p, (uint64_t)s->boot_seed, s->boot_block, b, x, y, &r0);
            SigmoidFitOpts o;
            sigmoid_fit_coarse(&o);
            o.form = full->form;
            o.fit_r0 = full->fit_r0;
            o.fix_A = full->fix_A;
            o.A = full->A;
            o.R0 = r0;
            o.has_start = 1;
            o.start = out->sig.p;
            SigmoidFit f;
            char e[ERR_LEN];
            if (sigmoid_fit(x, y, n, &o, &f, e) == 0) {
                all[b] = f.p;
                ok[b] = 1;
            }
            PowerLawFit pf;
            if (with_pl && powerlaw_fit(x, y, n, &pf, e) == 0) {
                pl_all[b] = pf.p;
                pl_ok[b] = 1;
            }
        }
        free(x);
        free(y);
    }
    int m = 0, m_pl = 0;
    for (long b = 0; b < boot; b++) {
        if (ok[b]) all[m++] = all[b];
        if (with_pl && pl_ok[b]) pl_all[m_pl++] = pl_all[b];
    }
    free(ok);
    free(pl_ok);
    out->boot = all;
    out->boot_ok = m;
    out->pl_boot = pl_all;
    out->pl_boot_ok = m_pl;
    if (oom) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    out->has_ci = m >= FIT_MIN_BOOT && m >= FIT_MIN_BOOT_FRAC * (double)boot;
    if (!out->has_ci) return 0;
    double *v = malloc(sizeof(double) * (size_t)m);
    if (!v) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    double qlo = (1 - FIT_CI_LEVEL) / 2, qhi = 1 - qlo;
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < m; i++) v[i] = pass == 0 ? all[i].A : pass == 1 ? all[i].B : log(all[i].Cmid);
        qsort(v, (size_t)m, sizeof(double), cmp_double);
        double lo = quantile_sorted(v, m, qlo), hi = quantile_sorted(v, m, qhi);
        if (pass == 0) out->A_lo = lo, out->A_hi = hi;
        if (pass == 1) out->B_lo = lo, out->B_hi = hi;
        if (pass == 2) out->Cmid_lo = exp(lo), out->Cmid_hi = exp(hi);
    }
    free(v);
    return 0;
}

static void holdout_errors(RunData *const *runs, int k, const Pool *p, CurveFit *out)
{
    double sum = 0, mx = 0;
    int n = 0;
    for (int j = 0; j < k; j++) {
        for (int i = 0; i < runs[j]->n; i++) {
            if (p->role[j][i] != ROLE_LATE) continue;
            double e = fabs(runs[j]->pts[i].y - sigmoid_at(&out->sig.p, runs[j]->pts[i].x));
            sum += e;
            if (e > mx) mx = e;
            n++;
        }
    }
    out->hold_mae = n ? sum / n : NAN;
    out->hold_max = n ? mx : NAN;
    /* The paper's check is the forecast at the end of the budget: each run's last point, held out,
     * averaged over the runs (the seeds of a pooled fit). */
    double last = 0;
    int n_last = 0;
    for (int j = 0; j < k; j++) {
        const RunData *r = runs[j];
        if (!r->n || p->role[j][r->n - 1] != ROLE_LATE) continue;
        last += sigmoid_at(&out->sig.p, r->pts[r->n - 1].x) - r->pts[r->n - 1].y;
        n_last++;
    }
    out->hold_last = n_last ? last / n_last : NAN;
}

int curve_fit(RunData *const *runs, int k, const FitSettings *s, const double *fix_A, long boot, CurveFit *out,
              char *err)
{
    memset(out, 0, sizeof *out);
    out->k = k;
    out->hold_mae = out->hold_max = out->hold_last = NAN;
    Pool p;
    int rc = pool_build(runs, k, s, &p, out, err);
    if (rc) {
        pool_free(&p, k);
        return rc;
    }
    out->points = p.n;
    out->x_min = INFINITY;
    out->x_max = -INFINITY;
    out->y_best = -INFINITY;
    for (int i = 0; i < p.n; i++) {
        if (p.x[i] < out->x_min) out->x_min = p.x[i];
        if (p.x[i] > out->x_max) out->x_max = p.x[i];
        if (p.y[i] > out->y_best) out->y_best = p.y[i];
    }
    SigmoidFitOpts o;
    sigmoid_fit_defaults(&o);
    o.form = s->form;
    o.fit_r0 = s->fit_r0;
    o.R0 = p.r0;
    if (fix_A) {
        o.fix_A = 1;
        o.A = *fix_A;
        out->fixed_A = 1;
    }
    char e[ERR_LEN];
    rc = sigmoid_fit(p.x, p.y, p.n, &o, &out->sig, e);
    if (rc) {
        if (k == 1) snprintf(err, ERR_LEN, "%s: %s (%d excluded early, %d beyond fit_until)", runs[0]->dir, e,
                             out->excluded, out->holdout);
        else snprintf(err, ERR_LEN, "recipe '%s' (%d runs): %s", runs[0]->recipe, k, e);
        pool_free(&p, k);
        return rc;
    }
    if (!fix_A) {
        /* The power law needs the same checks the sigmoid passed, so it can only fail to converge. */
        out->has_pl = powerlaw_fit(p.x, p.y, p.n, &out->pl, e) == 0;
        if (out->has_pl && out->pl.p.A >= 1)
            snprintf(out->pl_warning, sizeof out->pl_warning, "power-law A=%.3f is at least 1%s", out->pl.p.A,
                     out->pl.A_at_bound ? " (at the search bound: unbounded)" : "");
        else if (out->has_pl && out->pl.p.A < out->y_best)
            snprintf(out->pl_warning, sizeof out->pl_warning, "power-law A=%.3f is below the best observed %.3f",
                     out->pl.p.A, out->y_best);
    }
    holdout_errors(runs, k, &p, out);
    if (boot > 0) rc = bootstrap(runs, k, s, &o, &p, boot, out, err);
    pool_free(&p, k);
    return rc;
}

void curve_free(CurveFit *c)
{
    free(c->boot);
    free(c->pl_boot);
    c->boot = NULL;
    c->pl_boot = NULL;
    c->boot_ok = c->pl_boot_ok = 0;
    c->has_ci = 0;
}

/* The percentile interval of the bootstrap curves at C: the sigmoids, or (pl) the power laws. */
static void boot_band(const CurveFit *c, int pl, double C, double *lo, double *hi)
{
    int m = pl ? c->pl_boot_ok : c->boot_ok;
    *lo = *hi = NAN;
    if (m < FIT_MIN_BOOT) return;
    double *v = malloc(sizeof(double) * (size_t)m);
    if (!v) return;
    for (int i = 0; i < m; i++) v[i] = pl ? powerlaw_at(&c->pl_boot[i], C) : sigmoid_at(&c->boot[i], C);
    qsort(v, (size_t)m, sizeof(double), cmp_double);
    *lo = quantile_sorted(v, m, (1 - FIT_CI_LEVEL) / 2);
    *hi = quantile_sorted(v, m, 1 - (1 - FIT_CI_LEVEL) / 2);
    free(v);
}

void curve_predict(const CurveFit *c, double C, double *R, double *lo, double *hi)
{
    *R = sigmoid_at(&c->sig.p, C);
    boot_band(c, 0, C, lo, hi);
}

void curve_predict_powerlaw(const CurveFit *c, double C, double *R, double *lo, double *hi)
{
    *R = c->has_pl ? powerlaw_at(&c->pl.p, C) : NAN;
    boot_band(c, 1, C, lo, hi);
}

void curve_target(const CurveFit *c, double R, TargetResult *t)
{
    memset(t, 0, sizeof *t);
    t->C = t->lo = t->hi = t->frac = NAN;
    t->reachable = sigmoid_compute_for(&c->sig.p, R, &t->C);
    if (!c->has_ci) return;
    double *v = malloc(sizeof(double) * (size_t)c->boot_ok);
    if (!v) return;
    int reach = 0;
    for (int i = 0; i < c->boot_ok; i++) {
        double C;
        if (sigmoid_compute_for(&c->boot[i], R, &C)) {
            v[i] = C;
            reach++;
        } else {
            v[i] = INFINITY; /* this resample's ceiling is below R */
        }
    }
    qsort(v, (size_t)c->boot_ok, sizeof(double), cmp_double);
    t->frac = (double)reach / c->boot_ok;
    t->lo = quantile_sorted(v, c->boot_ok, (1 - FIT_CI_LEVEL) / 2);
    t->hi = quantile_sorted(v, c->boot_ok, 1 - (1 - FIT_CI_LEVEL) / 2);
    free(v);
}

void curve_cutoffs(RunData *const *runs, int k, const FitSettings *s, CutoffRow *rows)
{
    static const double fracs[FIT_N_CUTOFFS] = {-1, 0, 0.01, 0.03, 0.1, 0.3};
    for (int c = 0; c < FIT_N_CUTOFFS; c++) {
        FitSettings t = *s;
        t.exclude_below = -1;
        t.exclude_frac = fracs[c];
        CutoffRow *row = &rows[c];
        memset(row, 0, sizeof *row);
        row->frac = fracs[c];
        CurveFit f;
        char err[ERR_LEN];
        if (curve_fit(runs, k, &t, NULL, 0, &f, err) == 0) {
            row->ok = 1;
            row->A = f.sig.p.A;
            row->B = f.sig.p.B;
            row->Cmid = f.sig.p.Cmid;
            row->pl_A = f.has_pl ? f.pl.p.A : NAN;
        }
        row->points = f.points;
        row->first_x = f.points ? f.x_min : NAN;
        curve_free(&f);
    }
}
