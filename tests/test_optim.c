/* AdamW, clipping, global norm and learning-rate schedule against hand-computed values. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"
#include "models/optim.h"
#include "models/rng.h"
#include "tests/test.h"

/* Over 32768 parameters, so the parallel paths (which only start above that size) really run. */
static const ModelConfig cfg = {40, 32, 64, 2, 4, 256};

static Model new_model(void)
{
    Model m;
    char err[ERR_LEN];
    if (model_create(&m, &cfg, 7, err)) {
        printf("FAIL model_create: %s\n", err);
        exit(1);
    }
    return m;
}

static const TensorInfo *tensor(const Model *m, const char *name)
{
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensors[k].name, name) == 0) return &m->tensors[k];
    printf("FAIL tensor lookup: no tensor '%s'\n", name);
    exit(1);
}

/* Gradients spread over six orders of magnitude, so the norm's sum is sensitive to its order. */
static void random_grads(Model *m, uint64_t seed)
{
    for (size_t i = 0; i < m->n_params; i++) {
        double u = rng_uniform(seed, 1, 0, i), e = rng_uniform(seed, 2, 0, i);
        m->grads[i] = (float)((u - 0.5) * pow(10.0, -6.0 * e));
    }
}

/* Two steps on two parameters holding 1.0, one in a decayed tensor (tok_emb) and one in a bias
 * (ln1_b), with gradients 0.5 then -0.25; beta1 0.9, beta2 0.999, eps 1e-8, lr 0.1, wd 0.5.
 * By hand:
 *   step 1: m = 0.05, v = 0.00025; bias-corrected m^ = 0.05/0.1 = 0.5, v^ = 0.00025/0.001 = 0.25,
 *     so the update is lr * 0.5/(0.5 + 1e-8) = 0.1 (without bias correction it would be
 *     0.1 * 0.05/sqrt(0.00025) = 0.316). Decayed: 1*(1 - 0.1*0.5) - 0.1 = 0.85; bias: 0.9.
 *   step 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02, v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225;
 *     m^ = 0.02/0.19 = 0.1052632, v^ = 0.00031225/0.001999 = 0.1562031, sqrt 0.3952254,
 *     update 0.1 * 0.2663367 = 0.02663367. Decayed: 0.85*0.95 - 0.02663367 = 0.78086633;
 *     bias: 0.9 - 0.02663367 = 0.87336633. */
static void test_adamw_hand_computed(void)
{
    Model m = new_model();
    const size_t wi = tensor(&m, "tok_emb")->offset + 3, bi = tensor(&m, "ln1_b")->offset + 5;
    m.params[wi] = 1.0f;
    m.params[bi] = 1.0f;
    const AdamWConfig c = {0.9, 0.999, 1e-8, 0.5};
    const float g[2] = {0.5f, -0.25f};
    const double want_w[2] = {0.85, 0.78086633}, want_b[2] = {0.9, 0.87336633};
    for (int s = 0; s < 2; s++) {
        model_zero_grad(&m);
        m.grads[wi] = m.grads[bi] = g[s];
        adamw_step(&m, &c, 0.1);
        /* float32 storage of values near 1 (ulp 6e-8) and of the moments, over two steps; the
         * hand values carry 8 digits: 2e-7 separates them from any formula slip (the smallest,
         * eps, moves the result by 2e-9; a missing bias correction by 0.2). */
        char name[64];
        snprintf(name, sizeof name, "adamw step %d decayed weight", s + 1);
        CHECK_CLOSE(m.params[wi], want_w[s], 2e-7, name);
        snprintf(name, sizeof name, "adamw step %d bias (no decay)", s + 1);
        CHECK_CLOSE(m.params[bi], want_b[s], 2e-7, name);
    }
    CHECK(m.adam_step == 2, "adamw counts steps", "adam_step %ld, want 2", m.adam_step);
    /* Moments are stored raw (not bias-corrected): relative float rounding 1e-7. */
    CHECK_CLOSE(m.adam_m[wi], 0.02, 1e-8, "adamw first moment after two steps");
    CHECK_CLOSE(m.adam_v[wi], 0.00031225, 1e-10, "adamw second moment after two steps");
    model_free(&m);
}

