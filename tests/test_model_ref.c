/* The C model against an independent PyTorch implementation of models/README.md's architecture
 * (tests/make_torch_ref.py, which documents the file format of tests/data/torch_ref.bin): the
 * same parameters and inputs must give the same logits, log-probabilities, entropies, parameter
 * gradients, and bfloat16-emulated log-probabilities. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/decode.h"
#include "models/model.h"
#include "tests/rounding.h"
#include "tests/test.h"

#define REF_PATH "tests/data/torch_ref.bin"
/* The gradient tolerance, in ulps (FLT_EPSILON) of each tensor's largest gradient; reason at its
 * use. */
#define GRAD_ULPS 128.0

typedef struct {
    int32_t hdr[9]; /* vocab, ctx, d_model, n_layer, n_head, d_ff, B, T, n_params */
    float temperature;
    int32_t *tokens, *targets;
    float *dlogp, *params, *logits, *logp, *entropy, *grads, *logp_bf16;
} Ref;

static int read_exact(FILE *f, void *dst, size_t bytes)
{
    return fread(dst, 1, bytes, f) == bytes;
}

static void *read_array(FILE *f, size_t n, size_t elem, int *ok)
{
    void *p = malloc(n * elem + 1);
    if (!p || !read_exact(f, p, n * elem)) *ok = 0;
    return p;
}

static int load_ref(Ref *r)
{
    FILE *f = fopen(REF_PATH, "rb");
    if (!f) return 0;
    char magic[8];
    int ok = read_exact(f, magic, 8) && memcmp(magic, "SRLREF01", 8) == 0 && read_exact(f, r->hdr, sizeof r->hdr) &&
             read_exact(f, &r->temperature, sizeof r->temperature);
    for (int i = 0; i < 9 && ok; i++) ok = r->hdr[i] > 0 && r->hdr[i] < 1000000;
    if (ok) {
        const size_t N = (size_t)r->hdr[6] * r->hdr[7], V = (size_t)r->hdr[0], P = (size_t)r->hdr[8];
        r->tokens = read_array(f, N, 4, &ok);
        r->targets = read_array(f, N, 4, &ok);
        r->dlogp = read_array(f, N, 4, &ok);
        r->params = read_array(f, P, 4, &ok);
        r->logits = read_array(f, N * V, 4, &ok);
        r->logp = read_array(f, N, 4, &ok);
        r->entropy = read_array(f, N, 4, &ok);
        r->grads = read_array(f, P, 4, &ok);
        r->logp_bf16 = read_array(f, N, 4, &ok);
        ok = ok && fgetc(f) == EOF;
    }
    fclose(f);
    return ok;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double w = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        w = d > w || isnan(d) ? d : w;
    }
    return w;
}

