/* scalerl fit: the sigmoid (and, beside it, the power law) fitted to the eval rows of runs, with
 * bootstrap intervals, forecasts, the sensitivity of A to the early cutoff, and, for several
 * runs, a table of recipes sorted by A. Writes RUN/fit.json for every run; nothing is written
 * unless every fit succeeded. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/fit/fitgroup.h"
#include "ref/fit/fitreport.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"

#define MAX_PREDICT 64

typedef struct {
    FitSettings fs;
    int form;
    char predict[OPT_STR_LEN];
    double target;
    long json;
    long cutoffs;
    long save;
    SpreadFloors floors;
} FitConfig;

static const OptSpec fit_opts[] = {
    FIT_SETTINGS_OPTS(FitConfig, fs),
    {"form", OPT_CHOICE, offsetof(FitConfig, form), "loglogistic", 0, 0, "loglogistic|weibull",
     "the curve: the paper's log-logistic, or the Weibull form, which reaches its ceiling faster (ref/fit/README.md)"},
    {"predict", OPT_STR, offsetof(FitConfig, predict), "", 0, 0, NULL,
     "comma-separated x values at which to forecast the pass rate"},
    {"target", OPT_FLOAT, offsetof(FitConfig, target), "-1", -1, 1, NULL,
     "pass rate whose required x to forecast (-1: none)"},
    {"json", OPT_INT, offsetof(FitConfig, json), "0", 0, 1, NULL, "1: JSON lines on stdout instead of tables"},
    {"cutoffs", OPT_INT, offsetof(FitConfig, cutoffs), "1", 0, 1, NULL,
     "1: show how A moves with the early cutoff"},
    {"save", OPT_INT, offsetof(FitConfig, save), "1", 0, 1, NULL,
     "1: write RUN_DIR/fit.json; 0: only print (e.g. a fit_until check beside the saved fit)"},
    SPREAD_FLOORS_OPTS(FitConfig, floors),
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* Everything shown about one curve (a run, or a recipe's pooled seeds). */
typedef struct {
    CurveFit *fit; /* not owned */
    CutoffRow cut[FIT_N_CUTOFFS];
    double pR[MAX_PREDICT], plo[MAX_PREDICT], phi[MAX_PREDICT];
    TargetResult target;
} Analysis;

static int parse_predict(const char *s, double *v, int *n, char *err)
{
    *n = 0;
    if (!s[0]) return 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !isfinite(x) || x <= 0 || (*end != ',' && *end != 0)) {
            snprintf(err, ERR_LEN, "bad value '%.80s' for 'predict': expected comma-separated x values > 0", s);
            return 1;
        }
        if (*n >= MAX_PREDICT) {
            snprintf(err, ERR_LEN, "too many values for 'predict': at most %d", MAX_PREDICT);
            return 1;
        }
        v[(*n)++] = x;
        if (*end == 0) return 0;
        p = end + 1;
    }
}

static void analyse(Analysis *an, CurveFit *fit, RunData *const *runs, int k, const FitConfig *c,
                    const double *pred, int n_pred)
{
    memset(an, 0, sizeof *an);
    an->fit = fit;
    if (c->cutoffs) curve_cutoffs(runs, k, &c->fs, an->cut);
    for (int i = 0; i < n_pred; i++) curve_predict(fit, pred[i], &an->pR[i], &an->plo[i], &an->phi[i]);
    if (c->target >= 0) curve_target(fit, c->target, &an->target);
}

