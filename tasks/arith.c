/* The arithmetic families: add, sub, mul, sum. Operands are drawn with a digit count uniform
 * in the digits range, then uniform digits (leading digit nonzero unless the operand has one
 * digit), and the arithmetic is exact on decimal digits, so answers of any allowed size are
 * right. Scratchpads run right to left, one column per step, and write every carry or borrow,
 * so each character is a function of a few characters before it:
 *
 *   add  ^47+85=    12,13#132        column totals 7+5=12, 4+8+1=13 (carry, digit)
 *   sum  ^12+34+56= 12,10#102        the same for several terms (totals stay below 100)
 *   sub  ^47-85=    -18,03#-38       sign, then (borrow, digit) columns of 85-47
 *   mul  ^47*85=    532,0673=5993#3995   47*5 reversed; 47*8*10 reversed = running sum
 *
 * With scratch=0 the solution is the marker and the answer ("#132"). */
#include <string.h>

#include "tasks/decimal.h"
#include "tasks/family.h"

enum { K_DIGITS = 0, K_SCRATCH = 1 };        /* add, sub, mul */
enum { S_TERMS = 0, S_DIGITS = 1, S_SCRATCH = 2 }; /* sum */

#define SUM_MAX_TERMS 10 /* keeps a column total (9 * terms + carry) under 100: two characters */

static double operand_count(long lo, long hi)
{
    double n = 0;
    for (long d = lo; d <= hi; d++) n += dec_count_with_digits((int)d);
    return n;
}

static void draw_operand(Dec *x, long lo, long hi, TRng *r)
{
    dec_random(x, (int)trng_range(r, lo, hi), r);
}

static void append_dec(char *buf, size_t cap, size_t *len, const Dec *x)
{
    char t[DEC_CAP + 1];
    dec_write(x, t);
    text_append(buf, cap, len, t);
}

static void write_prompt(Problem *out, const Dec *terms, int k, char op)
{
    size_t len = 0;
    text_append_char(out->prompt, sizeof out->prompt, &len, '^');
    for (int i = 0; i < k; i++) {
        if (i) text_append_char(out->prompt, sizeof out->prompt, &len, op);
        append_dec(out->prompt, sizeof out->prompt, &len, &terms[i]);
    }
    text_append_char(out->prompt, sizeof out->prompt, &len, '=');
}

/* Marker and answer after whatever scratchpad is already in the solution. */
static void finish_solution(Problem *out, size_t len)
{
    text_append_char(out->solution, sizeof out->solution, &len, '#');
    text_append(out->solution, sizeof out->solution, &len, out->answer);
}

/* Sum of k terms, shared by add (k = 2) and sum. Column c's total is its digits plus the carry
 * in, written as two characters: the carry out and the result digit. */
static void draw_terms(Problem *out, Dec *terms, int k, int scratch)
{
    int ncol = 0;
    for (int i = 0; i < k; i++)
        if (terms[i].n > ncol) ncol = terms[i].n;
    write_prompt(out, terms, k, '+');

    Dec total;
    size_t len = 0;
    int carry = 0;
    for (int c = 0; c < ncol; c++) {
        int t = carry;
        for (int i = 0; i < k; i++) t += c < terms[i].n ? terms[i].d[c] : 0;
        if (scratch) {
            if (c) text_append_char(out->solution, sizeof out->solution, &len, ',');
            text_append_char(out->solution, sizeof out->solution, &len, (char)('0' + t / 10));
            text_append_char(out->solution, sizeof out->solution, &len, (char)('0' + t % 10));
        }
        total.d[c] = (unsigned char)(t % 10);
        carry = t / 10;
    }
    total.n = ncol;
    if (carry) total.d[total.n++] = (unsigned char)carry;
    while (total.n > 1 && total.d[total.n - 1] == 0) total.n--;
    dec_write(&total, out->answer);
    finish_solution(out, len);
}

/* ---- add ---- */

