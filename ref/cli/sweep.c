/* The sweep's grid, run states, locks and command lines (ref/cli/sweep.h); the process scheduler is
 * ref/cli/sweep_exec.c. */
#include "ref/cli/sweep.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ref/common/jsonl.h"
#include "ref/rl/recipe.h"
#include "ref/rl/resume.h"
#include "ref/common/util.h"

#define RECIPE_NAME_LEN 128

/* Keys the sweep sets per run itself; an extra key may not set them for every run. */
static const char *const per_run_keys[] = {"recipe", "seed", "out", NULL};

/* The preset of a recipes= entry PRESET[+key=value...] into preset[RECIPE_NAME_LEN]; returns its
 * length in the entry, where the +key=value pieces start. */
static size_t entry_preset(const char *entry, char *preset)
{
    size_t plen = strcspn(entry, "+");
    snprintf(preset, RECIPE_NAME_LEN, "%.*s", (int)plen, entry);
    return plen;
}

/* One entry of recipes=: a preset, optionally changed by keys, PRESET+key=value+key=value. The
 * entry is also the run directories' prefix and, when it has keys, the runs' label=. */
static int check_recipe_entry(const char *entry, char *err)
{
    char preset[RECIPE_NAME_LEN];
    size_t plen = entry_preset(entry, preset);
    if (!recipe_exists(preset)) {
        snprintf(err, ERR_LEN, "unknown recipe '%s' in recipes= (scalerl train recipe=list shows the presets)", preset);
        return 1;
    }
    if (strchr(entry, '/')) {
        snprintf(err, ERR_LEN, "recipes= entry '%s' has a '/': it names run directories", entry);
        return 1;
    }
    for (const char *p = entry + plen; *p == '+';) {
        const char *kv = p + 1;
        size_t len = strcspn(kv, "+");
        const char *eq = memchr(kv, '=', len);
        if (!eq || eq == kv) {
            snprintf(err, ERR_LEN, "recipes= entry '%s': '%.*s' is not key=value (expected PRESET+key=value+...)",
                     entry, (int)len, kv);
            return 1;
        }
        size_t klen = (size_t)(eq - kv);
        if (klen >= ARGS_KEY_LEN) {
            snprintf(err, ERR_LEN, "recipes= entry '%s': key '%.*s' is too long", entry, (int)klen, kv);
            return 1;
        }
        for (const char *const *k = per_run_keys; *k; k++)
            if (strlen(*k) == klen && strncmp(kv, *k, klen) == 0) {
                snprintf(err, ERR_LEN, "recipes= entry '%s': %s= is set per run by the sweep", entry, *k);
                return 1;
            }
        p = kv + len;
    }
    return 0;
}

static int parse_recipes(const char *list, char names[][RECIPE_NAME_LEN], int *n, char *err)
{
    *n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || len >= RECIPE_NAME_LEN) {
            snprintf(err, ERR_LEN, "recipes='%s': expected comma-separated recipe names, without empty ones", list);
            return 1;
        }
        if (*n >= SWEEP_MAX_RECIPES) {
            snprintf(err, ERR_LEN, "recipes='%s': at most %d recipes", list, SWEEP_MAX_RECIPES);
            return 1;
        }
        char *name = names[*n];
        memcpy(name, p, len);
        name[len] = 0;
        if (check_recipe_entry(name, err)) return 1;
        for (int i = 0; i < *n; i++)
            if (strcmp(names[i], name) == 0) {
                snprintf(err, ERR_LEN, "recipe '%s' appears twice in recipes=", name);
                return 1;
            }
        (*n)++;
        if (!end) return 0;
        p = end + 1;
    }
}

