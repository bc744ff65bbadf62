#include "ref/rl/runfiles.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "models/checkpoint.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

/* Lines of config.txt that do not change what a run computes. */
static const char *const ignored_config_keys[] = {"out=", "threads=", "progress=", "ckpt_every=", "keep=", NULL};

void tokenizer_meta(char *buf, size_t n)
{
    snprintf(buf, n, "tokenizer=%s", tok_vocab_version());
}

int load_base_model(const char *path, Model *m, char *err)
{
    char meta[CHECKPOINT_META_MAX];
    int rc = checkpoint_load(path, m, meta, err);
    if (rc) return rc;
    char want[128];
    tokenizer_meta(want, sizeof want);
    /* The tokenizer line must be present as a whole line. */
    const char *at = strstr(meta, want);
    size_t wl = strlen(want);
    int whole = at && (at == meta || at[-1] == '\n') && (at[wl] == 0 || at[wl] == '\n');
    /* A vocabulary larger than the tokenizer's is a padded one (pretrain vocab=): its extra ids
     * decode to no character, so a completion that draws one fails its verifier. */
    if (m->cfg.vocab < tok_vocab_size() || !whole) {
        snprintf(err, ERR_LEN, "'%s' was not made for this tokenizer (%s, %d tokens; the checkpoint has vocab=%d)",
                 path, want, tok_vocab_size(), m->cfg.vocab);
        model_free(m);
        return 1;
    }
    return 0;
}

int remove_run_checkpoint(const char *dir, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/final.ckpt", dir);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, ERR_LEN, "cannot remove the earlier run's '%s': %s", path, strerror(errno));
        return 2;
    }
    return 0;
}

int write_run_config(const TrainConfig *c, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.txt", c->out);
    AtomicFile af;
    int rc = atomic_open(&af, path, err);
    if (rc) return rc;
    recipe_write(c, af.f);
    return atomic_commit(&af, err);
}

int open_metrics(const char *dir, int append, JsonlFile *f, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    long long keep = 0; /* bytes kept: all of a resumed run's (cut back to its checkpoint) */
    struct stat st;
    if (append && stat(path, &st) == 0) keep = (long long)st.st_size;
    else if (append && errno != ENOENT) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    return jsonl_file_open(f, path, keep, err);
}

int save_run_checkpoint(const TrainConfig *c, const Model *m, long step, char *err)
{
    char path[1100], meta[512], tok[128];
    snprintf(path, sizeof path, "%s/final.ckpt", c->out);
    tokenizer_meta(tok, sizeof tok);
    snprintf(meta, sizeof meta, "%s\nrecipe=%s\ntask=%s\nstep=%ld\nseed=%ld\n", tok, c->recipe, c->task, step,
             c->seed);
    return checkpoint_save(path, m, 1, meta, err);
}

/* ---- run states ---- */

static int ignored_line(const char *line)
{
    for (const char *const *k = ignored_config_keys; *k; k++)
        if (strncmp(line, *k, strlen(*k)) == 0) return 1;
    return 0;
}

/* text without its ignored lines (malloc'd; NULL when out of memory). */
static char *filter_config(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    if (!out) return NULL;
    char *w = out;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (!ignored_line(p)) {
            memcpy(w, p, len);
            w += len;
        }
        p += len;
    }
    *w = 0;
    return out;
}

