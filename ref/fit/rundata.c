#include "ref/fit/rundata.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/common/jsonl.h"
#include "ref/common/lines.h"
#include "ref/common/util.h"

#define FIND_MAX_DEPTH 8

/* The last component of dir, ignoring trailing slashes. */
static void base_name(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(out, n, "%.*s", (int)(len - start), dir + start);
}

/* recipe= (or label=, which names a recipe changed by keys, and wins) and seed= from
 * config.txt; an absent file leaves the defaults. */
static int read_config(RunData *r, char *err)
{
    char path[1100];
    if (path_join(path, sizeof path, r->dir, "config.txt", err)) return 1;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    char line[2048];
    int rc = 0, labelled = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = trim_space(line);
        if (strncmp(s, "label=", 6) == 0 && s[6]) {
            snprintf(r->recipe, sizeof r->recipe, "%s", s + 6);
            labelled = 1;
        } else if (strncmp(s, "recipe=", 7) == 0 && s[7]) {
            if (!labelled) snprintf(r->recipe, sizeof r->recipe, "%s", s + 7);
        } else if (strncmp(s, "seed=", 5) == 0) {
            char *end;
            errno = 0;
            long v = strtol(s + 5, &end, 10);
            if (end != s + 5 && *end == 0 && !errno) {
                r->seed = v;
                r->has_seed = 1;
            }
        }
    }
    if (ferror(f)) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        rc = 2;
    }
    fclose(f);
    return rc;
}

/* Lists the numeric fields of an eval row, for the error naming a missing x column. */
static void numeric_fields(const JsonObj *o, char *out, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < o->n && len + 1 < n; i++) {
        if (o->f[i].type != JSON_NUM) continue;
        len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", o->f[i].key);
    }
}

static int cmp_point(const void *a, const void *b)
{
    const EvalPoint *p = a, *q = b;
    if (p->x != q->x) return (p->x > q->x) - (p->x < q->x);
    return (p->step > q->step) - (p->step < q->step);
}

static int add_point(RunData *r, int *cap, EvalPoint pt, char *err)
{
    if (r->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        EvalPoint *p = realloc(r->pts, sizeof(EvalPoint) * (size_t)nc);
        if (!p) {
            snprintf(err, ERR_LEN, "out of memory reading eval rows");
            return 2;
        }
        r->pts = p;
        *cap = nc;
    }
    r->pts[r->n++] = pt;
    return 0;
}

/* One eval row into r, y from column ycol (pass_rate, or a family's pass_rate_F); 1 with err on
 * a missing or non-finite required value. */
static int take_eval_row(RunData *r, int *cap, const JsonObj *o, const char *path, long lineno,
                         const char *xcol, const char *ycol, char *err)
{
    double step, y, x, lo, hi;
    if (!jsonl_num(o, "step", &step) || !isfinite(step)) {
        snprintf(err, ERR_LEN, "%s:%ld: eval row without a finite number in 'step'", path, lineno);
        return 1;
    }
    if (!jsonl_num(o, ycol, &y) || !isfinite(y)) {
        char names[400];
        numeric_fields(o, names, sizeof names);
        snprintf(err, ERR_LEN, "%s:%ld: eval row without a finite number in '%s' (its numeric columns: %s)", path,
                 lineno, ycol, names);
        return 1;
    }
    /* A pass rate is a fraction; its interval's ends too, when the row has them. */
    const char *const rates[] = {ycol, "pass_rate_lo", "pass_rate_hi"};
    for (int i = 0; i < 3; i++) {
        double v;
        if (jsonl_num(o, rates[i], &v) && isfinite(v) && !(v >= 0 && v <= 1)) {
            snprintf(err, ERR_LEN, "%s:%ld: eval row with %s %g: expected a number in [0, 1]", path, lineno, rates[i], v);
            return 1;
        }
    }
    /* The interval is the overall pass rate's: it belongs to y only when y is that rate. */
    const int has_interval = strcmp(ycol, "pass_rate") == 0 && jsonl_num(o, "pass_rate_lo", &lo) &&
                             jsonl_num(o, "pass_rate_hi", &hi) && isfinite(lo) && isfinite(hi);
    if (step == 0) {
        r->has_r0 = 1;
        r->r0 = y;
        r->r0_lo = has_interval ? lo : NAN;
        r->r0_hi = has_interval ? hi : NAN;
        return 0;
    }
    if (!jsonl_num(o, xcol, &x)) {
        char names[400];
        numeric_fields(o, names, sizeof names);
        snprintf(err, ERR_LEN, "%s:%ld: eval row has no numeric column '%s' (expected one of: %s)", path, lineno,
                 xcol, names);
        return 1;
    }
    if (!isfinite(x)) {
        snprintf(err, ERR_LEN, "%s:%ld: non-finite '%s' in an eval row", path, lineno, xcol);
        return 1;
    }
    EvalPoint pt = {x, y, has_interval ? lo : NAN, has_interval ? hi : NAN, step};
    return add_point(r, cap, pt, err);
}