static void analysis_json(JsonWriter *w, const Analysis *an, const FitConfig *c, const double *pred, int n_pred)
{
    report_curve_json(w, an->fit, &c->fs);
    if (n_pred) {
        jw_num_array(w, "predict_x", pred, n_pred);
        jw_num_array(w, "predict_R", an->pR, n_pred);
        jw_num_array(w, "predict_lo", an->plo, n_pred);
        jw_num_array(w, "predict_hi", an->phi, n_pred);
    }
    if (c->target >= 0) {
        jw_num(w, "target", c->target);
        jw_bool(w, "target_reachable", an->target.reachable);
        jw_num(w, "target_x", an->target.C); /* null when unreachable */
        jw_num(w, "target_x_lo", an->target.lo);
        jw_num(w, "target_x_hi", an->target.hi); /* null: beyond every resample's reach */
        jw_num(w, "target_reach_frac", an->target.frac);
    }
    if (c->cutoffs) report_cutoffs_json(w, an->cut);
}

static void analysis_text(FILE *f, const Analysis *an, const FitConfig *c, const double *pred, int n_pred)
{
    const CurveFit *fit = an->fit;
    report_curve_text(f, fit, &c->fs);
    if (c->cutoffs) report_cutoffs_text(f, an->cut, c->fs.x);
    if (!n_pred && c->target < 0) return;
    fprintf(f, "  forecast%s:\n", fit->has_ci ? " (95% bootstrap intervals)" : "");
    for (int i = 0; i < n_pred; i++) {
        char buf[96];
        report_value_ci(buf, sizeof buf, "%.4f", an->pR[i], fit->has_ci, an->plo[i], an->phi[i]);
        fprintf(f, "    at %s=%.4g: pass rate %s%s\n", c->fs.x, pred[i], buf,
                pred[i] > fit->x_max ? " (extrapolated)" : "");
    }
    if (c->target >= 0) {
        const TargetResult *t = &an->target;
        if (t->reachable) {
            char hi[32];
            if (isfinite(t->hi)) snprintf(hi, sizeof hi, "%.3g", t->hi);
            else snprintf(hi, sizeof hi, "never");
            if (fit->has_ci)
                fprintf(f, "    to reach %.4f: %s=%.4g [%.3g, %s] (%.0f%% of resamples reach it)\n", c->target, c->fs.x,
                        t->C, t->lo, hi, 100 * t->frac);
            else fprintf(f, "    to reach %.4f: %s=%.4g\n", c->target, c->fs.x, t->C);
        } else if ((c->target - fit->sig.p.R0) * (fit->sig.p.A - fit->sig.p.R0) <= 0) {
            fprintf(f, "    %.4f is not above the starting pass rate R0=%.4f: reached at the start\n", c->target,
                    fit->sig.p.R0);
        } else {
            fprintf(f, "    %.4f lies at or above the fitted ceiling A=%.4f: not reachable on this curve", c->target,
                    fit->sig.p.A);
            if (fit->has_ci) fprintf(f, " (%.0f%% of resamples reach it)", 100 * t->frac);
            fprintf(f, "\n");
        }
    }
}

static int write_fit_json(const RunData *r, const Analysis *an, const FitConfig *c, const double *pred, int n_pred,
                          char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/fit.json", r->dir);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    jw_str(&w, "dir", r->dir);
    jw_str(&w, "recipe", r->recipe);
    if (r->has_seed) jw_int(&w, "seed", r->seed);
    else jw_null(&w, "seed");
    jw_str(&w, "model", form_formula(c->fs.form));
    jw_str(&w, "form", form_name(c->fs.form));
    analysis_json(&w, an, c, pred, n_pred);
    rc = jw_end(&w, af.f, err);
    jw_free(&w);
    if (rc) {
        atomic_abort(&af);
        return rc;
    }
    return atomic_commit(&af, err);
}

static int cmp_group_A(const void *a, const void *b)
{
    const RecipeGroup *g = a, *h = b;
    double x = g->pooled.sig.p.A, y = h->pooled.sig.p.A;
    if (x != y) return (x < y) - (x > y);
    return strcmp(g->recipe, h->recipe);
}

