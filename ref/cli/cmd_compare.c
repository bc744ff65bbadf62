/* scalerl compare: every run directory under DIR grouped by recipe, each recipe fitted (seeds
 * pooled, intervals resampling seeds and points; the ceiling read in two forms) and classified
 * against a baseline recipe as a ceiling mover, an efficiency shaper or no effect (definitions in
 * ref/fit/fitgroup.h). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/fit/compare.h"
#include "ref/fit/fitreport.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"

typedef struct {
    FitSettings fs;
    char baseline[OPT_STR_LEN];
    long json;
    char out[OPT_STR_LEN];
    int unfinished;
    SpreadFloors floors;
} CompareConfig;

static const OptSpec compare_opts[] = {
    FIT_SETTINGS_OPTS(CompareConfig, fs),
    {"baseline", OPT_STR, offsetof(CompareConfig, baseline), "scalerl", 0, 0, NULL,
     "recipe the others are compared against"},
    {"json", OPT_INT, offsetof(CompareConfig, json), "0", 0, 1, NULL, "1: JSON lines on stdout instead of a table"},
    {"out", OPT_STR, offsetof(CompareConfig, out), "", 0, 0, NULL, "SVG file with every recipe's curve (empty: none)"},
    {"unfinished", OPT_CHOICE, offsetof(CompareConfig, unfinished), "use", 0, 0, "use|skip",
     "runs without their closing row: use them as they stand, or skip them"},
    SPREAD_FLOORS_OPTS(CompareConfig, floors),
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static void print_text(const CompareJob *j, const CompareConfig *c, const char *root)
{
    printf("recipes under %s, fitted on x = %s, y = %s; baseline %s\n", root, c->fs.x, c->fs.y, c->baseline);
    printf("seed spread = max |seed's fit - mean of the seeds' fits|; margin = max(floor, both recipes' spreads);\n"
           "floors: A %.3f, B %.0f%%, Cmid %.2f decades; last = the seeds' last eval points, mean;\n"
           "A(wb) = the ceiling in the Weibull form, which approaches it faster (ref/fit/README.md)\n",
           c->floors.A, 100 * c->floors.B, c->floors.cmid);
    /* The recipe column fits the longest name (labels such as scalerl+lr=1e-4 run long). */
    int w = 20;
    for (int g = 0; g < j->ng; g++)
        if ((int)strlen(j->groups[g].recipe) > w) w = (int)strlen(j->groups[g].recipe);
    printf("  %-*s %5s  %-25s %-8s %-22s %-8s %-30s %-7s  %-6s  %-6s  %s\n", w, "recipe", "seeds", "A [95% CI]",
           "spread", "B [95% CI]", "spread", "Cmid [95% CI]", "spread", "A(wb)", "last", "verdict");
    for (int g = 0; g < j->ng; g++) {
        const RecipeGroup *gr = &j->groups[g];
        const CurveFit *f = &gr->pooled;
        char A[64], B[64], C[80], sB[16], sC[16], sA[16];
        report_value_ci(A, sizeof A, "%.4f", f->sig.p.A, f->has_ci, f->A_lo, f->A_hi);
        report_value_ci(B, sizeof B, "%.3f", f->sig.p.B, f->has_ci, f->B_lo, f->B_hi);
        report_value_ci(C, sizeof C, "%.3g", f->sig.p.Cmid, f->has_ci, f->Cmid_lo, f->Cmid_hi);
        snprintf(sA, sizeof sA, "%.4f", gr->spread_A);
        snprintf(sB, sizeof sB, "%.1f%%", 100 * (exp(gr->spread_lnB) - 1));
        snprintf(sC, sizeof sC, "%.3f", gr->spread_lgC);
        printf("  %-*s %5d  %-25s %-8s %-22s %-8s %-30s %-7s  %-6.4f  %-6.4f  %s\n", w, gr->recipe, gr->k, A,
               gr->k > 1 ? sA : "-", B, gr->k > 1 ? sB : "-", C, gr->k > 1 ? sC : "-", gr->weibull.p.A,
               compare_last_mean(gr, &c->fs), g == j->base ? "baseline" : verdict_name(j->pc[g].verdict));
    }
    printf("against %s:\n", c->baseline);
    for (int g = 0; g < j->ng; g++) {
        if (g == j->base) continue;
        const PairCompare *p = &j->pc[g];
        printf("  %-*s dA %+.4f (margin %.4f), in the Weibull form %+.4f (margin %.4f), last points %+.4f,\n"
               "  %-*s level at the end of the last %.0f%% of compute %+.4f (margin %.4f; runs flat: %s %s, %s %s):\n",
               w, j->groups[g].recipe, p->dA, p->margin_A, p->dA_weibull, p->margin_A_weibull,
               compare_last_mean(&j->groups[g], &c->fs) - compare_last_mean(&j->groups[j->base], &c->fs), w, "",
               100 * c->floors.tail,
               p->dP, p->margin_P, c->baseline, p->flat[0] ? "yes" : "no", j->groups[g].recipe, p->flat[1] ? "yes" : "no");
        double d = p->forms_agree ? p->dA : p->dA_better;
        printf("  %-*s ceiling %s", w, "", !p->ceiling ? "the same" : pair_ceiling_diff(p) > 0 ? "higher" : "lower");
        if (p->reading == CEILING_READ_PLATEAU)
            printf(": every run of both is flat at its end, so the plateaus decide: %.4f vs %.4f (dP %+.4f, margin "
                   "%.4f; the forms read dA %+.4f)",
                   p->plateau[1], p->plateau[0], p->dP, p->margin_P, d);
        else if (p->forms_agree) printf(" in both forms");
        else
            printf(": the forms disagree; in each recipe's better-fitting form (%s %s, %s %s) dA %+.4f (margin %.4f)",
                   c->baseline, form_name(p->form[0]), j->groups[g].recipe, form_name(p->form[1]), p->dA_better,
                   p->margin_A_better);
        if (!p->pinned)
            printf(" (not pinned: %s)", p->reading == CEILING_READ_BETTER_FORM
                                            ? "an A of that reading is at its bound 1, or the forms fit a recipe within 2%"
                                            : "an A of each form is at its bound 1");
        if (p->verdict == VERDICT_CEILING) {
            printf(" -> %s\n", verdict_name(p->verdict));
            continue;
        }
        double dB, mB;
        pair_B_percent(p, &dB, &mB);
        printf(";\n  %-*s at a common A=%.4f: B %.4g vs %.4g (%+.1f%%, margin %.1f%%), Cmid %.4g vs %.4g (%+.3f decades, "
               "margin %.3f) -> %s\n",
               w, "", p->A_star, p->B[1], p->B[0], dB, mB, p->Cmid[1], p->Cmid[0], p->dlgC, p->margin_lgC,
               verdict_name(p->verdict));
    }
}

