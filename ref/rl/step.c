/* The RL trainer's optimizer step (the header has the contract). */
#include "ref/rl/step.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "models/bigbuf.h"
#include "ref/rl/aggregate.h"
#include "ref/rl/rows.h"

/* Carves n bytes (rounded up to 64 for alignment) from *at; with base NULL only counts. */
static void *carve(char **at, size_t n)
{
    void *p = *at;
    *at += (n + 63) & ~(size_t)63;
    return p;
}

/* Points every scratch array into one buffer starting at b; returns the bytes it spans. */
static size_t layout(TrainStep *ts, char *b)
{
    const size_t N = (size_t)ts->max_groups * ts->G, ft = N * (size_t)ts->mcfg.ctx;
    char *at = b;
    ts->reward = carve(&at, N * sizeof(float));
    ts->adv = carve(&at, N * sizeof(float));
    ts->kept = carve(&at, N);
    ts->off = carve(&at, (N + 1) * sizeof(int));
    ts->row_comp = carve(&at, N * sizeof(int));
    ts->f_logp = carve(&at, ft * sizeof(float));
    ts->f_logp_gen = carve(&at, ft * sizeof(float));
    ts->f_w = carve(&at, ft * sizeof(float));
    ts->f_dlogp = carve(&at, ft * sizeof(float));
    ts->f_row = carve(&at, ft * sizeof(int));
    ts->f_pos = carve(&at, ft * sizeof(int));
    ts->rows_tok = carve(&at, ft * sizeof(int));
    ts->rows_tgt = carve(&at, ft * sizeof(int));
    ts->rows_logp = carve(&at, ft * sizeof(float));
    ts->rows_ent = carve(&at, ft * sizeof(float));
    ts->rows_dlogp = carve(&at, ft * sizeof(float));
    return (size_t)(at - b);
}

int step_init(TrainStep *ts, const TrainConfig *c, const ModelConfig *mc, int max_groups, char *err)
{
    memset(ts, 0, sizeof *ts);
    ts->c = c;
    ts->max_groups = max_groups;
    ts->G = (int)c->gens_per_prompt;
    ts->mcfg = *mc;
    recipe_loss_params(c, &ts->lp);
    ts->opt = (AdamWConfig){c->adam_beta1, c->adam_beta2, c->adam_eps, c->weight_decay};
    ts->prec = (Precision){0, c->head == PREC_BF16};
    const size_t bytes = layout(ts, NULL);
    ts->base = bigbuf_alloc(bytes);
    if (!ts->base) {
        snprintf(err, ERR_LEN, "out of memory for a batch of %d x %d completions", max_groups, ts->G);
        return 2;
    }
    layout(ts, ts->base);
    return 0;
}

void step_free(TrainStep *ts)
{
    free(ts->base);
    ts->base = NULL;
}

static const Completion *completion(const TrainStep *ts, int i)
{
    return &ts->groups[i / ts->G]->c[i % ts->G];
}