int main(void)
{
    Ref r = {0};
    if (!load_ref(&r)) {
        CHECK(0, "torch_ref_file", "cannot read %s or it is malformed (regenerate: /usr/bin/python3 "
              "tests/make_torch_ref.py)", REF_PATH);
        return test_main_result();
    }
    const ModelConfig cfg = {.vocab = r.hdr[0], .ctx = r.hdr[1], .d_model = r.hdr[2], .n_layer = r.hdr[3],
                             .n_head = r.hdr[4], .d_ff = r.hdr[5]};
    const int B = r.hdr[6], T = r.hdr[7], N = B * T, V = cfg.vocab;
    char err[ERR_LEN] = "";
    Model m;
    if (B > 64 || V > 64 || model_create(&m, &cfg, 1, err) || m.n_params != (size_t)r.hdr[8]) {
        CHECK(0, "torch_ref_model", "config or parameter count does not match the file: %s", err);
        return test_main_result();
    }
    memcpy(m.params, r.params, m.n_params * sizeof(float));
    model_set_threads(2);

    /* The reference is float64 on the same float32 parameters, so the exact function up to
     * float64 rounding; the C model is FP32 throughout, rounded by whichever kernels OpenBLAS
     * picked: the FP32 tolerance at the largest |logit| or |log-prob| at this temperature
     * (tests/rounding.h). A wrong op moves values by 1e-2 of the scale or more. */
    double scale = 0.0;
    for (int n = 0; n < N; n++) scale = fmax(scale, fabs(r.logp[n]));
    for (size_t i = 0; i < (size_t)N * V; i++) scale = fmax(scale, fabs(r.logits[i]) / r.temperature);
    const double tol = fp32_tolerance(scale);
    float *logp = malloc((size_t)N * sizeof *logp), *ent = malloc((size_t)N * sizeof *ent);
    int rc = model_forward(&m, r.tokens, r.targets, B, T, r.temperature, (Precision){0, 0}, logp, ent, err);
    CHECK(rc == 0, "torch_ref_forward_runs", "%s", err);
    CHECK_TOL(max_abs_diff(logp, r.logp, (size_t)N), tol, "torch_ref_logp", "max |logp diff| %.3g > %.3g",
              max_abs_diff(logp, r.logp, (size_t)N), tol);
    CHECK_TOL(max_abs_diff(ent, r.entropy, (size_t)N), tol, "torch_ref_entropy", "max |entropy diff| %.3g > %.3g",
              max_abs_diff(ent, r.entropy, (size_t)N), tol);

    model_zero_grad(&m);
    model_backward(&m, r.dlogp);
    double worst_rel = 0.0;
    int worst_k = 0;
    for (int k = 0; k < m.n_tensors; k++) {
        const TensorInfo *t = &m.tensors[k];
        double scale = 0.0;
        for (size_t i = 0; i < t->size; i++) scale = fmax(scale, fabs(r.grads[t->offset + i]));
        double rel = max_abs_diff(m.grads + t->offset, r.grads + t->offset, t->size) / fmax(scale, 1e-3);
        if (rel > worst_rel || isnan(rel)) {
            worst_rel = rel;
            worst_k = k;
        }
    }
    /* Per tensor: max |diff| relative to the tensor's largest gradient. The backward's rounding
     * builds up over the whole chain back to the embeddings, in every tensor at the scale of its
     * largest gradient: GRAD_ULPS ulps of it (measured at most 13 over the kernel sets of
     * tests/README.md). A wrong op (a transposed index, a missing term)
     * is off by 1e-2 and more. */
    CHECK_TOL(worst_rel, GRAD_ULPS * FLT_EPSILON, "torch_ref_gradients",
              "tensor %s: max |diff| / max |grad| = %.3g > %g ulps", m.tensors[worst_k].name, worst_rel, GRAD_ULPS);

    /* Logits through the decode path (the contract's only logits), one position at a time. */
    DecodeState *s = decode_new(&cfg, B, err);
    float *logits = malloc((size_t)N * V * sizeof *logits), step[64 * 64];
    int slots[64], toks[64];
    for (int b = 0; b < B; b++) slots[b] = b;
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < B; b++) toks[b] = r.tokens[b * T + t];
        decode_step(s, m.params, slots, toks, B, (Precision){0, 0}, step);
        for (int b = 0; b < B; b++) memcpy(logits + ((size_t)b * T + t) * V, step + (size_t)b * V, sizeof(float) * V);
    }
    CHECK_TOL(max_abs_diff(logits, r.logits, (size_t)N * V), tol * r.temperature, "torch_ref_logits_decode",
              "max |logit diff| %.3g > %.3g", max_abs_diff(logits, r.logits, (size_t)N * V), tol * r.temperature);
    decode_free(s);

    /* bfloat16: PyTorch rounds the same matmul inputs with its own conversion, but the two sides
     * accumulate in different orders, and an FP32 ulp of difference just before a rounding can
     * flip a value by a bf16 step (tests/rounding.h). A flip moves one sequence from there on, out
     * of 3: at most half of the log-probs beyond the FP32 tolerance (measured: none), none beyond
     * one bf16 step of the scale. bf16 itself moves more than half (checked too), so a wrong
     * emulation would show. */
    rc = model_forward(&m, r.tokens, r.targets, B, T, r.temperature, (Precision){1, 1}, logp, NULL, err);
    Spread sp = spread_at(scale), moved = spread_at(scale);
    for (int n = 0; n < N; n++)
        if (r.targets[n] >= 0) {
            spread_add(&sp, logp[n], r.logp_bf16[n]);
            spread_add(&moved, r.logp[n], r.logp_bf16[n]);
        }
    CHECK(rc == 0, "torch_ref_forward_bf16_runs", "%s", err);
    CHECK_ATLEAST((double)moved.beyond / moved.n, 0.5, "torch_ref_bf16_differs_from_fp32",
                  "bf16 moves %ld of the reference's %ld log-probs beyond the FP32 tolerance %.3g", moved.beyond,
                  moved.n, moved.tol);
    CHECK_TOL((double)sp.beyond / sp.n, 0.5, "torch_ref_logp_bf16_flips",
              "%ld of %ld bf16 log-probs beyond the FP32 tolerance %.3g", sp.beyond, sp.n, sp.tol);
    CHECK_TOL(sp.worst, BF16_STEP * scale, "torch_ref_logp_bf16", "max |bf16 logp diff| %.3g > %.3g", sp.worst,
              BF16_STEP * scale);

    free(logp);
    free(ent);
    free(logits);
    free(r.tokens);
    free(r.targets);
    free(r.dlogp);
    free(r.params);
    free(r.logits);
    free(r.logp);
    free(r.entropy);
    free(r.grads);
    free(r.logp_bf16);
    model_free(&m);
    return test_main_result();
}
