/* The fuzz targets (tests/fuzz/targets.h). Inputs reach the parsers as files where the program
 * reads files: a memfd named by /proc/self/fd/N, or, for a run directory, files in a scratch
 * directory of this process. */
#include "tests/fuzz/targets.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "models/checkpoint.h"
#include "models/model.h"
#include "ref/common/args.h"
#include "ref/rl/runfiles.h"
#include "ref/fit/rundata.h"
#include "ref/rl/recipe.h"
#include "tasks/tasks.h"
#include "tasks/tokenizer.h"

#define MAX_WORDS 64

void fuzz_violation(const char *target, const char *what)
{
    fprintf(stderr, "fuzz %s: property broken: %s\n", target, what);
    abort();
}

/* A refusal's message: one line, not empty. */
static void check_message(const char *target, int rc, const char *err)
{
    if (rc != 1 && rc != 2) fuzz_violation(target, "a refusal's code is neither 1 nor 2");
    if (!err[0] || strchr(err, '\n')) {
        fprintf(stderr, "fuzz %s: the message: [%s]\n", target, err);
        fuzz_violation(target, "a refusal's message is not one line");
    }
}

/* bytes as a file: a memfd, whose path (/proc/self/fd/N) goes into path. Returns the fd, or -1. */
static int mem_file(const void *bytes, size_t n, char *path, size_t cap)
{
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, (const char *)bytes + done, n - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

/* This process's scratch directory for run-directory inputs (made once, reused). */
static const char *scratch_dir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/scalerl-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            dir[0] = 0;
            fuzz_violation("setup", "cannot make a scratch directory");
        }
    }
    return dir;
}

static void write_file(const char *dir, const char *name, const void *bytes, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) fuzz_violation("setup", "cannot write a scratch file");
}

/* ---- args: NUL-separated command-line words, then after a double NUL a --config file ---- */

/* config.txt text of c (malloc'd). */
static char *config_text(const TrainConfig *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) fuzz_violation("args", "out of memory");
    recipe_write(c, f);
    if (fclose(f) != 0) fuzz_violation("args", "out of memory");
    return text;
}

static int resolve(int argc, char **argv, TrainConfig *c, char *err)
{
    Args *a = malloc(sizeof *a);
    if (!a) fuzz_violation("args", "out of memory");
    int rc = args_parse(a, "train", argc, argv, err);
    if (!rc) rc = recipe_resolve(c, a, err);
    if (!rc) rc = args_check_unused(a, err);
    free(a);
    return rc;
}

int fuzz_args(const uint8_t *data, size_t size)
{
    size_t split = size;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == 0 && data[i + 1] == 0) {
            split = i;
            break;
        }
    char *words = malloc(split + 1);
    if (!words) return 0;
    memcpy(words, data, split);
    words[split] = 0;
    char *argv[MAX_WORDS + 2], path[64];
    int argc = 0;
    for (size_t i = 0; i <= split && argc < MAX_WORDS; i++)
        if (i == 0 || words[i - 1] == 0) {
            if (i == split && i > 0) break;
            argv[argc++] = words + i;
        }
    int fd = -1;
    if (split + 2 <= size) {
        fd = mem_file(data + split + 2, size - split - 2, path, sizeof path);
        if (fd >= 0) {
            argv[argc++] = "--config";
            argv[argc++] = path;
        }
    }
    TrainConfig *c = malloc(sizeof *c), *r = malloc(sizeof *r);
    char err[ERR_LEN] = "";
    int rc = c && r ? resolve(argc, argv, c, err) : -1;
    if (rc > 0) check_message("args", rc, err);
    if (rc == 0) {
        /* config.txt replays: --config of it resolves to the same config, written the same. */
        char *text = config_text(c), rpath[64];
        int rfd = mem_file(text, strlen(text), rpath, sizeof rpath);
        char *rargv[] = {"--config", rpath};
        int rrc = rfd >= 0 ? resolve(2, rargv, r, err) : -1;
        if (rrc != 0) fuzz_violation("args", "an accepted config's config.txt is refused by --config");
        char *again = config_text(r);
        if (strcmp(text, again) != 0) fuzz_violation("args", "config.txt does not replay to itself");
        free(again);
        free(text);
        close(rfd);
    }
    if (fd >= 0) close(fd);
    free(c);
    free(r);
    free(words);
    return 0;
}

