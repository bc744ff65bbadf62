/* One optimizer step of the RL trainer on the batch its version names: rewards, the prompt
 * filter, advantages and zero-variance filtering, aggregation weights, the trainer's own forward
 * over the recorded tokens (FP32 logits unless head=bf16), the loss, backward, clipping, AdamW. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ref/rl/aggregate.h"
#include "ref/rl/trainer.h"


/* Consumes batch t->version: rewards, filter, advantages, weights, the trainer's forward in FP32,
 * the loss, backward, clip, AdamW. */
int trainer_step(Trainer *t, StepStats *s, char *err)
{
    const TrainConfig *c = t->c;
    const int P = t->P, G = t->G, N = t->N;
    const long v = t->version;
    memset(s, 0, sizeof *s);
    /* Rewards, and every group recorded by the prompt filter before zero-variance filtering. */
    double len = 0, intr = 0, trunc = 0;
    for (int j = 0; j < P; j++) {
        Group *gr = trainer_batch_group(t, v, j);
        int n_pass = 0;
        for (int q = 0; q < G; q++) {
            const Completion *cp = &gr->c[q];
            t->reward[j * G + q] = cp->reward;
            n_pass += cp->correct;
            len += cp->n - cp->n_prompt;
            intr += cp->interrupted;
            trunc += cp->truncated;
        }
        int retired = 0;
        if (t->lock) pthread_mutex_lock(t->lock);
        int rc = prompt_filter_record(t->filter, gr->prompt_key, n_pass, G, &retired, err);
        if (t->lock) pthread_mutex_unlock(t->lock);
        if (rc) return rc;
        s->retired_now += retired;
    }
    s->len_mean = len / N;
    s->interrupt_frac = intr / N;
    s->truncate_frac = trunc / N;
    advantages_compute(t->adv, t->kept, &s->adv, t->reward, P, G, (AdvNorm)c->adv_norm, (int)c->zero_var_filter);

    /* Flatten the loss tokens (sampled completion tokens; forced ones are context only). */
    int R = 0, T = 1;
    t->off[0] = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = &trainer_batch_group(t, v, i / G)->c[i % G];
        int o = t->off[i];
        int row = t->kept[i] && cp->n > cp->n_prompt ? R : -1;
        for (int p = cp->n_prompt; p < cp->n; p++) {
            if (cp->forced[p]) continue;
            t->f_logp_gen[o] = cp->logp[p];
            t->f_row[o] = row;
            t->f_pos[o] = p;
            o++;
        }
        t->off[i + 1] = o;
        if (row >= 0 && o > t->off[i]) {
            t->row_comp[R++] = i;
            if (cp->n - 1 > T) T = cp->n - 1;
        }
    }
    aggregation_weights(t->f_w, t->off, t->kept, P, G, (AggMode)c->agg);
    s->rows = R;
    s->lr = lr_at(v, c->lr, c->warmup, c->steps, (LrShape)c->lr_shape, c->lr * c->min_lr_frac);
    if (R == 0) return 0; /* every group zero-variance: no signal, no update */

    /* Rows for the trainer's forward: inputs tok[0..n-2], targets the next token at loss
     * positions only. */
    for (int r = 0; r < R; r++) {
        const int i = t->row_comp[r];
        const Completion *cp = &trainer_batch_group(t, v, i / G)->c[i % G];
        int *tok = t->rows_tok + (size_t)r * T, *tgt = t->rows_tgt + (size_t)r * T;
        for (int p = 0; p < T; p++) {
            tok[p] = p < cp->n - 1 ? cp->tok[p] : TOK_PAD;
            tgt[p] = -1;
        }
        for (int p = cp->n_prompt; p < cp->n; p++)
            if (!cp->forced[p]) tgt[p - 1] = cp->tok[p];
        for (int p = 0; p < cp->n - 1; p++) s->flops += 3.0 * model_flops_token(&t->m.cfg, p);
    }
    if (model_forward(&t->m, t->rows_tok, t->rows_tgt, R, T, (float)c->temperature, t->train_prec, t->rows_logp,
                      t->rows_ent, err))
        return 1;
    double ent = 0, stale = 0;
    long n_tok = 0;
    for (int i = 0; i < N; i++) {
        const Completion *cp = &trainer_batch_group(t, v, i / G)->c[i % G];
        for (int o = t->off[i]; o < t->off[i + 1]; o++) {
            if (t->f_row[o] < 0) {
                t->f_logp[o] = t->f_logp_gen[o];
                continue;
            }
            size_t at = (size_t)t->f_row[o] * T + t->f_pos[o] - 1;
            t->f_logp[o] = t->rows_logp[at];
            ent += t->rows_ent[at];
            long st = v - cp->version[t->f_pos[o]];
            stale += (double)st;
            if (st > s->stale_max) s->stale_max = st;
            s->stale_hist[st < STALE_BINS - 1 ? st : STALE_BINS - 1]++;
            n_tok++;
        }
        /* Versions only grow along a completion: it spans several iff its ends differ. */
        int first = t->off[i], last = t->off[i + 1] - 1;
        if (last > first && t->f_row[first] >= 0 && cp->version[t->f_pos[first]] != cp->version[t->f_pos[last]])
            s->multi_version++;
    }
    s->tokens = n_tok;
    s->entropy = n_tok ? ent / n_tok : 0;
    s->stale_mean = n_tok ? stale / n_tok : 0;
    loss_compute(t->f_dlogp, &s->loss, t->f_logp, t->f_logp_gen, t->f_w, t->adv, t->off, N, &t->lp);
    memset(t->rows_dlogp, 0, (size_t)R * T * sizeof(float));
    for (int o = 0; o < t->off[N]; o++)
        if (t->f_row[o] >= 0) t->rows_dlogp[(size_t)t->f_row[o] * T + t->f_pos[o] - 1] = t->f_dlogp[o];
    model_zero_grad(&t->m);
    model_backward(&t->m, t->rows_dlogp);
    s->grad_norm = grad_clip(&t->m, c->grad_clip);
    /* A non-finite loss or gradient norm would put NaN into every weight and Adam moment: the step
     * is skipped (no update; the next step zeroes the gradients) and counted (trainer.h). */
    if (!isfinite(s->grad_norm) || !isfinite(s->loss.loss)) {
        s->bad = 1;
        return 0;
    }
    adamw_step(&t->m, &t->opt, s->lr);
    return 0;
}

