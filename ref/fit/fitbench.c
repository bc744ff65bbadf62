#include "ref/fit/fitbench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/common/jsonl.h"
#include "ref/common/lines.h"
#include "ref/common/util.h"

/* Loads one bank run: its points, its raw eval rows and their x. */
static int load_run(BankRun *br, const char *dir, const char *xcol, char *err)
{
    int rc = rundata_load(&br->run, dir, xcol, "pass_rate", err);
    if (rc) return rc;
    if (br->run.n < 2) {
        snprintf(err, ERR_LEN, "%s: %d eval points after step 0, a bank run needs at least 2", dir, br->run.n);
        return 1;
    }
    if (!br->run.has_r0) {
        snprintf(err, ERR_LEN, "%s: no step-0 eval row (a bank run needs R0)", dir);
        return 1;
    }
    if ((rc = rundata_eval_lines(dir, &br->rows, &br->n_rows, err))) return rc;
    if (!(br->row_x = malloc(sizeof(double) * (size_t)(br->n_rows + 1)))) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    JsonObj *o = malloc(sizeof *o);
    char *copy = NULL;
    if (!o) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    for (int i = 0; i < br->n_rows && !rc; i++) {
        double step = 0, x = 0;
        free(copy);
        if (!(copy = strdup(br->rows[i]))) {
            snprintf(err, ERR_LEN, "out of memory");
            rc = 2;
        } else if (jsonl_parse(copy, o, err) || !jsonl_num(o, "step", &step)) {
            snprintf(err, ERR_LEN, "%s: an eval row without a step", dir); /* rundata_load read it: cannot happen */
            rc = 1;
        } else if (step != 0 && !jsonl_num(o, xcol, &x)) {
            snprintf(err, ERR_LEN, "%s: an eval row without '%s'", dir, xcol);
            rc = 1;
        }
        br->row_x[i] = step == 0 ? 0 : x;
    }
    free(copy);
    free(o);
    return rc;
}

static int add_run(Bank *b, int *cap, const char *dir, const char *name, const char *shape, int refuse,
                   const char *xcol, char *err)
{
    if (b->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        BankRun *r = realloc(b->runs, sizeof *r * (size_t)nc);
        if (!r) {
            snprintf(err, ERR_LEN, "out of memory");
            return 2;
        }
        b->runs = r;
        *cap = nc;
    }
    BankRun *br = &b->runs[b->n++];
    memset(br, 0, sizeof *br);
    snprintf(br->name, sizeof br->name, "%s", name);
    br->expect_refuse = refuse;
    int rc = load_run(br, dir, xcol, err);
    /* The shape of a run without a manifest is its recipe. */
    snprintf(br->shape, sizeof br->shape, "%s", shape ? shape : br->run.recipe);
    return rc;
}

/* A required string field of a manifest row, or an error naming the line. */
static const char *manifest_str(const JsonObj *o, const char *key, const char *path, long lineno, char *err)
{
    const char *v = jsonl_str(o, key);
    if (!v || !v[0]) snprintf(err, ERR_LEN, "%s:%ld: expected a non-empty string in \"%s\"", path, lineno, key);
    return v && v[0] ? v : NULL;
}

