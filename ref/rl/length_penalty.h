/* DAPO's overlong reward shaping, as ScaleRL's alternative to forced interruption:
 *     penalty(L) = clip((L_max - L) / L_cache - 1, -1, 0)
 *                = 0                              for L <= L_max - L_cache
 *                  (L_max - L_cache - L) / L_cache  in between (linear from 0 down to -1)
 *                  -1                             for L >= L_max
 * where L is the completion length in tokens. It is added to the reward of correct completions
 * only (reward > 0): a wrong answer is not made more wrong by being long. The interruption
 * itself (forcing the end-of-thinking marker) is the rollout loop's job, not this file's. */
#ifndef SCALERL_LENGTH_PENALTY_H
#define SCALERL_LENGTH_PENALTY_H

/* The penalty above, in [-1, 0]. l_cache <= 0 degenerates to a step: -1 for L > l_max, else 0. */
double overlong_penalty(long len, long l_max, long l_cache);
/* reward + overlong_penalty(len) when reward > 0, else reward unchanged. */
float length_penalized_reward(float reward, long len, long l_max, long l_cache);

#endif
