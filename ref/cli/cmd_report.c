/* scalerl report: one HTML page a person would rather look at than read. For a run directory:
 * the fitted curve with its band, the half-budget forecast and the fit table; the recipe beside
 * the paper's; the training signals over compute; and what RL changed, the same validation
 * prompts answered by the base model and by the final checkpoint. For a sweep directory (runs
 * under it): compare's table with its verdicts, the curves overlaid, and the signals of every run.
 * The pieces of the page are ref/cli/report_page.h's. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/model.h"
#include "ref/cli/commands.h"
#include "ref/cli/report_page.h"
#include "ref/common/args.h"
#include "ref/common/util.h"
#include "ref/common/xml.h"
#include "ref/fit/compare.h"
#include "ref/fit/plot.h"
#include "ref/rl/evaluate.h"
#include "ref/rl/runfiles.h"
#include "tasks/tasks.h"

typedef struct {
    FitSettings fs;
    char out[OPT_STR_LEN];
    long prompts, samples, threads;
    char baseline[OPT_STR_LEN];
    SpreadFloors floors;
} ReportConfig;

static const OptSpec report_opts[] = {
    FIT_SETTINGS_OPTS(ReportConfig, fs),
    {"out", OPT_STR, offsetof(ReportConfig, out), "", 0, 0, NULL, "HTML file to write (empty: DIR/report.html)"},
    {"prompts", OPT_INT, offsetof(ReportConfig, prompts), "6", 0, 100, NULL,
     "validation prompts shown answered by the base model and the final checkpoint (0: none)"},
    {"samples", OPT_INT, offsetof(ReportConfig, samples), "0", 0, 64, NULL,
     "completions per prompt (0: the run's eval_samples, which shows the evals' own draws)"},
    {"threads", OPT_INT, offsetof(ReportConfig, threads), "0", 0, 1024, NULL, "threads for sampling (0: all cores)"},
    {"baseline", OPT_STR, offsetof(ReportConfig, baseline), "scalerl", 0, 0, NULL,
     "sweep: the recipe the others are compared against"},
    SPREAD_FLOORS_OPTS(ReportConfig, floors),
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- a run: the curve ---- */

/* Fits r with settings fs; a curve that cannot be fitted is a note (*ok = 0), not an error. */
static int fit_or_note(RunData *r, const FitSettings *fs, CurveFit *fit, int *ok, char *note, char *err)
{
    int rc = curve_fit(&r, 1, fs, NULL, fs->boot, fit, note);
    *ok = rc == 0;
    if (rc == 2) snprintf(err, ERR_LEN, "%s", note);
    return rc == 2 ? 2 : 0;
}

static void curve_series(PlotSeries *s, const char *label, int color, const RunData *r, const unsigned char *role,
                         const CurveFit *fit, int ok)
{
    *s = (PlotSeries){.label = label, .color = color, .pts = r->pts, .n = r->n, .role = role};
    if (ok) plot_series_fit(s, fit);
}

/* A plot with its caption, drawn into memory first: a figure with nothing to draw is a note. */
static void figure(FILE *f, const PlotSeries *s, int n, const char *xname, const char *title, const char *caption)
{
    char *svg = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&svg, &len);
    int drawn = mem && plot_svg_write(mem, s, n, xname, title);
    if (mem && fclose(mem) != 0) drawn = 0;
    if (drawn) {
        fprintf(f, "<figure class=\"plot\">\n");
        fwrite(svg, 1, len, f);
        fprintf(f, "<figcaption>");
        xml_escape(f, caption);
        fprintf(f, "</figcaption>\n</figure>\n");
    } else {
        fprintf(f, "<p class=\"note\">");
        page_text(f, "No %s to draw: no eval point after step 0 with %s > 0.", title, xname);
        fprintf(f, "</p>\n");
    }
    free(svg);
}

