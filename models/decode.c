/* Incremental decoding with a per-slot KV cache, sampling, and plain batched generation (see
 * decode.h). A step runs the same kernels as the training forward on n rows (one token per
 * sequence) and attends each row to its own slot's cache with the same attention_query, so its
 * logits match model_forward's up to the rounding of differently shaped sgemm calls. */
#include "models/decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bigbuf.h"
#include "models/layers.h"
#include "models/rng.h"

struct DecodeState {
    ModelConfig cfg;
    int slots;
    int *pos; /* (slots) next position of each slot */
    /* The cache, per (layer, slot) one contiguous region for keys and one for values, so that a
     * step reads each sequence's cache as a few sequential runs. Keys are transposed in blocks of
     * ATTN_KEY_BLOCK positions (a block of keys is one contiguous vector per channel, the layout
     * attention_query scores against); values row-major. */
    float *kT; /* (L, slots, ctxp / ATTN_KEY_BLOCK, C, ATTN_KEY_BLOCK), ctxp = attn_keys_padded(ctx) */
    float *v;  /* (L, slots, ctxp, C) */
    /* Scratch for up to `slots` rows of one step. */
    int *row_pos;
    float *x, *x2, *ln, *qkv, *atty, *proj, *fch, *fch_gelu, *att, *bf_inp;
    float *bf_params; /* the weights rounded to bfloat16 for one step (parameter layout) */
    float *mem; /* the one allocation behind every float array above */
};

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

DecodeState *decode_new(const ModelConfig *cfg, int slots, char *err)
{
    if (model_config_check(cfg, err)) return NULL;
    if (slots < 1 || slots > 65536) {
        snprintf(err, ERR_LEN, "bad decode slot count %d: expected 1..65536", slots);
        return NULL;
    }
    DecodeState *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, ERR_LEN, "out of memory allocating a decode state");
        return NULL;
    }
    s->cfg = *cfg;
    s->slots = slots;
    const size_t S = (size_t)slots, C = (size_t)cfg->d_model, F = (size_t)cfg->d_ff, L = (size_t)cfg->n_layer,
                 P = (size_t)attn_keys_padded(cfg->ctx), NH = (size_t)cfg->n_head;
    const size_t wide = C > F ? C : F;
    TensorInfo tensors[MODEL_MAX_TENSORS];
    int n_tensors;
    const size_t n_params = model_layout(cfg, tensors, &n_tensors);
    const size_t sizes[] = {
        L * S * C * P, L * S * P * C,                  /* kT, v */
        S * C, S * C, S * C, S * 3 * C, S * C, S * C, /* x, x2, ln, qkv, atty, proj */
        S * F, S * F, S * NH * P,                      /* fch, fch_gelu, att */
        S * wide, n_params,                            /* bf_inp, bf_params */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += round16(sizes[i]);
    s->mem = bigbuf_alloc(total * sizeof(float));
    s->pos = calloc(S, sizeof *s->pos);
    s->row_pos = calloc(S, sizeof *s->row_pos);
    if (!s->mem || !s->pos || !s->row_pos) {
        snprintf(err, ERR_LEN, "out of memory allocating a KV cache of %d slots (%zu MB)", slots,
                 total * sizeof(float) >> 20);
        decode_free(s);
        return NULL;
    }
    /* Zeroed once: attention reads cache columns up to the next key block past a slot's
     * position, which must hold finite values (zeros, or an earlier sequence's keys). */
    memset(s->mem, 0, total * sizeof(float));
    float **fields[] = {&s->kT, &s->v, &s->x, &s->x2, &s->ln, &s->qkv, &s->atty, &s->proj,
                        &s->fch, &s->fch_gelu, &s->att, &s->bf_inp, &s->bf_params};
    size_t off = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *fields[i] = s->mem + off;
        off += round16(sizes[i]);
    }
    return s;
}

void decode_free(DecodeState *s)
{
    if (!s) return;
    free(s->mem);
    free(s->pos);
    free(s->row_pos);
    free(s);
}

void decode_reset(DecodeState *s, int slot)
{
    s->pos[slot] = 0;
}

int decode_pos(const DecodeState *s, int slot)
{
    return s->pos[slot];
}

void decode_fork(DecodeState *s, int dst, int src)
{
    const int pos = s->pos[src], C = s->cfg.d_model, P = attn_keys_padded(s->cfg.ctx);
    /* Whole key blocks up to the one holding position pos - 1 (their columns past it are finite,
     * as attention_query needs), and the value rows before pos. */
    const size_t k_floats = (size_t)attn_keys_padded(pos) * C, v_floats = (size_t)pos * C;
    for (int l = 0; l < s->cfg.n_layer; l++) {
        const size_t from = ((size_t)l * s->slots + (size_t)src) * P * C;
        const size_t to = ((size_t)l * s->slots + (size_t)dst) * P * C;
        memcpy(s->kT + to, s->kT + from, k_floats * sizeof *s->kT);
        memcpy(s->v + to, s->v + from, v_floats * sizeof *s->v);
    }
    s->pos[dst] = pos;
}