/* DIR/metrics.jsonl (1), or DIR/metrics.jsonl.gz when only that exists (2); 0 when neither does. */
static int metrics_path(const char *dir, char *path, size_t n)
{
    struct stat st;
    const char *names[] = {"metrics.jsonl", "metrics.jsonl.gz"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, n, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return i + 1;
    }
    snprintf(path, n, "%s/metrics.jsonl", dir);
    return 0;
}

/* metrics_rows with, for fn, each row's line as the file has it (raw; NULL unless want_raw) and,
 * for the caller, whether the rows came from metrics.jsonl.gz. */
typedef int (*RawRowFn)(void *ctx, const char *kind, const JsonObj *o, const char *raw, const char *path, long lineno,
                        char *err);

static int rows_of(const char *dir, int want_raw, RawRowFn fn, void *ctx, int *truncated, int *gz, char *err)
{
    char path[1100];
    *truncated = 0;
    if (strlen(dir) > sizeof path - 32) {
        snprintf(err, ERR_LEN, "path too long: '%.100s...'", dir);
        return 1;
    }
    *gz = metrics_path(dir, path, sizeof path) == 2;
    LineReader lr;
    int rc = lines_open(&lr, path, err);
    if (rc) return rc;
    JsonObj *o = malloc(sizeof *o);
    char *raw = NULL;
    size_t raw_cap = 0, len;
    long lineno = 0;
    int got = 0;
    if (!o) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    while (!rc && (got = lines_next(&lr, &len, err)) == 1) {
        lineno++;
        char *line = lr.buf, *s = line;
        int complete = line[len - 1] == '\n';
        while (isspace((unsigned char)*s)) s++;
        if (*s == 0) continue;
        if (want_raw) {
            if (len + 1 > raw_cap) {
                char *b = realloc(raw, len + 1);
                if (!b) {
                    snprintf(err, ERR_LEN, "out of memory");
                    rc = 2;
                    break;
                }
                raw = b;
                raw_cap = len + 1;
            }
            memcpy(raw, line, len + 1);
            while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r')) raw[--len] = 0;
        }
        char perr[ERR_LEN];
        if (jsonl_parse(line, o, perr)) {
            /* Only an unterminated last line may be cut short: a writer appending to it. */
            if (!complete) {
                *truncated = 1;
                break;
            }
            snprintf(err, ERR_LEN, "%s:%ld: %s", path, lineno, perr);
            rc = 1;
            break;
        }
        const char *kind = jsonl_str(o, "kind");
        if (kind) rc = fn(ctx, kind, o, raw, path, lineno, err);
    }
    if (!rc && got == 2) rc = 2;
    free(raw);
    free(o);
    lines_close(&lr);
    return rc;
}

typedef struct {
    MetricsRowFn fn;
    void *ctx;
} PlainRows;

static int plain_row(void *ctx, const char *kind, const JsonObj *o, const char *raw, const char *path, long lineno,
                     char *err)
{
    PlainRows *p = ctx;
    (void)raw;
    return p->fn(p->ctx, kind, o, path, lineno, err);
}

int metrics_rows(const char *dir, MetricsRowFn fn, void *ctx, int *truncated, char *err)
{
    PlainRows p = {fn, ctx};
    int gz;
    return rows_of(dir, 0, plain_row, &p, truncated, &gz, err);
}

typedef struct {
    RunData *r;
    const char *xcol, *ycol;
    int cap;
} EvalReader;

static int eval_row(void *ctx, const char *kind, const JsonObj *o, const char *raw, const char *path, long lineno,
                    char *err)
{
    EvalReader *e = ctx;
    (void)raw;
    if (strcmp(kind, "run") == 0) e->r->finished = 1;
    if (strcmp(kind, "eval") != 0) return 0;
    return take_eval_row(e->r, &e->cap, o, path, lineno, e->xcol, e->ycol, err);
}

