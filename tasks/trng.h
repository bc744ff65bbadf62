/* Counter-based random numbers for tasks/: every draw is a pure function of (seed, stream,
 * index, attempt, counter), so problem number i of a stream is the same whoever draws it, in
 * whatever order.
 *
 * Why tasks/ has its own generator instead of models/rng.h: the dependency rule (tasks/ knows
 * nothing of models/), and stability: the problem sets, hence the validation split, must not
 * move when the model's sampler changes. The construction is deliberately unlike models/rng.h
 * (SplitMix64's finalizer over the key words): here the key words are absorbed through
 * MurmurHash3's 64-bit finalizer (fmix64), and the draws of one problem are a Weyl sequence
 * (key + counter * odd constant) passed through fmix64. */
#ifndef SCALERL_TASKS_TRNG_H
#define SCALERL_TASKS_TRNG_H

#include <stdint.h>

typedef struct {
    uint64_t key; /* the absorbed (seed, stream, index, attempt) */
    uint64_t ctr; /* how many draws this problem has used */
} TRng;

static inline uint64_t trng_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDULL;
    k ^= k >> 33;
    k *= 0xC4CEB9FE1A85EC53ULL;
    k ^= k >> 33;
    return k;
}

/* fmix64 maps 0 to 0, so every word enters with its own offset: a zero seed or stream still
 * scrambles. fmix64 is a bijection, so for a fixed prefix distinct words give distinct keys. */
static inline TRng trng_new(uint64_t seed, uint64_t stream, uint64_t index, uint64_t attempt)
{
    uint64_t h = trng_fmix64(seed + 0x243F6A8885A308D3ULL);
    h = trng_fmix64(h ^ (stream + 0x13198A2E03707344ULL));
    h = trng_fmix64(h ^ (index + 0xA4093822299F31D0ULL));
    h = trng_fmix64(h ^ (attempt + 0x082EFA98EC4E6C89ULL));
    TRng r = {h, 0};
    return r;
}

static inline uint64_t trng_next(TRng *r)
{
    r->ctr++;
    return trng_fmix64(r->key + r->ctr * 0xD1B54A32D192ED03ULL);
}

/* Uniform integer in [lo, hi] (lo <= hi). The modulo bias is below (hi - lo + 1) / 2^64,
 * far under anything a test of these small ranges could see. */
static inline long trng_range(TRng *r, long lo, long hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (long)(trng_next(r) % span);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double trng_uniform(TRng *r)
{
    return (double)(trng_next(r) >> 11) * 0x1.0p-53;
}

#endif