/* Rows r0 .. r0+n-1 of a step: writes each row's key and value into its slot's cache at its
 * position, then attends to that slot's cache. */
static void cache_attention(DecodeState *s, int l, const int *slots, int r0, int n)
{
    enum { K = ATTN_KEY_BLOCK };
    const ModelConfig *c = &s->cfg;
    const int C = c->d_model, NH = c->n_head, hd = C / NH, P = attn_keys_padded(c->ctx);
    const float scale = 1.0f / sqrtf((float)hd);
    const size_t kblk = (size_t)K * C;
    for (int i = r0; i < r0 + n; i++) {
        const int slot = slots[i], pos = s->row_pos[i];
        const size_t ls = (size_t)l * s->slots + (size_t)slot;
        float *kT = s->kT + ls * P * C, *v = s->v + ls * P * C;
        const float *row = s->qkv + (size_t)i * 3 * C;
        float *kb = kT + (size_t)(pos / K) * kblk + pos % K;
        for (int ch = 0; ch < C; ch++) kb[(size_t)ch * K] = row[C + ch];
        memcpy(v + (size_t)pos * C, row + 2 * C, (size_t)C * sizeof *v);
        attention_query(s->atty + (size_t)i * C, s->att + (size_t)i * NH * P, (size_t)P, row, kT, K, kblk,
                        (size_t)hd * K, v, C, pos + 1, NH, hd, scale);
    }
}

/* The whole network for rows r0 .. r0+n-1 of a step. Rows are independent in decoding (each
 * attends only to its own slot), so a chunk of rows goes through every layer on one thread. */
static void decode_rows(DecodeState *s, const ParamTensors *p, const int *slots, const int *tokens, int r0, int n,
                        Precision prec, float *logits)
{
    const ModelConfig *c = &s->cfg;
    const int C = c->d_model, F = c->d_ff, V = c->vocab;
    const size_t wide = (size_t)(C > F ? C : F);
    /* Weights were rounded once for the step; only this chunk's inputs are rounded here. */
    const Bf16Scratch bf = {s->bf_inp + (size_t)r0 * wide, NULL};
    const Bf16Scratch *bf_body = prec.bf16_matmul ? &bf : NULL;
    const Bf16Scratch *bf_head = prec.bf16_head ? &bf : NULL;
    float *x = s->x + (size_t)r0 * C, *other = s->x2 + (size_t)r0 * C, *ln = s->ln + (size_t)r0 * C;
    float *qkv = s->qkv + (size_t)r0 * 3 * C, *atty = s->atty + (size_t)r0 * C, *proj = s->proj + (size_t)r0 * C;
    float *fch = s->fch + (size_t)r0 * F, *fch_gelu = s->fch_gelu + (size_t)r0 * F;

    embed_forward(x, tokens + r0, s->row_pos + r0, p->tok_emb, p->pos_emb, n, 1, C);
    for (int l = 0; l < c->n_layer; l++) {
        layernorm_forward(ln, NULL, NULL, x, p->ln1_g + l * C, p->ln1_b + l * C, n, C);
        matmul_forward_tiled(qkv, ln, p->qkv_w + (size_t)l * 3 * C * C, p->qkv_b + l * 3 * C, n, C, 3 * C, bf_body, n);
        cache_attention(s, l, slots, r0, n);
        matmul_forward_tiled(proj, atty, p->attn_out_w + (size_t)l * C * C, p->attn_out_b + l * C, n, C, C, bf_body,
                             n);
        residual_forward(other, x, proj, (size_t)n * C);
        float *t = x;
        x = other;
        other = t;
        layernorm_forward(ln, NULL, NULL, x, p->ln2_g + l * C, p->ln2_b + l * C, n, C);
        matmul_forward_tiled(fch, ln, p->mlp_in_w + (size_t)l * F * C, p->mlp_in_b + l * F, n, C, F, bf_body, n);
        gelu_forward(fch_gelu, NULL, fch, (size_t)n * F);
        matmul_forward_tiled(proj, fch_gelu, p->mlp_out_w + (size_t)l * C * F, p->mlp_out_b + l * C, n, F, C, bf_body,
                             n);
        residual_forward(other, x, proj, (size_t)n * C);
        t = x;
        x = other;
        other = t;
    }
    layernorm_forward(ln, NULL, NULL, x, p->lnf_g, p->lnf_b, n, C);
    float *out = logits + (size_t)r0 * V;
    matmul_forward_tiled(out, ln, p->head_w, NULL, n, C, V, bf_head, n);
    if (prec.bf16_head) bf16_round_array(out, out, (size_t)n * V);
}

