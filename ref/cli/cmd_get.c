/* scalerl get: fields of a JSON file through a template, so that a shell script (make run's
 * summary) reads fit.json without Python or jq and without grepping human-readable output.
 *
 *   scalerl get runs/default/fit.json '  A {A:.4f} [{A_lo:.4f}, {A_hi:.4f}]'
 *
 * {KEY} is the value as stored (numbers in their shortest exact form, strings as they are, true,
 * false, null); {KEY:SPEC} formats a number with a printf conversion SPEC of flags, width,
 * precision and one of f e g (".4f", "+.3g"), and a null as "-". {{ and }} are literal braces.
 * The file holds one JSON object (fit.json, a `json=1` line); a missing key is an error naming
 * it. Each template is printed on its own line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref/cli/commands.h"
#include "ref/common/jsonl.h"
#include "ref/common/util.h"

/* The largest width and precision of a {KEY:SPEC}: a field of a summary line, where printf's own
 * limit (INT_MAX) would let one field print gigabytes. */
#define SPEC_MAX_DIGITS 64
#define SPEC_MAX_LEN 32 /* characters of a SPEC, flags included */

/* The digits at spec[*i] (none: 0) as a number, capped just above SPEC_MAX_DIGITS so that no count
 * of digits overflows it. */
static long spec_count(const char *spec, size_t len, size_t *i)
{
    long v = 0;
    for (; *i < len && isdigit((unsigned char)spec[*i]); ++*i)
        if (v <= SPEC_MAX_DIGITS) v = 10 * v + (spec[*i] - '0');
    return v;
}

/* A printf conversion for one double: [-+ 0#]* [0-9]* (.[0-9]+)? [feg], nothing else, with a width
 * and a precision of at most SPEC_MAX_DIGITS. 0, or 1 with err naming the template and the key. */
static int number_spec(const char *spec, size_t len, const char *tpl, const char *key, char *err)
{
    size_t i = 0;
    long width, prec = 0;
    int form = 1;
    while (i < len && strchr("-+ 0#", spec[i])) i++;
    width = spec_count(spec, len, &i);
    if (i < len && spec[i] == '.') {
        size_t d = ++i;
        prec = spec_count(spec, len, &i);
        form = i > d;
    }
    if (!form || i + 1 != len || !strchr("feg", spec[i]) || len >= SPEC_MAX_LEN) {
        snprintf(err, ERR_LEN, "template '%.200s': bad format '%.*s' for '%s' (expected e.g. .4f, +.3g, 10.2e)", tpl,
                 (int)len, spec, key);
        return 1;
    }
    if (width > SPEC_MAX_DIGITS || prec > SPEC_MAX_DIGITS) {
        snprintf(err, ERR_LEN, "template '%.200s': format '%.*s' for '%s' has a %s above %d", tpl, (int)len, spec, key,
                 width > SPEC_MAX_DIGITS ? "width" : "precision", SPEC_MAX_DIGITS);
        return 1;
    }
    return 0;
}