char *run_config_text(const TrainConfig *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    recipe_write(c, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    char *out = filter_config(text);
    free(text);
    return out;
}

/* The whole file as a string (malloc'd), or NULL when it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
        } else {
            buf = grown;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* 1 when metrics.jsonl has the row `train` writes after its last step. */
static int has_run_row(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL, err[ERR_LEN];
    size_t cap = 0;
    int found = 0;
    JsonObj *o = malloc(sizeof *o);
    while (o && !found && getline(&line, &cap, f) > 0) {
        if (!strstr(line, "\"run\"") || jsonl_parse(line, o, err)) continue;
        const char *kind = jsonl_str(o, "kind");
        found = kind && strcmp(kind, "run") == 0;
    }
    free(o);
    free(line);
    fclose(f);
    return found;
}

/* An archived run (bench/findings, bench/curves): metrics.jsonl compressed to metrics.jsonl.gz
 * once finished, its checkpoints dropped. Whether its last line is the run row. */
static int archived_run_row(const char *dir)
{
    char path[OPT_STR_LEN + 64], line[8192];
    snprintf(path, sizeof path, "%s/metrics.jsonl.gz", dir);
    gzFile g = gzopen(path, "rb");
    if (!g) return 0;
    int found = 0;
    while (gzgets(g, line, sizeof line)) found = strstr(line, "\"kind\":\"run\"") != NULL;
    gzclose(g);
    return found;
}

/* The line of text setting key (klen bytes, "key=" included), or NULL; comment lines never match. */
static const char *config_line(const char *text, const char *key, size_t klen)
{
    for (const char *p = text; *p;) {
        if (strncmp(p, key, klen) == 0) return p;
        const char *nl = strchr(p, '\n');
        if (!nl) break;
        p = nl + 1;
    }
    return NULL;
}

static int line_len(const char *line)
{
    return (int)strcspn(line, "\n");
}

static int same_line(const char *a, const char *b)
{
    return line_len(a) == line_len(b) && strncmp(a, b, (size_t)line_len(a)) == 0;
}

/* 1 when every key=value line of `from` is matched in `in`: the same line, or, when `in` has no
 * line for the key and `dflt` is given, the default's line (a key added to the program after `in`
 * was written reproduces the earlier program's behaviour at its default). Else 0, with why naming
 * the first difference (have_first: `in` is config.txt). */
static int lines_matched(const char *from, const char *in, const char *dflt, int have_first, char *why, size_t n)
{
    for (const char *p = from; *p;) {
        const char *nl = strchr(p, '\n');
        const char *eq = memchr(p, '=', (size_t)line_len(p));
        if (*p != '#' && eq) {
            size_t klen = (size_t)(eq - p) + 1;
            const char *q = config_line(in, p, klen), *d = dflt ? config_line(dflt, p, klen) : NULL;
            if (!(q ? same_line(p, q) : d && same_line(p, d))) {
                const char *h = have_first ? p : q, *w = have_first ? q : p;
                int lh = h ? line_len(h) : 0, lw = w ? line_len(w) : 0;
                char hb[120], wb[120];
                snprintf(hb, sizeof hb, h ? "has '%.*s'" : "has no '%.*s'", h ? (lh > 80 ? 80 : lh) : (int)klen - 1,
                         h ? h : p);
                snprintf(wb, sizeof wb, w ? "has '%.*s'" : "has no '%.*s'", w ? (lw > 80 ? 80 : lw) : (int)klen - 1,
                         w ? w : p);
                snprintf(why, n, "config.txt %s, this run %s", hb, wb);
                return 0;
            }
        }
        if (!nl) break;
        p = nl + 1;
    }
    return 1;
}

/* have (config.txt) and want hold the same config, up to keys absent from have at their
 * defaults. */
static int configs_match(const char *have, const char *want, char *why, size_t n)
{
    TrainConfig d;
    char err[ERR_LEN];
    memset(&d, 0, sizeof d);
    char *dflt = opts_set_defaults(train_options(), &d, err) ? NULL : run_config_text(&d);
    int ok = lines_matched(want, have, dflt, 0, why, n) && lines_matched(have, want, NULL, 1, why, n);
    free(dflt);
    return ok;
}

RunState run_dir_state(const char *dir, const char *want, char *why, size_t n)
{
    char cfg[OPT_STR_LEN + 64], met[OPT_STR_LEN + 64], ckpt[OPT_STR_LEN + 64];
    snprintf(cfg, sizeof cfg, "%s/config.txt", dir);
    snprintf(met, sizeof met, "%s/metrics.jsonl", dir);
    snprintf(ckpt, sizeof ckpt, "%s/final.ckpt", dir);
    char *text = read_text(cfg);
    if (!text) {
        int any = file_exists(met);
        snprintf(why, n, any ? "no config.txt" : "not started");
        return any ? RUN_INCOMPLETE : RUN_ABSENT;
    }
    char *have = filter_config(text);
    free(text);
    if (!have) {
        snprintf(why, n, "out of memory reading config.txt");
        return RUN_INCOMPLETE;
    }
    RunState s = RUN_FINISHED;
    if (!configs_match(have, want, why, n)) {
        s = RUN_STALE;
    } else if (!file_exists(met) && archived_run_row(dir)) {
        snprintf(why, n, "finished (archived: metrics.jsonl.gz)");
    } else if (!has_run_row(met)) {
        snprintf(why, n, "metrics.jsonl has no final run row");
        s = RUN_INCOMPLETE;
    } else if (!file_exists(ckpt)) {
        snprintf(why, n, "no final.ckpt");
        s = RUN_INCOMPLETE;
    } else {
        snprintf(why, n, "finished");
    }
    free(have);
    return s;
}


int run_dir_clear(const char *dir, char *err)
{
    static const char *const files[] = {"final.ckpt", "metrics.jsonl", "config.txt", NULL};
    for (const char *const *f = files; *f; f++) {
        char path[OPT_STR_LEN + 64];
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, ERR_LEN, "cannot remove '%s': %s", path, strerror(errno));
            return 2;
        }
    }
    return 0;
}