static void print_pair(FILE *f, const RecipeGroup *a, const RecipeGroup *b, const PairCompare *pc)
{
    double dB, mB;
    pair_B_percent(pc, &dB, &mB);
    fprintf(f, "  %s vs %s: the same ceiling (dA %+.4f, margin %.4f; Weibull form %+.4f, margin %.4f); at A=%.4f: "
               "B %.4g vs %.4g (%+.1f%%, margin %.1f%%), Cmid %.4g vs %.4g (%+.3f decades, margin %.3f): %s\n",
            b->recipe, a->recipe, pc->dA, pc->margin_A, pc->dA_weibull, pc->margin_A_weibull, pc->A_star, pc->B[1], pc->B[0],
            dB, mB, pc->Cmid[1], pc->Cmid[0], pc->dlgC,
            pc->margin_lgC,
            pc->verdict == VERDICT_EFFICIENCY ? "they differ in efficiency" : "no difference beyond the spread");
}

static void pair_json(JsonWriter *w, const RecipeGroup *a, const RecipeGroup *b, const PairCompare *pc)
{
    jw_begin(w);
    jw_str(w, "kind", "pair");
    jw_str(w, "recipe", b->recipe);
    jw_str(w, "other", a->recipe);
    jw_num(w, "dA", pc->dA);
    jw_num(w, "margin_A", pc->margin_A);
    jw_num(w, "dA_weibull", pc->dA_weibull);
    jw_num(w, "margin_A_weibull", pc->margin_A_weibull);
    jw_str(w, "ceiling_reading", reading_name(pc->reading));
    jw_num(w, "dP", pc->dP);
    jw_num(w, "A_common", pc->A_star);
    jw_num(w, "B", pc->B[1]);
    jw_num(w, "B_other", pc->B[0]);
    jw_num(w, "Cmid", pc->Cmid[1]);
    jw_num(w, "Cmid_other", pc->Cmid[0]);
    jw_num(w, "dlnB", pc->dlnB);
    jw_num(w, "margin_lnB", pc->margin_lnB);
    jw_num(w, "dlog10_Cmid", pc->dlgC);
    jw_num(w, "margin_log10_Cmid", pc->margin_lgC);
    jw_str(w, "verdict", verdict_name(pc->verdict));
}

typedef struct {
    RunData *runs;
    int n_runs;
    CurveFit *fits;
    Analysis *an;
    RecipeGroup *groups;
    int ng;
    Analysis *gan;
    PairCompare *pairs; /* ng x ng, [i * ng + j] for i < j */
    unsigned char *pair_ok;
} FitJob;

static void job_free(FitJob *j)
{
    if (j->fits)
        for (int i = 0; i < j->n_runs; i++) curve_free(&j->fits[i]);
    free(j->fits);
    free(j->an);
    groups_free(j->groups, j->ng);
    free(j->gan);
    free(j->pairs);
    free(j->pair_ok);
    if (j->runs)
        for (int i = 0; i < j->n_runs; i++) rundata_free(&j->runs[i]);
    free(j->runs);
}

