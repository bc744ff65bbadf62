/* AdamW, global-norm clipping and the learning-rate schedule. Formulas in models/README.md,
 * "Optimizer".
 *
 * Every loop is elementwise except the norm, whose reduction order is fixed (see NORM_CHUNKS), so
 * results are byte-identical for any OpenMP thread count. */
#include "models/optim.h"

#include <math.h>

#include "models/layers.h"

/* The gradient is summed in this many contiguous chunks, a number that does not depend on the
 * thread count: each chunk is summed sequentially in double, then the chunk sums are added in
 * chunk order. 256 chunks keep any realistic core count busy. */
#define NORM_CHUNKS 256
/* Below this many floats a parallel region costs more than the loop it would split. */
#define PARALLEL_MIN 32768

/* Chunk c's sum of squares, in double, in index order. */
static double chunk_square_sum(const float *g, size_t n, int c)
{
    size_t lo = n * (size_t)c / NORM_CHUNKS, hi = n * (size_t)(c + 1) / NORM_CHUNKS;
    double s = 0.0;
    for (size_t i = lo; i < hi; i++) s += (double)g[i] * (double)g[i];
    return s;
}

double grad_global_norm(const Model *m)
{
    const size_t n = m->n_params;
    const float *g = m->grads;
    double chunk_sum[NORM_CHUNKS];
    if (par_team(n >= PARALLEL_MIN)) {
#pragma omp parallel for schedule(static)
        for (int c = 0; c < NORM_CHUNKS; c++) chunk_sum[c] = chunk_square_sum(g, n, c);
    } else {
        for (int c = 0; c < NORM_CHUNKS; c++) chunk_sum[c] = chunk_square_sum(g, n, c);
    }
    double total = 0.0;
    for (int c = 0; c < NORM_CHUNKS; c++) total += chunk_sum[c];
    return sqrt(total);
}

/* A non-finite norm is returned unclipped: scaling by max_norm/inf would turn the finite entries
 * into zeros and the infinite ones into NaN, hiding the divergence the caller must see. */
double grad_clip(Model *m, double max_norm)
{
    double norm = grad_global_norm(m);
    if (max_norm > 0 && isfinite(norm) && norm > max_norm) {
        const float scale = (float)(max_norm / norm);
        const size_t n = m->n_params;
        float *g = m->grads;
        if (par_team(n >= PARALLEL_MIN)) {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < n; i++) g[i] *= scale;
        } else {
            for (size_t i = 0; i < n; i++) g[i] *= scale;
        }
    }
    return norm;
}

/* AdamW on parameter i (formulas in models/README.md, "Optimizer"). */
static inline void adamw_one(float *p, float *mom1, float *mom2, const float *g, size_t i, double b1, double b2,
                             double eps, double shrink, double step_size, double inv_sqrt_bc2)
{
    double gi = g[i];
    double mi = b1 * mom1[i] + (1.0 - b1) * gi;
    double vi = b2 * mom2[i] + (1.0 - b2) * gi * gi;
    mom1[i] = (float)mi;
    mom2[i] = (float)vi;
    p[i] = (float)(shrink * p[i] - step_size * mi / (sqrt(vi) * inv_sqrt_bc2 + eps));
}

void adamw_step(Model *m, const AdamWConfig *c, double lr)
{
    m->adam_step++;
    const double t = (double)m->adam_step;
    const double b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    /* Bias correction: the moments start at zero, so early on they underestimate the gradient's
     * mean and square by these factors. */
    const double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    const double step_size = lr / bc1, inv_sqrt_bc2 = 1.0 / sqrt(bc2);
    float *p = m->params, *mom1 = m->adam_m, *mom2 = m->adam_v;
    const float *g = m->grads;
    for (int k = 0; k < m->n_tensors; k++) {
        const TensorInfo *ti = &m->tensors[k];
        /* Decoupled decay (Loshchilov & Hutter): shrink the weight itself, not the gradient, and
         * only on matrices and embeddings; biases and layer-norm gains are left alone. */
        const double shrink = ti->decay ? 1.0 - lr * c->weight_decay : 1.0;
        const size_t lo = ti->offset, hi = ti->offset + ti->size;
        if (par_team(hi - lo >= PARALLEL_MIN)) {
#pragma omp parallel for schedule(static)
            for (size_t i = lo; i < hi; i++)
                adamw_one(p, mom1, mom2, g, i, b1, b2, eps, shrink, step_size, inv_sqrt_bc2);
        } else {
            for (size_t i = lo; i < hi; i++)
                adamw_one(p, mom1, mom2, g, i, b1, b2, eps, shrink, step_size, inv_sqrt_bc2);
        }
    }
}

double lr_at(long step, double lr, long warmup, long total_steps, LrShape shape, double min_lr)
{
    if (step < 0) step = 0;
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (shape == LR_CONSTANT) return lr;
    if (step >= total_steps) return min_lr;
    /* total_steps > step >= warmup here, so the span is at least 1. */
    double progress = (double)(step - warmup) / (double)(total_steps - warmup);
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + cos(3.14159265358979323846 * progress));
}
