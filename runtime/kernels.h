/* runtime/kernels.h: the runtime's compute kernels (fp32 and int8 linear layers) with run-time
 * CPU dispatch: AVX-512 (+VNNI), AVX2 (+AVX-VNNI), NEON (aarch64), WebAssembly SIMD128 and
 * portable C. Depends on
 * libc, libm and pthreads (the optional worker threads). docs/kernels.md is the design.
 *
 * A linear layer is y[M,N] = x[M,K] · Wᵀ + b with W an rt_mat [N,K] (runtime/model.h), fp32 or
 * int8 with one symmetric scale per output row. For int8 weights the activations are quantised
 * per row at run time (symmetric, scale = max|x_row| / 127) into the scratch buffers of an
 * rt_kernels context, so the call itself never allocates.
 *
 * Memory: rt_kernels_new allocates a context; scratch grows on demand (rt_kernels_reserve) and is
 * reused across calls; rt_kernels_free releases it. A context is not thread-safe; use one per
 * thread (or per decoder).
 */
#ifndef EF_RUNTIME_KERNELS_H
#define EF_RUNTIME_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RT_ISA_PORTABLE = 0,
  RT_ISA_AVX2 = 1,
  RT_ISA_AVX512 = 2,      /* AVX-512F/BW/VL, no VNNI */
  RT_ISA_AVX512_VNNI = 3, /* + AVX512_VNNI */
  RT_ISA_NEON = 4,        /* aarch64 (NEON with SDOT when available) */
  RT_ISA_SIMD128 = 5,     /* WebAssembly SIMD128 (a module built with -msimd128) */
} rt_isa;

typedef struct rt_kernels rt_kernels;

/* The best ISA this CPU supports, capped by the environment variable EF_RUNTIME_ISA
 * (portable|avx2|avx512|avx512vnni|neon|simd128) when set (tests use it to run every path; another
 * value is ignored). */
rt_isa rt_isa_detect(void);
const char *rt_isa_name(rt_isa isa);

/* A context using `isa` (RT_ISA_PORTABLE always works; an ISA the CPU lacks falls back to the
 * best supported one below it). NULL when out of memory. */
rt_kernels *rt_kernels_new(rt_isa isa);
void rt_kernels_free(rt_kernels *k);
rt_isa rt_kernels_isa(const rt_kernels *k);
/* The paths a context runs, for logs and benchmarks: rt_isa_name of its ISA, or "avx2+avxvnni"
 * when the AVX2 path runs its int8 products with AVX-VNNI (CPUs with AVX-VNNI but no AVX-512;
 * the environment variable EF_RUNTIME_NO_AVXVNNI=1 turns that off). */
const char *rt_kernels_name(const rt_kernels *k);
/* Make room so that calls with up to max_rows rows of up to max_cols inputs never allocate.
 * 0, or -1 when out of memory. Calls with larger inputs grow the scratch themselves. */
int rt_kernels_reserve(rt_kernels *k, int max_rows, int max_cols);

/* y[M,N] = x[M,K]·Wᵀ (+ b[N] when b != NULL), W->cols == K, W->rows == N; y must not alias x.
 * Returns 0, or -1 when out of memory (only possible when the scratch must grow), W->dtype is
 * neither RT_F32 nor RT_I8, or an int8 W has more than RT_MAX_DIM columns.
 *
 * fp32: any path is within 2·(K+2)·2^-24·(Σ_k |x_k·w_k| + |b|) of the exact result; the kernel
 * shape depends on M and K (never on the thread count), so a row's last bits may differ between
 * a call with M = 1 and one with M = 30.
 * int8 (weights in [-128, 127]): the integer dot products d are exact and
 * y = (float)d·(x_scale·w_scale[n]) + b[n] on every path, so results are bit-identical across
 * ISAs and thread counts. docs/kernels.md has the arithmetic.
 * Speed: keep x and the weights 64-byte aligned (a misaligned fp32 x with K % 16 == 0 and M >= 4
 * is copied into the scratch first). */
int rt_linear(rt_kernels *k, const float *x, int M, const rt_mat *W, const float *b, float *y);

/* Use n threads for rt_linear (1 = the calling thread only; n - 1 persistent workers that
 * spin briefly after each call, then sleep). Output columns are split between threads at
 * multiples of 16, and every output element is computed by the same instructions whatever the
 * split, so results are bit-identical for any n. rt_kernels_free joins the workers.
 * 0, or -1 when n < 1 or a thread cannot be created (the context then runs on 1 thread). */
int rt_kernels_set_threads(rt_kernels *k, int n);
int rt_kernels_threads(const rt_kernels *k);
/* Run fn(arg, i) for every i in [0, n) on the context's threads (the calling thread takes
 * part); returns when all are done. Calls for different i may run concurrently and in any
 * order, so fn must write disjoint memory. The decoder spreads attention heads with it. */
void rt_kernels_parallel(rt_kernels *k, int n, void (*fn)(void *arg, int i), void *arg);
/* How many times the scratch has been reallocated (tests check that steady state is 0). */
size_t rt_kernels_scratch_grows(const rt_kernels *k);

/* Quantise a float matrix [rows, cols] row by row: scale[r] = max|w[r,:]| / 127 and
 * q = round-to-nearest-even(w · (127 / max|w[r,:]|)) clamped to [-127, 127] (NaN -> 0); a row
 * whose max|w| is below 2^-100 (all zeros, say) gets scale 1 and q = 0. rowsum[r] = Σ q[r,:]
 * (rowsum may be NULL). So |w - scale·q| <= scale/2 · (1 + 2^-14) for finite w (the product and
 * the rounded scale each add a relative 2^-24 per unit of q, q <= 127).
 * Used by the exporter, by tests, and (row by row) for activations inside rt_linear. */
void rt_quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale, int32_t *rowsum);

#ifdef __cplusplus
}
#endif
#endif
