/* The transformer: a decoder-only, pre-norm GPT with learned positions, GELU MLP and an untied
 * LM head. Nothing here knows about RL or tasks.
 *
 * Memory: one contiguous float buffer holds every parameter; named pointers (ParamTensors) point
 * into it. Gradients and the two Adam moments are buffers of the same size and layout, so a
 * parameter's gradient is at the same offset in `grads` as the parameter in `params`. Layer
 * tensors are stacked along a leading n_layer axis. Linear weights are stored (out, in): y = x W^T
 * + b, as in llm.c.
 *
 * Errors: errbuf.h's convention (0 ok, 1 bad input, 2 I/O; a one-line message in err). */
#ifndef SCALERL_MODEL_H
#define SCALERL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define MODEL_MAX_TENSORS 20

typedef struct {
    int vocab;   /* number of token ids */
    int ctx;     /* maximum sequence length: positions 0..ctx-1 */
    int d_model; /* residual width */
    int n_layer;
    int n_head;  /* d_model % n_head == 0 */
    int d_ff;    /* MLP hidden width */
} ModelConfig;

/* 0 if the config is usable, else 1 with err naming the bad field and the accepted range. */
int model_config_check(const ModelConfig *c, char *err);

/* Named views into a parameter-shaped buffer (parameters, gradients or moments). */
typedef struct {
    float *tok_emb;    /* (vocab, d_model) */
    float *pos_emb;    /* (ctx, d_model) */
    float *ln1_g;      /* (n_layer, d_model) */
    float *ln1_b;      /* (n_layer, d_model) */
    float *qkv_w;      /* (n_layer, 3*d_model, d_model): rows of q, then k, then v */
    float *qkv_b;      /* (n_layer, 3*d_model) */
    float *attn_out_w; /* (n_layer, d_model, d_model) */
    float *attn_out_b; /* (n_layer, d_model) */
    float *ln2_g;      /* (n_layer, d_model) */
    float *ln2_b;      /* (n_layer, d_model) */
    float *mlp_in_w;   /* (n_layer, d_ff, d_model) */
    float *mlp_in_b;   /* (n_layer, d_ff) */
    float *mlp_out_w;  /* (n_layer, d_model, d_ff) */
    float *mlp_out_b;  /* (n_layer, d_model) */
    float *lnf_g;      /* (d_model) */
    float *lnf_b;      /* (d_model) */
    float *head_w;     /* (vocab, d_model): logits = lnf(x) head_w^T, no bias */
} ParamTensors;

/* One row of the tensor table, in buffer order; names match the ParamTensors fields. */
typedef struct {
    const char *name;
    int ndim;
    int shape[3];
    size_t offset; /* in floats, from the start of the buffer */
    size_t size;   /* in floats */
    int decay;     /* 1 for weight matrices and embeddings (AdamW decays them), 0 for biases, gains */
} TensorInfo;

/* Fills the tensor table for cfg and returns the total parameter count. */
size_t model_layout(const ModelConfig *cfg, TensorInfo tensors[MODEL_MAX_TENSORS], int *n_tensors);
/* Points every field of t into base, which holds a buffer of the layout's size. */
void model_views(const ModelConfig *cfg, float *base, ParamTensors *t);

/* Numerics switches. bf16_matmul rounds the inputs of every body matmul to bfloat16
 * (round-to-nearest-even) with FP32 accumulation, to emulate a reduced-precision generator;
 * bf16_head does the same for the LM head and also rounds the logits to bfloat16. */
typedef struct {
    int bf16_matmul;
    int bf16_head;
} Precision;

typedef struct ModelActs ModelActs; /* training activations, private to models/ */

typedef struct {
    ModelConfig cfg;
    size_t n_params;
    int n_tensors;
    TensorInfo tensors[MODEL_MAX_TENSORS];
    float *params; /* n_params floats */
    float *grads;  /* n_params floats, zeroed by model_zero_grad */
    float *adam_m; /* n_params floats */
    float *adam_v; /* n_params floats */
    long adam_step; /* optimizer steps taken (for bias correction) */
    ParamTensors p, g;
    ModelActs *acts; /* grown on demand by model_forward */
} Model;

/* Allocates a model with the given config and initializes its parameters from seed
 * (initialization documented in models/README.md). Moments zero, adam_step 0. */
int model_create(Model *m, const ModelConfig *cfg, uint64_t seed, char *err);
void model_free(Model *m);
void model_zero_grad(Model *m);

/* Training forward over B sequences of T tokens, tokens[b*T + t] at position t (every sequence
 * starts at position 0; shorter sequences are padded at the end, which causal attention makes
 * harmless). For every position, targets[b*T + t] is the token to score there, or -1 to skip it.
 * Writes logp[b*T + t] = log softmax(logits / temperature)[target] (0 where skipped), computed in
 * FP32 (bfloat16-emulated when prec.bf16_head), and, if entropy is not NULL, the entropy of that
 * distribution at each scored position (0 where skipped). Keeps what model_backward needs.
 * Returns 0, 1 with err when B*T or T is out of range, a token or target id is invalid or the
 * temperature is not a finite value > 0, or 2 with err when the activations cannot be allocated. */
int model_forward(Model *m, const int *tokens, const int *targets, int B, int T, float temperature,
                  Precision prec, float *logp, float *entropy, char *err);

/* Backward of the last model_forward: dlogp[b*T + t] is dLoss/dlogp at each position (ignored
 * where the target was -1). Accumulates into m->grads. */
void model_backward(Model *m, const float *dlogp);

/* Analytic forward FLOPs of one token at position pos (attending to pos+1 keys): 2 per
 * multiply-add of every matmul, including attention scores and values and the LM head. */
double model_flops_token(const ModelConfig *cfg, int pos);

/* Sets the OpenMP thread count for model kernels and pins OpenBLAS to one thread, so that the
 * two never oversubscribe the cores (see models/README.md, "Threads and determinism").
 * n <= 0: all cores. */
void model_set_threads(int n);

#endif
