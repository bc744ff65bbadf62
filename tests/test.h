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

static void test_report(int ok, const char *file, int line, const char *name, const char *fmt, ...)
{
    if (ok) {
        test_passed_count++;
        printf("PASS %s\n", name);
    } else {
        test_failed_count++;
        printf("FAIL %s: ", name);
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf(" (%s:%d)\n", file, line);
    }
    fflush(stdout);
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

static int test_main_result(void)
{
    return test_failed_count ? 1 : 0;
}

#endif