static int read_metrics(RunData *r, const char *xcol, const char *ycol, char *err)
{
    EvalReader e = {r, xcol, ycol, 0};
    int rc = rows_of(r->dir, 0, eval_row, &e, &r->truncated, &r->gz, err);
    if (!rc && r->n > 1) qsort(r->pts, (size_t)r->n, sizeof(EvalPoint), cmp_point);
    return rc;
}

typedef struct {
    RunColumns *rc;
    const char *kind, *xcol;
} ColumnReader;

static int column_add(RunColumn *c, double x, double y)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 256;
        double *nx = realloc(c->x, sizeof(double) * (size_t)nc);
        if (!nx) return 1;
        c->x = nx;
        double *ny = realloc(c->y, sizeof(double) * (size_t)nc);
        if (!ny) return 1;
        c->y = ny;
        c->cap = nc;
    }
    c->x[c->n] = x;
    c->y[c->n++] = y;
    return 0;
}

static int column_row(void *ctx, const char *kind, const JsonObj *o, const char *path, long lineno, char *err)
{
    ColumnReader *cr = ctx;
    (void)path;
    (void)lineno;
    double x, y;
    if (strcmp(kind, cr->kind) != 0 || !jsonl_num(o, cr->xcol, &x) || !isfinite(x)) return 0;
    for (int i = 0; i < cr->rc->n; i++) {
        RunColumn *c = &cr->rc->col[i];
        if (jsonl_num(o, c->key, &y) && isfinite(y) && column_add(c, x, y)) {
            snprintf(err, ERR_LEN, "out of memory reading %s rows", cr->kind);
            return 2;
        }
    }
    return 0;
}

int rundata_columns(const char *dir, const char *kind, const char *xcol, const char *const *keys, int n_keys,
                    RunColumns *out, char *err)
{
    memset(out, 0, sizeof *out);
    if (!(out->col = calloc((size_t)(n_keys > 0 ? n_keys : 1), sizeof *out->col))) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    out->n = n_keys;
    for (int i = 0; i < n_keys; i++) out->col[i].key = keys[i];
    ColumnReader cr = {out, kind, xcol};
    int rc = metrics_rows(dir, column_row, &cr, &out->truncated, err);
    if (rc) rundata_columns_free(out);
    return rc;
}

void rundata_columns_free(RunColumns *c)
{
    for (int i = 0; i < c->n && c->col; i++) {
        free(c->col[i].x);
        free(c->col[i].y);
    }
    free(c->col);
    memset(c, 0, sizeof *c);
}

int rundata_load(RunData *r, const char *dir, const char *xcol, const char *ycol, char *err)
{
    memset(r, 0, sizeof *r);
    if (strlen(dir) >= sizeof r->dir) {
        snprintf(err, ERR_LEN, "path too long: '%.100s...'", dir);
        return 1;
    }
    strcpy(r->dir, dir);
    r->r0_lo = r->r0_hi = NAN;
    base_name(dir, r->recipe, sizeof r->recipe);
    int rc = read_config(r, err);
    if (!rc) rc = read_metrics(r, xcol, ycol, err);
    if (rc) rundata_free(r);
    return rc;
}

int rundata_load_all(RunData *runs, const char *const *dirs, int n, const char *xcol, const char *ycol,
                     const char *cmd, int *n_loaded, char *err)
{
    *n_loaded = 0;
    for (int i = 0; i < n; i++) {
        int rc = rundata_load(&runs[i], dirs[i], xcol, ycol, err);
        if (rc) return rc;
        (*n_loaded)++;
        if (runs[i].truncated)
            fprintf(stderr, "scalerl %s: note: %s/metrics.jsonl%s: ignored a truncated last line (run still writing?)\n",
                    cmd, dirs[i], runs[i].gz ? ".gz" : "");
    }
    return 0;
}

int rundata_check_file(const char *out, const char *key, const char *path, const char *what, char *err)
{
    if (!path_replaces(out, path)) return 0;
    snprintf(err, ERR_LEN, "%s='%s' is '%s', %s: writing it would replace it (choose another file)", key, out, path,
             what);
    return 1;
}

int rundata_check_output(const char *out, const char *key, const char *const *dirs, int n, char *err)
{
    static const char *const inputs[] = {"metrics.jsonl", "metrics.jsonl.gz", "config.txt"};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            char path[1100];
            if (path_join(path, sizeof path, dirs[i], inputs[k], err)) return 1;
            if (rundata_check_file(out, key, path, "an input of this command", err)) return 1;
        }
    return 0;
}

void rundata_free(RunData *r)
{
    free(r->pts);
    r->pts = NULL;
    r->n = 0;
}

