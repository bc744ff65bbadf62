/* The training forward and backward over a batch of B sequences of T tokens (see model.h), built
 * from the kernels in layers.c. The forward saves what the backward needs in m->acts.
 *
 * The (B, T) grid is computed as a tree of distinct prefixes (acts.h): a sequence keeps its
 * positions up to its last scored one, and a position whose tokens up to it agree with an earlier
 * sequence's reuses that sequence's row. In an RL batch the completions of one prompt share the
 * prompt, and often their first tokens, so only about a quarter of the grid's positions are rows
 * to compute. Nothing changes for the caller but float rounding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/acts.h"
#include "models/bigbuf.h"
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

static int *carve_ints(Carver *cv, size_t n)
{
    return (int *)carve(cv, n); /* an int fits a float's slot */
}

/* Lays out a->buf (or, with buf NULL, just counts its floats) for a batch of B sequences, P kept
 * positions (the most rows there can be: every per-row array and per-layer stride is P), E scored
 * positions and att_cap attention floats per layer. */
static size_t acts_layout(ModelActs *a, const ModelConfig *c, int B, int P_pos, int E, size_t att_cap)
{
    const size_t P = (size_t)P_pos, C = (size_t)c->d_model, F = (size_t)c->d_ff, L = (size_t)c->n_layer,
                 V = (size_t)c->vocab;
    Carver cv = {a->buf, 0};
    a->row_tok = carve_ints(&cv, P);
    a->row_pos = carve_ints(&cv, P);
    a->row_child = carve_ints(&cv, P);
    a->row_sib = carve_ints(&cv, P);
    a->row_scored = carve_ints(&cv, P);
    a->path = carve_ints(&cv, P);
    a->path_off = carve_ints(&cv, (size_t)B + 1);
    a->own = carve_ints(&cv, (size_t)B);
    a->ent_row = carve_ints(&cv, (size_t)E);
    a->ent_tgt = carve_ints(&cv, (size_t)E);
    a->ent_grid = carve_ints(&cv, (size_t)E);
    a->seq_att = (size_t *)carve(&cv, ((size_t)B + 1) * (sizeof(size_t) / sizeof(float)));
    a->encoded = carve(&cv, P * C);
    a->ln1 = carve(&cv, L * P * C);
    a->ln1_mean = carve(&cv, L * P);
    a->ln1_rstd = carve(&cv, L * P);
    a->qkv = carve(&cv, L * P * 3 * C);
    a->att = carve(&cv, L * att_cap);
    a->atty = carve(&cv, L * P * C);
    a->res_mid = carve(&cv, L * P * C);
    a->ln2 = carve(&cv, L * P * C);
    a->ln2_mean = carve(&cv, L * P);
    a->ln2_rstd = carve(&cv, L * P);
    a->fch = carve(&cv, L * P * F);
    a->fch_gelu = carve(&cv, L * P * F);
    a->fch_denom = carve(&cv, L * P * F);
    a->res_out = carve(&cv, L * P * C);
    a->lnf = carve(&cv, P * C);
    a->lnf_mean = carve(&cv, P);
    a->lnf_rstd = carve(&cv, P);
    a->logits = carve(&cv, P * V);
    a->probs = carve(&cv, P * V);
    a->row_zmax = carve(&cv, P);
    a->row_logsum = carve(&cv, P);
    a->row_ent = carve(&cv, P);
    a->row_g = carve(&cv, P);
    a->proj = carve(&cv, P * C);
    a->d_res = carve(&cv, P * C);
    a->d_ln = carve(&cv, P * C);
    a->d_qkv = carve(&cv, P * 3 * C);
    a->d_atty = carve(&cv, P * C);
    a->d_fch = carve(&cv, P * F);
    a->d_logits = carve(&cv, P * V);
    /* attn_scratch_size, which needs the sequence table: its formula with P positions. */
    a->attn_scratch = carve(&cv, 5 * (P + (size_t)(ATTN_KEY_BLOCK - 1) * (size_t)B) * C);
    a->bf_inp = carve(&cv, P * max_sz(C, F));
    a->bf_w = carve(&cv, max_sz(max_sz(3 * C, F), V) * max_sz(C, F));
    return cv.used;
}

