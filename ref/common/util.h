/* Small services every command needs: atomic file output, clocks, directories, error lines. */
#ifndef SCALERL_UTIL_H
#define SCALERL_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include "errbuf.h"

/* A file written under a temporary name in the same directory and renamed into place on
 * commit, so that a reader never sees a half-written file. Where the file system allows
 * (Linux's O_TMPFILE), the temporary file has no name until the commit links it, so a process
 * killed while writing leaves nothing behind; elsewhere it is PATH.tmp.PID from the start. */
typedef struct {
    FILE *f;
    char path[1024];
    char tmp[1100];
    int unnamed; /* 1: an O_TMPFILE file, linked as tmp only at commit */
} AtomicFile;

int atomic_open(AtomicFile *af, const char *path, char *err);
/* Flushes, closes and renames; on any failure removes the temporary file. Returns 0 or 2. */
int atomic_commit(AtomicFile *af, char *err);
/* atomic_commit in two steps, for files that are to appear together (a run's metrics and config):
 * close them all, and rename them only when every one was written. atomic_close flushes and
 * closes, atomic_rename renames; each returns 0, or 2 with the temporary file removed. */
int atomic_close(AtomicFile *af, char *err);
int atomic_rename(AtomicFile *af, char *err);
/* Closes and removes the temporary file (after an error). */
void atomic_abort(AtomicFile *af);

/* Creates dir and its parents (like mkdir -p). Returns 0 or 2. */
int mkdir_p(const char *dir, char *err);
int file_exists(const char *path);
/* "dir/name" into out (n bytes). Returns 0, or 1 with err when it does not fit. */
int path_join(char *out, size_t n, const char *dir, const char *name, char *err);
/* The directory part of path into dir (n bytes): "a/b" gives "a", "/b" gives "/", "b" gives ".". */
void path_dir(char *dir, size_t n, const char *path);
/* 1 when renaming a file into `out` would replace `path`: out's directory entry (lstat: the rename
 * replaces a link, not what it points to) is path's own, or the file path's symlink leads to. 0
 * when out does not exist yet. */
int path_replaces(const char *out, const char *path);

/* The well-formed UTF-8 character at s (0-terminated): its length in bytes (1 to 4) and its code
 * point in *cp; 0 when s starts with a byte that begins no well-formed character (a stray
 * continuation byte, an overlong form, a surrogate, beyond U+10FFFF, cut short). Writers of XML
 * and JSON replace such bytes with U+FFFD, so that their files stay well-formed. */
int utf8_char(const char *s, unsigned *cp);

/* The first `max` bytes of s for a one-line message: control characters written as \n, \t, \r
 * or \xNN, and "..." when s was longer. out holds n bytes (at least 8 * max is always enough). */
void text_for_message(const char *s, size_t max, char *out, size_t n);

/* s without leading and trailing white space (the end is cut in place). */
char *trim_space(char *s);

/* Flushes stdout and checks it for write errors, so that a full disk or a closed pipe is an
 * error rather than a silently cut report. Returns 0 or 2. */
int flush_stdout(char *err);

double wall_seconds(void); /* monotonic */
double cpu_seconds(void);  /* CPU time of the whole process, all threads */

/* Prints "scalerl CMD: ERR" on stderr and returns rc, so commands can `return fail(...)`. */
int report_error(const char *cmd, int rc, const char *err);

#endif