/* ---- checkpoint: the bytes as a checkpoint file ---- */

static void load_checkpoint_bytes(const uint8_t *data, size_t size)
{
    char path[64], err[ERR_LEN] = "";
    int fd = mem_file(data, size, path, sizeof path);
    if (fd < 0) return;
    Model m;
    char *meta = malloc(CHECKPOINT_META_MAX);
    int rc = meta ? checkpoint_load(path, &m, meta, err) : -1;
    if (rc == 0) {
        if (strlen(meta) >= CHECKPOINT_META_MAX) fuzz_violation("checkpoint", "metadata longer than its bound");
        model_free(&m);
    } else if (rc > 0) {
        check_message("checkpoint", rc, err);
    }
    free(meta);
    close(fd);
}

int fuzz_checkpoint(const uint8_t *data, size_t size)
{
    load_checkpoint_bytes(data, size);
    /* A hostile writer keeps the header's CRC32 valid (as tests/test_checkpoint.c does), so that
     * the checks behind it are reached: the bytes again, with the CRC of the header they claim
     * (its length at byte 12, the CRC in its last 4 bytes; README.md, "Checkpoint format"). */
    if (size < 16 || memcmp(data, "SCALERLC", 8) != 0) return 0;
    uint32_t hlen = (uint32_t)data[12] | (uint32_t)data[13] << 8 | (uint32_t)data[14] << 16 | (uint32_t)data[15] << 24;
    if (hlen < 16 || hlen > size) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(hlen - 4));
    for (int i = 0; i < 4; i++) fixed[hlen - 4 + i] = (uint8_t)(crc >> (8 * i));
    load_checkpoint_bytes(fixed, size);
    free(fixed);
    return 0;
}

/* ---- metrics: config.txt, a NUL, metrics.jsonl (no NUL: metrics.jsonl alone) ---- */

int fuzz_metrics(const uint8_t *data, size_t size)
{
    const char *dir = scratch_dir();
    const uint8_t *nul = memchr(data, 0, size);
    char path[512];
    snprintf(path, sizeof path, "%s/config.txt", dir);
    if (nul) write_file(dir, "config.txt", data, (size_t)(nul - data));
    else unlink(path);
    size_t at = nul ? (size_t)(nul - data) + 1 : 0;
    write_file(dir, "metrics.jsonl", data + at, size - at);
    RunData r;
    char err[ERR_LEN] = "";
    int rc = rundata_load(&r, dir, "flops", "pass_rate", err);
    if (rc) {
        check_message("metrics", rc, err);
    } else {
        for (int i = 0; i < r.n; i++) {
            const EvalPoint *p = &r.pts[i];
            if (!isfinite(p->x) || !(p->y >= 0 && p->y <= 1)) fuzz_violation("metrics", "a point outside its ranges");
            if (i && p->x < r.pts[i - 1].x) fuzz_violation("metrics", "points not sorted by compute");
        }
        if (r.has_r0 && !(r.r0 >= 0 && r.r0 <= 1)) fuzz_violation("metrics", "R0 outside [0, 1]");
        rundata_free(&r);
    }
    /* The run-state reader on the same files, against the default config. */
    TrainConfig *c = calloc(1, sizeof *c);
    if (c && !opts_set_defaults(train_options(), c, err)) {
        char *want = run_config_text(c), why[256];
        if (want) {
            RunState st = run_dir_state(dir, want, why, sizeof why);
            if (st < RUN_ABSENT || st > RUN_FINISHED || strchr(why, '\n') == why) fuzz_violation("metrics", "bad state");
        }
        free(want);
    }
    free(c);
    return 0;
}

/* ---- taskspec: the bytes as a task spec ---- */

static uint64_t hash_bytes(const uint8_t *d, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
    return h;
}

