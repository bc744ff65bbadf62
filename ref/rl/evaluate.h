/* Validation: sample `samples` completions for each of n validation prompts with the current
 * weights and the training run's length control, verify them, and summarize. Not counted as RL
 * compute (ref/rl/README.md, "Compute"). */
#ifndef SCALERL_EVALUATE_H
#define SCALERL_EVALUATE_H

#include "ref/common/jsonl.h"
#include "ref/rl/rollout.h"

#define EVAL_MAX_PASS_K 12 /* pass@1, @2, @4, ... up to samples */

typedef struct {
    int n, samples;
    double pass_rate;           /* mean over prompts of the fraction of correct samples */
    double pass_rate_lo, pass_rate_hi; /* 95% interval, prompt-level (see evaluate.c) */
    int n_pass_k;
    int pass_k[EVAL_MAX_PASS_K];
    double pass_at_k[EVAL_MAX_PASS_K]; /* unbiased estimator (Chen et al. 2021) */
    double len_mean;            /* completion tokens, EOS and forced marker included */
    double len_sd_prompt;       /* pooled within-prompt sd of those lengths (0 for 1 sample):
                                   how much one prompt's completions differ, which is what the
                                   length components act on (ref/rl/README.md, "Length components") */
    double interrupt_frac;      /* completions whose end-of-thinking marker was forced */
    double truncate_frac;       /* completions stopped by a budget without EOS */
    double gen_flops;           /* forward FLOPs spent (not RL compute) */
    /* By family, when the task mixes several (family_mask has more than one bit; else 0): the
     * prompts of family f among the n (fam_n[f]), their pass rate, mean completion length and
     * interrupted share, so a mixed run shows which of its tasks moves (ref/rl/README.md). */
    unsigned family_mask;
    int fam_n[TASK_MAX_FAMILIES];
    double fam_pass_rate[TASK_MAX_FAMILIES], fam_len_mean[TASK_MAX_FAMILIES],
        fam_interrupt_frac[TASK_MAX_FAMILIES];
} EvalResult;

/* Writes one field per family of r->family_mask ("<prefix>_<family>", e.g. pass_rate_sum) for
 * each of the four by-family figures, in family order; nothing when the mask is 0. */
void eval_write_families(const EvalResult *r, JsonWriter *w);

/* The specs and split of a run's data (train and pretrain's `task`, `eval_task`, `data_seed`,
 * `eval_n`): training draws from task, the eval_n validation prompts from eval_task when it is not
 * empty (*val_spec then holds its spec; else NULL and split_val_spec is *spec). Returns 0, or 1/2
 * with err, a bad eval_task naming the key; whatever was made is left in the outputs either way,
 * for the caller to free (split_free, task_spec_free). */
int eval_split_open(const char *task, const char *eval_task, uint64_t data_seed, int eval_n, TaskSpec **spec,
                    TaskSpec **val_spec, TaskSplit **split, char *err);

/* Evaluates params on the first n validation prompts of split. gc gives the numerics and length
 * control; its G, max_groups and slots are set here (G = samples). progress: a line on stderr
 * saying what is evaluated, rewritten once a second with the prompts done, the pass rate so far
 * and an ETA, cleared at the end (a long evaluation is otherwise silent). Returns 0, or 1/2 with
 * err. */
int evaluate(const float *params, const GenConfig *gc, const TaskSplit *split, int n, int samples, int progress,
             EvalResult *out, char *err);

/* evaluate()'s generator kept from one evaluation to the next of the same configuration: a run
 * evaluates every eval_every steps, and a new generator's KV cache (58 MB at the default) is
 * faulted in and zeroed each time, a few percent of a default run's time on a 2-core virtual
 * machine (models/README.md, "Memory"). The results are evaluate()'s, bit for bit (evaluate.c says why).
 * evaluator_run takes evaluate()'s arguments; a configuration other than the last one's makes a
 * new generator. */
typedef struct Evaluator Evaluator;
Evaluator *evaluator_new(void); /* NULL when out of memory */
int evaluator_run(Evaluator *e, const float *params, const GenConfig *gc, const TaskSplit *split, int n,
                  int samples, int progress, EvalResult *out, char *err);
void evaluator_free(Evaluator *e);

/* What RL changed, prompt by prompt: samples completions of each of the first n validation
 * prompts with params, exactly as evaluate() does (the same sampling keys, so the same
 * completions as an eval of the same weights with the same gc and samples), and hands each
 * prompt's group to visit in prompt order. A nonzero return of visit stops and is returned. */
typedef int (*SampleVisit)(void *ctx, int i, const Group *g, char *err);
int sample_val_prompts(const float *params, const GenConfig *gc, const TaskSplit *split, int n, int samples,
                       SampleVisit visit, void *ctx, char *err);

#endif
