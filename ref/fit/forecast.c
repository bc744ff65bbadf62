#include "ref/fit/forecast.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ref/common/jsonl.h"
#include "ref/common/util.h"
#include "ref/fit/extproc.h"

const char *const forecast_builtin_names[] = {"loglogistic", "weibull", "powerlaw", NULL};

#define Z95 1.959964
/* Two asked x values closer than this (relative) are the same point: a fitter may print x with
 * fewer digits than we wrote it, and neighbouring evals differ by far more. */
#define X_MATCH_REL 1e-6

int forecast_is_builtin(const char *name)
{
    for (int i = 0; forecast_builtin_names[i]; i++)
        if (strcmp(name, forecast_builtin_names[i]) == 0) return 1;
    return 0;
}

int forecast_init(Forecast *f, int n, char *err)
{
    memset(f, 0, sizeof *f);
    f->status = FORECAST_FAILED;
    f->n = n;
    f->R = malloc(sizeof(double) * 3 * (size_t)(n > 0 ? n : 1));
    if (!f->R) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    f->lo = f->R + n;
    f->hi = f->R + 2 * n;
    for (int i = 0; i < 3 * n; i++) f->R[i] = NAN;
    return 0;
}

void forecast_free(Forecast *f)
{
    free(f->R);
    f->R = f->lo = f->hi = NULL;
}

/* The curve's bootstrap band widened by the scatter s of single points (see the header). */
static void widen(double R, double q_lo, double q_hi, double s, double *lo, double *hi)
{
    if (!isfinite(q_lo) || !isfinite(q_hi) || !isfinite(s)) {
        *lo = *hi = NAN;
        return;
    }
    double a = R - q_lo > 0 ? R - q_lo : 0, b = q_hi - R > 0 ? q_hi - R : 0, e = Z95 * s;
    *lo = R - sqrt(a * a + e * e);
    *hi = R + sqrt(b * b + e * e);
}

int forecast_builtin(const char *name, RunData *r, double cut, const FitSettings *s, const double *xs, Forecast *f,
                     char *err)
{
    int pl = strcmp(name, "powerlaw") == 0;
    FitSettings fs = *s;
    fs.fit_until = cut;
    fs.fit_until_frac = 0;
    fs.form = strcmp(name, "weibull") == 0 ? FORM_WEIBULL : FORM_LOGLOGISTIC;
    fs.boot_powerlaw = pl;
    CurveFit c;
    char e[ERR_LEN];
    double t0 = wall_seconds();
    int rc = curve_fit(&r, 1, &fs, NULL, fs.boot, &c, e);
    f->seconds = wall_seconds() - t0;
    if (rc == 2) {
        curve_free(&c);
        snprintf(err, ERR_LEN, "%s", e);
        return 2;
    }
    if (rc) {
        snprintf(f->why, sizeof f->why, "%s", e);
        curve_free(&c);
        return 0;
    }
    if (pl && !c.has_pl) {
        snprintf(f->why, sizeof f->why, "the power-law fit did not converge");
        curve_free(&c);
        return 0;
    }
    double bound = c.y_best > 1 ? c.y_best : 1;
    f->unidentified = pl ? c.pl.p.A >= 1 : c.sig.A_at_bound || (c.has_ci && c.A_hi >= bound - 1e-9);
    int n_fit = pl ? c.pl.n : c.sig.n;
    double sse = pl ? c.pl.sse : c.sig.sse;
    double scatter = n_fit > 3 ? sqrt(sse / (n_fit - 3)) : NAN;
    for (int i = 0; i < f->n; i++) {
        double q_lo, q_hi;
        if (pl) curve_predict_powerlaw(&c, xs[i], &f->R[i], &q_lo, &q_hi);
        else curve_predict(&c, xs[i], &f->R[i], &q_lo, &q_hi);
        widen(f->R[i], q_lo, q_hi, scatter, &f->lo[i], &f->hi[i]);
    }
    f->status = FORECAST_OK;
    curve_free(&c);
    return 0;
}

/* Marks f failed with a printf-style reason; returns 0 for `return fail(...)`. */
static int fail(Forecast *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
    f->status = FORECAST_FAILED;
    return 0;
}

