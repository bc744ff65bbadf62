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
 * ELF/glibc on Linux only; not under ThreadSanitizer (its runtime initializes itself from
 * .preinit_array too, and `make sanitize` runs OpenMP single-threaded anyway). */
#include "models/omp_env.h"

#include <stdlib.h>
#include <string.h>
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

static void omp_wait_default(int argc, char **argv, char **envp)
{
    (void)argc;
    if (!envp || !argv || has_var(envp, OMP_SPIN_VAR) || has_var(envp, "OMP_WAIT_POLICY")) return;
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
