/* Countdown: reach a target from given numbers with + - *, each number used at most once.
 *
 *   prompt    ^5,4,6,13:33=                  the numbers, ':', the target
 *   solution  13-6=7,4*7=28,5+28=33#5+4*(13-6)   one step per operation, then the expression
 *
 * The generator draws the numbers and builds a random expression tree over all of them (random
 * pairs, random operators); the tree's value is the target. An attempt is thrown away when an
 * intermediate result leaves [1, CD_CAP], when the value is outside the target range or when it
 * equals one of the numbers (a one-number answer would be trivial); then everything is drawn
 * again. The spec check measures the success rate of attempts and refuses ranges where fewer
 * than 2% succeed, so the CD_ATTEMPTS limit is never reached in practice (chance below 1e-35 per
 * problem); should it be, the target is the sum of the numbers, which is always reachable.
 *
 * The verifier accepts any expression over a sub-multiset of the numbers whose value is the
 * target: canonical decimal literals, + - * with the usual precedence, parentheses. Arithmetic
 * is checked for 64-bit overflow and nesting is bounded, so no input can crash it. */
#include <stdio.h>
#include <string.h>

#include "tasks/family.h"

enum { C_N = 0, C_NUMS = 1, C_TARGET = 2, C_SCRATCH = 3 };

#define CD_MAX_N 6
#define CD_CAP 99999L     /* bound on intermediate results, so steps have at most 5 digits */
#define CD_ATTEMPTS 4096
#define CD_CHECK_ATTEMPTS 4000
#define CD_MAX_DEPTH 64   /* parentheses the verifier follows before giving up */

typedef struct {
    long v;
    char op; /* 0 for a given number */
    int l, r;
} CdNode;

typedef struct {
    int n;
    long nums[CD_MAX_N];
    CdNode node[2 * CD_MAX_N - 1]; /* the n numbers, then the operations in creation order */
    int n_node;
} CdTree;

static int precedence(const CdNode *x)
{
    return x->op == 0 ? 3 : x->op == '*' ? 2 : 1;
}

/* Minimal parentheses: a child binding looser than its parent, and a sum or difference on
 * the right of '-' (a-(b+c) is not a-b+c). */
static void write_expr(const CdTree *t, int i, char *buf, size_t cap, size_t *len)
{
    const CdNode *x = &t->node[i];
    if (x->op == 0) {
        char num[24];
        snprintf(num, sizeof num, "%ld", x->v);
        text_append(buf, cap, len, num);
        return;
    }
    const CdNode *l = &t->node[x->l], *r = &t->node[x->r];
    int pl = precedence(l) < precedence(x);
    int pr = precedence(r) < precedence(x) || (x->op == '-' && precedence(r) == 1);
    if (pl) text_append_char(buf, cap, len, '(');
    write_expr(t, x->l, buf, cap, len);
    if (pl) text_append_char(buf, cap, len, ')');
    text_append_char(buf, cap, len, x->op);
    if (pr) text_append_char(buf, cap, len, '(');
    write_expr(t, x->r, buf, cap, len);
    if (pr) text_append_char(buf, cap, len, ')');
}

static int add_node(CdTree *t, char op, int l, int r)
{
    long a = t->node[l].v, b = t->node[r].v;
    long v = op == '+' ? a + b : op == '-' ? a - b : a * b; /* operands <= CD_CAP: no overflow */
    t->node[t->n_node] = (CdNode){v, op, l, r};
    t->n_node++;
    return v >= 1 && v <= CD_CAP;
}

static void draw_numbers(const FamParams *p, TRng *r, CdTree *t)
{
    t->n = (int)trng_range(r, p->lo[C_N], p->hi[C_N]);
    for (int i = 0; i < t->n; i++) {
        t->nums[i] = trng_range(r, p->lo[C_NUMS], p->hi[C_NUMS]);
        t->node[i] = (CdNode){t->nums[i], 0, -1, -1};
    }
    t->n_node = t->n;
}