static int print_json(const CompareJob *j, const CompareConfig *c, char *err)
{
    JsonWriter w;
    jw_init(&w);
    int rc = 0;
    for (int g = 0; g < j->ng && !rc; g++) {
        const RecipeGroup *gr = &j->groups[g];
        jw_begin(&w);
        jw_str(&w, "kind", "recipe");
        jw_str(&w, "recipe", gr->recipe);
        jw_int(&w, "seeds", gr->k);
        jw_str(&w, "baseline", c->baseline);
        jw_str(&w, "verdict", g == j->base ? "baseline" : verdict_name(j->pc[g].verdict));
        report_curve_json(&w, &gr->pooled, &c->fs);
        jw_num(&w, "spread_A", gr->spread_A);
        jw_num(&w, "spread_lnB", gr->spread_lnB);
        jw_num(&w, "spread_log10_Cmid", gr->spread_lgC);
        jw_num(&w, "last_mean", compare_last_mean(gr, &c->fs));
        jw_num(&w, "A_weibull", gr->weibull.p.A);
        jw_bool(&w, "A_weibull_at_bound", gr->weibull.A_at_bound);
        jw_num(&w, "spread_A_weibull", gr->spread_A_weibull);
        jw_num(&w, "sse_weibull", gr->weibull.sse);
        jw_str(&w, "better_form", form_name(group_better_form(gr)));
        if (g != j->base) {
            const PairCompare *p = &j->pc[g];
            jw_num(&w, "dA", p->dA);
            jw_num(&w, "margin_A", p->margin_A);
            jw_num(&w, "dA_weibull", p->dA_weibull);
            jw_num(&w, "margin_A_weibull", p->margin_A_weibull);
            jw_bool(&w, "forms_agree", p->forms_agree);
            if (!p->forms_agree) {
                jw_str(&w, "form_baseline", form_name(p->form[0]));
                jw_str(&w, "form", form_name(p->form[1]));
                jw_num(&w, "dA_better", p->dA_better);
                jw_num(&w, "margin_A_better", p->margin_A_better);
            }
            jw_str(&w, "ceiling_reading", reading_name(p->reading));
            jw_bool(&w, "ceiling_pinned", p->pinned);
            jw_num(&w, "d_ceiling", pair_ceiling_diff(p));
            jw_bool(&w, "flat", p->flat[1]);
            jw_bool(&w, "flat_baseline", p->flat[0]);
            jw_num(&w, "plateau", p->plateau[1]);
            jw_num(&w, "plateau_baseline", p->plateau[0]);
            jw_num(&w, "dP", p->dP);
            jw_num(&w, "margin_P", p->margin_P);
            jw_num(&w, "tail_rise", p->rise[1]);
            jw_num(&w, "tail_rise_baseline", p->rise[0]);
            jw_num(&w, "A_common", p->A_star);
            jw_num(&w, "B_common", p->B[1]);
            jw_num(&w, "B_common_baseline", p->B[0]);
            jw_num(&w, "Cmid_common", p->Cmid[1]);
            jw_num(&w, "Cmid_common_baseline", p->Cmid[0]);
            jw_num(&w, "dlnB", p->dlnB);
            jw_num(&w, "margin_lnB", p->margin_lnB);
            jw_num(&w, "dlog10_Cmid", p->dlgC);
            jw_num(&w, "margin_log10_Cmid", p->margin_lgC);
        }
        rc = jw_end(&w, stdout, err);
    }
    jw_free(&w);
    return rc;
}