/* With zero gradients Adam's update is 0/(0 + eps) = 0, so only weight decay moves parameters:
 * every weight matrix and embedding shrinks by exactly (1 - lr*wd), biases and gains stay. The
 * rule is checked by name, independently of the layout's decay flags. */
static void test_decay_only_on_weights(void)
{
    Model m = new_model();
    float *before = malloc(m.n_params * sizeof *before);
    memcpy(before, m.params, m.n_params * sizeof *before);
    model_zero_grad(&m);
    const AdamWConfig c = {0.9, 0.95, 1e-15, 0.1};
    adamw_step(&m, &c, 0.01);
    for (int k = 0; k < m.n_tensors; k++) {
        const TensorInfo *t = &m.tensors[k];
        size_t len = strlen(t->name);
        int exempt = strcmp(t->name + len - 2, "_b") == 0 || strcmp(t->name + len - 2, "_g") == 0;
        double worst = 0;
        for (size_t i = t->offset; i < t->offset + t->size; i++) {
            double want = exempt ? before[i] : before[i] * (1.0 - 0.01 * 0.1);
            worst = fmax(worst, fabs(m.params[i] - want));
        }
        char name[96];
        snprintf(name, sizeof name, "weight decay %s %s", exempt ? "skips" : "applies to", t->name);
        /* Exempt tensors must be bit-exact; decayed ones are within one float rounding of
         * values below 0.1 (5e-9), far below the decay's own effect (1e-3 relative, 2e-5). */
        CHECK(worst <= (exempt ? 0.0 : 1e-8), name, "max deviation %.3g", worst);
    }
    free(before);
    model_free(&m);
}

static double plain_norm(const Model *m)
{
    double s = 0;
    for (size_t i = 0; i < m->n_params; i++) s += (double)m->grads[i] * m->grads[i];
    return sqrt(s);
}

static void test_norm_and_clip(void)
{
    Model m = new_model();
    random_grads(&m, 11);
    double want = plain_norm(&m), got = grad_global_norm(&m);
    /* Both sum squares in double, in different orders: relative error ~ n * 2^-53 = 1e-11 at
     * worst; 1e-10 still catches any float accumulation (1e-4 relative at this size). */
    CHECK_CLOSE(got / want, 1.0, 1e-10, "global norm matches a double-precision loop");

    float *before = malloc(m.n_params * sizeof *before);
    memcpy(before, m.grads, m.n_params * sizeof *before);
    double ret = grad_clip(&m, 2.0 * want);
    CHECK(ret == got && memcmp(before, m.grads, m.n_params * sizeof *before) == 0,
          "clip below the threshold leaves gradients alone", "returned %.17g (norm %.17g)", ret, got);
    grad_clip(&m, 0.0);
    CHECK(memcmp(before, m.grads, m.n_params * sizeof *before) == 0, "clip with max_norm 0 is off",
          "gradients changed");

    const double max_norm = want / 3.0;
    ret = grad_clip(&m, max_norm);
    CHECK(ret == got, "clip returns the norm before clipping", "returned %.17g, want %.17g", ret, got);
    /* One float rounding of the scale and of each product: relative error below 2e-7. */
    CHECK_CLOSE(plain_norm(&m) / max_norm, 1.0, 2e-7, "clip scales to max_norm");
    free(before);
    model_free(&m);
}

/* The norm's chunking and the elementwise updates make results independent of thread count:
 * compared bit for bit. */
