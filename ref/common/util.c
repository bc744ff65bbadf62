#include "ref/common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int atomic_open(AtomicFile *af, const char *path, char *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) {
        snprintf(err, ERR_LEN, "path too long: '%.100s...'", path);
        return 1;
    }
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    /* Unnamed until the commit: needs O_TMPFILE in path's directory and /proc to link it by. */
    char dir[1024];
    path_dir(dir, sizeof dir, path);
    int fd = access("/proc/self/fd", X_OK) == 0 ? open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666) : -1;
    if (fd >= 0) {
        if ((af->f = fdopen(fd, "wb"))) {
            af->unnamed = 1;
            return 0;
        }
        close(fd);
    }
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", af->tmp, strerror(errno));
        return 2;
    }
    return 0;
}

int atomic_close(AtomicFile *af, char *err)
{
    int bad = ferror(af->f) || fflush(af->f) != 0;
    int saved = errno;
    if (!bad && af->unnamed) {
        /* Give the complete file its temporary name (a stale one of a dead process with our pid
         * is removed first); the rename below replaces path with it. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fileno(af->f));
        int linked = linkat(AT_FDCWD, proc, AT_FDCWD, af->tmp, AT_SYMLINK_FOLLOW) == 0;
        if (!linked && errno == EEXIST && remove(af->tmp) == 0)
            linked = linkat(AT_FDCWD, proc, AT_FDCWD, af->tmp, AT_SYMLINK_FOLLOW) == 0;
        if (!linked) {
            bad = 1;
            saved = errno;
        }
        af->unnamed = !linked; /* named now: atomic_abort removes it */
    }
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    af->f = NULL;
    if (bad) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", af->tmp, strerror(saved));
        remove(af->tmp); /* an unnamed file may have been linked before fclose failed */
        return 2;
    }
    return 0;
}

int atomic_rename(AtomicFile *af, char *err)
{
    if (rename(af->tmp, af->path) != 0) {
        snprintf(err, ERR_LEN, "cannot rename '%s' to '%s': %s", af->tmp, af->path, strerror(errno));
        remove(af->tmp);
        return 2;
    }
    af->tmp[0] = 0; /* nothing left for atomic_abort to remove */
    return 0;
}

int atomic_commit(AtomicFile *af, char *err)
{
    int rc = atomic_close(af, err);
    return rc ? rc : atomic_rename(af, err);
}

void atomic_abort(AtomicFile *af)
{
    if (af->f) fclose(af->f); /* an unnamed file is gone with it */
    af->f = NULL;
    if (af->tmp[0] && !af->unnamed) remove(af->tmp);
}

int mkdir_p(const char *dir, char *err)
{
    char buf[1024];
    if (strlen(dir) >= sizeof buf) {
        snprintf(err, ERR_LEN, "path too long: '%.100s...'", dir);
        return 1;
    }
    strcpy(buf, dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            snprintf(err, ERR_LEN, "cannot create directory '%s': %s", buf, strerror(errno));
            return 2;
        }
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
        snprintf(err, ERR_LEN, "cannot create directory '%s': %s", buf, strerror(errno));
        return 2;
    }
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, ERR_LEN, "'%s' exists and is not a directory", buf);
        return 2;
    }
    return 0;
}

int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int path_join(char *out, size_t n, const char *dir, const char *name, char *err)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n) {
        snprintf(err, ERR_LEN, "path too long: '%.100s/%.100s'", dir, name);
        return 1;
    }
    return 0;
}

void path_dir(char *dir, size_t n, const char *path)
{
    snprintf(dir, n, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *(slash == dir ? slash + 1 : slash) = '\0';
    else snprintf(dir, n, ".");
}

int path_replaces(const char *out, const char *path)
{
    struct stat so, st;
    if (lstat(out, &so) != 0) return 0;
    return (lstat(path, &st) == 0 && st.st_dev == so.st_dev && st.st_ino == so.st_ino) ||
           (stat(path, &st) == 0 && st.st_dev == so.st_dev && st.st_ino == so.st_ino);
}

int utf8_char(const char *s, unsigned *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    int n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
    if (n == 0 || p[0] > 0xF4) return 0;
    unsigned v = p[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0; /* also stops at the terminating 0 */
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < least[n] || v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) return 0;
    *cp = v;
    return n;
}

char *trim_space(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

int flush_stdout(char *err)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        snprintf(err, ERR_LEN, "cannot write to stdout: %s", strerror(errno));
        return 2;
    }
    return 0;
}

double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void text_for_message(const char *s, size_t max, char *out, size_t n)
{
    size_t len = 0, i = 0;
    if (n == 0) return;
    for (; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        char piece[8];
        if (c == '\n') snprintf(piece, sizeof piece, "\\n");
        else if (c == '\t') snprintf(piece, sizeof piece, "\\t");
        else if (c == '\r') snprintf(piece, sizeof piece, "\\r");
        else if (c < 0x20 || c == 0x7f) snprintf(piece, sizeof piece, "\\x%02x", c);
        else snprintf(piece, sizeof piece, "%c", c);
        size_t k = strlen(piece);
        if (len + k + 4 > n) break;
        memcpy(out + len, piece, k);
        len += k;
    }
    if (s[i] && len + 4 <= n) {
        memcpy(out + len, "...", 3);
        len += 3;
    }
    out[len] = 0;
}

int report_error(const char *cmd, int rc, const char *err)
{
    /* One line whatever err holds (a message that echoes a value given with a newline). */
    char line[4 * ERR_LEN];
    text_for_message(err, ERR_LEN, line, sizeof line);
    fprintf(stderr, "scalerl %s: %s\n", cmd, line);
    return rc;
}
