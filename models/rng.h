/* Counter-based random numbers: every draw is a pure function of (key, counter), so a sample
 * does not depend on which thread drew it or in what order, and a run can resume at any step
 * from the step number alone. The mixer is SplitMix64's finalizer applied over the words of the
 * key (a strong 64-bit avalanche; statistical quality is ample for sampling and shuffles). */
#ifndef SCALERL_RNG_H
#define SCALERL_RNG_H

#include <stdint.h>

static inline uint64_t rng_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A 64-bit draw keyed by four words, e.g. (seed, stream, step, index). */
static inline uint64_t rng_u64(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    uint64_t h = rng_mix64(seed);
    h = rng_mix64(h ^ stream);
    h = rng_mix64(h ^ a);
    return rng_mix64(h ^ b);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double rng_uniform(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    return (double)(rng_u64(seed, stream, a, b) >> 11) * 0x1.0p-53;
}

#endif
