#include "ref/rl/recipe.h"

#include <stddef.h>
#include <string.h>

#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/loss.h"

#define F(field) offsetof(TrainConfig, field)

/* Defaults are the `scalerl` recipe at toy scale; presets override some of them. */
static const OptSpec train_opts[] = {
    {"recipe", OPT_STR, F(recipe), "scalerl", 0, 0, NULL, "preset to start from (recipe=list shows them)"},
    {"label", OPT_STR, F(label), "", 0, 0, NULL,
     "name compare and plot group this run under, for a recipe changed by keys (empty: the recipe)"},
    {"base", OPT_STR, F(base), NULL, 0, 0, NULL, "base model checkpoint (scalerl pretrain)"},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "run directory (metrics.jsonl, config.txt, checkpoints)"},
    {"task", OPT_STR, F(task), DEFAULT_TASK, 0, 0, NULL, "task spec (see README, Tasks)"},
    {"loss", OPT_CHOICE, F(loss), "cispo", 0, 0, LOSS_KIND_CHOICES, "policy-gradient loss"},
    {"eps_max", OPT_FLOAT, F(eps_max), "4", 1e-6, 1e6, NULL, "cispo: truncation of the ratio from above"},
    {"eps_low", OPT_FLOAT, F(eps_low), "0.2", 0, 0.999, NULL, "dapo/grpo: clip(r, 1-eps_low, .)"},
    {"eps_high", OPT_FLOAT, F(eps_high), "0.26", 0, 100, NULL, "dapo/grpo: clip(r, ., 1+eps_high)"},
    {"gspo_eps_low", OPT_FLOAT, F(gspo_eps_low), "3e-4", 0, 0.999, NULL, "gspo: sequence-ratio clip below"},
    {"gspo_eps_high", OPT_FLOAT, F(gspo_eps_high), "4e-4", 0, 100, NULL, "gspo: sequence-ratio clip above"},
    {"agg", OPT_CHOICE, F(agg), "prompt", 0, 0, AGG_MODE_CHOICES, "loss aggregation"},
    {"adv_norm", OPT_CHOICE, F(adv_norm), "batch", 0, 0, ADV_NORM_CHOICES, "advantage normalization"},
    {"zero_var_filter", OPT_INT, F(zero_var_filter), "1", 0, 1, NULL, "drop groups whose rewards are all equal"},
    {"prompt_filter", OPT_INT, F(prompt_filter), "1", 0, 1, NULL, "No-Positive-Resampling"},
    {"prompt_filter_at", OPT_FLOAT, F(prompt_filter_at), "0.9", 1e-6, 1, NULL, "retire a prompt at this pass rate"},
    {"length", OPT_CHOICE, F(length), "interrupt", 0, 0, LENGTH_CHOICES, "length control"},
    {"think_budget", OPT_RANGE, F(think_budget), DEFAULT_THINK_BUDGET, 1, 4096, NULL, "thinking tokens before interruption (drawn per completion)"},
    {"answer_budget", OPT_INT, F(answer_budget), DEFAULT_ANSWER_BUDGET, 1, 4096, NULL, "tokens after the end-of-thinking marker"},
    {"penalty_cache", OPT_INT, F(penalty_cache), "8", 0, 4096, NULL, "length=penalty: the L_cache of DAPO's overlong penalty"},
    {"gen_precision", OPT_CHOICE, F(gen_precision), "bf16", 0, 0, PREC_CHOICES, "generator matmul precision (bf16 emulated)"},
    {"head", OPT_CHOICE, F(head), "fp32", 0, 0, PREC_CHOICES, "LM head precision, generator and trainer"},
    {"offpolicy", OPT_CHOICE, F(offpolicy), "pipeline", 0, 0, OFFPOLICY_CHOICES, "asynchrony"},
    {"k", OPT_INT, F(k), "8", 0, 1024, NULL, "ppo: steps per generation round; pipeline: maximum staleness"},
    {"schedule", OPT_CHOICE, F(schedule), "deterministic", 0, 0, SCHEDULE_CHOICES, "pipeline: simulated or threaded"},
    {"overlap", OPT_INT, F(overlap), "8", 0, 1000000, NULL, "pipeline deterministic: decode steps per trainer step"},
    {"gen_slots", OPT_INT, F(gen_slots), "0", 0, 65536, NULL, "sequences decoded at once (0: one batch)"},
    {"prompts_per_step", OPT_INT, F(prompts_per_step), "48", 1, 65536, NULL, "prompts (groups) per optimizer step"},
    {"gens_per_prompt", OPT_INT, F(gens_per_prompt), "16", 1, 1024, NULL, "completions per prompt (G)"},
    {"lr", OPT_FLOAT, F(lr), "5e-5", 0, 1, NULL, "peak learning rate"},
    {"warmup", OPT_INT, F(warmup), "20", 0, 1000000, NULL, "linear warmup steps, then lr_shape"},
    {"lr_shape", OPT_CHOICE, F(lr_shape), "cosine", 0, 0, "constant|cosine",
     "after warmup: cosine down to min_lr_frac x lr at the last step, or constant (the paper's)"},
    {"min_lr_frac", OPT_FLOAT, F(min_lr_frac), "0.1", 0, 1, NULL, "lr_shape=cosine: final lr as a fraction of lr"},
    {"weight_decay", OPT_FLOAT, F(weight_decay), "0.01", 0, 10, NULL, "AdamW decoupled weight decay"},
    {"grad_clip", OPT_FLOAT, F(grad_clip), "1", 0, 1e9, NULL, "global gradient norm clip (0: off)"},
    {"adam_beta1", OPT_FLOAT, F(adam_beta1), "0.9", 0, 0.999999, NULL, "AdamW beta1"},
    {"adam_beta2", OPT_FLOAT, F(adam_beta2), "0.999", 0, 0.999999999, NULL, "AdamW beta2"},
    {"adam_eps", OPT_FLOAT, F(adam_eps), "1e-8", 0, 1, NULL, "AdamW epsilon"},
    {"temperature", OPT_FLOAT, F(temperature), "1", 1e-3, 10, NULL, "sampling temperature"},
    {"seed", OPT_INT, F(seed), "1", 0, 1e15, NULL, "run seed: sampling, prompt order"},
    {"data_seed", OPT_INT, F(data_seed), "1234", 0, 1e15, NULL, "task seed: validation set and training pool"},
    {"steps", OPT_INT, F(steps), "7000", 1, 1e9, NULL, "optimizer steps"},
    {"threads", OPT_INT, F(threads), "0", 0, 1024, NULL, "threads (0: all cores)"},
    {"train_pool", OPT_INT, F(train_pool), "600000", 1, 1e8, NULL, "training prompts: the first N draws of the task, served in epochs"},
    {"eval_every", OPT_INT, F(eval_every), "100", 1, 1e9, NULL, "linear: steps between evals; log: steps/eval_every points"},
    {"eval_n", OPT_INT, F(eval_n), "2000", 1, 1000000, NULL, "validation prompts"},
    {"eval_samples", OPT_INT, F(eval_samples), "4", 1, 1024, NULL, "completions per validation prompt"},
    {"eval_schedule", OPT_CHOICE, F(eval_schedule), "linear", 0, 0, EVAL_SCHEDULE_CHOICES, "eval steps evenly in steps or in log compute"},
    {"progress", OPT_INT, F(progress), "-1", -1, 1, NULL, "progress on stderr: 1 always, 0 never, -1 if a terminal"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

const OptSpec *train_options(void)
{
    return train_opts;
}

/* The presets: each a description and its overrides of the defaults above. The leave-one-out
 * presets are `scalerl` with one component reverted, named as in the paper. */
typedef struct {
    const char *name;
    const char *about;
    const char *keys;
} Preset;

static const Preset presets[] = {
    {"scalerl", "ScaleRL: CISPO, prompt average, batch adv-norm, zero-var filter, No-Positive-Resampling, "
                "interruption, FP32 head, PipelineRL-8",
     ""},
    {"grpo", "GRPO baseline: clip 0.2/0.2, sample average, group adv-norm, PPO-off-policy-8",
     "loss=grpo eps_low=0.2 eps_high=0.2 agg=sample adv_norm=group zero_var_filter=0 prompt_filter=0 "
     "length=none head=bf16 offpolicy=ppo k=8"},
    {"dapo", "DAPO baseline: clip 0.2/0.26, prompt average, zero-var filter, overlong penalty, PPO-off-policy-8",
     "loss=dapo eps_low=0.2 eps_high=0.26 agg=prompt adv_norm=group zero_var_filter=1 prompt_filter=0 "
     "length=penalty head=bf16 offpolicy=ppo k=8"},
    {"minimax", "MiniMax-M1: CISPO, FP32 head, prompt average, PPO-off-policy-8",
     "loss=cispo agg=prompt adv_norm=group zero_var_filter=1 prompt_filter=0 length=none head=fp32 "
     "offpolicy=ppo k=8"},
    {"magistral", "Magistral: DAPO loss with PipelineRL-8",
     "loss=dapo eps_low=0.2 eps_high=0.26 agg=token adv_norm=group zero_var_filter=1 prompt_filter=0 "
     "length=penalty head=bf16 offpolicy=pipeline k=8"},
    {"loo-dapo", "ScaleRL with the DAPO loss instead of CISPO", "loss=dapo"},
    {"loo-fp32", "ScaleRL with a bf16 LM head", "head=bf16"},
    {"loo-savg", "ScaleRL with sample averaging", "agg=sample"},
    {"loo-8op", "ScaleRL with PPO-off-policy-8 instead of PipelineRL-8", "offpolicy=ppo k=8"},
    {"loo-plan", "ScaleRL with group-level advantage normalization", "adv_norm=group"},
    {"loo-batch", "ScaleRL without zero-variance filtering", "zero_var_filter=0"},
    {"loo-uniform", "ScaleRL without No-Positive-Resampling", "prompt_filter=0"},
    {"loo-lp", "ScaleRL with the overlong length penalty instead of interruption", "length=penalty"},
    {NULL, NULL, NULL},
};

static const Preset *find_preset(const char *name)
{
    for (const Preset *p = presets; p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

int recipe_exists(const char *name)
{
    return find_preset(name) != NULL;
}

void recipe_list(FILE *f)
{
    fprintf(f, "%-12s %s\n", "recipe", "overrides of the defaults (scalerl)");
    for (const Preset *p = presets; p->name; p++) {
        fprintf(f, "%-12s %s\n", p->name, p->about);
        if (p->keys[0]) fprintf(f, "%-12s   %s\n", "", p->keys);
    }
}

/* Applies "k=v k=v ..." through the option table. */
static int apply_preset(const Preset *p, TrainConfig *c, char *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", p->keys);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        const OptSpec *s = opts_find(train_opts, tok);
        if (!s) {
            snprintf(err, ERR_LEN, "internal: preset '%s' sets unknown key '%s'", p->name, tok);
            return 1;
        }
        int rc = opts_set_value(s, c, eq + 1, err);
        if (rc) return rc;
    }
    return 0;
}

int recipe_resolve(TrainConfig *c, Args *a, char *err)
{
    memset(c, 0, sizeof *c);
    const char *name = args_get(a, "recipe");
    if (!name) name = "scalerl";
    const Preset *p = find_preset(name);
    if (!p) {
        char names[512] = "";
        for (const Preset *q = presets; q->name; q++) {
            strncat(names, q->name, sizeof names - strlen(names) - 2);
            if (q[1].name) strncat(names, "|", sizeof names - strlen(names) - 1);
        }
        snprintf(err, ERR_LEN, "unknown recipe '%s': expected one of %s (or list)", name, names);
        return 1;
    }
    /* Defaults for every key first (the required ones are checked with the user's), then the
     * preset, then the user's keys. */
    int rc = opts_set_defaults(train_opts, c, err);
    if (!rc) rc = apply_preset(p, c, err);
    if (!rc) rc = opts_apply_given(train_opts, c, a, err);
    if (rc) return rc;
    /* The clip range defaults to the loss's own (dapo 0.2/0.26, grpo 0.2/0.2) unless the preset
     * or the user set it. */
    LossParams lp;
    loss_params_default(&lp, (LossKind)c->loss);
    if (!strstr(p->keys, "eps_low=") && !args_has(a, "eps_low")) c->eps_low = lp.eps_low;
    if (!strstr(p->keys, "eps_high=") && !args_has(a, "eps_high")) c->eps_high = lp.eps_high;
    return recipe_check(c, err);
}

int recipe_check(const TrainConfig *c, char *err)
{
    if (c->offpolicy == OFFPOLICY_PPO && c->k < 1) {
        snprintf(err, ERR_LEN, "bad value k=%ld for offpolicy=ppo: expected k >= 1", c->k);
        return 1;
    }
    if (c->schedule == SCHEDULE_THREADS && c->offpolicy != OFFPOLICY_PIPELINE) {
        snprintf(err, ERR_LEN, "schedule=threads needs offpolicy=pipeline (got offpolicy=%s)",
                 c->offpolicy == OFFPOLICY_SYNC ? "sync" : "ppo");
        return 1;
    }
    if (c->gens_per_prompt < 2 && (c->adv_norm != ADV_NORM_NONE || c->zero_var_filter)) {
        snprintf(err, ERR_LEN, "gens_per_prompt=%ld: group advantages need at least 2 completions per prompt",
                 c->gens_per_prompt);
        return 1;
    }
    LossParams lp;
    recipe_loss_params(c, &lp);
    return loss_params_check(&lp, err);
}

void recipe_loss_params(const TrainConfig *c, LossParams *lp)
{
    loss_params_default(lp, (LossKind)c->loss);
    lp->cispo_eps_max = c->eps_max;
    lp->eps_low = c->eps_low;
    lp->eps_high = c->eps_high;
    lp->gspo_eps_low = c->gspo_eps_low;
    lp->gspo_eps_high = c->gspo_eps_high;
}

void recipe_write(const TrainConfig *c, FILE *f)
{
    fprintf(f, "# scalerl train: resolved config; replay with: scalerl train --config config.txt\n");
    opts_write(train_opts, c, f);
}
