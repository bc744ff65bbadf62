/* Text files read line by line, plain or gzip-compressed alike (zlib's gzread passes an
 * uncompressed file through unchanged), with lines of any length. Used for metrics.jsonl, which
 * a bank of committed runs keeps as metrics.jsonl.gz.
 *
 * Error convention as in ref/common/args.h: 0 ok, 1 bad input, 2 I/O, one-line message in err. */
#ifndef SCALERL_LINES_H
#define SCALERL_LINES_H

#include <stddef.h>

typedef struct {
    void *gz;       /* gzFile */
    char *buf;      /* the current line, NUL-terminated, newline kept */
    size_t cap;
    char path[1100];
} LineReader;

/* 0; 1 when a compressed file is cut short or corrupt (its whole stream is checked here, before
 * any line is read); 2 when it cannot be read. err names the file. */
int lines_open(LineReader *r, const char *path, char *err);
/* The next line into r->buf: 1 with *len (its length, newline included), 0 at the end of the
 * file, 2 on a read error (err names the file). A last line without a newline is returned as
 * is: the caller tells it by its missing '\n'. */
int lines_next(LineReader *r, size_t *len, char *err);
void lines_close(LineReader *r);

#endif
