/* Running an external program as a filter with a time limit: `sh -c CMD` gets `input` on its
 * standard input, its standard output is collected, the tail of its standard error kept for
 * messages. The child runs in its own process group, and the whole group is killed (SIGKILL) when
 * the time runs out, when its output passes a cap, and after it exits (so that nothing it started
 * in the background outlives it). Used by `scalerl fitbench` for fitters in any language.
 *
 * The caller's process must ignore SIGPIPE (a child that exits without reading its input makes
 * the write fail with EPIPE instead); the child gets the default disposition back before exec. */
#ifndef SCALERL_EXTPROC_H
#define SCALERL_EXTPROC_H

#include <stddef.h>

#define EXTPROC_OUT_MAX (8u << 20) /* bytes of standard output kept before the child is stopped */

typedef struct {
    int exited, exit_code;    /* exited normally, with this status */
    int signaled, signal_no;  /* killed by a signal (not by us) */
    int timed_out;            /* we killed it at the time limit */
    int out_overflow;         /* we killed it: more than EXTPROC_OUT_MAX bytes of output */
    char *out;                /* standard output, NUL-terminated (owned; extproc_free) */
    size_t out_len;
    char err_tail[240];       /* the last line of its standard error, trimmed; "" when none */
    double seconds;           /* wall time */
} ExtProc;

/* Runs cmd with the input and a time limit of timeout_s seconds. 0 when the child was run (how it
 * ended is in p), 2 with err when it could not be (pipes, fork, memory). */
int extproc_run(const char *cmd, const char *input, size_t input_len, double timeout_s, ExtProc *p, char *err);
void extproc_free(ExtProc *p);

#endif
