/* scalerl synth: a run directory of synthetic eval rows on a known curve (the log-logistic or
 * the faster-saturating Weibull form of ref/fit/fit.h), for validating the fitters and the
 * verdicts of compare. The rows follow the metrics.jsonl contract (with a "run" row and interleaved "step"
 * rows that readers must skip), so everything downstream reads them like a real run. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models/rng.h"
#include "ref/common/args.h"
#include "ref/cli/commands.h"
#include "ref/fit/fit.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"

enum { STREAM_SYNTH_NOISE = 0x5717 };

/* Synthetic throughput: wall seconds = FLOPs / 1e9, CPU seconds = 2 x wall (two threads). */
#define SYNTH_FLOPS_PER_S 1e9

typedef struct {
    int shape;
    double A, B, Cmid, R0, noise;
    long n, seed;
    double c_lo, c_hi;
    int spacing;
    char recipe[OPT_STR_LEN];
    char out[OPT_STR_LEN];
} SynthConfig;

static const OptSpec synth_opts[] = {
    {"shape", OPT_CHOICE, offsetof(SynthConfig, shape), "loglogistic", 0, 0, "loglogistic|weibull",
     "the curve: the paper's log-logistic, or the Weibull form, which reaches its ceiling faster"},
    {"A", OPT_FLOAT, offsetof(SynthConfig, A), "0.7", 0, 1, NULL, "ceiling of the curve"},
    {"B", OPT_FLOAT, offsetof(SynthConfig, B), "2", 0.01, 100, NULL,
     "steepness on a log compute axis (the Weibull form's exponent b)"},
    {"Cmid", OPT_FLOAT, offsetof(SynthConfig, Cmid), "1e14", 1e-300, 1e300, NULL, "compute at half of the gain"},
    {"R0", OPT_FLOAT, offsetof(SynthConfig, R0), "0.1", 0, 1, NULL, "pass rate at compute 0 (the step-0 row)"},
    {"noise", OPT_FLOAT, offsetof(SynthConfig, noise), "0", 0, 0.5, NULL,
     "standard deviation of Gaussian noise added to each pass rate (then clipped to [0,1])"},
    {"n", OPT_INT, offsetof(SynthConfig, n), "40", 1, 1000000, NULL, "eval rows after step 0"},
    {"seed", OPT_INT, offsetof(SynthConfig, seed), "1", 0, 2147483647, NULL, "seed of the noise"},
    {"c_lo", OPT_FLOAT, offsetof(SynthConfig, c_lo), "0", 0, 1e300, NULL, "first compute value (0: Cmid/100)"},
    {"c_hi", OPT_FLOAT, offsetof(SynthConfig, c_hi), "0", 0, 1e300, NULL, "last compute value (0: Cmid*100)"},
    {"spacing", OPT_CHOICE, offsetof(SynthConfig, spacing), "log", 0, 0, "log|even",
     "compute grid: log-spaced, or evenly spaced like evals every k steps"},
    {"recipe", OPT_STR, offsetof(SynthConfig, recipe), "synth", 0, 0, NULL, "recipe name written to config.txt"},
    {"out", OPT_STR, offsetof(SynthConfig, out), NULL, 0, 0, NULL, "run directory to write"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

/* A standard normal draw from two counter-based uniforms (Box-Muller). */
static double normal_draw(uint64_t seed, uint64_t index)
{
    double u1 = rng_uniform(seed, STREAM_SYNTH_NOISE, index, 0);
    double u2 = rng_uniform(seed, STREAM_SYNTH_NOISE, index, 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

static double noisy(const SynthConfig *c, double r, uint64_t index)
{
    double v = r + c->noise * normal_draw((uint64_t)c->seed, index);
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

static void eval_row(JsonWriter *w, const SynthConfig *c, long step, double C, double y)
{
    jw_begin(w);
    jw_str(w, "kind", "eval");
    jw_int(w, "step", step);
    jw_num(w, "flops", C);
    jw_num(w, "wall_s", C / SYNTH_FLOPS_PER_S);
    jw_num(w, "cpu_s", 2 * C / SYNTH_FLOPS_PER_S);
    jw_num(w, "pass_rate", y);
    /* The interval of a real eval is binomial; here it is the noise's 95% band. */
    double lo = y - 1.96 * c->noise, hi = y + 1.96 * c->noise;
    jw_num(w, "pass_rate_lo", lo < 0 ? 0 : lo);
    jw_num(w, "pass_rate_hi", hi > 1 ? 1 : hi);
    jw_int(w, "n", 1000);
    jw_int(w, "samples", 1000);
}

/* The rows into f, a temporary file of path (named in an error). */
static int write_metrics(const SynthConfig *c, FILE *f, const char *path, char *err)
{
    int rc;
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    jw_str(&w, "kind", "run");
    jw_str(&w, "recipe", c->recipe);
    jw_int(&w, "seed", c->seed);
    jw_str(&w, "source", "scalerl synth");
    rc = jw_end(&w, f, err);
    eval_row(&w, c, 0, 0, noisy(c, c->R0, 0));
    if (!rc) rc = jw_end(&w, f, err);
    Sigmoid s = {c->A, c->B, c->Cmid, c->R0, c->shape == 1 ? FORM_WEIBULL : FORM_LOGLOGISTIC};
    for (long i = 1; i <= c->n && !rc; i++) {
        double t = c->n > 1 ? (double)(i - 1) / (double)(c->n - 1) : 1;
        double C = c->spacing == 0 ? c->c_lo * pow(c->c_hi / c->c_lo, t) : c->c_lo + (c->c_hi - c->c_lo) * t;
        jw_begin(&w);
        jw_str(&w, "kind", "step");
        jw_int(&w, "step", i);
        jw_num(&w, "flops", C);
        jw_num(&w, "loss", 0);
        rc = jw_end(&w, f, err);
        eval_row(&w, c, i, C, noisy(c, sigmoid_at(&s, C), (uint64_t)i));
        if (!rc) rc = jw_end(&w, f, err);
    }
    jw_free(&w);
    if (rc) {
        char what[ERR_LEN];
        snprintf(what, sizeof what, "%s", err);
        snprintf(err, ERR_LEN, "%s: %s", path, what);
    }
    return rc;
}

/* DIR/metrics.jsonl and DIR/config.txt, both or neither: each is written to a temporary file, and
 * only when both are complete are they renamed, the metrics first. A failed write leaves the pair
 * that was there (or nothing); only a failed rename in between, which the directory itself would
 * have to refuse, could leave a new metrics.jsonl beside an old config.txt. */
static int write_run(const SynthConfig *c, char *err)
{
    AtomicFile metrics, config;
    char path[1100];
    int rc = path_join(path, sizeof path, c->out, "metrics.jsonl", err);
    if (!rc) rc = atomic_open(&metrics, path, err);
    if (rc) return rc;
    if (!(rc = write_metrics(c, metrics.f, path, err))) rc = atomic_close(&metrics, err);
    if (!rc) rc = path_join(path, sizeof path, c->out, "config.txt", err);
    if (!rc && !(rc = atomic_open(&config, path, err))) {
        opts_write(synth_opts, c, config.f);
        if (!(rc = atomic_close(&config, err)) && !(rc = atomic_rename(&metrics, err)))
            return atomic_rename(&config, err);
        atomic_abort(&config);
    }
    atomic_abort(&metrics);
    return rc;
}

/* 0 when out= is new, empty of runs, or a directory synth wrote before (its metrics.jsonl opens
 * with synth's "run" row): only then may its files be replaced. A training run's metrics and
 * config (or an archived run's .gz) are refused, since rewriting them would lose the run. */
static int check_out_dir(const char *dir, char *err)
{
    static const char *const files[] = {"metrics.jsonl", "metrics.jsonl.gz", "config.txt"};
    char path[1100];
    int rc;
    if ((rc = path_join(path, sizeof path, dir, "metrics.jsonl", err))) return rc;
    FILE *f = fopen(path, "r");
    if (f) {
        char line[256] = "";
        int synth = fgets(line, sizeof line, f) && strstr(line, "\"source\":\"scalerl synth\"");
        fclose(f);
        if (synth) return 0;
    }
    for (int k = 0; k < 3; k++) {
        if ((rc = path_join(path, sizeof path, dir, files[k], err))) return rc;
        if (file_exists(path)) {
            snprintf(err, ERR_LEN, "out='%s' holds a run that scalerl synth did not write ('%s'): writing there "
                     "would replace it (choose another directory)", dir, path);
            return 1;
        }
    }
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    static const CommandSpec spec = {
        "synth",
        "usage: scalerl synth out=DIR [key=value ...]\n\n"
        "Writes DIR/metrics.jsonl with eval rows on R(C) = R0 + (A - R0) / (1 + (Cmid/C)^B)\n"
        "(shape=weibull: R0 + (A - R0) (1 - 2^-((C/Cmid)^B))) plus Gaussian noise, and\n"
        "DIR/config.txt, for validating the fitters.\n",
        synth_opts, 0, "the directory is out=DIR"};
    char err[ERR_LEN];
    Args a;
    SynthConfig c;
    int rc;
    memset(&c, 0, sizeof c);
    if (!command_args(&spec, &a, &c, argc, argv, &rc)) return rc;
    if (c.c_lo == 0) c.c_lo = c.Cmid / 100;
    if (c.c_hi == 0) c.c_hi = c.Cmid * 100;
    if (!(c.c_lo < c.c_hi) || !isfinite(c.c_lo) || !isfinite(c.c_hi)) {
        snprintf(err, ERR_LEN, "bad compute range c_lo=%g c_hi=%g: expected 0 < c_lo < c_hi", c.c_lo, c.c_hi);
        return report_error("synth", 1, err);
    }
    if ((rc = check_out_dir(c.out, err))) return report_error("synth", rc, err);
    const int fresh = !file_exists(c.out);
    if ((rc = mkdir_p(c.out, err))) return report_error("synth", rc, err);
    if ((rc = write_run(&c, err))) {
        if (fresh) rmdir(c.out); /* empty again (its parents stay); should rmdir fail, it is left empty */
        return report_error("synth", rc, err);
    }
    return 0;
}