/* ---- locks ---- */

/* The "pid host" text of an open lock file into holder (n bytes), first line only. */
static void read_holder(int f, char *holder, size_t n)
{
    ssize_t got = pread(f, holder, n - 1, 0);
    holder[got > 0 ? got : 0] = 0;
    holder[strcspn(holder, "\n")] = 0;
}

int lock_file_take(const char *path, int *fd, char *holder, size_t n, char *err)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) {
        snprintf(err, ERR_LEN, "cannot open lock file '%s': %s", path, strerror(errno));
        return 2;
    }
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        if (busy) {
            read_holder(f, holder, n);
        } else {
            snprintf(err, ERR_LEN, "cannot lock '%s': %s", path, strerror(errno));
        }
        close(f);
        return busy ? 1 : 2;
    }
    char host[256] = "?", text[320];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = 0;
    int len = snprintf(text, sizeof text, "%ld %s\n", (long)getpid(), host);
    if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)len, 0) != len) {
        snprintf(err, ERR_LEN, "cannot write lock file '%s': %s", path, strerror(errno));
        close(f);
        return 2;
    }
    *fd = f;
    return 0;
}

int lock_file_held(const char *path, char *holder, size_t n)
{
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) return 0;
    int held = flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (held && holder && n > 0) read_holder(f, holder, n);
    close(f); /* also releases the shared lock when we got it */
    return held;
}

/* ---- claiming a run directory ---- */

/* The writer's pid in NAME.tmp.PID or NAME.tmp.PID.TID, or 0 when name is not such a file. */
static long tmp_writer_pid(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    for (; t; t = strstr(t + 1, ".tmp.")) {
        const char *p = t + 5;
        if (!isdigit((unsigned char)*p)) continue;
        char *end;
        errno = 0;
        long pid = strtol(p, &end, 10);
        if (errno || pid <= 0 || pid > INT_MAX) continue;
        if (*end == '.') {
            const char *q = end + 1;
            if (!isdigit((unsigned char)*q)) continue;
            while (isdigit((unsigned char)*q)) q++;
            end = (char *)q;
        }
        if (*end == 0) return pid;
    }
    return 0;
}

int run_dir_remove_dead_tmp(const char *dir, int *removed, char *err)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, ERR_LEN, "cannot read directory '%s': %s", dir, strerror(errno));
        return 2;
    }
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = tmp_writer_pid(e->d_name);
        /* kill(pid, 0) fails with ESRCH only when no such process exists; EPERM means alive. */
        if (pid == 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[OPT_STR_LEN + 300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, ERR_LEN, "cannot remove the leftover temporary file '%s': %s", path, strerror(errno));
            rc = 2;
            break;
        }
        (*removed)++;
    }
    closedir(d);
    return rc;
}

/* 1 when path's real location is inside dir's (dir exists). */
static int inside_dir(const char *path, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(path, rp) || !realpath(dir, rd)) return 0;
    size_t n = strlen(rd);
    return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || (n == 1 && rd[0] == '/'));
}