/* A drawn problem: its prompt and solution are vocabulary text within the spec's limits, and its
 * worked solution verifies. */
static void check_problem(const char *target, const TaskSpec *s, const Problem *p)
{
    int tok[TASK_SOLUTION_MAX + 2];
    char err[ERR_LEN];
    int np = tok_encode(p->prompt, tok, TASK_SOLUTION_MAX, err);
    if (np < 0 || np > task_max_prompt_tokens(s)) fuzz_violation(target, "a prompt beyond the spec's longest");
    int ns = tok_encode(p->solution, tok, TASK_SOLUTION_MAX, err);
    if (ns < 0 || ns + 1 > task_max_solution_tokens(s)) fuzz_violation(target, "a solution beyond the spec's longest");
    if (task_verify(p, p->solution, strlen(p->solution)) != 1) fuzz_violation(target, "a worked solution fails");
}

int fuzz_taskspec(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    TaskSpec *s = NULL, *again = NULL;
    char err[ERR_LEN] = "";
    int rc = task_spec_parse(text, &s, err);
    if (rc) {
        check_message("taskspec", rc, err);
    } else {
        const char *canon = task_spec_string(s);
        if (task_spec_parse(canon, &again, err) != 0) fuzz_violation("taskspec", "the canonical form is refused");
        if (strcmp(task_spec_string(again), canon) != 0) fuzz_violation("taskspec", "the canonical form changes");
        if (!(task_space_size(s) > 0)) fuzz_violation("taskspec", "an empty problem space");
        uint64_t h = hash_bytes(data, size);
        for (uint64_t i = 0; i < 4; i++) {
            Problem p;
            task_draw(s, h, 0, i + (h >> 40), &p);
            check_problem("taskspec", s, &p);
        }
        task_spec_free(again);
        task_spec_free(s);
    }
    free(text);
    return 0;
}

/* ---- verify: one byte picks the family, 8 the problem, the rest is the completion ---- */

static const char *const verify_specs[] = {
    "add:digits=1-6", "sub:digits=1-6", "mul:digits=1-4", "sum:terms=2-5:digits=1-3", "countdown",
    "pair:n=3-8:nums=1-999",
};
#define N_VERIFY_SPECS ((int)(sizeof verify_specs / sizeof verify_specs[0]))

int fuzz_verify(const uint8_t *data, size_t size)
{
    if (size < 9) return 0;
    TaskSpec *s;
    char err[ERR_LEN];
    if (task_spec_parse(verify_specs[data[0] % N_VERIFY_SPECS], &s, err)) fuzz_violation("verify", err);
    uint64_t index = 0;
    for (int i = 1; i < 9; i++) index = index << 8 | data[i];
    Problem p;
    task_draw(s, 1234, 0, index, &p);
    check_problem("verify", s, &p);
    /* Exactly the completion's bytes, so that reading one past them is an out-of-bounds read. */
    const size_t n = size - 9;
    char *c = malloc(n ? n : 1);
    if (!c) return 0;
    memcpy(c, data + 9, n);
    int v = task_verify(&p, c, n);
    if (v != 0 && v != 1) fuzz_violation("verify", "a reward that is neither 0 nor 1");
    /* Anything in the vocabulary (but PAD, BOS and EOS) before the marker does not change that
     * the right answer after the last marker scores 1. */
    int plain = n < 9000;
    for (size_t i = 0; i < n && plain; i++) {
        int id = tok_id_of((unsigned char)c[i]);
        plain = id >= 0 && id != TOK_PAD && id != TOK_BOS && id != TOK_EOS;
    }
    if (plain) {
        size_t al = strlen(p.answer);
        char *full = malloc(n + al + 2);
        if (full) {
            memcpy(full, c, n);
            full[n] = tok_char(TOK_THINK_END);
            memcpy(full + n + 1, p.answer, al);
            full[n + 1 + al] = tok_char(TOK_EOS);
            if (task_verify(&p, full, n + al + 2) != 1)
                fuzz_violation("verify", "the right answer after the last marker scores 0");
            free(full);
        }
    }
    free(c);
    task_spec_free(s);
    return 0;
}
