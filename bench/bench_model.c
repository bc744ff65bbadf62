/* Throughput of the transformer core: training steps (forward + backward) and batched decoding,
 * as tokens/s and GFLOP/s, against the sgemm peak measured in the same run. Run by bench/run.sh
 * (`make bench`); `build/bench/bench_model [seconds_per_measurement]` alone works too.
 *
 * Output: human-readable lines, plus one `RESULT key=value ...` line per measurement for
 * bench/run.sh to join with the PyTorch figures. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/decode.h"
#include "models/layers.h" /* models/'s own matmul kernels, for the products-alone measurement */
#include "models/model.h"
#include "models/optim.h"
#include "models/rng.h"
#include "bench/timing.h"
#include "ref/common/util.h"
#include "tasks/tasks.h"

#define BENCH_CTX 64
#define BENCH_BATCH 64

typedef struct {
    int n;
    float *a, *b, *c;
} Sgemm;

static void run_sgemm(void *p)
{
    Sgemm *s = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->n, s->n, s->n, 1.0f, s->a, s->n, s->b, s->n, 0.0f, s->c,
                s->n);
}

/* GFLOP/s of one large square sgemm on `threads` OpenBLAS threads. */
static double sgemm_peak(int threads, double seconds)
{
    Sgemm s = {1536, NULL, NULL, NULL};
    size_t nn = (size_t)s.n * s.n;
    s.a = malloc(nn * sizeof(float));
    s.b = malloc(nn * sizeof(float));
    s.c = malloc(nn * sizeof(float));
    if (!s.a || !s.b || !s.c) {
        fprintf(stderr, "bench: out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < nn; i++) {
        s.a[i] = (float)(i % 13) * 0.01f;
        s.b[i] = (float)(i % 7) * 0.01f;
    }
    openblas_set_num_threads(threads);
    double t = time_it(run_sgemm, &s, seconds);
    openblas_set_num_threads(1);
    free(s.a);
    free(s.b);
    free(s.c);
    return 2.0 * s.n * (double)s.n * s.n / t / 1e9;
}

typedef struct {
    Model m;
    int B, T;
    int *tokens, *targets;
    float *logp, *dlogp;
} Train;

/* One training step as the trainer takes it: forward, backward, clipping, AdamW (the recipe's
 * eps 1e-15 and weight decay 0.01; a learning rate small enough to keep the model sane). */
static void run_train(void *p)
{
    Train *t = p;
    char err[ERR_LEN];
    const AdamWConfig adam = {0.9, 0.95, 1e-15, 0.01};
    model_zero_grad(&t->m);
    if (model_forward(&t->m, t->tokens, t->targets, t->B, t->T, 1.0f, (Precision){0, 0}, t->logp, NULL, err)) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    model_backward(&t->m, t->dlogp);
    grad_clip(&t->m, 1.0);
    adamw_step(&t->m, &adam, 1e-5);
}

typedef struct {
    const Model *m;
    GenerateRequest req;
} Gen;

/* The matrix products of a step alone: models/'s matmul kernels (same calls, tiles and threads as
 * the model's) on buffers of the same sizes, nothing else; what the step would reach if its
 * attention, GELU, layer norms, softmax, sampling and optimizer cost nothing. Per layer the four
 * linear maps (in, out): qkv (C, 3C), projection (C, C), MLP in (C, F), MLP out (F, C); then the
 * head (C, V). */
typedef struct {
    ModelConfig cfg;
    int rows;      /* train: B*T rows; decode: the rows of one step */
    float *x, *y;  /* rows x max width */
    float *w, *dw; /* every product's weight, one after the other, as the model's parameters */
    float *b, *db; /* max out */
} Products;

static int product_shape(const ModelConfig *c, int k, int *in, int *out)
{
    const int C = c->d_model, F = c->d_ff, shapes[4][2] = {{C, 3 * C}, {C, C}, {C, F}, {F, C}};
    if (k == 4 * c->n_layer) {
        *in = C;
        *out = c->vocab;
        return 0; /* no bias */
    }
    *in = shapes[k % 4][0];
    *out = shapes[k % 4][1];
    return 1;
}

/* Multiply-adds of one row through every product. */
static double product_macs(const ModelConfig *c)
{
    double macs = 0.0;
    for (int k = 0, in, out; k <= 4 * c->n_layer; k++) {
        product_shape(c, k, &in, &out);
        macs += (double)in * out;
    }
    return macs;
}

/* Offset of product k's weight in Products.w. */
static size_t product_offset(const ModelConfig *c, int k)
{
    size_t off = 0;
    for (int j = 0, in, out; j < k; j++) {
        product_shape(c, j, &in, &out);
        off += (size_t)in * out;
    }
    return off;
}

/* Forward and backward products of a training step (matmul_forward and matmul_backward). */
static void run_train_products(void *p)
{
    Products *q = p;
    for (int k = 0, in, out; k <= 4 * q->cfg.n_layer; k++) {
        const int bias = product_shape(&q->cfg, k, &in, &out);
        matmul_forward(q->y, q->x, q->w + product_offset(&q->cfg, k), bias ? q->b : NULL, q->rows, in, out, NULL);
    }
    for (int k = 4 * q->cfg.n_layer, in, out; k >= 0; k--) {
        const int bias = product_shape(&q->cfg, k, &in, &out);
        const size_t off = product_offset(&q->cfg, k);
        matmul_backward(q->x, q->dw + off, bias ? q->db : NULL, q->y, q->x, q->w + off, q->rows, in, out, NULL);
    }
}

/* The products of one decode step: chunks of matmul_row_tile(rows) rows, each through every
 * layer on one thread, as models/decode.c runs them. */
static void run_decode_products(void *p)
{
    Products *q = p;
    const int chunk = matmul_row_tile(q->rows), n_chunks = (q->rows + chunk - 1) / chunk;
    const size_t wide = (size_t)(q->cfg.d_ff > 3 * q->cfg.d_model ? q->cfg.d_ff : 3 * q->cfg.d_model);
#pragma omp parallel for schedule(dynamic, 1) if (n_chunks > 1)
    for (int c = 0; c < n_chunks; c++) {
        const int r0 = c * chunk, n = q->rows - r0 < chunk ? q->rows - r0 : chunk;
        for (int k = 0, in, out; k <= 4 * q->cfg.n_layer; k++) {
            const int bias = product_shape(&q->cfg, k, &in, &out);
            matmul_forward_tiled(q->y + (size_t)r0 * wide, q->x + (size_t)r0 * wide, q->w + product_offset(&q->cfg, k),
                                 bias ? q->b : NULL, n, in, out, NULL, n);
        }
    }
}

/* GFLOP/s of the products alone: 3 x forward for training, one step's forward for decoding. */
static double products_gflops(const ModelConfig *cfg, int rows, int train, double seconds)
{
    Products q = {.cfg = *cfg, .rows = rows};
    const size_t wide = (size_t)(cfg->d_ff > 3 * cfg->d_model ? cfg->d_ff : 3 * cfg->d_model);
    const size_t wsize = product_offset(cfg, 4 * cfg->n_layer + 1);
    q.x = malloc((size_t)rows * wide * sizeof(float));
    q.y = malloc((size_t)rows * wide * sizeof(float));
    q.w = malloc(wsize * sizeof(float));
    q.dw = malloc(wsize * sizeof(float));
    q.b = calloc(wide, sizeof(float));
    q.db = calloc(wide, sizeof(float));
    if (!q.x || !q.y || !q.w || !q.dw || !q.b || !q.db) {
        fprintf(stderr, "bench: out of memory\n");
        exit(2);
    }
    /* Small normal values: no denormals, no overflow over repeated products. */
    for (size_t i = 0; i < (size_t)rows * wide; i++) q.x[i] = q.y[i] = 1e-3f * (float)(i % 7);
    for (size_t i = 0; i < wsize; i++) q.w[i] = q.dw[i] = 1e-3f * (float)(i % 5);
    const double t = time_it(train ? run_train_products : run_decode_products, &q, seconds);
    free(q.x);
    free(q.y);
    free(q.w);
    free(q.dw);
    free(q.b);
    free(q.db);
    return (train ? 6.0 : 2.0) * rows * product_macs(cfg) / t / 1e9;
}

static void run_generate(void *p)
{
    Gen *g = p;
    char err[ERR_LEN];
    if (model_generate(g->m, &g->req, err)) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
}

/* One measurement (tokens and FLOPs per call, t seconds per call) and its products alone (their
 * FLOPs per call, their GFLOP/s): its table line and its RESULT line. products_share is the share
 * of the measurement's time its products would take at their speed alone. */
static void report(const char *kind, const ModelConfig *cfg, int threads, double tokens, double flops, double t,
                   double products_flops, double products_gflops, double peak)
{
    char label[64];
    const double gf = flops / t / 1e9, share = products_flops / (products_gflops * 1e9) / t;
    snprintf(label, sizeof label, "%s d%d L%d", kind, cfg->d_model, cfg->n_layer);
    printf("%-22s %7d %12.0f %9.2f %6.1f%% %9.2f %6.1f%% %7.0f%%\n", label, threads, tokens / t, gf, 100.0 * gf / peak,
           products_gflops, 100.0 * products_gflops / peak, 100.0 * share);
    printf("RESULT kind=%s d=%d L=%d threads=%d tokens_per_s=%.1f gflops=%.3f peak_frac=%.4f products_gflops=%.3f "
           "products_share=%.4f\n",
           kind, cfg->d_model, cfg->n_layer, threads, tokens / t, gf, gf / peak, products_gflops, share);
}

int main(int argc, char **argv)
{
    const double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    if (!(seconds > 0.0) || seconds > 60.0) {
        fprintf(stderr, "bench_model: bad seconds per measurement '%s': expected a number in (0, 60]\n", argv[1]);
        return 1;
    }
    enum { MAX_SHAPES = 8 };
    int shapes[MAX_SHAPES][2] = {{64, 2}, {128, 4}, {256, 4}}, n_shapes = 0;
    const char *only = NULL;
    for (int i = 2; i < argc; i++) {
        int d, l;
        char tail;
        if (strncmp(argv[i], "only=", 5) == 0 && (!strcmp(argv[i] + 5, "train") || !strcmp(argv[i] + 5, "decode"))) {
            only = argv[i] + 5;
        } else if (sscanf(argv[i], "%dx%d%c", &d, &l, &tail) == 2 && d >= 8 && d <= 4096 && d % 4 == 0 && l >= 1 &&
                   l <= 64 && n_shapes < MAX_SHAPES) {
            shapes[n_shapes][0] = d;
            shapes[n_shapes++][1] = l;
        } else {
            fprintf(stderr, "bench_model: bad argument '%s': expected DxL (d_model 8..4096, a multiple of 4 "
                    "heads, 1..64 layers; at most %d) or only=train|decode\n", argv[i], MAX_SHAPES);
            return 1;
        }
    }
    if (n_shapes == 0) n_shapes = 3;
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    printf("OPENBLAS_CORETYPE=%s (OpenBLAS kernel: %s)\n", coretype ? coretype : "(unset)",
           openblas_get_corename());
    const int vocab = tok_vocab_size();
    printf("vocab %d (the task tokenizer's), ctx %d, n_head 4, d_ff 4 d_model, batch %d sequences x %d tokens\n",
           vocab, BENCH_CTX, BENCH_BATCH, BENCH_CTX);
    printf("train = forward + backward + grad clip + AdamW; decode = model_generate (KV cache, sampling), "
           "%d sequences to the context end\n", BENCH_BATCH);
    printf("RESULT kind=config vocab=%d ctx=%d batch=%d\n", vocab, BENCH_CTX, BENCH_BATCH);
    /* openblas_get_config() starts "OpenBLAS 0.3.21 ...": the second word is the version. */
    char version[32] = "unknown";
    if (sscanf(openblas_get_config(), "OpenBLAS %31s", version) != 1) strcpy(version, "unknown");
    printf("RESULT kind=openblas version=%s core=%s\n", version, openblas_get_corename());
    double peak[3] = {0};
    for (int th = 1; th <= 2; th++) {
        peak[th] = sgemm_peak(th, seconds);
        printf("sgemm 1536^3 peak, %d thread%s: %.1f GFLOP/s\n", th, th > 1 ? "s" : "", peak[th]);
        printf("RESULT kind=peak threads=%d gflops=%.2f\n", th, peak[th]);
    }
    printf("\n%-22s %7s %12s %9s %7s %9s %7s %8s\n", "measurement", "threads", "tokens/s", "GFLOP/s", "%peak",
           "products", "%peak", "% time");
    printf("%-22s %7s %12s %9s %7s %9s %7s %8s\n", "", "", "", "", "", "alone", "", "in them");
    for (int si = 0; si < n_shapes; si++) {
        const ModelConfig cfg = {.vocab = vocab, .ctx = BENCH_CTX, .d_model = shapes[si][0],
                                 .n_layer = shapes[si][1], .n_head = 4, .d_ff = 4 * shapes[si][0]};
        char err[ERR_LEN];
        Train tr = {.B = BENCH_BATCH, .T = BENCH_CTX};
        if (model_create(&tr.m, &cfg, 1, err)) {
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        const int N = tr.B * tr.T;
        tr.tokens = malloc((size_t)N * sizeof(int));
        tr.targets = malloc((size_t)N * sizeof(int));
        tr.logp = malloc((size_t)N * sizeof(float));
        tr.dlogp = malloc((size_t)N * sizeof(float));
        for (int n = 0; n < N; n++) {
            /* Random tokens, the first two distinct in every sequence: the forward computes a
             * position once for all sequences that agree up to it (models/forward.c), and this
             * measures the model on distinct sequences (they share only their first token). */
            const int b = n / tr.T, t = n % tr.T;
            tr.tokens[n] = t == 0 ? b % vocab : t == 1 ? b / vocab % vocab
                                               : (int)(rng_u64(3, 1, (uint64_t)b, (uint64_t)t) % (uint64_t)vocab);
            tr.targets[n] = (int)(rng_u64(3, 2, (uint64_t)b, (uint64_t)t) % (uint64_t)vocab);
            tr.dlogp[n] = 1.0f / (float)N;
        }
        double fwd_flops = 0.0; /* forward FLOPs of one batch */
        for (int t = 0; t < tr.T; t++) fwd_flops += tr.B * model_flops_token(&cfg, t);

        const int B = BENCH_BATCH, max_new = BENCH_CTX - 1;
        int *prompt = malloc((size_t)B * sizeof(int)), *plen = malloc((size_t)B * sizeof(int));
        const int **prompts = malloc((size_t)B * sizeof(int *));
        uint64_t *ids = malloc((size_t)B * sizeof(uint64_t));
        Gen g = {.m = &tr.m};
        g.req = (GenerateRequest){.n = B, .prompts = prompts, .prompt_len = plen, .seq_ids = ids,
                                  .max_new = max_new, .stop_token = -1, .temperature = 1.0f, .seed = 1,
                                  .stream = 1, .out_tokens = malloc((size_t)B * max_new * sizeof(int)),
                                  .out_logp = malloc((size_t)B * max_new * sizeof(float)),
                                  .out_len = malloc((size_t)B * sizeof(int))};
        for (int i = 0; i < B; i++) {
            prompt[i] = i % vocab;
            prompts[i] = &prompt[i];
            plen[i] = 1;
            ids[i] = (uint64_t)i;
        }
        /* Every sequence samples max_new tokens: the 1-token prompt and all samples but the last go
         * through the model, positions 0 .. ctx-2. */
        const double gen_tokens = (double)B * max_new;
        double gen_flops = 0.0;
        for (int t = 0; t < max_new; t++) gen_flops += B * model_flops_token(&cfg, t);
        for (int th = 1; th <= 2; th++) {
            model_set_threads(th);
            /* Each measurement, then its products alone. */
            if (!only || !strcmp(only, "train")) {
                const double t = time_it(run_train, &tr, seconds);
                report("train", &cfg, th, N, 3.0 * fwd_flops, t, 6.0 * N * product_macs(&cfg),
                       products_gflops(&cfg, N, 1, seconds), peak[th]);
            }
            if (!only || !strcmp(only, "decode")) {
                const double t = time_it(run_generate, &g, seconds);
                report("decode", &cfg, th, gen_tokens, gen_flops, t, 2.0 * gen_tokens * product_macs(&cfg),
                       products_gflops(&cfg, B, 0, seconds), peak[th]);
            }
        }
        free(prompt);
        free(plen);
        free(prompts);
        free(ids);
        free(g.req.out_tokens);
        free(g.req.out_logp);
        free(g.req.out_len);
        free(tr.tokens);
        free(tr.targets);
        free(tr.logp);
        free(tr.dlogp);
        model_free(&tr.m);
    }
    return 0;
}