/* Points the views of the matmul weights that prec rounds at bfloat16 copies made in s->bf_params
 * (same layout as params); the other views keep pointing into params. */
static void round_weights(DecodeState *s, Precision prec, ParamTensors *p)
{
    ParamTensors r;
    model_views(&s->cfg, s->bf_params, &r);
    const float *src[5] = {p->qkv_w, p->attn_out_w, p->mlp_in_w, p->mlp_out_w, p->head_w};
    float *dst[5] = {r.qkv_w, r.attn_out_w, r.mlp_in_w, r.mlp_out_w, r.head_w};
    float **view[5] = {&p->qkv_w, &p->attn_out_w, &p->mlp_in_w, &p->mlp_out_w, &p->head_w};
    const size_t C = (size_t)s->cfg.d_model, F = (size_t)s->cfg.d_ff, L = (size_t)s->cfg.n_layer;
    const size_t size[5] = {L * 3 * C * C, L * C * C, L * F * C, L * C * F, (size_t)s->cfg.vocab * C};
    for (int k = 0; k < 5; k++) {
        if (k < 4 ? !prec.bf16_matmul : !prec.bf16_head) continue;
        bf16_round_array(dst[k], src[k], size[k]);
        *view[k] = dst[k];
    }
}

void decode_step(DecodeState *s, const float *params, const int *slots, const int *tokens, int n,
                 Precision prec, float *logits)
{
    ParamTensors p;
    model_views(&s->cfg, (float *)params, &p); /* read only: the views are never written through */
    if (prec.bf16_matmul || prec.bf16_head) round_weights(s, prec, &p);
    for (int i = 0; i < n; i++) s->row_pos[i] = s->pos[slots[i]];
    /* Chunks of rows fixed by n alone, each through the whole network on one thread: one fork and
     * join per step instead of one per kernel, and a row's result never depends on the thread
     * count. With a single chunk, the kernels inside may still use threads themselves. */
    const int chunk = matmul_row_tile(n), n_chunks = (n + chunk - 1) / chunk;
    if (par_team(n_chunks > 1)) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int k = 0; k < n_chunks; k++)
            decode_rows(s, &p, slots, tokens, k * chunk, n - k * chunk < chunk ? n - k * chunk : chunk, prec, logits);
    } else {
        for (int k = 0; k < n_chunks; k++)
            decode_rows(s, &p, slots, tokens, k * chunk, n - k * chunk < chunk ? n - k * chunk : chunk, prec, logits);
    }
    for (int i = 0; i < n; i++) s->pos[slots[i]]++;
}

void softmax_prepare(SoftmaxRow *r, const float *logits, int vocab, float temperature)
{
    r->logits = logits;
    r->vocab = vocab;
    r->temperature = temperature;
    /* Argmax for temperature 0 (and, defensively, anything not > 0); NaN logits never win. */
    int best = 0;
    for (int v = 1; v < vocab; v++)
        if (logits[v] > logits[best] || isnan(logits[best])) best = v;
    r->best = best;
    if (!(temperature > 0.0f)) return;
    /* softmax(z) with z = logits / temperature, in double: weights exp(z - max) summed in order;
     * softmax_draw takes the first token whose cumulative weight exceeds u * total. */
    const double zmax = (double)logits[best] / temperature;
    double total = 0.0;
    for (int v = 0; v < vocab; v++) {
        double w = exp((double)logits[v] / temperature - zmax);
        if (v < SOFTMAX_KEEP) r->w[v] = w;
        total += isnan(w) ? 0.0 : w;
    }
    r->zmax = zmax;
    r->total = total;
    r->log_total = log(total);
}

int softmax_draw(const SoftmaxRow *r, double u, float *logp)
{
    if (!(r->temperature > 0.0f)) {
        if (logp) *logp = 0.0f;
        return r->best;
    }
    const double target = u * r->total;
    double cum = 0.0;
    int chosen = -1, last_nonzero = r->best;
    for (int v = 0; v < r->vocab; v++) {
        double w = v < SOFTMAX_KEEP ? r->w[v] : exp((double)r->logits[v] / r->temperature - r->zmax);
        if (isnan(w) || w <= 0.0) continue;
        last_nonzero = v;
        cum += w;
        if (target < cum) {
            chosen = v;
            break;
        }
    }
    /* Only rounding (u within an ulp of 1) can leave the walk unfinished: take the last token
     * with any weight. */
    if (chosen < 0) chosen = last_nonzero;
    if (logp) *logp = (float)(((double)r->logits[chosen] / r->temperature - r->zmax) - r->log_total);
    return chosen;
}