/* A nonnegative decimal integer, the whole of [s, s+len). */
static int parse_count(const char *s, size_t len, long *v)
{
    if (len == 0 || len > 15) return 0;
    long x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

/* "N" is seeds 1..N; "A-B" is seeds A..B. */
static int parse_seeds(const char *s, long *lo, long *hi, char *err)
{
    const char *dash = strchr(s, '-');
    int ok = dash ? parse_count(s, (size_t)(dash - s), lo) && parse_count(dash + 1, strlen(dash + 1), hi)
                  : parse_count(s, strlen(s), hi) && (*lo = 1, *hi >= 1);
    if (!ok || *lo > *hi || *hi - *lo >= SWEEP_MAX_SEEDS) {
        snprintf(err, ERR_LEN, "seeds='%s': expected a count N (seeds 1..N) or a range A-B (A <= B), at most %d seeds",
                 s, SWEEP_MAX_SEEDS);
        return 1;
    }
    return 0;
}

/* base (OPT_STR_LEN) gets the run's resolved base=. */
static int build_run(SweepRun *r, const char *recipe, long seed, const char *out, const Args *extra, Args *ta,
                     int need_base, char *base, char *err)
{
    char sv[32];
    snprintf(sv, sizeof sv, "%ld", seed);
    if ((size_t)snprintf(r->name, sizeof r->name, "%s-s%ld", recipe, seed) >= sizeof r->name ||
        (size_t)snprintf(r->dir, sizeof r->dir, "%s/%s", out, r->name) >= OPT_STR_LEN) {
        snprintf(err, ERR_LEN, "out='%.200s': path too long for its run directories", out);
        return 1;
    }
    r->seed = seed;
    /* recipe is an entry checked by check_recipe_entry: PRESET or PRESET+key=value+... Its keys
     * come after the sweep's common keys, so that they win. */
    char preset[RECIPE_NAME_LEN];
    size_t plen = entry_preset(recipe, preset);
    int rc = args_parse(ta, "sweep", 0, NULL, err);
    if (!rc) rc = args_set(ta, "recipe", preset, err);
    if (!rc && recipe[plen]) rc = args_set(ta, "label", recipe, err);
    if (!rc) rc = args_set(ta, "seed", sv, err);
    if (!rc) rc = args_set(ta, "out", r->dir, err);
    for (int i = 0; i < extra->n && !rc; i++)
        if (!extra->kv[i].used) rc = args_set(ta, extra->kv[i].key, extra->kv[i].val, err);
    for (const char *p = recipe + plen; *p == '+' && !rc;) {
        const char *kv = p + 1;
        size_t len = strcspn(kv, "+"), klen = strcspn(kv, "=");
        char key[ARGS_KEY_LEN], val[ARGS_VAL_LEN];
        snprintf(key, sizeof key, "%.*s", (int)klen, kv);
        snprintf(val, sizeof val, "%.*s", (int)(len - klen - 1), kv + klen + 1);
        rc = args_set(ta, key, val, err);
        p = kv + len;
    }
    if (rc) return rc;
    TrainConfig c;
    if ((rc = recipe_resolve(&c, ta, err)) || (rc = resume_check_out(&c, err))) return rc;
    for (int i = 0; i < ta->n; i++)
        if (!ta->kv[i].used) {
            snprintf(err, ERR_LEN, "unknown key '%s': neither a sweep key nor a train key (see scalerl sweep --help)",
                     ta->kv[i].key);
            return 1;
        }
    if (need_base && !file_exists(c.base)) {
        snprintf(err, ERR_LEN, "base='%s': no such file (expected a checkpoint from scalerl pretrain)", c.base);
        return 1;
    }
    snprintf(base, OPT_STR_LEN, "%s", c.base);
    if (!(r->config = run_config_text(&c))) {
        snprintf(err, ERR_LEN, "out of memory resolving run %s", r->name);
        return 2;
    }
    r->argv = calloc((size_t)ta->n + 1, sizeof *r->argv);
    if (!r->argv) {
        snprintf(err, ERR_LEN, "out of memory resolving run %s", r->name);
        return 2;
    }
    for (r->argc = 0; r->argc < ta->n; r->argc++) {
        const ArgPair *kv = &ta->kv[r->argc];
        size_t n = strlen(kv->key) + strlen(kv->val) + 2;
        if (!(r->argv[r->argc] = malloc(n))) {
            snprintf(err, ERR_LEN, "out of memory resolving run %s", r->name);
            return 2;
        }
        snprintf(r->argv[r->argc], n, "%s=%s", kv->key, kv->val);
    }
    return 0;
}

/* A run directory by device and inode: stat(2) follows symlinks, so a path through a symlink or
 * '..' names the same directory. */
typedef struct {
    dev_t dev;
    ino_t ino;
    int run;
} RunDirId;

/* 0 when none of base's directories (nor base itself) is one of ids' run directories, else 1 with
 * err naming it; 2 when base cannot be resolved. */
static int check_base_outside(const SweepGrid *g, const RunDirId *ids, int n, const char *base, char *err)
{
    char real[PATH_MAX];
    if (!realpath(base, real)) {
        snprintf(err, ERR_LEN, "cannot resolve base='%s': %s", base, strerror(errno));
        return 2;
    }
    for (;;) {
        struct stat st;
        if (stat(real, &st) != 0) {
            snprintf(err, ERR_LEN, "cannot read '%s' (a directory of base='%s'): %s", real, base, strerror(errno));
            return 2;
        }
        for (int i = 0; i < n; i++)
            if (ids[i].dev == st.st_dev && ids[i].ino == st.st_ino) {
                snprintf(err, ERR_LEN, "base='%s' is inside the run directory '%s', whose files the sweep may delete "
                         "before a train reads it: copy it outside the run directories", base, g->runs[ids[i].run].dir);
                return 1;
            }
        char *slash = strrchr(real, '/');
        if (!slash || slash[1] == 0) return 0; /* "/" was the last */
        if (slash == real) slash++; /* "/x" goes up to "/" */
        *slash = 0;
    }
}

/* A stale or unfinished run's directory is cleared before its train starts, and train removes
 * final.ckpt as it starts, so a base inside any run directory of the grid could be gone before a
 * run reads it: refused for every run, whatever its state now, before anything is touched. bases
 * holds each recipe's base= (the same for all its seeds). */
static int check_bases_outside_runs(const SweepGrid *g, char (*bases)[OPT_STR_LEN], char *err)
{
    RunDirId *ids = malloc((size_t)g->n * sizeof *ids);
    if (!ids) {
        snprintf(err, ERR_LEN, "out of memory for %d runs", g->n);
        return 2;
    }
    int n = 0, rc = 0;
    for (int i = 0; i < g->n && !rc; i++) {
        struct stat st;
        if (stat(g->runs[i].dir, &st) == 0) {
            if (S_ISDIR(st.st_mode)) ids[n++] = (RunDirId){st.st_dev, st.st_ino, i};
        } else if (errno != ENOENT && errno != ENOTDIR) {
            snprintf(err, ERR_LEN, "cannot read '%s': %s", g->runs[i].dir, strerror(errno));
            rc = 2;
        }
    }
    for (int b = 0; b < g->n_recipes && !rc && n > 0; b++) {
        int seen = 0;
        for (int k = 0; k < b && !seen; k++) seen = strcmp(bases[k], bases[b]) == 0;
        if (!seen) rc = check_base_outside(g, ids, n, bases[b], err);
    }
    free(ids);
    return rc;
}

int sweep_grid_build(SweepGrid *g, const char *recipes, const char *seeds, const char *out, const Args *extra,
                     int need_base, char *err)
{
    memset(g, 0, sizeof *g);
    char(*names)[RECIPE_NAME_LEN] = malloc(SWEEP_MAX_RECIPES * sizeof *names);
    char(*bases)[OPT_STR_LEN] = malloc(SWEEP_MAX_RECIPES * sizeof *bases);
    Args *ta = malloc(sizeof *ta);
    long lo = 0, hi = 0;
    int nr = 0, rc = 0;
    if (!names || !bases || !ta) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    if (!rc) rc = parse_recipes(recipes, names, &nr, err);
    if (!rc) rc = parse_seeds(seeds, &lo, &hi, err);
    for (int i = 0; i < extra->n && !rc; i++) {
        if (extra->kv[i].used) continue;
        for (const char *const *k = per_run_keys; *k; k++)
            if (strcmp(extra->kv[i].key, *k) == 0) {
                snprintf(err, ERR_LEN, "%s= is set per run by the sweep (use recipes=, seeds=, out=)", *k);
                rc = 1;
            }
        if (strcmp(extra->kv[i].key, "threads") == 0) g->user_threads = 1;
        /* One label over several recipes would make compare pool them as one. */
        if (!rc && strcmp(extra->kv[i].key, "label") == 0 && nr > 1) {
            snprintf(err, ERR_LEN, "label=%s with %d recipes: a label names one recipe (give one recipe, or "
                     "PRESET+key=value entries, which are labelled each)", extra->kv[i].val, nr);
            rc = 1;
        }
    }
    if (!rc) {
        /* Trailing slashes would give run directories "out//name". */
        size_t len = strlen(out);
        while (len > 1 && out[len - 1] == '/') len--;
        if (len == 0) {
            snprintf(err, ERR_LEN, "out= is empty: expected the sweep's directory");
            rc = 1;
        }
        snprintf(g->out, sizeof g->out, "%.*s", (int)len, out);
    }
    if (!rc) {
        g->n_recipes = nr;
        g->n_seeds = (int)(hi - lo + 1);
        g->runs = calloc((size_t)nr * (size_t)g->n_seeds, sizeof *g->runs);
        if (!g->runs) {
            snprintf(err, ERR_LEN, "out of memory for %d runs", nr * g->n_seeds);
            rc = 2;
        }
    }
    for (long s = lo; s <= hi && !rc; s++)
        for (int i = 0; i < nr && !rc; i++) {
            rc = build_run(&g->runs[g->n], names[i], s, g->out, extra, ta, need_base, bases[i], err);
            g->n++; /* counted even when it failed, so that free releases its parts */
        }
    if (!rc && need_base) rc = check_bases_outside_runs(g, bases, err);
    free(names);
    free(bases);
    free(ta);
    if (rc) sweep_grid_free(g);
    return rc;
}

void sweep_grid_free(SweepGrid *g)
{
    for (int i = 0; i < g->n; i++) {
        SweepRun *r = &g->runs[i];
        if (r->argv)
            for (int j = 0; j < r->argc; j++) free(r->argv[j]);
        free(r->argv);
        free(r->config);
    }
    free(g->runs);
    memset(g, 0, sizeof *g);
}

RunState sweep_run_state(const SweepRun *r, char *why, size_t n)
{
    return run_dir_state(r->dir, r->config, why, n);
}

const char *sweep_state_name(RunState s)
{
    switch (s) {
    case RUN_ABSENT: return "absent";
    case RUN_STALE: return "stale";
    case RUN_INCOMPLETE: return "incomplete";
    case RUN_FINISHED: return "finished";
    }
    return "?";
}

int sweep_run_clear(const SweepRun *r, char *err)
{
    return run_dir_clear(r->dir, err);
}

int sweep_lock(const SweepRun *r, int *fd, char *holder, size_t n, char *err)
{
    int rc = mkdir_p(r->dir, err);
    if (rc) return rc;
    char path[OPT_STR_LEN + 64];
    snprintf(path, sizeof path, "%s/.sweep.lock", r->dir);
    if ((rc = lock_file_take(path, fd, holder, n, err))) return rc;
    /* A train started by hand in this directory: busy until it ends. */
    snprintf(path, sizeof path, "%s/.run.lock", r->dir);
    if (lock_file_held(path, holder, n)) {
        close(*fd);
        *fd = -1;
        return 1;
    }
    return 0;
}

int sweep_locked(const SweepRun *r)
{
    char path[OPT_STR_LEN + 64];
    snprintf(path, sizeof path, "%s/.sweep.lock", r->dir);
    if (lock_file_held(path, NULL, 0)) return 1;
    snprintf(path, sizeof path, "%s/.run.lock", r->dir);
    return lock_file_held(path, NULL, 0);
}

/* One word for a POSIX shell: as is when made of characters no shell treats specially, else in
 * single quotes (a quote inside becomes '\''). */
void sweep_shell_word(FILE *f, const char *w)
{
    int plain = *w != 0;
    for (const char *p = w; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("_@%+=:,./-", *p);
    if (plain) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = w; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

void sweep_print_words(FILE *f, const char *exe, const SweepRun *r)
{
    sweep_shell_word(f, exe);
    fputs(" train", f);
    for (int i = 0; i < r->argc; i++) {
        fputc(' ', f);
        sweep_shell_word(f, r->argv[i]);
    }
}

void sweep_print_command(FILE *f, const char *exe, const SweepRun *r)
{
    sweep_print_words(f, exe, r);
    fputc('\n', f);
}

int sweep_usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
