/* The flat JSON reader and writer: exact number round trips, escapes both ways, skipped nested
 * values, non-finite numbers written as null, and malformed lines refused with a message. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "models/rng.h"
#include "ref/common/jsonl.h"
#include "tests/test.h"

static void test_format(void)
{
    char buf[40];
    jsonl_format_double(0.1, buf, sizeof buf);
    CHECK(strcmp(buf, "0.1") == 0, "0.1 is written as 0.1", "got %s", buf);
    jsonl_format_double(3.0, buf, sizeof buf);
    CHECK(strcmp(buf, "3") == 0, "3.0 is written as 3", "got %s", buf);
    jsonl_format_double(0.1 + 0.2, buf, sizeof buf);
    CHECK(strcmp(buf, "0.30000000000000004") == 0, "0.1+0.2 needs 17 digits", "got %s", buf);
    jsonl_format_double(NAN, buf, sizeof buf);
    CHECK(strcmp(buf, "null") == 0, "NaN is written as null", "got %s", buf);
    jsonl_format_double(-INFINITY, buf, sizeof buf);
    CHECK(strcmp(buf, "null") == 0, "-Inf is written as null", "got %s", buf);

    /* Random bit patterns: every finite double must read back bit-identical. */
    int bad = 0, tried = 0;
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t bits = rng_u64(9, 1, i, 0);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        tried++;
        jsonl_format_double(v, buf, sizeof buf);
        double back = strtod(buf, NULL);
        if (memcmp(&back, &v, sizeof v) != 0) bad++;
    }
    CHECK(bad == 0 && tried > 19000, "random finite doubles round-trip bit-exactly", "%d of %d differ", bad, tried);
}

static void test_roundtrip(void)
{
    JsonWriter w;
    jw_init(&w);
    jw_begin(&w);
    const double nums[] = {0.1, 1.0 / 3, 1e300, -0.0, 5e-324, 123456789012345678.0, -2.5e-17};
    const char *keys[] = {"a", "b", "c", "d", "e", "f", "g"};
    for (int i = 0; i < 7; i++) jw_num(&w, keys[i], nums[i]);
    jw_num(&w, "nan", NAN);
    jw_num(&w, "inf", INFINITY);
    jw_int(&w, "big", 9007199254740993LL);
    const char *text = "quote\" back\\slash\nnew\ttab\x01 ctl \xc3\xa9 /";
    jw_str(&w, "s", text);
    jw_str(&w, "we\"ird key", "k");
    jw_bool(&w, "t", 1);
    jw_bool(&w, "no", 0);
    jw_null(&w, "z");
    double arr[3] = {1, NAN, 2.5};
    jw_num_array(&w, "arr", arr, 3);
    jw_str(&w, "after", "array");
    char err[ERR_LEN];
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile opens", "no tmpfile");
    if (!f) return;
    CHECK(jw_end(&w, f, err) == 0, "jw_end writes the line", "%s", err);
    rewind(f);
    char line[4096];
    CHECK(fgets(line, sizeof line, f) != NULL && strchr(line, '\n'), "one line ending in a newline comes back", "none");
    fclose(f);
    CHECK(strstr(line, "NaN") == NULL && strstr(line, "Infinity") == NULL && strstr(line, "inf\":null"),
          "no bare NaN/Infinity tokens, null instead", "%s", line);
    JsonObj *o = malloc(sizeof *o);
    int rc = jsonl_parse(line, o, err);
    CHECK(rc == 0, "the written line parses", "%s", err);
    if (rc) {
        free(o);
        jw_free(&w);
        return;
    }
    for (int i = 0; i < 7; i++) {
        double v = NAN;
        char name[64];
        snprintf(name, sizeof name, "number '%s' round-trips bit-exactly", keys[i]);
        CHECK(jsonl_num(o, keys[i], &v) && memcmp(&v, &nums[i], sizeof v) == 0, name, "got %.17g want %.17g", v,
              nums[i]);
    }
    const JsonField *fn = jsonl_field(o, "nan");
    CHECK(fn && fn->type == JSON_NULL, "NaN reads back as null", "type %d", fn ? (int)fn->type : -1);
    double big;
    CHECK(jsonl_num(o, "big", &big) && big == 9007199254740992.0, "an int field reads as the nearest double",
          "%.17g", big);
    const char *s = jsonl_str(o, "s");
    CHECK(s && strcmp(s, text) == 0, "string with quotes, backslash, newline, tab, control char, UTF-8 round-trips",
          "got '%s'", s ? s : "(null)");
    CHECK(jsonl_str(o, "we\"ird key") != NULL, "an escaped key round-trips", "missing");
    const JsonField *ft = jsonl_field(o, "t"), *ff = jsonl_field(o, "no"), *fz = jsonl_field(o, "z");
    CHECK(ft && ft->type == JSON_BOOL && ft->num == 1 && ff && ff->type == JSON_BOOL && ff->num == 0,
          "booleans read back", "t %p f %p", (void *)ft, (void *)ff);
    CHECK(fz && fz->type == JSON_NULL, "null reads back", "missing");
    const JsonField *fa = jsonl_field(o, "arr");
    CHECK(fa && fa->type == JSON_NESTED && jsonl_str(o, "after") && strcmp(jsonl_str(o, "after"), "array") == 0,
          "an array is skipped and the fields after it are read", "arr %p", (void *)fa);
    free(o);
    jw_free(&w);
}

