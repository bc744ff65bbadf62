/* Private to models/: the transformer's kernels as forward/backward pairs, in llm.c's argument
 * order (outputs, saved activations, inputs, sizes). Rows are tokens: N = B*T rows of width C.
 *
 * Gradient conventions: every backward ADDS into parameter gradients (dw, db, dg, ...), so that
 * several backward passes may accumulate before an optimizer step. Activation gradients are
 * written (overwritten) unless a comment says "accumulates": only layer norm's input gradient
 * accumulates, because it lands on the residual stream, which already holds the gradient that
 * flows around the block.
 *
 * Determinism: every kernel that runs on several OpenMP threads splits its *outputs* into fixed
 * tiles that do not depend on the thread count, and each output element is computed by the same
 * code whichever thread runs its tile; no kernel reduces across threads. So 1 and n threads give
 * byte-identical results. */
#ifndef SCALERL_LAYERS_H
#define SCALERL_LAYERS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define LN_EPS 1e-5f

/* Whether a kernel should fork a team for its loops: the work is worth it (`worth`: above the
 * kernel's size threshold), more than one thread is allowed, and no team is running yet (inside
 * one, a nested region would be a team of one). Otherwise the kernel runs the same loops on the
 * calling thread without entering the OpenMP runtime: libgomp ends even a one-thread region with
 * a futex system call, which on a virtual machine traps to the hypervisor (models/README.md,
 * "Threads and determinism"). Results never depend on it: the work is split by shapes alone. */
int par_team(int worth);

/* Rows per sgemm call when a matmul over N rows is split across threads: a function of N only,
 * never of the thread count (see models/README.md, "Threads and determinism"). */
int matmul_row_tile(int N);

/* exp(x) for float, accurate to about 2 ulp, from + - * only (no libm call): inlined, so that the
 * compiler vectorizes loops that use it, and a vector lane and the scalar tail give identical
 * results. */
static inline float fast_expf(float x)
{
    /* Clamp to the range where 2^k below is a normal float; exp(-87) ~ 1.6e-38 stands in for
     * anything smaller and exp(88) ~ 1.7e38 for anything larger (no kernel needs more). */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* NaN passes both clamps: it is computed as 0, so that converting k to an integer stays
     * defined, and returned as the NaN it is (a select, which vectorizes like the clamps). */
    const int is_nan = x != x;
    const float x_in = x;
    x = is_nan ? 0.0f : x;
    /* x = k ln2 + r with k = round(x / ln2), |r| <= ln2/2; adding and subtracting 1.5 * 2^23
     * rounds to the nearest integer in the current (nearest) rounding mode. */
    const float shifter = 12582912.0f;
    float k = (x * 1.44269504088896341f + shifter) - shifter;
    /* ln2 split in two so that k * ln2_hi is exact and r keeps full precision. */
    float r = x - k * 0.693145751953125f;
    r = r - k * 1.428606765330187045e-06f;
    /* Taylor series of exp(r) to degree 7: the next term is below 6e-9 relative for |r| <= ln2/2. */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return is_nan ? x_in : p * scale;
}

/* Rounds to the nearest bfloat16 (round to nearest, ties to even), kept in a float. NaN stays NaN,
 * infinities stay infinite, values past the largest bfloat16 become infinite. */
float bf16_round(float x);
void bf16_round_array(float *out, const float *in, size_t n);

/* out[n, :] = tok_emb[tokens[n], :] + pos_emb[pos[n], :]. pos NULL: pos[n] = n % T. */
void embed_forward(float *out, const int *tokens, const int *pos, const float *tok_emb, const float *pos_emb,
                   int N, int T, int C);
/* Adds the rows of dout into the rows of the embeddings they were read from (pos as in
 * embed_forward). */
void embed_backward(float *dtok_emb, float *dpos_emb, const float *dout, const int *tokens, const int *pos, int N,
                    int T, int C);

/* out = (x - mean) * rstd * g + b per row, rstd = 1 / sqrt(biased variance + LN_EPS). mean and
 * rstd (N each) are saved for the backward; either may be NULL when no backward will follow. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *g, const float *b,
                       int N, int C);
/* dinp accumulates; dg, db accumulate. */
void layernorm_backward(float *dinp, float *dg, float *db, const float *dout, const float *inp, const float *g,
                        const float *mean, const float *rstd, int N, int C);

/* Scratch for bfloat16 emulation of one matmul: room for the rounded input (N*IN floats) and the
 * rounded weight (OUT*IN floats). w NULL: the weight passed is already rounded (the KV-cache
 * decode rounds all weights once per step). */
typedef struct {
    float *inp;
    float *w;
} Bf16Scratch;

/* out (N,OUT) = inp (N,IN) w^T + bias, w stored (OUT,IN); bias may be NULL. With bf (not NULL),
 * inp and w are first rounded to bfloat16 into bf's buffers; accumulation stays FP32. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, int N, int IN, int OUT,
                    const Bf16Scratch *bf);
/* The same in tiles of rt rows (matmul_forward: matmul_row_tile(N)); a caller already on one of
 * its own threads per block of rows passes rt = N, one sgemm (and one packing of w) per block. */