/* What the directory holds, against c: 0 when this process may run there, else 1 with err. */
static int check_dir_content(const TrainConfig *c, int overwrite, RunDir *rd, char *err)
{
    char *want = run_config_text(c), why[300];
    if (!want) {
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    rd->was = run_dir_state(c->out, want, why, sizeof why);
    free(want);
    char cfg[OPT_STR_LEN + 64];
    snprintf(cfg, sizeof cfg, "%s/config.txt", c->out);
    if (overwrite) return 0;
    if (rd->was == RUN_FINISHED) {
        snprintf(err, ERR_LEN, "'%s' is a finished run of this config: overwrite=1 runs it again", c->out);
        return 1;
    }
    if (rd->was == RUN_STALE) {
        snprintf(err, ERR_LEN, "'%s' holds a run of another config (%s): overwrite=1 replaces it, or choose another out=",
                 c->out, why);
        return 1;
    }
    if (rd->was == RUN_INCOMPLETE && !file_exists(cfg)) {
        snprintf(err, ERR_LEN, "'%s' holds a metrics.jsonl but no config.txt (not a run of this config): "
                 "overwrite=1 replaces it, or choose another out=", c->out);
        return 1;
    }
    return 0;
}

int run_dir_claim(const TrainConfig *c, int overwrite, RunDir *rd, char *err)
{
    rd->fd = -1;
    rd->was = RUN_ABSENT;
    rd->tmp_removed = 0;
    char path[OPT_STR_LEN + 64], holder[128];
    int rc = mkdir_p(c->out, err);
    if (rc) return rc;
    if (inside_dir(c->base, c->out)) {
        snprintf(err, ERR_LEN, "base='%s' is inside out='%s', which this run replaces: copy it elsewhere or choose "
                 "another out=", c->base, c->out);
        return 1;
    }
    snprintf(path, sizeof path, "%s/.run.lock", c->out);
    rc = lock_file_take(path, &rd->fd, holder, sizeof holder, err);
    if (rc == 1) {
        char *host = holder + strcspn(holder, " ");
        if (*host) *host++ = 0;
        snprintf(err, ERR_LEN, "'%s' is in use by another run: pid %s on host %s holds %s (wait for it to end, or "
                 "choose another out=)", c->out, holder[0] ? holder : "?", host[0] ? host : "?", path);
        rd->fd = -1;
        return 1;
    }
    if (rc) return rc;
    rc = check_dir_content(c, overwrite, rd, err);
    if (!rc) rc = run_dir_remove_dead_tmp(c->out, &rd->tmp_removed, err);
    if (!rc && rd->tmp_removed)
        fprintf(stderr, "scalerl train: note: removed %d temporary file%s in '%s' left by a writer that died\n",
                rd->tmp_removed, rd->tmp_removed > 1 ? "s" : "", c->out);
    /* An unfinished run of this config is left for the caller to resume or restart; anything else
     * that overwrite lets go is removed, and the directory then holds nothing of a run. */
    char cfg[OPT_STR_LEN + 64];
    snprintf(cfg, sizeof cfg, "%s/config.txt", c->out);
    const int ours = rd->was == RUN_INCOMPLETE && file_exists(cfg);
    if (!rc && overwrite && rd->was != RUN_ABSENT && !ours) {
        rc = run_dir_clear(c->out, err);
        rd->was = RUN_ABSENT;
    }
    if (!rc) rc = remove_run_checkpoint(c->out, err);
    if (rc) run_dir_release(rd);
    return rc;
}

void run_dir_release(RunDir *rd)
{
    if (rd->fd >= 0) close(rd->fd);
    rd->fd = -1;
}

int remove_resume_checkpoints(const char *dir, int keep_complete, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && !rc;) {
        if (strncmp(e->d_name, "step-", 5) != 0 || (keep_complete && !strstr(e->d_name, ".tmp."))) continue;
        char f[1400];
        snprintf(f, sizeof f, "%s/%s", path, e->d_name);
        if (unlink(f) != 0 && errno != ENOENT) {
            snprintf(err, ERR_LEN, "cannot remove the earlier run's '%s': %s", f, strerror(errno));
            rc = 2;
        }
    }
    closedir(d);
    return rc;
}
