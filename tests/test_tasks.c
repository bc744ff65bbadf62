/* tasks/: tokenizer, spec parsing, every family's generator and verifier, the countdown verifier
 * against a brute-force enumeration, determinism, and the train/validation split.
 *
 * The arithmetic answers are checked by code independent of tasks/decimal.c: exactly with
 * __int128 where the numbers fit, and modulo two primes for every size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks.h"
#include "tests/test.h"

/* ---------- helpers ---------- */

static TaskSpec *parse_ok(const char *spec)
{
    char err[ERR_LEN] = "";
    TaskSpec *s = NULL;
    int rc = task_spec_parse(spec, &s, err);
    if (rc || !s) {
        CHECK(0, "spec_parse_ok", "'%s' rejected: %s", spec, err);
        return NULL;
    }
    return s;
}

static int verify_text(const Problem *p, const char *text)
{
    return task_verify(p, text, strlen(text));
}

/* A completion and the reward the verifier must give it; why names the check. */
typedef struct {
    const char *text;
    int want;
    const char *why;
} VerifyCase;

static void check_verify_cases(const Problem *p, const VerifyCase *cases, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s %s", prefix, cases[i].why);
        int got = verify_text(p, cases[i].text);
        CHECK(got == cases[i].want, name, "'%s' scored %d, want %d", cases[i].text, got, cases[i].want);
    }
}

static int family_index(const char *name)
{
    for (int i = 0; i < 64; i++)
        if (strcmp(task_family_name(i), name) == 0) return i;
    return -1;
}

/* Draws from spec (seed 1, stream 0) until the prompt matches; 0 if not found. */
static int find_problem(const TaskSpec *s, const char *prompt, Problem *out, int max_draws)
{
    for (int i = 0; i < max_draws; i++) {
        task_draw(s, 1, 0, (uint64_t)i, out);
        if (strcmp(out->prompt, prompt) == 0) return 1;
    }
    return 0;
}

/* Operands of an arithmetic prompt "^a+b+c=", as digit strings, and the operator. */
typedef struct {
    int n;
    char op;
    char term[12][48];
} Terms;

static int split_prompt(const char *prompt, Terms *t)
{
    if (prompt[0] != '^') return 0;
    t->n = 0;
    t->op = 0;
    const char *s = prompt + 1;
    for (;;) {
        size_t k = strspn(s, "0123456789");
        if (k == 0 || k >= sizeof t->term[0] || t->n == 12) return 0;
        memcpy(t->term[t->n], s, k);
        t->term[t->n++][k] = 0;
        s += k;
        if (*s == '=') return s[1] == 0;
        if (t->op && *s != t->op) return 0;
        t->op = *s++;
    }
}

static long long mod_of(const char *digits, long long m)
{
    long long r = 0;
    for (; *digits; digits++) r = (r * 10 + (*digits - '0')) % m;
    return r;
}

static void i128_text(__int128 v, char *out)
{
    char tmp[64];
    int n = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    int k = 0;
    if (neg) out[k++] = '-';
    while (n) out[k++] = tmp[--n];
    out[k] = 0;
}

/* 1 if answer is the right result of the prompt's arithmetic, checked modulo two primes and,
 * when the operands fit, exactly. */
static int arith_answer_ok(const char *prompt, const char *answer)
{
    Terms t;
    if (!split_prompt(prompt, &t) || t.n < 2) return 0;
    const long long primes[2] = {1000000007LL, 998244353LL};
    int neg = answer[0] == '-';
    for (int q = 0; q < 2; q++) {
        long long m = primes[q], want = mod_of(t.term[0], m);
        for (int i = 1; i < t.n; i++) {
            long long x = mod_of(t.term[i], m);
            want = t.op == '+' ? (want + x) % m : t.op == '-' ? (want - x + m) % m : (want * x) % m;
        }
        long long got = mod_of(answer + neg, m);
        if (neg) got = (m - got) % m;
        if (got != want) return 0;
    }
    int fits = 1;
    size_t total = 0;
    for (int i = 0; i < t.n; i++) {
        fits &= strlen(t.term[i]) <= 18;
        total += strlen(t.term[i]);
    }
    if (!fits || (t.op == '*' && total > 36)) return 1;
    __int128 v = (__int128)strtoll(t.term[0], NULL, 10);
    for (int i = 1; i < t.n; i++) {
        __int128 x = (__int128)strtoll(t.term[i], NULL, 10);
        v = t.op == '+' ? v + x : t.op == '-' ? v - x : v * x;
    }
    char exact[64];
    i128_text(v, exact);
    return strcmp(exact, answer) == 0;
}

/* The column scratchpad of add/sum: pair c is the column total (digits + carry in) as two
 * characters. Re-derived here from the operands. */
static int column_scratch_ok(const char *prompt, const char *solution)
{
    Terms t;
    if (!split_prompt(prompt, &t)) return 0;
    int ncol = 0;
    for (int i = 0; i < t.n; i++)
        if ((int)strlen(t.term[i]) > ncol) ncol = (int)strlen(t.term[i]);
    const char *s = solution;
    int carry = 0;
    for (int c = 0; c < ncol; c++) {
        int total = carry;
        for (int i = 0; i < t.n; i++) {
            int len = (int)strlen(t.term[i]);
            if (c < len) total += t.term[i][len - 1 - c] - '0';
        }
        if (c && *s++ != ',') return 0;
        if (s[0] != '0' + total / 10 || s[1] != '0' + total % 10) return 0;
        s += 2;
        carry = total / 10;
    }
    return *s == '#';
}

/* sub: sign, then (borrow out, digit) columns of larger - smaller. */
static int sub_scratch_ok(const char *prompt, const char *solution)
{
    Terms t;
    if (!split_prompt(prompt, &t) || t.n != 2) return 0;
    size_t la = strlen(t.term[0]), lb = strlen(t.term[1]);
    int a_less = la != lb ? la < lb : strcmp(t.term[0], t.term[1]) < 0;
    const char *x = a_less ? t.term[1] : t.term[0], *y = a_less ? t.term[0] : t.term[1];
    int lx = (int)strlen(x), ly = (int)strlen(y);
    const char *s = solution;
    if (*s++ != (a_less ? '-' : '+')) return 0;
    int borrow = 0;
    for (int c = 0; c < lx; c++) {
        int v = (x[lx - 1 - c] - '0') - (c < ly ? y[ly - 1 - c] - '0' : 0) - borrow;
        borrow = v < 0;
        if (c && *s++ != ',') return 0;
        if (s[0] != '0' + borrow || s[1] != '0' + v + 10 * borrow) return 0;
        s += 2;
    }
    return *s == '#';
}

static void reverse_text(char *s)
{
    for (size_t i = 0, j = strlen(s); i + 1 < j; i++, j--) {
        char c = s[i];
        s[i] = s[j - 1];
        s[j - 1] = c;
    }
}

/* mul (operands of at most 4 digits, so long long is exact): row j is j zeros and a*b_j
 * reversed, then from row 1 on '=' and the running sum reversed. */
