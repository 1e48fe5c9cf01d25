/* runtime/kernels_neon.c: the aarch64 paths of rt_linear. NEON is part of the aarch64 base, so
 * these need no dispatch; the int8 dot products use SDOT when the compiler targets it
 * (__ARM_FEATURE_DOTPROD, e.g. -march=armv8.2-a+dotprod) and widening multiplies with pairwise
 * accumulation (vmull_s8 + vpadalq_s16) otherwise.
 *
 * Same shape as kernels_x86.c: MR×NR register tiles in dot-product form over row-major W, no
 * repacking, horizontal reductions at the end with one fixed order per output. Must never read
 * W past its last row (the K tail is scalar). Scratch rows of x are zero-padded (RT_KPAD).
 */
#include "runtime/kernels_internal.h"

#include <arm_neon.h>

#define INLINE static inline __attribute__((always_inline))

/* ---- fp32 ---- */

INLINE void f32_tile_neon(const float *x, int K, const float *w, const float *b, float *y, int N,
                          const int MR, const int NR) {
  float32x4_t acc[4][8];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = vdupq_n_f32(0.0f);
  int k = 0;
  for (; k + 4 <= K; k += 4) {
    float32x4_t xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = vld1q_f32(x + (size_t)i * K + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      float32x4_t wv = vld1q_f32(w + (size_t)j * K + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = vfmaq_f32(acc[i][j], xv[i], wv);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      float s = vaddvq_f32(acc[i][j]);
      for (int t = k; t < K; t++) s += x[(size_t)i * K + t] * w[(size_t)j * K + t];
      y[(size_t)i * N + j] = b ? s + b[j] : s;
    }
}

void rt_f32_neon(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                 int n0, int n1) {
  const int nrb = M <= 2 ? 8 : 4;
#define TILE(MR, NR)                                                                               \
  f32_tile_neon(x + (size_t)i * K, K, W + (size_t)n * K, b ? b + n : NULL, y + (size_t)i * N + n,  \
                N, MR, NR)
  COLUMN_LOOP(4, nrb, TILE)
#undef TILE
}

/* ---- int8 ----
 * Exact int32 dot products: SDOT adds four int8·int8 products per lane; without it, vmull_s8
 * gives int16 products (|x| <= 127, |w| <= 128: at most 16256, no overflow) and vpadalq_s16
 * adds adjacent pairs into int32 lanes. */

INLINE int32x4_t dot16(int32x4_t acc, int8x16_t x, int8x16_t w) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, x, w);
#else
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x), vget_low_s8(w)));
  return vpadalq_s16(acc, vmull_high_s8(x, w));
#endif
}

INLINE void i8_tile_neon(const int8_t *x, size_t ldq, const float *xs, int K, const int8_t *w,
                         const float *ws, const float *b, int n, float *y, int N, const int MR,
                         const int NR) {
  int32x4_t acc[4][8];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = vdupq_n_s32(0);
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    int8x16_t xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = vld1q_s8(x + i * ldq + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      int8x16_t wv = vld1q_s8(w + (size_t)j * K + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = dot16(acc[i][j], xv[i], wv);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      int32_t d = vaddvq_s32(acc[i][j]);
      for (int t = k; t < K; t++) d += (int32_t)x[i * ldq + t] * (int32_t)w[(size_t)j * K + t];
      y[(size_t)i * N + n + j] = rt_i8_out(d, xs[i], ws[n + j], b, n + j);
    }
}

void rt_i8_neon(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                int n1) {
  const int nrb = M <= 2 ? 8 : 4;
#define TILE(MR, NR)                                                                               \
  i8_tile_neon(xq + (size_t)i * ldq, ldq, xs + i, K, Wq + (size_t)n * K, ws, b, n,                 \
               y + (size_t)i * N, N, MR, NR)
  COLUMN_LOOP(4, nrb, TILE)
#undef TILE
}

/* ---- activation quantiser: the bytes of rt_quant_portable ----
 * vmaxnmq ignores NaN like the scalar loop; the product is IEEE; FCVTNS rounds to nearest
 * even and turns NaN into 0, as rt_quant1 does. */
void rt_quant_neon(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  float32x4_t m = vdupq_n_f32(0.0f);
  int k = 0;
  for (; k + 4 <= K; k += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + k)));
  float mx = vmaxnmvq_f32(m);
  for (int t = k; t < K; t++) {
    float a = __builtin_fabsf(x[t]);
    mx = a > mx ? a : mx;
  }
  float s = rt_quant_scale(mx), inv = rt_quant_inv(mx);
  const float32x4_t vi = vdupq_n_f32(inv), lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
  for (k = 0; k + 16 <= K; k += 16) {
    int32x4_t v[4];
    for (int u = 0; u < 4; u++) {
      float32x4_t f = vmulq_f32(vld1q_f32(x + k + 4 * u), vi);
      v[u] = vcvtnq_s32_f32(vminq_f32(vmaxq_f32(f, lo), hi)); /* NaN stays NaN -> 0 */
    }
    int16x8_t a = vcombine_s16(vqmovn_s32(v[0]), vqmovn_s32(v[1]));
    int16x8_t c = vcombine_s16(vqmovn_s32(v[2]), vqmovn_s32(v[3]));
    vst1q_s8(q + k, vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
  }
  for (; k < K; k++) q[k] = rt_quant1(x[k], inv);
  for (k = K; k < (int)ld; k++) q[k] = 0;
  *scale = s;
}
