/* blas.c: the single entry to OpenBLAS. It must only be called from the caller's thread,
 * never from inside an ef_parallel_for body (OpenBLAS threads its own large GEMMs).
 *
 * Core selection: Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from the CPU
 * model number, and falls back to the SSE3 "Prescott" kernels for models newer than itself
 * (e.g. Emerald Rapids, model 207): 5x slower sgemm. Before the first GEMM we compare the
 * kernel OpenBLAS chose with what the CPU supports (AVX-512 -> SkylakeX, AVX2+FMA ->
 * Haswell) and, if it chose worse, re-run its dynamic initialisation with OPENBLAS_CORETYPE
 * set. A user-set OPENBLAS_CORETYPE is always respected. See docs/autograd.md. */
#include "autograd/blas.h"

#include "autograd/parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Present only in DYNAMIC_ARCH builds of OpenBLAS; weak so other builds still link. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Below this many multiply-adds a GEMM runs on the caller's thread alone. */
#define EF_GEMM_SPLIT_MACS (1 << 21)
/* Blocks handed to threads are multiples of this many rows/columns (kernel tile size). */
#define EF_GEMM_SPLIT_ALIGN 32

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static ef_gemm_mode gemm_mode = EF_GEMM_POOL;

/* 3: AVX-512 kernels, 2: AVX2 kernels, 1: AVX, 0: older or unknown. */
static int core_rank(const char *name) {
  static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
  static const char *const avx2[] = {"Haswell", "Zen", "SkylakeX"};
  for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
    if (!strcasecmp(name, avx512[i])) return 3;
  for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
    if (!strcasecmp(name, avx2[i])) return 2;
  if (!strcasecmp(name, "Sandybridge") || !strcasecmp(name, "Bulldozer")) return 1;
  return 0;
}

static void select_core(void);

static void blas_init(void) {
  const char *m = getenv("EF_GEMM_THREADS");
  if (m && !strcmp(m, "openblas")) gemm_mode = EF_GEMM_OPENBLAS;
  select_core();
  openblas_set_num_threads(1); /* the pool raises it in openblas mode (ef_blas_set_threads) */
}

static void select_core(void) {
  if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  const char *want = NULL;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
#endif
  if (!want || core_rank(openblas_get_corename()) >= core_rank(want)) return;
  setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
}

void ef_blas_init(void) { pthread_once(&blas_once, blas_init); }

const char *ef_blas_corename(void) {
  ef_blas_init();
  return openblas_get_corename();
}

void ef_blas_set_mode(ef_gemm_mode mode) {
  ef_blas_init();
  gemm_mode = mode;
  openblas_set_num_threads(mode == EF_GEMM_OPENBLAS ? ef_num_threads() : 1);
}

ef_gemm_mode ef_blas_mode(void) {
  ef_blas_init();
  return gemm_mode;
}

void ef_blas_set_threads(int n) {
  ef_blas_init();
  openblas_set_num_threads(gemm_mode == EF_GEMM_OPENBLAS ? n : 1);
}

static void gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

typedef struct {
  int ta, tb, M, N, K, lda, ldb, ldc, split_rows, blocks;
  float alpha, beta;
  const float *A, *B;
  float *C;
} gemm_job;

/* Block [b0, b1) of the split dimension (in units of EF_GEMM_SPLIT_ALIGN). */
static void gemm_body(void *p, int64_t b0, int64_t b1, int tid) {
  const gemm_job *j = p;
  int total = j->split_rows ? j->M : j->N;
  int lo = (int)b0 * EF_GEMM_SPLIT_ALIGN, hi = (int)b1 * EF_GEMM_SPLIT_ALIGN;
  if (hi > total) hi = total;
  if (lo >= hi) return;
  if (j->split_rows) /* rows of C: rows of op(A) */
    gemm(j->ta, j->tb, hi - lo, j->N, j->K, j->alpha, j->A + (j->ta ? lo : (int64_t)lo * j->lda),
         j->lda, j->B, j->ldb, j->beta, j->C + (int64_t)lo * j->ldc, j->ldc);
  else /* columns of C: columns of op(B) */
    gemm(j->ta, j->tb, j->M, hi - lo, j->K, j->alpha, j->A, j->lda,
         j->B + (j->tb ? (int64_t)lo * j->ldb : lo), j->ldb, j->beta, j->C + lo, j->ldc);
}

void ef_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
              int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  if (M == 0 || N == 0) return;
  ef_blas_init();
  int nt = ef_num_threads();
  if (gemm_mode == EF_GEMM_OPENBLAS || nt == 1 ||
      (double)M * (double)N * (double)K < (double)EF_GEMM_SPLIT_MACS) {
    gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_job j = {trans_a, trans_b, M, N, K, lda, ldb, ldc, M >= N, 0, alpha, beta, A, B, C};
  int split = j.split_rows ? M : N;
  j.blocks = (split + EF_GEMM_SPLIT_ALIGN - 1) / EF_GEMM_SPLIT_ALIGN;
  ef_parallel_for(j.blocks, gemm_body, &j);
}
