/* How OpenMP threads wait, set before main: every program linked with models/ (scalerl, the tests,
 * the benches) starts itself a second time, before main and before any library constructor, with
 * GOMP_SPINCOUNT=1000 added to its environment, unless the user set GOMP_SPINCOUNT or
 * OMP_WAIT_POLICY or it was not started as itself (under valgrind, through the dynamic loader). So
 * a debugger or strace sees one execve more than expected, and the variable shows in
 * /proc/PID/environ. Why (libgomp's default spinning on shared cores) and how (a
 * .preinit_array hook) are in omp_env.c; models/README.md, "The re-execution before main", has
 * the measurement. Nothing to call: linking omp_env.o is what installs it. */
#ifndef SCALERL_OMP_ENV_H
#define SCALERL_OMP_ENV_H

/* The GOMP_SPINCOUNT value set when the user set neither variable. */
const char *omp_spin_default(void);

#endif