static int read_manifest(Bank *b, const char *dir, const char *path, const char *xcol, char *err)
{
    LineReader lr;
    int rc = lines_open(&lr, path, err), cap = 0, got = 0;
    if (rc) return rc;
    JsonObj *o = malloc(sizeof *o);
    if (!o) {
        lines_close(&lr);
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    size_t len;
    long lineno = 0;
    while (!rc && (got = lines_next(&lr, &len, err)) == 1) {
        lineno++;
        char *s = lr.buf;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
        if (!*s) continue;
        char perr[ERR_LEN];
        if (jsonl_parse(lr.buf, o, perr)) {
            snprintf(err, ERR_LEN, "%s:%ld: %s", path, lineno, perr);
            rc = 1;
            break;
        }
        const char *rel = manifest_str(o, "path", path, lineno, err), *shape = NULL, *expect = NULL;
        if (rel) shape = manifest_str(o, "shape", path, lineno, err);
        if (shape) expect = manifest_str(o, "expect", path, lineno, err);
        if (!expect) {
            rc = 1;
            break;
        }
        if (strcmp(expect, "forecast") != 0 && strcmp(expect, "refuse") != 0) {
            snprintf(err, ERR_LEN, "%s:%ld: bad \"expect\" '%.40s': expected forecast or refuse", path, lineno, expect);
            rc = 1;
            break;
        }
        char run_dir[1100];
        if (rel[0] == '/') snprintf(run_dir, sizeof run_dir, "%s", rel);
        else if ((rc = path_join(run_dir, sizeof run_dir, dir, rel, err))) break;
        for (int i = 0; i < b->n && !rc; i++)
            if (strcmp(b->runs[i].name, rel) == 0) {
                snprintf(err, ERR_LEN, "%s:%ld: run '%.200s' is listed twice", path, lineno, rel);
                rc = 1;
            }
        if (!rc) rc = add_run(b, &cap, run_dir, rel, shape, strcmp(expect, "refuse") == 0, xcol, err);
    }
    if (!rc && got == 2) rc = 2;
    if (!rc && b->n == 0) {
        snprintf(err, ERR_LEN, "%s: no runs listed", path);
        rc = 1;
    }
    free(o);
    lines_close(&lr);
    return rc;
}

int bank_load(Bank *b, const char *dir, const char *xcol, char *err)
{
    memset(b, 0, sizeof *b);
    char path[1100];
    int rc = path_join(path, sizeof path, dir, "manifest.jsonl", err);
    if (rc) return rc;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, ERR_LEN, "bank '%s' is not a directory", dir);
        return 2;
    }
    if (stat(path, &st) == 0) {
        b->has_manifest = 1;
        rc = read_manifest(b, dir, path, xcol, err);
    } else {
        char **dirs;
        int n, cap = 0;
        if ((rc = rundata_find(dir, &dirs, &n, err))) return rc;
        size_t skip = strlen(dir);
        for (int i = 0; i < n && !rc; i++) {
            const char *rel = dirs[i] + skip;
            while (*rel == '/') rel++;
            rc = add_run(b, &cap, dirs[i], *rel ? rel : dirs[i], NULL, 0, xcol, err);
        }
        rundata_free_list(dirs, n);
    }
    if (rc) bank_free(b);
    return rc;
}

void bank_free(Bank *b)
{
    for (int i = 0; i < b->n; i++) {
        rundata_free(&b->runs[i].run);
        rundata_free_list(b->runs[i].rows, b->runs[i].n_rows);
        free(b->runs[i].row_x);
    }
    free(b->runs);
    memset(b, 0, sizeof *b);
}

/* The held-out points of run r beyond cut: their x (into xs) and count. */
static int held_points(const RunData *r, double cut, double *xs)
{
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (r->pts[i].x > cut) xs[n++] = r->pts[i].x;
    return n;
}

static void score_entry(const RunData *r, BenchEntry *e)
{
    double sum = 0, mx = 0;
    int k = 0;
    e->mae = e->max_err = e->last_err = NAN;
    for (int i = 0; i < r->n; i++) {
        if (r->pts[i].x <= e->cut) continue;
        double err = e->f.R[k] - r->pts[i].y, a = fabs(err);
        sum += a;
        if (a > mx) mx = a;
        if (isfinite(e->f.lo[k])) {
            e->with_interval++;
            e->covered += e->f.lo[k] <= r->pts[i].y && r->pts[i].y <= e->f.hi[k];
        }
        e->last_err = err; /* points are sorted by x: the last one seen is the run's last */
        k++;
    }
    e->mae = k ? sum / k : NAN;
    e->max_err = k ? mx : NAN;
}