static int expand(FILE *out, const char *tpl, const JsonObj *o, const char *file, char *err)
{
    for (const char *p = tpl; *p; p++) {
        if ((*p == '{' || *p == '}') && p[1] == *p) {
            fputc(*p++, out);
            continue;
        }
        if (*p == '}') {
            snprintf(err, ERR_LEN, "template '%.200s': a lone '}' (write }} for a brace)", tpl);
            return 1;
        }
        if (*p != '{') {
            fputc(*p, out);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) {
            snprintf(err, ERR_LEN, "template '%.200s': '{' without its '}'", tpl);
            return 1;
        }
        size_t klen = strcspn(p + 1, ":}");
        char key[128];
        if (klen == 0 || klen >= sizeof key) {
            snprintf(err, ERR_LEN, "template '%.200s': expected {KEY} or {KEY:SPEC}", tpl);
            return 1;
        }
        snprintf(key, sizeof key, "%.*s", (int)klen, p + 1);
        const char *spec = p + 1 + klen + (p[1 + klen] == ':');
        size_t slen = (size_t)(end - spec);
        const JsonField *fl = jsonl_field(o, key);
        if (!fl || fl->type == JSON_NESTED) {
            snprintf(err, ERR_LEN, "%s has no field '%s'%s", file, key, fl ? " of a plain value" : "");
            return 1;
        }
        if (slen) {
            char fmt[SPEC_MAX_LEN + 2];
            if (number_spec(spec, slen, tpl, key, err)) return 1;
            if (fl->type == JSON_NULL) {
                fputc('-', out);
            } else if (fl->type != JSON_NUM) {
                snprintf(err, ERR_LEN, "%s: '%s' is not a number, so it takes no format ({%s} prints it)", file, key, key);
                return 1;
            } else {
                snprintf(fmt, sizeof fmt, "%%%.*s", (int)slen, spec);
                fprintf(out, fmt, fl->num);
            }
        } else if (fl->type == JSON_NUM) {
            char buf[32];
            jsonl_format_double(fl->num, buf, sizeof buf);
            fputs(buf, out);
        } else if (fl->type == JSON_STR) {
            fputs(fl->str, out);
        } else if (fl->type == JSON_BOOL) {
            fputs(fl->num ? "true" : "false", out);
        } else {
            fputs("null", out);
        }
        p = end;
    }
    fputc('\n', out);
    return 0;
}

/* The file's one object, parsed into o (its text in *buf, which o points into). */
static int read_object(const char *path, char **buf, JsonObj *o, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        return 2;
    }
    size_t cap = 0;
    ssize_t len;
    int rc = 1, objects = 0;
    char *line = NULL;
    *buf = NULL;
    while ((len = getline(&line, &cap, f)) >= 0) {
        if (strspn(line, " \t\r\n") == (size_t)len) continue;
        if (objects++) {
            snprintf(err, ERR_LEN, "'%s' holds more than one JSON line: expected one object (a fit.json)", path);
            rc = 1;
            break;
        }
        *buf = line;
        line = NULL;
        cap = 0;
        char perr[ERR_LEN];
        rc = jsonl_parse(*buf, o, perr);
        if (rc) snprintf(err, ERR_LEN, "%s: %s", path, perr);
    }
    if (!objects) snprintf(err, ERR_LEN, "'%s' is empty: expected one JSON object", path);
    if (ferror(f)) {
        snprintf(err, ERR_LEN, "cannot read '%s': %s", path, strerror(errno));
        rc = 2;
    }
    free(line);
    fclose(f);
    return rc;
}

int cmd_get(int argc, char **argv)
{
    /* The words are taken as they are: a template may hold '=' and would not survive the
     * key=value parser of the other commands. */
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        printf("usage: scalerl get FILE TEMPLATE...\n\n"
               "Prints each TEMPLATE on its own line with {KEY} replaced by that field of FILE, a file\n"
               "of one JSON object such as a run's fit.json; {KEY:SPEC} formats a number (SPEC: .4f,\n"
               "+.3g, ...; null prints as -); {{ and }} are braces. For scripts: make run's summary.\n");
        char err[ERR_LEN];
        return flush_stdout(err) ? report_error("get", 2, err) : 0;
    }
    if (argc < 2) return report_error("get", 1, "expected a file and a template (usage: scalerl get FILE TEMPLATE...)");
    char err[ERR_LEN], *buf = NULL, *text = NULL;
    size_t len = 0;
    JsonObj *o = malloc(sizeof *o);
    if (!o) return report_error("get", 2, "out of memory");
    int rc = read_object(argv[0], &buf, o, err);
    /* Nothing is printed unless every template expands. */
    FILE *mem = rc ? NULL : open_memstream(&text, &len);
    if (!rc && !mem) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    for (int i = 1; i < argc && !rc; i++) rc = expand(mem, argv[i], o, argv[0], err);
    if (mem && fclose(mem) != 0 && !rc) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = 2;
    }
    if (!rc) {
        fwrite(text, 1, len, stdout);
        rc = flush_stdout(err);
    }
    free(text);
    free(buf);
    free(o);
    return rc ? report_error("get", rc, err) : 0;
}
