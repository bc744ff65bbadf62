#include "ref/common/jsonl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ref/common/util.h"

/* ---------------------------------------------------------------- reader */

typedef struct {
    char *s;     /* the line, decoded in place */
    size_t pos;
    char *err;
} Parser;

static int fail_at(Parser *p, const char *what)
{
    snprintf(p->err, ERR_LEN, "bad JSON at byte %zu: expected %s", p->pos + 1, what);
    return 1;
}

static void skip_space(Parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r')
        p->pos++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* Writes code point cp as UTF-8 at out; returns the byte count. */
static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the string starting at the opening quote, in place (the decoded text is never longer
 * than its escaped form), and returns its start through *out. */
static int parse_string(Parser *p, const char **out)
{
    if (p->s[p->pos] != '"') return fail_at(p, "'\"'");
    p->pos++;
    char *dst = p->s + p->pos;
    *out = dst;
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == 0) return fail_at(p, "closing '\"' of a string");
        if (c < 0x20) return fail_at(p, "no raw control characters inside a string");
        if (c == '"') {
            *dst = 0;
            p->pos++;
            return 0;
        }
        if (c != '\\') {
            *dst++ = (char)c;
            p->pos++;
            continue;
        }
        char e = p->s[p->pos + 1];
        p->pos += 2;
        switch (e) {
        case '"': *dst++ = '"'; break;
        case '\\': *dst++ = '\\'; break;
        case '/': *dst++ = '/'; break;
        case 'b': *dst++ = '\b'; break;
        case 'f': *dst++ = '\f'; break;
        case 'n': *dst++ = '\n'; break;
        case 'r': *dst++ = '\r'; break;
        case 't': *dst++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(p->s + p->pos, &cp)) return fail_at(p, "4 hex digits after \\u");
            p->pos += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u' &&
                hex4(p->s + p->pos + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p->pos += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
            }
            dst += put_utf8(dst, cp);
            break;
        }
        default: p->pos -= 1; return fail_at(p, "an escape among \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
        }
    }
}

static int starts(const char *s, const char *word)
{
    return strncmp(s, word, strlen(word)) == 0;
}

