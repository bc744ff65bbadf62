/* DAPO overlong reward shaping (formula in the header). */
#include "ref/rl/length_penalty.h"

double overlong_penalty(long len, long l_max, long l_cache)
{
    if (l_cache <= 0) return len > l_max ? -1.0 : 0.0;
    double p = (double)(l_max - len) / (double)l_cache - 1.0;
    if (p < -1.0) p = -1.0;
    if (p > 0.0) p = 0.0;
    return p;
}

float length_penalized_reward(float reward, long len, long l_max, long l_cache)
{
    if (!(reward > 0.0f)) return reward;
    return (float)((double)reward + overlong_penalty(len, l_max, l_cache));
}
