#include "ref/common/lines.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ref/common/args.h"

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
    return 0;
}

static void read_error(LineReader *r, char *err)
{
    int code;
    const char *msg = gzerror((gzFile)r->gz, &code);
    snprintf(err, ERR_LEN, "cannot read '%s': %s", r->path,
             code == Z_ERRNO ? strerror(errno) : (msg && *msg ? msg : "read error"));
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
            if (code != Z_OK) { /* Z_BUF_ERROR here: a compressed file cut short */
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
