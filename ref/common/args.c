#include "ref/common/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/common/util.h"

static int find_key(const Args *a, const char *key)
{
    for (int i = a->n - 1; i >= 0; i--)
        if (strcmp(a->kv[i].key, key) == 0) return i;
    return -1;
}

int args_set(Args *a, const char *key, const char *val, char *err)
{
    size_t klen = strlen(key);
    if (klen == 0 || klen >= ARGS_KEY_LEN) {
        snprintf(err, ERR_LEN, "bad key '%.80s' for '%s': expected 1 to %d characters", key,
                 a->cmd, ARGS_KEY_LEN - 1);
        return 1;
    }
    if (strlen(val) >= ARGS_VAL_LEN) {
        snprintf(err, ERR_LEN, "value of '%s' is too long: at most %d characters", key,
                 ARGS_VAL_LEN - 1);
        return 1;
    }
    int i = find_key(a, key);
    if (i < 0) {
        if (a->n >= ARGS_MAX) {
            snprintf(err, ERR_LEN, "too many arguments: at most %d", ARGS_MAX);
            return 1;
        }
        i = a->n++;
        memcpy(a->kv[i].key, key, klen + 1);
    }
    strcpy(a->kv[i].val, val);
    a->kv[i].used = 0;
    return 0;
}

/* key=value with the key made of [A-Za-z0-9_]; anything else is not a pair. */
static int split_pair(const char *word, char *key, const char **val)
{
    const char *eq = strchr(word, '=');
    if (!eq || eq == word || (size_t)(eq - word) >= ARGS_KEY_LEN) return 0;
    for (const char *p = word; p < eq; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') return 0;
    memcpy(key, word, (size_t)(eq - word));
    key[eq - word] = 0;
    *val = eq + 1;
    return 1;
}

static int load_config_file(Args *a, const char *path_raw, char *err)
{
    char path[8 * 200 + 8]; /* as messages show it */
    text_for_message(path_raw, 200, path, sizeof path);
    FILE *f = fopen(path_raw, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "cannot read config file '%s': %s", path, strerror(errno));
        return 2;
    }
    const size_t max_line = ARGS_KEY_LEN + ARGS_VAL_LEN + 8;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    errno = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *nul = memchr(line, 0, (size_t)len);
        if (nul) {
            snprintf(err, ERR_LEN, "%s:%d: a NUL byte at column %d (expected key=value text lines)", path, lineno,
                     (int)(nul - line) + 1);
            rc = 1;
            break;
        }
        if ((size_t)len > max_line) {
            snprintf(err, ERR_LEN, "%s:%d: line of %zd bytes: expected at most %zu (a key and a value of at most %d "
                     "characters)", path, lineno, len, max_line, ARGS_VAL_LEN - 1);
            rc = 1;
            break;
        }
        char *s = trim_space(line);
        if (*s == 0 || *s == '#') continue;
        char key[ARGS_KEY_LEN];
        const char *val;
        if (!split_pair(s, key, &val)) {
            char shown[8 * 80 + 8];
            text_for_message(s, 80, shown, sizeof shown);
            snprintf(err, ERR_LEN, "%s:%d: expected key=value, got '%s'", path, lineno, shown);
            rc = 1;
            break;
        }
        if ((rc = args_set(a, key, val, err))) {
            /* Name the line: the message alone does not say where in the file. */
            char what[ERR_LEN];
            snprintf(what, sizeof what, "%s", err);
            snprintf(err, ERR_LEN, "%s:%d: %s", path, lineno, what);
            break;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, ERR_LEN, "cannot read config file '%s': %s", path, strerror(errno));
        rc = 2;
    }
    free(line);
    fclose(f);
    return rc;
}

/* 1 with err when out= names the --config file (however spelled, or through a link): the output
 * would replace the keys it was made from. A run replayed from its own DIR/config.txt with
 * out=DIR passes: a directory is not the file. */
