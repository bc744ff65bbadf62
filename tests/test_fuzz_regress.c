/* Replays what fuzzing found (the files of tests/data/fuzz/TARGET/, kept after the fix) and each
 * target's seed inputs (tests/fuzz/seeds/TARGET/) through the fuzz targets (tests/fuzz/targets.h), each input
 * in a child process so that a crash or a broken property fails that input by name. In `make test`
 * and, under the sanitizers, in `make sanitize`. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fuzz/targets.c"
#include "tests/test.h"

typedef struct {
    const char *name;
    FuzzTarget fn;
} Target;

static const Target targets[] = {
    {"args", fuzz_args},     {"checkpoint", fuzz_checkpoint}, {"metrics", fuzz_metrics},
    {"taskspec", fuzz_taskspec}, {"verify", fuzz_verify},
};

/* The file's bytes (malloc'd) and their count, or NULL. */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16;
    uint8_t *b = malloc(cap);
    *n = 0;
    while (b) {
        *n += fread(b + *n, 1, cap - *n, f);
        if (*n < cap) break;
        uint8_t *g = realloc(b, cap * 2);
        if (!g) {
            free(b);
            b = NULL;
        } else {
            b = g;
            cap *= 2;
        }
    }
    fclose(f);
    return b;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file of dir through t; returns how many there were. */
static int replay_dir(const Target *t, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[4096];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 4096;)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        char path[1024], label[1200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(label, sizeof label, "fuzz %s: %s passes", t->name, path);
        size_t size = 0;
        uint8_t *bytes = slurp(path, &size);
        fflush(stdout);
        pid_t pid = bytes ? fork() : -1;
        if (pid == 0) {
            t->fn(bytes, size);
            _exit(0);
        }
        int st = 0;
        int ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
        CHECK(ok, label, "%s", !bytes ? "unreadable" : WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "nonzero exit");
        free(bytes);
        free(names[i]);
    }
    return n;
}

int main(void)
{
    /* Made here, so that every child writes the metrics target's files into this one directory. */
    const char *scratch = scratch_dir();
    int total = 0;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "tests/fuzz/seeds/%s", targets[i].name);
        int seeds = replay_dir(&targets[i], dir);
        char label[96];
        snprintf(label, sizeof label, "fuzz %s: has seed inputs", targets[i].name);
        CHECK(seeds > 0, label, "none in %s", dir);
        snprintf(dir, sizeof dir, "tests/data/fuzz/%s", targets[i].name);
        total += seeds + replay_dir(&targets[i], dir);
    }
    printf("NOTE fuzz regress: %d inputs replayed\n", total);
    char path[512];
    snprintf(path, sizeof path, "%s/config.txt", scratch);
    unlink(path);
    snprintf(path, sizeof path, "%s/metrics.jsonl", scratch);
    unlink(path);
    rmdir(scratch);
    return test_main_result();
}