static int mul_scratch_ok(const char *prompt, const char *solution)
{
    Terms t;
    if (!split_prompt(prompt, &t) || t.n != 2 || strlen(t.term[0]) > 4 || strlen(t.term[1]) > 4) return 0;
    long long a = atoll(t.term[0]), acc = 0, scale = 1;
    const char *b = t.term[1];
    int lb = (int)strlen(b);
    char want[160] = "", piece[48];
    for (int j = 0; j < lb; j++, scale *= 10) {
        long long row = a * (b[lb - 1 - j] - '0');
        acc += row * scale;
        if (j) strcat(want, ",");
        for (int z = 0; z < j; z++) strcat(want, "0");
        snprintf(piece, sizeof piece, "%lld", row);
        reverse_text(piece);
        strcat(want, piece);
        if (j) {
            snprintf(piece, sizeof piece, "=%lld", acc);
            reverse_text(piece + 1);
            strcat(want, piece);
        }
    }
    strcat(want, "#");
    return strncmp(solution, want, strlen(want)) == 0;
}

/* Pair tries "t-x=c" separated by ',': t is the target, x a given number tried once, c = t - x;
 * only the last try's c is another given number, and the answer is x+c of that try. */
static int pair_index(const Problem *p, long v, int not_at)
{
    for (int i = 0; i < p->n_nums; i++)
        if (i != not_at && p->nums[i] == v) return i;
    return -1;
}

static int pair_steps_ok(const Problem *p)
{
    const char *s = p->solution;
    int tried[8] = {0}, done = 0;
    long last_x = -1, last_c = 0;
    while (*s != '#') {
        long t, x, c;
        int used = 0;
        if (done || sscanf(s, "%ld-%ld=%ld%n", &t, &x, &c, &used) != 3 || used == 0) return 0;
        const int i = pair_index(p, x, -1);
        if (t != p->target || c != t - x || i < 0 || tried[i]) return 0;
        tried[i] = 1;
        done = pair_index(p, c, i) >= 0;
        last_x = x;
        last_c = c;
        s += used;
        if (*s == ',') s++;
    }
    char want[64];
    snprintf(want, sizeof want, "%ld+%ld", last_x, last_c);
    return done && strcmp(p->answer, want) == 0;
}

/* Countdown steps "x op y=z" separated by ',': every step's arithmetic holds and the last
 * result is the target. */
static int countdown_steps_ok(const Problem *p)
{
    const char *s = p->solution;
    long last = -1;
    while (*s != '#') {
        long x, y, z;
        char op;
        int used = 0;
        if (sscanf(s, "%ld%c%ld=%ld%n", &x, &op, &y, &z, &used) != 4 || used == 0) return 0;
        long want = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : -1;
        if (want != z) return 0;
        last = z;
        s += used;
        if (*s == ',') s++;
    }
    return last == p->target;
}

/* ---------- tokenizer ---------- */

static void test_tokenizer(void)
{
    int v = tok_vocab_size();
    CHECK(v >= 20 && v <= 40, "tok_vocab_small", "vocab size %d", v);
    CHECK(strcmp(tok_vocab_version(), "chars-v1") == 0, "tok_vocab_version", "got '%s'", tok_vocab_version());
    CHECK(tok_char(TOK_BOS) == '^' && tok_char(TOK_EOS) == '$' && tok_char(TOK_THINK_END) == '#' &&
              tok_char(TOK_PAD) == '_',
          "tok_special_chars", "BOS '%c' EOS '%c' THINK_END '%c' PAD '%c'", tok_char(TOK_BOS),
          tok_char(TOK_EOS), tok_char(TOK_THINK_END), tok_char(TOK_PAD));
    CHECK(strcmp(tok_name(TOK_EOS), "<eos>") == 0 && strcmp(tok_name(4), "0") == 0, "tok_names",
          "EOS '%s', id 4 '%s'", tok_name(TOK_EOS), tok_name(4));

    int ok = 1, distinct = 1;
    for (int id = 0; id < v; id++) {
        char text[2] = {tok_char(id), 0};
        int out[4];
        char err[ERR_LEN];
        ok &= tok_encode(text, out, 4, err) == 1 && out[0] == id;
        for (int j = 0; j < id; j++) {
            distinct &= tok_char(j) != tok_char(id);
            distinct &= strcmp(tok_name(j), tok_name(id)) != 0 && strchr(tok_name(id), ',') == NULL;
        }
    }
    CHECK(ok, "tok_each_char_encodes_to_its_id", "a character did not encode to its own id");
    CHECK(distinct, "tok_chars_and_names_distinct", "two ids share a character or name, or a name has a comma");

    const char *text = "^47+85=12,13#132$";
    int ids[64];
    char err[ERR_LEN], back[64];
    int n = tok_encode(text, ids, 64, err);
    size_t m = tok_decode(ids, n, back, sizeof back);
    CHECK(n == (int)strlen(text) && m == strlen(text) && strcmp(back, text) == 0, "tok_round_trip",
          "'%s' -> %d tokens -> '%s'", text, n, back);
    CHECK(ids[0] == TOK_BOS && ids[12] == TOK_THINK_END && ids[16] == TOK_EOS, "tok_specials_in_text",
          "ids %d %d %d", ids[0], ids[12], ids[16]);

    err[0] = 0;
    n = tok_encode("12a4", ids, 64, err);
    CHECK(n == -1 && strstr(err, "'a'") && strstr(err, "offset 2"), "tok_error_names_char_and_offset",
          "rc %d, err '%s'", n, err);
    n = tok_encode("1\x01", ids, 64, err);
    CHECK(n == -1 && strstr(err, "\\x01") && strstr(err, "offset 1"), "tok_error_unprintable_as_hex",
          "rc %d, err '%s'", n, err);
    n = tok_encode("\xc3\xa9", ids, 64, err);
    CHECK(n == -1 && strstr(err, "\\xC3") && strstr(err, "offset 0"), "tok_error_non_ascii",
          "rc %d, err '%s'", n, err);
    n = tok_encode("123", ids, 2, err);
    CHECK(n == -1 && strstr(err, "2 tokens"), "tok_error_too_long", "rc %d, err '%s'", n, err);

    int odd[3] = {4, -1, 999};
    m = tok_decode(odd, 3, back, sizeof back);
    CHECK(m == 3 && strcmp(back, "0??") == 0, "tok_decode_invalid_ids", "got '%s'", back);
    int five[5] = {4, 5, 6, 7, 8};
    m = tok_decode(five, 5, back, 3);
    CHECK(m == 2 && strcmp(back, "01") == 0, "tok_decode_cut_to_cap", "got '%s' (%zu)", back, m);
}

/* ---------- specs ---------- */

