#include "ref/rl/components.h"

#include <stdio.h>
#include <string.h>

#include "models/optim.h"
#include "ref/rl/advantage.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/loss.h"

const char *comp_match_name(CompMatch m)
{
    return m == COMP_SAME ? "same" : m == COMP_TOY_SCALE ? "toy scale" : "differs";
}

/* The name of choice idx of the option key ("cispo" for loss=0). */
static const char *choice(const char *key, int idx, char *buf, size_t n)
{
    const OptSpec *s = opts_find(train_options(), key);
    buf[0] = 0;
    if (s && s->choices) opts_choice_name(s->choices, idx, buf, n);
    return buf;
}

static void row(ComponentRow *r, const char *component, const char *keys, const char *paper, int same)
{
    r->component = component;
    r->keys = keys;
    r->paper = paper;
    r->match = same ? COMP_SAME : COMP_DIFFERS;
}

void components_describe(const TrainConfig *c, ComponentRow *rows)
{
    char a[32], b[32];
    ComponentRow *r = rows;

    row(r, "asynchrony", "offpolicy k", "PipelineRL-8", c->offpolicy == OFFPOLICY_PIPELINE && c->k == 8);
    if (c->offpolicy == OFFPOLICY_PIPELINE) snprintf(r->run, sizeof r->run, "PipelineRL-%ld", c->k);
    else if (c->offpolicy == OFFPOLICY_PPO) snprintf(r->run, sizeof r->run, "PPO-off-policy-%ld", c->k);
    else snprintf(r->run, sizeof r->run, "synchronous (on-policy)");
    r++;

    row(r, "loss", "loss eps_max eps_low eps_high", "CISPO (eps_max not given; 4, 5 and 8 alike)",
        c->loss == LOSS_CISPO);
    if (c->loss == LOSS_CISPO) snprintf(r->run, sizeof r->run, "CISPO, eps_max %g", c->eps_max);
    else if (c->loss == LOSS_GSPO)
        snprintf(r->run, sizeof r->run, "GSPO, clip %g/%g", c->gspo_eps_low, c->gspo_eps_high);
    else if (c->loss == LOSS_REINFORCE) snprintf(r->run, sizeof r->run, "REINFORCE");
    else snprintf(r->run, sizeof r->run, "%s, clip %g/%g", choice("loss", c->loss, a, sizeof a), c->eps_low, c->eps_high);
    r++;

    row(r, "loss aggregation", "agg", "prompt average", c->agg == AGG_PROMPT);
    snprintf(r->run, sizeof r->run, "%s average", choice("agg", c->agg, a, sizeof a));
    r++;

    row(r, "advantage normalization", "adv_norm", "batch", c->adv_norm == ADV_NORM_BATCH);
    snprintf(r->run, sizeof r->run, "%s", choice("adv_norm", c->adv_norm, a, sizeof a));
    r++;

    row(r, "zero-variance filtering", "zero_var_filter", "on", c->zero_var_filter == 1);
    snprintf(r->run, sizeof r->run, "%s", c->zero_var_filter ? "on" : "off");
    r++;

    row(r, "No-Positive-Resampling", "prompt_filter prompt_filter_at", "on, retire at pass rate 0.9",
        c->prompt_filter == 1 && c->prompt_filter_at == 0.9);
    if (c->prompt_filter) snprintf(r->run, sizeof r->run, "on, retire at pass rate %g", c->prompt_filter_at);
    else snprintf(r->run, sizeof r->run, "off");
    r++;

    row(r, "FP32 logits", "head gen_precision", "LM head in FP32, generator and trainer", c->head == PREC_FP32);
    snprintf(r->run, sizeof r->run, "LM head %s, generator matmuls %s", choice("head", c->head, a, sizeof a),
             choice("gen_precision", c->gen_precision, b, sizeof b));
    r++;

    row(r, "length control", "length think_budget answer_budget",
        "interruption after 10k-12k thinking tokens, 2k answer tokens", 0);
    r->match = c->length == LENGTH_INTERRUPT ? COMP_TOY_SCALE : COMP_DIFFERS;
    if (c->length == LENGTH_INTERRUPT)
        snprintf(r->run, sizeof r->run, "interruption after %ld-%ld thinking tokens, %ld answer tokens",
                 c->think_budget[0], c->think_budget[1], c->answer_budget);
    else if (c->length == LENGTH_PENALTY)
        snprintf(r->run, sizeof r->run, "overlong penalty, L_cache %ld", c->penalty_cache);
    else snprintf(r->run, sizeof r->run, "none");
    r++;

    row(r, "batch", "prompts_per_step gens_per_prompt", "48 prompts x 16 completions",
        c->prompts_per_step == 48 && c->gens_per_prompt == 16);
    snprintf(r->run, sizeof r->run, "%ld prompts x %ld completions", c->prompts_per_step, c->gens_per_prompt);
    r++;

    row(r, "optimizer", "lr warmup lr_shape weight_decay adam_eps",
        "AdamW, 100-step warmup, then a constant lr; weight decay 0.01, eps 1e-15; no KL term",
        c->lr_shape == LR_CONSTANT && c->warmup == 100 && c->weight_decay == 0.01 && c->adam_eps == 1e-15);
    if (c->lr_shape == LR_COSINE)
        snprintf(r->run, sizeof r->run, "AdamW, lr %g, %ld-step warmup, then cosine to %g x lr; weight decay %g, eps %g",
                 c->lr, c->warmup, c->min_lr_frac, c->weight_decay, c->adam_eps);
    else
        snprintf(r->run, sizeof r->run, "AdamW, lr %g, %ld-step warmup, then constant; weight decay %g, eps %g", c->lr,
                 c->warmup, c->weight_decay, c->adam_eps);
    r++;

    row(r, "validation", "eval_n eval_samples eval_every eval_task", "1000 prompts x 16 completions, every 100 steps", 0);
    r->match = COMP_TOY_SCALE;
    snprintf(r->run, sizeof r->run, "%ld prompts x %ld completions, every %ld steps%s%s%s", c->eval_n, c->eval_samples,
             c->eval_every, c->eval_schedule == EVAL_LOG ? " (log-spaced)" : "", c->eval_task[0] ? ", from " : "",
             c->eval_task);
}
