/* The OpenMP wait default the program sets for itself before the OpenMP runtime starts (see
 * omp_env.c): GOMP_SPINCOUNT, unless the user set GOMP_SPINCOUNT or OMP_WAIT_POLICY. */
#ifndef SCALERL_OMP_ENV_H
#define SCALERL_OMP_ENV_H

/* The GOMP_SPINCOUNT value set when the user set neither variable. */
const char *omp_spin_default(void);

#endif
