/* blas.h: the one place the engine calls cblas_sgemm. Row-major C[M,N] = alpha op(A) op(B)
 * + beta C, where op(X) is X or its transpose. Weight gradients use beta = 1 to accumulate.
 *
 * Threading: by default OpenBLAS itself runs single-threaded and large GEMMs are split into
 * row or column blocks over our worker pool (parallel.h), one single-threaded sgemm per
 * thread. So one pool of threads does all the work and nothing spins while another part of
 * the step computes (OpenBLAS's own idle threads busy-wait with sched_yield, which stole
 * time from our attention and LayerNorm loops). EF_GEMM_THREADS=openblas switches to
 * OpenBLAS's own threading (bench_block measures both). See docs/autograd.md. */
#ifndef EF_AUTOGRAD_BLAS_H
#define EF_AUTOGRAD_BLAS_H

void ef_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Make sure OpenBLAS runs the best kernels this CPU supports (idempotent, thread-safe;
 * called by ef_sgemm and the worker pool before any BLAS work). */
void ef_blas_init(void);
/* The kernel family OpenBLAS uses, e.g. "SkylakeX". */
const char *ef_blas_corename(void);

typedef enum { EF_GEMM_POOL = 0, EF_GEMM_OPENBLAS = 1 } ef_gemm_mode;
/* Who parallelises GEMMs (default EF_GEMM_POOL, or EF_GEMM_THREADS=openblas). */
void ef_blas_set_mode(ef_gemm_mode mode);
ef_gemm_mode ef_blas_mode(void);
/* Called by the pool when its size changes. */
void ef_blas_set_threads(int n);

#endif
