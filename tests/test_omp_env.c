/* The OpenMP wait default (models/omp_env.c) is in place before main, and an explicit choice of
 * the user's is left alone. The test runs itself again with a controlled environment: the child
 * reports what it sees through its exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/omp_env.h"
#include "tests/test.h"

/* Child: exit 0 if GOMP_SPINCOUNT is `want` ("-" for unset), 1 otherwise. */
static int child(const char *want)
{
    const char *got = getenv("GOMP_SPINCOUNT");
    if (strcmp(want, "-") == 0) return got != NULL;
    return !(got && strcmp(got, want) == 0);
}

/* Runs this program as a child with environment env and `--child want`; its exit status. */
static int run_child(char *const env[], const char *want)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char *argv[] = {"test_omp_env", "--child", (char *)want, NULL};
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);
#if defined(__linux__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
    char *none[] = {"PATH=/usr/bin:/bin", NULL};
    int rc = run_child(none, omp_spin_default());
    CHECK(rc == 0, "omp_spin_default_set_before_main", "child exit %d (want 0: GOMP_SPINCOUNT=%s)", rc,
          omp_spin_default());
    char *own[] = {"GOMP_SPINCOUNT=7", NULL};
    rc = run_child(own, "7");
    CHECK(rc == 0, "omp_spin_user_value_kept", "child exit %d (want 0: GOMP_SPINCOUNT=7 kept)", rc);
    char *policy[] = {"OMP_WAIT_POLICY=active", NULL};
    rc = run_child(policy, "-");
    CHECK(rc == 0, "omp_wait_policy_respected", "child exit %d (want 0: no GOMP_SPINCOUNT under OMP_WAIT_POLICY)",
          rc);
#endif
    return test_main_result();
}
