/* A run directory as the fitter sees it: the eval rows of RUN/metrics.jsonl (rows with
 * "kind":"eval"; other kinds are skipped; RUN/metrics.jsonl.gz when only that exists, as in the
 * committed bank of bench/curves) and the recipe and seed from RUN/config.txt.
 *
 * Each eval row gives a point (x, y) where x is the chosen compute column (flops, wall_s, cpu_s, or
 * any numeric column) and y the chosen rate column, pass_rate or, on a mixed task, a family's
 * pass_rate_F (ref/rl/README.md); pass_rate_lo/_hi, when present and y is pass_rate, are the
 * point's interval. The
 * row at step 0 gives R0 and is not a point. A last line cut short (a run still writing) is
 * ignored and flagged; any other malformed line is an error naming the file and line. */
#ifndef SCALERL_RUNDATA_H
#define SCALERL_RUNDATA_H

#include "errbuf.h"
#include "ref/common/jsonl.h"

typedef struct {
    double x, y;   /* compute, pass rate (the y column) */
    double lo, hi; /* its interval; NaN when the row has none */
    double step;
} EvalPoint;

typedef struct {
    char dir[1024];
    char recipe[128]; /* config.txt label=, else recipe=, else the directory's name */
    long seed;
    int has_seed;
    EvalPoint *pts; /* eval rows after step 0, sorted by x (then step) */
    int n;
    int has_r0;     /* a step-0 eval row was found */
    double r0;      /* its pass rate (the y column) */
    double r0_lo, r0_hi; /* its interval; NaN when the row has none */
    int truncated;  /* a partial last line was ignored */
    int gz;         /* the rows came from metrics.jsonl.gz */
    int finished;   /* the file has the run's closing row ("kind":"run", ref/rl/runlog.h) */
} RunData;

/* Loads dir with x taken from column xcol and y from ycol (a fraction in [0, 1]). 0, 1 (bad
 * content: message names file, line and what was expected) or 2 (I/O). On failure nothing needs
 * freeing. */
int rundata_load(RunData *r, const char *dir, const char *xcol, const char *ycol, char *err);
void rundata_free(RunData *r);
/* Loads runs[i] from dirs[i] for i < n, stopping at the first failure; *n_loaded counts the runs
 * loaded (to free). A run whose partial last line was ignored gets a note on stderr
 * ("scalerl CMD: note: ..."). */
int rundata_load_all(RunData *runs, const char *const *dirs, int n, const char *xcol, const char *ycol,
                     const char *cmd, int *n_loaded, char *err);

/* 0 when the file `out` (the value of key=) is none of the files the runs in dirs are read from
 * (metrics.jsonl or its .gz, config.txt, or what a symlink of theirs points to; compared as
 * directory entries, so another spelling of the path is caught), else 1 with err: writing it (a
 * rename into place) would replace an input. */
int rundata_check_output(const char *out, const char *key, const char *const *dirs, int n, char *err);
/* The same for one file: 0 when `out` is not path (nor what path's symlink points to), else 1
 * with err naming both and saying what path is (e.g. "an input of this command"). */
int rundata_check_file(const char *out, const char *key, const char *path, const char *what, char *err);

/* The eval rows of dir's metrics as the file has them, step-0 row included, in file order, without
 * their newlines (for fitters that read metrics.jsonl rows themselves); free with
 * rundata_free_list. A truncated last line is skipped. 0, 1 (bad line, named) or 2 (I/O). */
int rundata_eval_lines(const char *dir, char ***lines, int *n, char *err);

/* Every directory at or under root holding a metrics.jsonl or metrics.jsonl.gz (not descending
 * into run directories), sorted by path; a directory reached a second time (a symlink to it, a
 * link cycle) is skipped, so no run counts twice. 0, 1 when there is none, 2 on I/O errors. */
int rundata_find(const char *root, char ***dirs, int *n, char *err);
void rundata_free_list(char **dirs, int n);

/* Every row of DIR/metrics.jsonl (or .gz) that has a "kind", in file order, handed to fn (path
 * and lineno for its messages); a nonzero return of fn stops and is returned. A cut last line is
 * skipped and flagged in *truncated; any other malformed line is an error naming the file and
 * line. */
typedef int (*MetricsRowFn)(void *ctx, const char *kind, const JsonObj *o, const char *path, long lineno, char *err);
int metrics_rows(const char *dir, MetricsRowFn fn, void *ctx, int *truncated, char *err);

/* Numeric columns of one kind of row against an x column: for each key, the (x, value) pairs of
 * the rows where both are finite numbers, in file order; a key no row has gets n = 0. */
typedef struct {
    const char *key; /* not owned */
    double *x, *y;
    int n, cap;
} RunColumn;

typedef struct {
    RunColumn *col;
    int n;
    int truncated;
} RunColumns;

int rundata_columns(const char *dir, const char *kind, const char *xcol, const char *const *keys, int n_keys,
                    RunColumns *out, char *err);
void rundata_columns_free(RunColumns *c);

#endif
