/* Flat JSON objects, one per line (metrics.jsonl, fit.json, `json=1` output).
 *
 * Reader: parses one line holding one object whose values are numbers, strings, true, false or
 * null. Nested objects and arrays are skipped (kept as JSON_NESTED with no value), so a line with
 * extra structure is still read. The parse is in place: keys and strings point into the caller's
 * line buffer, which is modified (escapes decoded) and must outlive the JsonObj. The tokens NaN,
 * Infinity and -Infinity (Python's json writes them) are read as non-finite numbers; callers
 * decide whether those are acceptable.
 *
 * Writer: builds one line in a growing buffer and writes it with a single fwrite, so a reader of
 * a file being appended to sees whole lines or a truncated last line, never interleaved fields.
 * Numbers are written in the shortest form that reads back to the same double (at most 17
 * significant digits). NaN and infinities are not JSON: they are written as null.
 *
 * Errors: errbuf.h's convention (0 ok, 1 bad input, 2 I/O, a one-line message in err). */
#ifndef SCALERL_JSONL_H
#define SCALERL_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include "errbuf.h"

#define JSONL_MAX_FIELDS 256

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_NESTED } JsonType;

typedef struct {
    const char *key;
    JsonType type;
    double num;      /* JSON_NUM; JSON_BOOL as 0 or 1 */
    const char *str; /* JSON_STR, decoded UTF-8 */
} JsonField;

typedef struct {
    int n;
    JsonField f[JSONL_MAX_FIELDS];
} JsonObj;

/* Parses the object in line (trailing newline and spaces allowed). Returns 0, or 1 with err
 * saying what was expected and at which byte. A repeated key: the last value wins on lookup. */
int jsonl_parse(char *line, JsonObj *o, char *err);

/* The field named key (the last one when repeated), or NULL. */
const JsonField *jsonl_field(const JsonObj *o, const char *key);
/* 1 and *out when key holds a number (possibly non-finite); 0 when absent or not a number. */
int jsonl_num(const JsonObj *o, const char *key, double *out);
/* The string value of key, or NULL when absent or not a string. */
const char *jsonl_str(const JsonObj *o, const char *key);

typedef struct {
    char *buf;
    size_t len, cap;
    int fields;
    int oom; /* an allocation failed; reported by jw_end */
} JsonWriter;

void jw_init(JsonWriter *w);
void jw_free(JsonWriter *w);
/* Starts a new object, discarding any previous text (the buffer is reused). */
void jw_begin(JsonWriter *w);
void jw_num(JsonWriter *w, const char *key, double v); /* null when not finite */
void jw_int(JsonWriter *w, const char *key, long long v);
void jw_str(JsonWriter *w, const char *key, const char *s);
void jw_bool(JsonWriter *w, const char *key, int v);
void jw_null(JsonWriter *w, const char *key);
/* An array of numbers (non-finite elements as null); readers of flat objects skip it. */
void jw_num_array(JsonWriter *w, const char *key, const double *v, int n);
/* Closes the object and writes it plus '\n' to f in one fwrite. Returns 0, 2 on a write error or
 * an allocation failure while building, with err set. */
int jw_end(JsonWriter *w, FILE *f, char *err);
/* Closes the object without writing it; the text (no newline) stays in w->buf. 0, or 2 on OOM. */
int jw_finish(JsonWriter *w, char *err);

/* Formats v as the shortest decimal that reads back to v exactly ("null" when not finite);
 * buf must hold at least 32 bytes. */
void jsonl_format_double(double v, char *buf, size_t n);

#endif
