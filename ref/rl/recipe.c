#include "ref/rl/recipe.h"

#include <stddef.h>
#include <string.h>

#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/loss.h"
#include "ref/common/util.h"

#define F(field) offsetof(TrainConfig, field)

/* Defaults are the `scalerl` recipe at toy scale; presets override some of them. */
static const OptSpec train_opts[] = {
    {"recipe", OPT_STR, F(recipe), "scalerl", 0, 0, NULL, "preset to start from (recipe=list shows them)"},
    {"label", OPT_STR, F(label), "", 0, 0, NULL,
     "name compare and plot group this run under, for a recipe changed by keys (empty: the recipe)"},
    {"base", OPT_STR, F(base), NULL, 0, 0, NULL, "base model checkpoint (scalerl pretrain, or any run's final.ckpt: its weights; the run starts a new optimizer)"},
    {"out", OPT_STR, F(out), NULL, 0, 0, NULL, "run directory (metrics.jsonl, config.txt, checkpoints)"},
    {"task", OPT_STR, F(task), DEFAULT_TASK, 0, 0, NULL, "task spec (tasks/README.md)"},
    {"loss", OPT_CHOICE, F(loss), "cispo", 0, 0, LOSS_KIND_CHOICES, "policy-gradient loss"},
    {"eps_max", OPT_FLOAT, F(eps_max), "4", 1e-6, 1e6, NULL, "cispo: truncation of the ratio from above"},
    {"eps_low", OPT_FLOAT, F(eps_low), "0.2", 0, 0.999, NULL, "dapo/grpo: clip(r, 1-eps_low, .)"},
    {"eps_high", OPT_FLOAT, F(eps_high), "0.26", 0, 100, NULL, "dapo/grpo: clip(r, ., 1+eps_high)"},
    {"gspo_eps_low", OPT_FLOAT, F(gspo_eps_low), "3e-4", 0, 0.999, NULL, "gspo: sequence-ratio clip below"},
    {"gspo_eps_high", OPT_FLOAT, F(gspo_eps_high), "4e-4", 0, 100, NULL, "gspo: sequence-ratio clip above"},
    {"agg", OPT_CHOICE, F(agg), "prompt", 0, 0, AGG_MODE_CHOICES, "loss aggregation"},
    {"adv_norm", OPT_CHOICE, F(adv_norm), "batch", 0, 0, ADV_NORM_CHOICES, "advantage normalization"},
    {"zero_var_filter", OPT_INT, F(zero_var_filter), "1", 0, 1, NULL, "drop groups whose rewards are all equal"},
    {"dynamic_sampling", OPT_INT, F(dynamic_sampling), "0", 0, 1, NULL,
     "DAPO's dynamic sampling: replace all-correct and all-wrong groups until the batch is full"},
    {"dynamic_sampling_max", OPT_INT, F(dynamic_sampling_max), "10", 1, 1000, NULL,
     "dynamic sampling: at most this many x prompts_per_step groups drawn per batch"},
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
    {"sim_gen_gflops", OPT_FLOAT, F(sim_gen_gflops), "400", 1e-6, 1e12, NULL,
     "deterministic schedule: the generators' modelled throughput, GFLOP/s (sim_time)"},
    {"sim_train_gflops", OPT_FLOAT, F(sim_train_gflops), "100", 1e-6, 1e12, NULL,
     "deterministic schedule: the trainer's modelled throughput, GFLOP/s (sim_time)"},
    {"gen_slots", OPT_INT, F(gen_slots), "0", 0, 65536, NULL, "sequences decoded at once (0: one batch)"},
    {"prompts_per_step", OPT_INT, F(prompts_per_step), "48", 1, 65536, NULL, "prompts (groups) per optimizer step"},
    {"gens_per_prompt", OPT_INT, F(gens_per_prompt), "16", 1, 1024, NULL, "completions per prompt (G)"},
    {"lr", OPT_FLOAT, F(lr), "4e-5", 0, 1, NULL, "peak learning rate"},
    {"warmup", OPT_INT, F(warmup), "100", 0, 1000000, NULL, "linear warmup steps, then lr_shape"},
    {"lr_shape", OPT_CHOICE, F(lr_shape), "cosine", 0, 0, "constant|cosine",
     "after warmup: cosine down to min_lr_frac x lr at the last step, or constant (the paper's; the toy "
     "declines under it: README, Deviations from the paper)"},
    {"min_lr_frac", OPT_FLOAT, F(min_lr_frac), "0.1", 0, 1, NULL, "lr_shape=cosine: final lr as a fraction of lr"},
    {"weight_decay", OPT_FLOAT, F(weight_decay), "0.01", 0, 10, NULL, "AdamW decoupled weight decay"},
    {"grad_clip", OPT_FLOAT, F(grad_clip), "1", 0, 1e9, NULL, "global gradient norm clip (0: off)"},
    {"adam_beta1", OPT_FLOAT, F(adam_beta1), "0.9", 0, 0.999999, NULL, "AdamW beta1"},
    {"adam_beta2", OPT_FLOAT, F(adam_beta2), "0.999", 0, 0.999999999, NULL, "AdamW beta2"},
    {"adam_eps", OPT_FLOAT, F(adam_eps), "1e-15", 0, 1, NULL, "AdamW epsilon"},
    {"temperature", OPT_FLOAT, F(temperature), "1", 1e-3, 10, NULL, "sampling temperature"},
    {"seed", OPT_INT, F(seed), "1", 0, 1e15, NULL, "run seed: sampling, prompt order"},
    {"data_seed", OPT_INT, F(data_seed), "1234", 0, 1e15, NULL, "task seed: validation set and training pool"},
    {"steps", OPT_INT, F(steps), "8000", 1, 1e9, NULL, "optimizer steps"},
    {"max_bad_steps", OPT_INT, F(max_bad_steps), "5", 1, 1e9, NULL,
     "stop after this many steps in a row with a non-finite loss or gradient norm (each skipped)"},
    {"ckpt_every", OPT_INT, F(ckpt_every), "500", 0, 1e9, NULL,
     "steps between resume checkpoints in DIR/ckpt (0: none); they do not change results"},
    {"keep", OPT_INT, F(keep), "2", 1, 1000, NULL, "resume checkpoints kept (the newest)"},
    {"threads", OPT_INT, F(threads), "0", 0, 1024, NULL, "threads (0: all cores)"},
    {"train_pool", OPT_INT, F(train_pool), "200000", 1, 1e8, NULL,
     "training prompts: the first N distinct prompts of the task, served in epochs"},
    {"eval_every", OPT_INT, F(eval_every), "100", 1, 1e9, NULL, "linear: steps between evals; log: steps/eval_every points"},
    {"eval_n", OPT_INT, F(eval_n), "2000", 1, 1000000, NULL, "validation prompts"},
    {"eval_task", OPT_STR, F(eval_task), "", 0, 0, NULL,
     "task spec the validation prompts are drawn from, held out of training (empty: the training task)"},
    {"eval_samples", OPT_INT, F(eval_samples), "4", 1, 1024, NULL, "completions per validation prompt"},
    {"eval_schedule", OPT_CHOICE, F(eval_schedule), "linear", 0, 0, EVAL_SCHEDULE_CHOICES, "eval steps evenly in steps or in log compute"},
    {"progress", OPT_INT, F(progress), "-1", -1, 1, NULL, "progress on stderr: 1 always, 0 never, -1 if a terminal"},
    {NULL, 0, 0, NULL, 0, 0, NULL, NULL},
};

