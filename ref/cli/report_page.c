#include "ref/cli/report_page.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/xml.h"
#include "ref/fit/plot.h"
#include "ref/fit/rundata.h"
#include "ref/rl/components.h"

/* Plain CSS: no font, image or script from anywhere else. The page reads the same without it. */
static const char *const page_style =
    "body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:1000px;margin:1.5em auto;padding:0 1em;"
    "line-height:1.45}\n"
    "h1{font-size:1.45em;margin-bottom:0.2em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.8em}\n"
    "table{border-collapse:collapse;font-size:0.88em;margin:0.6em 0}\n"
    "th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}th{white-space:nowrap}\n"
    "tr.differs td{background:#fff3df}tr.toy td{background:#f4f8ff}\n"
    "figure{margin:0.8em 0}figure svg{max-width:100%;height:auto;display:block}\n"
    "figcaption,p.note{font-size:0.85em;color:#555}\n"
    "div.grid{display:flex;flex-wrap:wrap;gap:8px}div.grid figure{margin:0;width:300px}\n"
    "code{font-family:Menlo,Consolas,monospace;font-size:0.92em}\n"
    "span.right{color:#1a7f37;font-weight:bold}span.wrong{color:#b3261e;font-weight:bold}\n"
    "ul.samples{list-style:none;margin:0;padding:0}\n";

