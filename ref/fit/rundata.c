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

/* One eval row into r; 1 with err on a missing or non-finite required value. */
static int take_eval_row(RunData *r, int *cap, const JsonObj *o, const char *path, long lineno,
                         const char *xcol, char *err)
{
    double step, y, x, lo, hi;
    if (!jsonl_num(o, "step", &step) || !isfinite(step)) {
        snprintf(err, ERR_LEN, "%s:%ld: eval row without a finite number in 'step'", path, lineno);
        return 1;
    }
    if (!jsonl_num(o, "pass_rate", &y) || !isfinite(y)) {
        snprintf(err, ERR_LEN, "%s:%ld: eval row without a finite number in 'pass_rate'", path, lineno);
        return 1;
    }
    if (step == 0) {
        r->has_r0 = 1;
        r->r0 = y;
        r->r0_lo = r->r0_hi = NAN;
        if (jsonl_num(o, "pass_rate_lo", &lo) && jsonl_num(o, "pass_rate_hi", &hi) && isfinite(lo) && isfinite(hi)) {
            r->r0_lo = lo;
            r->r0_hi = hi;
        }
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
    EvalPoint pt = {x, y, NAN, NAN, step};
    if (jsonl_num(o, "pass_rate_lo", &lo) && jsonl_num(o, "pass_rate_hi", &hi) && isfinite(lo) && isfinite(hi)) {
        pt.lo = lo;
        pt.hi = hi;
    }
    return add_point(r, cap, pt, err);
}

int metrics_rows(const char *dir, MetricsRowFn fn, void *ctx, int *truncated, char *err)
{
    char path[1100];
    *truncated = 0;
    if (path_join(path, sizeof path, dir, "metrics.jsonl", err)) return 1;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    JsonObj *o = malloc(sizeof *o);
    if (!o) {
        fclose(f);
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    errno = 0;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        int complete = len > 0 && line[len - 1] == '\n';
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (*s == 0) continue;
        char perr[ERR_LEN];
        if (jsonl_parse(line, o, perr)) {
            /* Only an unterminated last line may be cut short: a writer appending to it. */
            int c = fgetc(f);
            if (!complete && c == EOF) {
                *truncated = 1;
                break;
            }
            snprintf(err, ERR_LEN, "%s:%ld: %s", path, lineno, perr);
            rc = 1;
            break;
        }
        const char *kind = jsonl_str(o, "kind");
        if (kind && (rc = fn(ctx, kind, o, path, lineno, err))) break;
    }
    if (!rc && ferror(f)) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        rc = 2;
    }
    free(o);
    free(line);
    fclose(f);
    return rc;
}

typedef struct {
    RunData *r;
    const char *xcol;
    int cap;
} EvalReader;

static int eval_row(void *ctx, const char *kind, const JsonObj *o, const char *path, long lineno, char *err)
{
    EvalReader *e = ctx;
    if (strcmp(kind, "eval") != 0) return 0;
    return take_eval_row(e->r, &e->cap, o, path, lineno, e->xcol, err);
}

static int read_metrics(RunData *r, const char *xcol, char *err)
{
    EvalReader e = {r, xcol, 0};
    int rc = metrics_rows(r->dir, eval_row, &e, &r->truncated, err);
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

int rundata_load(RunData *r, const char *dir, const char *xcol, char *err)
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
    if (!rc) rc = read_metrics(r, xcol, err);
    if (rc) rundata_free(r);
    return rc;
}

int rundata_load_all(RunData *runs, const char *const *dirs, int n, const char *xcol, const char *cmd, int *n_loaded,
                     char *err)
{
    *n_loaded = 0;
    for (int i = 0; i < n; i++) {
        int rc = rundata_load(&runs[i], dirs[i], xcol, err);
        if (rc) return rc;
        (*n_loaded)++;
        if (runs[i].truncated)
            fprintf(stderr, "scalerl %s: note: %s/metrics.jsonl: ignored a truncated last line (run still writing?)\n",
                    cmd, dirs[i]);
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

static int walk(const char *dir, int depth, DirList *l, char *err)
{
    char path[1100];
    if (path_join(path, sizeof path, dir, "metrics.jsonl", err)) return 1;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return list_add(l, dir, err);
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
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((rc = path_join(path, sizeof path, dir, e->d_name, err))) break;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) rc = list_add(&sub, path, err);
    }
    closedir(d);
    if (sub.n > 1) qsort(sub.dirs, (size_t)sub.n, sizeof(char *), cmp_str);
    for (int i = 0; i < sub.n && !rc; i++) rc = walk(sub.dirs[i], depth + 1, l, err);
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
    int rc = walk(root, 0, &l, err);
    if (!rc && l.n == 0) {
        snprintf(err, ERR_LEN, "no run directories (holding metrics.jsonl) under '%s'", root);
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