/* Makes m->acts hold such a batch: grows the buffer when needed, then lays the views out. */
static int acts_prepare(Model *m, int B, int P, int E, size_t att_cap, char *err)
{
    if (!m->acts) {
        m->acts = calloc(1, sizeof *m->acts);
        if (!m->acts) {
            snprintf(err, ERR_LEN, "out of memory allocating activations");
            return 2;
        }
    }
    ModelActs *a = m->acts;
    float *keep = a->buf;
    a->buf = NULL;
    size_t need = acts_layout(a, &m->cfg, B, P, E, att_cap);
    a->buf = keep;
    if (need > a->capacity) {
        /* A quarter more than this batch needs: batch shapes drift upward early in a run (longer
         * completions, fewer shared prefixes), and each re-growth maps and zeroes hundreds of MB
         * afresh (models/README.md, "Memory"). */
        need += need / 4;
        free(a->buf);
        a->capacity = 0;
        a->B = a->T = a->N = 0;
        a->buf = bigbuf_alloc(need * sizeof(float));
        if (!a->buf) {
            snprintf(err, ERR_LEN, "out of memory allocating activations for %d sequences, %d tokens (%zu MB)",
                     B, P, need * sizeof(float) >> 20);
            return 2;
        }
        a->capacity = need;
    }
    acts_layout(a, &m->cfg, B, P, E, att_cap);
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
        snprintf(err, ERR_LEN, "bad sequence length T=%d: expected 1..%d (the model's ctx)", T, c->ctx);
        return 1;
    }
    if (B < 1 || (long long)B * T > MAX_BATCH_TOKENS) {
        snprintf(err, ERR_LEN, "bad batch B=%d with T=%d: expected B >= 1 and B*T <= %d", B, T,
                 MAX_BATCH_TOKENS);
        return 1;
    }
    if (!(temperature > 0.0f) || !isfinite(temperature)) {
        snprintf(err, ERR_LEN, "bad temperature %g: expected a finite value > 0", (double)temperature);
        return 1;
    }
    const int N = B * T;
    for (int n = 0; n < N; n++) {
        if (tokens[n] < 0 || tokens[n] >= c->vocab) {
            snprintf(err, ERR_LEN, "bad token id %d at sequence %d position %d: expected 0..%d", tokens[n],
                     n / T, n % T, c->vocab - 1);
            return 1;
        }
        if (targets[n] < -1 || targets[n] >= c->vocab) {
            snprintf(err, ERR_LEN, "bad target id %d at sequence %d position %d: expected -1 (skip) or 0..%d",
                     targets[n], n / T, n % T, c->vocab - 1);
            return 1;
        }
    }
    return 0;
}


/* Builds the tree of distinct prefixes (rows) of the kept positions, sequence by sequence: a
 * position whose prefix an earlier sequence has takes its row (found among the children of the
 * previous position's row), any other gets a new row; then the scored positions. */
static void build_rows(ModelActs *a, const int *tokens, const int *targets, int B, int T, int NH)
{
    int n = 0, root_first = -1, e = 0;
    a->path_off[0] = 0;
    a->seq_att[0] = 0;
    for (int b = 0; b < B; b++) {
        const int len = kept_length(targets, b, T), *tok = tokens + (size_t)b * T;
        int *path = a->path + a->path_off[b];
        int node = -1, own = len;
        for (int t = 0; t < len; t++) {
            int *first = node < 0 ? &root_first : &a->row_child[node], r = -1;
            if (own == len)
                for (int c = *first; c >= 0; c = a->row_sib[c])
                    if (a->row_tok[c] == tok[t]) {
                        r = c;
                        break;
                    }
            if (r < 0) {
                if (own == len) own = t;
                r = n++;
                a->row_tok[r] = tok[t];
                a->row_pos[r] = t;
                a->row_child[r] = -1;
                a->row_sib[r] = *first;
                a->row_scored[r] = 0;
                *first = r;
            }
            path[t] = r;
            node = r;
        }
        for (int t = 0; t < len; t++) {
            const int tg = targets[(size_t)b * T + t];
            if (tg < 0) continue;
            a->ent_row[e] = path[t];
            a->ent_tgt[e] = tg;
            a->ent_grid[e] = b * T + t;
            a->row_scored[path[t]]++;
            e++;
        }
        a->own[b] = own;
        a->path_off[b + 1] = a->path_off[b] + len;
        a->seq_att[b + 1] = a->seq_att[b] + (size_t)NH * (len - own) * attn_keys_padded(len);
    }
    a->N = n;
    a->E = e;
    a->att_size = a->seq_att[B];
    a->seq = (SeqLayout){B, n, a->path_off, a->path, a->own, a->seq_att};
}