static void add_draw(const FamParams *p, TRng *r, Problem *out)
{
    Dec t[2];
    for (int i = 0; i < 2; i++) draw_operand(&t[i], p->lo[K_DIGITS], p->hi[K_DIGITS], r);
    draw_terms(out, t, 2, (int)p->lo[K_SCRATCH]);
}

static void add_limits(const FamParams *p, FamLimits *out)
{
    int d = (int)p->hi[K_DIGITS];
    double n = operand_count(p->lo[K_DIGITS], p->hi[K_DIGITS]);
    out->prompt_chars = 2 * d + 3;
    out->answer_chars = d + 1;
    out->solution_chars = p->lo[K_SCRATCH] ? (3 * d - 1) + 1 + (d + 1) : 1 + (d + 1);
    out->space = n * n;
}

/* ---- sum ---- */

static void sum_draw(const FamParams *p, TRng *r, Problem *out)
{
    Dec t[SUM_MAX_TERMS];
    int k = (int)trng_range(r, p->lo[S_TERMS], p->hi[S_TERMS]);
    for (int i = 0; i < k; i++) draw_operand(&t[i], p->lo[S_DIGITS], p->hi[S_DIGITS], r);
    draw_terms(out, t, k, (int)p->lo[S_SCRATCH]);
}

static void sum_limits(const FamParams *p, FamLimits *out)
{
    int d = (int)p->hi[S_DIGITS], k = (int)p->hi[S_TERMS];
    double n = operand_count(p->lo[S_DIGITS], p->hi[S_DIGITS]), space = 0;
    for (long t = p->lo[S_TERMS]; t <= p->hi[S_TERMS]; t++) {
        double c = 1;
        for (long i = 0; i < t; i++) c *= n;
        space += c;
    }
    out->prompt_chars = 1 + k * d + (k - 1) + 1;
    out->answer_chars = d + 1; /* at most 10 terms below 10^d sum below 10^(d+1) */
    out->solution_chars = p->lo[S_SCRATCH] ? (3 * d - 1) + 1 + (d + 1) : 1 + (d + 1);
    out->space = space;
}

/* ---- sub ---- */

/* a - b: the scratchpad first decides the sign (which operand is larger), then subtracts the
 * smaller from the larger column by column; each column is (borrow out, result digit). */
static void sub_draw(const FamParams *p, TRng *r, Problem *out)
{
    Dec t[2];
    for (int i = 0; i < 2; i++) draw_operand(&t[i], p->lo[K_DIGITS], p->hi[K_DIGITS], r);
    write_prompt(out, t, 2, '-');

    int negative = dec_cmp(&t[0], &t[1]) < 0;
    const Dec *x = negative ? &t[1] : &t[0], *y = negative ? &t[0] : &t[1];
    size_t len = 0;
    if (p->lo[K_SCRATCH]) {
        text_append_char(out->solution, sizeof out->solution, &len, negative ? '-' : '+');
        int borrow = 0;
        for (int c = 0; c < x->n; c++) {
            int v = x->d[c] - (c < y->n ? y->d[c] : 0) - borrow;
            borrow = v < 0;
            if (c) text_append_char(out->solution, sizeof out->solution, &len, ',');
            text_append_char(out->solution, sizeof out->solution, &len, (char)('0' + borrow));
            text_append_char(out->solution, sizeof out->solution, &len, (char)('0' + v + 10 * borrow));
        }
    }
    Dec diff;
    dec_sub(&diff, x, y);
    out->answer[0] = '-';
    dec_write(&diff, out->answer + negative); /* negative implies diff > 0: never "-0" */
    finish_solution(out, len);
}

static void sub_limits(const FamParams *p, FamLimits *out)
{
    int d = (int)p->hi[K_DIGITS];
    double n = operand_count(p->lo[K_DIGITS], p->hi[K_DIGITS]);
    out->prompt_chars = 2 * d + 3;
    out->answer_chars = d + 1;
    out->solution_chars = p->lo[K_SCRATCH] ? 1 + (3 * d - 1) + 1 + (d + 1) : 1 + (d + 1);
    out->space = n * n;
}

