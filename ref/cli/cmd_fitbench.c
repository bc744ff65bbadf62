/* scalerl fitbench: every fitter (built-in or an external command) forecasts every run of a bank
 * from prefixes of its compute, and is scored on the held-out points (ref/fit/fitbench.h). Prints a
 * table (or JSON lines) and writes the whole result, every forecast included, to one JSON file. */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ref/cli/commands.h"
#include "ref/common/args.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"
#include "ref/fit/fitbench.h"

#define MAX_FITTERS 32
#define MAX_BUDGETS 16
#define FAILURES_SHOWN 3 /* per fitter, in the text report */

typedef struct {
    char bank[OPT_STR_LEN];
    char budgets[OPT_STR_LEN];
    char fitter[OPT_STR_LEN]; /* only for --help: fitter= words are taken out of argv first */
    char x[OPT_STR_LEN];
    long boot, boot_seed;
    double timeout;
    long json;
    char out[OPT_STR_LEN];
} BenchConfig;

static const OptSpec bench_opts[] = {
    {"bank", OPT_STR, offsetof(BenchConfig, bank), "bench/curves", 0, 0, NULL,
     "directory of runs, with or without a manifest.jsonl"},
    {"budgets", OPT_STR, offsetof(BenchConfig, budgets), "0.25,0.5,0.75", 0, 0, NULL,
     "fractions of each run's compute to fit up to, comma-separated, each in (0, 1)"},
    {"fitter", OPT_STR, offsetof(BenchConfig, fitter), "", 0, 0, NULL,
     "loglogistic, weibull, powerlaw, or a command run through sh -c; may be given several times "
     "(default: the three built-ins)"},
    {"x", OPT_STR, offsetof(BenchConfig, x), "flops", 0, 0, NULL, "compute column of the eval rows"},
    {"boot", OPT_INT, offsetof(BenchConfig, boot), "200", 0, 100000, NULL,
     "bootstrap resamples of the built-ins' intervals (0: no intervals, else at least 20)"},
    {"boot_seed", OPT_INT, offsetof(BenchConfig, boot_seed), "1", 0, 2147483647, NULL, "seed of the bootstrap draws"},
    {"timeout", OPT_FLOAT, offsetof(BenchConfig, timeout), "60", 0.01, 86400, NULL,
     "seconds an external fitter may take for one forecast"},
    {"json", OPT_INT, offsetof(BenchConfig, json), "0", 0, 1, NULL, "1: JSON lines on stdout instead of tables"},
    {"out", OPT_STR, offsetof(BenchConfig, out), "fitbench.json", 0, 0, NULL,
     "JSON file with the scores and every forecast (empty: none)"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

static int parse_budgets(const char *s, double *v, int *n, char *err)
{
    *n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        double b = strtod(p, &end);
        if (end == p || !(b > 0 && b < 1)) {
            snprintf(err, ERR_LEN, "bad value '%s' for 'budgets': expected fractions in (0, 1), comma-separated", s);
            return 1;
        }
        if (*n == MAX_BUDGETS) {
            snprintf(err, ERR_LEN, "too many budgets in '%s': at most %d", s, MAX_BUDGETS);
            return 1;
        }
        v[(*n)++] = b;
        if (*end == 0) return 0;
        if (*end != ',') {
            snprintf(err, ERR_LEN, "bad value '%s' for 'budgets': expected fractions in (0, 1), comma-separated", s);
            return 1;
        }
        p = end + 1;
    }
}

/* "0.0123" or "-" for NaN. */
static void fmt_num(char *buf, size_t n, const char *fmt, double v)
{
    if (isfinite(v)) snprintf(buf, n, fmt, v);
    else snprintf(buf, n, "-");
}

static const char *status_name(const BenchEntry *e)
{
    if (e->skipped) return "skipped";
    return e->f.status == FORECAST_OK ? "ok" : e->f.status == FORECAST_DECLINED ? "declined" : "failed";
}

/* The shapes of the bank in order of first appearance; returns their count. */
static int list_shapes(const Bank *b, const char **shapes)
{
    int n = 0;
    for (int i = 0; i < b->n; i++) {
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= strcmp(shapes[j], b->runs[i].shape) == 0;
        if (!seen) shapes[n++] = b->runs[i].shape;
    }
    return n;
}

/* A fitter's result on one shape: mean of its forecasts' mean absolute errors, how many were
 * scored of how many asked, and on runs to refuse how often it said the ceiling was not
 * identified. */
typedef struct {
    double mae;
    int scored, asked, refuse_runs, said;
} ShapeCell;

static ShapeCell shape_cell(const Bank *b, const FitterScore *s, int n_budgets, const char *shape)
{
    ShapeCell c = {0, 0, 0, 0, 0};
    for (int i = 0; i < s->n_entries; i++) {
        const BankRun *br = &b->runs[i / n_budgets];
        const BenchEntry *e = &s->e[i];
        if (e->skipped || strcmp(br->shape, shape) != 0) continue;
        if (br->expect_refuse) {
            c.refuse_runs++;
            c.said += e->f.status != FORECAST_FAILED && e->f.unidentified;
            continue;
        }
        c.asked++;
        if (e->f.status == FORECAST_OK) {
            c.scored++;
            c.mae += e->mae;
        }
    }
    c.mae = c.scored ? c.mae / c.scored : NAN;
    return c;
}

static void print_text(const Bank *b, const BenchConfig *c, const double *budgets, int nb, const FitterScore *s,
                       int nf)
{
    int n_refuse = 0;
    for (int i = 0; i < b->n; i++) n_refuse += b->runs[i].expect_refuse;
    printf("fitbench: %d runs in %s (%s; %d to forecast, %d whose ceiling is not identifiable), x = %s, budgets",
           b->n, c->bank, b->has_manifest ? "manifest.jsonl" : "no manifest", b->n - n_refuse, n_refuse, c->x);
    for (int k = 0; k < nb; k++) printf("%s%g", k ? "," : " ", budgets[k]);
    printf("\n");
    int w = 12;
    for (int f = 0; f < nf; f++)
        if ((int)strlen(s[f].fitter) > w) w = (int)strlen(s[f].fitter) > 48 ? 48 : (int)strlen(s[f].fitter);
    printf("forecasts (each run x budget; errors are predicted - observed pass rate on the held-out points;\n"
           "flagged: said the ceiling was not identified, on runs that have one; unidentifiable: said so on\n"
           "runs that do not):\n");
    printf("  %-*s %7s %8s %6s  %9s %7s %9s  %-18s  %-8s %-14s %7s\n", w, "fitter", "scored", "declined", "failed",
           "mean|err|", "worst", "|err|last", "95% coverage", "flagged", "unidentifiable", "seconds");
    for (int f = 0; f < nf; f++) {
        const FitterScore *x = &s[f];
        char sc[16], mae[16], worst[16], last[16], cov[40], un[32];
        snprintf(sc, sizeof sc, "%d/%d", x->scored, x->n_forecast);
        fmt_num(mae, sizeof mae, "%.4f", x->mae);
        fmt_num(worst, sizeof worst, "%.4f", x->worst);
        fmt_num(last, sizeof last, "%.4f", x->last_abs);
        if (x->with_interval) snprintf(cov, sizeof cov, "%.3f (%ld pts)", (double)x->covered / x->with_interval,
                                       x->with_interval);
        else snprintf(cov, sizeof cov, "no intervals");
        if (x->n_unident) snprintf(un, sizeof un, "said so %d/%d", x->said, x->n_unident);
        else snprintf(un, sizeof un, "-");
        printf("  %-*.*s %7s %8d %6d  %9s %7s %9s  %-18s  %-8d %-14s %7.1f\n", w, w, x->fitter, sc, x->declined,
               x->failed, mae, worst, last, cov, x->flagged, un, x->seconds);
    }
    const char *shapes[1024];
    int ns = list_shapes(b, shapes);
    printf("mean |err| by shape (forecasts scored of asked; on unidentifiable runs, how often the fitter said so):\n");
    printf("  %-24s", "shape");
    for (int f = 0; f < nf; f++) printf("  %-*.*s", 18, 18, s[f].fitter);
    printf("\n");
    for (int k = 0; k < ns; k++) {
        printf("  %-24.24s", shapes[k]);
        for (int f = 0; f < nf; f++) {
            ShapeCell cell = shape_cell(b, &s[f], nb, shapes[k]);
            char buf[40], m[16];
            if (cell.refuse_runs && !cell.asked) snprintf(buf, sizeof buf, "said so %d/%d", cell.said, cell.refuse_runs);
            else {
                fmt_num(m, sizeof m, "%.4f", cell.mae);
                snprintf(buf, sizeof buf, "%s (%d/%d)", m, cell.scored, cell.asked);
            }
            printf("  %-18s", buf);
        }
        printf("\n");
    }
    for (int f = 0; f < nf; f++) {
        int shown = 0, failed = 0;
        for (int i = 0; i < s[f].n_entries; i++) failed += !s[f].e[i].skipped && s[f].e[i].f.status == FORECAST_FAILED;
        for (int i = 0; i < s[f].n_entries && shown < FAILURES_SHOWN; i++) {
            const BenchEntry *e = &s[f].e[i];
            if (e->skipped || e->f.status != FORECAST_FAILED) continue;
            if (!shown++) printf("failures of %s (%d):\n", s[f].fitter, failed);
            printf("  %s at budget %g: %s\n", b->runs[i / nb].name, budgets[i % nb], e->f.why);
        }
        if (failed > shown) printf("  ... and %d more (all in %s)\n", failed - shown, c->out[0] ? c->out : "json=1");
    }
}

static void score_json(JsonWriter *w, const FitterScore *x)
{
    jw_begin(w);
    jw_str(w, "kind", "score");
    jw_str(w, "fitter", x->fitter);
    jw_bool(w, "builtin", x->builtin);
    jw_int(w, "forecasts", x->n_forecast);
    jw_int(w, "scored", x->scored);
    jw_int(w, "declined", x->declined);
    jw_int(w, "failed", x->failed);
    jw_int(w, "flagged_unidentified", x->flagged);
    jw_num(w, "mae", x->mae);
    jw_num(w, "worst", x->worst);
    jw_num(w, "last_abs", x->last_abs);
    jw_num(w, "coverage", x->with_interval ? (double)x->covered / x->with_interval : NAN);
    jw_int(w, "points_with_interval", x->with_interval);
    jw_int(w, "points_scored", x->held_scored);
    jw_int(w, "unidentifiable", x->n_unident);
    jw_int(w, "said_unidentified", x->said);
    jw_int(w, "unidentifiable_failed", x->unident_failed);
    jw_num(w, "seconds", x->seconds);
}

static void entry_json(JsonWriter *w, const Bank *b, const FitterScore *x, int i, const double *budgets, int nb)
{
    const BankRun *br = &b->runs[i / nb];
    const BenchEntry *e = &x->e[i];
    jw_begin(w);
    jw_str(w, "kind", "forecast");
    jw_str(w, "fitter", x->fitter);
    jw_str(w, "run", br->name);
    jw_str(w, "shape", br->shape);
    jw_str(w, "expect", br->expect_refuse ? "refuse" : "forecast");
    jw_num(w, "budget", budgets[i % nb]);
    jw_num(w, "cut", e->cut);
    jw_int(w, "points_fitted_from", e->n_prefix);
    jw_int(w, "points_held_out", e->n_held);
    jw_str(w, "status", status_name(e));
    jw_bool(w, "unidentified", !e->skipped && e->f.status != FORECAST_FAILED && e->f.unidentified);
    if (!e->skipped && e->f.status == FORECAST_FAILED) jw_str(w, "why", e->f.why);
    jw_num(w, "mae", e->mae);
    jw_num(w, "max_err", e->max_err);
    jw_num(w, "last_err", e->last_err);
    jw_int(w, "covered", e->covered);
    jw_int(w, "with_interval", e->with_interval);
    jw_num(w, "seconds", e->f.seconds);
}

static void shape_json(JsonWriter *w, const Bank *b, const FitterScore *x, int nb, const char *shape)
{
    ShapeCell c = shape_cell(b, x, nb, shape);
    jw_begin(w);
    jw_str(w, "kind", "shape");
    jw_str(w, "fitter", x->fitter);
    jw_str(w, "shape", shape);
    jw_num(w, "mae", c.mae);
    jw_int(w, "scored", c.scored);
    jw_int(w, "asked", c.asked);
    jw_int(w, "unidentifiable", c.refuse_runs);
    jw_int(w, "said_unidentified", c.said);
}

enum { SECTION_SCORES, SECTION_SHAPES, SECTION_FORECASTS, SECTION_COUNT };
static const char *const section_names[SECTION_COUNT] = {"scores", "shapes", "forecasts"};

/* Hands each object of one section of the result to emit: a line of stdout, or an element of
 * the file's array. */
typedef int (*EmitFn)(void *ctx, JsonWriter *w, char *err);

static int each_object(int section, const Bank *b, const double *budgets, int nb, const FitterScore *s, int nf,
                       EmitFn emit, void *ctx, char *err)
{
    JsonWriter w;
    jw_init(&w);
    int rc = 0;
    const char *shapes[1024];
    int ns = list_shapes(b, shapes);
    for (int f = 0; f < nf && !rc; f++) {
        if (section == SECTION_SCORES) {
            score_json(&w, &s[f]);
            rc = emit(ctx, &w, err);
        }
        for (int k = 0; section == SECTION_SHAPES && k < ns && !rc; k++) {
            shape_json(&w, b, &s[f], nb, shapes[k]);
            rc = emit(ctx, &w, err);
        }
        for (int i = 0; section == SECTION_FORECASTS && i < s[f].n_entries && !rc; i++) {
            entry_json(&w, b, &s[f], i, budgets, nb);
            rc = emit(ctx, &w, err);
        }
    }
    jw_free(&w);
    return rc;
}

static int emit_line(void *ctx, JsonWriter *w, char *err)
{
    (void)ctx;
    return jw_end(w, stdout, err);
}

typedef struct {
    FILE *f;
    int first; /* no element yet in the array */
} ArrayEmit;

static int emit_element(void *ctx, JsonWriter *w, char *err)
{
    ArrayEmit *ae = ctx;
    int rc = jw_finish(w, err);
    if (rc) return rc;
    fprintf(ae->f, "%s\n%s", ae->first ? "" : ",", w->buf);
    ae->first = 0;
    return 0;
}

/* One JSON document: the run's settings, then the arrays "scores", "shapes" and "forecasts". */
static int write_file(const char *path, const Bank *b, const BenchConfig *c, const double *budgets, int nb,
                      const FitterScore *s, int nf, char *err)
{
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    jw_str(&w, "kind", "fitbench");
    jw_str(&w, "bank", c->bank);
    jw_bool(&w, "manifest", b->has_manifest);
    jw_int(&w, "runs", b->n);
    jw_str(&w, "x", c->x);
    jw_num_array(&w, "budgets", budgets, nb);
    jw_int(&w, "boot", c->boot);
    jw_num(&w, "timeout", c->timeout);
    rc = jw_finish(&w, err);
    if (!rc) {
        w.buf[w.len - 1] = 0; /* the header object stays open for the arrays */
        fprintf(af.f, "%s", w.buf);
    }
    for (int sec = 0; sec < SECTION_COUNT && !rc; sec++) {
        ArrayEmit ae = {af.f, 1};
        fprintf(af.f, ",\n\"%s\":[", section_names[sec]);
        rc = each_object(sec, b, budgets, nb, s, nf, emit_element, &ae, err);
        fprintf(af.f, "]");
    }
    if (!rc) fprintf(af.f, "}\n");
    jw_free(&w);
    if (rc) {
        atomic_abort(&af);
        return rc;
    }
    return atomic_commit(&af, err);
}

/* out= must not be the bank's manifest or one of its runs' files: the scores would replace them
 * (checked before any fitter runs). 0, or 1 with err. */
static int check_out(const char *out, const Bank *b, const char *bank, char *err)
{
    char path[1100];
    int rc = path_join(path, sizeof path, bank, "manifest.jsonl", err);
    if (rc || (rc = rundata_check_file(out, "out", path, "the bank's manifest", err))) return rc;
    for (int i = 0; i < b->n && !rc; i++) {
        const char *dir = b->runs[i].run.dir;
        rc = rundata_check_output(out, "out", &dir, 1, err);
    }
    return rc;
}

int cmd_fitbench(int argc, char **argv)
{
    static const CommandSpec spec = {
        "fitbench",
        "usage: scalerl fitbench [bank=bench/curves] [budgets=0.25,0.5,0.75] [fitter=NAME|CMD ...] [json=1]\n\n"
        "Scores curve fitters on a bank of runs: for each run and budget, a fitter sees the eval\n"
        "rows up to that fraction of the run's compute and forecasts the later ones. NAME is a\n"
        "built-in (loglogistic, weibull, powerlaw); CMD is any command, run through sh -c, that\n"
        "reads a query and the rows as JSON lines and prints one prediction a line (see\n"
        "ref/fit/README.md, \"fitbench\"). Writes fitbench.json (out=) with every forecast.\n",
        bench_opts, 0, NULL};
    char err[ERR_LEN];
    /* fitter= may be given several times: those words are taken out before the usual parse, which
     * keeps one value per key. */
    const char *fitters[MAX_FITTERS];
    int nf = 0;
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    if (!rest) return report_error("fitbench", 2, "out of memory");
    int nr = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "fitter=", 7) == 0) {
            if (!argv[i][7]) {
                free(rest);
                return report_error("fitbench", 1, "empty 'fitter=': expected loglogistic, weibull, powerlaw or a command");
            }
            if (nf == MAX_FITTERS) {
                free(rest);
                snprintf(err, ERR_LEN, "too many fitters: at most %d", MAX_FITTERS);
                return report_error("fitbench", 1, err);
            }
            fitters[nf++] = argv[i] + 7;
        } else {
            rest[nr++] = argv[i];
        }
    }
    Args a;
    BenchConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, nr, rest, &rc)) {
        free(rest);
        return rc;
    }
    free(rest);
    if (nf == 0)
        for (int i = 0; forecast_builtin_names[i]; i++) fitters[nf++] = forecast_builtin_names[i];
    double budgets[MAX_BUDGETS];
    int nb;
    if ((rc = parse_budgets(c.budgets, budgets, &nb, err))) return report_error("fitbench", rc, err);
    if (c.boot > 0 && c.boot < FIT_MIN_BOOT) {
        snprintf(err, ERR_LEN, "bad value %ld for 'boot': expected 0 (no intervals) or at least %d", c.boot, FIT_MIN_BOOT);
        return report_error("fitbench", 1, err);
    }
    /* A fitter that exits without reading its input must not kill us: the write fails instead. */
    signal(SIGPIPE, SIG_IGN);
    Bank b;
    if ((rc = bank_load(&b, c.bank, c.x, err))) return report_error("fitbench", rc, err);
    if (c.out[0] && (rc = check_out(c.out, &b, c.bank, err))) {
        bank_free(&b);
        return report_error("fitbench", rc, err);
    }
    BenchSettings bs = {.budgets = budgets, .n_budgets = nb, .timeout_s = c.timeout, .progress = isatty(2)};
    bs.fs = (FitSettings){.exclude_below = -1, .exclude_frac = -1, .boot = c.boot, .boot_seed = c.boot_seed};
    snprintf(bs.fs.x, sizeof bs.fs.x, "%s", c.x);
    snprintf(bs.fs.y, sizeof bs.fs.y, "pass_rate"); /* the bank's runs are single-task */
    FitterScore *s = calloc((size_t)nf, sizeof *s);
    if (!s) rc = 2, snprintf(err, ERR_LEN, "out of memory");
    for (int f = 0; f < nf && !rc; f++) rc = fitbench_score(&b, fitters[f], &bs, &s[f], err);
    if (!rc && c.out[0]) rc = write_file(c.out, &b, &c, budgets, nb, s, nf, err);
    if (!rc) {
        for (int sec = 0; c.json && sec < SECTION_COUNT && !rc; sec++)
            rc = each_object(sec, &b, budgets, nb, s, nf, emit_line, NULL, err);
        if (!c.json) {
            print_text(&b, &c, budgets, nb, s, nf);
            if (c.out[0]) printf("wrote %s\n", c.out);
        }
    }
    if (!rc) rc = flush_stdout(err);
    for (int f = 0; f < nf && s; f++) fitbench_score_free(&s[f]);
    free(s);
    bank_free(&b);
    return rc ? report_error("fitbench", rc, err) : 0;
}