int model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float temperature,
                  Precision prec, float *logp, float *entropy, char *err)
{
    int rc = check_inputs(m, tokens, targets, B, T, temperature, err);
    if (rc) return rc;
    const ModelConfig *c = &m->cfg;
    const int C = c->d_model, F = c->d_ff, V = c->vocab, NH = c->n_head;
    /* Bounds for the layout: every kept position its own row. */
    int P = 0, E = 0;
    size_t att_cap = 0;
    for (int b = 0; b < B; b++) {
        const int len = kept_length(targets, b, T);
        P += len;
        att_cap += (size_t)NH * len * attn_keys_padded(len);
        for (int t = 0; t < len; t++) E += targets[(size_t)b * T + t] >= 0;
    }
    if ((rc = acts_prepare(m, B, P, E, att_cap, err))) return rc;
    ModelActs *a = m->acts;
    const ParamTensors *p = &m->p;
    a->B = B;
    a->T = T;
    a->P = P;
    a->att_stride = att_cap;
    a->temperature = temperature;
    a->prec = prec;
    build_rows(a, tokens, targets, B, T, NH);
    const int N = a->N;
    const size_t S = (size_t)P; /* per-layer stride, in rows */

    const Bf16Scratch bf = {a->bf_inp, a->bf_w};
    const Bf16Scratch *bf_body = prec.bf16_matmul ? &bf : NULL;
    const Bf16Scratch *bf_head = prec.bf16_head ? &bf : NULL;

    embed_forward(a->encoded, a->row_tok, a->row_pos, p->tok_emb, p->pos_emb, N, T, C);
    const float *x = a->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        const size_t lSC = (size_t)l * S * C, lS = (size_t)l * S;
        float *ln1 = a->ln1 + lSC, *qkv = a->qkv + 3 * lSC, *atty = a->atty + lSC, *res_mid = a->res_mid + lSC;
        float *ln2 = a->ln2 + lSC, *fch = a->fch + (size_t)l * S * F, *fch_gelu = a->fch_gelu + (size_t)l * S * F;
        float *res_out = a->res_out + lSC;
        layernorm_forward(ln1, a->ln1_mean + lS, a->ln1_rstd + lS, x, p->ln1_g + l * C, p->ln1_b + l * C, N, C);
        matmul_forward(qkv, ln1, p->qkv_w + (size_t)l * 3 * C * C, p->qkv_b + l * 3 * C, N, C, 3 * C, bf_body);
        attention_forward(atty, a->att + l * att_cap, a->attn_scratch, qkv, &a->seq, C, NH);
        matmul_forward(a->proj, atty, p->attn_out_w + (size_t)l * C * C, p->attn_out_b + l * C, N, C, C, bf_body);
        residual_forward(res_mid, x, a->proj, (size_t)N * C);
        layernorm_forward(ln2, a->ln2_mean + lS, a->ln2_rstd + lS, res_mid, p->ln2_g + l * C, p->ln2_b + l * C, N,
                          C);
        matmul_forward(fch, ln2, p->mlp_in_w + (size_t)l * F * C, p->mlp_in_b + l * F, N, C, F, bf_body);
        gelu_forward(fch_gelu, a->fch_denom + (size_t)l * S * F, fch, (size_t)N * F);
        matmul_forward(a->proj, fch_gelu, p->mlp_out_w + (size_t)l * C * F, p->mlp_out_b + l * C, N, F, C, bf_body);
        residual_forward(res_out, res_mid, a->proj, (size_t)N * C);
        x = res_out;
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, p->lnf_g, p->lnf_b, N, C);
    matmul_forward(a->logits, a->lnf, p->head_w, NULL, N, C, V, bf_head);
    if (prec.bf16_head) bf16_round_array(a->logits, a->logits, (size_t)N * V);
    logsoftmax_forward(a->probs, a->row_zmax, a->row_logsum, a->row_ent, a->logits, a->row_scored, temperature, N,
                       V);
    /* Back to the caller's grid, 0 wherever nothing was scored: log p of each target, in the
     * arithmetic of one softmax per row. */
    memset(logp, 0, (size_t)B * T * sizeof *logp);
    if (entropy) memset(entropy, 0, (size_t)B * T * sizeof *entropy);
    for (int e = 0; e < a->E; e++) {
        const int r = a->ent_row[e];
        logp[a->ent_grid[e]] = (a->logits[(size_t)r * V + a->ent_tgt[e]] / temperature - a->row_zmax[r]) -
                               a->row_logsum[r];
        if (entropy) entropy[a->ent_grid[e]] = a->row_ent[r];
    }
    return 0;
}