int sample_token(const float *logits, int vocab, float temperature, double u, float *logp)
{
    SoftmaxRow r;
    softmax_prepare(&r, logits, vocab, temperature);
    return softmax_draw(&r, u, logp);
}

static int check_request(const Model *m, const GenerateRequest *r, char *err)
{
    const ModelConfig *c = &m->cfg;
    if (r->n < 1) {
        snprintf(err, ERR_LEN, "bad generate request: n=%d sequences, expected at least 1", r->n);
        return 1;
    }
    if (r->max_new < 1) {
        snprintf(err, ERR_LEN, "bad generate request: max_new=%d, expected at least 1", r->max_new);
        return 1;
    }
    if (!(r->temperature >= 0.0f) || !isfinite(r->temperature)) {
        snprintf(err, ERR_LEN, "bad generate request: temperature=%g, expected a finite value >= 0",
                 (double)r->temperature);
        return 1;
    }
    if (r->stop_token < -1 || r->stop_token >= c->vocab) {
        snprintf(err, ERR_LEN, "bad generate request: stop_token=%d, expected -1 (none) or 0..%d",
                 r->stop_token, c->vocab - 1);
        return 1;
    }
    if (!r->prompts || !r->prompt_len || !r->seq_ids || !r->out_tokens || !r->out_logp || !r->out_len) {
        snprintf(err, ERR_LEN, "bad generate request: an input or output array is NULL");
        return 1;
    }
    for (int i = 0; i < r->n; i++) {
        if (r->prompt_len[i] < 1 || r->prompt_len[i] >= c->ctx) {
            snprintf(err, ERR_LEN, "bad generate request: prompt %d has %d tokens, expected 1..%d (ctx - 1)", i,
                     r->prompt_len[i], c->ctx - 1);
            return 1;
        }
        if (!r->prompts[i]) {
            snprintf(err, ERR_LEN, "bad generate request: prompt %d is NULL", i);
            return 1;
        }
        for (int t = 0; t < r->prompt_len[i]; t++) {
            int tok = r->prompts[i][t];
            if (tok < 0 || tok >= c->vocab) {
                snprintf(err, ERR_LEN, "bad generate request: prompt %d token %d is %d, expected 0..%d", i, t,
                         tok, c->vocab - 1);
                return 1;
            }
        }
    }
    return 0;
}

int model_generate(const Model *m, GenerateRequest *r, char *err)
{
    int rc = check_request(m, r, err);
    if (rc) return rc;
    const int n = r->n, V = m->cfg.vocab, ctx = m->cfg.ctx;
    DecodeState *s = decode_new(&m->cfg, n, err);
    if (!s) return 2;
    int *fed = calloc((size_t)n, sizeof *fed), *done = calloc((size_t)n, sizeof *done);
    int *slots = malloc((size_t)n * sizeof *slots), *toks = malloc((size_t)n * sizeof *toks);
    float *logits = malloc((size_t)n * V * sizeof *logits);
    if (!fed || !done || !slots || !toks || !logits) {
        snprintf(err, ERR_LEN, "out of memory generating %d sequences", n);
        rc = 2;
        goto out;
    }
    for (int i = 0; i < n; i++) r->out_len[i] = 0;
    for (;;) {
        /* Slot i is sequence i: feed every unfinished sequence its next prompt token or its last
         * sample. Sequences in their prompt and in their completion advance together. */
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            slots[k] = i;
            toks[k] = fed[i] < r->prompt_len[i] ? r->prompts[i][fed[i]]
                                                : r->out_tokens[(size_t)i * r->max_new + r->out_len[i] - 1];
            k++;
        }
        if (k == 0) break;
        decode_step(s, m->params, slots, toks, k, r->prec, logits);
        for (int j = 0; j < k; j++) {
            const int i = slots[j];
            if (++fed[i] < r->prompt_len[i]) continue;
            const int at = r->out_len[i];
            const double u = rng_uniform(r->seed, r->stream, r->seq_ids[i], (uint64_t)at);
            float lp;
            const int tok = sample_token(logits + (size_t)j * V, V, r->temperature, u, &lp);
            r->out_tokens[(size_t)i * r->max_new + at] = tok;
            r->out_logp[(size_t)i * r->max_new + at] = lp;
            r->out_len[i] = at + 1;
            /* Stop at the stop token, the budget, or when the sample could not be fed back without
             * passing the context (prompt + completion never exceed ctx tokens). */
            if (tok == r->stop_token || at + 1 == r->max_new || r->prompt_len[i] + at + 1 >= ctx) done[i] = 1;
        }
    }
out:
    free(fed);
    free(done);
    free(slots);
    free(toks);
    free(logits);
    decode_free(s);
    return rc;
}
