/* The training forward and backward over a batch of B sequences of T tokens (see model.h), built
 * from the kernels in layers.c. The forward saves what the backward needs in m->acts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/acts.h"
#include "models/layers.h"
#include "models/model.h"

/* Largest batch a forward accepts (B*T tokens): keeps every size_t product far from overflow. */
#define MAX_BATCH_TOKENS (1 << 24)

static size_t max_sz(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Hands out 64-byte-aligned pieces of buf (or only counts them when buf is NULL). */
typedef struct {
    float *buf;
    size_t used;
} Carver;

static float *carve(Carver *cv, size_t n)
{
    float *p = cv->buf ? cv->buf + cv->used : NULL;
    cv->used += (n + 15) & ~(size_t)15;
    return p;
}

/* Lays out every activation for a packed batch of B sequences, N rows and att_size attention
 * floats per layer in a->buf (or, with buf NULL, just counts the floats). */
static size_t acts_layout(ModelActs *a, const ModelConfig *c, int B, int N_rows, size_t att_size)
{
    const size_t N = (size_t)N_rows, C = (size_t)c->d_model, F = (size_t)c->d_ff, L = (size_t)c->n_layer,
                 V = (size_t)c->vocab;
    Carver cv = {a->buf, 0};
    a->tokens = (int *)carve(&cv, N);
    a->targets = (int *)carve(&cv, N);
    a->pos = (int *)carve(&cv, N);
    a->grid = (int *)carve(&cv, N);
    a->seq_row = (int *)carve(&cv, (size_t)B + 1);
    a->seq_att = (size_t *)carve(&cv, ((size_t)B + 1) * (sizeof(size_t) / sizeof(float)));
    a->encoded = carve(&cv, N * C);
    a->ln1 = carve(&cv, L * N * C);
    a->ln1_mean = carve(&cv, L * N);
    a->ln1_rstd = carve(&cv, L * N);
    a->qkv = carve(&cv, L * N * 3 * C);
    a->att = carve(&cv, L * att_size);
    a->atty = carve(&cv, L * N * C);
    a->res_mid = carve(&cv, L * N * C);
    a->ln2 = carve(&cv, L * N * C);
    a->ln2_mean = carve(&cv, L * N);
    a->ln2_rstd = carve(&cv, L * N);
    a->fch = carve(&cv, L * N * F);
    a->fch_gelu = carve(&cv, L * N * F);
    a->res_out = carve(&cv, L * N * C);
    a->lnf = carve(&cv, N * C);
    a->lnf_mean = carve(&cv, N);
    a->lnf_rstd = carve(&cv, N);
    a->logits = carve(&cv, N * V);
    a->probs = carve(&cv, N * V);
    a->logp = carve(&cv, N);
    a->entropy = carve(&cv, N);
    a->proj = carve(&cv, N * C);
    a->dlogp = carve(&cv, N);
    a->d_res = carve(&cv, N * C);
    a->d_ln = carve(&cv, N * C);
    a->d_qkv = carve(&cv, N * 3 * C);
    a->d_atty = carve(&cv, N * C);
    a->d_fch = carve(&cv, N * F);
    a->d_logits = carve(&cv, N * V);
    /* attn_scratch_size for this batch, which needs the sequence table: bounded by its formula. */
    for (int k = 0; k < 4; k++) a->attn_t[k] = carve(&cv, (N + (size_t)(ATTN_KEY_BLOCK - 1) * (size_t)B) * C);
    a->bf_inp = carve(&cv, N * max_sz(C, F));
    a->bf_w = carve(&cv, max_sz(max_sz(3 * C, F), V) * max_sz(C, F));
    return cv.used;
}

/* Makes m->acts hold a packed batch: grows the buffer when needed, then lays the views out. */
static int acts_prepare(Model *m, int B, int N, size_t att_size, char *err)
{
    if (!m->acts) {
        m->acts = calloc(1, sizeof *m->acts);
        if (!m->acts) {
            snprintf(err, MODEL_ERR_LEN, "out of memory allocating activations");
            return 2;
        }
    }
    ModelActs *a = m->acts;
    float *keep = a->buf;
    a->buf = NULL;
    size_t need = acts_layout(a, &m->cfg, B, N, att_size);
    a->buf = keep;
    if (need > a->capacity) {
        free(a->buf);
        a->capacity = 0;
        a->B = a->T = a->N = 0;
        a->buf = aligned_alloc(64, need * sizeof(float));
        if (!a->buf) {
            snprintf(err, MODEL_ERR_LEN, "out of memory allocating activations for %d sequences, %d tokens (%zu MB)",
                     B, N, need * sizeof(float) >> 20);
            return 2;
        }
        a->capacity = need;
    }
    acts_layout(a, &m->cfg, B, N, att_size);
    return 0;
}

/* Positions sequence b keeps: up to and including its last scored position. */
static int kept_length(const int *targets, int b, int T)
{
    int len = T;
    while (len > 0 && targets[(size_t)b * T + len - 1] < 0) len--;
    return len;
}

static int check_inputs(const Model *m, const int *tokens, const int *targets, int B, int T, float temperature,
                        char *err)
{
    const ModelConfig *c = &m->cfg;
    if (T < 1 || T > c->ctx) {
        snprintf(err, MODEL_ERR_LEN, "bad sequence length T=%d: expected 1..%d (the model's ctx)", T, c->ctx);
        return 1;
    }
    if (B < 1 || (long long)B * T > MAX_BATCH_TOKENS) {
        snprintf(err, MODEL_ERR_LEN, "bad batch B=%d with T=%d: expected B >= 1 and B*T <= %d", B, T,
                 MAX_BATCH_TOKENS);
        return 1;
    }
    if (!(temperature > 0.0f) || !isfinite(temperature)) {
        snprintf(err, MODEL_ERR_LEN, "bad temperature %g: expected a finite value > 0", (double)temperature);
        return 1;
    }
    const int N = B * T;
    for (int n = 0; n < N; n++) {
        if (tokens[n] < 0 || tokens[n] >= c->vocab) {
            snprintf(err, MODEL_ERR_LEN, "bad token id %d at sequence %d position %d: expected 0..%d", tokens[n],
                     n / T, n % T, c->vocab - 1);
            return 1;
        }
        if (targets[n] < -1 || targets[n] >= c->vocab) {
            snprintf(err, MODEL_ERR_LEN, "bad target id %d at sequence %d position %d: expected -1 (skip) or 0..%d",
                     targets[n], n / T, n % T, c->vocab - 1);
            return 1;
        }
    }
    return 0;
}

int model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float temperature,
                  Precision prec, float *logp, float *entropy, char *err)
{
    int rc = check_inputs(m, tokens, targets, B, T, temperature, err);
    if (rc) return rc;
    const ModelConfig *c = &m->cfg;
    const int C = c->d_model, F = c->d_ff, V = c->vocab, NH = c->n_head;
    int N = 0;
    size_t att_size = 0;
    for (int b = 0; b < B; b++) {
        const int len = kept_length(targets, b, T);
        N += len;
        att_size += (size_t)NH * len * attn_keys_padded(len);
    }
    if ((rc = acts_prepare(m, B, N, att_size, err))) return rc;
    ModelActs *a = m->acts;
    const ParamTensors *p = &m->p;
    a->B = B;
    a->T = T;
    a->N = N;
    a->att_size = att_size;
    a->temperature = temperature;
    a->prec = prec;
    /* Pack the kept positions of every sequence back to back. */
    int n = 0;
    a->seq_row[0] = 0;
    a->seq_att[0] = 0;
    for (int b = 0; b < B; b++) {
        const int len = kept_length(targets, b, T);
        for (int t = 0; t < len; t++, n++) {
            a->tokens[n] = tokens[(size_t)b * T + t];
            a->targets[n] = targets[(size_t)b * T + t];
            a->pos[n] = t;
            a->grid[n] = b * T + t;
        }
        a->seq_row[b + 1] = n;
        a->seq_att[b + 1] = a->seq_att[b] + (size_t)NH * len * attn_keys_padded(len);
    }
    a->seq = (SeqLayout){B, a->seq_row, a->seq_att};

    const Bf16Scratch bf = {a->bf_inp, a->bf_w};
    const Bf16Scratch *bf_body = prec.bf16_matmul ? &bf : NULL;
    const Bf16Scratch *bf_head = prec.bf16_head ? &bf : NULL;

    embed_forward(a->encoded, a->tokens, a->pos, p->tok_emb, p->pos_emb, N, T, C);
    const float *x = a->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        const size_t lNC = (size_t)l * N * C, lN = (size_t)l * N;
        float *ln1 = a->ln1 + lNC, *qkv = a->qkv + 3 * lNC, *atty = a->atty + lNC, *res_mid = a->res_mid + lNC;
        float *ln2 = a->ln2 + lNC, *fch = a->fch + (size_t)l * N * F, *fch_gelu = a->fch_gelu + (size_t)l * N * F;
        float *res_out = a->res_out + lNC;
        layernorm_forward(ln1, a->ln1_mean + lN, a->ln1_rstd + lN, x, p->ln1_g + l * C, p->ln1_b + l * C, N, C);
        matmul_forward(qkv, ln1, p->qkv_w + (size_t)l * 3 * C * C, p->qkv_b + l * 3 * C, N, C, 3 * C, bf_body);
        attention_forward(atty, a->att + l * att_size, a->attn_t[0], qkv, &a->seq, C, NH);
        matmul_forward(a->proj, atty, p->attn_out_w + (size_t)l * C * C, p->attn_out_b + l * C, N, C, C, bf_body);
        residual_forward(res_mid, x, a->proj, (size_t)N * C);
        layernorm_forward(ln2, a->ln2_mean + lN, a->ln2_rstd + lN, res_mid, p->ln2_g + l * C, p->ln2_b + l * C, N,
                          C);
        matmul_forward(fch, ln2, p->mlp_in_w + (size_t)l * F * C, p->mlp_in_b + l * F, N, C, F, bf_body);
        gelu_forward(fch_gelu, fch, (size_t)N * F);
        matmul_forward(a->proj, fch_gelu, p->mlp_out_w + (size_t)l * C * F, p->mlp_out_b + l * C, N, F, C, bf_body);
        residual_forward(res_out, res_mid, a->proj, (size_t)N * C);
        x = res_out;
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, p->lnf_g, p->lnf_b, N, C);
    matmul_forward(a->logits, a->lnf, p->head_w, NULL, N, C, V, bf_head);
    if (prec.bf16_head) bf16_round_array(a->logits, a->logits, (size_t)N * V);
    logsoftmax_forward(a->probs, a->logp, a->entropy, a->logits, a->targets, temperature, N, V);
    /* Back to the caller's grid: 0 wherever nothing was scored. */
    memset(logp, 0, (size_t)B * T * sizeof *logp);
    if (entropy) memset(entropy, 0, (size_t)B * T * sizeof *entropy);
    for (int r = 0; r < N; r++) {
        logp[a->grid[r]] = a->logp[r];
        if (entropy) entropy[a->grid[r]] = a->entropy[r];
    }
    return 0;
}

