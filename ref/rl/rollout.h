/* The rollout engine: batched sampling of completions with a KV cache, length control,
 * verification, and per-token records of what the generator did.
 *
 * A Generator holds groups (one prompt, G completions). Completions wait in a FIFO until a decode
 * slot is free (continuous batching: a finished completion's slot is refilled at once). Every
 * gen_step feeds one token to every active slot with the weights given to that step, so weights
 * may change between two tokens while the KV cache is kept (PipelineRL's in-flight update); every
 * sampled token records its log-probability and the policy version that produced it.
 *
 * The rollout record (ref/rl/README.md): prompt id, group id, tokens, per-token generator log-prob,
 * per-token policy version, interrupted flag, reward, length. The trainer never regenerates.
 *
 * Randomness: the sample at position p of completion c uses rng_uniform(seed, stream, key, p) with
 * key = group_key * G + sample index, so it does not depend on slots, batch composition or
 * threads. The thinking budget of a completion is drawn from the same key. */
#ifndef SCALERL_ROLLOUT_H
#define SCALERL_ROLLOUT_H

#include <stdint.h>

#include "models/decode.h"
#include "models/model.h"
#include "ref/common/binio.h"
#include "ref/rl/recipe.h"
#include "tasks/tasks.h"

typedef struct {
    ModelConfig mcfg;
    int G;          /* completions per group */
    int max_groups; /* groups held at once */
    int slots;      /* completions decoded at once */
    float temperature;
    Precision prec;
    uint64_t seed, stream;
    /* length control (ScaleRL: forced interruption) */
    LengthMode length;
    int think_lo, think_hi; /* interrupt: budget drawn per completion in [lo, hi] */
    int answer_budget;      /* interrupt: tokens after the marker; also part of max_new */
    int penalty_cache;      /* penalty: DAPO's L_cache, with L_max = max_new */
} GenConfig;

typedef struct {
    int n_prompt;  /* prompt tokens (BOS included) at positions 0..n_prompt-1 */
    int n;         /* tokens so far, prompt included */
    int *tok;      /* ctx entries */
    float *logp;   /* at completion positions: generator log-prob of tok[p] (0 if forced); 0 at prompt positions */
    int *version;  /* at completion positions: policy version that produced tok[p]; 0 at prompt positions */
    unsigned char *forced; /* 1 where length control inserted the token */
    int think_budget;
    int think_end;   /* position of the end-of-thinking marker, -1 before it */
    int interrupted; /* the marker was forced */
    int truncated;   /* stopped by a budget or the context, without EOS */
    int done;
    int correct;  /* verifier's 0/1 */
    float reward; /* correct, adjusted by the length penalty under length=penalty */
} Completion;

typedef struct {
    Problem prob;
    uint64_t key;   /* stream id of the group: RNG key, prompt-filter key is separate */
    uint64_t prompt_key;
    long tag;       /* the caller's: e.g. the training batch it belongs to */
    int n_done;     /* completions finished */
    int in_use;
    Completion *c;  /* G completions */
} Group;

/* Sampling streams: the trainer's rollouts, and every eval (train's eval rows, `scalerl eval`,
 * `scalerl sample`, pretrain's closing eval), so that `scalerl eval` on a run's checkpoint
 * reproduces the run's eval rows. */
enum { GEN_STREAM_TRAIN = 0x7a11, GEN_STREAM_EVAL = 0xe7a1 };

/* The one place a GenConfig is built from run keys (train, eval, sample, pretrain). G,
 * max_groups and slots are left 0 for the caller. */
GenConfig gen_config_from_keys(const ModelConfig *mc, double temperature, int gen_precision, int head, long seed,
                               uint64_t stream, int length, const long think_budget[2], long answer_budget,
                               long penalty_cache);

typedef struct Generator Generator;

/* A note on stderr when the answer budget is shorter than the task's longest answer. */
void gen_note_answer_budget(const GenConfig *c, int max_answer_tokens, const char *cmd);
Generator *gen_new(const GenConfig *cfg, char *err);
void gen_free(Generator *g);
/* Queues a group of G completions of p. Returns the group's index, or -1 with err when the
 * generator is full or the prompt does not fit the context. */
int gen_add_group(Generator *g, const Problem *p, uint64_t key, uint64_t prompt_key, long tag, char *err);
Group *gen_group(Generator *g, int gi);
/* Frees a finished group's storage for reuse. */
void gen_release(Generator *g, int gi);
/* Refills free slots from the queue, then feeds one token to every active slot using params
 * (a model_layout buffer) as policy `version`. Returns the number of tokens fed (0: nothing to
 * do). Adds the forward FLOPs of those tokens to *flops. */
int gen_step(Generator *g, const float *params, long version, double *flops);
/* Moves up to max indices of groups whose G completions all finished (since the last call, in
 * order of completion) into groups; returns how many. */
int gen_take_finished(Generator *g, int *groups, int max);
/* Completions queued or in flight. */
int gen_busy(const Generator *g);
int gen_config_check(const GenConfig *cfg, int max_prompt_tokens, char *err);

/* Maximum completion tokens under cfg's length control (the budgets, EOS included). */
int gen_max_new(const GenConfig *cfg);

/* Resume state. A generator can be saved only when idle: nothing queued or decoding and every
 * finished group taken (gen_idle), so its state is the records of the groups it holds and no KV
 * cache. gen_load restores them into a fresh generator of the same config: the same group
 * indices, so that later groups land where they would have. Returns 0, or 1 with err. */
int gen_idle(const Generator *g);
void gen_save(const Generator *g, BinWriter *w);
int gen_load(Generator *g, BinReader *r, char *err);

#endif