static void test_reader(void)
{
    JsonObj *o = malloc(sizeof *o);
    char err[ERR_LEN];
    char l1[] = "  { \"kind\" : \"eval\" , \"n\":{\"x\":[1,\"}]\",{}]},\"esc\":\"\\u00e9\\ud83d\\ude00\\/\","
                "\"k\":1,\"k\":2, \"e\":-1.5E+3 }  \r\n";
    int rc = jsonl_parse(l1, o, err);
    CHECK(rc == 0, "spaces, nested values with brackets inside strings", "%s", err);
    double k = NAN, e = NAN; /* printed when a check fails before they are read */
    CHECK(rc == 0 && jsonl_num(o, "k", &k) && k == 2, "a repeated key: the last value wins", "k %g", k);
    CHECK(rc == 0 && jsonl_num(o, "e", &e) && e == -1500, "exponent with sign and capital E", "e %g", e);
    const char *esc = rc == 0 ? jsonl_str(o, "esc") : NULL;
    CHECK(esc && strcmp(esc, "\xc3\xa9\xf0\x9f\x98\x80/") == 0, "\\u escapes (with a surrogate pair) decode to UTF-8",
          "got '%s'", esc ? esc : "(null)");
    CHECK(rc == 0 && jsonl_str(o, "kind") && strcmp(jsonl_str(o, "kind"), "eval") == 0, "string field read", "kind");
    char l2[] = "{}";
    CHECK(jsonl_parse(l2, o, err) == 0 && o->n == 0, "empty object", "%s", err);
    char l3[] = "{\"a\":NaN,\"b\":-Infinity}";
    double a, b;
    CHECK(jsonl_parse(l3, o, err) == 0 && jsonl_num(o, "a", &a) && isnan(a) && jsonl_num(o, "b", &b) && isinf(b) &&
              b < 0,
          "NaN and -Infinity tokens (Python's) read as non-finite numbers", "%s", err);

    const char *bad[] = {"{\"a\":1",       "{\"a\":}",     "{\"a\" 1}",     "{\"a\":01}",  "{\"a\":1.}",
                         "{\"a\":.5}",     "{\"a\":tru}",  "{\"a\":1} x",   "{\"a\":\"x\ty\"}", "{\"a\":\"\\x\"}",
                         "{\"a\":\"open}", "[1,2]",        "",              "{\"a\":1,}",  "{\"a\":{\"b\":1}",
                         "{\"a\":0x10}",   "{\"a\":\"\\u12G4\"}"};
    int n_bad = (int)(sizeof bad / sizeof bad[0]);
    for (int i = 0; i < n_bad; i++) {
        char line[64], name[96];
        snprintf(line, sizeof line, "%s", bad[i]);
        err[0] = 0;
        rc = jsonl_parse(line, o, err);
        snprintf(name, sizeof name, "malformed line %d refused with a message", i);
        CHECK(rc == 1 && strstr(err, "expected"), name, "'%s': rc %d err '%s'", bad[i], rc, err);
    }
    free(o);
}

/* The file's bytes (malloc'd, 0-terminated; NULL when unreadable) and their count. */
static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 16);
    *n = b ? (long)fread(b, 1, (1 << 16) - 1, f) : 0;
    if (b) b[*n] = 0;
    fclose(f);
    return b;
}

