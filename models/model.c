/* Model configuration, parameter layout, allocation and initialization. The kernels are in
 * layers.c, the training forward/backward in forward.c, decoding in decode.c. */
#include "models/model.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/acts.h"
#include "models/rng.h"

int model_config_check(const ModelConfig *c, char *err)
{
    struct {
        const char *name;
        int value, lo, hi;
    } f[] = {
        {"vocab", c->vocab, 2, 65536},   {"ctx", c->ctx, 1, 4096},     {"d_model", c->d_model, 1, 4096},
        {"n_layer", c->n_layer, 1, 64}, {"n_head", c->n_head, 1, 256}, {"d_ff", c->d_ff, 1, 16384},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        if (f[i].value < f[i].lo || f[i].value > f[i].hi) {
            snprintf(err, ERR_LEN, "bad model config %s=%d: expected %d..%d", f[i].name, f[i].value,
                     f[i].lo, f[i].hi);
            return 1;
        }
    }
    if (c->d_model % c->n_head != 0) {
        snprintf(err, ERR_LEN, "bad model config: d_model=%d is not a multiple of n_head=%d", c->d_model,
                 c->n_head);
        return 1;
    }
    return 0;
}

size_t model_layout(const ModelConfig *c, TensorInfo t[MODEL_MAX_TENSORS], int *n_tensors)
{
    const int V = c->vocab, P = c->ctx, D = c->d_model, L = c->n_layer, F = c->d_ff;
    /* name, ndim, shape, decay: in buffer order, the order of ParamTensors. */
    const TensorInfo rows[] = {
        {"tok_emb", 2, {V, D, 0}, 0, 0, 1},      {"pos_emb", 2, {P, D, 0}, 0, 0, 1},
        {"ln1_g", 2, {L, D, 0}, 0, 0, 0},        {"ln1_b", 2, {L, D, 0}, 0, 0, 0},
        {"qkv_w", 3, {L, 3 * D, D}, 0, 0, 1},    {"qkv_b", 2, {L, 3 * D, 0}, 0, 0, 0},
        {"attn_out_w", 3, {L, D, D}, 0, 0, 1},   {"attn_out_b", 2, {L, D, 0}, 0, 0, 0},
        {"ln2_g", 2, {L, D, 0}, 0, 0, 0},        {"ln2_b", 2, {L, D, 0}, 0, 0, 0},
        {"mlp_in_w", 3, {L, F, D}, 0, 0, 1},     {"mlp_in_b", 2, {L, F, 0}, 0, 0, 0},
        {"mlp_out_w", 3, {L, D, F}, 0, 0, 1},    {"mlp_out_b", 2, {L, D, 0}, 0, 0, 0},
        {"lnf_g", 1, {D, 0, 0}, 0, 0, 0},        {"lnf_b", 1, {D, 0, 0}, 0, 0, 0},
        {"head_w", 2, {V, D, 0}, 0, 0, 1},
    };
    const int n = (int)(sizeof rows / sizeof rows[0]);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        t[i] = rows[i];
        size_t size = 1;
        for (int d = 0; d < t[i].ndim; d++) size *= (size_t)t[i].shape[d];
        t[i].offset = off;
        t[i].size = size;
        off += size;
    }
    *n_tensors = n;
    return off;
}

void model_views(const ModelConfig *cfg, float *base, ParamTensors *p)
{
    TensorInfo t[MODEL_MAX_TENSORS];
    int n;
    model_layout(cfg, t, &n);
    /* ParamTensors lists its fields in layout order, all float pointers. */
    float **field = (float **)p;
    for (int i = 0; i < n; i++) field[i] = base + t[i].offset;
}

/* A standard normal from two counter-based uniforms (Box-Muller). */
static float normal_draw(uint64_t seed, uint64_t tensor, uint64_t i)
{
    double u1 = rng_uniform(seed, 0x1417, tensor, 2 * i);
    double u2 = rng_uniform(seed, 0x1417, tensor, 2 * i + 1);
    return (float)(sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
}

/* GPT-2's scheme: weights and embeddings N(0, 0.02); the two projections that write into the
 * residual stream (attn_out_w, mlp_out_w) N(0, 0.02 / sqrt(2 n_layer)) so the residual's variance
 * does not grow with depth; biases 0; layer-norm gains 1. */
static void init_params(Model *m, uint64_t seed)
{
    const float base_std = 0.02f;
    const float resid_std = base_std / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int k = 0; k < m->n_tensors; k++) {
        const TensorInfo *t = &m->tensors[k];
        float *x = m->params + t->offset;
        const char *name = t->name;
        size_t len = strlen(name);
        int is_gain = len > 2 && strcmp(name + len - 2, "_g") == 0;
        if (is_gain) {
            for (size_t i = 0; i < t->size; i++) x[i] = 1.0f;
        } else if (!t->decay) {
            memset(x, 0, t->size * sizeof *x);
        } else {
            float std = (strcmp(name, "attn_out_w") == 0 || strcmp(name, "mlp_out_w") == 0) ? resid_std : base_std;
            for (size_t i = 0; i < t->size; i++) x[i] = std * normal_draw(seed, (uint64_t)k, i);
        }
    }
}

int model_create(Model *m, const ModelConfig *cfg, uint64_t seed, char *err)
{
    memset(m, 0, sizeof *m);
    if (model_config_check(cfg, err)) return 1;
    m->cfg = *cfg;
    m->n_params = model_layout(cfg, m->tensors, &m->n_tensors);
    size_t bytes = m->n_params * sizeof(float);
    /* One allocation for the four parameter-shaped buffers, each 64-byte aligned. */
    size_t stride = (bytes + 63) & ~(size_t)63;
    float *all = aligned_alloc(64, 4 * stride);
    if (!all) {
        snprintf(err, ERR_LEN, "out of memory allocating %zu parameters", m->n_params);
        return 2;
    }
    memset(all, 0, 4 * stride);
    m->params = all;
    m->grads = (float *)((char *)all + stride);
    m->adam_m = (float *)((char *)all + 2 * stride);
    m->adam_v = (float *)((char *)all + 3 * stride);
    model_views(cfg, m->params, &m->p);
    model_views(cfg, m->grads, &m->g);
    init_params(m, seed);
    return 0;
}

void model_zero_grad(Model *m)
{
    memset(m->grads, 0, m->n_params * sizeof(float));
}

double model_flops_token(const ModelConfig *c, int pos)
{
    const double D = c->d_model, F = c->d_ff, L = c->n_layer, V = c->vocab;
    double per_layer = 2.0 * (3 * D * D + D * D + 2 * D * F) /* qkv, out, mlp in and out */
                       + 2.0 * 2.0 * D * (pos + 1);       /* scores q.k and the weighted sum of v */
    return L * per_layer + 2.0 * D * V;                    /* plus the LM head */
}

void model_set_threads(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
}

void model_free(Model *m)
{
    if (m->acts) {
        free(m->acts->buf);
        free(m->acts);
    }
    free(m->params); /* the one allocation behind params, grads and both moments */
    memset(m, 0, sizeof *m);
}