/* ---- mul ---- */

/* a * b, one row per digit b_j of b from the right: the partial product a * b_j * 10^j written
 * units first (j zeros, then the digits of a * b_j reversed), and from the second row on '='
 * and the running sum, also units first, so that every row adds column-aligned digits. */
static void mul_draw(const FamParams *p, TRng *r, Problem *out)
{
    Dec t[2];
    for (int i = 0; i < 2; i++) draw_operand(&t[i], p->lo[K_DIGITS], p->hi[K_DIGITS], r);
    write_prompt(out, t, 2, '*');

    const Dec *a = &t[0], *b = &t[1];
    Dec acc, row;
    char text[DEC_CAP + 1];
    size_t len = 0;
    int scratch = (int)p->lo[K_SCRATCH];
    for (int j = 0; j < b->n; j++) {
        dec_mul_digit(&row, a, b->d[j], 0);
        if (scratch) {
            if (j) text_append_char(out->solution, sizeof out->solution, &len, ',');
            for (int z = 0; z < j; z++) text_append_char(out->solution, sizeof out->solution, &len, '0');
            dec_write_reversed(&row, text);
            text_append(out->solution, sizeof out->solution, &len, text);
        }
        if (j == 0) {
            acc = row;
            continue;
        }
        dec_mul_digit(&row, a, b->d[j], j);
        dec_add(&acc, &acc, &row);
        if (scratch) {
            text_append_char(out->solution, sizeof out->solution, &len, '=');
            dec_write_reversed(&acc, text);
            text_append(out->solution, sizeof out->solution, &len, text);
        }
    }
    dec_write(&acc, out->answer);
    finish_solution(out, len);
}

static void mul_limits(const FamParams *p, FamLimits *out)
{
    int d = (int)p->hi[K_DIGITS];
    double n = operand_count(p->lo[K_DIGITS], p->hi[K_DIGITS]);
    int scratch = 0;
    for (int j = 0; j < d; j++) {
        scratch += j + d + 1;                      /* row j: shift zeros, a * b_j */
        if (j) scratch += 1 + 1 + (d + j + 1);     /* ',', '=', running sum */
    }
    out->prompt_chars = 2 * d + 3;
    out->answer_chars = 2 * d;
    out->solution_chars = p->lo[K_SCRATCH] ? scratch + 1 + 2 * d : 1 + 2 * d;
    out->space = n * n;
}

/* ---- shared ---- */

/* The answer is canonical decimal text, so exact comparison rejects leading zeros, "-0",
 * signs on positive answers and numbers of any size without converting them. */
static int arith_verify(const Problem *p, const char *ans, size_t len)
{
    size_t want = strnlen(p->answer, sizeof p->answer);
    return want > 0 && len == want && memcmp(ans, p->answer, len) == 0;
}

#define DIGITS_KEY(hi, def) {"digits", 1, hi, def, def, 1}
#define SCRATCH_KEY {"scratch", 0, 1, 1, 1, 0}

const Family family_add = {"add", 2, {DIGITS_KEY(40, 3), SCRATCH_KEY}, add_limits, NULL, add_draw, arith_verify};
const Family family_sub = {"sub", 2, {DIGITS_KEY(40, 3), SCRATCH_KEY}, sub_limits, NULL, sub_draw, arith_verify};
const Family family_mul = {"mul", 2, {DIGITS_KEY(20, 2), SCRATCH_KEY}, mul_limits, NULL, mul_draw, arith_verify};
const Family family_sum = {"sum", 3, {{"terms", 2, SUM_MAX_TERMS, 3, 3, 1}, DIGITS_KEY(20, 2), SCRATCH_KEY},
                           sum_limits, NULL, sum_draw, arith_verify};
