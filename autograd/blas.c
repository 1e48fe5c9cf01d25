/* blas.c: the single entry to OpenBLAS. It must only be called from the caller's thread,
 * never from inside an ef_parallel_for body (OpenBLAS threads its own large GEMMs). */
#include "autograd/blas.h"

#include <cblas.h>

void ef_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
