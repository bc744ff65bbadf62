/* Checkpoints and exact resume (the header has the contract). */
#include "ref/rl/resume.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "models/checkpoint.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"
#include "ref/rl/runfiles.h"

static const char STATE_MAGIC[8] = {'S', 'R', 'L', 'S', 'T', 'A', 'T', '2'}; /* 2: skipped-step counters */
/* Read back with fmemopen; the largest state here is a few MB (the held groups). */
#define STATE_MAX ((size_t)1 << 31)

/* The path's length, also when it did not fit in out (n bytes; n = 0: only the length). */
static int ckpt_path(char *out, size_t n, const char *dir, long step, const char *ext)
{
    return snprintf(out, n, "%s/ckpt/step-%08ld.%s", dir, step, ext);
}

int resume_check_out(const TrainConfig *c, char *err)
{
    /* The .state (written by atomic_open) of the last step has the longest path of the run's files. */
    const int len = ckpt_path(NULL, 0, c->out, c->steps, "state"), max = (int)sizeof((AtomicFile *)0)->path - 1;
    if (len <= max) return 0;
    /* Said as an excess, which is also right for a sweep's out= (its runs' directories are below it). */
    snprintf(err, ERR_LEN, "out='%.60s...' is %d character%s too long: the run would write its checkpoints as "
             "'%.20s.../ckpt/step-%08ld.state', %d characters, and a path may have at most %d here", c->out,
             len - max, len - max > 1 ? "s" : "", c->out, c->steps, len, max);
    return 1;
}

/* Layout facts a state file was written with; a build that differs refuses it. */
static void layout_save(BinWriter *w)
{
    const int64_t l[] = {(int64_t)sizeof(Problem), (int64_t)sizeof(long), (int64_t)sizeof(int),
                         (int64_t)sizeof(float)};
    bw_bytes(w, l, sizeof l);
}

static int layout_ok(BinReader *r)
{
    int64_t l[4];
    br_bytes(r, l, sizeof l);
    return !r->bad && l[0] == (int64_t)sizeof(Problem) && l[1] == (int64_t)sizeof(long) &&
           l[2] == (int64_t)sizeof(int) && l[3] == (int64_t)sizeof(float);
}

/* The state's payload, into a memory stream. */
static int state_payload(Trainer *t, char **buf, size_t *len, char *err)
{
    FILE *f = open_memstream(buf, len);
    if (!f) {
        snprintf(err, ERR_LEN, "out of memory for the resume state");
        return 2;
    }
    BinWriter w = {f, 0};
    layout_save(&w);
    bw_i64(&w, t->version);
    bw_f64(&w, t->flops_gen);
    bw_f64(&w, t->flops_train);
    bw_f64(&w, t->sim_time);
    bw_f64(&w, t->gen_clock);
    bw_f64(&w, t->epochs);
    bw_i64(&w, t->bad_steps);
    bw_i64(&w, t->bad_in_row);
    const RunLog *l = &t->log;
    bw_i64(&w, l->next_eval);
    bw_i64(&w, l->last_eval_step);
    bw_f64(&w, l->last_pass);
    bw_f64(&w, l->last_reward);
    bw_f64(&w, wall_seconds() - l->wall0);
    bw_f64(&w, cpu_seconds() - l->cpu0);
    data_save(t->data, &w);
    batches_save(&t->batches, &w);
    gen_save(t->gen, &w);
    /* The prompt filter in its own text format, as a length-prefixed blob. */
    char *pf_text = NULL;
    size_t pf_len = 0;
    FILE *pf = open_memstream(&pf_text, &pf_len);
    int rc = pf ? prompt_filter_write(t->filter, pf, err) : 2;
    if (pf && fclose(pf) != 0) rc = 2;
    if (!rc) {
        bw_i64(&w, (int64_t)pf_len);
        bw_bytes(&w, pf_text, pf_len);
    }
    free(pf_text);
    if (fclose(f) != 0 || w.bad) rc = rc ? rc : 2;
    if (rc && !err[0]) snprintf(err, ERR_LEN, "out of memory for the resume state");
    return rc;
}

