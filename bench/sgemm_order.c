/* Whether OpenBLAS's sgemm, as models/layers.c calls it (row-major x times W transposed), adds each
 * output's products in one chain of fused multiply-adds over k. If it did, a GEMM of our own doing
 * the same could replace it and keep every committed run's numbers (bench/README.md, "Where a
 * study run's time goes"); it does not.
 *
 * Usage: build/bench/sgemm_order
 * Tries every M x N x K of the lists below, with beta 0 and with a bias row and beta 1, and
 * prints one line per shape that differs anywhere from the chain, then
 *   RESULT shapes=S differ=D
 * Which shapes differ depends on the kernel set OpenBLAS picks (OPENBLAS_CORETYPE). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
    return 0;
}