static int run_fits(FitJob *j, const FitConfig *c, const double *pred, int n_pred, char *err)
{
    int rc;
    for (int i = 0; i < j->n_runs; i++) {
        RunData *r = &j->runs[i];
        if ((rc = curve_fit(&r, 1, &c->fs, NULL, c->fs.boot, &j->fits[i], err))) return rc;
        analyse(&j->an[i], &j->fits[i], &r, 1, c, pred, n_pred);
    }
    if (j->n_runs < 2) return 0;
    if ((rc = groups_build(j->runs, j->n_runs, &j->groups, &j->ng, err))) return rc;
    for (int g = 0; g < j->ng; g++)
        if ((rc = group_fit(&j->groups[g], &c->fs, c->fs.boot, err))) return rc;
    qsort(j->groups, (size_t)j->ng, sizeof *j->groups, cmp_group_A);
    j->gan = calloc((size_t)j->ng, sizeof *j->gan);
    j->pairs = calloc((size_t)j->ng * (size_t)j->ng, sizeof *j->pairs);
    j->pair_ok = calloc((size_t)j->ng * (size_t)j->ng, 1);
    if (!j->gan || !j->pairs || !j->pair_ok) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    /* The comparison reads the log-logistic with the Weibull form beside it (ref/fit/fitgroup.h);
     * fitted in the Weibull form, the groups hold that form twice and the pairs would read it twice
     * under two names, so under form=weibull the recipes are tabled but not compared. */
    const int compare_pairs = c->fs.form == FORM_LOGLOGISTIC;
    for (int g = 0; g < j->ng; g++) {
        RecipeGroup *gr = &j->groups[g];
        analyse(&j->gan[g], &gr->pooled, gr->runs, gr->k, c, pred, n_pred);
        for (int h = 0; h < g && compare_pairs; h++) {
            PairCompare *pc = &j->pairs[h * j->ng + g];
            if ((rc = group_compare(&j->groups[h], gr, &c->fs, &c->floors, pc, err))) return rc;
            /* The paper's rule: only recipes of the same ceiling are compared on B (the ceiling read
             * in both forms, ref/fit/fitgroup.h). */
            j->pair_ok[h * j->ng + g] = pc->verdict != VERDICT_CEILING;
        }
    }
    return 0;
}

static void print_text(const FitJob *j, const FitConfig *c, const double *pred, int n_pred)
{
    printf("fit of R = %s with C = %s, R = %s\n", form_formula(c->fs.form), c->fs.x, c->fs.y);
    if (j->n_runs == 1) {
        const RunData *r = &j->runs[0];
        printf("run %s (recipe %s", r->dir, r->recipe);
        if (r->has_seed) printf(", seed %ld", r->seed);
        printf(")\n");
        analysis_text(stdout, &j->an[0], c, pred, n_pred);
        return;
    }
    printf("runs:\n");
    report_table_header(stdout, "run");
    for (int i = 0; i < j->n_runs; i++) report_table_row(stdout, j->runs[i].dir, &j->fits[i]);
    printf("recipes, sorted by A (several seeds pooled; intervals resample seeds, then points):\n");
    report_table_header(stdout, "recipe");
    for (int g = 0; g < j->ng; g++) report_table_row(stdout, j->groups[g].recipe, &j->groups[g].pooled);
    if (j->ng > 1 && c->fs.form != FORM_LOGLOGISTIC)
        printf("recipes are compared in the default form only (the log-logistic, with the Weibull form's reading "
               "beside it): rerun without form=weibull, or use scalerl compare\n");
    int any = 0;
    for (int g = 0; g < j->ng; g++)
        for (int h = 0; h < g; h++) {
            if (!j->pair_ok[h * j->ng + g]) continue;
            if (!any++) printf("recipes of the same ceiling (ref/fit/fitgroup.h), refitted at their mean A:\n");
            print_pair(stdout, &j->groups[h], &j->groups[g], &j->pairs[h * j->ng + g]);
        }
    for (int g = 0; g < j->ng; g++) {
        const RecipeGroup *gr = &j->groups[g];
        printf("recipe %s (%d run%s%s):\n", gr->recipe, gr->k, gr->k > 1 ? "s" : "", gr->k > 1 ? ", pooled" : "");
        if (gr->k > 1)
            printf("  seed spread (max deviation from the seeds' mean): A %.4f, B %.1f%%, Cmid %.3f decades\n",
                   gr->spread_A, 100 * (exp(gr->spread_lnB) - 1), gr->spread_lgC);
        analysis_text(stdout, &j->gan[g], c, pred, n_pred);
    }
}