static int refuse_config_as_out(const Args *a, const char *config, char *err)
{
    int i = find_key(a, "out");
    struct stat so, sc;
    if (i < 0 || stat(a->kv[i].val, &so) != 0 || stat(config, &sc) != 0) return 0; /* a new out= is no input */
    if (so.st_dev != sc.st_dev || so.st_ino != sc.st_ino) return 0;
    char out[8 * 200 + 8], path[8 * 200 + 8];
    text_for_message(a->kv[i].val, 200, out, sizeof out);
    text_for_message(config, 200, path, sizeof path);
    snprintf(err, ERR_LEN, "out='%s' is the --config file '%s': writing there would replace it (choose another out=)",
             out, path);
    return 1;
}

int args_parse(Args *a, const char *cmd, int argc, char **argv, char *err)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    /* The config file first, wherever --config appears, so that the command line overrides it. */
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, ERR_LEN, "--config needs a file name");
                return 1;
            }
            int rc = load_config_file(a, argv[i + 1], err);
            if (rc) return rc;
            i++;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        char key[ARGS_KEY_LEN];
        const char *val;
        if (strcmp(w, "--config") == 0) {
            i++;
        } else if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0 || strcmp(w, "help") == 0) {
            a->help = 1;
        } else if (split_pair(w, key, &val)) {
            int rc = args_set(a, key, val, err);
            if (rc) return rc;
        } else if (w[0] == '-') {
            char shown[8 * 80 + 8];
            text_for_message(w, 80, shown, sizeof shown);
            snprintf(err, ERR_LEN, "unknown flag '%s' for '%s' (expected key=value, --config FILE or --help)", shown, cmd);
            return 1;
        } else {
            if (a->n_pos >= ARGS_MAX) {
                snprintf(err, ERR_LEN, "too many arguments: at most %d", ARGS_MAX);
                return 1;
            }
            a->pos[a->n_pos++] = w;
        }
    }
    /* Once every word is in: out= may come before --config, or from the file itself. */
    for (int i = 0; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--config") != 0) continue;
        int rc = refuse_config_as_out(a, argv[i + 1], err);
        if (rc) return rc;
        i++;
    }
    return 0;
}

const char *args_get(Args *a, const char *key)
{
    int i = find_key(a, key);
    if (i < 0) return NULL;
    a->kv[i].used = 1;
    return a->kv[i].val;
}

int args_has(const Args *a, const char *key)
{
    return find_key(a, key) >= 0;
}

int args_check_unused(const Args *a, char *err)
{
    for (int i = 0; i < a->n; i++) {
        if (!a->kv[i].used) {
            snprintf(err, ERR_LEN, "unknown key '%s' for '%s' (see: scalerl %s --help)", a->kv[i].key,
                     a->cmd, a->cmd);
            return 1;
        }
    }
    return 0;
}

void opts_choice_name(const char *choices, int idx, char *buf, size_t n)
{
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || idx < 0) p = "";
    const char *bar = strchr(p, '|');
    int len = bar ? (int)(bar - p) : (int)strlen(p);
    snprintf(buf, n, "%.*s", len, p);
}

/* Index of val among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *val)
{
    size_t n = strlen(val);
    int idx = 0;
    for (const char *p = choices; p; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, val, n) == 0) return idx;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* v in the fewest significant digits that read back as v, so that a bound like 0.999999999 is not
 * shown as 1 (which would contradict the refusal of 1). */
typedef struct {
    char s[32];
} NumText;

static NumText num_text(double v)
{
    NumText t;
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(t.s, sizeof t.s, "%.*g", prec, v);
        if (strtod(t.s, NULL) == v) break;
    }
    return t;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != 0 || errno) return 0;
    *out = v;
    return 1;
}

/* Integers may be written 1e6 or 2.5e5 when the value is integral (tokens=1e6). */
static int parse_count(const char *s, long *out)
{
    if (parse_long(s, out)) return 1;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != 0 || errno || !isfinite(d) || d != floor(d) || fabs(d) > 9e15) return 0;
    *out = (long)d;
    return 1;
}