static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static int write_state(Trainer *t, const char *path, char *err)
{
    char *payload = NULL;
    size_t len = 0;
    err[0] = 0;
    int rc = state_payload(t, &payload, &len, err);
    if (rc) {
        free(payload);
        return rc;
    }
    unsigned char head[16], tail[4];
    memcpy(head, STATE_MAGIC, 8);
    put_u64(head + 8, len);
    const uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)payload, (uInt)len);
    for (int i = 0; i < 4; i++) tail[i] = (unsigned char)(crc >> (8 * i));
    AtomicFile af;
    rc = atomic_open(&af, path, err);
    if (!rc) {
        if (fwrite(head, 1, 16, af.f) != 16 || fwrite(payload, 1, len, af.f) != len || fwrite(tail, 1, 4, af.f) != 4) {
            snprintf(err, ERR_LEN, "cannot write '%s': %s", path, strerror(errno));
            atomic_abort(&af);
            rc = 2;
        } else {
            rc = atomic_commit(&af, err);
        }
    }
    free(payload);
    return rc;
}

/* Steps of the checkpoints in dir/ckpt, ascending: with `any`, every step that has a .ckpt or a
 * .state (each once), else only the complete-looking ones (both files present). */
static long list_steps(const char *dir, long *steps, long max, int any)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    long n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        long step;
        char ext[8], tail;
        if (sscanf(e->d_name, "step-%ld.%7[a-z]%c", &step, ext, &tail) != 2 || step < 1 ||
            (strcmp(ext, "state") != 0 && (!any || strcmp(ext, "ckpt") != 0)))
            continue;
        char ck[1100];
        ckpt_path(ck, sizeof ck, dir, step, "ckpt");
        if ((any || file_exists(ck)) && n < max) steps[n++] = step;
    }
    closedir(d);
    for (long i = 1; i < n; i++)
        for (long j = i; j > 0 && steps[j - 1] > steps[j]; j--) {
            const long x = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = x;
        }
    long kept = 0; /* with `any`, a step with both files was listed twice */
    for (long i = 0; i < n; i++)
        if (kept == 0 || steps[kept - 1] != steps[i]) steps[kept++] = steps[i];
    return kept;
}

enum { MAX_LISTED = 4096 };

static void prune(const char *dir, long keep)
{
    long *steps = malloc(MAX_LISTED * sizeof *steps);
    if (!steps) return;
    const long n = list_steps(dir, steps, MAX_LISTED, 0);
    for (long i = 0; i + keep < n; i++) {
        char p[1100];
        ckpt_path(p, sizeof p, dir, steps[i], "state");
        unlink(p); /* the .state first: without it the .ckpt is not a checkpoint */
        ckpt_path(p, sizeof p, dir, steps[i], "ckpt");
        unlink(p);
    }
    free(steps);
}

int resume_save(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    char path[1100];
    snprintf(path, sizeof path, "%s/ckpt", c->out);
    int rc = mkdir_p(path, err);
    if (rc) return rc;
    char meta[512], tok[128];
    tokenizer_meta(tok, sizeof tok);
    snprintf(meta, sizeof meta, "%s\nrecipe=%s\ntask=%s\nstep=%ld\nseed=%ld\n", tok, c->recipe, c->task, t->version,
             c->seed);
    ckpt_path(path, sizeof path, c->out, t->version, "ckpt");
    if ((rc = checkpoint_save(path, &t->m, 1, meta, err))) return rc;
    ckpt_path(path, sizeof path, c->out, t->version, "state");
    if ((rc = write_state(t, path, err))) return rc;
    prune(c->out, c->keep);
    return 0;
}

