/* runtime/kernels_internal.h: what kernels.c (dispatch, scratch, threads) and the per-ISA files
 * (kernels_x86.c, kernels_neon.c) share: the signature of a column-range kernel and the int8
 * epilogue every path uses, so int8 results are bit-identical across ISAs.
 *
 * Not a public header: only runtime/kernels*.c and the kernel tests include it.
 */
#ifndef EF_RUNTIME_KERNELS_INTERNAL_H
#define EF_RUNTIME_KERNELS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Scratch rows of quantised activations are padded with zeros to a multiple of this many bytes,
 * so vector paths read whole registers of x (never of W, which is not padded). */
#define RT_KPAD 64

/* fp32: y[i, n] = Σ_k x[i,k]·W[n,k] (+ b[n]) for i < M, n0 <= n < n1. x is [M,K] (row stride K),
 * W [N,K], y [M,N]. */
typedef void (*rt_f32_fn)(const float *x, int M, int K, const float *W, const float *b, float *y,
                          int N, int n0, int n1);

/* int8: xq [M, ldq] quantised activations (int8 in [-127,127], zero-padded to ldq, a multiple
 * of RT_KPAD; for rt_i8_avx512vnni stored as unsigned x + 128, see rt_quant_avx512_u8), xs[M] their
 * scales, Wq [N,K] int8 weights with per-row scales ws[N] and rowsum[N] = Σ_k Wq[n,k]. Computes the
 * exact int32 dot d = Σ_k xq[i,k]·Wq[n,k] and stores rt_i8_out(d, xs[i], ws[n], b, n) into y[i, n],
 * n0 <= n < n1. */
typedef void (*rt_i8_fn)(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                         const int8_t *Wq, const float *ws, const int32_t *rowsum, const float *b,
                         float *y, int N, int n0, int n1);

/* Quantise one activation row: *scale = rt_quant_scale(max|x|), q[k] = rt_quant1(x[k],
 * rt_quant_inv(max|x|)), q[K..ld) = 0. Every ISA's version produces exactly the bytes of
 * rt_quant_portable (same product, round-to-nearest-even, clamp). */
typedef void (*rt_quant_fn)(const float *x, int K, int8_t *q, size_t ld, float *scale);

/* Rows whose max|x| is below this quantise to zeros (scale 1): it keeps 127 / max finite. */
#define RT_QUANT_TINY 0x1p-100f

/* round-to-nearest-even(v · inv) clamped to [-127, 127]; NaN gives 0. A product, not a
 * division by the scale: the division made the quantiser the slowest part of small products. */
static inline int8_t rt_quant1(float v, float inv) {
  float r = v * inv;
  if (r != r) return 0;
  r = r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r;
  return (int8_t)(int)nearbyintf(r);
}

/* scale = max|x| / 127, or 1 for a zero (or tiny) row */
static inline float rt_quant_scale(float maxabs) {
  return maxabs >= RT_QUANT_TINY ? maxabs / 127.0f : 1.0f;
}
/* the multiplier: 127 / max|x|, or 0 for a zero (or tiny) row, or an infinite max */
static inline float rt_quant_inv(float maxabs) {
  return maxabs >= RT_QUANT_TINY ? 127.0f / maxabs : 0.0f;
}

/* The one int8 epilogue. kernels*.c are compiled with -ffp-contract=off, so this is the same
 * two roundings (product of scales, then product and sum) on every ISA. */
static inline float rt_i8_out(int32_t d, float xs, float ws, const float *b, int n) {
  float s = xs * ws;
  float v = (float)d * s;
  return b ? v + b[n] : v;
}

/* The column loop shared by every vector path (inside a kernel with parameters M, n0, n1): tiles of
 * NR weight rows (nrb, then 4, 2, 1 at the edge), and for each, blocks of up to MRMAX activation
 * rows. TILE(mr, nr) expands to a call. */