typedef struct {
    char **dirs;
    int n, cap;
} DirList;

static int list_add(DirList *l, const char *dir, char *err)
{
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 16;
        char **d = realloc(l->dirs, sizeof(char *) * (size_t)nc);
        if (!d) {
            snprintf(err, ERR_LEN, "out of memory");
            return 2;
        }
        l->dirs = d;
        l->cap = nc;
    }
    if (!(l->dirs[l->n] = strdup(dir))) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    l->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories a walk has entered, by device and inode: a directory reached twice (through a
 * symlink to it, or a link cycle) would count its runs as more seeds. */
typedef struct {
    struct {
        dev_t dev;
        ino_t ino;
    } *id;
    int n, cap;
} Seen;

/* 1 if dir was seen before, else records it and returns 0 (2 with err: out of memory or stat). */
static int seen_before(Seen *s, const char *dir, char *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(err, ERR_LEN, "cannot read directory '%s': %s", dir, strerror(errno));
        return 2;
    }
    for (int i = 0; i < s->n; i++)
        if (s->id[i].dev == st.st_dev && s->id[i].ino == st.st_ino) return 1;
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 64;
        void *id = realloc(s->id, sizeof *s->id * (size_t)nc);
        if (!id) {
            snprintf(err, ERR_LEN, "out of memory");
            return 2;
        }
        s->id = id;
        s->cap = nc;
    }
    s->id[s->n].dev = st.st_dev;
    s->id[s->n++].ino = st.st_ino;
    return 0;
}

static int walk(const char *dir, int depth, DirList *l, Seen *seen, char *err)
{
    char path[1100];
    if (path_join(path, sizeof path, dir, "metrics.jsonl", err)) return 1;
    struct stat st;
    int rc = seen_before(seen, dir, err);
    if (rc) return rc == 1 ? 0 : rc;
    if (metrics_path(dir, path, sizeof path)) return list_add(l, dir, err);
    if (depth >= FIND_MAX_DEPTH) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, ERR_LEN, "cannot read directory '%s': %s", dir, strerror(errno));
        return 2;
    }
    /* Names first, sorted, so that the walk order (and the output) does not depend on the file
     * system's order. */
    DirList sub = {0};
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((rc = path_join(path, sizeof path, dir, e->d_name, err))) break;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rc = list_add(&sub, path, err);
    }
    closedir(d);
    if (sub.n > 1) qsort(sub.dirs, (size_t)sub.n, sizeof(char *), cmp_str);
    for (int i = 0; i < sub.n && !rc; i++) rc = walk(sub.dirs[i], depth + 1, l, seen, err);
    rundata_free_list(sub.dirs, sub.n);
    return rc;
}

int rundata_find(const char *root, char ***dirs, int *n, char *err)
{
    DirList l = {0};
    *dirs = NULL;
    *n = 0;
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, ERR_LEN, "'%s' is not a directory", root);
        return 2;
    }
    Seen seen = {0};
    int rc = walk(root, 0, &l, &seen, err);
    free(seen.id);
    if (!rc && l.n == 0) {
        snprintf(err, ERR_LEN, "no run directories (holding metrics.jsonl or metrics.jsonl.gz) under '%s'", root);
        rc = 1;
    }
    if (rc) {
        rundata_free_list(l.dirs, l.n);
        return rc;
    }
    *dirs = l.dirs;
    *n = l.n;
    return 0;
}

void rundata_free_list(char **dirs, int n)
{
    for (int i = 0; i < n; i++) free(dirs[i]);
    free(dirs);
}

typedef struct {
    DirList lines;
} RawCtx;

static int keep_raw(void *vctx, const char *kind, const JsonObj *o, const char *raw, const char *path, long lineno,
                    char *err)
{
    RawCtx *c = vctx;
    (void)o;
    (void)path;
    (void)lineno;
    return strcmp(kind, "eval") == 0 ? list_add(&c->lines, raw, err) : 0;
}

int rundata_eval_lines(const char *dir, char ***lines, int *n, char *err)
{
    RawCtx ctx = {{0}};
    int truncated, gz;
    *lines = NULL;
    *n = 0;
    int rc = rows_of(dir, 1, keep_raw, &ctx, &truncated, &gz, err);
    if (rc) {
        rundata_free_list(ctx.lines.dirs, ctx.lines.n);
        return rc;
    }
    *lines = ctx.lines.dirs;
    *n = ctx.lines.n;
    return 0;
}