/* Whole lines only: rows appended one by one, a write that fails part way (a file-size limit
 * standing in for a full disk) cut back to the last newline with the file and OS error named, and
 * an existing file cut to a kept prefix (a resume) only at a line's end. */
static void test_whole_line_file(void)
{
    char dir[] = "/tmp/scalerl-test-jsonl-XXXXXX", path[128], err[ERR_LEN] = "";
    if (!mkdtemp(dir)) {
        printf("FAIL whole-line file setup: mkdtemp\n");
        return;
    }
    snprintf(path, sizeof path, "%s/m.jsonl", dir);
    JsonlFile jf = {0};
    JsonWriter w;
    jw_init(&w);
    int rc = jsonl_file_open(&jf, path, 0, err);
    CHECK(rc == 0, "whole-line file: opens", "%s", err);
    for (int i = 0; i < 3 && !rc; i++) {
        jw_begin(&w);
        jw_int(&w, "row", i);
        rc = jsonl_file_append(&jf, &w, err);
    }
    long n = 0;
    char *b = slurp(path, &n);
    CHECK(rc == 0 && b && strcmp(b, "{\"row\":0}\n{\"row\":1}\n{\"row\":2}\n") == 0 && jf.size == n,
          "whole-line file: rows appended as lines, size counted", "rc %d, %ld bytes: %s", rc, n, err);
    free(b);
    /* A row of 200 bytes against a limit 100 bytes past the end: write(2) takes part of it. */
    struct rlimit old, lim;
    signal(SIGXFSZ, SIG_IGN);
    int limited = getrlimit(RLIMIT_FSIZE, &old) == 0;
    lim = old;
    lim.rlim_cur = (rlim_t)(jf.size + 100);
    limited = limited && setrlimit(RLIMIT_FSIZE, &lim) == 0;
    char big[201];
    memset(big, 'x', 200);
    big[200] = 0;
    jw_begin(&w);
    jw_str(&w, "big", big);
    rc = limited ? jsonl_file_append(&jf, &w, err) : -1;
    if (limited) setrlimit(RLIMIT_FSIZE, &old);
    CHECK(rc == 2 && strstr(err, path) && strstr(err, strerror(EFBIG)),
          "whole-line file: a failed row is an I/O error naming the file and the OS error", "rc %d: \"%s\"", rc, err);
    b = slurp(path, &n);
    CHECK(b && n == jf.size && n > 0 && b[n - 1] == '\n', "whole-line file: after it the file ends at its last whole line",
          "%ld bytes, size %lld", n, jf.size);
    free(b);
    jw_begin(&w);
    jw_int(&w, "row", 3);
    rc = jsonl_file_append(&jf, &w, err);
    b = slurp(path, &n);
    CHECK(rc == 0 && b && strcmp(b + n - 10, "{\"row\":3}\n") == 0 && n == jf.size,
          "whole-line file: with room again, the next row follows the last whole line", "rc %d: %s", rc, err);
    free(b);
    CHECK(jsonl_file_close(&jf, err) == 0, "whole-line file: closes", "%s", err);
    /* Keep the first two rows (a resume's cut), then refuse a cut inside a line or past the end. */
    rc = jsonl_file_open(&jf, path, 20, err);
    jw_begin(&w);
    jw_int(&w, "row", 9);
    if (!rc) rc = jsonl_file_append(&jf, &w, err);
    jsonl_file_close(&jf, err);
    b = slurp(path, &n);
    CHECK(rc == 0 && b && strcmp(b, "{\"row\":0}\n{\"row\":1}\n{\"row\":9}\n") == 0,
          "whole-line file: opened keeping 20 bytes, it appends after them", "rc %d: %s", rc, b ? b : err);
    free(b);
    rc = jsonl_file_open(&jf, path, 15, err);
    CHECK(rc == 1 && strstr(err, "whole lines"), "whole-line file: a cut inside a line is refused", "rc %d: %s", rc, err);
    rc = jsonl_file_open(&jf, path, 1000, err);
    CHECK(rc == 1 && strstr(err, "whole lines"), "whole-line file: a cut past the end is refused", "rc %d: %s", rc, err);
    jw_free(&w);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    test_format();
    test_roundtrip();
    test_reader();
    test_whole_line_file();
    return test_main_result();
}
