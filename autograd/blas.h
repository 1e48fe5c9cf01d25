/* blas.h: the one place the engine calls cblas_sgemm. Row-major C[M,N] = alpha op(A) op(B)
 * + beta C, where op(X) is X or its transpose. Weight gradients use beta = 1 to accumulate. */
#ifndef EF_AUTOGRAD_BLAS_H
#define EF_AUTOGRAD_BLAS_H

void ef_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