/* JSON's number grammar, checked before strtod so that "0x10", "1." or ".5" are refused. */
static int parse_number(Parser *p, double *out)
{
    const char *s = p->s + p->pos;
    size_t i = 0;
    if (starts(s, "NaN")) {
        *out = NAN;
        p->pos += 3;
        return 0;
    }
    if (starts(s, "Infinity") || starts(s, "-Infinity")) {
        *out = s[0] == '-' ? -INFINITY : INFINITY;
        p->pos += s[0] == '-' ? 9 : 8;
        return 0;
    }
    if (s[i] == '-') i++;
    if (s[i] == '0') i++;
    else if (s[i] >= '1' && s[i] <= '9') while (s[i] >= '0' && s[i] <= '9') i++;
    else return fail_at(p, "a value (number, string, true, false, null, object or array)");
    if (s[i] == '.') {
        i++;
        if (!(s[i] >= '0' && s[i] <= '9')) return fail_at(p, "a digit after '.'");
        while (s[i] >= '0' && s[i] <= '9') i++;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-') i++;
        if (!(s[i] >= '0' && s[i] <= '9')) return fail_at(p, "a digit in the exponent");
        while (s[i] >= '0' && s[i] <= '9') i++;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* Overflow gives +-HUGE_VAL, which we keep as infinity; underflow to 0 is fine. */
    if ((size_t)(end - s) != i) return fail_at(p, "a number");
    *out = v;
    p->pos += i;
    return 0;
}

/* Skips a nested object or array, minding strings, so that brackets inside them do not count. */
static int skip_nested(Parser *p)
{
    int depth = 0;
    for (;;) {
        char c = p->s[p->pos];
        if (c == 0) return fail_at(p, "the end of a nested value");
        if (c == '"') {
            const char *ignored;
            if (parse_string(p, &ignored)) return 1;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        if (c == '}' || c == ']') depth--;
        p->pos++;
        if (depth == 0) return 0;
    }
}

static int parse_value(Parser *p, JsonField *f)
{
    char c = p->s[p->pos];
    f->num = 0;
    f->str = NULL;
    if (c == '"') {
        f->type = JSON_STR;
        return parse_string(p, &f->str);
    }
    if (c == '{' || c == '[') {
        f->type = JSON_NESTED;
        return skip_nested(p);
    }
    if (starts(p->s + p->pos, "true")) {
        f->type = JSON_BOOL;
        f->num = 1;
        p->pos += 4;
        return 0;
    }
    if (starts(p->s + p->pos, "false")) {
        f->type = JSON_BOOL;
        p->pos += 5;
        return 0;
    }
    if (starts(p->s + p->pos, "null")) {
        f->type = JSON_NULL;
        p->pos += 4;
        return 0;
    }
    f->type = JSON_NUM;
    return parse_number(p, &f->num);
}

int jsonl_parse(char *line, JsonObj *o, char *err)
{
    Parser p = {line, 0, err};
    o->n = 0;
    skip_space(&p);
    if (line[p.pos] != '{') return fail_at(&p, "'{' opening an object");
    p.pos++;
    skip_space(&p);
    if (line[p.pos] == '}') {
        p.pos++;
    } else {
        for (;;) {
            if (o->n >= JSONL_MAX_FIELDS) {
                snprintf(err, ERR_LEN, "JSON object has more than %d fields", JSONL_MAX_FIELDS);
                return 1;
            }
            JsonField *f = &o->f[o->n];
            skip_space(&p);
            if (parse_string(&p, &f->key)) return 1;
            skip_space(&p);
            if (line[p.pos] != ':') return fail_at(&p, "':' after a key");
            p.pos++;
            skip_space(&p);
            if (parse_value(&p, f)) return 1;
            o->n++;
            skip_space(&p);
            if (line[p.pos] == ',') {
                p.pos++;
                continue;
            }
            if (line[p.pos] == '}') {
                p.pos++;
                break;
            }
            return fail_at(&p, "',' or '}'");
        }
    }
    skip_space(&p);
    if (line[p.pos] != 0) return fail_at(&p, "the end of the line after the object");
    return 0;
}

const JsonField *jsonl_field(const JsonObj *o, const char *key)
{
    for (int i = o->n - 1; i >= 0; i--)
        if (strcmp(o->f[i].key, key) == 0) return &o->f[i];
    return NULL;
}

int jsonl_num(const JsonObj *o, const char *key, double *out)
{
    const JsonField *f = jsonl_field(o, key);
    if (!f || f->type != JSON_NUM) return 0;
    *out = f->num;
    return 1;
}

const char *jsonl_str(const JsonObj *o, const char *key)
{
    const JsonField *f = jsonl_field(o, key);
    return f && f->type == JSON_STR ? f->str : NULL;
}

/* ---------------------------------------------------------------- writer */

void jsonl_format_double(double v, char *buf, size_t n)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "null");
        return;
    }
    /* 15 significant digits print every decimal with up to 15 digits unchanged (0.1 stays 0.1);
     * 17 always round-trip a double. Take the first that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void jw_init(JsonWriter *w)
{
    memset(w, 0, sizeof *w);
}

void jw_free(JsonWriter *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void put(JsonWriter *w, const char *s, size_t n)
{
    if (w->oom) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1) cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->oom = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void puts_(JsonWriter *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_escaped(JsonWriter *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': puts_(w, "\\\""); break;
        case '\\': puts_(w, "\\\\"); break;
        case '\n': puts_(w, "\\n"); break;
        case '\r': puts_(w, "\\r"); break;
        case '\t': puts_(w, "\\t"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                puts_(w, esc);
            } else if (*c < 0x80) {
                put(w, (const char *)c, 1);
            } else {
                /* JSON text is UTF-8: a byte that starts no well-formed character becomes U+FFFD. */
                unsigned cp;
                int n = utf8_char((const char *)c, &cp);
                if (n > 0) put(w, (const char *)c, (size_t)n);
                else puts_(w, "\\ufffd");
                c += n > 0 ? n - 1 : 0;
            }
        }
    }
    put(w, "\"", 1);
}

static void put_key(JsonWriter *w, const char *key)
{
    if (w->fields++) put(w, ",", 1);
    put_escaped(w, key);
    put(w, ":", 1);
}

void jw_begin(JsonWriter *w)
{
    w->len = 0;
    w->fields = 0;
    w->oom = 0;
    put(w, "{", 1);
}

void jw_num(JsonWriter *w, const char *key, double v)
{
    char buf[40];
    jsonl_format_double(v, buf, sizeof buf);
    put_key(w, key);
    puts_(w, buf);
}

void jw_int(JsonWriter *w, const char *key, long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", v);
    put_key(w, key);
    puts_(w, buf);
}