/* Reads and checks a state file into a malloc'ed payload. 0, 1 (bad) or 2 (I/O). */
static int read_state(const char *path, unsigned char **payload, size_t *len, char *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    unsigned char head[16];
    int rc = 0;
    *payload = NULL;
    if (fread(head, 1, 16, f) != 16 || memcmp(head, STATE_MAGIC, 8) != 0 || get_u64(head + 8) > STATE_MAX) {
        rc = 1;
    } else {
        *len = get_u64(head + 8);
        unsigned char tail[4];
        *payload = malloc(*len ? *len : 1);
        if (!*payload) rc = 2;
        else if (fread(*payload, 1, *len, f) != *len || fread(tail, 1, 4, f) != 4 || fgetc(f) != EOF) rc = 1;
        else {
            const uint32_t want = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                                  (uint32_t)tail[3] << 24;
            if ((uint32_t)crc32(0L, *payload, (uInt)*len) != want) rc = 1;
        }
    }
    fclose(f);
    if (rc) {
        free(*payload);
        *payload = NULL;
        snprintf(err, ERR_LEN, rc == 2 ? "out of memory reading '%s'" : "'%s' is not a valid resume state (truncated, "
                                                                         "corrupt or from another version)",
                 path);
    }
    return rc;
}

int resume_after_step(Trainer *t, char *err)
{
    const TrainConfig *c = t->c;
    const int stop = t->stop && *t->stop;
    if (t->version >= c->steps) return 0; /* final.ckpt follows */
    if (((c->ckpt_every > 0 && t->version % c->ckpt_every == 0) || stop) && !t->ckpt_due_at)
        t->ckpt_due_at = t->version;
    if (!t->ckpt_due_at) return 0;
    if (!gen_idle(t->gen)) {
        /* Said once, when the next checkpoint falls due: otherwise nothing would tell that the
         * run has none to resume from. */
        if (!stop && !t->ckpt_late_noted && c->ckpt_every > 0 && t->version - t->ckpt_due_at >= c->ckpt_every) {
            fprintf(stderr, "scalerl train: note: the checkpoint due at step %ld is not written yet at step %ld: it "
                            "waits for a step boundary at which the generator is idle, and the generator has been "
                            "decoding at every one since (generation slower than training; ref/rl/resume.h)\n",
                    t->ckpt_due_at, t->version);
            t->ckpt_late_noted = 1;
        }
        /* A stop does not wait for an idle boundary, which may be thousands of steps away or never
         * come (resume.h): it stops here, and a resume goes on from the newest checkpoint. */
        t->stopped = stop;
        return 0;
    }
    const int rc = resume_save(t, err);
    if (rc) return rc;
    t->ckpt_due_at = 0;
    t->ckpt_step = t->version;
    t->stopped = stop;
    return 0;
}

/* The checkpoints dir/ckpt holds, valid or not, into steps (MAX_LISTED, ascending); *lone when
 * they are a single .ckpt without its .state: the first checkpoint, cut short by a kill between its
 * two files, which leaves the run where it was before it. */
static long list_found(const char *dir, long *steps, int *lone)
{
    const long n = list_steps(dir, steps, MAX_LISTED, 1);
    char path[1100];
    if (n == 1) ckpt_path(path, sizeof path, dir, steps[0], "state");
    *lone = n == 1 && !file_exists(path);
    return n;
}

long resume_found(const char *dir)
{
    long *steps = malloc(MAX_LISTED * sizeof *steps);
    if (!steps) return 0;
    int lone;
    const long n = list_found(dir, steps, &lone);
    free(steps);
    return lone ? 0 : n;
}

/* The checkpoint's model into *m, checked against the run's. 0, 1 or 2 with err. */
static int load_ckpt(const Trainer *t, long step, Model *m, char *err)
{
    char path[1100], meta[CHECKPOINT_META_MAX];
    ckpt_path(path, sizeof path, t->c->out, step, "ckpt");
    int rc = checkpoint_load(path, m, meta, err);
    if (rc) return rc;
    if (m->n_params != t->m.n_params || memcmp(&m->cfg, &t->m.cfg, sizeof m->cfg) != 0) {
        snprintf(err, ERR_LEN, "'%s' holds another model than this run's base", path);
        model_free(m);
        return 1;
    }
    return 0;
}