void page_begin(FILE *f, const char *title)
{
    fprintf(f, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
               "<title>");
    xml_escape(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", page_style);
    xml_escape(f, title);
    fprintf(f, "</h1>\n");
}

void page_end(FILE *f)
{
    fprintf(f, "<p class=\"note\">Written by <code>scalerl report</code>: one file, no script, nothing fetched.</p>\n"
               "</body>\n</html>\n");
}

void page_text(FILE *f, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    xml_escape(f, buf);
}

void page_value_ci(FILE *f, const char *fmt, double v, int has_ci, double lo, double hi)
{
    char a[48], b[48], c[48];
    snprintf(a, sizeof a, fmt, v);
    if (!has_ci) {
        xml_escape(f, a);
        return;
    }
    snprintf(b, sizeof b, fmt, lo);
    snprintf(c, sizeof c, fmt, hi);
    page_text(f, "%s [%s, %s]", a, b, c);
}

/* ---- the fit table ---- */

enum { FR_POINTS, FR_A, FR_B, FR_CMID, FR_R0, FR_R2, FR_PL, FR_HOLD, FR_LAST, FR_N };

static void fit_cell(FILE *f, const CurveFit *c, int row, const char *xname)
{
    const Sigmoid *p = &c->sig.p;
    switch (row) {
    case FR_POINTS:
        page_text(f, "%d fitted, %d excluded early, %d held out; %s %.3g to %.3g", c->points, c->excluded, c->holdout,
                  xname, c->x_min, c->x_max);
        break;
    case FR_A:
        page_value_ci(f, "%.4f", p->A, c->has_ci, c->A_lo, c->A_hi);
        if (c->sig.A_at_bound) page_text(f, " (at the bound 1: the plateau is not in these points)");
        break;
    case FR_B: page_value_ci(f, "%.3f", p->B, c->has_ci, c->B_lo, c->B_hi); break;
    case FR_CMID: page_value_ci(f, "%.3g", p->Cmid, c->has_ci, c->Cmid_lo, c->Cmid_hi); break;
    case FR_R0: page_text(f, "%.4f", p->R0); break;
    case FR_R2: page_text(f, "%.4f", c->sig.r2); break;
    case FR_PL:
        if (c->has_pl) page_text(f, "A %.4f, r2 %.4f%s%s", c->pl.p.A, c->pl.r2, c->pl_warning[0] ? "; " : "", c->pl_warning);
        else page_text(f, "-");
        break;
    case FR_HOLD:
        if (c->holdout > 0) page_text(f, "mean |error| %.4f, max %.4f", c->hold_mae, c->hold_max);
        else page_text(f, "-");
        break;
    case FR_LAST:
        if (c->holdout > 0) page_text(f, "%+.4f", c->hold_last);
        else page_text(f, "-");
        break;
    }
}

void page_fit_table(FILE *f, const char *const *names, const CurveFit *const *fits, int n, const char *xname)
{
    static const char *const rows[FR_N] = {
        "points",
        "A, the ceiling",
        "B, the steepness",
        "Cmid, half the gain",
        "R0, the start",
        "R\xc2\xb2",
        "power law A - D C^-B",
        "held-out points",
        "error at the last point",
    };
    fprintf(f, "<table class=\"fit\">\n<tr><th></th>");
    for (int i = 0; i < n; i++) {
        fprintf(f, "<th>");
        xml_escape(f, names[i]);
        fprintf(f, "</th>");
    }
    fprintf(f, "</tr>\n");
    for (int r = 0; r < FR_N; r++) {
        fprintf(f, "<tr><th>");
        xml_escape(f, rows[r]);
        fprintf(f, "</th>");
        for (int i = 0; i < n; i++) {
            fprintf(f, "<td class=\"num\">");
            if (fits[i]) fit_cell(f, fits[i], r, xname);
            else fprintf(f, "-");
            fprintf(f, "</td>");
        }
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n<p class=\"note\">Intervals are 95%% bootstrap intervals. R0 is the step-0 eval's pass rate. "
               "The power law is fitted to the same points for comparison; the paper found its A unstable. Held-out "
               "points: the fit's prediction against the observed pass rate beyond its window (predicted minus "
               "observed at the last point). The Weibull form R = R0 + (A - R0) (1 - 2^-((C/Cmid)^B)) approaches "
               "its ceiling faster than the paper's log-logistic; where the two ceilings differ, the better R\xc2\xb2 "
               "and the plateau the points reach say which reading to trust (ref/fit/README.md).</p>\n");
}

/* ---- the recipe ---- */

void page_components(FILE *f, const TrainConfig *c)
{
    ComponentRow rows[N_COMPONENTS];
    components_describe(c, rows);
    fprintf(f, "<table class=\"recipe\">\n<tr><th>component</th><th>keys</th><th>this run</th><th>ScaleRL (paper)</th>"
               "<th></th></tr>\n");
    for (int i = 0; i < N_COMPONENTS; i++) {
        const ComponentRow *r = &rows[i];
        fprintf(f, "<tr class=\"%s\"><td>", r->match == COMP_SAME ? "same" : r->match == COMP_TOY_SCALE ? "toy" : "differs");
        xml_escape(f, r->component);
        fprintf(f, "</td><td><code>");
        xml_escape(f, r->keys);
        fprintf(f, "</code></td><td>");
        xml_escape(f, r->run);
        fprintf(f, "</td><td>");
        xml_escape(f, r->paper);
        fprintf(f, "</td><td>%s</td></tr>\n", comp_match_name(r->match));
    }
    fprintf(f, "</table>\n");
}

/* ---- training signals ---- */

typedef struct {
    const char *key;
    const char *kind;   /* rows it is read from */
    const char *title;
    const char *unless; /* left out when this other signal has data (a newer field replacing it) */
} Signal;

/* The fields shown, in this order, when a run has them (ref/rl/train.c writes them; README.md
 * describes each). Unknown fields are not shown: a chart needs a title that says what it is. */
static const Signal signals[] = {
    {"pass_rate", "eval", "validation pass rate", NULL},
    {"reward", "step", "reward (mean over the step's completions)", NULL},
    {"zero_var_frac", "step", "zero-variance share of the groups", NULL},
    {"retired_frac", "step", "retired share of the training prompts", NULL},
    {"prompts_retired", "step", "prompts retired (No-Positive-Resampling)", "retired_frac"},
    {"epoch", "step", "epoch over the training pool", NULL},
    {"entropy", "step", "entropy per token", NULL},
    {"clip_frac", "step", "clip fraction", NULL},
    {"mismatch_kl", "step", "mismatch KL, generator vs trainer", NULL},
    {"stale_mean", "step", "staleness (policy versions, mean)", NULL},
    {"multi_version_frac", "step", "completions spanning policy versions", NULL},
    {"len_mean", "step", "completion length (tokens)", NULL},
    {"interrupt_frac", "step", "interruption rate", NULL},
    {"truncate_frac", "step", "truncation rate", NULL},
    {"grad_norm", "step", "gradient norm (before clipping)", NULL},
    {"lr", "step", "learning rate", NULL},
    {"bad_steps", "step", "bad steps (count)", NULL},
    {"sim_time", "step", "simulated time", NULL},
    {"gen_util", "step", "generator utilization (threads)", NULL},
};
#define N_SIGNALS ((int)(sizeof signals / sizeof signals[0]))

int page_signals(FILE *f, const char *const *dirs, const int *colours, int n, const char *xname, char *err)
{
    const char *step_keys[N_SIGNALS], *eval_keys[N_SIGNALS];
    int ns = 0, ne = 0, rc = 0;
    for (int k = 0; k < N_SIGNALS; k++) {
        if (strcmp(signals[k].kind, "step") == 0) step_keys[ns++] = signals[k].key;
        else eval_keys[ne++] = signals[k].key;
    }
    RunColumns *steps = calloc((size_t)(n > 0 ? n : 1), sizeof *steps), *evals = calloc((size_t)(n > 0 ? n : 1), sizeof *evals);
    LineSeries *ls = calloc((size_t)(n > 0 ? n : 1), sizeof *ls);
    if (!steps || !evals || !ls) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    int loaded = 0;
    for (; loaded < n && !rc; loaded++) {
        rc = rundata_columns(dirs[loaded], "step", xname, step_keys, ns, &steps[loaded], err);
        if (!rc && (rc = rundata_columns(dirs[loaded], "eval", xname, eval_keys, ne, &evals[loaded], err)))
            rundata_columns_free(&steps[loaded]);
        if (rc) break;
    }
    /* The shared x range: every positive x of every column. */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < loaded; i++)
        for (int pass = 0; pass < 2; pass++) {
            const RunColumns *rcs = pass ? &evals[i] : &steps[i];
            for (int c = 0; c < rcs->n; c++)
                for (int p = 0; p < rcs->col[c].n; p++)
                    if (rcs->col[c].x[p] > 0) {
                        lo = fmin(lo, rcs->col[c].x[p]);
                        hi = fmax(hi, rcs->col[c].x[p]);
                    }
        }
    if (!rc && !(hi > lo)) fprintf(f, "<p class=\"note\">No step or eval rows with %s &gt; 0 to draw.</p>\n", "x");
    if (!rc && hi > lo) {
        fprintf(f, "<div class=\"grid\">\n");
        int si = 0, ei = 0;
        for (int k = 0; k < N_SIGNALS; k++) {
            int is_step = strcmp(signals[k].kind, "step") == 0;
            int idx = is_step ? si++ : ei++, any = 0, unless_has = 0;
            for (int i = 0; i < loaded; i++) {
                const RunColumns *rcs = is_step ? &steps[i] : &evals[i];
                ls[i] = (LineSeries){rcs->col[idx].x, rcs->col[idx].y, rcs->col[idx].n, colours[i], !is_step};
                any |= rcs->col[idx].n > 0;
                if (signals[k].unless)
                    for (int c = 0; c < steps[i].n; c++)
                        if (strcmp(steps[i].col[c].key, signals[k].unless) == 0 && steps[i].col[c].n > 0) unless_has = 1;
            }
            if (!any || unless_has) continue;
            char title[160];
            snprintf(title, sizeof title, "%s", signals[k].title);
            LineChart ch = {title, xname, lo, hi};
            /* Drawn into memory first: a chart with no point on the axis is left out. */
            char *svg = NULL;
            size_t len = 0;
            FILE *mem = open_memstream(&svg, &len);
            int drawn = mem ? plot_lines_svg(mem, &ch, ls, loaded) : 0;
            if (mem && fclose(mem) != 0) drawn = 0;
            if (drawn) {
                fprintf(f, "<figure class=\"signal\">\n");
                fwrite(svg, 1, len, f);
                fprintf(f, "<figcaption><code>%s</code> (%s rows)</figcaption>\n</figure>\n", signals[k].key,
                        signals[k].kind);
            }
            free(svg);
        }
        fprintf(f, "</div>\n");
    }
    for (int i = 0; i < loaded; i++) {
        rundata_columns_free(&steps[i]);
        rundata_columns_free(&evals[i]);
    }
    free(steps);
    free(evals);
    free(ls);
    return rc;
}