static int print_json(const FitJob *j, const FitConfig *c, const double *pred, int n_pred, char *err)
{
    JsonWriter w;
    jw_init(&w);
    int rc = 0;
    for (int i = 0; i < j->n_runs && !rc; i++) {
        const RunData *r = &j->runs[i];
        jw_begin(&w);
        jw_str(&w, "kind", "run");
        jw_str(&w, "dir", r->dir);
        jw_str(&w, "recipe", r->recipe);
        if (r->has_seed) jw_int(&w, "seed", r->seed);
        else jw_null(&w, "seed");
        jw_str(&w, "form", form_name(c->fs.form));
        analysis_json(&w, &j->an[i], c, pred, n_pred);
        rc = jw_end(&w, stdout, err);
    }
    for (int g = 0; g < j->ng && !rc; g++) {
        const RecipeGroup *gr = &j->groups[g];
        jw_begin(&w);
        jw_str(&w, "kind", "recipe");
        jw_str(&w, "recipe", gr->recipe);
        jw_int(&w, "runs", gr->k);
        jw_str(&w, "form", form_name(c->fs.form));
        jw_num(&w, "spread_A", gr->spread_A);
        jw_num(&w, "spread_lnB", gr->spread_lnB);
        jw_num(&w, "spread_log10_Cmid", gr->spread_lgC);
        analysis_json(&w, &j->gan[g], c, pred, n_pred);
        rc = jw_end(&w, stdout, err);
    }
    for (int g = 0; g < j->ng && !rc; g++)
        for (int h = 0; h < g && !rc; h++) {
            if (!j->pair_ok[h * j->ng + g]) continue;
            pair_json(&w, &j->groups[h], &j->groups[g], &j->pairs[h * j->ng + g]);
            rc = jw_end(&w, stdout, err);
        }
    jw_free(&w);
    return rc;
}

int cmd_fit(int argc, char **argv)
{
    static const CommandSpec spec = {
        "fit",
        "usage: scalerl fit RUN_DIR... [key=value ...]\n\n"
        "Fits R(C) = R0 + (A - R0) / (1 + (Cmid/C)^B) (form=weibull: R0 + (A - R0) (1 - 2^-((C/Cmid)^B)))\n"
        "to the eval rows of each run (and of each recipe's seeds pooled), with bootstrap\n"
        "intervals and a power law beside it; writes RUN_DIR/fit.json. See README, \"Fitting curves\".\n",
        fit_opts, CMD_POSITIONAL, NULL};
    char err[ERR_LEN];
    Args a;
    FitConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if ((rc = fit_settings_check(&c.fs, err))) return report_error("fit", rc, err);
    c.fs.form = c.form == 1 ? FORM_WEIBULL : FORM_LOGLOGISTIC;
    double pred[MAX_PREDICT];
    int n_pred;
    if ((rc = parse_predict(c.predict, pred, &n_pred, err))) return report_error("fit", rc, err);
    if (a.n_pos == 0) return report_error("fit", 1, "no run directory given (usage: scalerl fit RUN_DIR... [key=value ...])");

    FitJob j = {0};
    j.runs = calloc((size_t)a.n_pos, sizeof *j.runs);
    j.fits = calloc((size_t)a.n_pos, sizeof *j.fits);
    j.an = calloc((size_t)a.n_pos, sizeof *j.an);
    if (!j.runs || !j.fits || !j.an) {
        job_free(&j);
        return report_error("fit", 2, "out of memory");
    }
    rc = rundata_load_all(j.runs, a.pos, a.n_pos, c.fs.x, c.fs.y, "fit", &j.n_runs, err);
    if (!rc) rc = run_fits(&j, &c, pred, n_pred, err);
    for (int i = 0; i < j.n_runs && !rc && c.save; i++) rc = write_fit_json(&j.runs[i], &j.an[i], &c, pred, n_pred, err);
    if (!rc) {
        if (c.json) rc = print_json(&j, &c, pred, n_pred, err);
        else print_text(&j, &c, pred, n_pred);
    }
    if (!rc) rc = flush_stdout(err);
    job_free(&j);
    return rc ? report_error("fit", rc, err) : 0;
}
