/* `scalerl version`: what a bug report needs to reproduce a result. Numerics depend on the build
 * (commit, compiler, -march), on the kernels OpenBLAS picked for this processor (it picks by
 * itself; OPENBLAS_CORETYPE overrides) and on the thread counts, so all of them are printed;
 * tests/run.sh prints this first, so a failing `make test` carries it too. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/omp_env.h"
#include "ref/cli/commands.h"
#include "ref/common/util.h"

/* Set by the Makefile for this file alone (its stamp rebuilds it when they change). */
#ifndef SCALERL_COMMIT
#define SCALERL_COMMIT "unknown"
#endif
#ifndef SCALERL_OPT
#define SCALERL_OPT "unknown"
#endif

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#if defined(__clang__)
/* Not __clang_version__: Debian's ends in a space ("14.0.6 "). */
#define COMPILER "clang " STRINGIFY(__clang_major__) "." STRINGIFY(__clang_minor__) "." STRINGIFY(__clang_patchlevel__)
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "an unknown compiler"
#endif

/* The processor's model name from /proc/cpuinfo, or "unknown" where there is none. */
static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(out, n, "%s", trim_space(colon + 1));
            break;
        }
    }
    fclose(f);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int cmd_version(int argc, char **argv)
{
    static const OptSpec no_keys[] = {{NULL, 0, 0, NULL, 0, 0, NULL, NULL}};
    const CommandSpec spec = {"version",
                              "usage: scalerl version\n\n"
                              "Prints the build (commit, compiler, flags), the OpenBLAS configuration and the kernels it\n"
                              "picked for this processor, and the thread counts: what a bug report needs.\n",
                              no_keys, 0, NULL};
    Args a;
    int rc;
    if (!command_args(&spec, &a, NULL, argc, argv, &rc)) return rc;
    char cpu[256], err[ERR_LEN];
    cpu_model(cpu, sizeof cpu);
    const char *spin = getenv("GOMP_SPINCOUNT"), *wait = getenv("OMP_WAIT_POLICY");
    const int spin_ours = spin && !wait && strcmp(spin, omp_spin_default()) == 0;
    printf("scalerl: commit %s, %s, flags %s\n", SCALERL_COMMIT, COMPILER, SCALERL_OPT);
    printf("cpu: %s, %d processors\n", cpu, omp_get_num_procs());
    printf("openblas: %s\n", openblas_get_config());
    const char *forced = getenv("OPENBLAS_CORETYPE");
    if (forced && *forced)
        printf("openblas kernels: %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_corename(), forced);
    else
        printf("openblas kernels: %s (picked for this cpu; OPENBLAS_CORETYPE unset)\n", openblas_get_corename());
    printf("openblas threads: %d by default; scalerl sets 1 and splits its kernels over OpenMP threads instead\n",
           openblas_get_num_threads());
    printf("openmp threads: %d by default (OMP_NUM_THREADS=%s)\n", omp_get_max_threads(),
           env_or("OMP_NUM_THREADS", "unset"));
    printf("openmp waiting: GOMP_SPINCOUNT=%s%s, OMP_WAIT_POLICY=%s\n", spin ? spin : "unset",
           spin_ours ? " (scalerl's default, models/omp_env.c)" : "", wait ? wait : "unset");
    return flush_stdout(err) ? report_error(spec.name, 2, err) : 0;
}
