/* Wall time and peak resident memory of a command and of every process it starts, for `make
 * bench`'s `make run` row (bench/run.sh).
 *
 * Usage: build/bench/measure_run LABEL COMMAND [ARGS...]
 * Runs COMMAND (its output passes through), then prints
 *   RESULT kind=measured label=LABEL wall_s=W peak_rss_mb=M exit=CODE
 * and exits with the command's status. The peak is getrusage(RUSAGE_CHILDREN)'s ru_maxrss: the
 * largest resident set of any descendant that was waited for, which a shell script's commands
 * all are (the shell waits for each). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ref/common/util.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure_run LABEL COMMAND [ARGS...]\n");
        return 1;
    }
    const double t0 = wall_seconds();
    const pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "measure_run: cannot fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure_run: cannot run '%s': %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "measure_run: waitpid: %s\n", strerror(errno));
            return 2;
        }
    const double wall = wall_seconds() - t0;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0) {
        fprintf(stderr, "measure_run: getrusage: %s\n", strerror(errno));
        return 2;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    /* ru_maxrss is in kilobytes on Linux. */
    printf("RESULT kind=measured label=%s wall_s=%.1f peak_rss_mb=%.1f exit=%d\n", argv[1], wall,
           (double)ru.ru_maxrss / 1024.0, code);
    if (fflush(stdout) != 0) return 2;
    return code;
}