void step_prepare(TrainStep *ts, const Group *const *groups, int n_groups, long v, StepStats *s)
{
    const TrainConfig *c = ts->c;
    const int G = ts->G, N = n_groups * G;
    memset(s, 0, sizeof *s);
    ts->groups = groups;
    ts->n_groups = n_groups;
    ts->version = v;
    double len = 0, len2 = 0, intr = 0, trunc = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = completion(ts, i);
        ts->reward[i] = cp->reward;
        len += cp->n - cp->n_prompt;
        len2 += (double)(cp->n - cp->n_prompt) * (cp->n - cp->n_prompt);
        intr += cp->interrupted;
        trunc += cp->truncated;
    }
    s->len_mean = len / N;
    s->len_std = sqrt(fmax(0.0, len2 / N - s->len_mean * s->len_mean));
    s->interrupt_frac = intr / N;
    s->truncate_frac = trunc / N;
    advantages_compute(ts->adv, ts->kept, &s->adv, ts->reward, n_groups, G, (AdvNorm)c->adv_norm,
                       (int)c->zero_var_filter);

    /* Flatten the loss tokens (sampled completion tokens; forced ones are context only). */
    int R = 0, T = 1;
    ts->off[0] = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = completion(ts, i);
        int o = ts->off[i];
        const int row = ts->kept[i] && cp->n > cp->n_prompt ? R : -1;
        for (int p = cp->n_prompt; p < cp->n; p++) {
            if (cp->forced[p]) continue;
            ts->f_logp_gen[o] = cp->logp[p];
            ts->f_row[o] = row;
            ts->f_pos[o] = p;
            o++;
        }
        ts->off[i + 1] = o;
        if (row >= 0 && o > ts->off[i]) {
            ts->row_comp[R++] = i;
            if (cp->n - 1 > T) T = cp->n - 1;
        }
    }
    aggregation_weights(ts->f_w, ts->off, ts->kept, n_groups, G, (AggMode)c->agg);
    ts->R = R;
    ts->T = T;
    s->rows = R;
    s->lr = lr_at(v, c->lr, c->warmup, c->steps, (LrShape)c->lr_shape, c->lr * c->min_lr_frac);
    for (int r = 0; r < R; r++) {
        const Completion *cp = completion(ts, ts->row_comp[r]);
        rows_pack(ts->rows_tok + (size_t)r * T, ts->rows_tgt + (size_t)r * T, cp->tok, cp->n, cp->n_prompt,
                  cp->forced, T);
        for (int p = 0; p < cp->n - 1; p++) s->flops += 3.0 * model_flops_token(&ts->mcfg, p);
    }
    /* Staleness of every trained token: how many versions before this step its sampling policy
     * was. Versions only grow along a completion, so it spans several iff its ends differ. */
    double stale = 0;
    long n_tok = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = completion(ts, i);
        for (int o = ts->off[i]; o < ts->off[i + 1]; o++) {
            if (ts->f_row[o] < 0) continue;
            const long st = v - cp->version[ts->f_pos[o]];
            stale += (double)st;
            if (st > s->stale_max) s->stale_max = st;
            s->stale_hist[st < STALE_BINS - 1 ? st : STALE_BINS - 1]++;
            n_tok++;
        }
        const int first = ts->off[i], last = ts->off[i + 1] - 1;
        if (last > first && ts->f_row[first] >= 0 && cp->version[ts->f_pos[first]] != cp->version[ts->f_pos[last]])
            s->multi_version++;
    }
    s->tokens = n_tok;
    s->stale_mean = n_tok ? stale / n_tok : 0;
}

int step_apply(TrainStep *ts, Model *m, StepStats *s, char *err)
{
    const TrainConfig *c = ts->c;
    const int R = ts->R, T = ts->T, N = ts->n_groups * ts->G;
    if (R == 0) return 0; /* every group zero-variance: no signal, no update */
    if (model_forward(m, ts->rows_tok, ts->rows_tgt, R, T, (float)c->temperature, ts->prec, ts->rows_logp,
                      ts->rows_ent, err))
        return 1;
    double ent = 0;
    for (int o = 0; o < ts->off[N]; o++) {
        if (ts->f_row[o] < 0) {
            ts->f_logp[o] = ts->f_logp_gen[o];
            continue;
        }
        const size_t at = (size_t)ts->f_row[o] * T + ts->f_pos[o] - 1;
        ts->f_logp[o] = ts->rows_logp[at];
        ent += ts->rows_ent[at];
    }
    s->entropy = s->tokens ? ent / s->tokens : 0;
    loss_compute(ts->f_dlogp, &s->loss, ts->f_logp, ts->f_logp_gen, ts->f_w, ts->adv, ts->off, N, &ts->lp);
    memset(ts->rows_dlogp, 0, (size_t)R * T * sizeof(float));
    for (int o = 0; o < ts->off[N]; o++)
        if (ts->f_row[o] >= 0) ts->rows_dlogp[(size_t)ts->f_row[o] * T + ts->f_pos[o] - 1] = ts->f_dlogp[o];
    model_zero_grad(m);
    model_backward(m, ts->rows_dlogp);
    s->grad_norm = grad_clip(m, c->grad_clip);
    /* A non-finite loss or gradient norm would put NaN into every weight and Adam moment: the step
     * is skipped and counted (trainer_finish stops the run after max_bad_steps in a row). */
    if (!isfinite(s->grad_norm) || !isfinite(s->loss.loss)) {
        s->bad = 1;
        return 0;
    }
    adamw_step(m, &ts->opt, s->lr);
    return 0;
}
