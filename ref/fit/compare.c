#include "ref/fit/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_group_A(const void *a, const void *b)
{
    const RecipeGroup *g = a, *h = b;
    double x = g->pooled.sig.p.A, y = h->pooled.sig.p.A;
    if (x != y) return (x < y) - (x > y);
    return strcmp(g->recipe, h->recipe);
}

int compare_load(CompareJob *j, const char *root, const FitSettings *fs, const char *baseline,
                 const SpreadFloors *floors, int skip_unfinished, const char *out, const char *cmd, char *err)
{
    memset(j, 0, sizeof *j);
    int rc = rundata_find(root, &j->dirs, &j->n_dirs, err);
    if (rc) return rc;
    /* Before the fits: a bad out= is the user's to fix whatever the runs hold (flat data, say). */
    if (out && out[0] && (rc = rundata_check_output(out, "out", (const char *const *)j->dirs, j->n_dirs, err)))
        return rc;
    if (!(j->runs = calloc((size_t)j->n_dirs, sizeof *j->runs))) goto oom;
    if ((rc = rundata_load_all(j->runs, (const char *const *)j->dirs, j->n_dirs, fs->x, fs->y, cmd, &j->n_runs, err)))
        return rc;
    /* A run still going (or stopped) ends earlier than its seeds: pooled, it pulls the fit toward
     * its shorter curve and its last point is not where the recipe ends. */
    int unfinished = 0;
    for (int i = 0; i < j->n_runs; i++) unfinished += !j->runs[i].finished;
    if (unfinished && skip_unfinished) {
        int kept = 0;
        for (int i = 0; i < j->n_runs; i++) {
            if (j->runs[i].finished) j->runs[kept++] = j->runs[i];
            else rundata_free(&j->runs[i]);
        }
        j->n_runs = kept;
        if (!kept) {
            snprintf(err, ERR_LEN, "no finished runs under '%s' (%d unfinished; unfinished=use compares them as they stand)",
                     root, unfinished);
            return 1;
        }
        fprintf(stderr, "scalerl %s: note: left out %d unfinished run(s) under %s (no closing \"run\" row)\n", cmd,
                unfinished, root);
    } else if (unfinished) {
        fprintf(stderr, "scalerl %s: note: %d run(s) under %s have no closing \"run\" row (unfinished, or not written "
                        "by scalerl train); compared as they stand (unfinished=skip leaves them out)\n",
                cmd, unfinished, root);
    }
    if ((rc = groups_build(j->runs, j->n_runs, &j->groups, &j->ng, err))) return rc;
    for (int g = 0; g < j->ng; g++)
        if ((rc = group_fit(&j->groups[g], fs, fs->boot, err))) return rc;
    qsort(j->groups, (size_t)j->ng, sizeof *j->groups, cmp_group_A);
    j->base = -1;
    for (int g = 0; g < j->ng; g++)
        if (strcmp(j->groups[g].recipe, baseline) == 0) j->base = g;
    if (j->base < 0) {
        int len = snprintf(err, ERR_LEN, "baseline recipe '%s' not found under '%s' (recipes there:", baseline, root);
        for (int g = 0; g < j->ng && len < ERR_LEN; g++)
            len += snprintf(err + len, (size_t)(ERR_LEN - len), " %s", j->groups[g].recipe);
        if (len < ERR_LEN) snprintf(err + len, (size_t)(ERR_LEN - len), "; set baseline=NAME)");
        return 1;
    }
    if (!(j->pc = calloc((size_t)j->ng, sizeof *j->pc))) goto oom;
    for (int g = 0; g < j->ng; g++) {
        if (g == j->base) continue;
        if ((rc = group_compare(&j->groups[j->base], &j->groups[g], fs, floors, &j->pc[g], err))) return rc;
    }
    return 0;
oom:
    snprintf(err, ERR_LEN, "out of memory");
    return 2;
}

void compare_free(CompareJob *j)
{
    groups_free(j->groups, j->ng);
    for (int i = 0; i < j->n_runs; i++) rundata_free(&j->runs[i]);
    free(j->runs);
    free(j->pc);
    rundata_free_list(j->dirs, j->n_dirs);
    memset(j, 0, sizeof *j);
}

/* What the runs reached, beside the fitted ceiling A. When A is extrapolated well past the data,
 * two recipes can differ in A through the shape of their bend while ending at the same height. */
double compare_last_mean(const RecipeGroup *gr, const FitSettings *s)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < gr->k; i++) {
        const int n = fit_n_until(gr->runs[i], s);
        if (n > 0) {
            sum += gr->runs[i]->pts[n - 1].y;
            k++;
        }
    }
    return k ? sum / k : NAN;
}

int compare_plot_build(const CompareJob *j, const FitSettings *fs, ComparePlot *p, char *err)
{
    memset(p, 0, sizeof *p);
    p->s = calloc((size_t)(j->n_runs + j->ng), sizeof *p->s);
    p->roles = calloc((size_t)(j->n_runs > 0 ? j->n_runs : 1), sizeof *p->roles);
    p->labels = calloc((size_t)(j->ng > 0 ? j->ng : 1), sizeof *p->labels);
    p->n_runs = j->n_runs;
    if (!p->s || !p->roles || !p->labels) goto oom;
    for (int g = 0; g < j->ng; g++) {
        const RecipeGroup *gr = &j->groups[g];
        for (int m = 0; m < gr->k; m++) {
            int idx = (int)(gr->runs[m] - j->runs);
            int nf, ne, nl;
            if (!(p->roles[idx] = malloc((size_t)gr->runs[m]->n + 1))) goto oom;
            fit_window(gr->runs[m], fs, p->roles[idx], &nf, &ne, &nl);
            p->s[p->n++] = (PlotSeries){.color = g, .pts = gr->runs[m]->pts, .n = gr->runs[m]->n, .role = p->roles[idx]};
        }
        snprintf(p->labels[g], sizeof p->labels[g], "%s (%d seed%s)%s", gr->recipe, gr->k, gr->k > 1 ? "s" : "",
                 g == j->base ? ", baseline" : "");
        p->s[p->n] = (PlotSeries){.label = p->labels[g], .color = g};
        plot_series_fit(&p->s[p->n++], &gr->pooled);
    }
    return 0;
oom:
    snprintf(err, ERR_LEN, "out of memory");
    return 2;
}

void compare_plot_free(ComparePlot *p)
{
    if (p->roles)
        for (int i = 0; i < p->n_runs; i++) free(p->roles[i]);
    free(p->roles);
    free(p->labels);
    free(p->s);
    memset(p, 0, sizeof *p);
}