/* clang-format off */
#define COLUMN_LOOP(MRMAX, nrb, TILE)                                                          \
  for (int n = n0; n < n1;) {                                                                  \
    int left = n1 - n;                                                                         \
    int nr = left >= nrb ? nrb : left >= 4 ? 4 : left >= 2 ? 2 : 1;                            \
    for (int i = 0; i < M;) {                                                                  \
      int mr = M - i >= MRMAX ? MRMAX : M - i;                                                 \
      switch (mr * 16 + nr) {                                                                  \
      case 0x18: TILE(1, 8); break;                                                            \
      case 0x14: TILE(1, 4); break;                                                            \
      case 0x12: TILE(1, 2); break;                                                            \
      case 0x11: TILE(1, 1); break;                                                            \
      case 0x28: TILE(2, 8); break;                                                            \
      case 0x24: TILE(2, 4); break;                                                            \
      case 0x22: TILE(2, 2); break;                                                            \
      case 0x21: TILE(2, 1); break;                                                            \
      case 0x34: TILE(3, 4); break;                                                            \
      case 0x32: TILE(3, 2); break;                                                            \
      case 0x31: TILE(3, 1); break;                                                            \
      case 0x44: TILE(4, 4); break;                                                            \
      case 0x42: TILE(4, 2); break;                                                            \
      case 0x41: TILE(4, 1); break;                                                            \
      case 0x54: TILE(MRMAX >= 5 ? 5 : 1, 4); break;                                                            \
      case 0x52: TILE(MRMAX >= 5 ? 5 : 1, 2); break;                                                            \
      case 0x51: TILE(MRMAX >= 5 ? 5 : 1, 1); break;                                                            \
      case 0x64: TILE(MRMAX >= 6 ? 6 : 1, 4); break;                                                            \
      case 0x62: TILE(MRMAX >= 6 ? 6 : 1, 2); break;                                                            \
      case 0x61: TILE(MRMAX >= 6 ? 6 : 1, 1); break;                                                            \
      default: __builtin_unreachable();                                                        \
      }                                                                                        \
      i += mr;                                                                                 \
    }                                                                                          \
    n += nr;                                                                                   \
  }
/* clang-format on */

void rt_f32_portable(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                     int n0, int n1);
void rt_quant_portable(const float *x, int K, int8_t *q, size_t ld, float *scale);
void rt_i8_portable(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                    const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                    int n1);

#if defined(__x86_64__) || defined(__i386__)
#define RT_HAVE_X86 1
/* kernels_x86.c: each compiled for its ISA with __attribute__((target)); call only when
 * rt_x86_supports(isa) says the CPU has it. */
int rt_x86_supports(int isa);
void rt_quant_avx2(const float *x, int K, int8_t *q, size_t ld, float *scale);
/* AVX-VNNI (256-bit vpdpbusd) for the AVX2 path's int8 products, with its u8 quantiser */
int rt_x86_has_avxvnni(void);
void rt_quant_avx2_u8(const float *x, int K, int8_t *q, size_t ld, float *scale);
void rt_i8_avxvnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                   const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                   int n1);
void rt_quant_avx512(const float *x, int K, int8_t *q, size_t ld, float *scale);
/* the same bytes xor 0x80 (unsigned x + 128), for rt_i8_avx512vnni */
void rt_quant_avx512_u8(const float *x, int K, int8_t *q, size_t ld, float *scale);
void rt_f32_avx2(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                 int n0, int n1);
void rt_i8_avx2(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                int n1);
void rt_f32_avx512(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                   int n0, int n1);
void rt_i8_avx512(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                  const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                  int n1);
void rt_i8_avx512vnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                      const float *ws, const int32_t *rowsum, const float *b, float *y, int N,
                      int n0, int n1);
#endif

#if defined(__aarch64__)
#define RT_HAVE_NEON 1
void rt_quant_neon(const float *x, int K, int8_t *q, size_t ld, float *scale);
void rt_f32_neon(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                 int n0, int n1);
void rt_i8_neon(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                int n1);
#endif

#if defined(__wasm_simd128__)
#define RT_HAVE_WASM_SIMD 1
/* kernels_wasm.c: fp32 with rt_f32_portable's exact arithmetic, int8, the quantiser */
void rt_quant_simd128(const float *x, int K, int8_t *q, size_t ld, float *scale);
void rt_f32_simd128(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                    int n0, int n1);
void rt_i8_simd128(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                   const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                   int n1);
#endif

#endif
