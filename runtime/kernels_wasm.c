/* runtime/kernels_wasm.c: the WebAssembly SIMD128 paths of rt_linear (built with emcc -msimd128,
 * scripts/build_wasm.sh). A browser either validates a SIMD module or does not, so there is no
 * run-time dispatch inside one .wasm: the build makes two modules (portable, SIMD128) and the
 * page picks one by feature detection (web/worker.js).
 *
 * fp32: the exact arithmetic of rt_f32_portable (kernels.c), so the SIMD128 module computes the
 * same bits as the portable C path on any machine: eight partial sums (lane l takes k ≡ l mod 8,
 * kept as two f32x4), a product rounded and then added (WebAssembly has no fused multiply-add;
 * the file is compiled with -ffp-contract=off like every kernel file), the K tail added into
 * lanes 0.. in scalar code, then ((s0+s4)+(s1+s5)) + ((s2+s6)+(s3+s7)) and the bias.
 * int8: the exact int32 dot product (sign-extend to int16, i32x4.dot_i16x8_s: pairs of
 * products of at most 127·128 in magnitude, exact in int32) and the shared epilogue rt_i8_out,
 * so results are the bits of every other path. The quantiser produces the bytes of
 * rt_quant_portable.
 *
 * Must never read W past its last row (the K tail is scalar); x rows of the int8 scratch are
 * zero-padded to RT_KPAD bytes, so they may be read whole.
 */
#include "runtime/kernels_internal.h"

#if defined(__wasm_simd128__) /* the portable module compiles this file to nothing */
#include <string.h>
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))

/* ---- fp32 ---- */

/* One x row against NR weight rows (NR <= 4): y[j] = Σ_k x[k]·w[j,k] (+ b[j]) in the order of
 * rt_f32_portable. */
INLINE void f32_row_simd(const float *x, int K, const float *w, const float *b, float *y,
                         const int NR) {
  v128_t lo[4], hi[4];
#pragma clang loop unroll(full)
  for (int j = 0; j < NR; j++) lo[j] = hi[j] = wasm_f32x4_splat(0.0f);
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    v128_t x0 = wasm_v128_load(x + k), x1 = wasm_v128_load(x + k + 4);
#pragma clang loop unroll(full)
    for (int j = 0; j < NR; j++) {
      const float *wj = w + (size_t)j * K + k;
      lo[j] = wasm_f32x4_add(lo[j], wasm_f32x4_mul(x0, wasm_v128_load(wj)));
      hi[j] = wasm_f32x4_add(hi[j], wasm_f32x4_mul(x1, wasm_v128_load(wj + 4)));
    }
  }
#pragma clang loop unroll(full)
  for (int j = 0; j < NR; j++) {
    float s[8];
    wasm_v128_store(s, lo[j]);
    wasm_v128_store(s + 4, hi[j]);
    const float *wj = w + (size_t)j * K;
    for (int t = k, l = 0; t < K; t++, l++) s[l] += x[t] * wj[t];
    float v = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    y[j] = b ? v + b[j] : v;
  }
}

void rt_f32_simd128(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                    int n0, int n1) {
  for (int n = n0; n < n1;) {
    int nr = n1 - n >= 4 ? 4 : n1 - n >= 2 ? 2 : 1;
    const float *w = W + (size_t)n * K;
    const float *bn = b ? b + n : NULL;
    for (int i = 0; i < M; i++) {
      const float *xi = x + (size_t)i * K;
      float *yi = y + (size_t)i * N + n;
      if (nr == 4)
        f32_row_simd(xi, K, w, bn, yi, 4);
      else if (nr == 2)
        f32_row_simd(xi, K, w, bn, yi, 2);
      else
        f32_row_simd(xi, K, w, bn, yi, 1);
    }
    n += nr;
  }
}

/* ---- int8 ---- */

/* Σ_k x[k]·w[j,k] exactly for NR weight rows; x is zero-padded (whole 16-byte loads), w is not
 * (scalar tail). */
