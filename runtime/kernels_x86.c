/* runtime/kernels_x86.c: the x86 vector paths of rt_linear: AVX2+FMA, AVX-512 (F/BW/VL) and
 * AVX-512 VNNI, each function compiled for its ISA with __attribute__((target(...))) so the file
 * needs no -m flags and one binary runs on every x86-64 CPU; kernels.c calls a path only when
 * rt_x86_supports() says the CPU (and the OS, for the AVX-512 state) has it.
 *
 * Shape of every path: register-blocked tiles over row-major W [N,K] in dot-product form (MR
 * rows of x × NR rows of W, one vector accumulator each, horizontal reductions once at the
 * end), no repacking of W (it may be a read-only mapping). Loop order: a tile of NR weight rows
 * stays in L1 while every block of MR activation rows passes over it.
 *
 * This file: CPU detection, the fp32 paths and the activation quantisers; the int8 products are
 * in kernels_x86_i8.c, the shared helpers in kernels_x86.h.
 *
 * Must never be called on a CPU without the ISA; must never read W past its last row (the K
 * tail is read with masked loads or scalar code). docs/kernels.md has the int8 arithmetic.
 */
#include <cpuid.h>

#include "runtime/kernels_x86.h"

int rt_x86_supports(int isa) {
  __builtin_cpu_init();
  int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl");
  switch (isa) {
  case 1:
    return avx2;
  case 2:
    return avx512;
  case 3:
    return avx512 && __builtin_cpu_supports("avx512vnni");
  default:
    return 0;
  }
}

/* ---- fp32 tiles ---- */

/* y[i, j] = Σ_k x[i,k]·w[j,k] (+ b[j]) for i < MR, j < NR (constants after inlining) */
INLINE T_512 void f32_tile_512(const float *x, int K, const float *w, const float *b, float *y,
                               int N, const int MR, const int NR) {
  __m512 acc[6][8];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_ps();
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    __m512 xv[6];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) xv[i] = _mm512_loadu_ps(x + (size_t)i * K + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      __m512 wv = _mm512_loadu_ps(w + (size_t)j * K + k);
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (k < K) {
    __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
    __m512 xv[6];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) xv[i] = _mm512_maskz_loadu_ps(m, x + (size_t)i * K + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      __m512 wv = _mm512_maskz_loadu_ps(m, w + (size_t)j * K + k);
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR >= 4) {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j += 4) {
        __m128 s = hsum4_256(fold512(acc[i][j]), fold512(acc[i][j + 1]), fold512(acc[i][j + 2]),
                             fold512(acc[i][j + 3]));
        if (b) s = _mm_add_ps(s, _mm_loadu_ps(b + j));
        _mm_storeu_ps(yi + j, s);
      }
    } else {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j++) {
        float s = hsum1_256(fold512(acc[i][j]));
        yi[j] = b ? s + b[j] : s;
      }
    }
  }
}

INLINE T_AVX2 void f32_tile_avx2(const float *x, int K, const float *w, const float *b, float *y,
                                 int N, const int MR, const int NR) {
  __m256 acc[4][4];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = _mm256_loadu_ps(x + (size_t)i * K + k);
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      __m256 wv = _mm256_loadu_ps(w + (size_t)j * K + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
  if (k < K) {
    static const int32_t ramp[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    __m256i m =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(K - k), _mm256_loadu_si256((const __m256i *)ramp));
    __m256 xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = _mm256_maskload_ps(x + (size_t)i * K + k, m);
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      __m256 wv = _mm256_maskload_ps(w + (size_t)j * K + k, m);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_fmadd_ps(xv[i], wv, acc[i][j]);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR == 4) {
      __m128 s = hsum4_256(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      if (b) s = _mm_add_ps(s, _mm_loadu_ps(b));
      _mm_storeu_ps(yi, s);
    } else {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j++) {
        float s = hsum1_256(acc[i][j]);
        yi[j] = b ? s + b[j] : s;
      }
    }
  }
}

/* Small K (LoRA / adapter products, K <= RT_SMALLK): a 32-long dot product is mostly
 * horizontal reduction, so for enough rows the kernel works in broadcast form instead: a panel
 * of 16 weight rows is gathered, transposed, into a 16 × K block on the stack (W itself is not
 * repacked), then y[i, n..n+15] += x[i,k] · panel[k] for k in order. Deterministic per (M, K):
 * the choice does not depend on the thread split (panels start at chunk starts, multiples of
 * 16). */
/* measured: the gather costs about as much as 20 rows of broadcast FMAs, and the dot form is
 * already fine at K = 128 unless there are many rows */
static inline int use_smallk(int M, int K) {
  return (K <= 48 && M >= 8) || (K <= RT_SMALLK && M >= 64);
}