const OptSpec *train_options(void)
{
    return train_opts;
}

/* The presets: each a description, where its settings come from, its overrides of the defaults
 * above, and what its source does that is not modelled here. The leave-one-out presets are
 * `scalerl` with one component reverted, named as in the paper (Khatri et al. 2025, section 4).
 * Section numbers: ScaleRL arXiv 2510.13786v1; DeepSeekMath 2402.03300; DAPO 2503.14476;
 * MiniMax-M1 2506.13585; Magistral 2506.10910. */
typedef struct {
    const char *name;
    const char *about;
    const char *source;
    const char *keys;
    const char *not_modelled;
} Preset;

static const Preset presets[] = {
    {"scalerl", "ScaleRL: CISPO, prompt average, batch adv-norm, zero-var filter, No-Positive-Resampling, "
                "interruption, FP32 head, PipelineRL-8, AdamW eps 1e-15, 100 warmup steps (lr: cosine here, constant in the paper)",
     "ScaleRL sections 3-4, A.3 (optimizer; 64 generator and 16 trainer GPUs: sim_gen_gflops = 4 x "
     "sim_train_gflops)",
     "", "the scales: learning rate (5e-7 at 8B, 4e-5 here) and its cosine shape, lengths, eval size, data pool (README, Deviations from the paper)"},
    {"grpo", "GRPO as ScaleRL ran it (its 'DeepSeek (GRPO)' baseline): clip 0.2/0.2, sample average, "
             "group adv-norm, no filters, no length control, bf16 head, PPO-off-policy-8",
     "ScaleRL A.16 (eps 0.2, sample average, PPO-off-policy-8); group mean/std advantages: DeepSeekMath 4.1.2",
     "loss=grpo eps_low=0.2 eps_high=0.2 agg=sample adv_norm=group zero_var_filter=0 prompt_filter=0 "
     "dynamic_sampling=0 length=none head=bf16 offpolicy=ppo k=8",
     "DeepSeekMath's KL penalty to a reference policy (coefficient 0.04, section 4.2): no KL term is implemented "
     "(ScaleRL uses none)"},
    {"dapo", "DAPO: clip-higher 0.2/0.28, per-prompt token average, group adv-norm, dynamic sampling, "
             "overlong penalty, no KL, bf16 head, PPO-off-policy-8",
     "DAPO 3.1 (clip-higher, eps 0.2/0.28 in 4.1), 3.2 (dynamic sampling), 3.3 eq. 12 (the token sum of a "
     "prompt's group over its tokens: ScaleRL calls it prompt average, 3.2), 3.4 (soft overlong punishment); "
     "PPO-off-policy-8 as ScaleRL ran DAPO (A.16)",
     "loss=dapo eps_low=0.2 eps_high=0.28 agg=prompt adv_norm=group zero_var_filter=1 dynamic_sampling=1 "
     "prompt_filter=0 length=penalty head=bf16 offpolicy=ppo k=8",
     "DAPO's overlong filtering (masking truncated samples, 3.4); its own 16 minibatch updates per rollout batch "
     "(4.1) are PPO-off-policy-16 in ScaleRL's terms: k=16 restores it. ScaleRL's reproduction ('Qwen2.5 (DAPO)', "
     "A.16) used eps_high 0.26 and a larger batch with zero-variance groups dropped instead of dynamic sampling"},
    {"minimax", "MiniMax-M1: CISPO, FP32 head, per-prompt token average, group adv-norm, dynamic sampling, "
                "overlong penalty, no KL, PPO-off-policy-16",
     "MiniMax-M1 3.1 (CISPO eq. 4-5, group advantages, dynamic sampling and length penalty taken from DAPO, no "
     "KL, 16 off-policy update rounds per generation batch), 3.2 (FP32 LM head; AdamW eps 1e-15)",
     "loss=cispo agg=prompt adv_norm=group zero_var_filter=1 dynamic_sampling=1 prompt_filter=0 length=penalty "
     "head=fp32 offpolicy=ppo k=16",
     "CISPO's eps_max is not given by the source (4 here, ScaleRL A.17.2 found 4, 5, 8 alike); AdamW betas "
     "(0.9, 0.95); early stop of repetitive generations"},
    {"magistral", "Magistral: DAPO-style clip-higher 0.2/0.28, per-prompt token average, batch adv-norm, "
                  "zero-variance groups dropped, overlong penalty, no KL, bf16 head, PipelineRL-2",
     "Magistral 2.1 (GRPO without KL, clip-higher eps_high 0.26-0.28, loss normalized by the group's tokens, "
     "advantages centered per group then normalized by the minibatch std, zero-advantage groups dropped), 2.2.3 "
     "(length penalty), 3 and 6.3 (asynchronous generators with in-flight weight updates, at most about 2 "
     "batches in flight); ScaleRL 3.1 attributes PipelineRL to it",
     "loss=dapo eps_low=0.2 eps_high=0.28 agg=prompt adv_norm=batch zero_var_filter=1 dynamic_sampling=0 "
     "prompt_filter=0 length=penalty head=bf16 offpolicy=pipeline k=2",
     "Magistral's length penalty peaks at 0.1 (eq. 1), DAPO's form here at 1; its eps_low is not given (0.2 "
     "here); format and language rewards"},
    {"loo-dapo", "ScaleRL with the DAPO loss instead of CISPO", "ScaleRL section 4 (leave-one-out)", "loss=dapo",
     ""},
    {"loo-fp32", "ScaleRL with a bf16 LM head", "ScaleRL section 4", "head=bf16", ""},
    {"loo-savg", "ScaleRL with sample averaging", "ScaleRL section 4", "agg=sample", ""},
    {"loo-8op", "ScaleRL with PPO-off-policy-8 instead of PipelineRL-8", "ScaleRL section 4", "offpolicy=ppo k=8",
     ""},
    {"loo-plan", "ScaleRL with group-level advantage normalization", "ScaleRL section 4", "adv_norm=group", ""},
    {"loo-batch", "ScaleRL without zero-variance filtering", "ScaleRL section 4", "zero_var_filter=0", ""},
    {"loo-uniform", "ScaleRL without No-Positive-Resampling", "ScaleRL section 4", "prompt_filter=0", ""},
    {"loo-lp", "ScaleRL with the overlong length penalty instead of interruption", "ScaleRL section 4",
     "length=penalty", ""},
    {NULL, NULL, NULL, NULL, NULL},
};

