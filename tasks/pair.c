/* Pair: find two of the given numbers that sum to the target, by trying them one at a time.
 *
 *   prompt    ^12,7,30,9:21=              the numbers, ':', the target
 *   solution  21-30=-9,21-12=9#12+9       per tried number a, target - a; stop when that is
 *                                          another of the numbers; then the pair
 *
 * The task the length components of the recipe need (forced interruption, the length penalty,
 * sample against prompt averaging; tasks/README.md, bench/findings/README.md's `length` study):
 * the scratchpad is a search whose length is the solver's choice, not the problem's. The worked
 * solutions try the numbers in a random order, so one prompt's solutions take 1 to n-1 tries and
 * the base model samples orders; a policy that picks a number of the pair first is shorter, and
 * one that keeps searching after a slip runs into the thinking budget.
 *
 * The generator draws n distinct numbers, then one pair of them whose sum is the target (other
 * pairs may reach it too; any is accepted). The verifier accepts `x+y` in canonical decimal where
 * x and y are two different given numbers summing to the target. */
#include <stdio.h>
#include <string.h>

#include "tasks/family.h"

enum { P_N = 0, P_NUMS = 1, P_SCRATCH = 2 };

#define PAIR_MAX_N 8 /* Problem.nums */

static int pair_index_of(const Problem *p, long v, int not_at)
{
    for (int i = 0; i < p->n_nums; i++)
        if (i != not_at && p->nums[i] == v) return i;
    return -1;
}

static void pair_draw(const FamParams *prm, TRng *r, Problem *out)
{
    const int n = (int)trng_range(r, prm->lo[P_N], prm->hi[P_N]);
    out->n_nums = n;
    /* Distinct numbers (pair_check makes the range hold at least 2n, so redraws stay rare): a
     * repeated number would make the prompt's pair ambiguous to read. */
    for (int i = 0; i < n; i++) {
        int repeated;
        do {
            out->nums[i] = trng_range(r, prm->lo[P_NUMS], prm->hi[P_NUMS]);
            repeated = 0;
            for (int j = 0; j < i; j++) repeated |= out->nums[j] == out->nums[i];
        } while (repeated);
    }
    const int a = (int)trng_range(r, 0, n - 1);
    int b = (int)trng_range(r, 0, n - 2);
    if (b >= a) b++;
    out->target = out->nums[a] + out->nums[b];

    size_t len = 0;
    char num[32];
    text_append_char(out->prompt, sizeof out->prompt, &len, '^');
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof num, i ? ",%ld" : "%ld", out->nums[i]);
        text_append(out->prompt, sizeof out->prompt, &len, num);
    }
    snprintf(num, sizeof num, ":%ld=", out->target);
    text_append(out->prompt, sizeof out->prompt, &len, num);

    /* The search: a random order of the numbers, each tried until one's complement is given. */
    int order[PAIR_MAX_N];
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)trng_range(r, 0, i), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    size_t slen = 0;
    long found = -1;
    for (int k = 0; k < n && found < 0; k++) {
        const long x = out->nums[order[k]], c = out->target - x;
        if (prm->lo[P_SCRATCH]) {
            snprintf(num, sizeof num, "%s%ld-%ld=%ld", k ? "," : "", out->target, x, c);
            text_append(out->solution, sizeof out->solution, &slen, num);
        }
        if (pair_index_of(out, c, order[k]) >= 0) found = x;
    }
    /* found >= 0 always: the order reaches a or b, whose complement is the other. */
    len = 0;
    snprintf(num, sizeof num, "%ld+%ld", found, out->target - found);
    text_append(out->answer, sizeof out->answer, &len, num);
    text_append_char(out->solution, sizeof out->solution, &slen, '#');
    text_append(out->solution, sizeof out->solution, &slen, out->answer);
}

static void pair_limits(const FamParams *p, FamLimits *out)
{
    const int n = (int)p->hi[P_N], d = digits_of(p->hi[P_NUMS]), dt = digits_of(2 * p->hi[P_NUMS]);
    const int try_chars = dt + 1 + d + 1 + 1 + dt; /* t-x=c, c possibly negative */
    out->prompt_chars = 1 + n * d + (n - 1) + 1 + dt + 1;
    out->answer_chars = 2 * d + 1;
    /* At most n-1 tries: after n-1 numbers one of the pair has been tried. */
    out->solution_chars = (p->lo[P_SCRATCH] ? (n - 1) * try_chars + (n - 2) : 0) + 1 + out->answer_chars;
    const double values = (double)(p->hi[P_NUMS] - p->lo[P_NUMS] + 1);
    double space = 0;
    for (long k = p->lo[P_N]; k <= p->hi[P_N]; k++) {
        double c = (double)(k * (k - 1) / 2); /* targets: one per pair, at most */
        for (long i = 0; i < k; i++) c *= values;
        space += c;
    }
    out->space = space;
}

static int pair_check(const FamParams *p, char *err)
{
    if (p->hi[P_NUMS] - p->lo[P_NUMS] + 1 < 2 * p->hi[P_N]) {
        snprintf(err, ERR_LEN, "nums %ld-%ld holds fewer than %ld distinct values, twice n=%ld (widen nums)",
                 p->lo[P_NUMS], p->hi[P_NUMS], 2 * p->hi[P_N], p->hi[P_N]);
        return 1;
    }
    return 0;
}

/* A canonical decimal number at s[*pos..len): digits, no leading zero. */
static int pair_number(const char *s, size_t len, size_t *pos, long *v)
{
    const size_t start = *pos;
    long x = 0;
    while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
        if (*pos - start >= 9) return 0; /* longer than any given number */
        x = 10 * x + (s[(*pos)++] - '0');
    }
    if (*pos == start || (*pos - start > 1 && s[start] == '0')) return 0;
    *v = x;
    return 1;
}

static int pair_verify(const Problem *p, const char *ans, size_t len)
{
    size_t pos = 0;
    long x, y;
    if (!pair_number(ans, len, &pos, &x) || pos >= len || ans[pos++] != '+' || !pair_number(ans, len, &pos, &y) ||
        pos != len)
        return 0;
    const int i = pair_index_of(p, x, -1);
    return i >= 0 && pair_index_of(p, y, i) >= 0 && x + y == p->target;
}

const Family family_pair = {
    "pair",
    3,
    {{"n", 3, PAIR_MAX_N, 4, 4, 1}, {"nums", 1, 999, 10, 49, 1}, {"scratch", 0, 1, 1, 1, 0}},
    pair_limits,
    pair_check,
    pair_draw,
    pair_verify,
};
