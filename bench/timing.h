/* Timing shared by the bench programs (each bench .c file is its own binary, hence a header). */
#ifndef SCALERL_BENCH_TIMING_H
#define SCALERL_BENCH_TIMING_H

#include "ref/common/util.h"

typedef void (*BenchFn)(void *ctx);

/* Seconds per call of fn: after one warm-up call, at least 3 calls and at least `seconds` in all;
 * the fastest call counts, because on a shared machine other processes only ever add time.
 * prepare (NULL: none) runs before every call, outside the timed part (e.g. to restore the
 * state a call changes). */
static inline double time_prepared(BenchFn prepare, BenchFn fn, void *ctx, double seconds)
{
    if (prepare) prepare(ctx);
    fn(ctx);
    double best = 1e300, t_start = wall_seconds();
    for (int reps = 0; reps < 3 || wall_seconds() - t_start < seconds; reps++) {
        if (prepare) prepare(ctx);
        double t0 = wall_seconds();
        fn(ctx);
        double t = wall_seconds() - t0;
        best = t < best ? t : best;
    }
    return best;
}

static inline double time_it(BenchFn fn, void *ctx, double seconds)
{
    return time_prepared(NULL, fn, ctx, seconds);
}

#endif