static const Preset *find_preset(const char *name)
{
    for (const Preset *p = presets; p->name; p++)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

/* Whether the preset sets `key` (a whole key: gspo_eps_low= is not eps_low=). */
static int preset_sets(const Preset *p, const char *key)
{
    const size_t n = strlen(key);
    for (const char *at = p->keys; (at = strstr(at, key)) != NULL; at += n)
        if ((at == p->keys || at[-1] == ' ') && at[n] == '=') return 1;
    return 0;
}

int recipe_exists(const char *name)
{
    return find_preset(name) != NULL;
}

void recipe_list(FILE *f)
{
    fprintf(f, "%-12s %s\n", "recipe", "what it is; source; overrides of the defaults (scalerl); not modelled");
    for (const Preset *p = presets; p->name; p++) {
        fprintf(f, "%-12s %s\n", p->name, p->about);
        fprintf(f, "%-12s   source: %s\n", "", p->source);
        if (p->keys[0]) fprintf(f, "%-12s   keys: %s\n", "", p->keys);
        if (p->not_modelled[0]) fprintf(f, "%-12s   not modelled: %s\n", "", p->not_modelled);
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
        char shown[8 * 80 + 8];
        text_for_message(name, 80, shown, sizeof shown);
        snprintf(err, ERR_LEN, "unknown recipe '%s': expected one of %s (or list)", shown, names);
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
    if (!preset_sets(p, "eps_low") && !args_has(a, "eps_low")) c->eps_low = lp.eps_low;
    if (!preset_sets(p, "eps_high") && !args_has(a, "eps_high")) c->eps_high = lp.eps_high;
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
    /* gen_slots=0 decodes a step's completions together, and the decoder holds at most 65536. */
    if (c->prompts_per_step * c->gens_per_prompt > TRAIN_MAX_COMPLETIONS) {
        snprintf(err, ERR_LEN, "prompts_per_step=%ld x gens_per_prompt=%ld = %ld completions per step: expected at most "
                 "%d (lower either key)", c->prompts_per_step, c->gens_per_prompt,
                 c->prompts_per_step * c->gens_per_prompt, TRAIN_MAX_COMPLETIONS);
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