static void check_canonical(const char *spec, const char *want)
{
    TaskSpec *s = parse_ok(spec);
    if (!s) return;
    char name[128];
    snprintf(name, sizeof name, "spec_canonical %s", spec);
    CHECK(strcmp(task_spec_string(s), want) == 0, name, "got '%s', want '%s'", task_spec_string(s), want);
    TaskSpec *again = parse_ok(task_spec_string(s));
    if (again) {
        snprintf(name, sizeof name, "spec_canonical_reparses %s", spec);
        CHECK(strcmp(task_spec_string(again), task_spec_string(s)) == 0, name, "'%s' -> '%s'",
              task_spec_string(s), task_spec_string(again));
    }
    task_spec_free(again);
    task_spec_free(s);
}

static void check_rejected(const char *spec, const char *part1, const char *part2)
{
    char err[ERR_LEN] = "", name[160];
    TaskSpec *s = (TaskSpec *)&err; /* must be reset to NULL */
    int rc = task_spec_parse(spec, &s, err);
    snprintf(name, sizeof name, "spec_rejects %.100s", spec ? spec : "(null)");
    CHECK(rc == 1 && s == NULL && strstr(err, part1) && (!part2 || strstr(err, part2)) && !strchr(err, '\n'),
          name, "rc %d, err '%s', expected '%s'%s%s", rc, err, part1, part2 ? " and " : "", part2 ? part2 : "");
    if (rc == 0) task_spec_free(s);
}

/* The family mask names the families a spec draws from, once each, whatever the parts' keys. */
static void check_family_mask(const char *spec, unsigned want)
{
    TaskSpec *s = parse_ok(spec);
    if (!s) return;
    CHECK(task_spec_family_mask(s) == want, "spec_family_mask", "'%s': mask %#x, want %#x", spec,
          task_spec_family_mask(s), want);
    task_spec_free(s);
}

static void test_specs(void)
{
    check_family_mask("add", 1u << 0);
    check_family_mask("add@2,add:digits=1@1", 1u << 0);
    check_family_mask("sum:terms=2-4:digits=2@0.3,pair@0.7", 1u << 3 | 1u << 5);
    check_family_mask("add,sub,mul,sum,countdown,pair", 0x3fu);
    check_canonical("add", "add:digits=3:scratch=1");
    check_canonical("add:digits=3-5", "add:digits=3-5:scratch=1");
    check_canonical("add:digits=5-5", "add:digits=5:scratch=1");
    check_canonical("add:digits=2-4@0.7,mul:digits=2@0.3", "add:digits=2-4:scratch=1@0.7,mul:digits=2:scratch=1@0.3");
    check_canonical("sum:terms=3-4:digits=2", "sum:terms=3-4:digits=2:scratch=1");
    check_canonical("sub:scratch=0:digits=1-2", "sub:digits=1-2:scratch=0");
    check_canonical("countdown:n=3:nums=1-10:target=10-50:scratch=0", "countdown:n=3:nums=1-10:target=10-50:scratch=0");
    check_canonical("mul:digits=10:scratch=0", "mul:digits=10:scratch=0");
    check_canonical("add@2,add:digits=1@1", "add:digits=3:scratch=1@2,add:digits=1:scratch=1@1");
    check_canonical("add@3", "add:digits=3:scratch=1");

    check_rejected("", "empty task spec", NULL);
    check_rejected(NULL, "empty task spec", NULL);
    check_rejected("foo", "unknown family 'foo'", "add, sub, mul, sum, countdown, pair");
    check_rejected("add:digits=2,fo:x=1", "unknown family 'fo'", "part 'fo:x=1'");
    check_rejected("add:foo=1", "unknown parameter 'foo' for family add", "digits, scratch");
    check_rejected("countdown:digits=2", "unknown parameter 'digits'", "n, nums, target, scratch");
    check_rejected("add:digits=5-3", "bad value '5-3' for digits", "1 <= LO <= HI <= 40");
    check_rejected("add:digits=0", "bad value '0' for digits", NULL);
    check_rejected("add:digits=41", "bad value '41'", NULL);
    check_rejected("add:digits=x", "bad value 'x'", NULL);
    check_rejected("add:digits=", "bad value ''", NULL);
    check_rejected("add:digits=-3", "bad value '-3'", NULL);
    check_rejected("add:digits=3-", "bad value '3-'", NULL);
    check_rejected("add:digits=99999999999", "bad value", NULL);
    check_rejected("add:scratch=0-1", "bad value '0-1' for scratch", "one integer in 0..1");
    check_rejected("add:digits", "bad parameter 'digits'", "key=value");
    check_rejected("add:=3", "bad parameter '=3'", NULL);
    check_rejected("add::digits=3", "bad parameter ''", NULL);
    check_rejected("add:digits=3:digits=4", "'digits' given twice", NULL);
    check_rejected("add@0", "bad weight '0'", NULL);
    check_rejected("add@-1", "bad weight '-1'", NULL);
    check_rejected("add@abc", "bad weight 'abc'", NULL);
    check_rejected("add@", "bad weight ''", NULL);
    check_rejected("add@inf", "bad weight 'inf'", NULL);
    check_rejected("add@nan", "bad weight 'nan'", NULL);
    check_rejected("add@1@2", "bad weight '1@2'", NULL);
    check_rejected("add,,mul", "empty part", NULL);
    check_rejected("add,", "empty part", NULL);
    check_rejected(",add", "empty part", NULL);
    check_rejected("add digits=3", "unknown family 'add digits=3'", NULL);
    check_rejected("mul:digits=9", "solutions of up to 277 characters", "scratch=0");
    check_rejected("sum:terms=10:digits=20", "prompts of up to", NULL);
    check_rejected("countdown:n=2:nums=1-2:target=500-600", "target range 500-600", "at least 2%");
    check_rejected("pair:n=5:nums=1-9", "nums 1-9 holds fewer than 10 distinct values", "widen nums");
    check_canonical("pair", "pair:n=4:nums=10-49:scratch=1");
    char many[400] = "add";
    for (int i = 0; i < 16; i++) strcat(many, ",add");
    check_rejected(many, "more than 16 parts", NULL);
    char *huge = malloc(3000);
    if (huge) {
        memset(huge, 'a', 2999);
        huge[2999] = 0;
        check_rejected(huge, "2999 characters long", NULL);
        free(huge);
    }

    /* Problem space sizes: exact for arithmetic. */
    const char *specs[] = {"add:digits=1", "add:digits=2", "sum:terms=2-3:digits=1", "add:digits=1,mul:digits=1",
                           "sub:digits=1-2"};
    const double sizes[] = {100, 8100, 1100, 200, 10000};
    for (int i = 0; i < 5; i++) {
        TaskSpec *s = parse_ok(specs[i]);
        if (!s) continue;
        char name[96];
        snprintf(name, sizeof name, "task_space_size %s", specs[i]);
        /* exact integers well below 2^53: no rounding */
        CHECK_CLOSE(task_space_size(s), sizes[i], 0, name);
        task_spec_free(s);
    }
}

/* ---------- families ---------- */