static void test_thread_count_invariance(void)
{
    Model m = new_model();
    random_grads(&m, 5);
    const int threads[3] = {1, 2, 3};
    double norm[3];
    for (int i = 0; i < 3; i++) {
        omp_set_num_threads(threads[i]);
        norm[i] = grad_global_norm(&m);
    }
    CHECK(memcmp(&norm[0], &norm[1], sizeof(double)) == 0 && memcmp(&norm[0], &norm[2], sizeof(double)) == 0,
          "global norm identical with 1, 2 and 3 threads", "%.17g %.17g %.17g", norm[0], norm[1], norm[2]);

    Model a = new_model(), b = new_model();
    const AdamWConfig c = {0.9, 0.999, 1e-8, 0.01};
    for (int s = 0; s < 3; s++) {
        random_grads(&a, 100 + (uint64_t)s);
        random_grads(&b, 100 + (uint64_t)s);
        omp_set_num_threads(1);
        adamw_step(&a, &c, 1e-3);
        omp_set_num_threads(2);
        adamw_step(&b, &c, 1e-3);
    }
    int same = memcmp(a.params, b.params, a.n_params * sizeof(float)) == 0 &&
               memcmp(a.adam_m, b.adam_m, a.n_params * sizeof(float)) == 0 &&
               memcmp(a.adam_v, b.adam_v, a.n_params * sizeof(float)) == 0;
    CHECK(same, "adamw identical with 1 and 2 threads", "parameters or moments differ");
    model_free(&a);
    model_free(&b);
    model_free(&m);
}

static void test_lr_schedule(void)
{
    const double lr = 1e-3, lo = 1e-5;
    /* Plain double arithmetic: 1e-18 absolute on rates near 1e-3 is 1e-15 relative, a few roundings. */
    const double tol = 1e-18;
    CHECK_CLOSE(lr_at(0, lr, 100, 1000, LR_CONSTANT, 0), lr / 100, tol, "lr warmup starts at lr/warmup");
    CHECK_CLOSE(lr_at(49, lr, 100, 1000, LR_CONSTANT, 0), lr / 2, tol, "lr warmup is linear");
    CHECK_CLOSE(lr_at(99, lr, 100, 1000, LR_CONSTANT, 0), lr, tol, "lr warmup reaches lr at its last step");
    CHECK_CLOSE(lr_at(100, lr, 100, 1000, LR_CONSTANT, 0), lr, tol, "lr constant after warmup");
    CHECK_CLOSE(lr_at(5000, lr, 100, 1000, LR_CONSTANT, 0), lr, tol, "lr constant past total_steps");
    CHECK_CLOSE(lr_at(0, lr, 0, 1000, LR_CONSTANT, 0), lr, tol, "lr without warmup starts at lr");
    CHECK_CLOSE(lr_at(100, lr, 100, 1000, LR_COSINE, lo), lr, tol, "cosine starts at lr after warmup");
    CHECK_CLOSE(lr_at(550, lr, 100, 1000, LR_COSINE, lo), (lr + lo) / 2, tol, "cosine is halfway at mid-span");
    CHECK_CLOSE(lr_at(1000, lr, 100, 1000, LR_COSINE, lo), lo, tol, "cosine ends at min_lr");
    CHECK_CLOSE(lr_at(999, lr, 100, 1000, LR_COSINE, lo), lo + 0.5 * (lr - lo) * (1 + cos(M_PI * 899 / 900)),
                tol, "cosine one step before the end");
    CHECK_CLOSE(lr_at(4000, lr, 100, 1000, LR_COSINE, lo), lo, tol, "cosine stays at min_lr after the end");
    CHECK_CLOSE(lr_at(0, lr, 10, 5, LR_COSINE, lo), lr / 10, tol, "cosine with total below warmup: warmup");
    CHECK_CLOSE(lr_at(10, lr, 10, 5, LR_COSINE, lo), lo, tol, "cosine with total below warmup: then min_lr");
}

int main(void)
{
    test_adamw_hand_computed();
    test_decay_only_on_weights();
    test_norm_and_clip();
    test_thread_count_invariance();
    test_lr_schedule();
    return test_main_result();
}
