/* scalerl plot: runs' eval points and fitted curves as one SVG, plus a text preview on stdout.
 * A run that cannot be fitted (too few points, flat) is drawn without a curve, with a note. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/fit/fitgroup.h"
#include "ref/fit/plot.h"
#include "ref/common/util.h"

typedef struct {
    FitSettings fs;
    char out[OPT_STR_LEN];
    int by;
    char title[OPT_STR_LEN];
    long preview;
} PlotConfig;

static const OptSpec plot_opts[] = {
    FIT_SETTINGS_OPTS(PlotConfig, fs),
    {"out", OPT_STR, offsetof(PlotConfig, out), "curve.svg", 0, 0, NULL, "SVG file to write"},
    {"by", OPT_CHOICE, offsetof(PlotConfig, by), "run", 0, 0, "run|recipe",
     "one colour and curve per run, or per recipe (seeds pooled)"},
    {"title", OPT_STR, offsetof(PlotConfig, title), "pass rate against compute", 0, 0, NULL, "title of the plot"},
    {"preview", OPT_INT, offsetof(PlotConfig, preview), "1", 0, 1, NULL, "1: print a text preview on stdout"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

typedef struct {
    RunData *runs;
    int n_runs;
    unsigned char **roles; /* per run */
    CurveFit *fits;        /* per curve: runs (by=run) or recipes (by=recipe) */
    int n_fits;
    RecipeGroup *groups;
    int ng;
    PlotSeries *series;
    int n_series;
    char (*labels)[300];
} PlotJob;

static void job_free(PlotJob *j)
{
    for (int i = 0; i < j->n_fits; i++) curve_free(&j->fits[i]);
    free(j->fits);
    groups_free(j->groups, j->ng);
    if (j->roles)
        for (int i = 0; i < j->n_runs; i++) free(j->roles[i]);
    free(j->roles);
    for (int i = 0; i < j->n_runs; i++) rundata_free(&j->runs[i]);
    free(j->runs);
    free(j->series);
    free(j->labels);
}

/* Fits one curve; a failure to fit is a note, not an error (the points are still drawn). */
static int fit_or_note(RunData **runs, int k, const PlotConfig *c, const char *name, CurveFit *f, PlotSeries *s,
                       char *err)
{
    char e[ERR_LEN];
    int rc = curve_fit(runs, k, &c->fs, NULL, c->fs.boot, f, e);
    if (rc == 2) {
        snprintf(err, ERR_LEN, "%s", e);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "scalerl plot: note: %s drawn without a curve: %s\n", name, e);
        return 0;
    }
    plot_series_fit(s, f);
    return 0;
}

static int build_series(PlotJob *j, const PlotConfig *c, char *err)
{
    int rc;
    int n = j->n_runs;
    j->roles = calloc((size_t)n, sizeof *j->roles);
    j->series = calloc((size_t)(2 * n), sizeof *j->series);
    j->labels = calloc((size_t)(2 * n), sizeof *j->labels);
    j->fits = calloc((size_t)n, sizeof *j->fits);
    if (!j->roles || !j->series || !j->labels || !j->fits) goto oom;
    for (int i = 0; i < n; i++) {
        int nf, ne, nl;
        if (!(j->roles[i] = malloc((size_t)j->runs[i].n + 1))) goto oom;
        fit_window(&j->runs[i], &c->fs, j->roles[i], &nf, &ne, &nl);
    }
    if (c->by == 0) {
        for (int i = 0; i < n; i++) {
            PlotSeries *s = &j->series[j->n_series++];
            RunData *r = &j->runs[i];
            snprintf(j->labels[i], sizeof j->labels[i], "%s", r->dir);
            s->label = j->labels[i];
            s->color = i;
            s->pts = r->pts;
            s->n = r->n;
            s->role = j->roles[i];
            if ((rc = fit_or_note(&r, 1, c, r->dir, &j->fits[j->n_fits++], s, err))) return rc;
        }
        return 0;
    }
    if ((rc = groups_build(j->runs, n, &j->groups, &j->ng, err))) return rc;
    for (int g = 0; g < j->ng; g++) {
        RecipeGroup *gr = &j->groups[g];
        for (int m = 0; m < gr->k; m++) {
            PlotSeries *s = &j->series[j->n_series++];
            int idx = (int)(gr->runs[m] - j->runs);
            s->color = g;
            s->pts = gr->runs[m]->pts;
            s->n = gr->runs[m]->n;
            s->role = j->roles[idx];
        }
        PlotSeries *s = &j->series[j->n_series++];
        snprintf(j->labels[g], sizeof j->labels[g], "%s (%d run%s)", gr->recipe, gr->k, gr->k > 1 ? "s" : "");
        s->label = j->labels[g];
        s->color = g;
        if ((rc = fit_or_note(gr->runs, gr->k, c, gr->recipe, &j->fits[j->n_fits++], s, err))) return rc;
    }
    return 0;
oom:
    snprintf(err, ERR_LEN, "out of memory");
    return 2;
}

int cmd_plot(int argc, char **argv)
{
    static const CommandSpec spec = {
        "plot",
        "usage: scalerl plot RUN_DIR... [out=curve.svg] [key=value ...]\n\n"
        "Draws each run's eval points (filled: fitted, hollow: excluded or held out) with their\n"
        "intervals, the fitted sigmoid (solid over the fitted range, dashed beyond, shaded 95%\n"
        "bootstrap band) and its ceiling A, as a self-contained SVG; prints a text preview.\n",
        plot_opts, CMD_POSITIONAL, NULL};
    char err[ERR_LEN];
    Args a;
    PlotConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if ((rc = fit_settings_check(&c.fs, err))) return report_error("plot", rc, err);
    if (a.n_pos == 0) return report_error("plot", 1, "no run directory given (usage: scalerl plot RUN_DIR... out=F.svg)");
    PlotJob j = {0};
    if (!(j.runs = calloc((size_t)a.n_pos, sizeof *j.runs))) return report_error("plot", 2, "out of memory");
    rc = rundata_check_output(c.out, "out", a.pos, a.n_pos, err);
    if (!rc) rc = rundata_load_all(j.runs, a.pos, a.n_pos, c.fs.x, c.fs.y, "plot", &j.n_runs, err);
    if (!rc) rc = build_series(&j, &c, err);
    if (!rc) rc = plot_svg(c.out, j.series, j.n_series, c.fs.x, c.title, err);
    if (!rc && c.preview) {
        plot_text(stdout, j.series, j.n_series, c.fs.x, 72, 18);
        printf("wrote %s\n", c.out);
        rc = flush_stdout(err);
    }
    job_free(&j);
    return rc ? report_error("plot", rc, err) : 0;
}