static int section_curve(FILE *f, RunData *r, const ReportConfig *c, char *err)
{
    FitSettings half = c->fs;
    half.fit_until = 0;
    half.fit_until_frac = 0.5;
    /* The Weibull form beside the paper's: the toy's runs saturate faster than a log-logistic,
     * whose A can then lie well above the plateau the run reaches (README, the default run). */
    FitSettings weibull = c->fs;
    weibull.form = FORM_WEIBULL;
    CurveFit whole_fit, half_fit, wb_fit;
    memset(&whole_fit, 0, sizeof whole_fit);
    memset(&half_fit, 0, sizeof half_fit);
    memset(&wb_fit, 0, sizeof wb_fit);
    char whole_note[ERR_LEN], half_note[ERR_LEN], wb_note[ERR_LEN];
    int whole_ok, half_ok, wb_ok, rc;
    unsigned char *roles = malloc((size_t)r->n + 1), *half_roles = malloc((size_t)r->n + 1);
    if (!roles || !half_roles) {
        free(roles);
        free(half_roles);
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    int nf, ne, nl;
    fit_window(r, &c->fs, roles, &nf, &ne, &nl);
    fit_window(r, &half, half_roles, &nf, &ne, &nl);
    rc = fit_or_note(r, &c->fs, &whole_fit, &whole_ok, whole_note, err);
    if (!rc) rc = fit_or_note(r, &half, &half_fit, &half_ok, half_note, err);
    if (!rc) rc = fit_or_note(r, &weibull, &wb_fit, &wb_ok, wb_note, err);
    if (!rc) {
        fprintf(f, "<h2>The curve</h2>\n");
        PlotSeries s[2];
        curve_series(&s[0], "fit on the whole run", 0, r, roles, &whole_fit, whole_ok);
        figure(f, s, 1, c->fs.x, "pass rate against RL compute",
               "Validation pass rate at each eval with its 95% interval; filled points were fitted, hollow ones left "
               "out (the earliest, below a tenth of the compute). The sigmoid R = R0 + (A - R0) / (1 + (Cmid/C)^B) is "
               "solid where fitted, dashed beyond, inside its 95% bootstrap band; the dotted line is its ceiling A.");
        if (!whole_ok) {
            fprintf(f, "<p class=\"note\">No curve: ");
            xml_escape(f, whole_note);
            fprintf(f, "</p>\n");
        }
        curve_series(&s[0], "fit on the first half of compute", 1, r, half_roles, &half_fit, half_ok);
        curve_series(&s[1], "fit on the whole run", 0, r, roles, &whole_fit, whole_ok);
        s[1].pts = NULL; /* the points once, with the half fit's roles */
        s[1].n = 0;
        s[1].boot = NULL;
        s[1].n_boot = 0;
        figure(f, s, 2, c->fs.x, "half-budget forecast",
               "The paper's extrapolation check: the sigmoid fitted on the points of the first half of the compute "
               "(filled), its dashed forecast against the second half (hollow), beside the fit on the whole run.");
        if (!half_ok) {
            fprintf(f, "<p class=\"note\">No half-budget fit: ");
            xml_escape(f, half_note);
            fprintf(f, "</p>\n");
        }
        const char *names[3] = {"whole run", "first half of compute (forecast of the rest)",
                                "whole run, Weibull form"};
        const CurveFit *fits[3] = {whole_ok ? &whole_fit : NULL, half_ok ? &half_fit : NULL, wb_ok ? &wb_fit : NULL};
        page_fit_table(f, names, fits, 3, c->fs.x);
    }
    curve_free(&whole_fit);
    curve_free(&half_fit);
    curve_free(&wb_fit);
    free(roles);
    free(half_roles);
    return rc;
}

/* ---- a run: what RL changed ---- */

typedef struct {
    int prompts, samples, text_len;
    char *prompt, *answer; /* prompts x text_len */
    char *text;            /* [model][prompt][sample] x text_len */
    float *reward;         /* [model][prompt][sample] */
    int model;             /* the model being sampled */
} Answers;

static char *answer_text(Answers *a, int model, int i, int j)
{
    return a->text + (((size_t)model * a->prompts + i) * a->samples + j) * a->text_len;
}

static float *answer_reward(Answers *a, int model, int i, int j)
{
    return a->reward + ((size_t)model * a->prompts + i) * a->samples + j;
}

static int keep_group(void *ctx, int i, const Group *g, char *err)
{
    Answers *a = ctx;
    (void)err;
    snprintf(a->prompt + (size_t)i * a->text_len, (size_t)a->text_len, "%s", g->prob.prompt);
    snprintf(a->answer + (size_t)i * a->text_len, (size_t)a->text_len, "%s", g->prob.answer);
    for (int j = 0; j < a->samples; j++) {
        const Completion *cp = &g->c[j];
        tok_decode(cp->tok + cp->n_prompt, cp->n - cp->n_prompt, answer_text(a, a->model, i, j), (size_t)a->text_len);
        *answer_reward(a, a->model, i, j) = cp->reward;
    }
    return 0;
}

/* The run's config from DIR/config.txt, as `scalerl train --config` would read it. */
static int load_train_config(const char *dir, TrainConfig *tc, char *err)
{
    char path[1100];
    int rc = path_join(path, sizeof path, dir, "config.txt", err);
    if (rc) return rc;
    Args *a = malloc(sizeof *a);
    if (!a) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    char *argv[] = {"--config", path, NULL};
    rc = args_parse(a, "report", 2, argv, err);
    if (!rc) rc = recipe_resolve(tc, a, err);
    free(a);
    return rc;
}

/* A run's report reads its base model and final.ckpt, and its ckpt/ directory is what resumes it:
 * out= naming any of them would replace a model with HTML (metrics.jsonl and config.txt are
 * checked by rundata_check_output). 0, or 1 with err. */
static int check_out_not_model(const char *out, const char *dir, char *err)
{
    struct stat so, sd, sc;
    if (lstat(out, &so) != 0) return 0; /* not there yet: nothing to replace */
    TrainConfig *tc = malloc(sizeof *tc);
    char why[ERR_LEN], path[1100];
    int rc = 0;
    if (tc && load_train_config(dir, tc, why) == 0)
        rc = rundata_check_file(out, "out", tc->base, "this run's base model", err);
    free(tc);
    if (rc || (rc = path_join(path, sizeof path, dir, "final.ckpt", err)) ||
        (rc = rundata_check_file(out, "out", path, "this run's final model", err)))
        return rc;
    /* A resume checkpoint: out's directory is the run's ckpt/. */
    char parent[OPT_STR_LEN + 32];
    path_dir(parent, sizeof parent, out);
    if ((rc = path_join(path, sizeof path, dir, "ckpt", err))) return rc;
    if (stat(parent, &sd) == 0 && stat(path, &sc) == 0 && sd.st_dev == sc.st_dev && sd.st_ino == sc.st_ino) {
        snprintf(err, ERR_LEN, "out='%s' is a file of '%s', this run's resume checkpoints: writing the report there "
                 "would replace it (choose another file)", out, path);
        return 1;
    }
    return 0;
}

/* Samples the first prompts of the validation set with each model, as the run's evals do. */
static int sample_models(const TrainConfig *tc, const char *const *ckpts, int n_models, Answers *a, char *err)
{
    TaskSpec *spec, *val_spec;
    TaskSplit *split;
    int rc = eval_split_open(tc->task, tc->eval_task, (uint64_t)tc->data_seed, (int)tc->eval_n, &spec, &val_spec, &split,
                             err);
    for (a->model = 0; a->model < n_models && !rc; a->model++) {
        Model m;
        if ((rc = load_base_model(ckpts[a->model], &m, err))) break;
        GenConfig gc = gen_config_from_keys(&m.cfg, tc->temperature, tc->gen_precision, tc->head, tc->seed,
                                            GEN_STREAM_EVAL, tc->length, tc->think_budget, tc->answer_budget,
                                            tc->penalty_cache);
        gc.G = a->samples;
        gc.max_groups = a->prompts;
        gc.slots = 256;
        rc = gen_config_check(&gc, task_max_prompt_tokens(split_val_spec(split)), err);
        if (!rc) rc = sample_val_prompts(m.params, &gc, split, a->prompts, a->samples, keep_group, a, err);
        model_free(&m);
    }
    split_free(split);
    task_spec_free(val_spec);
    task_spec_free(spec);
    return rc;
}

static void answers_cell(FILE *f, Answers *a, int model, int i)
{
    double sum = 0;
    fprintf(f, "<td><ul class=\"samples\">");
    for (int j = 0; j < a->samples; j++) {
        float rw = *answer_reward(a, model, i, j);
        sum += rw;
        fprintf(f, "<li><span class=\"%s\">%s</span> <code>", rw > 0 ? "right" : "wrong", rw > 0 ? "&#10003;" : "&#10007;");
        xml_escape(f, answer_text(a, model, i, j));
        fprintf(f, "</code> ");
        page_text(f, "%g", rw);
        fprintf(f, "</li>");
    }
    fprintf(f, "</ul>");
    page_text(f, "mean reward %.2f", sum / a->samples);
    fprintf(f, "</td>");
}

static int section_changed(FILE *f, const char *dir, const TrainConfig *tc, const ReportConfig *c, char *err)
{
    fprintf(f, "<h2>What RL changed</h2>\n");
    char final_ckpt[1100];
    int rc = path_join(final_ckpt, sizeof final_ckpt, dir, "final.ckpt", err);
    if (rc) return rc;
    const char *missing = !file_exists(tc->base) ? tc->base : !file_exists(final_ckpt) ? final_ckpt : NULL;
    if (missing) {
        fprintf(f, "<p class=\"note\">Not shown: ");
        page_text(f, "no checkpoint at '%s' (the base model is config.txt's base=, read from the directory the "
                     "report runs in; the run's is final.ckpt, written when it finishes).", missing);
        fprintf(f, "</p>\n");
        return 0;
    }
    Answers a = {0};
    a.prompts = (int)(c->prompts < tc->eval_n ? c->prompts : tc->eval_n);
    a.samples = (int)(c->samples ? c->samples : tc->eval_samples < 64 ? tc->eval_samples : 64);
    a.text_len = 4096;
    const int n_models = 2;
    const char *ckpts[2] = {tc->base, final_ckpt};
    a.prompt = calloc((size_t)a.prompts, (size_t)a.text_len);
    a.answer = calloc((size_t)a.prompts, (size_t)a.text_len);
    a.text = calloc((size_t)n_models * a.prompts * a.samples, (size_t)a.text_len);
    a.reward = calloc((size_t)n_models * a.prompts * a.samples, sizeof *a.reward);
    if (!a.prompt || !a.answer || !a.text || !a.reward) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    model_set_threads((int)c->threads);
    if (!rc) rc = sample_models(tc, ckpts, n_models, &a, err);
    if (!rc) {
        fprintf(f, "<p>The first %d validation prompts, %d completion%s each at temperature %g, sampled with the "
                   "run's length control and numerics and its evals' sampling stream:%s</p>\n",
                a.prompts, a.samples, a.samples > 1 ? "s" : "", tc->temperature,
                a.samples == tc->eval_samples ? " the base model's are the draws of the step-0 eval, the final "
                                                "checkpoint's those of the last eval." : "");
        fprintf(f, "<table class=\"changed\">\n<tr><th>prompt</th><th>answer</th><th>base model <code>");
        xml_escape(f, tc->base);
        fprintf(f, "</code></th><th>after RL <code>");
        xml_escape(f, final_ckpt);
        fprintf(f, "</code></th></tr>\n");
        for (int i = 0; i < a.prompts; i++) {
            fprintf(f, "<tr><td><code>");
            xml_escape(f, a.prompt + (size_t)i * a.text_len);
            fprintf(f, "</code></td><td><code>");
            xml_escape(f, a.answer + (size_t)i * a.text_len);
            fprintf(f, "</code></td>");
            for (int m = 0; m < n_models; m++) answers_cell(f, &a, m, i);
            fprintf(f, "</tr>\n");
        }
        fprintf(f, "</table>\n<p class=\"note\">Text as the tokenizer writes it: <code>^</code> begins a prompt, "
                   "<code>#</code> ends the thinking (forced when the budget runs out), <code>$</code> ends the "
                   "answer.</p>\n");
    }
    free(a.prompt);
    free(a.answer);
    free(a.text);
    free(a.reward);
    return rc;
}

/* ---- a run ---- */

static void run_summary(FILE *f, const RunData *r, const TrainConfig *tc, int has_tc)
{
    fprintf(f, "<p>");
    page_text(f, "Recipe %s", r->recipe);
    if (r->has_seed) page_text(f, ", seed %ld", r->seed);
    if (has_tc)
        page_text(f, "; task %s, %ld steps of %ld prompts x %ld completions", tc->task, tc->steps, tc->prompts_per_step,
                  tc->gens_per_prompt);
    if (r->has_r0 && r->n > 0)
        page_text(f, ". Pass rate %.3f at the start, %.3f at the last eval (%.3g FLOPs of RL compute)", r->r0,
                  r->pts[r->n - 1].y, r->pts[r->n - 1].x);
    page_text(f, ".");
    if (r->truncated) page_text(f, " The last line of metrics.jsonl was cut short: the run may still be writing.");
    fprintf(f, "</p>\n");
}

static int report_run(FILE *f, const char *dir, const ReportConfig *c, char *err)
{
    RunData r;
    int rc = rundata_load(&r, dir, c->fs.x, c->fs.y, err);
    if (rc) return rc;
    TrainConfig *tc = malloc(sizeof *tc);
    char why[ERR_LEN] = "";
    int has_tc = tc && load_train_config(dir, tc, why) == 0;
    char title[1200];
    snprintf(title, sizeof title, "Run report: %s", dir);
    page_begin(f, title);
    run_summary(f, &r, tc, has_tc);
    rc = section_curve(f, &r, c, err);
    if (!rc) {
        fprintf(f, "<h2>The recipe</h2>\n");
        if (has_tc) {
            page_components(f, tc);
            fprintf(f, "<p class=\"note\">Rows in orange differ from the paper's recipe; blue ones are the paper's "
                       "setting scaled down to this toy (budgets, validation). The whole config is "
                       "<code>config.txt</code>.</p>\n");
        } else {
            fprintf(f, "<p class=\"note\">No recipe to show: config.txt is not a train run's (");
            xml_escape(f, why);
            fprintf(f, ").</p>\n");
        }
        fprintf(f, "<h2>Training signals</h2>\n<p class=\"note\">Each field of the step rows of "
                   "<code>metrics.jsonl</code> over the compute spent (log axis, shared by every chart), as means over "
                   "bins of that axis; the pass rate is the eval rows'.</p>\n");
        const char *dirs[1] = {dir};
        const int colours[1] = {0};
        rc = page_signals(f, dirs, colours, 1, c->fs.x, err);
    }
    if (!rc && has_tc && c->prompts > 0) rc = section_changed(f, dir, tc, c, err);
    if (!rc) page_end(f);
    free(tc);
    rundata_free(&r);
    return rc;
}

/* ---- a sweep ---- */

static void compare_table(FILE *f, const CompareJob *j, const ReportConfig *c)
{
    fprintf(f, "<table class=\"compare\">\n<tr><th>recipe</th><th>seeds</th><th>A [95%% interval]</th><th>spread</th>"
               "<th>B</th><th>spread</th><th>Cmid</th><th>spread</th><th>last</th><th>verdict</th></tr>\n");
    for (int g = 0; g < j->ng; g++) {
        const RecipeGroup *gr = &j->groups[g];
        const CurveFit *p = &gr->pooled;
        fprintf(f, "<tr><td>");
        xml_escape(f, gr->recipe);
        fprintf(f, "</td><td class=\"num\">%d</td><td class=\"num\">", gr->k);
        page_value_ci(f, "%.4f", p->sig.p.A, p->has_ci, p->A_lo, p->A_hi);
        fprintf(f, "</td><td class=\"num\">");
        if (gr->k > 1) page_text(f, "%.4f", gr->spread_A);
        fprintf(f, "</td><td class=\"num\">");
        page_value_ci(f, "%.3f", p->sig.p.B, p->has_ci, p->B_lo, p->B_hi);
        fprintf(f, "</td><td class=\"num\">");
        if (gr->k > 1) page_text(f, "%.1f%%", 100 * (exp(gr->spread_lnB) - 1));
        fprintf(f, "</td><td class=\"num\">");
        page_value_ci(f, "%.3g", p->sig.p.Cmid, p->has_ci, p->Cmid_lo, p->Cmid_hi);
        fprintf(f, "</td><td class=\"num\">");
        if (gr->k > 1) page_text(f, "%.3f", gr->spread_lgC);
        fprintf(f, "</td><td class=\"num\">");
        page_text(f, "%.4f", compare_last_mean(gr, &c->fs));
        fprintf(f, "</td><td>%s</td></tr>\n", g == j->base ? "baseline" : verdict_name(j->pc[g].verdict));
    }
    fprintf(f, "</table>\n<ul>\n");
    for (int g = 0; g < j->ng; g++) {
        if (g == j->base) continue;
        const PairCompare *p = &j->pc[g];
        fprintf(f, "<li><b>");
        xml_escape(f, j->groups[g].recipe);
        fprintf(f, "</b>: ");
        page_text(f, "dA %+.4f (margin %.4f), last points %+.4f, plateau %+.4f (margin %.4f); the ceiling read by %s",
                  p->dA, p->margin_A,
                  compare_last_mean(&j->groups[g], &c->fs) - compare_last_mean(&j->groups[j->base], &c->fs), p->dP,
                  p->margin_P, p->reading == CEILING_READ_PLATEAU ? "the plateau of flat runs" : reading_name(p->reading));
        if (p->verdict != VERDICT_CEILING) {
            double dB, mB;
            pair_B_percent(p, &dB, &mB);
            page_text(f, "; at a common A=%.4f: B %.4g vs %.4g (%+.1f%%, margin %.1f%%), Cmid %.4g vs %.4g (%+.3f "
                         "decades, margin %.3f)",
                      p->A_star, p->B[1], p->B[0], dB, mB, p->Cmid[1], p->Cmid[0], p->dlgC, p->margin_lgC);
        }
        page_text(f, " \xe2\x80\x94 %s.", verdict_name(p->verdict));
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n<p class=\"note\">");
    page_text(f, "Against %s. Spread: the largest deviation of a seed's own fit from the mean of its seeds; a "
                 "parameter differs when the recipes' pooled fits differ by more than max(floor, both spreads), "
                 "floors A %.3f, B %.0f%%, Cmid %.2f decades. A ceiling mover differs in A, an efficiency shaper in "
                 "B or Cmid at a common A. Last: the mean of the seeds' last eval points, what the runs reached.",
              c->baseline, c->floors.A, 100 * c->floors.B, c->floors.cmid);
    fprintf(f, "</p>\n");
}

static int report_sweep(FILE *f, const char *root, const char *out, const ReportConfig *c, char *err)
{
    CompareJob j;
    int rc = compare_load(&j, root, &c->fs, c->baseline, &c->floors, 0, out, "report", err);
    ComparePlot p = {0};
    if (!rc) rc = compare_plot_build(&j, &c->fs, &p, err);
    if (!rc) {
        char title[1200];
        snprintf(title, sizeof title, "Sweep report: %s", root);
        page_begin(f, title);
        fprintf(f, "<p>");
        page_text(f, "%d runs of %d recipes under %s, fitted on x = %s.", j.n_runs, j.ng, root, c->fs.x);
        fprintf(f, "</p>\n<h2>Recipes compared</h2>\n");
        compare_table(f, &j, c);
        figure(f, p.s, p.n, c->fs.x, "recipes compared",
               "Each recipe's seeds pooled: every seed's eval points in the recipe's colour, the pooled sigmoid with "
               "its 95% bootstrap band and its ceiling A.");
        fprintf(f, "<h2>Training signals</h2>\n<p class=\"note\">Every run, in its recipe's colour.</p>\n");
        const char **dirs = malloc(sizeof *dirs * (size_t)j.n_runs);
        int *colours = malloc(sizeof *colours * (size_t)j.n_runs);
        if (!dirs || !colours) {
            snprintf(err, ERR_LEN, "out of memory");
            rc = 2;
        }
        for (int g = 0; g < j.ng && !rc; g++)
            for (int m = 0; m < j.groups[g].k; m++) {
                int idx = (int)(j.groups[g].runs[m] - j.runs);
                dirs[idx] = j.runs[idx].dir;
                colours[idx] = g;
            }
        if (!rc) rc = page_signals(f, dirs, colours, j.n_runs, c->fs.x, err);
        free(dirs);
        free(colours);
        if (!rc) {
            fprintf(f, "<h2>Runs</h2>\n<table>\n<tr><th>run</th><th>recipe</th><th>seed</th><th>evals</th>"
                       "<th>start</th><th>last</th></tr>\n");
            for (int i = 0; i < j.n_runs; i++) {
                const RunData *r = &j.runs[i];
                fprintf(f, "<tr><td><code>");
                xml_escape(f, r->dir);
                fprintf(f, "</code></td><td>");
                xml_escape(f, r->recipe);
                fprintf(f, "</td><td class=\"num\">");
                if (r->has_seed) page_text(f, "%ld", r->seed);
                fprintf(f, "</td><td class=\"num\">%d</td><td class=\"num\">", r->n);
                if (r->has_r0) page_text(f, "%.4f", r->r0);
                fprintf(f, "</td><td class=\"num\">");
                if (r->n > 0) page_text(f, "%.4f", r->pts[r->n - 1].y);
                fprintf(f, "</td></tr>\n");
            }
            fprintf(f, "</table>\n");
            page_end(f);
        }
    }
    compare_plot_free(&p);
    compare_free(&j);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    static const CommandSpec spec = {
        "report",
        "usage: scalerl report RUN_DIR|SWEEP_DIR [out=report.html] [key=value ...]\n\n"
        "One self-contained HTML page (inline SVG and CSS, no script, nothing fetched). For a run: the\n"
        "fitted curve with its band, the half-budget forecast and the fit table; the recipe beside\n"
        "the paper's; the training signals over compute; the same validation prompts answered by the\n"
        "base model and the final checkpoint. For a sweep: compare's table with its verdicts, the\n"
        "curves overlaid and every run's signals. See ref/cli/README.md.\n",
        report_opts, CMD_POSITIONAL, NULL};
    char err[ERR_LEN];
    Args a;
    ReportConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if ((rc = fit_settings_check(&c.fs, err))) return report_error("report", rc, err);
    if (a.n_pos != 1) {
        snprintf(err, ERR_LEN, "expected one directory, got %d (usage: scalerl report RUN_DIR|SWEEP_DIR [out=F.html])",
                 a.n_pos);
        return report_error("report", 1, err);
    }
    const char *dir = a.pos[0];
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, ERR_LEN, "'%s' is not a directory (expected a run directory or a sweep's)", dir);
        return report_error("report", 2, err);
    }
    /* A run directory holds metrics.jsonl, or metrics.jsonl.gz once archived (bench/findings,
     * bench/curves); anything else is read as a sweep's. */
    char metrics[1100], metrics_gz[1100], out[OPT_STR_LEN + 32];
    if ((rc = path_join(metrics, sizeof metrics, dir, "metrics.jsonl", err))) return report_error("report", rc, err);
    if ((rc = path_join(metrics_gz, sizeof metrics_gz, dir, "metrics.jsonl.gz", err)))
        return report_error("report", rc, err);
    if (c.out[0]) snprintf(out, sizeof out, "%s", c.out);
    else if ((rc = path_join(out, sizeof out, dir, "report.html", err))) return report_error("report", rc, err);
    int is_run = file_exists(metrics) || file_exists(metrics_gz);
    if (is_run && ((rc = rundata_check_output(out, "out", &dir, 1, err)) || (rc = check_out_not_model(out, dir, err))))
        return report_error("report", rc, err);
    AtomicFile af;
    if ((rc = atomic_open(&af, out, err))) return report_error("report", rc, err);
    rc = is_run ? report_run(af.f, dir, &c, err) : report_sweep(af.f, dir, out, &c, err);
    if (rc) atomic_abort(&af);
    else rc = atomic_commit(&af, err);
    if (!rc) {
        printf("wrote %s\n", out);
        rc = flush_stdout(err);
    }
    return rc ? report_error("report", rc, err) : 0;
}