static void aggregate(const Bank *b, int n_budgets, FitterScore *s)
{
    double sum_mae = 0, sum_last = 0;
    s->worst = 0;
    for (int i = 0; i < s->n_entries; i++) {
        const BenchEntry *e = &s->e[i];
        const BankRun *br = &b->runs[i / n_budgets];
        if (e->skipped) continue;
        s->seconds += e->f.seconds;
        int failed = e->f.status == FORECAST_FAILED;
        if (br->expect_refuse) {
            s->n_unident++;
            s->said += !failed && e->f.unidentified;
            s->unident_failed += failed;
            continue;
        }
        s->n_forecast++;
        s->declined += e->f.status == FORECAST_DECLINED;
        s->failed += failed;
        s->flagged += !failed && e->f.unidentified;
        if (e->f.status != FORECAST_OK) continue;
        s->scored++;
        sum_mae += e->mae;
        sum_last += fabs(e->last_err);
        if (e->max_err > s->worst) s->worst = e->max_err;
        s->covered += e->covered;
        s->with_interval += e->with_interval;
        s->held_scored += e->n_held;
    }
    s->mae = s->scored ? sum_mae / s->scored : NAN;
    s->last_abs = s->scored ? sum_last / s->scored : NAN;
    if (!s->scored) s->worst = NAN;
}

/* The rows of run br with x <= cut (step 0 included), in file order, into rows. */
static int prefix_rows(const BankRun *br, double cut, char **rows)
{
    int n = 0;
    for (int i = 0; i < br->n_rows; i++)
        if (br->row_x[i] <= cut) rows[n++] = br->rows[i];
    return n;
}

int fitbench_score(const Bank *b, const char *fitter, const BenchSettings *bs, FitterScore *out, char *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->fitter, sizeof out->fitter, "%s", fitter);
    out->builtin = forecast_is_builtin(fitter);
    out->n_entries = b->n * bs->n_budgets;
    out->e = calloc((size_t)out->n_entries, sizeof *out->e);
    if (!out->e) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    int rc = 0;
    for (int r = 0; r < b->n && !rc; r++) {
        BankRun *br = &b->runs[r];
        RunData *run = &br->run;
        double *xs = malloc(sizeof(double) * (size_t)run->n);
        char **rows = malloc(sizeof(char *) * (size_t)(br->n_rows + 1));
        if (!xs || !rows) {
            free(xs);
            free(rows);
            snprintf(err, ERR_LEN, "out of memory");
            return 2;
        }
        if (bs->progress)
            fprintf(stderr, "fitbench: %s: run %d of %d, %s\n", fitter, r + 1, b->n, br->name);
        for (int k = 0; k < bs->n_budgets && !rc; k++) {
            BenchEntry *e = &out->e[r * bs->n_budgets + k];
            e->cut = bs->budgets[k] * run->pts[run->n - 1].x;
            e->mae = e->max_err = e->last_err = NAN;
            e->n_held = held_points(run, e->cut, xs);
            e->n_prefix = run->n - e->n_held;
            if ((rc = forecast_init(&e->f, e->n_held, err))) break;
            if (e->n_held == 0 || e->n_prefix < FITBENCH_MIN_PREFIX) {
                e->skipped = 1;
                continue;
            }
            if (out->builtin) {
                rc = forecast_builtin(fitter, run, e->cut, &bs->fs, xs, &e->f, err);
            } else {
                int nr = prefix_rows(br, e->cut, rows);
                rc = forecast_external(fitter, bs->fs.x, rows, nr, xs, bs->timeout_s, &e->f, err);
            }
            if (!rc && e->f.status == FORECAST_OK) score_entry(run, e);
        }
        free(xs);
        free(rows);
    }
    if (!rc) aggregate(b, bs->n_budgets, out);
    return rc;
}

void fitbench_score_free(FitterScore *s)
{
    if (s->e)
        for (int i = 0; i < s->n_entries; i++) forecast_free(&s->e[i].f);
    free(s->e);
    s->e = NULL;
}
