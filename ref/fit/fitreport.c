#include "ref/fit/fitreport.h"

#include <math.h>
#include <string.h>

void report_value_ci(char *buf, size_t n, const char *fmt, double v, int has_ci, double lo, double hi)
{
    char a[48], b[48], c[48];
    snprintf(a, sizeof a, fmt, v);
    if (!has_ci) {
        snprintf(buf, n, "%s", a);
        return;
    }
    snprintf(b, sizeof b, fmt, lo);
    snprintf(c, sizeof c, fmt, hi);
    snprintf(buf, n, "%s [%s, %s]", a, b, c);
}

void report_table_header(FILE *f, const char *first)
{
    fprintf(f, "  %-24s %4s %4s %4s  %-25s %-22s %-30s %6s\n", first, "runs", "pts", "excl", "A [95% CI]", "B [95% CI]",
            "Cmid [95% CI]", "r2");
}

void report_table_row(FILE *f, const char *name, const CurveFit *c)
{
    char A[64], B[64], C[80];
    report_value_ci(A, sizeof A, "%.4f", c->sig.p.A, c->has_ci, c->A_lo, c->A_hi);
    report_value_ci(B, sizeof B, "%.3f", c->sig.p.B, c->has_ci, c->B_lo, c->B_hi);
    report_value_ci(C, sizeof C, "%.3g", c->sig.p.Cmid, c->has_ci, c->Cmid_lo, c->Cmid_hi);
    fprintf(f, "  %-24s %4d %4d %4d  %-25s %-22s %-30s %6.4f%s%s%s\n", name, c->k, c->points, c->excluded, A, B, C,
            c->sig.r2, c->sig.A_at_bound ? "  A at bound 1: no plateau in the data" : "",
            c->sig.B_unresolved ? "  B unresolved: under 2 points on the rise" : "",
            c->sig.Cmid_at_bound ? "  Cmid at a bound: the midpoint is not in the data" : "");
}

static void num_or_null(JsonWriter *w, const char *key, int has, double v)
{
    if (has) jw_num(w, key, v);
    else jw_null(w, key);
}

void report_curve_json(JsonWriter *w, const CurveFit *c, const FitSettings *s)
{
    const Sigmoid *p = &c->sig.p;
    jw_str(w, "x", s->x);
    jw_str(w, "y", s->y);
    jw_num(w, "A", p->A);
    jw_num(w, "B", p->B);
    jw_num(w, "Cmid", p->Cmid);
    jw_num(w, "R0", p->R0);
    jw_bool(w, "R0_fitted", s->fit_r0);
    num_or_null(w, "A_lo", c->has_ci, c->A_lo);
    num_or_null(w, "A_hi", c->has_ci, c->A_hi);
    num_or_null(w, "B_lo", c->has_ci, c->B_lo);
    num_or_null(w, "B_hi", c->has_ci, c->B_hi);
    num_or_null(w, "Cmid_lo", c->has_ci, c->Cmid_lo);
    num_or_null(w, "Cmid_hi", c->has_ci, c->Cmid_hi);
    jw_num(w, "level", FIT_CI_LEVEL);
    jw_int(w, "boot", s->boot);
    jw_int(w, "boot_block", s->boot_block > 1 ? s->boot_block : 1);
    jw_int(w, "boot_ok", c->boot_ok);
    jw_num(w, "r2", c->sig.r2);
    jw_num(w, "sse", c->sig.sse);
    jw_int(w, "points", c->points);
    jw_int(w, "excluded", c->excluded);
    jw_int(w, "holdout", c->holdout);
    jw_num(w, "x_min", c->x_min);
    jw_num(w, "x_max", c->x_max);
    jw_bool(w, "A_at_bound", c->sig.A_at_bound);
    jw_bool(w, "B_unresolved", c->sig.B_unresolved);
    jw_bool(w, "Cmid_at_bound", c->sig.Cmid_at_bound);
    if (s->fit_until > 0) jw_num(w, "fit_until", s->fit_until);
    else jw_null(w, "fit_until");
    if (s->fit_until_frac > 0) jw_num(w, "fit_until_frac", s->fit_until_frac);
    num_or_null(w, "holdout_mae", c->holdout > 0, c->hold_mae);
    num_or_null(w, "holdout_max", c->holdout > 0, c->hold_max);
    num_or_null(w, "holdout_last_error", c->holdout > 0, c->hold_last);
    num_or_null(w, "powerlaw_A", c->has_pl, c->pl.p.A);
    num_or_null(w, "powerlaw_B", c->has_pl, c->pl.p.B);
    num_or_null(w, "powerlaw_D", c->has_pl, c->pl.p.D);
    num_or_null(w, "powerlaw_r2", c->has_pl, c->pl.r2);
    num_or_null(w, "powerlaw_sse", c->has_pl, c->pl.sse);
    if (c->pl_warning[0]) jw_str(w, "powerlaw_warning", c->pl_warning);
    else jw_null(w, "powerlaw_warning");
}