/* Whether the checkpoint of `step` can be resumed from: both files there and reading back valid.
 * 0, 1 (why in err) or 2. */
static int check_checkpoint(const Trainer *t, long step, char *err)
{
    const char *exts[] = {"state", "ckpt"};
    for (int i = 0; i < 2; i++) {
        char path[1100];
        ckpt_path(path, sizeof path, t->c->out, step, exts[i]);
        if (!file_exists(path)) {
            snprintf(err, ERR_LEN, "'%s' is missing", path);
            return 1;
        }
    }
    char path[1100];
    unsigned char *payload = NULL;
    size_t len;
    ckpt_path(path, sizeof path, t->c->out, step, "state");
    int rc = read_state(path, &payload, &len, err);
    free(payload);
    Model m;
    if (!rc && !(rc = load_ckpt(t, step, &m, err))) model_free(&m);
    return rc;
}

int resume_pick(const Trainer *t, long *step, char *err)
{
    const char *dir = t->c->out;
    long *steps = malloc(MAX_LISTED * sizeof *steps);
    if (!steps) {
        snprintf(err, ERR_LEN, "out of memory listing '%s/ckpt'", dir);
        return 2;
    }
    int lone, rc = 0;
    const long n = list_found(dir, steps, &lone);
    char why[ERR_LEN], newest_why[ERR_LEN] = "";
    *step = 0;
    for (long i = n - 1; i >= 0 && !lone && !*step; i--) {
        if ((rc = check_checkpoint(t, steps[i], why)) == 2) {
            snprintf(err, ERR_LEN, "%s", why);
            break;
        }
        if (!rc) *step = steps[i];
        else if (i == n - 1) snprintf(newest_why, sizeof newest_why, "%s", why);
    }
    if (*step && *step != steps[n - 1])
        fprintf(stderr, "scalerl train: note: the newest checkpoint in %s/ckpt (step %ld) is not valid, so the run "
                        "resumes from step %ld: %s\n", dir, steps[n - 1], *step, newest_why);
    if (n > 0 && !lone && !*step && rc != 2) {
        snprintf(err, ERR_LEN, "'%s' holds %ld resume checkpoint%s in %s/ckpt and none is valid (to start this run "
                 "over from step 0, remove %s/ckpt or rerun with overwrite=1); the newest, step %ld: %s",
                 dir, n, n > 1 ? "s" : "", dir, dir, steps[n - 1], newest_why);
        rc = 1;
    }
    free(steps);
    return *step ? 0 : rc;
}

static int load_payload(Trainer *t, const unsigned char *payload, size_t len, long step, char *err)
{
    BinReader r = {payload, payload + len, 0};
    if (!layout_ok(&r) || br_i64(&r) != step) {
        snprintf(err, ERR_LEN, "resume state of step %ld: written by another build or for another step", step);
        return 1;
    }
    t->version = step;
    t->flops_gen = br_f64(&r);
    t->flops_train = br_f64(&r);
    t->sim_time = br_f64(&r);
    t->gen_clock = br_f64(&r);
    t->epochs = br_f64(&r);
    t->bad_steps = (long)br_count(&r, step);
    t->bad_in_row = (long)br_count(&r, step);
    RunLog *l = &t->log;
    l->next_eval = (int)br_count(&r, l->n_evals);
    l->last_eval_step = (long)br_count(&r, step);
    l->last_pass = br_f64(&r);
    l->last_reward = br_f64(&r);
    l->wall0 = wall_seconds() - br_f64(&r);
    l->cpu0 = cpu_seconds() - br_f64(&r);
    int rc;
    if ((rc = data_load(t->data, &r, err)) || (rc = batches_load(&t->batches, &r, err)) ||
        (rc = gen_load(t->gen, &r, err)))
        return rc;
    const size_t pf_len = (size_t)br_count(&r, (int64_t)(r.end - r.p));
    if (r.bad) {
        snprintf(err, ERR_LEN, "resume state of step %ld: truncated", step);
        return 1;
    }
    FILE *pf = fmemopen((void *)r.p, pf_len ? pf_len : 1, "r");
    if (!pf) {
        snprintf(err, ERR_LEN, "out of memory reading the prompt filter state");
        return 2;
    }
    rc = prompt_filter_read(t->filter, pf, err);
    fclose(pf);
    return rc;
}

