/* Loss aggregation: the weight of every token in the batch objective J = sum_t w_t * term_t.
 *
 * Completion i has n_i = off[i+1] - off[i] tokens, flattened at off[i]..off[i+1]-1 (off has N+1
 * entries, off[0] = 0 normally, nondecreasing); it belongs to group i / G; kept[i] comes from
 * advantages_compute. Only kept completions get weight; every other token gets w = 0.
 *     prompt: w_t = 1 / (P * T_g)   T_g = tokens of group g's kept completions, P = kept groups
 *             (average over all tokens of a prompt's completions, then over prompts: ScaleRL; also
 *             what DAPO eq. 12, MiniMax-M1 eq. 4 and Magistral 2.1 call token-level)
 *     sample: w_t = 1 / (S * n_i)   S = kept completions with n_i > 0
 *             (average over each completion's tokens, then over completions: GRPO)
 *     token:  w_t = 1 / T           T = tokens of all kept completions (ScaleRL's "token average"
 *             over the whole batch, section 3.2)
 * Kept groups or completions with no tokens are left out of P and S, so that the weights of a
 * batch with anything kept sum to 1. Denominators count kept items only: a dropped
 * zero-variance group changes nobody's weight. */
#ifndef SCALERL_AGGREGATE_H
#define SCALERL_AGGREGATE_H

/* Index order of AggMode, for OptSpec OPT_CHOICE tables: "prompt|sample|token". */
typedef enum { AGG_PROMPT = 0, AGG_SAMPLE = 1, AGG_TOKEN = 2 } AggMode;
#define AGG_MODE_CHOICES "prompt|sample|token"

/* Fills w[0 .. off[N]-1] for N = n_groups * G completions. Returns the sum of the weights
 * (accumulated in double): 1 up to rounding when any kept completion has a token, else 0. */
double aggregation_weights(float *w, const int *off, const unsigned char *kept, int n_groups, int G,
                           AggMode mode);

#endif
