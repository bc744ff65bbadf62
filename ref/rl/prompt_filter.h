/* No-Positive-Resampling (ScaleRL's adaptive prompt filter): a prompt whose historical pass rate
 * reaches the threshold is retired and never served again.
 *
 * Key: a 64-bit hash of the prompt text (prompt_key), not a pool index, because training prompts
 * are drawn from an unbounded seeded stream (tasks.h, split_train_draw) in which the same text can
 * come back under another index; a hash retires the text wherever it reappears. A 64-bit collision
 * between two distinct prompts is negligible at the pool sizes used here (< 1e-8 for 1e6 prompts).
 *
 * "Historical" pass rate (the paper does not define it): the pass rate of the prompt's most
 * recently recorded group, i.e. the G samples it got the last time it was served (its last
 * epoch), not an average over all its history: the policy that failed it epochs ago is gone. The
 * trainer records every group it consumes, in consumption order, before zero-variance filtering
 * (an all-solved group is precisely the one to retire). The prompt is retired when
 * n_pass / n_samples >= retire_at - PROMPT_FILTER_TOL; retirement is permanent.
 *
 * Storage: open addressing with linear probing, power-of-two capacity that doubles at half load;
 * a lookup never allocates, recording a new prompt may grow the table. Deterministic: the state
 * is a function of the sequence of record calls. */
#ifndef SCALERL_PROMPT_FILTER_H
#define SCALERL_PROMPT_FILTER_H

#include <stdint.h>
#include <stdio.h>

/* Absorbs the rounding of a decimal threshold, so that 9 of 10 retires at retire_at = 0.9
 * exactly; far below the gap between two pass rates of any group size <= 1e6. */
#define PROMPT_FILTER_TOL 1e-9

typedef struct PromptFilter PromptFilter;

/* FNV-1a over the bytes of text, finished with a SplitMix64 mix. */
uint64_t prompt_key(const char *text);

/* retire_at in (0, 1] (ScaleRL: 0.9). Returns NULL with err (ERR_LEN bytes) on a bad threshold
 * or out of memory. */
PromptFilter *prompt_filter_new(double retire_at, char *err);
void prompt_filter_free(PromptFilter *pf);

/* Records a group of n_samples (>= 1) of which n_pass (0..n_samples) passed, replacing the
 * prompt's previous record. Returns 0, 1 with err on bad counts, 2 with err when out of memory.
 * *retired_now (may be NULL) is set to 1 when this call retired the prompt. Recording a retired
 * prompt (a group already in flight when it retired) updates its pass rate but it stays retired. */
int prompt_filter_record(PromptFilter *pf, uint64_t key, int n_pass, int n_samples, int *retired_now,
                         char *err);
int prompt_filter_is_retired(const PromptFilter *pf, uint64_t key);
/* The last recorded pass rate, or -1 when the prompt was never recorded. */
double prompt_filter_pass_rate(const PromptFilter *pf, uint64_t key);
long prompt_filter_n_retired(const PromptFilter *pf);
long prompt_filter_n_tracked(const PromptFilter *pf);

/* State for checkpoints: one text line per tracked prompt, "key n_pass n_samples retired", in
 * increasing key order (so equal states write equal bytes), after a header line. write returns
 * 0 or 2; read replaces the state and returns 0, 1 on a malformed file, 2 on I/O errors. */
int prompt_filter_write(const PromptFilter *pf, FILE *f, char *err);
int prompt_filter_read(PromptFilter *pf, FILE *f, char *err);

#endif
