/* No-Positive-Resampling: the threshold, permanence, "most recent group" semantics, table growth,
 * and the checkpoint text format. */
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "ref/rl/prompt_filter.h"
#include "tests/test.h"

static void test_threshold(void)
{
    char err[ERR_LEN];
    PromptFilter *pf = prompt_filter_new(0.9, err);
    CHECK(pf != NULL, "prompt filter created", "%s", err);
    if (!pf) return;
    uint64_t a = prompt_key("12+34="), b = prompt_key("12+35="), c = prompt_key("7*8=");
    CHECK(a == prompt_key("12+34=") && a != b, "prompt keys: same text same key, different text different key",
          "%llx %llx", (unsigned long long)a, (unsigned long long)b);
    int now = -1;
    /* 7/8 = 0.875 < 0.9: stays. 9/10 = 0.9 exactly: retires. */
    CHECK(prompt_filter_record(pf, a, 7, 8, &now, err) == 0 && now == 0 && !prompt_filter_is_retired(pf, a),
          "pass rate 0.875 does not retire at 0.9", "now %d", now);
    CHECK(prompt_filter_record(pf, b, 9, 10, &now, err) == 0 && now == 1 && prompt_filter_is_retired(pf, b),
          "pass rate exactly 0.9 retires", "now %d", now);
    /* The historical rate is the most recent group: 7/8 then 8/8 retires a. */
    CHECK(prompt_filter_record(pf, a, 8, 8, &now, err) == 0 && now == 1 && prompt_filter_is_retired(pf, a),
          "most recent group decides: 7/8 then 8/8 retires", "now %d", now);
    /* Retirement is permanent, even if a group in flight comes back worse. */
    CHECK(prompt_filter_record(pf, b, 0, 10, &now, err) == 0 && now == 0 && prompt_filter_is_retired(pf, b) &&
              prompt_filter_pass_rate(pf, b) == 0.0,
          "a retired prompt is never served again", "now %d retired %d", now, prompt_filter_is_retired(pf, b));
    CHECK(prompt_filter_n_retired(pf) == 2 && prompt_filter_n_tracked(pf) == 2, "retired prompts counted once",
          "retired %ld tracked %ld", prompt_filter_n_retired(pf), prompt_filter_n_tracked(pf));
    CHECK(!prompt_filter_is_retired(pf, c) && prompt_filter_pass_rate(pf, c) == -1.0, "unseen prompt is served",
          "rate %g", prompt_filter_pass_rate(pf, c));
    /* Bad counts are errors that name the values. */
    CHECK(prompt_filter_record(pf, c, 9, 8, &now, err) == 1 && strstr(err, "9 passes of 8"), "passes > samples rejected",
          "err '%s'", err);
    CHECK(prompt_filter_record(pf, c, 0, 0, &now, err) == 1, "zero samples rejected", "err '%s'", err);
    prompt_filter_free(pf);
    CHECK(prompt_filter_new(0.0, err) == NULL && strstr(err, "threshold 0"), "threshold 0 rejected", "err '%s'", err);
    CHECK(prompt_filter_new(1.5, err) == NULL, "threshold 1.5 rejected", "err '%s'", err);
}

/* 5000 prompts force several doublings of the initial 1024 slots; every record survives with
 * its rate. Prompt i gets (i % 11) passes of 10 samples, so those with 9 or 10 retire. */
static void test_growth(PromptFilter *pf, char *err)
{
    int rc = 0;
    for (int i = 0; i < 5000 && rc == 0; i++) rc = prompt_filter_record(pf, (uint64_t)i * 7919u, i % 11, 10, NULL, err);
    int bad = 0;
    long retired = 0;
    for (int i = 0; i < 5000; i++) {
        uint64_t k = (uint64_t)i * 7919u;
        if (prompt_filter_pass_rate(pf, k) != (double)(i % 11) / 10.0) bad++;
        retired += prompt_filter_is_retired(pf, k);
    }
    long want = 0;
    for (int i = 0; i < 5000; i++) want += i % 11 >= 9;
    CHECK(rc == 0 && bad == 0 && prompt_filter_n_tracked(pf) == 5000, "table growth keeps every prompt",
          "rc %d bad %d tracked %ld", rc, bad, prompt_filter_n_tracked(pf));
    CHECK(retired == want && prompt_filter_n_retired(pf) == want, "retired count after growth",
          "retired %ld counter %ld want %ld", retired, prompt_filter_n_retired(pf), want);
}

/* Writes pf to memory and returns the bytes (malloc'ed), or NULL. */
static char *dump(const PromptFilter *pf, size_t *len, char *err)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) return NULL;
    int rc = prompt_filter_write(pf, f, err);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_state_roundtrip(void)
{
    char err[ERR_LEN];
    PromptFilter *a = prompt_filter_new(0.9, err), *b = prompt_filter_new(0.9, err);
    if (!a || !b) {
        CHECK(0, "prompt filters for roundtrip", "%s", err);
        return;
    }
    test_growth(a, err);
    size_t la = 0, lb = 0;
    char *text = dump(a, &la, err);
    CHECK(text != NULL, "prompt filter written", "%s", err);
    if (!text) return;
    FILE *f = fmemopen(text, la, "r");
    int rc = f ? prompt_filter_read(b, f, err) : 2;
    if (f) fclose(f);
    char *again = dump(b, &lb, err);
    CHECK(rc == 0 && again && la == lb && memcmp(text, again, la) == 0 && prompt_filter_n_retired(b) == prompt_filter_n_retired(a),
          "prompt filter state roundtrip is byte-identical", "rc %d (%s) len %zu vs %zu", rc, err, la, lb);
    free(again);

    /* A truncated or garbled file is refused and leaves the state untouched. */
    long before = prompt_filter_n_tracked(b);
    f = fmemopen(text, la / 2, "r");
    rc = f ? prompt_filter_read(b, f, err) : 2;
    if (f) fclose(f);
    CHECK(rc == 1 && prompt_filter_n_tracked(b) == before, "truncated prompt filter state refused",
          "rc %d tracked %ld err '%s'", rc, prompt_filter_n_tracked(b), err);
    const char *garbled = "scalerl prompt_filter v1 1\nzz 1 2 0\n";
    f = fmemopen((void *)garbled, strlen(garbled), "r");
    rc = f ? prompt_filter_read(b, f, err) : 2;
    if (f) fclose(f);
    CHECK(rc == 1 && strstr(err, "entry 1") && prompt_filter_n_tracked(b) == before,
          "garbled prompt filter state refused", "rc %d err '%s'", rc, err);
    free(text);
    prompt_filter_free(a);
    prompt_filter_free(b);
}

int main(void)
{
    test_threshold();
    test_state_roundtrip();
    return test_main_result();
}