/* One attempt: 1 if the tree it built is a problem the spec allows. */
static int attempt(const FamParams *p, TRng *r, CdTree *t)
{
    draw_numbers(p, r, t);
    int live[CD_MAX_N], m = t->n;
    for (int i = 0; i < m; i++) live[i] = i;
    while (m > 1) {
        int i = (int)trng_range(r, 0, m - 1), j = (int)trng_range(r, 0, m - 2);
        if (j >= i) j++;
        char op = "+-*"[trng_range(r, 0, 2)];
        int l = live[i], rr = live[j];
        if (op == '-' && t->node[l].v < t->node[rr].v) {
            int s = l;
            l = rr;
            rr = s;
        } else if (op == '-' && t->node[l].v == t->node[rr].v) {
            op = '+'; /* keeps intermediate results positive */
        }
        if (!add_node(t, op, l, rr)) return 0;
        live[i < j ? i : j] = t->n_node - 1;
        live[i < j ? j : i] = live[m - 1];
        m--;
    }
    long target = t->node[t->n_node - 1].v;
    if (target < p->lo[C_TARGET] || target > p->hi[C_TARGET]) return 0;
    for (int i = 0; i < t->n; i++)
        if (t->nums[i] == target) return 0;
    return 1;
}

static void fallback_sum(CdTree *t)
{
    t->n_node = t->n;
    int acc = 0;
    for (int i = 1; i < t->n; i++) {
        add_node(t, '+', acc, i);
        acc = t->n_node - 1;
    }
}

static void countdown_draw(const FamParams *p, TRng *r, Problem *out)
{
    CdTree t;
    int ok = 0;
    for (int a = 0; a < CD_ATTEMPTS && !ok; a++) ok = attempt(p, r, &t);
    if (!ok) fallback_sum(&t);
    const int root = t.n_node - 1;

    out->n_nums = t.n;
    for (int i = 0; i < t.n; i++) out->nums[i] = t.nums[i];
    out->target = t.node[root].v;

    size_t len = 0;
    char num[24];
    text_append_char(out->prompt, sizeof out->prompt, &len, '^');
    for (int i = 0; i < t.n; i++) {
        snprintf(num, sizeof num, i ? ",%ld" : "%ld", t.nums[i]);
        text_append(out->prompt, sizeof out->prompt, &len, num);
    }
    snprintf(num, sizeof num, ":%ld=", out->target);
    text_append(out->prompt, sizeof out->prompt, &len, num);

    len = 0;
    write_expr(&t, root, out->answer, sizeof out->answer, &len);

    len = 0;
    if (p->lo[C_SCRATCH]) {
        for (int i = t.n; i < t.n_node; i++) {
            const CdNode *x = &t.node[i];
            char step[64];
            snprintf(step, sizeof step, "%s%ld%c%ld=%ld", i > t.n ? "," : "", t.node[x->l].v, x->op,
                     t.node[x->r].v, x->v);
            text_append(out->solution, sizeof out->solution, &len, step);
        }
    }
    text_append_char(out->solution, sizeof out->solution, &len, '#');
    text_append(out->solution, sizeof out->solution, &len, out->answer);
}

static void countdown_limits(const FamParams *p, FamLimits *out)
{
    int n = (int)p->hi[C_N], dn = digits_of(p->hi[C_NUMS]), dt = digits_of(p->hi[C_TARGET]);
    int dstep = digits_of(CD_CAP);
    int expr = n * dn + (n - 1) + 2 * (n - 2); /* numbers, operators, a pair per inner node */
    int steps = (n - 1) * (3 * dstep + 2) + (n - 2);
    double values = (double)(p->hi[C_NUMS] - p->lo[C_NUMS] + 1), space = 0;
    for (long k = p->lo[C_N]; k <= p->hi[C_N]; k++) {
        double c = 1;
        for (long i = 0; i < k; i++) c *= values;
        space += c;
    }
    out->prompt_chars = 1 + n * dn + (n - 1) + 1 + dt + 1;
    out->answer_chars = expr;
    out->solution_chars = (p->lo[C_SCRATCH] ? steps : 0) + 1 + expr;
    out->space = space * (double)(p->hi[C_TARGET] - p->lo[C_TARGET] + 1);
}