/* One prediction line into f; 0 with f failed (why set) when it breaks the protocol. */
static int take_line(const JsonObj *o, const double *xs, unsigned char *seen, long lineno, Forecast *f)
{
    const JsonField *id = jsonl_field(o, "identified");
    if (id) {
        if (id->type != JSON_BOOL) return fail(f, "line %ld: \"identified\" must be true or false", lineno);
        if (id->num == 0) f->unidentified = 1;
        if (!jsonl_field(o, "x")) return 1;
    }
    double x, R, lo = NAN, hi = NAN;
    if (!jsonl_num(o, "x", &x) || !isfinite(x)) return fail(f, "line %ld: expected a finite number in \"x\"", lineno);
    if (!jsonl_num(o, "R", &R) || !isfinite(R))
        return fail(f, "line %ld: expected a finite number in \"R\" at x=%g", lineno, x);
    const JsonField *flo = jsonl_field(o, "lo"), *fhi = jsonl_field(o, "hi");
    if ((flo && flo->type != JSON_NULL && (flo->type != JSON_NUM || !isfinite(flo->num))) ||
        (fhi && fhi->type != JSON_NULL && (fhi->type != JSON_NUM || !isfinite(fhi->num))))
        return fail(f, "line %ld: \"lo\" and \"hi\" must be finite numbers (or absent) at x=%g", lineno, x);
    if (flo && flo->type == JSON_NUM) lo = flo->num;
    if (fhi && fhi->type == JSON_NUM) hi = fhi->num;
    if (isfinite(lo) != isfinite(hi))
        return fail(f, "line %ld: \"lo\" without \"hi\" or the other way round at x=%g", lineno, x);
    if (isfinite(lo) && lo > hi) return fail(f, "line %ld: \"lo\" above \"hi\" at x=%g", lineno, x);
    int k = -1;
    for (int i = 0; i < f->n && k < 0; i++)
        if (fabs(x - xs[i]) <= X_MATCH_REL * fabs(xs[i])) k = i;
    if (k < 0) return fail(f, "line %ld: x=%g was not asked for", lineno, x);
    if (seen[k]) return fail(f, "line %ld: a second prediction for x=%g", lineno, x);
    seen[k] = 1;
    f->R[k] = R;
    f->lo[k] = lo;
    f->hi[k] = hi;
    return 1;
}

void forecast_parse(const char *out, const double *xs, Forecast *f)
{
    unsigned char *seen = calloc((size_t)(f->n > 0 ? f->n : 1), 1);
    JsonObj *o = malloc(sizeof *o);
    size_t len = strlen(out);
    char *copy = malloc(len + 1);
    if (!seen || !o || !copy) {
        snprintf(f->why, sizeof f->why, "out of memory reading the fitter's output");
        f->status = FORECAST_FAILED;
        free(seen), free(o), free(copy);
        return;
    }
    memcpy(copy, out, len + 1);
    f->status = FORECAST_OK;
    long lineno = 0;
    int ok = 1;
    for (char *line = copy; ok && line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r') s++;
        if (*s) {
            char perr[ERR_LEN];
            if (jsonl_parse(line, o, perr)) {
                snprintf(f->why, sizeof f->why, "line %ld: not a JSON object (%s)", lineno, perr);
                f->status = FORECAST_FAILED;
                ok = 0;
            } else {
                ok = take_line(o, xs, seen, lineno, f);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (ok) {
        int answered = 0, first = -1;
        for (int i = 0; i < f->n; i++) {
            answered += seen[i];
            if (!seen[i] && first < 0) first = i;
        }
        if (answered == 0 && f->unidentified) {
            f->status = FORECAST_DECLINED;
        } else if (first >= 0) {
            snprintf(f->why, sizeof f->why, "no prediction for x=%g (%d of %d answered)", xs[first], answered, f->n);
            f->status = FORECAST_FAILED;
        }
    }
    free(seen);
    free(o);
    free(copy);
}

int forecast_external(const char *cmd, const char *xcol, char *const *rows, int n_rows, const double *xs,
                      double timeout_s, Forecast *f, char *err)
{
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    jw_str(&w, "kind", "query");
    jw_str(&w, "x", xcol);
    jw_num_array(&w, "predict", xs, f->n);
    int rc = jw_finish(&w, err);
    size_t len = w.len + 1;
    for (int i = 0; i < n_rows; i++) len += strlen(rows[i]) + 1;
    char *input = rc ? NULL : malloc(len + 1);
    if (!rc && !input) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    if (rc) {
        jw_free(&w);
        return rc;
    }
    size_t at = 0;
    memcpy(input, w.buf, w.len);
    at = w.len;
    input[at++] = '\n';
    for (int i = 0; i < n_rows; i++) {
        size_t l = strlen(rows[i]);
        memcpy(input + at, rows[i], l);
        at += l;
        input[at++] = '\n';
    }
    jw_free(&w);
    ExtProc p;
    rc = extproc_run(cmd, input, at, timeout_s, &p, err);
    free(input);
    if (rc) return rc;
    f->seconds = p.seconds;
    const char *tail = p.err_tail[0] ? p.err_tail : "(nothing on stderr)";
    if (p.timed_out) snprintf(f->why, sizeof f->why, "timed out after %g s", timeout_s);
    else if (p.out_overflow) snprintf(f->why, sizeof f->why, "more than %u bytes of output", EXTPROC_OUT_MAX);
    else if (p.signaled) snprintf(f->why, sizeof f->why, "killed by signal %d: %.200s", p.signal_no, tail);
    else if (!p.exited) snprintf(f->why, sizeof f->why, "did not exit");
    else if (p.exit_code != 0) snprintf(f->why, sizeof f->why, "exit %d: %.200s", p.exit_code, tail);
    else forecast_parse(p.out, xs, f);
    if (f->why[0] && f->status != FORECAST_FAILED) f->status = FORECAST_FAILED;
    extproc_free(&p);
    return 0;
}