void jw_str(JsonWriter *w, const char *key, const char *s)
{
    put_key(w, key);
    put_escaped(w, s);
}

void jw_bool(JsonWriter *w, const char *key, int v)
{
    put_key(w, key);
    puts_(w, v ? "true" : "false");
}

void jw_null(JsonWriter *w, const char *key)
{
    put_key(w, key);
    puts_(w, "null");
}

void jw_num_array(JsonWriter *w, const char *key, const double *v, int n)
{
    put_key(w, key);
    put(w, "[", 1);
    for (int i = 0; i < n; i++) {
        char buf[40];
        jsonl_format_double(v[i], buf, sizeof buf);
        if (i) put(w, ",", 1);
        puts_(w, buf);
    }
    put(w, "]", 1);
}

int jw_finish(JsonWriter *w, char *err)
{
    put(w, "}", 1);
    if (w->oom) {
        snprintf(err, ERR_LEN, "out of memory while formatting a JSON line");
        return 2;
    }
    return 0;
}

int jw_end(JsonWriter *w, FILE *f, char *err)
{
    if (jw_finish(w, err)) return 2;
    put(w, "\n", 1);
    if (w->oom) {
        snprintf(err, ERR_LEN, "out of memory while formatting a JSON line");
        return 2;
    }
    if (fwrite(w->buf, 1, w->len, f) != w->len) {
        snprintf(err, ERR_LEN, "cannot write a JSON line: %s", strerror(errno));
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------- whole-line files */

int jsonl_file_open(JsonlFile *jf, const char *path, long long keep, char *err)
{
    memset(jf, 0, sizeof *jf);
    if (strlen(path) >= sizeof jf->path) {
        snprintf(err, ERR_LEN, "path too long: '%.100s...'", path);
        return 1;
    }
    strcpy(jf->path, path);
    /* O_APPEND: every row lands at the end, which a failed row's cut moves back. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (keep == 0 ? O_TRUNC : 0), 0644);
    if (fd < 0) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", path, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, ERR_LEN, "cannot read the size of '%s': %s", path, strerror(errno));
        close(fd);
        return 2;
    }
    if (keep > 0) {
        char last = 0;
        int whole = keep <= (long long)st.st_size;
        if (whole) {
            int rd = open(path, O_RDONLY | O_CLOEXEC);
            whole = rd >= 0 && pread(rd, &last, 1, (off_t)keep - 1) == 1 && last == '\n';
            if (rd >= 0) close(rd);
        }
        if (!whole) {
            snprintf(err, ERR_LEN, "'%s' has %lld bytes: cannot keep its first %lld as whole lines", path,
                     (long long)st.st_size, keep);
            close(fd);
            return 1;
        }
        if (ftruncate(fd, (off_t)keep) != 0) {
            snprintf(err, ERR_LEN, "cannot cut '%s' back to %lld bytes: %s", path, keep, strerror(errno));
            close(fd);
            return 2;
        }
    }
    jf->fd = fd;
    jf->size = keep;
    jf->is_open = 1;
    return 0;
}

int jsonl_file_append(JsonlFile *jf, JsonWriter *w, char *err)
{
    if (jw_finish(w, err)) return 2;
    put(w, "\n", 1);
    if (w->oom) {
        snprintf(err, ERR_LEN, "out of memory while formatting a JSON line for '%s'", jf->path);
        return 2;
    }
    size_t done = 0;
    while (done < w->len) {
        ssize_t n = write(jf->fd, w->buf + done, w->len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        /* n == 0 cannot happen for a regular file with bytes to write; call it a full disk. */
        int saved = n < 0 ? errno : ENOSPC;
        if (ftruncate(jf->fd, (off_t)jf->size) != 0) {
            snprintf(err, ERR_LEN, "cannot write '%s': %s (and cutting its partial last line failed: %s)", jf->path,
                     strerror(saved), strerror(errno));
        } else {
            snprintf(err, ERR_LEN, "cannot write '%s': %s (it keeps its %lld bytes of whole lines)", jf->path,
                     strerror(saved), jf->size);
        }
        return 2;
    }
    jf->size += (long long)w->len;
    return 0;
}

int jsonl_file_close(JsonlFile *jf, char *err)
{
    if (!jf->is_open) return 0;
    jf->is_open = 0;
    if (close(jf->fd) != 0) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", jf->path, strerror(errno));
        return 2;
    }
    return 0;
}
