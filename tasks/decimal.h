/* Exact non-negative integers as little-endian decimal digits, for answers beyond 64 bits
 * (a 20-digit by 20-digit product has 40 digits) and for scratchpads, which are written
 * digit by digit anyway. Fixed capacity, no allocation. */
#ifndef SCALERL_TASKS_DECIMAL_H
#define SCALERL_TASKS_DECIMAL_H

#include "tasks/trng.h"

#define DEC_CAP 48 /* digits; the largest answer a spec may ask for is 47 characters */

/* d[0] is the units digit; n >= 1 and d[n-1] != 0 unless the number is 0 (n == 1). */
typedef struct {
    int n;
    unsigned char d[DEC_CAP];
} Dec;

/* A uniform number with exactly `digits` digits: 0..9 for one digit, otherwise a leading
 * digit 1..9. digits in [1, DEC_CAP]. */
void dec_random(Dec *x, int digits, TRng *r);
int dec_cmp(const Dec *a, const Dec *b);
/* out may alias a or b. The caller guarantees the result fits DEC_CAP digits. */
void dec_add(Dec *out, const Dec *a, const Dec *b);
/* out = a - b for a >= b. */
void dec_sub(Dec *out, const Dec *a, const Dec *b);
/* out = a * digit * 10^shift, digit in 0..9. */
void dec_mul_digit(Dec *out, const Dec *a, int digit, int shift);
/* Writes the number most significant digit first, or reversed (units first); 0-terminates
 * and returns the length. */
int dec_write(const Dec *x, char *out);
int dec_write_reversed(const Dec *x, char *out);
/* How many numbers have exactly `digits` digits (10 for one digit, else 9 * 10^(digits-1)). */
double dec_count_with_digits(int digits);

#endif
