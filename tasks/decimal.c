/* Schoolbook arithmetic on little-endian decimal digits. */
#include <string.h>

#include "tasks/decimal.h"

static void normalize(Dec *x)
{
    while (x->n > 1 && x->d[x->n - 1] == 0) x->n--;
}

void dec_random(Dec *x, int digits, TRng *r)
{
    x->n = digits;
    for (int i = 0; i < digits - 1; i++) x->d[i] = (unsigned char)trng_range(r, 0, 9);
    x->d[digits - 1] = (unsigned char)trng_range(r, digits == 1 ? 0 : 1, 9);
}

int dec_cmp(const Dec *a, const Dec *b)
{
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

void dec_add(Dec *out, const Dec *a, const Dec *b)
{
    Dec s;
    int n = a->n > b->n ? a->n : b->n, carry = 0;
    for (int i = 0; i < n; i++) {
        int v = (i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0) + carry;
        s.d[i] = (unsigned char)(v % 10);
        carry = v / 10;
    }
    s.n = n;
    if (carry) s.d[s.n++] = (unsigned char)carry;
    *out = s;
}

void dec_sub(Dec *out, const Dec *a, const Dec *b)
{
    Dec s;
    int borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int v = a->d[i] - (i < b->n ? b->d[i] : 0) - borrow;
        borrow = v < 0;
        s.d[i] = (unsigned char)(v + 10 * borrow);
    }
    s.n = a->n;
    normalize(&s);
    *out = s;
}

void dec_mul_digit(Dec *out, const Dec *a, int digit, int shift)
{
    Dec p;
    int carry = 0;
    memset(p.d, 0, (size_t)shift);
    for (int i = 0; i < a->n; i++) {
        int v = a->d[i] * digit + carry;
        p.d[shift + i] = (unsigned char)(v % 10);
        carry = v / 10;
    }
    p.n = shift + a->n;
    if (carry) p.d[p.n++] = (unsigned char)carry;
    normalize(&p);
    *out = p;
}

int dec_write(const Dec *x, char *out)
{
    for (int i = 0; i < x->n; i++) out[i] = (char)('0' + x->d[x->n - 1 - i]);
    out[x->n] = 0;
    return x->n;
}

int dec_write_reversed(const Dec *x, char *out)
{
    for (int i = 0; i < x->n; i++) out[i] = (char)('0' + x->d[i]);
    out[x->n] = 0;
    return x->n;
}

double dec_count_with_digits(int digits)
{
    double c = digits == 1 ? 10.0 : 9.0;
    for (int i = 1; i < digits; i++) c *= 10.0;
    return c;
}
