/* bf16.h: bf16 mixed-precision products for training (docs/autograd.md, "bf16").
 *
 * Operands are bfloat16 (the top 16 bits of a float32, rounded to nearest even), products
 * accumulate in float32 and land in a float32 C. The kernels are oneDNN's (libdnnl, the
 * library PyTorch itself runs on CPUs): one matmul primitive per (transpose A, transpose B,
 * beta) with every dimension given at run time, so any batch shape reuses the same eight
 * primitives (and one with a bias), created once on first use. Like ef_sgemm, a large product is
 * split into row or column blocks over our worker pool (parallel.h), one single-threaded oneDNN
 * call per thread, so one pool does all the work and no OpenMP thread spins between products.
 *
 * Only CPUs with bf16 dot-product instructions (AVX512_BF16, AMX-BF16) take this path:
 * elsewhere oneDNN would emulate bf16 with fp32 arithmetic, slower than fp32 itself, and
 * ef_bf16_supported() says no (callers then stay in fp32 and say so once). Without oneDNN at
 * build time the module still links and always says no. Must never run a product in
 * emulation or allocate per call beyond oneDNN's own small descriptors. */
#ifndef EF_AUTOGRAD_BF16_H
#define EF_AUTOGRAD_BF16_H

#include <stdint.h>

typedef uint16_t ef_bf16;

/* 1 when bf16 products run natively on this CPU (and oneDNN is built in). Thread-safe. */
int ef_bf16_supported(void);
/* Why not, or which instructions: e.g. "avx512_bf16", "amx_bf16", "cpu has no bf16
 * dot-product instructions", "built without oneDNN". */
const char *ef_bf16_describe(void);

/* dst[i] = bf16(src[i]), round to nearest even (NaN stays NaN). Parallel when large. */
void ef_bf16_from_f32(ef_bf16 *dst, const float *src, int64_t n);
static inline float ef_bf16_to_f32(ef_bf16 h) {
  union {
    uint32_t u;
    float f;
  } v = {(uint32_t)h << 16};
  return v.f;
}

/* Row-major C[M,N] = op(A)·op(B) + beta·C with beta 0 or 1, dense operands:
 * A is [M,K] (or [K,M] when trans_a), B is [K,N] (or [N,K] when trans_b), C is [M,N].
 * Requires ef_bf16_supported(). Must only be called from the caller's thread (not from inside
 * an ef_parallel_for body). */
void ef_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B,
                  float beta, float *C);

/* Row-major C[M,N] = A[M,K]·B[N,K]ᵀ + bias[N] (bias broadcast over rows, added in fp32 in the
 * product's epilogue): a linear layer's forward. Same requirements as ef_bf16_gemm. */
void ef_bf16_gemm_bias(int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B, const float *bias,
                       float *C);

#endif
