/* Whether OpenBLAS's sgemm, as models/layers.c calls it (row-major x times W transposed), adds each
 * output's products in one chain of fused multiply-adds over k. If it did, a GEMM of our own doing
 * the same could replace it and keep every committed run's numbers (bench/README.md, "Where a
 * study run's time goes"); it does not.
 *
 * Nor does a row's result stay the same when the call holds more rows, so one call over all of a
 * batch's rows (which would pack the weights once, not once per row tile) changes the numbers too:
 * the second check sets each row tile matmul_row_tile can give (32 to 256 rows, models/layers.c)
 * against the same rows in one call over a whole batch.
 *
 * Usage: build/bench/sgemm_order
 * Tries every M x N x K of the lists below, with beta 0 and with a bias row and beta 1, and
 * prints one line per shape that differs anywhere from the chain, then
 *   RESULT shapes=S differ=D
 * then one line per N x K whose tiles differ from the whole call somewhere, then
 *   RESULT tiles=T differ=D
 * Which shapes differ depends on the kernel set OpenBLAS picks (OPENBLAS_CORETYPE). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rng.h"

static float *random_floats(size_t n, uint64_t stream)
{
    float *a = malloc(n * sizeof(float));
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) a[i] = (float)(2.0 * rng_uniform(1, stream, i, 0) - 1.0);
    return a;
}

/* Outputs of out = bias + x w^T (bias when given) that differ from one FMA chain over k each. */
static int count_differing(int M, int N, int K, int with_bias, uint64_t stream)
{
    float *x = random_floats((size_t)M * K, stream), *w = random_floats((size_t)N * K, stream + 1);
    float *b = random_floats((size_t)N, stream + 2), *out = malloc((size_t)M * N * sizeof(float));
    int differ = -1;
    if (x && w && b && out) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) out[(size_t)i * N + j] = with_bias ? b[j] : 0.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, w, K, with_bias ? 1.0f : 0.0f,
                    out, N);
        differ = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float acc = 0.0f;
                for (int k = 0; k < K; k++) acc = fmaf(x[(size_t)i * K + k], w[(size_t)j * K + k], acc);
                if (with_bias) acc = b[j] + acc;
                differ += out[(size_t)i * N + j] != acc;
            }
    }
    free(x);
    free(w);
    free(b);
    free(out);
    return differ;
}

/* Whether a call over the first `rows` rows of x alone gives any output of x w^T other than the
 * one `whole` (a call over all of x's rows) holds for those rows: 1 if so, 0 if not. */
static int tile_differs(const float *x, const float *w, const float *whole, float *tile, int rows, int N, int K)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0f, x, K, w, K, 0.0f, tile, N);
    return memcmp(tile, whole, (size_t)rows * N * sizeof(float)) != 0;
}

/* The default model's and the size study's products (C 64 and 128: qkv 3C, MLP 4C, the 22-token
 * head) over a batch of 768 rows (48 prompts x 16 completions), against every row tile. Returns
 * the number of differing (N, K, tile) triples, -1 out of memory. */
static int tiles_against_whole(int *tiles)
{
    static const int Ns[] = {22, 64, 128, 192, 256, 384, 512};
    static const int Ks[] = {64, 128, 256, 512};
    enum { TOTAL = 768 };
    int differ = 0;
    *tiles = 0;
    for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
            const int N = Ns[ni], K = Ks[ki];
            float *x = random_floats((size_t)TOTAL * K, 7000 + 2 * (ni * 8 + ki));
            float *w = random_floats((size_t)N * K, 7001 + 2 * (ni * 8 + ki));
            float *whole = malloc((size_t)TOTAL * N * sizeof(float)), *tile = malloc((size_t)256 * N * sizeof(float));
            int ok = x && w && whole && tile, n_differ = 0;
            char which[256] = "";
            if (ok) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, TOTAL, N, K, 1.0f, x, K, w, K, 0.0f, whole, N);
                for (int rows = 32; rows <= 256; rows += 16) {
                    (*tiles)++;
                    if (tile_differs(x, w, whole, tile, rows, N, K)) {
                        n_differ++;
                        size_t used = strlen(which);
                        snprintf(which + used, sizeof which - used, " %d", rows);
                    }
                }
            }
            free(x);
            free(w);
            free(whole);
            free(tile);
            if (!ok) return -1;
            if (n_differ)
                printf("N=%d K=%d: tiles of%s rows differ from the same rows of a %d-row call\n", N, K, which, TOTAL);
            differ += n_differ;
        }
    return differ;
}

int main(void)
{
    static const int Ms[] = {1, 2, 5, 16, 31, 32, 100, 256};
    static const int Ns[] = {1, 3, 8, 16, 22, 24, 64, 100, 192, 256, 384, 512};
    static const int Ks[] = {1, 3, 8, 17, 64, 128, 192, 256, 384, 385, 512, 700};
    int shapes = 0, differ = 0;
    uint64_t stream = 0;
    for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                for (int with_bias = 0; with_bias < 2; with_bias++, stream += 3) {
                    const int n = count_differing(Ms[mi], Ns[ni], Ks[ki], with_bias, stream);
                    if (n < 0) {
                        fprintf(stderr, "sgemm_order: out of memory\n");
                        return 2;
                    }
                    shapes++;
                    if (n > 0) {
                        differ++;
                        printf("M=%d N=%d K=%d bias=%d: %d of %d outputs differ\n", Ms[mi], Ns[ni], Ks[ki], with_bias,
                               n, Ms[mi] * Ns[ni]);
                    }
                }
    printf("RESULT shapes=%d differ=%d\n", shapes, differ);
    int tiles = 0;
    const int tile_differ = tiles_against_whole(&tiles);
    if (tile_differ < 0) {
        fprintf(stderr, "sgemm_order: out of memory\n");
        return 2;
    }
    printf("RESULT tiles=%d differ=%d\n", tiles, tile_differ);
    return 0;
}
