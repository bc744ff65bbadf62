#include "ref/common/lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ref/common/args.h"

/* The error of r's stream in err: 1 for a compressed stream cut short or corrupt (the file is
 * damaged), 2 for anything else (the reading failed). */
static int read_error(LineReader *r, char *err)
{
    int code;
    const char *msg = gzerror((gzFile)r->gz, &code);
    const size_t n = strlen(r->path);
    if (msg && strncmp(msg, r->path, n) == 0 && strncmp(msg + n, ": ", 2) == 0) msg += n + 2; /* err names it */
    if (code == Z_BUF_ERROR) {
        snprintf(err, ERR_LEN, "'%s' is cut short: its compressed stream ends early (expected a whole gzip file)",
                 r->path);
        return 1;
    }
    if (code == Z_DATA_ERROR) {
        snprintf(err, ERR_LEN, "'%s' is corrupt: its compressed data is damaged (zlib: %s)", r->path,
                 msg && *msg ? msg : "data error");
        return 1;
    }
    snprintf(err, ERR_LEN, "cannot read '%s': %s", r->path,
             code == Z_ERRNO ? strerror(errno) : (msg && *msg ? msg : "read error"));
    return 2;
}

/* A compressed file is written whole (train never appends to a .gz: runs are archived once
 * finished), so a stream that ends early or does not decompress is damage, not a run still
 * writing; nor should its garbage be parsed as lines. The whole stream is decompressed once to
 * check it before the first line is read. */
static int check_stream(LineReader *r, char *err)
{
    gzFile f = (gzFile)r->gz;
    if (gzdirect(f)) return 0; /* not compressed: read as it is */
    char block[16384];
    int got, code;
    while ((got = gzread(f, block, sizeof block)) > 0) continue;
    gzerror(f, &code);
    if (got < 0 || code != Z_OK || gzrewind(f) != 0) return read_error(r, err);
    return 0;
}

int lines_open(LineReader *r, const char *path, char *err)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, errno ? strerror(errno) : "out of memory");
        return 2;
    }
    r->gz = f;
    int rc = check_stream(r, err);
    if (rc) lines_close(r);
    return rc;
}

int lines_next(LineReader *r, size_t *len, char *err)
{
    size_t n = 0;
    for (;;) {
        if (r->cap - n < 2) {
            size_t nc = r->cap ? r->cap * 2 : 4096;
            char *b = realloc(r->buf, nc);
            if (!b) {
                snprintf(err, ERR_LEN, "out of memory reading '%s'", r->path);
                return 2;
            }
            r->buf = b;
            r->cap = nc;
        }
        /* gzgets reads at most cap - n - 1 bytes and stops after a newline. */
        if (!gzgets((gzFile)r->gz, r->buf + n, (int)(r->cap - n > 1 << 30 ? 1 << 30 : r->cap - n))) {
            int code;
            gzerror((gzFile)r->gz, &code);
            if (code != Z_OK) { /* the file changed since check_stream, or a read failed */
                read_error(r, err);
                return 2;
            }
            r->buf[n] = 0;
            *len = n;
            return n > 0;
        }
        n += strlen(r->buf + n);
        if (n > 0 && r->buf[n - 1] == '\n') {
            *len = n;
            return 1;
        }
        if (gzeof((gzFile)r->gz)) {
            int code;
            gzerror((gzFile)r->gz, &code);
            if (code != Z_OK) { /* a last line cut short with its stream */
                read_error(r, err);
                return 2;
            }
            *len = n;
            return n > 0;
        }
    }
}

void lines_close(LineReader *r)
{
    if (r->gz) gzclose((gzFile)r->gz);
    free(r->buf);
    memset(r, 0, sizeof *r);
}