/* Text values end up as lines of config files (config.txt, replayed with --config, which trims
 * each line) and in messages: control characters (a newline would split the line) and white space
 * at either end (trimmed away) would not come back as given. */
static int check_text(const char *key, const char *val, char *err)
{
    char shown[8 * 80 + 8];
    for (const unsigned char *p = (const unsigned char *)val; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(err, ERR_LEN, "bad value for '%s': control character 0x%02x at byte %d (expected printable text)",
                     key, *p, (int)(p - (const unsigned char *)val) + 1);
            return 1;
        }
    size_t n = strlen(val);
    if (n && (val[0] == ' ' || val[n - 1] == ' ')) {
        text_for_message(val, 80, shown, sizeof shown);
        snprintf(err, ERR_LEN, "bad value '%s' for '%s': expected text without spaces at either end", shown, key);
        return 1;
    }
    return 0;
}

int opts_set_value(const OptSpec *s, void *cfg, const char *val_raw, char *err)
{
    char *field = (char *)cfg + s->offset;
    /* The value as messages echo it (one line, at most 80 bytes of it); parsing reads val_raw. */
    char val[8 * 80 + 8];
    text_for_message(val_raw, 80, val, sizeof val);
    switch (s->type) {
    case OPT_INT: {
        long v;
        if (!parse_count(val_raw, &v)) {
            snprintf(err, ERR_LEN, "bad value '%s' for '%s': expected an integer in [%.0f, %.0f]", val,
                     s->key, s->lo, s->hi);
            return 1;
        }
        if (v < s->lo || v > s->hi) {
            snprintf(err, ERR_LEN, "bad value %ld for '%s': expected an integer in [%.0f, %.0f]", v, s->key,
                     s->lo, s->hi);
            return 1;
        }
        *(long *)field = v;
        return 0;
    }
    case OPT_FLOAT: {
        char *end;
        errno = 0;
        double v = strtod(val_raw, &end);
        if (end == val_raw || *end != 0 || errno || !isfinite(v)) {
            snprintf(err, ERR_LEN, "bad value '%s' for '%s': expected a number in [%s, %s]", val, s->key,
                     num_text(s->lo).s, num_text(s->hi).s);
            return 1;
        }
        if (v < s->lo || v > s->hi) {
            snprintf(err, ERR_LEN, "bad value %s for '%s': expected a number in [%s, %s]", num_text(v).s, s->key,
                     num_text(s->lo).s, num_text(s->hi).s);
            return 1;
        }
        *(double *)field = v;
        return 0;
    }
    case OPT_STR:
        if (strlen(val_raw) >= OPT_STR_LEN) {
            snprintf(err, ERR_LEN, "value of '%s' is too long: at most %d characters", s->key,
                     OPT_STR_LEN - 1);
            return 1;
        }
        if (check_text(s->key, val_raw, err)) return 1;
        strcpy(field, val_raw);
        return 0;
    case OPT_CHOICE: {
        int idx = choice_index(s->choices, val_raw);
        if (idx < 0) {
            snprintf(err, ERR_LEN, "bad value '%s' for '%s': expected one of %s", val, s->key, s->choices);
            return 1;
        }
        *(int *)field = idx;
        return 0;
    }
    case OPT_RANGE: {
        long lo, hi;
        char buf[128];
        const char *dash = strchr(val_raw + (val_raw[0] == '-'), '-');
        int ok;
        if (!dash) {
            ok = parse_count(val_raw, &lo);
            hi = lo;
        } else {
            size_t n = (size_t)(dash - val_raw);
            ok = n < sizeof buf;
            if (ok) {
                memcpy(buf, val_raw, n);
                buf[n] = 0;
                ok = parse_count(buf, &lo) && parse_count(dash + 1, &hi);
            }
        }
        if (!ok || lo > hi || lo < s->lo || hi > s->hi) {
            snprintf(err, ERR_LEN, "bad value '%s' for '%s': expected N or LO-HI with %.0f <= LO <= HI <= %.0f",
                     val, s->key, s->lo, s->hi);
            return 1;
        }
        ((long *)field)[0] = lo;
        ((long *)field)[1] = hi;
        return 0;
    }
    }
    snprintf(err, ERR_LEN, "internal: bad option type for '%s'", s->key);
    return 1;
}

