/* A default for how OpenMP threads wait, in place before the OpenMP runtime reads it.
 *
 * Between and at the end of parallel regions, libgomp's idle threads spin ~300000 iterations
 * (milliseconds) before they sleep. On a machine whose cores are shared with other busy processes
 * that is ruinous: the spinning thread holds a core that the thread everyone waits for needs.
 * Measured on 2 cores at a load average of 13 (models/README.md, "The re-execution before main",
 * has the command): an RL step with threads=2 took 6943 ms with libgomp's default and 432 ms
 * spinning at most OMP_SPIN_DEFAULT iterations.
 *
 * libgomp reads GOMP_SPINCOUNT once, in its constructor, before main; and glibc rebuilds the
 * environment from the one the process was started with after the executable's .preinit_array
 * has run, so setting the variable in-process is always too late or undone. What works: a
 * .preinit_array function (called before any shared library's constructor, with the process's
 * argv and environment) that, when neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, starts the
 * same program again (/proc/self/exe, same argv) with GOMP_SPINCOUNT added. An explicit choice of
 * the user's always wins; if anything fails, the program simply continues with libgomp's default.
 *
 * /proc/self/exe is the file the kernel started, which is not always this program: under valgrind
 * it is valgrind's tool (started again without valgrind, it refuses: "You cannot run ... directly"),
 * run through the dynamic loader (`ld-linux-x86-64.so.2 ./scalerl`) it is the loader, which would
 * take argv[1] for the program. So the restart happens only when /proc/self/exe is the file this
 * code is mapped from (its inode in /proc/self/maps); otherwise the program runs on
 * with libgomp's default, and the user can set GOMP_SPINCOUNT themselves.
 *
 * ELF/glibc on Linux only; not under ThreadSanitizer (its runtime initializes itself from
 * .preinit_array too, and `make sanitize` runs OpenMP single-threaded anyway). */
#include "models/omp_env.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OMP_SPIN_VAR "GOMP_SPINCOUNT"
#define OMP_SPIN_DEFAULT "1000"

const char *omp_spin_default(void)
{
    return OMP_SPIN_DEFAULT;
}

#if defined(__linux__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
static int has_var(char **envp, const char *name)
{
    const size_t len = strlen(name);
    for (char **e = envp; *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') return 1;
    return 0;
}

/* Whether /proc/self/exe is the file that the code at `code` is mapped from: the inode of its
 * line in /proc/self/maps against stat's. The inode alone: on overlayfs, older kernels show the
 * underlying file's device in maps and the overlay's in stat (the inode number is the same), and
 * valgrind's tool and the loader are other files, not a file of the same number elsewhere.
 * Anything unreadable answers no. */
static int exe_maps_code(uintptr_t code)
{
    struct stat exe;
    if (stat("/proc/self/exe", &exe) != 0) return 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    int same = 0, line_start = 1;
    while (fgets(line, sizeof line, f)) {
        /* A line longer than the buffer (a long path) comes in pieces; only a line's first
         * piece holds its address range, device and inode. */
        const int first_piece = line_start;
        line_start = strchr(line, '\n') != NULL;
        unsigned long long lo, hi, inode;
        if (!first_piece || sscanf(line, "%llx-%llx %*s %*s %*s %llu", &lo, &hi, &inode) != 3) continue;
        if (code >= lo && code < hi) {
            same = inode == (unsigned long long)exe.st_ino;
            break;
        }
    }
    fclose(f);
    return same;
}

static void omp_wait_default(int argc, char **argv, char **envp)
{
    (void)argc;
    if (!envp || !argv || has_var(envp, OMP_SPIN_VAR) || has_var(envp, "OMP_WAIT_POLICY")) return;
    if (!exe_maps_code((uintptr_t)&omp_wait_default)) return;
    size_t n = 0;
    while (envp[n]) n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env) return;
    memcpy(env, envp, n * sizeof *env);
    env[n] = OMP_SPIN_VAR "=" OMP_SPIN_DEFAULT;
    env[n + 1] = NULL;
    execve("/proc/self/exe", argv, env); /* returns only on failure: carry on as we are */
    free(env);
}

__attribute__((section(".preinit_array"), used)) static void (*const preinit_omp_wait)(int, char **,
                                                                                         char **) = omp_wait_default;
#endif