static int countdown_check(const FamParams *p, char *err)
{
    /* A fixed key: the verdict on a spec must not depend on the run's seed. */
    TRng r = trng_new(0x636F756E74646F77ULL, 0, 0, 0);
    CdTree t;
    int hits = 0;
    for (int a = 0; a < CD_CHECK_ATTEMPTS; a++) hits += attempt(p, &r, &t);
    if (hits * 50 < CD_CHECK_ATTEMPTS) {
        snprintf(err, ERR_LEN,
                 "only %d of %d random expressions over %ld-%ld numbers in %ld-%ld land in the target "
                 "range %ld-%ld (expected at least 2%%; widen target or change nums or n)",
                 hits, CD_CHECK_ATTEMPTS, p->lo[C_N], p->hi[C_N], p->lo[C_NUMS], p->hi[C_NUMS],
                 p->lo[C_TARGET], p->hi[C_TARGET]);
        return 1;
    }
    return 0;
}

/* ---- verifier: recursive descent over expr := term (('+'|'-') term)*,
 *      term := factor ('*' factor)*, factor := number | '(' expr ')' ---- */

typedef struct {
    const Problem *p;
    const char *s;
    size_t len, pos;
    int depth;
    int used[8];
} Parser;

static int parse_expr(Parser *ps, long long *v);

static int parse_number(Parser *ps, long long *v)
{
    size_t start = ps->pos;
    long long x = 0;
    while (ps->pos < ps->len && ps->s[ps->pos] >= '0' && ps->s[ps->pos] <= '9') {
        if (ps->pos - start >= 18) return 0; /* beyond any given number, and beyond int64 */
        x = 10 * x + (ps->s[ps->pos++] - '0');
    }
    size_t n = ps->pos - start;
    if (n == 0 || (n > 1 && ps->s[start] == '0')) return 0;
    int k = ps->p->n_nums < 0 ? 0 : ps->p->n_nums > 8 ? 8 : ps->p->n_nums;
    for (int i = 0; i < k; i++) {
        if (!ps->used[i] && ps->p->nums[i] == x) {
            ps->used[i] = 1;
            *v = x;
            return 1;
        }
    }
    return 0; /* not a given number, or every copy of it already used */
}

static int parse_factor(Parser *ps, long long *v)
{
    if (ps->pos < ps->len && ps->s[ps->pos] == '(') {
        if (++ps->depth > CD_MAX_DEPTH) return 0;
        ps->pos++;
        if (!parse_expr(ps, v)) return 0;
        if (ps->pos >= ps->len || ps->s[ps->pos] != ')') return 0;
        ps->pos++;
        ps->depth--;
        return 1;
    }
    return parse_number(ps, v);
}

static int parse_term(Parser *ps, long long *v)
{
    if (!parse_factor(ps, v)) return 0;
    while (ps->pos < ps->len && ps->s[ps->pos] == '*') {
        long long w;
        ps->pos++;
        if (!parse_factor(ps, &w) || __builtin_mul_overflow(*v, w, v)) return 0;
    }
    return 1;
}

static int parse_expr(Parser *ps, long long *v)
{
    if (!parse_term(ps, v)) return 0;
    while (ps->pos < ps->len && (ps->s[ps->pos] == '+' || ps->s[ps->pos] == '-')) {
        char op = ps->s[ps->pos++];
        long long w;
        if (!parse_term(ps, &w)) return 0;
        if (op == '+' ? __builtin_add_overflow(*v, w, v) : __builtin_sub_overflow(*v, w, v)) return 0;
    }
    return 1;
}

static int countdown_verify(const Problem *p, const char *ans, size_t len)
{
    Parser ps = {.p = p, .s = ans, .len = len};
    long long v;
    return parse_expr(&ps, &v) && ps.pos == len && v == p->target;
}

const Family family_countdown = {
    "countdown",
    4,
    {{"n", 2, CD_MAX_N, 3, 4, 1}, {"nums", 1, 999, 1, 25, 1}, {"target", 1, CD_CAP, 10, 100, 1},
     {"scratch", 0, 1, 1, 1, 0}},
    countdown_limits,
    countdown_check,
    countdown_draw,
    countdown_verify,
};
