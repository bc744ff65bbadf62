/* The RL run's configuration: every ScaleRL component is a key, and a recipe is a named set of
 * keys. Resolution order, later wins: built-in defaults, the recipe preset, --config FILE, the
 * command line. The resolved config is written as config.txt, which `--config config.txt`
 * replays exactly. */
#ifndef SCALERL_RECIPE_H
#define SCALERL_RECIPE_H

#include <stdio.h>

#include "ref/common/args.h"

/* The default task of pretrain, train, eval and sample: one place, so that a base model made with
 * defaults is made for the RL run made with defaults. Sums of 2-4 two-digit terms: their plateau
 * is inside an 8000-step run and stays flat under a cosine learning rate, where 2-3-digit addition
 * approaches its ceiling too abruptly for a half-budget forecast (bench/calibration.md). */
#define DEFAULT_TASK "sum:terms=2-4:digits=2"
/* Length control: the default task's scratchpads are 5 tokens, so a thinking budget of 10-14
 * interrupts none of the base model's completions (ScaleRL kept truncation under 5%; on 3-digit
 * addition, 8-12 interrupted 16%, most where the model was about to write the marker itself). */
#define DEFAULT_THINK_BUDGET "10-14"
#define DEFAULT_ANSWER_BUDGET "6"

/* prompts_per_step x gens_per_prompt at most: the decoder's slot limit (models/decode.c). */
#define TRAIN_MAX_COMPLETIONS 65536

typedef enum { OFFPOLICY_SYNC = 0, OFFPOLICY_PPO = 1, OFFPOLICY_PIPELINE = 2 } OffPolicy;
#define OFFPOLICY_CHOICES "sync|ppo|pipeline"
typedef enum { SCHEDULE_DETERMINISTIC = 0, SCHEDULE_THREADS = 1 } Schedule;
#define SCHEDULE_CHOICES "deterministic|threads"
typedef enum { LENGTH_INTERRUPT = 0, LENGTH_PENALTY = 1, LENGTH_NONE = 2 } LengthMode;
#define LENGTH_CHOICES "interrupt|penalty|none"
typedef enum { PREC_FP32 = 0, PREC_BF16 = 1 } PrecChoice;
#define PREC_CHOICES "fp32|bf16"
typedef enum { EVAL_LINEAR = 0, EVAL_LOG = 1 } EvalSchedule;
#define EVAL_SCHEDULE_CHOICES "linear|log"

typedef struct {
    char recipe[OPT_STR_LEN];
    char label[OPT_STR_LEN]; /* what compare and plot group the run under; empty: the recipe */
    char base[OPT_STR_LEN];
    char out[OPT_STR_LEN];
    char task[OPT_STR_LEN];
    char eval_task[OPT_STR_LEN]; /* validation spec; empty: task */
    /* loss */
    int loss; /* LossKind */
    double eps_max, eps_low, eps_high, gspo_eps_low, gspo_eps_high;
    int agg;      /* AggMode */
    int adv_norm; /* AdvNorm */
    long zero_var_filter, prompt_filter;
    long dynamic_sampling, dynamic_sampling_max;
    double prompt_filter_at;
    /* length control */
    int length;           /* LengthMode */
    long think_budget[2]; /* drawn uniformly per completion in [lo, hi] */
    long answer_budget;
    long penalty_cache;
    /* numerics */
    int gen_precision, head; /* PrecChoice */
    /* asynchrony */
    int offpolicy; /* OffPolicy */
    long k;
    int schedule;      /* Schedule */
    double sim_gen_gflops, sim_train_gflops; /* deterministic schedule: modelled throughputs */
    long gen_slots;    /* sequences decoded at once (0: prompts_per_step * gens_per_prompt) */
    /* batch and optimizer */
    long prompts_per_step, gens_per_prompt;
    double lr;
    long warmup;
    int lr_shape;       /* LrShape (models/optim.h) */
    double min_lr_frac; /* cosine: the learning rate at the last step, as a fraction of lr */
    double weight_decay, grad_clip, adam_beta1, adam_beta2, adam_eps;
    double temperature;
    /* run */
    long seed, data_seed, steps, threads;
    long max_bad_steps; /* consecutive steps skipped for a non-finite loss or gradient norm that stop the run */
    long ckpt_every, keep; /* resume checkpoints (ref/rl/resume.h) */
    long train_pool;
    /* evaluation */
    long eval_every, eval_n, eval_samples;
    int eval_schedule; /* EvalSchedule */
    long progress;     /* progress line on stderr: 1 always, 0 never, -1 when stderr is a terminal */
} TrainConfig;

/* The option table (keys, types, defaults, ranges, help). */
const OptSpec *train_options(void);

/* Resolves a TrainConfig from args (which may name recipe=NAME): defaults, then the preset, then
 * the user's keys. Returns 0, or 1 with err (unknown recipe, bad value, inconsistent keys). */
int recipe_resolve(TrainConfig *c, Args *a, char *err);
/* Checks cross-key constraints (e.g. eps ordering, budgets against the model context). */
int recipe_check(const TrainConfig *c, char *err);
/* The loss parameters c selects (the loss's own defaults where c does not set them). */
struct LossParams;
void recipe_loss_params(const TrainConfig *c, struct LossParams *lp);
/* Writes config.txt content: every key, resolved. */
void recipe_write(const TrainConfig *c, FILE *f);
/* Prints the presets (recipe=list): what each is, its source (paper and section), its keys, and
 * what its source does that is not modelled. */
void recipe_list(FILE *f);
/* Whether `name` is a preset. */
int recipe_exists(const char *name);

#endif