INLINE T_512 void panel_rows_512(const float *x, int K, const float *wt, __m512 bias, __mmask16 cm,
                                 float *y, int N, const int MR) {
  __m512 acc[8];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_ps();
  for (int k = 0; k < K; k++) {
    __m512 w = _mm512_load_ps(wt + 16 * k);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
      acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[(size_t)r * K + k]), w, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
    _mm512_mask_storeu_ps(y + (size_t)r * N, cm, _mm512_add_ps(acc[r], bias));
}

INLINE T_512 void f32_smallk_512(const float *x, int M, int K, const float *W, const float *b,
                                 float *y, int N, int n0, int n1) {
  float wt[RT_SMALLK * 16] __attribute__((aligned(64)));
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(K));
  for (int n = n0; n < n1; n += 16) {
    int nc = n1 - n < 16 ? n1 - n : 16;
    __mmask16 cm = (__mmask16)(nc == 16 ? 0xffff : (1u << nc) - 1);
    const float *wp = W + (size_t)n * K;
    for (int k = 0; k < K; k++) /* gather column k of the 16 rows (masked: never past row nc) */
      _mm512_store_ps(wt + 16 * k,
                      _mm512_mask_i32gather_ps(_mm512_setzero_ps(), cm, idx, wp + k, 4));
    __m512 bias = b ? _mm512_maskz_loadu_ps(cm, b + n) : _mm512_setzero_ps();
    for (int i = 0; i < M; i += 8) {
      const float *xi = x + (size_t)i * K;
      float *yi = y + (size_t)i * N + n;
      switch (M - i >= 8 ? 8 : M - i) {
      case 8:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 8);
        break;
      case 7:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 7);
        break;
      case 6:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 6);
        break;
      case 5:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 5);
        break;
      case 4:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 4);
        break;
      case 3:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 3);
        break;
      case 2:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 2);
        break;
      default:
        panel_rows_512(xi, K, wt, bias, cm, yi, N, 1);
        break;
      }
    }
  }
}

T_512 void rt_f32_avx512(const float *x, int M, int K, const float *W, const float *b, float *y,
                         int N, int n0, int n1) {
  if (use_smallk(M, K)) {
    f32_smallk_512(x, M, K, W, b, y, N, n0, n1);
    return;
  }
  /* few rows (decoder GEMV): 8 weight rows in flight; else 6×4 tiles */
  const int nrb = M <= 2 ? 8 : 4;
#define TILE(MR, NR)                                                                               \
  f32_tile_512(x + (size_t)i * K, K, W + (size_t)n * K, b ? b + n : NULL, y + (size_t)i * N + n,   \
               N, MR, NR)
  COLUMN_LOOP(6, nrb, TILE)
#undef TILE
}

/* The small-K broadcast form of f32_smallk_512 with 8-column panels (vgatherdps on ymm). */
INLINE T_AVX2 void panel_rows_avx2(const float *x, int K, const float *wt, __m256 bias, __m256i cm,
                                   float *y, int N, const int MR) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r] = _mm256_setzero_ps();
  for (int k = 0; k < K; k++) {
    __m256 w = _mm256_load_ps(wt + 8 * k);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
      acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + (size_t)r * K + k), w, acc[r]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
    _mm256_maskstore_ps(y + (size_t)r * N, cm, _mm256_add_ps(acc[r], bias));
}

INLINE T_AVX2 void f32_smallk_avx2(const float *x, int M, int K, const float *W, const float *b,
                                   float *y, int N, int n0, int n1) {
  float wt[RT_SMALLK * 8] __attribute__((aligned(32)));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(K));
  for (int n = n0; n < n1; n += 8) {
    int nc = n1 - n < 8 ? n1 - n : 8;
    __m256i cm = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), lane);
    const float *wp = W + (size_t)n * K;
    for (int k = 0; k < K; k++) /* column k of the nc rows (masked: never past row nc) */
      _mm256_store_ps(wt + 8 * k, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), wp + k, idx,
                                                           _mm256_castsi256_ps(cm), 4));
    __m256 bias = b ? _mm256_maskload_ps(b + n, cm) : _mm256_setzero_ps();
    for (int i = 0; i < M; i += 8) {
      const float *xi = x + (size_t)i * K;
      float *yi = y + (size_t)i * N + n;
      switch (M - i >= 8 ? 8 : M - i) {
      case 8:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 8);
        break;
      case 7:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 7);
        break;
      case 6:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 6);
        break;
      case 5:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 5);
        break;
      case 4:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 4);
        break;
      case 3:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 3);
        break;
      case 2:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 2);
        break;
      default:
        panel_rows_avx2(xi, K, wt, bias, cm, yi, N, 1);
        break;
      }
    }
  }
}