void report_curve_text(FILE *f, const CurveFit *c, const FitSettings *s)
{
    char buf[128];
    const Sigmoid *p = &c->sig.p;
    fprintf(f, "  points %d fitted, %d excluded early, %d held out; fitted %s from %.4g to %.4g\n", c->points,
            c->excluded, c->holdout, s->x, c->x_min, c->x_max);
    report_value_ci(buf, sizeof buf, "%.4f", p->A, c->has_ci, c->A_lo, c->A_hi);
    fprintf(f, "  A     %s%s\n", buf, c->sig.A_at_bound ? "  (at the bound 1: the plateau is not in the data)" : "");
    report_value_ci(buf, sizeof buf, "%.4g", p->B, c->has_ci, c->B_lo, c->B_hi);
    fprintf(f, "  B     %s%s\n", buf,
            c->sig.B_unresolved ? "  (unresolved: under 2 fitted points between 10% and 90% of the gain)" : "");
    report_value_ci(buf, sizeof buf, "%.4g", p->Cmid, c->has_ci, c->Cmid_lo, c->Cmid_hi);
    fprintf(f, "  Cmid  %s%s\n", buf,
            c->sig.Cmid_at_bound ? "  (at a bound of the search, 3 decades beyond the points: the midpoint is not in the data)" : "");
    fprintf(f, "  R0    %.4f (%s)\n", p->R0, s->fit_r0 ? "fitted" : c->k > 1 ? "mean step-0 pass rate" : "step-0 pass rate");
    fprintf(f, "  r2 %.5f, sse %.4g", c->sig.r2, c->sig.sse);
    if (c->has_ci) {
        fprintf(f, ", intervals from %d of %ld bootstrap resamples", c->boot_ok, s->boot);
        if (s->boot_block > 1) fprintf(f, " in blocks of %ld points", s->boot_block);
    } else if (s->boot > 0) fprintf(f, ", no intervals: only %d of %ld resamples fitted", c->boot_ok, s->boot);
    fprintf(f, "\n");
    if (c->has_pl)
        fprintf(f, "  power law R = A - D*C^-B on the same points: A %.4f, B %.4g, D %.4g, r2 %.5f%s%s\n", c->pl.p.A,
                c->pl.p.B, c->pl.p.D, c->pl.r2, c->pl_warning[0] ? "; warning: " : "", c->pl_warning);
    if (c->holdout > 0)
        fprintf(f,
                "  held out beyond the fitted window: %d points, predicted vs observed mean |error| %.4f, max %.4f, "
                "at the last point %+.4f\n",
                c->holdout, c->hold_mae, c->hold_max, c->hold_last);
}

void report_cutoffs_text(FILE *f, const CutoffRow *rows, const char *xname)
{
    fprintf(f, "  A against the early cutoff (drop points below a fraction of the last fitted %s):\n", xname);
    fprintf(f, "    %-16s %6s %11s %8s %8s %10s %12s\n", "cutoff", "points", "first x", "A", "B", "Cmid", "power-law A");
    for (int i = 0; i < FIT_N_CUTOFFS; i++) {
        const CutoffRow *r = &rows[i];
        char name[32];
        if (r->frac < 0) snprintf(name, sizeof name, "default");
        else snprintf(name, sizeof name, "exclude_frac=%g", r->frac);
        if (!r->ok) {
            fprintf(f, "    %-16s %6d %11s %8s   (too few points to fit)\n", name, r->points, "-", "-");
            continue;
        }
        char pl[32];
        if (isfinite(r->pl_A)) snprintf(pl, sizeof pl, "%.4f", r->pl_A);
        else snprintf(pl, sizeof pl, "-");
        fprintf(f, "    %-16s %6d %11.4g %8.4f %8.4g %10.4g %12s\n", name, r->points, r->first_x, r->A, r->B, r->Cmid,
                pl);
    }
}

void report_cutoffs_json(JsonWriter *w, const CutoffRow *rows)
{
    double v[6][FIT_N_CUTOFFS];
    for (int i = 0; i < FIT_N_CUTOFFS; i++) {
        v[0][i] = rows[i].frac;
        v[1][i] = rows[i].points;
        v[2][i] = rows[i].ok ? rows[i].A : NAN;
        v[3][i] = rows[i].ok ? rows[i].B : NAN;
        v[4][i] = rows[i].ok ? rows[i].Cmid : NAN;
        v[5][i] = rows[i].ok ? rows[i].pl_A : NAN;
    }
    jw_num_array(w, "cutoff_frac", v[0], FIT_N_CUTOFFS);
    jw_num_array(w, "cutoff_points", v[1], FIT_N_CUTOFFS);
    jw_num_array(w, "cutoff_A", v[2], FIT_N_CUTOFFS);
    jw_num_array(w, "cutoff_B", v[3], FIT_N_CUTOFFS);
    jw_num_array(w, "cutoff_Cmid", v[4], FIT_N_CUTOFFS);
    jw_num_array(w, "cutoff_powerlaw_A", v[5], FIT_N_CUTOFFS);
}
