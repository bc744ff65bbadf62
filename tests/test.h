/* Minimal test harness. Every check prints one line, "PASS name" or "FAIL name: why (file:line)",
 * which tests/run.sh counts; test_main_result() makes the process exit nonzero when anything
 * failed, so a test binary run alone is also honest. Test binaries are programs, not the
 * product, so the two counters below are the one global state they are allowed. */
#ifndef SCALERL_TEST_H
#define SCALERL_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdarg.h>

static int test_passed_count, test_failed_count;

static void test_vreport(int ok, const char *file, int line, const char *name, const char *fmt, va_list ap)
{
    if (ok) {
        test_passed_count++;
        printf("PASS %s\n", name);
    } else {
        test_failed_count++;
        printf("FAIL %s: ", name);
        vprintf(fmt, ap);
        printf(" (%s:%d)\n", file, line);
    }
    fflush(stdout);
}

static void test_report(int ok, const char *file, int line, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    test_vreport(ok, file, line, name, fmt, ap);
    va_end(ap);
}

/* CHECK(cond, name, fmt, ...): the message explains a failure with the values involved. */
#define CHECK(cond, name, ...) test_report(!!(cond), __FILE__, __LINE__, name, __VA_ARGS__)

/* CHECK_CLOSE: |got - want| <= tol; NaN never passes. */
#define CHECK_CLOSE(got, want, tol, name)                                                   \
    do {                                                                                    \
        double got_ = (double)(got), want_ = (double)(want), tol_ = (double)(tol);          \
        test_report(fabs(got_ - want_) <= tol_, __FILE__, __LINE__, name,                   \
                    "got %.9g, want %.9g, |diff| %.3g > tol %.3g", got_, want_,             \
                    fabs(got_ - want_), tol_);                                              \
    } while (0)

/* A measured quantity against its bound: value <= bound when at_most, else value >= bound (NaN
 * never passes). Prints "MEASURED value <= bound name" (or ">=") first, which tests/run.sh ignores
 * and bench/coretypes.sh collects, to show each bound beside the worst value every OpenBLAS kernel
 * set gives. */
static inline void test_measured(double value, int at_most, double bound, const char *file, int line,
                                  const char *name, const char *fmt, ...)
{
    printf("MEASURED %.6g %s %.6g %s\n", value, at_most ? "<=" : ">=", bound, name);
    va_list ap;
    va_start(ap, fmt);
    test_vreport(at_most ? value <= bound : value >= bound, file, line, name, fmt, ap);
    va_end(ap);
}

/* CHECK_TOL(value, tol, name, fmt, ...): value <= tol, an error against its tolerance.
 * CHECK_ATLEAST(value, bound, name, fmt, ...): value >= bound, an effect that must show.
 * Both also print a MEASURED line. Tolerances for float rounding that depends on which kernels
 * OpenBLAS picked are derived in tests/rounding.h. */
#define CHECK_TOL(value, tol, name, ...) \
    test_measured((double)(value), 1, (double)(tol), __FILE__, __LINE__, name, __VA_ARGS__)
#define CHECK_ATLEAST(value, bound, name, ...) \
    test_measured((double)(value), 0, (double)(bound), __FILE__, __LINE__, name, __VA_ARGS__)

static int test_main_result(void)
{
    return test_failed_count ? 1 : 0;
}

#endif