static int write_svg(const CompareJob *j, const CompareConfig *c, char *err)
{
    ComparePlot p;
    int rc = compare_plot_build(j, &c->fs, &p, err);
    if (!rc) rc = plot_svg(c->out, p.s, p.n, c->fs.x, "recipes compared", err);
    compare_plot_free(&p);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    static const CommandSpec spec = {
        "compare",
        "usage: scalerl compare DIR [baseline=scalerl] [json=1] [out=F.svg] [key=value ...]\n\n"
        "Finds every run directory (holding metrics.jsonl) under DIR, groups runs by recipe,\n"
        "fits each recipe and calls it a ceiling mover, an efficiency shaper or no effect\n"
        "against the baseline. See README, \"Comparing recipes\".\n",
        compare_opts, CMD_POSITIONAL, NULL};
    char err[ERR_LEN];
    Args a;
    CompareConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if ((rc = fit_settings_check(&c.fs, err))) return report_error("compare", rc, err);
    if (a.n_pos != 1) {
        snprintf(err, ERR_LEN, "expected one directory, got %d (usage: scalerl compare DIR [key=value ...])", a.n_pos);
        return report_error("compare", 1, err);
    }
    CompareJob j;
    rc = compare_load(&j, a.pos[0], &c.fs, c.baseline, &c.floors, c.unfinished == 1, c.out, "compare", err);
    if (!rc && c.out[0]) rc = write_svg(&j, &c, err);
    if (!rc) {
        if (c.json) rc = print_json(&j, &c, err);
        else {
            print_text(&j, &c, a.pos[0]);
            if (c.out[0]) printf("wrote %s\n", c.out);
        }
    }
    if (!rc) rc = flush_stdout(err);
    compare_free(&j);
    return rc ? report_error("compare", rc, err) : 0;
}