int opts_set_defaults(const OptSpec *specs, void *cfg, char *err)
{
    for (const OptSpec *s = specs; s->key; s++) {
        if (!s->def) continue;
        int rc = opts_set_value(s, cfg, s->def, err);
        if (rc) return rc;
    }
    return 0;
}

int opts_apply_given(const OptSpec *specs, void *cfg, Args *a, char *err)
{
    for (const OptSpec *s = specs; s->key; s++) {
        const char *val = args_get(a, s->key);
        if (!val) {
            if (s->def) continue;
            snprintf(err, ERR_LEN, "'%s' needs %s=... (%s)", a->cmd, s->key, s->help);
            return 1;
        }
        int rc = opts_set_value(s, cfg, val, err);
        if (rc) return rc;
    }
    return 0;
}

int opts_apply(const OptSpec *specs, void *cfg, Args *a, char *err)
{
    int rc = opts_set_defaults(specs, cfg, err);
    return rc ? rc : opts_apply_given(specs, cfg, a, err);
}

const OptSpec *opts_find(const OptSpec *specs, const char *key)
{
    for (const OptSpec *s = specs; s->key; s++)
        if (strcmp(s->key, key) == 0) return s;
    return NULL;
}

static void format_value(const OptSpec *s, const void *cfg, char *buf, size_t n)
{
    const char *field = (const char *)cfg + s->offset;
    switch (s->type) {
    case OPT_INT: snprintf(buf, n, "%ld", *(const long *)field); break;
    case OPT_FLOAT: snprintf(buf, n, "%.17g", *(const double *)field); break;
    case OPT_STR: snprintf(buf, n, "%s", field); break;
    case OPT_CHOICE: opts_choice_name(s->choices, *(const int *)field, buf, n); break;
    case OPT_RANGE: {
        const long *r = (const long *)field;
        if (r[0] == r[1]) snprintf(buf, n, "%ld", r[0]);
        else snprintf(buf, n, "%ld-%ld", r[0], r[1]);
        break;
    }
    }
}

void opts_write(const OptSpec *specs, const void *cfg, FILE *f)
{
    char buf[OPT_STR_LEN + 64];
    for (const OptSpec *s = specs; s->key; s++) {
        format_value(s, cfg, buf, sizeof buf);
        /* An optional text key left empty is its default either way; leaving it out keeps the
         * files of runs made before the key existed identical. */
        if (s->type == OPT_STR && !buf[0] && s->def && !s->def[0]) continue;
        fprintf(f, "%s=%s\n", s->key, buf);
    }
}

void opts_help(const OptSpec *specs, FILE *f)
{
    for (const OptSpec *s = specs; s->key; s++) {
        char accepted[256];
        switch (s->type) {
        case OPT_INT: snprintf(accepted, sizeof accepted, "integer %.0f..%.0f", s->lo, s->hi); break;
        case OPT_FLOAT: snprintf(accepted, sizeof accepted, "number %s..%s", num_text(s->lo).s, num_text(s->hi).s); break;
        case OPT_STR: snprintf(accepted, sizeof accepted, "text"); break;
        case OPT_CHOICE: snprintf(accepted, sizeof accepted, "%s", s->choices); break;
        case OPT_RANGE: snprintf(accepted, sizeof accepted, "N or LO-HI in %.0f..%.0f", s->lo, s->hi); break;
        }
        fprintf(f, "  %-18s %-40s %s [default: %s]\n", s->key, accepted, s->help,
                s->def ? s->def : "required");
    }
}