T_AVX2 void rt_f32_avx2(const float *x, int M, int K, const float *W, const float *b, float *y,
                        int N, int n0, int n1) {
  if (K <= 48 && M >= 16) { /* measured: 8-wide panels pay off only for very small K */
    f32_smallk_avx2(x, M, K, W, b, y, N, n0, n1);
    return;
  }
  /* 16 ymm registers: 3×4 accumulators + 3 x + 1 w (measured 10-20% faster than 2×4) */
  const int nrb = 4;
#define TILE(MR, NR)                                                                               \
  do {                                                                                             \
    if ((MR) <= 3 && (NR) <= 4)                                                                    \
      f32_tile_avx2(x + (size_t)i * K, K, W + (size_t)n * K, b ? b + n : NULL,                     \
                    y + (size_t)i * N + n, N, (MR) <= 3 ? (MR) : 1, (NR) <= 4 ? (NR) : 1);         \
  } while (0)
  COLUMN_LOOP(3, nrb, TILE)
#undef TILE
}

/* AVX-VNNI is CPUID leaf 7 subleaf 1, EAX bit 4; read it directly because clang 14's
 * __builtin_cpu_supports does not know the name "avxvnni" (the fuzz builds use clang). */
int rt_x86_has_avxvnni(void) {
  __builtin_cpu_init();
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!rt_x86_supports(1) || __get_cpuid_max(0, NULL) < 7) return 0;
  __cpuid_count(7, 1, a, b, c, d);
  return (a >> 4) & 1;
}

/* ---- activation quantisers: the bytes of rt_quant_portable, 16 or 8 at a time ----
 * max|x| ignores NaN like the scalar loop (vmaxps returns its second operand, the running
 * maximum, when the first is NaN); the product is IEEE in both; the clamp happens in float
 * before the conversion, whose rounding is the default round-to-nearest-even of MXCSR. */

/* flip: store q ^ 0x80 = q + 128 as unsigned bytes (the operand vpdpbusd wants), padding 0x80 */
INLINE T_512 void quant_512(const float *x, int K, int8_t *q, size_t ld, float *scale,
                            const int flip) {
  __m512 m = _mm512_setzero_ps();
  int k = 0;
  for (; k + 16 <= K; k += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m);
  __mmask16 tail = (__mmask16)((1u << (K - k)) - 1);
  if (k < K) m = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + k)), m);
  float mx = _mm512_reduce_max_ps(m), s = rt_quant_scale(mx);
  const __m512 vi = _mm512_set1_ps(rt_quant_inv(mx)), lo = _mm512_set1_ps(-127.0f),
               hi = _mm512_set1_ps(127.0f);
  for (k = 0; k < K; k += 16) {
    __mmask16 mk = K - k >= 16 ? (__mmask16)0xffff : tail;
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + k), vi);
    __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    __m512i i = _mm512_maskz_mov_epi32(ord, _mm512_cvtps_epi32(v));
    if (flip) i = _mm512_xor_si512(i, _mm512_set1_epi32(0x80));
    _mm512_mask_cvtepi32_storeu_epi8(q + k, mk, i);
  }
  for (k = K; k < (int)ld; k++) q[k] = flip ? (int8_t)-128 : 0;
  *scale = s;
}

T_512 void rt_quant_avx512(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  quant_512(x, K, q, ld, scale, 0);
}
T_512 void rt_quant_avx512_u8(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  quant_512(x, K, q, ld, scale, 1);
}

INLINE T_AVX2 void quant_avx2(const float *x, int K, int8_t *q, size_t ld, float *scale,
                              const int flip) {
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 m = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(x + k), absmask), m);
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
  float mx = _mm_cvtss_f32(m4);
  for (int t = k; t < K; t++) {
    float a = __builtin_fabsf(x[t]);
    mx = a > mx ? a : mx;
  }
  float s = rt_quant_scale(mx), inv = rt_quant_inv(mx);
  const __m256 vi = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (k = 0; k + 8 <= K; k += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + k), vi);
    __m256 ord = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
    v = _mm256_and_ps(_mm256_min_ps(_mm256_max_ps(v, lo), hi), ord);
    __m256i i = _mm256_cvtps_epi32(v);
    __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    __m128i p8 = _mm_packs_epi16(p16, p16);
    if (flip) p8 = _mm_xor_si128(p8, _mm_set1_epi8((char)0x80));
    _mm_storel_epi64((__m128i *)(q + k), p8);
  }
  for (; k < K; k++) q[k] = (int8_t)(rt_quant1(x[k], inv) ^ (flip ? 0x80 : 0));
  for (k = K; k < (int)ld; k++) q[k] = flip ? (int8_t)-128 : 0;
  *scale = s;
}

T_AVX2 void rt_quant_avx2(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  quant_avx2(x, K, q, ld, scale, 0);
}
/* the same bytes xor 0x80 (unsigned x + 128), for rt_i8_avxvnni */
T_AVX2 void rt_quant_avx2_u8(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  quant_avx2(x, K, q, ld, scale, 1);
}