static int wrong_variants_rejected(const Problem *p)
{
    char bad[80];
    const char *a = p->answer;
    size_t n = strlen(a);
    int ok = 1;
    snprintf(bad, sizeof bad, "#0%s", a); /* leading zero (or "0-..." for negatives) */
    ok &= !verify_text(p, bad);
    snprintf(bad, sizeof bad, "#%s0", a);
    ok &= !verify_text(p, bad);
    snprintf(bad, sizeof bad, "#%s", a);
    bad[n] = (char)(bad[n] == '9' || bad[n] == ')' ? '1' : bad[n] + 1); /* last character changed */
    ok &= !verify_text(p, bad);
    snprintf(bad, sizeof bad, a[0] == '-' ? "#%s" : "#-%s", a[0] == '-' ? a + 1 : a);
    ok &= !verify_text(p, bad);
    snprintf(bad, sizeof bad, "#%.*s", (int)(n - 1), a); /* truncated */
    ok &= n == 1 || !verify_text(p, bad);
    return ok;
}

typedef struct {
    const char *spec;
    int draws;
} FamilyCase;

static void test_family_draws(void)
{
    const FamilyCase cases[] = {
        {"add:digits=1-4", 3000},  {"add:digits=38-40", 300},   {"add:digits=2-3:scratch=0", 1000},
        {"sub:digits=1-4", 3000},  {"sub:digits=1", 1000},       {"sub:digits=30-40:scratch=0", 300},
        {"mul:digits=1-4", 3000},  {"mul:digits=8", 200},        {"mul:digits=20:scratch=0", 300},
        {"sum:terms=2-10:digits=1-3", 3000}, {"sum:terms=4:digits=8-9", 300},
        {"countdown", 1000},       {"countdown:n=6:nums=1-999:target=1000-99999", 300},
        {"countdown:n=2-5:nums=1-50:target=1-500:scratch=0", 500},
        {"add:digits=2@0.5,countdown:n=3@0.5", 500},
        {"pair", 2000},            {"pair:n=3-8:nums=1-999", 1000}, {"pair:n=8:nums=1-16", 300},
        {"pair:scratch=0", 300},   {"sum:digits=2@0.5,pair@0.5", 500},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        TaskSpec *s = parse_ok(cases[c].spec);
        if (!s) continue;
        const int max_p = task_max_prompt_tokens(s), max_s = task_max_solution_tokens(s);
        int n_bad_form = 0, n_bad_answer = 0, n_bad_scratch = 0, n_bad_verify = 0, n_bad_wrong = 0, n_bad_len = 0;
        char first_bad[400] = "";
        for (int i = 0; i < cases[c].draws; i++) {
            Problem p;
            task_draw(s, 42, 7, (uint64_t)i, &p);
            const char *fam = task_family_name(p.family);
            size_t lp = strlen(p.prompt), ls = strlen(p.solution);
            int ids[TASK_SOLUTION_MAX];
            char err[ERR_LEN];
            int form = p.prompt[0] == '^' && lp >= 3 && p.prompt[lp - 1] == '=' &&
                       tok_encode(p.prompt, ids, TASK_SOLUTION_MAX, err) == (int)lp &&
                       tok_encode(p.solution, ids, TASK_SOLUTION_MAX, err) == (int)ls && strchr(p.solution, '#') &&
                       strcmp(strrchr(p.solution, '#') + 1, p.answer) == 0;
            int len_ok = (int)lp <= max_p && (int)ls + 1 <= max_s;
            int answer_ok, scratch_ok = 1;
            int with_scratch = p.solution[0] != '#';
            if (strcmp(fam, "countdown") == 0) {
                answer_ok = p.n_nums >= 2 && p.n_nums <= 8;
                if (with_scratch) scratch_ok = countdown_steps_ok(&p);
            } else if (strcmp(fam, "pair") == 0) {
                int distinct = p.n_nums >= 3 && p.n_nums <= 8;
                for (int i = 0; i < p.n_nums; i++) distinct &= pair_index(&p, p.nums[i], i) < 0;
                answer_ok = distinct;
                if (with_scratch) scratch_ok = pair_steps_ok(&p);
            } else {
                answer_ok = arith_answer_ok(p.prompt, p.answer);
                if (with_scratch && (!strcmp(fam, "add") || !strcmp(fam, "sum")))
                    scratch_ok = column_scratch_ok(p.prompt, p.solution);
                else if (with_scratch && !strcmp(fam, "sub"))
                    scratch_ok = sub_scratch_ok(p.prompt, p.solution);
                else if (with_scratch && !strcmp(fam, "mul") && lp <= 11)
                    scratch_ok = mul_scratch_ok(p.prompt, p.solution);
            }
            char completion[TASK_SOLUTION_MAX + 2], answer_only[64];
            snprintf(completion, sizeof completion, "%s$", p.solution);
            snprintf(answer_only, sizeof answer_only, "#%s", p.answer);
            int verify_ok = verify_text(&p, completion) == 1 && verify_text(&p, answer_only) == 1;
            int wrong_ok = wrong_variants_rejected(&p);
            n_bad_form += !form;
            n_bad_len += !len_ok;
            n_bad_answer += !answer_ok;
            n_bad_scratch += !scratch_ok;
            n_bad_verify += !verify_ok;
            n_bad_wrong += !wrong_ok;
            if (!(form && len_ok && answer_ok && scratch_ok && verify_ok && wrong_ok) && !first_bad[0])
                snprintf(first_bad, sizeof first_bad, "%s %s (form %d len %d answer %d scratch %d verify %d wrong %d)",
                         p.prompt, p.solution, form, len_ok, answer_ok, scratch_ok, verify_ok, wrong_ok);
        }
        char name[128];
        snprintf(name, sizeof name, "family_format %s", cases[c].spec);
        CHECK(n_bad_form == 0, name, "%d malformed; first: %s", n_bad_form, first_bad);
        snprintf(name, sizeof name, "family_max_tokens_bound %s", cases[c].spec);
        CHECK(n_bad_len == 0, name, "%d over max prompt %d / solution %d; first: %s", n_bad_len, max_p, max_s, first_bad);
        snprintf(name, sizeof name, "family_answer_exact %s", cases[c].spec);
        CHECK(n_bad_answer == 0, name, "%d wrong answers; first: %s", n_bad_answer, first_bad);
        snprintf(name, sizeof name, "family_scratchpad_steps %s", cases[c].spec);
        CHECK(n_bad_scratch == 0, name, "%d bad scratchpads; first: %s", n_bad_scratch, first_bad);
        snprintf(name, sizeof name, "family_solution_verifies %s", cases[c].spec);
        CHECK(n_bad_verify == 0, name, "%d solutions scored 0; first: %s", n_bad_verify, first_bad);
        snprintf(name, sizeof name, "family_wrong_answers_rejected %s", cases[c].spec);
        CHECK(n_bad_wrong == 0, name, "%d wrong variants scored 1; first: %s", n_bad_wrong, first_bad);
        task_spec_free(s);
    }
}

