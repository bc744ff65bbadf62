/* The OpenMP wait default (models/omp_env.c) is in place before main, an explicit choice of the
 * user's is left alone, and a program started through the dynamic loader (whose /proc/self/exe is
 * the loader) runs on without the default instead of restarting the loader. The test runs itself
 * again with a controlled environment: the child reports what it sees through its exit status. */
#include <elf.h>
#include <limits.h>
#include <link.h>
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

/* Runs this program as a child with environment env and `--child want`, through the dynamic
 * loader `loader` when given; its exit status. */
static int run_child(char *const env[], const char *want, const char *loader)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        char self[PATH_MAX];
        const ssize_t len = loader ? readlink("/proc/self/exe", self, sizeof self - 1) : 0;
        if (len < 0) _exit(127);
        self[len] = '\0';
        char *direct[] = {"test_omp_env", "--child", (char *)want, NULL};
        char *via_loader[] = {(char *)loader, self, "--child", (char *)want, NULL};
        execve(loader ? loader : "/proc/self/exe", loader ? via_loader : direct, env);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* The dynamic loader this program names (its PT_INTERP), found through the main program's
 * headers, the first object dl_iterate_phdr reports. */
static int first_object_interp(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_INTERP)
            *(const char **)data = (const char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    return 1; /* the main program only */
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) return child(argv[2]);
#if defined(__linux__) && defined(__GNUC__) && !defined(__SANITIZE_THREAD__)
    char *none[] = {"PATH=/usr/bin:/bin", NULL};
    int rc = run_child(none, omp_spin_default(), NULL);
    CHECK(rc == 0, "omp_spin_default_set_before_main", "child exit %d (want 0: GOMP_SPINCOUNT=%s)", rc,
          omp_spin_default());
    char *own[] = {"GOMP_SPINCOUNT=7", NULL};
    rc = run_child(own, "7", NULL);
    CHECK(rc == 0, "omp_spin_user_value_kept", "child exit %d (want 0: GOMP_SPINCOUNT=7 kept)", rc);
    char *policy[] = {"OMP_WAIT_POLICY=active", NULL};
    rc = run_child(policy, "-", NULL);
    CHECK(rc == 0, "omp_wait_policy_respected", "child exit %d (want 0: no GOMP_SPINCOUNT under OMP_WAIT_POLICY)",
          rc);
    const char *loader = NULL;
    dl_iterate_phdr(first_object_interp, &loader);
    CHECK(loader != NULL, "omp_spin_loader_found", "no PT_INTERP in this program's headers");
    if (loader) {
        rc = run_child(none, "-", loader);
        CHECK(rc == 0, "omp_spin_no_restart_under_loader",
              "child exit %d through %s (want 0: no GOMP_SPINCOUNT, no restart of the loader)", rc, loader);
    }
#endif
    return test_main_result();
}
