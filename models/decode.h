/* Batched incremental decoding with a KV cache, and sampling.
 *
 * A DecodeState holds a KV cache of `slots` sequences, each with its own position, so a batch can
 * be ragged: sequences with different prompt lengths advance together one token per step, and a
 * finished sequence simply stops being passed in. Weights are passed to every step (a plain
 * parameter buffer in the model_layout order), so they may change between two tokens while the
 * cache is kept: that is how a pipelined generator picks up new weights mid-sequence. */
#ifndef SCALERL_DECODE_H
#define SCALERL_DECODE_H

#include <stdint.h>

#include "models/model.h"

typedef struct DecodeState DecodeState;

/* A cache for `slots` sequences of up to cfg->ctx positions. NULL with err on failure. */
DecodeState *decode_new(const ModelConfig *cfg, int slots, char *err);
void decode_free(DecodeState *s);
/* Empties one slot (its next token goes to position 0). */
void decode_reset(DecodeState *s, int slot);
/* The position the slot's next token will take (= tokens fed so far). */
int decode_pos(const DecodeState *s, int slot);
/* Makes slot dst continue the sequence of slot src: copies src's cached positions into dst and
 * its position. Sequences with a common prefix (completions of one prompt) then need the prefix
 * fed once. dst != src. */
void decode_fork(DecodeState *s, int dst, int src);

/* One step for n sequences: feeds tokens[i] to slot slots[i] at that slot's current position,
 * appends its keys and values to the cache, advances the position, and writes the next-token
 * logits of sequence i to logits[i*vocab .. i*vocab+vocab-1], in FP32 (bf16-emulated per prec).
 * Slots must be distinct and not full. Matches model_forward's logits to float rounding. */
void decode_step(DecodeState *s, const float *params, const int *slots, const int *tokens, int n,
                 Precision prec, float *logits);

/* Samples a token from softmax(logits / temperature) by inverting the CDF at u in [0,1);
 * temperature 0 means argmax. *logp gets the log-probability of the chosen token under the
 * distribution it was drawn from (0 for argmax). */
int sample_token(const float *logits, int vocab, float temperature, double u, float *logp);

/* sample_token in two halves, for several draws from one row of logits (siblings that share a
 * decoding state draw their own tokens from their lead's row): softmax_prepare does what depends
 * on the row alone (its argmax, the weights, their sum and its log), softmax_draw what depends on
 * u. sample_token is the two together, so a draw gives its token and logp bit for bit. The row
 * must stay unchanged between the two. */
enum { SOFTMAX_KEEP = 256 }; /* weights kept for the walk; beyond them recomputed (the same values) */
typedef struct {
    const float *logits;
    int vocab, best;
    float temperature;
    double zmax, total, log_total;
    double w[SOFTMAX_KEEP];
} SoftmaxRow;
void softmax_prepare(SoftmaxRow *r, const float *logits, int vocab, float temperature);
int softmax_draw(const SoftmaxRow *r, double u, float *logp);

/* Plain batched generation: the reference use of decode_step and sample_token (the RL rollout
 * in ref/ has its own loop, with length control and weight versions).
 * Sequence i starts from prompt tokens prompts[i][0..prompt_len[i]-1] and samples until it emits
 * stop_token (kept in the output) or reaches max_new tokens or the context end. Its draw at
 * completion position j uses rng_uniform(seed, stream, seq_ids[i], j), so it does not depend on
 * the batch it runs in. out_tokens and out_logp are n*max_new, row i for sequence i; out_len[i]
 * gets the number of sampled tokens. Returns 0, or 1 with err on bad input. */
typedef struct {
    int n;
    const int *const *prompts;
    const int *prompt_len;
    const uint64_t *seq_ids;
    int max_new;
    int stop_token; /* -1: none */
    float temperature;
    uint64_t seed, stream;
    Precision prec;
    int *out_tokens;
    float *out_logp;
    int *out_len;
} GenerateRequest;

int model_generate(const Model *m, GenerateRequest *req, char *err);

#endif