void matmul_forward_tiled(float *out, const float *inp, const float *w, const float *bias, int N, int IN, int OUT,
                          const Bf16Scratch *bf, int rt);
/* dinp (N,IN) = dout w (written; dinp may be NULL), dw += dout^T inp, db += column sums of dout
 * (db may be NULL). With bf, uses the same rounded inp and w as the forward (the rounding itself
 * is passed straight through). */
void matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IN, int OUT, const Bf16Scratch *bf);

/* GELU, tanh approximation (as GPT-2): gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
 * computed as x / (1 + exp(-u)), u = 2 sqrt(2/pi) (x + 0.044715 x^3), which is the same function.
 * denom (NULL: not kept) gets each element's 1 + exp(-u), for the backward. */
void gelu_forward(float *out, float *denom, const float *inp, size_t n);
/* dinp = dout * gelu'(inp), written; denom is gelu_forward's. */
void gelu_backward(float *dinp, const float *inp, const float *denom, const float *dout, size_t n);

/* out = a + b. */
void residual_forward(float *out, const float *a, const float *b, size_t n);

/* Attention loops over keys run in whole blocks of this many (one 64-byte vector of floats), so
 * key arrays are padded: n keys occupy attn_keys_padded(n) columns. */
#define ATTN_KEY_BLOCK 16
int attn_keys_padded(int n);

/* One attention query per head for one position: head h's query q + h*head_dim against n_keys
 * keys, given transposed in blocks of ATTN_KEY_BLOCK keys (component i of key s of head h is
 * kT[h*khead + (s / ATTN_KEY_BLOCK) * kblk + i * ldk + s % ATTN_KEY_BLOCK]), and values
 * row-major (v[s*ldv + h*head_dim + i]). Writes head h's attention probabilities
 * p[h*ldp + s] = softmax_s(scale * q.k_s) for s < n_keys, zeros up to attn_keys_padded(n_keys),
 * and y[h*head_dim + i] = sum_s p[h*ldp + s] v_s. kT must hold finite values for every key up to
 * attn_keys_padded(n_keys). One sequence's transposed keys in a plain (head_dim, ld) matrix per
 * head are ldk = ld, kblk = ATTN_KEY_BLOCK, khead = head_dim * ld. */
void attention_query(float *y, float *p, size_t ldp, const float *q, const float *kT, int ldk, size_t kblk,
                     size_t khead, const float *v, int ldv, int n_keys, int n_heads, int head_dim, float scale);

/* A batch of sequences sharing rows, as the training forward keeps it. Rows are distinct prefixes:
 * position t of sequence b is row path[path_off[b] + t], and two sequences whose tokens agree up
 * to position t have the same row there (causal attention makes its activations the same). The
 * rows of sequence b from position own[b] on are its own (no earlier sequence has them), the ones
 * before are an earlier sequence's; a sequence may be empty or have no position of its own. Its
 * attention probabilities (own positions only) start at float att[b] of a layer's buffer: NH
 * blocks, one per head, of (T_b - own[b]) rows by attn_keys_padded(T_b) columns, T_b =
 * path_off[b+1] - path_off[b]. The rows are 0 .. n_rows-1. */
typedef struct {
    int B;
    int n_rows;
    const int *path_off; /* (B + 1) */
    const int *path;     /* (path_off[B]) */
    const int *own;      /* (B) */
    const size_t *att;   /* (B + 1) */
} SeqLayout;

/* Floats of scratch that attention_forward and attention_backward need. */
size_t attn_scratch_size(const SeqLayout *sl, int C);

/* Causal multi-head attention over the sequences of sl: for each sequence, every position of its
 * own attends to the rows of its path up to it, through one attention_query for all heads (so the
 * training forward and the KV-cache decode compute each score and probability alike). qkv (N, 3C):
 * per row q, then k, then v, each split into NH heads of C/NH channels. Writes out (N, C), every
 * row once (by the sequence that owns it), and saves att (sl's layout): row t holds the
 * probabilities over keys 0..t, zeros after. Scores are scaled by 1/sqrt(C/NH). */
void attention_forward(float *out, float *att, float *scratch, const float *qkv, const SeqLayout *sl, int C,
                       int NH);
/* dqkv (N, 3C) written: q's part by the row's owner, k's and v's parts summed over every sequence
 * whose path holds the row, in sequence order. */
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                        const SeqLayout *sl, int C, int NH);

/* Softmax of logits / temperature for the rows with scored[n] != 0: writes probs (N,V) (saved for
 * the backward), zmax[n] = max_v logits[n,v] / temperature, logsum[n] = log sum_v exp(z_v - zmax)
 * (so that log probs[n, v] = (logits[n,v] / temperature - zmax[n]) - logsum[n]) and, if entropy is
 * not NULL, entropy[n] = -sum probs log probs. Other rows are left alone. */
void logsoftmax_forward(float *probs, float *zmax, float *logsum, float *entropy, const float *logits,
                        const int *scored, float temperature, int N, int V);
/* dlogits[n, v] = -gsum[n] probs[n, v] for scored rows, 0 for the others, written; the caller
 * then adds each scored target's g at its target (d log p_t / d z = onehot(t) - probs). */
void logsoftmax_backward(float *dlogits, const float *probs, const int *scored, const float *gsum, int N, int V);

#endif
