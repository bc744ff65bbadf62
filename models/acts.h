/* Private to models/: what model_forward keeps for model_backward, and the backward's scratch.
 * All of it lives in the one buffer `buf` (grown on demand, never shrunk), with named pointers
 * into it laid out for the current batch, so that model_free only has to free buf and the
 * struct. Per-layer tensors are stacked along a leading n_layer axis.
 *
 * The forward computes the (B, T) grid it is given as a tree of rows (see SeqLayout in
 * layers.h): sequence b keeps its positions 0 .. len_b-1, len_b = 1 + its last scored position
 * (0 if none), since causal attention makes later positions irrelevant to every scored one; and
 * a position whose tokens up to it equal an earlier sequence's is that sequence's row. N rows out
 * of P kept positions (P bounds every per-row array and is the per-layer stride); E scored
 * positions, each a (row, target) pair. C = d_model, F = d_ff, NH = n_head, V = vocab. */
#ifndef SCALERL_ACTS_H
#define SCALERL_ACTS_H

#include <stddef.h>

#include "models/layers.h"
#include "models/model.h"

struct ModelActs {
    int B, T; /* the grid of the last forward; 0 before the first */
    int P;    /* kept positions */
    int N;    /* rows */
    int E;    /* scored positions */
    float temperature;
    Precision prec;
    size_t capacity; /* floats allocated in buf */
    float *buf;

    /* the rows and sequences (ints and size_ts stored in float-sized slots of buf) */
    int *row_tok, *row_pos;    /* (P) token and position of each row */
    int *row_child, *row_sib;  /* (P) the prefix tree, while it is built */
    int *row_scored;           /* (P) scored positions on each row */
    int *path, *path_off, *own; /* SeqLayout's: (P), (B + 1), (B) */
    size_t *seq_att;           /* (B + 1) */
    int *ent_row, *ent_tgt, *ent_grid; /* (E) row, target and grid index b*T + t of each scored position */
    SeqLayout seq;
    size_t att_size;   /* attention floats per layer used */
    size_t att_stride; /* attention floats per layer laid out */

    /* saved activations */
    float *encoded;            /* (P, C) token + position embedding */
    float *ln1;                /* (L, P, C) */
    float *ln1_mean, *ln1_rstd; /* (L, P) */
    float *qkv;                /* (L, P, 3C) */
    float *att;                /* (L, att_stride) attention probabilities (row t: keys 0..t) */
    float *atty;               /* (L, P, C) attention output before the projection */
    float *res_mid;            /* (L, P, C) residual after the attention block */
    float *ln2;                /* (L, P, C) */
    float *ln2_mean, *ln2_rstd; /* (L, P) */
    float *fch;                /* (L, P, F) MLP hidden before GELU */
    float *fch_gelu;           /* (L, P, F) after GELU */
    float *fch_denom;          /* (L, P, F) gelu_forward's denominators, for the backward */
    float *res_out;            /* (L, P, C) residual after the MLP block (layer l's output) */
    float *lnf;                /* (P, C) */
    float *lnf_mean, *lnf_rstd; /* (P) */
    float *logits;             /* (P, V) before temperature (bf16-rounded when prec.bf16_head) */
    float *probs;              /* (P, V) softmax(logits / temperature); rows with no target unset */
    float *row_zmax, *row_logsum, *row_ent; /* (P) each: logsoftmax_forward's, per scored row */

    /* scratch: projection outputs in the forward, activation gradients in the backward */
    float *proj;   /* (P, C) */
    float *row_g;  /* (P) sum of dlogp / temperature over a row's scored positions */
    float *d_res;  /* (P, C) gradient of the residual stream */
    float *d_ln;   /* (P, C) gradient at a layer norm's output */
    float *d_qkv;  /* (P, 3C) */
    float *d_atty; /* (P, C) */
    float *d_fch;  /* (P, F) */
    float *d_logits; /* (P, V) */
    float *attn_scratch; /* (attn_scratch_size) */
    float *bf_inp; /* (P, max(C, F)) matmul input rounded to bfloat16 */
    float *bf_w;   /* (max(3C, F, V) * max(C, F)) weight rounded to bfloat16 */
};

#endif