/* Worked examples, as documented in tasks/README.md. */
static void test_examples(void)
{
    struct {
        const char *spec, *prompt, *solution;
    } ex[] = {
        {"add:digits=2", "^47+85=", "12,13#132"},
        {"add:digits=2", "^99+11=", "10,11#110"},
        {"sub:digits=2", "^85-47=", "+18,03#38"},
        {"sub:digits=2", "^47-85=", "-18,03#-38"},
        {"sub:digits=2", "^47-47=", "+00,00#0"},
        {"mul:digits=2", "^47*85=", "532,0673=5993#3995"},
        {"mul:digits=2", "^47*10=", "0,074=074#470"},
        {"add:digits=2:scratch=0", "^47+85=", "#132"},
        {"sum:terms=3:digits=1", "^2+4+6=", "12#12"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        TaskSpec *s = parse_ok(ex[i].spec);
        if (!s) continue;
        Problem p;
        char name[96];
        snprintf(name, sizeof name, "example %s", ex[i].prompt);
        int found = find_problem(s, ex[i].prompt, &p, 400000);
        CHECK(found && strcmp(p.solution, ex[i].solution) == 0, name, "found %d, solution '%s', want '%s'", found,
              found ? p.solution : "", ex[i].solution);
        task_spec_free(s);
    }
}

/* ---------- verifier edge cases ---------- */

static void test_verifier(void)
{
    TaskSpec *s = parse_ok("add:digits=2");
    TaskSpec *sub = parse_ok("sub:digits=2");
    TaskSpec *mul = parse_ok("mul:digits=12:scratch=0");
    if (!s || !sub || !mul) return;
    Problem p, q, z, big;
    if (!find_problem(s, "^47+85=", &p, 400000) || !find_problem(sub, "^47-85=", &q, 400000) ||
        !find_problem(sub, "^47-47=", &z, 400000)) {
        CHECK(0, "verifier_setup", "example problems not found");
        return;
    }
    const VerifyCase cases[] = {
        {"12,13#132$", 1, "full solution"},
        {"#132", 1, "answer only, no EOS"},
        {"#132$", 1, "answer only"},
        {"#999#132", 1, "last marker counts"},
        {"#132$#999", 1, "text after EOS ignored"},
        {"#132$\xff\x01garbage", 1, "bytes after EOS ignored"},
        {"132", 0, "missing marker"},
        {"", 0, "empty"},
        {"#", 0, "empty answer"},
        {"#$", 0, "empty answer before EOS"},
        {"12,13#", 0, "scratch then empty answer"},
        {"#132#", 0, "empty answer after last marker"},
        {"#132#999", 0, "last marker answer wrong"},
        {"#133", 0, "wrong"},
        {"#0132", 0, "leading zero"},
        {"#+132", 0, "plus sign"},
        {"#-132", 0, "wrong sign"},
        {"#132+", 0, "extra character"},
        {"#132 ", 0, "space (not in vocabulary)"},
        {"#13 2", 0, "space inside"},
        {"#1,32", 0, "separator inside"},
        {"#13\xc3\xa9", 0, "non-ASCII"},
        {"\xff#132", 0, "non-ASCII in scratchpad"},
        {"^#132", 0, "BOS in completion"},
        {"_#132", 0, "PAD in completion"},
        {"#132?", 0, "'?' (undecodable id)"},
        {"#99999999999999999999999", 0, "beyond 64 bits"},
        {"#18446744073709551748", 0, "132 + 2^64"},
    };
    check_verify_cases(&p, cases, sizeof cases / sizeof cases[0], "verify");

    /* NUL inside the given length, and a completion cut by len (the buffer holds exactly len
     * bytes, so an over-read would show under -fsanitize=address). */
    CHECK(task_verify(&p, "#13\0" "2", 5) == 0, "verify NUL byte", "scored 1");
    CHECK(task_verify(&p, "#132\0", 5) == 0, "verify trailing NUL", "scored 1");
    char *exact = malloc(4);
    if (exact) {
        memcpy(exact, "#132", 4);
        CHECK(task_verify(&p, exact, 4) == 1, "verify no terminator needed", "scored 0");
        CHECK(task_verify(&p, exact, 3) == 0, "verify len cuts the answer", "'#13' scored 1");
        CHECK(task_verify(&p, exact, 0) == 0, "verify zero length", "scored 1");
        free(exact);
    }
    CHECK(task_verify(&p, NULL, 0) == 0 && task_verify(NULL, "#132", 4) == 0, "verify NULL inputs", "scored 1");
    Problem alien = p;
    alien.family = 999;
    CHECK(verify_text(&alien, "#132") == 0, "verify unknown family", "scored 1");

    /* Length limit: 10,000 characters or more score 0 even with the right answer. */
    char *long_text = malloc(20001);
    if (long_text) {
        memset(long_text, '1', 20000);
        memcpy(long_text + 9995, "#132", 4); /* 9,999 characters */
        CHECK(task_verify(&p, long_text, 9999) == 1, "verify 9999 characters", "scored 0");
        memcpy(long_text + 9996, "#132", 4); /* 10,000 characters */
        CHECK(task_verify(&p, long_text, 10000) == 0, "verify 10000 characters", "scored 1");
        CHECK(task_verify(&p, long_text, 20000) == 0, "verify 20000 characters", "scored 1");
        memset(long_text, '(', 20000);
        CHECK(task_verify(&p, long_text, 20000) == 0, "verify 20000 parentheses", "scored 1");
        free(long_text);
    }

    /* Signs and zero. */
    CHECK(verify_text(&q, "#-38") == 1 && verify_text(&q, "-18,03#-38$") == 1, "verify negative answer", "scored 0");
    CHECK(verify_text(&q, "#38") == 0 && verify_text(&q, "#--38") == 0 && verify_text(&q, "#-038") == 0 &&
              verify_text(&q, "#-") == 0,
          "verify negative malformed", "a malformed negative scored 1");
    CHECK(verify_text(&z, "#0") == 1 && verify_text(&z, "#-0") == 0 && verify_text(&z, "#00") == 0 &&
              verify_text(&z, "#+0") == 0,
          "verify zero answer", "'0' must be the only accepted zero");

    /* An answer beyond 64 bits: right text scores 1, the 64-bit wrap-around of it 0. */
    task_draw(mul, 3, 0, 0, &big);
    unsigned long long wrapped = 0;
    for (const char *c = big.answer; *c; c++) wrapped = wrapped * 10 + (unsigned long long)(*c - '0');
    char wrong[64], right[64];
    snprintf(wrong, sizeof wrong, "#%llu", wrapped);
    snprintf(right, sizeof right, "#%s", big.answer);
    CHECK(strlen(big.answer) >= 21 && verify_text(&big, right) == 1 && verify_text(&big, wrong) == 0 &&
              verify_text(&big, "#99999999999999999999999") == 0,
          "verify beyond 64 bits", "answer '%s', wrapped '%s'", big.answer, wrong);

    task_spec_free(s);
    task_spec_free(sub);
    task_spec_free(mul);
}

/* ---------- countdown against brute force ---------- */

#define BF_MAX 4
#define BF_EXPR_CAP 4096

typedef struct {
    long long v;
    char s[40];
} BfExpr;

/* Every expression over every sub-multiset of the numbers (by index), fully parenthesized:
 * exprs[mask] lists those using exactly the numbers in mask. */
typedef struct {
    int count[1 << BF_MAX];
    BfExpr *list[1 << BF_MAX];
} BfTable;

static int bf_build(BfTable *t, const long *nums, int n)
{
    memset(t, 0, sizeof *t);
    for (unsigned mask = 1; mask < (1u << n); mask++) {
        t->list[mask] = malloc(BF_EXPR_CAP * sizeof(BfExpr));
        if (!t->list[mask]) return 0;
        if (__builtin_popcount(mask) == 1) {
            int i = __builtin_ctz(mask);
            t->list[mask][0].v = nums[i];
            snprintf(t->list[mask][0].s, sizeof t->list[mask][0].s, "%ld", nums[i]);
            t->count[mask] = 1;
            continue;
        }
        for (unsigned a = (mask - 1) & mask; a; a = (a - 1) & mask) {
            unsigned b = mask ^ a;
            for (int i = 0; i < t->count[a]; i++)
                for (int j = 0; j < t->count[b]; j++)
                    for (int o = 0; o < 3; o++) {
                        if (t->count[mask] == BF_EXPR_CAP) return 0;
                        BfExpr *e = &t->list[mask][t->count[mask]++];
                        const BfExpr *x = &t->list[a][i], *y = &t->list[b][j];
                        char op = "+-*"[o];
                        e->v = op == '+' ? x->v + y->v : op == '-' ? x->v - y->v : x->v * y->v;
                        snprintf(e->s, sizeof e->s, "(%s%c%s)", x->s, op, y->s);
                    }
        }
    }
    return 1;
}

static void bf_free(BfTable *t)
{
    for (int m = 0; m < (1 << BF_MAX); m++) free(t->list[m]);
}

static Problem countdown_problem(const long *nums, int n, long target)
{
    Problem p;
    memset(&p, 0, sizeof p);
    p.family = family_index("countdown");
    p.n_nums = n;
    for (int i = 0; i < n; i++) p.nums[i] = nums[i];
    p.target = target;
    return p;
}

static void test_countdown_bruteforce(void)
{
    TaskSpec *s = parse_ok("countdown:n=3-4:nums=1-12:target=10-60");
    if (!s) return;
    long mismatches = 0, checked = 0, unsolvable = 0, reused = 0;
    char first[160] = "";
    for (int k = 0; k < 30; k++) {
        Problem p;
        task_draw(s, 9, 1, (uint64_t)k, &p);
        /* With three numbers, a fourth item copies the first, so that expressions using a
         * number more often than it is given are enumerated too (and must score 0). */
        long items[BF_MAX];
        int n_items = p.n_nums;
        for (int i = 0; i < p.n_nums; i++) items[i] = p.nums[i];
        if (n_items < BF_MAX) items[n_items++] = p.nums[0];
        BfTable t;
        if (!bf_build(&t, items, n_items)) {
            CHECK(0, "countdown_bruteforce_build", "out of memory or table cap");
            bf_free(&t);
            break;
        }
        long solutions = 0;
        for (unsigned mask = 1; mask < (1u << n_items); mask++) {
            int allowed = 1; /* every value used at most as often as it is given */
            for (int i = 0; i < n_items; i++) {
                int used = 0, given = 0;
                for (int j = 0; j < n_items; j++) used += (mask >> j & 1) && items[j] == items[i];
                for (int j = 0; j < p.n_nums; j++) given += p.nums[j] == items[i];
                allowed &= used <= given;
            }
            for (int i = 0; i < t.count[mask]; i++) {
                const BfExpr *e = &t.list[mask][i];
                char text[48];
                snprintf(text, sizeof text, "#%s$", e->s);
                int want = allowed && e->v == p.target, got = verify_text(&p, text);
                solutions += want;
                reused += !allowed && e->v == p.target;
                checked++;
                if (got != want) {
                    mismatches++;
                    if (!first[0])
                        snprintf(first, sizeof first, "%s -> %s scored %d, value %lld", p.prompt, e->s, got, e->v);
                }
            }
        }
        unsolvable += solutions == 0;
        bf_free(&t);
    }
    CHECK(checked > 30000 && mismatches == 0, "countdown_verify_matches_bruteforce",
          "%ld of %ld expressions misjudged; first: %s", mismatches, checked, first);
    CHECK(reused > 0, "countdown_bruteforce_covers_reuse", "no expression reached a target by reusing a number");
    CHECK(unsolvable == 0, "countdown_generated_solvable", "%ld of 30 instances have no solution", unsolvable);
    task_spec_free(s);

    /* Hand cases on 2, 3, 4, 4 -> 14: precedence, multiset use, malformed input. */
    const long nums[4] = {2, 3, 4, 4};
    Problem p = countdown_problem(nums, 4, 14);
    const VerifyCase cases[] = {
        {"#2+3*4", 1, "precedence"},
        {"#(2+3)*4", 0, "parentheses change value (20)"},
        {"#4*4-2", 1, "duplicate number used twice when given twice"},
        {"#4*4-2+3-3", 0, "3 used twice"},
        {"#3*4+2", 1, "subset of numbers"},
        {"#14", 0, "number not given"},
        {"#2*7", 0, "7 not given"},
        {"#(4+3)*2", 1, "parenthesized sum"},
        {"#4*(3+4)/2", 0, "division not in vocabulary of operators"},
        {"#4*(3+4)-(2*7)", 0, "7 not given"},
        {"#(((2+3*4)))", 1, "redundant parentheses"},
        {"#()", 0, "empty parentheses"},
        {"#(2+3*4", 0, "unbalanced"},
        {"#2+3*4)", 0, "extra closing"},
        {"#2+3*", 0, "trailing operator"},
        {"#-2+4*4", 0, "unary minus"},
        {"#02+3*4", 0, "leading zero"},
        {"#2+3*4,", 0, "trailing separator"},
        {"#2++3*4", 0, "double operator"},
        {"#", 0, "empty"},
        {"#99999999999999999999*2", 0, "literal overflow"},
    };
    check_verify_cases(&p, cases, sizeof cases / sizeof cases[0], "countdown_verify");
    /* Subtraction binds left to right: 10-(3+2) is 5, 10-3+2 is 9. */
    const long small[3] = {10, 3, 2};
    Problem m = countdown_problem(small, 3, 5);
    CHECK(verify_text(&m, "#10-(3+2)") == 1 && verify_text(&m, "#10-3-2") == 1 && verify_text(&m, "#10-3+2") == 0 &&
              verify_text(&m, "#(10-3)+2") == 0,
          "countdown_verify left associative", "subtraction grouped wrongly");
    /* Deep nesting must not blow the stack: 5,000 '(' is rejected, shallow nesting accepted. */
    char *deep = malloc(10100);
    if (deep) {
        size_t n = 0;
        deep[n++] = '#';
        for (int i = 0; i < 5000; i++) deep[n++] = '(';
        memcpy(deep + n, "2+3*4", 5);
        n += 5;
        for (int i = 0; i < 5000; i++) deep[n++] = ')';
        CHECK(task_verify(&p, deep, n) == 0, "countdown_verify deep nesting", "scored 1");
        free(deep);
    }
    /* Overflowing arithmetic scores 0: the target is what 64-bit wrap-around would give, so a
     * verifier without overflow checks would accept it. */
    const long bigs[4] = {999999999, 999999999, 999999999, 1};
    uint64_t wrapped = 999999999ULL * 999999999ULL * 999999999ULL + 1ULL;
    Problem o = countdown_problem(bigs, 4, (long)wrapped);
    CHECK(verify_text(&o, "#999999999*999999999*999999999+1") == 0, "countdown_verify overflow",
          "an overflowing expression scored 1");
    Problem fine = countdown_problem(bigs, 4, 999999999L * 999999999L + 1);
    CHECK(verify_text(&fine, "#999999999*999999999+1") == 1, "countdown_verify large in range",
          "a product below 2^63 scored 0");
}

/* ---------- pair ---------- */

static void test_pair(void)
{
    Problem p = {0};
    p.family = family_index("pair");
    const long nums[4] = {12, 7, 30, 9};
    p.n_nums = 4;
    for (int i = 0; i < 4; i++) p.nums[i] = nums[i];
    p.target = 21;
    const VerifyCase cases[] = {
        {"#12+9", 1, "the pair"},
        {"#9+12", 1, "either order"},
        {"21-30=-9,21-12=9#12+9", 1, "after tries"},
        {"#7+7", 0, "one number used twice"},
        {"#11+10", 0, "numbers not given"},
        {"#12+7", 0, "wrong sum"},
        {"#012+9", 0, "leading zero"},
        {"#12+9+0", 0, "three terms"},
        {"#21", 0, "the target alone"},
        {"#12-9", 0, "not a sum"},
        {"#12+", 0, "missing term"},
        {"#", 0, "empty"},
        {"#99999999999999999999+1", 0, "literal overflow"},
    };
    check_verify_cases(&p, cases, sizeof cases / sizeof cases[0], "pair_verify");

    /* The point of the family: one prompt's worked solutions differ in length. Over 400 draws of
     * the default spec the tries (one per ',' plus one) must take every count 1..3 (n=4: a pair
     * member comes first with probability 1/2, second 1/3, third 1/6), each within 0.05 of
     * those shares (binomial sd at 400 draws <= 0.025). */
    TaskSpec *s = parse_ok("pair");
    if (!s) return;
    int count[5] = {0};
    const int n = 400;
    for (int i = 0; i < n; i++) {
        Problem q;
        task_draw(s, 5, 1, (uint64_t)i, &q);
        int tries = 1;
        for (const char *c = q.solution; *c && *c != '#'; c++) tries += *c == ',';
        count[tries < 4 ? tries : 4]++;
    }
    const double want[4] = {0, 1.0 / 2, 1.0 / 3, 1.0 / 6};
    int ok = count[4] == 0;
    for (int k = 1; k <= 3; k++) ok &= fabs((double)count[k] / n - want[k]) <= 0.05;
    CHECK(ok, "pair_search_lengths", "tries 1/2/3/more: %d %d %d %d of %d", count[1], count[2], count[3], count[4], n);
    task_spec_free(s);
}

/* ---------- determinism and mixtures ---------- */

static void test_determinism(void)
{
    TaskSpec *s = parse_ok("add:digits=1-3,mul:digits=1-2,countdown");
    if (!s) return;
    int same = 1, diff_seed = 0, diff_stream = 0, diff_index = 0;
    Problem a, b, c, d, e;
    for (int i = 0; i < 2000; i++) {
        task_draw(s, 11, 3, (uint64_t)i, &a);
        task_draw(s, 11, 3, (uint64_t)i, &b);
        task_draw(s, 12, 3, (uint64_t)i, &c);
        task_draw(s, 11, 4, (uint64_t)i, &d);
        task_draw(s, 11, 3, (uint64_t)i + 1, &e);
        same &= memcmp(&a, &b, sizeof a) == 0;
        diff_seed += strcmp(a.prompt, c.prompt) != 0;
        diff_stream += strcmp(a.prompt, d.prompt) != 0;
        diff_index += strcmp(a.prompt, e.prompt) != 0;
    }
    CHECK(same, "draw_deterministic", "two draws of the same key differ");
    /* Two independent draws coincide with probability about the chance that both are the same
     * small problem (1-digit adds: 1/3 * 1/9 * 1/100 per pair); 1,900 of 2,000 leaves room. */
    CHECK(diff_seed > 1900 && diff_stream > 1900 && diff_index > 1900, "draw_keys_matter",
          "different seed %d, stream %d, index %d of 2000", diff_seed, diff_stream, diff_index);
    task_spec_free(s);

    TaskSpec *m = parse_ok("add@0.7,mul@0.3");
    if (!m) return;
    int n_add = 0, n = 20000, fam_add = family_index("add");
    for (int i = 0; i < n; i++) {
        task_draw(m, 5, 0, (uint64_t)i, &a);
        n_add += a.family == fam_add;
    }
    /* Binomial sd sqrt(0.21 / 20000) = 0.0032; 0.015 is 4.6 sd. */
    CHECK_CLOSE((double)n_add / n, 0.7, 0.015, "mixture_weights");
    task_spec_free(m);
}

/* ---------- splits ---------- */

static int add2_index(const char *prompt)
{
    int a, b;
    if (sscanf(prompt, "^%d+%d=", &a, &b) != 2 || a < 10 || a > 99 || b < 10 || b > 99) return -1;
    return (a - 10) * 90 + (b - 10);
}

/* n training draws of an add:digits=2 split: marks each prompt drawn in seen, counts in *bad the
 * draws that are not two-digit sums and returns how many were validation prompts (is_val). With
 * twin (a split of the same seed), every 1000th draw must come out the same there (*det). */
static int draw_add2(const TaskSplit *sp, int n, const unsigned char *is_val, unsigned char *seen, int *bad,
                     const TaskSplit *twin, int *det)
{
    int served_val = 0;
    for (int i = 0; i < n; i++) {
        Problem p;
        split_train_draw(sp, (uint64_t)i, &p);
        int k = add2_index(p.prompt);
        if (k < 0) {
            ++*bad;
            continue;
        }
        served_val += is_val[k];
        seen[k] = 1;
        if (twin && i % 1000 == 0) {
            Problem again;
            split_train_draw(twin, (uint64_t)i, &again);
            *det &= strcmp(again.prompt, p.prompt) == 0;
        }
    }
    return served_val;
}

/* Validation drawn from another spec (train's eval_task): its prompts come from that spec, and
 * training draws from the first never serve one of them, even where the two spaces are one (the
 * prompts of sum:terms=2:digits=2 are those of add:digits=2). */
static void test_split_other_spec(void)
{
    TaskSpec *s = parse_ok("add:digits=2"), *same = parse_ok("sum:terms=2:digits=2"), *three = parse_ok("sum:terms=3:digits=2");
    if (!s || !same || !three) return;
    char err[ERR_LEN] = "";
    TaskSplit *sp = NULL, *sp3 = NULL;
    int rc = split_new_for(s, same, 77, 1000, &sp, err);
    CHECK(rc == 0 && sp && split_val_count(sp) == 1000, "split_other_new", "rc %d err '%s'", rc, err);
    rc = split_new_for(s, three, 77, 200, &sp3, err);
    CHECK(rc == 0 && sp3, "split_other_new_disjoint_space", "rc %d err '%s'", rc, err);
    if (!sp || !sp3) goto done;
    CHECK(split_spec(sp) == s && split_val_spec(sp) == same, "split_other_specs", "the split reports other specs");
    static unsigned char is_val[8100];
    int in_space = 1, terms3 = 1;
    for (int i = 0; i < 1000; i++) {
        int k = add2_index(split_val(sp, i)->prompt);
        if (k < 0) in_space = 0;
        else is_val[k] = 1;
    }
    for (int i = 0; i < 200; i++) {
        int a, b, c;
        terms3 &= sscanf(split_val(sp3, i)->prompt, "^%d+%d+%d=", &a, &b, &c) == 3;
    }
    CHECK(in_space, "split_other_val_from_val_spec", "a validation prompt of sum:terms=2:digits=2 is not a two-digit sum");
    CHECK(terms3, "split_other_val_three_terms", "a validation prompt of sum:terms=3:digits=2 has another shape");
    /* 200k training draws over the 7,100 prompts left: each seen ~28 times. */
    static unsigned char seen[8100];
    int bad = 0, covered = 0;
    int served_val = draw_add2(sp, 200000, is_val, seen, &bad, NULL, NULL);
    for (int k = 0; k < 8100; k++) covered += seen[k];
    CHECK(served_val == 0 && bad == 0, "split_other_never_serves_val", "%d validation prompts served, %d malformed",
          served_val, bad);
    CHECK(covered == 7100, "split_other_covers_the_rest", "%d distinct training prompts, want 7100", covered);
done:
    split_free(sp);
    split_free(sp3);
    task_spec_free(s);
    task_spec_free(same);
    task_spec_free(three);
}

static void test_split(void)
{
    TaskSpec *s = parse_ok("add:digits=2"); /* 8,100 prompts */
    if (!s) return;
    char err[ERR_LEN] = "";
    TaskSplit *sp = NULL, *sp2 = NULL, *other = NULL;
    int rc = split_new(s, 77, 1000, &sp, err);
    CHECK(rc == 0 && sp && split_val_count(sp) == 1000, "split_new", "rc %d err '%s'", rc, err);
    if (rc) return;
    split_new(s, 77, 1000, &sp2, err);
    split_new(s, 78, 1000, &other, err);

    static unsigned char is_val[8100], seen[8100];
    int distinct = 1, all_val = 1, same = 1, differs = 0;
    for (int i = 0; i < 1000; i++) {
        const Problem *p = split_val(sp, i);
        int k = add2_index(p->prompt);
        if (k < 0 || is_val[k]) distinct = 0;
        if (k >= 0) is_val[k] = 1;
        all_val &= split_is_val(sp, p->prompt);
        same &= sp2 && strcmp(p->prompt, split_val(sp2, i)->prompt) == 0;
        differs += other && strcmp(p->prompt, split_val(other, i)->prompt) != 0;
    }
    CHECK(distinct, "split_val_distinct", "validation prompts repeat or are malformed");
    CHECK(all_val, "split_is_val_on_val", "a validation prompt is not recognized");
    CHECK(same, "split_val_deterministic", "same seed gave another validation set");
    CHECK(differs > 900, "split_val_seeded", "only %d of 1000 differ under another seed", differs);
    CHECK(split_val(sp, -1) == NULL && split_val(sp, 1000) == NULL, "split_val_bounds", "out-of-range index served");

    /* A million training draws: none is a validation prompt, and together they reach every
     * other prompt (1M draws over 7,100 prompts: each seen ~140 times, missing one has
     * probability ~e^-140). */
    int bad = 0, det = 1;
    int served_val = draw_add2(sp, 1000000, is_val, seen, &bad, sp2, &det);
    int covered = 0;
    for (int k = 0; k < 8100; k++) covered += seen[k];
    CHECK(served_val == 0 && bad == 0, "split_train_never_serves_val", "%d validation prompts served, %d malformed",
          served_val, bad);
    CHECK(covered == 7100, "split_train_covers_the_rest", "%d distinct training prompts, want 7100", covered);
    CHECK(det, "split_train_deterministic", "same seed and index gave another problem");
    split_free(sp);
    split_free(sp2);
    split_free(other);

    /* Too small a space: the error names its size. */
    TaskSpec *tiny = parse_ok("add:digits=1");
    if (tiny) {
        sp = (TaskSplit *)err;
        rc = split_new(tiny, 1, 60, &sp, err);
        CHECK(rc == 1 && sp == NULL && strstr(err, "only 100 distinct prompts") && strstr(err, "at least 120"),
              "split_too_small", "rc %d err '%s'", rc, err);
        rc = split_new(tiny, 1, 50, &sp, err);
        CHECK(rc == 0 && split_val_count(sp) == 50, "split_half_space_ok", "rc %d err '%s'", rc, err);
        int leak = 0;
        for (int i = 0; i < 20000 && rc == 0; i++) {
            Problem p;
            split_train_draw(sp, (uint64_t)i, &p);
            leak += split_is_val(sp, p.prompt);
        }
        CHECK(leak == 0, "split_half_space_disjoint", "%d validation prompts served", leak);
        split_free(sp);
        rc = split_new(tiny, 1, 0, &sp, err);
        CHECK(rc == 0 && split_val_count(sp) == 0 && !split_is_val(sp, "^1+2="), "split_empty_val", "rc %d err '%s'", rc,
              err);
        split_free(sp);
        rc = split_new(tiny, 1, -1, &sp, err);
        CHECK(rc == 1 && strstr(err, "-1"), "split_negative_size", "rc %d err '%s'", rc, err);
        task_spec_free(tiny);
    }
    /* Countdown's space size is an upper bound; when the real space is smaller the search for
     * distinct prompts gives up with an error instead of looping. */
    TaskSpec *cd = parse_ok("countdown:n=2:nums=1-3:target=2-9");
    if (cd) {
        rc = split_new(cd, 1, 30, &sp, err);
        CHECK(rc == 1 && strstr(err, "distinct prompts in"), "split_countdown_exhausted", "rc %d err '%s'", rc, err);
        if (rc == 0) split_free(sp);
        task_spec_free(cd);
    }
    task_spec_free(s);
}

int main(void)
{
    test_tokenizer();
    test_specs();
    test_family_draws();
    test_examples();
    test_verifier();
    test_countdown_bruteforce();
    test_pair();
    test_determinism();
    test_split();
    test_split_other_spec();
    return test_main_result();
}
