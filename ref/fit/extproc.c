#include "ref/fit/extproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ref/common/args.h"
#include "ref/common/util.h"

#define ERR_KEEP 2048 /* bytes of standard error kept, from its end */

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* The child: pipes onto 0, 1, 2, its own process group, SIGPIPE back to default, then sh. Only
 * async-signal-safe calls, since the parent may have threads. */
static void child(const char *cmd, int in_r, int out_w, int err_w)
{
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) _exit(127);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

/* Appends to the kept tail of standard error. */
static void keep_tail(char *tail, size_t *len, const char *buf, size_t n)
{
    if (n >= ERR_KEEP) {
        memcpy(tail, buf + n - ERR_KEEP, ERR_KEEP);
        *len = ERR_KEEP;
        return;
    }
    if (*len + n > ERR_KEEP) {
        size_t drop = *len + n - ERR_KEEP;
        memmove(tail, tail + drop, *len - drop);
        *len -= drop;
    }
    memcpy(tail + *len, buf, n);
    *len += n;
}

/* The last non-empty line of the kept standard error, trimmed, into p->err_tail. */
static void last_line(ExtProc *p, char *tail, size_t len)
{
    tail[len] = 0;
    char *end = tail + len;
    while (end > tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ')) *--end = 0;
    char *start = end;
    while (start > tail && start[-1] != '\n') start--;
    snprintf(p->err_tail, sizeof p->err_tail, "%s", start);
}

int extproc_run(const char *cmd, const char *input, size_t input_len, double timeout_s, ExtProc *p, char *err)
{
    memset(p, 0, sizeof *p);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    size_t out_cap = 65536, tail_len = 0;
    char *tail = malloc(ERR_KEEP + 1);
    p->out = malloc(out_cap);
    if (!tail || !p->out) {
        free(tail);
        snprintf(err, ERR_LEN, "out of memory");
        return 2;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(er, O_CLOEXEC)) {
        snprintf(err, ERR_LEN, "cannot make pipes for '%.100s': %s", cmd, strerror(errno));
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&out[0]), close_fd(&out[1]), close_fd(&er[0]), close_fd(&er[1]);
        free(tail);
        return 2;
    }
    double t0 = wall_seconds(), deadline = t0 + timeout_s;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, ERR_LEN, "cannot start '%.100s': %s", cmd, strerror(errno));
        close_fd(&in[0]), close_fd(&in[1]), close_fd(&out[0]), close_fd(&out[1]), close_fd(&er[0]), close_fd(&er[1]);
        free(tail);
        return 2;
    }
    if (pid == 0) child(cmd, in[0], out[1], er[1]);
    setpgid(pid, pid); /* also in the parent, so the group exists before any kill below */
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&er[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    if (input_len == 0) close_fd(&in[1]);
    int rc = 0;
    char buf[65536];
    while (out[0] >= 0 || er[0] >= 0) {
        double left = deadline - wall_seconds();
        if (left <= 0) {
            p->timed_out = 1;
            break;
        }
        struct pollfd fds[3];
        int nf = 0, i_in = -1, i_out = -1, i_err = -1;
        if (in[1] >= 0) fds[i_in = nf++] = (struct pollfd){in[1], POLLOUT, 0};
        if (out[0] >= 0) fds[i_out = nf++] = (struct pollfd){out[0], POLLIN, 0};
        if (er[0] >= 0) fds[i_err = nf++] = (struct pollfd){er[0], POLLIN, 0};
        int ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        int k = poll(fds, (nfds_t)nf, ms);
        if (k < 0) {
            if (errno == EINTR) continue;
            snprintf(err, ERR_LEN, "poll on '%.100s': %s", cmd, strerror(errno));
            rc = 2;
            break;
        }
        if (i_in >= 0 && fds[i_in].revents) {
            ssize_t w = write(in[1], input + written, input_len - written);
            if (w > 0) written += (size_t)w;
            /* EPIPE: the child closed its input without reading it all; that is its business. */
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input_len) close_fd(&in[1]);
        }
        if (i_out >= 0 && fds[i_out].revents) {
            ssize_t r = read(out[0], buf, sizeof buf);
            if (r > 0) {
                if (p->out_len + (size_t)r + 1 > EXTPROC_OUT_MAX) {
                    p->out_overflow = 1;
                    break;
                }
                if (p->out_len + (size_t)r + 1 > out_cap) {
                    while (p->out_len + (size_t)r + 1 > out_cap) out_cap *= 2;
                    char *b = realloc(p->out, out_cap);
                    if (!b) {
                        snprintf(err, ERR_LEN, "out of memory");
                        rc = 2;
                        break;
                    }
                    p->out = b;
                }
                memcpy(p->out + p->out_len, buf, (size_t)r);
                p->out_len += (size_t)r;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_fd(&out[0]);
            }
        }
        if (i_err >= 0 && fds[i_err].revents) {
            ssize_t r = read(er[0], buf, sizeof buf);
            if (r > 0) keep_tail(tail, &tail_len, buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(&er[0]);
        }
    }
    close_fd(&in[1]);
    close_fd(&out[0]);
    close_fd(&er[0]);
    /* Both outputs are closed: the child is done or about to be; wait for it within the time left. */
    int status = 0, reaped = 0;
    if (!p->timed_out && !p->out_overflow && !rc) {
        for (;;) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = 1;
                break;
            }
            if (w < 0 && errno != EINTR) break;
            if (wall_seconds() >= deadline) {
                p->timed_out = 1;
                break;
            }
            struct timespec ts = {0, 5000000};
            nanosleep(&ts, NULL);
        }
    }
    kill(-pid, SIGKILL); /* the group: a timed-out child, or anything it left in the background */
    if (!reaped) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    p->seconds = wall_seconds() - t0;
    if (reaped && WIFEXITED(status)) {
        p->exited = 1;
        p->exit_code = WEXITSTATUS(status);
    } else if (reaped && WIFSIGNALED(status)) {
        p->signaled = 1;
        p->signal_no = WTERMSIG(status);
    }
    p->out[p->out_len] = 0;
    last_line(p, tail, tail_len);
    free(tail);
    return rc;
}

void extproc_free(ExtProc *p)
{
    free(p->out);
    p->out = NULL;
}