void model_backward(Model *m, const float *dlogp)
{
    ModelActs *a = m->acts;
    if (!a || a->B == 0 || a->N == 0) return; /* no forward, or nothing scored: no gradient */
    const ModelConfig *c = &m->cfg;
    const int N = a->N, T = a->T, C = c->d_model, F = c->d_ff, V = c->vocab, NH = c->n_head;
    const size_t S = (size_t)a->P;
    const ParamTensors *p = &m->p, *g = &m->g;
    const Bf16Scratch bf = {a->bf_inp, a->bf_w};
    const Bf16Scratch *bf_body = a->prec.bf16_matmul ? &bf : NULL;
    const Bf16Scratch *bf_head = a->prec.bf16_head ? &bf : NULL;
    const float *x_last = a->res_out + (size_t)(c->n_layer - 1) * S * C;

    /* d log p_t / d logits = (onehot(t) - probs) / temperature, summed over a row's targets. */
    memset(a->row_g, 0, (size_t)N * sizeof *a->row_g);
    for (int e = 0; e < a->E; e++) a->row_g[a->ent_row[e]] += dlogp[a->ent_grid[e]] / a->temperature;
    logsoftmax_backward(a->d_logits, a->probs, a->row_scored, a->row_g, N, V);
    for (int e = 0; e < a->E; e++)
        a->d_logits[(size_t)a->ent_row[e] * V + a->ent_tgt[e]] += dlogp[a->ent_grid[e]] / a->temperature;
    matmul_backward(a->d_ln, g->head_w, NULL, a->d_logits, a->lnf, p->head_w, N, C, V, bf_head);
    memset(a->d_res, 0, (size_t)N * C * sizeof(float));
    layernorm_backward(a->d_res, g->lnf_g, g->lnf_b, a->d_ln, x_last, p->lnf_g, a->lnf_mean, a->lnf_rstd, N, C);

    for (int l = c->n_layer - 1; l >= 0; l--) {
        const size_t lSC = (size_t)l * S * C, lS = (size_t)l * S, lSF = (size_t)l * S * F;
        const float *x = l == 0 ? a->encoded : a->res_out + lSC - S * C;
        /* MLP block: res_out = res_mid + mlp_out(gelu(mlp_in(ln2(res_mid)))); d_res flows to res_mid. */
        matmul_backward(a->d_fch, g->mlp_out_w + (size_t)l * C * F, g->mlp_out_b + l * C, a->d_res,
                        a->fch_gelu + lSF, p->mlp_out_w + (size_t)l * C * F, N, F, C, bf_body);
        gelu_backward(a->d_fch, a->fch + lSF, a->fch_denom + lSF, a->d_fch, (size_t)N * F);
        matmul_backward(a->d_ln, g->mlp_in_w + (size_t)l * F * C, g->mlp_in_b + l * F, a->d_fch, a->ln2 + lSC,
                        p->mlp_in_w + (size_t)l * F * C, N, C, F, bf_body);
        layernorm_backward(a->d_res, g->ln2_g + l * C, g->ln2_b + l * C, a->d_ln, a->res_mid + lSC, p->ln2_g + l * C,
                           a->ln2_mean + lS, a->ln2_rstd + lS, N, C);
        /* Attention block: res_mid = x + attn_out(attention(qkv(ln1(x)))). */
        matmul_backward(a->d_atty, g->attn_out_w + (size_t)l * C * C, g->attn_out_b + l * C, a->d_res,
                        a->atty + lSC, p->attn_out_w + (size_t)l * C * C, N, C, C, bf_body);
        attention_backward(a->d_qkv, a->attn_scratch, a->d_atty, a->qkv + 3 * lSC, a->att + l * a->att_stride,
                           &a->seq, C, NH);
        matmul_backward(a->d_ln, g->qkv_w + (size_t)l * 3 * C * C, g->qkv_b + l * 3 * C, a->d_qkv, a->ln1 + lSC,
                        p->qkv_w + (size_t)l * 3 * C * C, N, C, 3 * C, bf_body);
        layernorm_backward(a->d_res, g->ln1_g + l * C, g->ln1_b + l * C, a->d_ln, x, p->ln1_g + l * C,
                           a->ln1_mean + lS, a->ln1_rstd + lS, N, C);
    }
    embed_backward(g->tok_emb, g->pos_emb, a->d_res, a->row_tok, a->row_pos, N, T, C);
}