INLINE void i8_row_simd(const int8_t *x, int K, const int8_t *w, int32_t *d, const int NR) {
  v128_t acc[4];
#pragma clang loop unroll(full)
  for (int j = 0; j < NR; j++) acc[j] = wasm_i32x4_splat(0);
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    v128_t xv = wasm_v128_load(x + k);
    v128_t xl = wasm_i16x8_extend_low_i8x16(xv), xh = wasm_i16x8_extend_high_i8x16(xv);
#pragma clang loop unroll(full)
    for (int j = 0; j < NR; j++) {
      v128_t wv = wasm_v128_load(w + (size_t)j * K + k);
      acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_dot_i16x8(xl, wasm_i16x8_extend_low_i8x16(wv)));
      acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_dot_i16x8(xh, wasm_i16x8_extend_high_i8x16(wv)));
    }
  }
#pragma clang loop unroll(full)
  for (int j = 0; j < NR; j++) {
    int32_t s = wasm_i32x4_extract_lane(acc[j], 0) + wasm_i32x4_extract_lane(acc[j], 1) +
                wasm_i32x4_extract_lane(acc[j], 2) + wasm_i32x4_extract_lane(acc[j], 3);
    const int8_t *wj = w + (size_t)j * K;
    for (int t = k; t < K; t++) s += (int32_t)x[t] * (int32_t)wj[t];
    d[j] = s;
  }
}

void rt_i8_simd128(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                   const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                   int n1) {
  (void)rowsum;
  for (int n = n0; n < n1;) {
    int nr = n1 - n >= 4 ? 4 : n1 - n >= 2 ? 2 : 1;
    const int8_t *w = Wq + (size_t)n * K;
    for (int i = 0; i < M; i++) {
      const int8_t *xi = xq + (size_t)i * ldq;
      int32_t d[4];
      if (nr == 4)
        i8_row_simd(xi, K, w, d, 4);
      else if (nr == 2)
        i8_row_simd(xi, K, w, d, 2);
      else
        i8_row_simd(xi, K, w, d, 1);
      for (int j = 0; j < nr; j++)
        y[(size_t)i * N + n + j] = rt_i8_out(d[j], xs[i], ws[n + j], b, n + j);
    }
    n += nr;
  }
}

/* ---- activation quantiser: the bytes of rt_quant_portable ----
 * The maximum uses pmax (m < a ? a : m), which like the scalar loop never lets a NaN win; the
 * product is IEEE; min/max keep a NaN a NaN, f32x4.nearest rounds to nearest even and
 * i32x4.trunc_sat turns NaN into 0, as rt_quant1 does. */
void rt_quant_simd128(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  v128_t m = wasm_f32x4_splat(0.0f);
  int k = 0;
  for (; k + 4 <= K; k += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + k)));
  float mx = 0.0f;
  float ml[4];
  wasm_v128_store(ml, m);
  for (int l = 0; l < 4; l++) mx = ml[l] > mx ? ml[l] : mx;
  for (int t = k; t < K; t++) {
    float a = fabsf(x[t]);
    mx = a > mx ? a : mx;
  }
  float s = rt_quant_scale(mx), inv = rt_quant_inv(mx);
  const v128_t vi = wasm_f32x4_splat(inv), lo = wasm_f32x4_splat(-127.0f),
               hi = wasm_f32x4_splat(127.0f);
  for (k = 0; k + 16 <= K; k += 16) {
    v128_t v[4];
    for (int u = 0; u < 4; u++) {
      v128_t f = wasm_f32x4_mul(wasm_v128_load(x + k + 4 * u), vi);
      f = wasm_f32x4_min(wasm_f32x4_max(f, lo), hi);            /* NaN stays NaN */
      v[u] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(f)); /* NaN -> 0 */
    }
    v128_t a = wasm_i16x8_narrow_i32x4(v[0], v[1]), c = wasm_i16x8_narrow_i32x4(v[2], v[3]);
    wasm_v128_store(q + k, wasm_i8x16_narrow_i16x8(a, c));
  }
  for (; k < K; k++) q[k] = rt_quant1(x[k], inv);
  memset(q + K, 0, ld - (size_t)K);
  *scale = s;
}
#endif
