/* Private to models/: what model_forward keeps for model_backward, and the backward's scratch.
 * All of it lives in the one buffer `buf` (grown on demand, never shrunk), with named pointers
 * into it laid out for the current batch, so that model_free only has to free buf and the
 * struct. Per-layer tensors are stacked along a leading n_layer axis.
 *
 * The forward packs the (B, T) grid it is given: sequence b keeps its positions 0 .. len_b-1,
 * len_b = 1 + its last scored position (0 if none), since causal attention makes later positions
 * irrelevant to every scored one. Rows are these N = sum len_b packed tokens, back to back (see
 * SeqLayout in layers.h). C = d_model, F = d_ff, NH = n_head, V = vocab. */
#ifndef SCALERL_ACTS_H
#define SCALERL_ACTS_H

#include <stddef.h>

#include "models/layers.h"
#include "models/model.h"

struct ModelActs {
    int B, T; /* the grid of the last forward; 0 before the first */
    int N;    /* packed rows */
    float temperature;
    Precision prec;
    size_t capacity; /* floats allocated in buf */
    float *buf;

    /* the packed batch (ints and size_ts stored in float-sized slots of buf) */
    int *tokens;  /* (N) */
    int *targets; /* (N) */
    int *pos;     /* (N) position of each row in its sequence */
    int *grid;    /* (N) index b*T + pos of each row in the grid */
    int *seq_row; /* (B + 1) */
    size_t *seq_att; /* (B + 1) */
    SeqLayout seq;
    size_t att_size; /* floats of attention probabilities per layer */

    /* saved activations */
    float *encoded;            /* (N, C) token + position embedding */
    float *ln1;                /* (L, N, C) */
    float *ln1_mean, *ln1_rstd; /* (L, N) */
    float *qkv;                /* (L, N, 3C) */
    float *att;                /* (L, att_size) attention probabilities (row t: keys 0..t) */
    float *atty;               /* (L, N, C) attention output before the projection */
    float *res_mid;            /* (L, N, C) residual after the attention block */
    float *ln2;                /* (L, N, C) */
    float *ln2_mean, *ln2_rstd; /* (L, N) */
    float *fch;                /* (L, N, F) MLP hidden before GELU */
    float *fch_gelu;           /* (L, N, F) after GELU */
    float *res_out;            /* (L, N, C) residual after the MLP block (layer l's output) */
    float *lnf;                /* (N, C) */
    float *lnf_mean, *lnf_rstd; /* (N) */
    float *logits;             /* (N, V) before temperature (bf16-rounded when prec.bf16_head) */
    float *probs;              /* (N, V) softmax(logits / temperature); rows with target -1 unset */
    float *logp, *entropy;     /* (N) each, before they are scattered to the grid */

    /* scratch: projection outputs in the forward, activation gradients in the backward */
    float *proj;   /* (N, C) */
    float *dlogp;  /* (N) the caller's dlogp gathered from the grid */
    float *d_res;  /* (N, C) gradient of the residual stream */
    float *d_ln;   /* (N, C) gradient at a layer norm's output */
    float *d_qkv;  /* (N, 3C) */
    float *d_atty; /* (N, C) */
    float *d_fch;  /* (N, F) */
    float *d_logits; /* (N, V) */
    float *attn_t[4]; /* (attn_scratch_size) each: transposed heads and score rows for attention */
    float *bf_inp; /* (N, max(C, F)) matmul input rounded to bfloat16 */
    float *bf_w;   /* (max(3C, F, V) * max(C, F)) weight rounded to bfloat16 */
};

#endif