int resume_load(Trainer *t, long step, char *err)
{
    Model m;
    int rc = load_ckpt(t, step, &m, err);
    if (rc) return rc;
    model_free(&t->m);
    t->m = m;
    char path[1100];
    unsigned char *payload;
    size_t len;
    ckpt_path(path, sizeof path, t->c->out, step, "state");
    if ((rc = read_state(path, &payload, &len, err))) return rc;
    rc = load_payload(t, payload, len, step, err);
    free(payload);
    if (!rc) t->ckpt_step = step;
    return rc;
}

/* What one whole metrics line is: 0 with *s for a row of step *s, -1 for the run row (which a
 * resumed run writes again), 1 when it is no row (err says what was found). */
static int row_step(char *line, JsonObj *o, long *s, char *err)
{
    char shown[8 * 60 + 8], ignored[ERR_LEN];
    text_for_message(line, 60, shown, sizeof shown);
    if (jsonl_parse(line, o, ignored) == 0) {
        const char *kind = jsonl_str(o, "kind");
        double v;
        if (kind && strcmp(kind, "run") == 0) return -1;
        if (jsonl_num(o, "step", &v) && v >= 0 && v <= 1e15 && v == (long)v) {
            *s = (long)v;
            return 0;
        }
    }
    snprintf(err, ERR_LEN, "expected a metrics row (a JSON object with a whole \"step\"), found '%s'", shown);
    return 1;
}

int resume_cut_metrics(const char *dir, long step, char *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    JsonObj *o = malloc(sizeof *o);
    char *line = NULL, why[ERR_LEN];
    size_t cap = 0;
    long keep = 0, lineno = 0, cut_line = 0, prev = 0, prev_line = 0;
    int rc = o ? 0 : 2;
    /* Rows up to the checkpoint's step are kept, the rest cut: those a killed run wrote after its
     * checkpoint, and a torn last line. Anything else wrong before the cut is damage, which would
     * silently lose the rows after it: refused, the file left as it is. */
    for (ssize_t n; !rc && (n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n';) {
        lineno++;
        line[n - 1] = 0; /* for the message; the parse takes the line either way */
        long s = 0;
        const int kind = row_step(line, o, &s, why);
        if (kind == 1 && !cut_line) {
            snprintf(err, ERR_LEN, "%s:%ld: %s; the file is left as it was: repair or remove that line to resume, "
                     "or start over with overwrite=1", path, lineno, why);
            rc = 1;
        } else if (kind == 0 && (cut_line ? s <= step : s < prev)) {
            const char *after = cut_line ? "a row past the checkpoint's step" : "one of a later step";
            snprintf(err, ERR_LEN, "%s:%ld: a row of step %ld after %s (line %ld): expected rows in step order; the "
                     "file is left as it was: repair or remove the wrong line to resume, or start over with "
                     "overwrite=1", path, lineno, s, after, cut_line ? cut_line : prev_line);
            rc = 1;
        } else if (!cut_line && (kind == -1 || s > step)) {
            cut_line = lineno;
        } else if (!cut_line) {
            keep += n;
            prev = s;
            prev_line = lineno;
        }
    }
    const int read_err = ferror(f);
    free(line);
    free(o);
    fclose(f);
    if (rc == 2) snprintf(err, ERR_LEN, "out of memory reading '%s'", path);
    if (rc) return rc;
    if (read_err || truncate(path, keep) != 0) {
        snprintf(err, ERR_LEN, "cannot cut '%s' back to step %ld: %s", path, step, strerror(errno));
        return 2;
    }
    return 0;
}