void model_backward(Model *m, const float *dlogp)
{
    ModelActs *a = m->acts;
    if (!a || a->B == 0 || a->N == 0) return; /* no forward, or nothing scored: no gradient */
    const ModelConfig *c = &m->cfg;
    const int N = a->N, T = a->T, C = c->d_model, F = c->d_ff, V = c->vocab, NH = c->n_head;
    const ParamTensors *p = &m->p, *g = &m->g;
    const Bf16Scratch bf = {a->bf_inp, a->bf_w};
    const Bf16Scratch *bf_body = a->prec.bf16_matmul ? &bf : NULL;
    const Bf16Scratch *bf_head = a->prec.bf16_head ? &bf : NULL;
    const float *x_last = a->res_out + (size_t)(c->n_layer - 1) * N * C;

    for (int r = 0; r < N; r++) a->dlogp[r] = dlogp[a->grid[r]];
    logsoftmax_backward(a->d_logits, a->probs, a->targets, a->dlogp, a->temperature, N, V);
    matmul_backward(a->d_ln, g->head_w, NULL, a->d_logits, a->lnf, p->head_w, N, C, V, bf_head);
    memset(a->d_res, 0, (size_t)N * C * sizeof(float));
    layernorm_backward(a->d_res, g->lnf_g, g->lnf_b, a->d_ln, x_last, p->lnf_g, a->lnf_mean, a->lnf_rstd, N, C);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        const size_t lNC = (size_t)l * N * C, lN = (size_t)l * N, lNF = (size_t)l * N * F;
        const float *x = l == 0 ? a->encoded : a->res_out + lNC - (size_t)N * C;
        /* MLP block: res_out = res_mid + mlp_out(gelu(mlp_in(ln2(res_mid)))); d_res flows to res_mid. */
        matmul_backward(a->d_fch, g->mlp_out_w + (size_t)l * C * F, g->mlp_out_b + l * C, a->d_res,
                        a->fch_gelu + lNF, p->mlp_out_w + (size_t)l * C * F, N, F, C, bf_body);
        gelu_backward(a->d_fch, a->fch + lNF, a->d_fch, (size_t)N * F);
        matmul_backward(a->d_ln, g->mlp_in_w + (size_t)l * F * C, g->mlp_in_b + l * F, a->d_fch, a->ln2 + lNC,
                        p->mlp_in_w + (size_t)l * F * C, N, C, F, bf_body);
        layernorm_backward(a->d_res, g->ln2_g + l * C, g->ln2_b + l * C, a->d_ln, a->res_mid + lNC, p->ln2_g + l * C,
                           a->ln2_mean + lN, a->ln2_rstd + lN, N, C);
        /* Attention block: res_mid = x + attn_out(attention(qkv(ln1(x)))). */
        matmul_backward(a->d_atty, g->attn_out_w + (size_t)l * C * C, g->attn_out_b + l * C, a->d_res,
                        a->atty + lNC, p->attn_out_w + (size_t)l * C * C, N, C, C, bf_body);
        attention_backward(a->d_qkv, a->attn_t[0], a->attn_t[1], a->attn_t[2], a->attn_t[3], a->d_atty,
                           a->qkv + 3 * lNC, a->att + l * a->att_size, &a->seq, C, NH);
        matmul_backward(a->d_ln, g->qkv_w + (size_t)l * 3 * C * C, g->qkv_b + l * 3 * C, a->d_qkv, a->ln1 + lNC,
                        p->qkv_w + (size_t)l * 3 * C * C, N, C, 3 * C, bf_body);
        layernorm_backward(a->d_res, g->ln1_g + l * C, g->ln1_b + l * C, a->d_ln, x, p->ln1_g + l * C,
                           a->ln1_mean + lN, a->ln1_rstd + lN, N, C);
    }
    embed_backward(g->tok_emb, g->pos_emb, a->d_res, a->tokens, a->pos, N, T, C);
}
