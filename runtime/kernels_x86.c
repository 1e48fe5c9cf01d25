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
 * Must never be called on a CPU without the ISA; must never read W past its last row (the K
 * tail is read with masked loads or scalar code). docs/kernels.md has the int8 arithmetic.
 */
#include <cpuid.h>
#include "runtime/kernels_internal.h"

#include <immintrin.h>

#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

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

/* ---- horizontal reductions ----
 * Every reduction of one accumulator uses the same tree, whether it is reduced alone or four at
 * a time: ((v0+v1)+(v2+v3)) + ((v4+v5)+(v6+v7)) after folding 512 to 256 bits. So an output's
 * value never depends on the tile it was computed in (nor on the thread split). */

INLINE T_AVX2 __m128 hsum4_256(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d), s = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}
INLINE T_AVX2 float hsum1_256(__m256 a) {
  __m256 s = _mm256_hadd_ps(a, a);
  s = _mm256_hadd_ps(s, s);
  return _mm_cvtss_f32(_mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));
}
INLINE T_AVX2 __m128i hsum4i_256(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_hadd_epi32(a, b), cd = _mm256_hadd_epi32(c, d);
  __m256i s = _mm256_hadd_epi32(ab, cd);
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}
INLINE T_AVX2 int32_t hsum1i_256(__m256i a) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}
INLINE T_512 __m256 fold512(__m512 a) {
  return _mm256_add_ps(_mm512_castps512_ps256(a),
                       _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}
INLINE T_512 __m256i fold512i(__m512i a) {
  return _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
}

/* rt_i8_out for four outputs: the same two IEEE products and sum, in the same order (int32 to
 * float conversion rounds to nearest even in both; -ffp-contract=off keeps them unfused). */
INLINE T_AVX2 void i8_out4(__m128i d, float xs, const float *ws, const float *b, float *y) {
  __m128 s = _mm_mul_ps(_mm_set1_ps(xs), _mm_loadu_ps(ws));
  __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(d), s);
  if (b) v = _mm_add_ps(v, _mm_loadu_ps(b));
  _mm_storeu_ps(y, v);
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
#define RT_SMALLK 128
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

/* ---- int8 tiles ----
 * x rows come from the scratch (int8 in [-127,127], zero-padded to a multiple of 64 bytes, so
 * whole-vector loads of x are safe); W rows are read with masked loads (AVX-512) or scalar code
 * (AVX2) in the K tail. Each tile produces exact int32 dot products d[i][j] and hands them to
 * the shared epilogue rt_i8_out. */

/* VNNI: vpdpbusd multiplies unsigned by signed bytes, so the quantiser of this path
 * (rt_quant_avx512_u8) stores u = x + 128 (x xor 0x80) and Σ u·w = Σ x·w + 128·rowsum(w); the
 * correction uses rt_mat.rowsum. Padding bytes (128) meet masked-off (zero) weights. */
INLINE T_VNNI void i8_tile_vnni(const int8_t *x, size_t ldq, const float *xs, int K,
                                const int8_t *w, const float *ws, const int32_t *rs, const float *b,
                                int n, float *y, int N, const int MR, const int NR) {
  __m512i acc[4][8];
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_si512();
  int k = 0;
  for (; k + 64 <= K; k += 64) {
    __m512i xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = _mm512_load_si512((const void *)(x + i * ldq + k));
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      __m512i wv = _mm512_loadu_si512((const void *)(w + (size_t)j * K + k));
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], xv[i], wv);
    }
  }
  if (k < K) {
    __mmask64 m = (__mmask64)((1ull << (K - k)) - 1);
    __m512i xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = _mm512_load_si512((const void *)(x + i * ldq + k));
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      __m512i wv = _mm512_maskz_loadu_epi8(m, w + (size_t)j * K + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], xv[i], wv);
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR >= 4) {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j += 4) {
        __m128i u = hsum4i_256(fold512i(acc[i][j]), fold512i(acc[i][j + 1]),
                               fold512i(acc[i][j + 2]), fold512i(acc[i][j + 3]));
        /* exact: the int32 wrap-around of the shifted sum and of 128·rowsum cancel */
        __m128i d =
            _mm_sub_epi32(u, _mm_slli_epi32(_mm_loadu_si128((const __m128i *)(rs + n + j)), 7));
        i8_out4(d, xs[i], ws + n + j, b ? b + n + j : NULL, yi + n + j);
      }
    } else {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j++) {
        uint32_t u = (uint32_t)_mm512_reduce_add_epi32(acc[i][j]);
        int32_t d = (int32_t)(u - 128u * (uint32_t)rs[n + j]);
        yi[n + j] = rt_i8_out(d, xs[i], ws[n + j], b, n + j);
      }
    }
  }
}

/* AVX-512 without VNNI and AVX2: vpmaddubsw multiplies unsigned by signed bytes and adds pairs
 * into saturating int16. Operands: |w| as unsigned (0..128, exact even for w = -128) and x with
 * w's sign applied (x ∈ [-127,127], so ±x stays in int8). Each pair sum is at most
 * 2·128·127 = 32512 < 32767: it never saturates. vpmaddwd with ones widens to int32. */
INLINE T_512 void i8_tile_512(const int8_t *x, size_t ldq, const float *xs, int K, const int8_t *w,
                              const float *ws, const float *b, int n, float *y, int N, const int MR,
                              const int NR) {
  __m512i acc[4][8];
  const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) acc[i][j] = _mm512_setzero_si512();
  for (int k = 0; k < K; k += 64) {
    __mmask64 m = K - k >= 64 ? ~(__mmask64)0 : (__mmask64)((1ull << (K - k)) - 1);
    __m512i xv[4];
#pragma GCC unroll 4
    for (int i = 0; i < MR; i++) xv[i] = _mm512_load_si512((const void *)(x + i * ldq + k));
#pragma GCC unroll 8
    for (int j = 0; j < NR; j++) {
      __m512i wv = _mm512_maskz_loadu_epi8(m, w + (size_t)j * K + k);
      __m512i wa = _mm512_abs_epi8(wv);
      __mmask64 neg = _mm512_movepi8_mask(wv);
#pragma GCC unroll 4
      for (int i = 0; i < MR; i++) {
        __m512i xsg = _mm512_mask_sub_epi8(xv[i], neg, zero, xv[i]);
        __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(wa, xsg), ones);
        acc[i][j] = _mm512_add_epi32(acc[i][j], p);
      }
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR >= 4) {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j += 4) {
        __m128i d = hsum4i_256(fold512i(acc[i][j]), fold512i(acc[i][j + 1]),
                               fold512i(acc[i][j + 2]), fold512i(acc[i][j + 3]));
        i8_out4(d, xs[i], ws + n + j, b ? b + n + j : NULL, yi + n + j);
      }
    } else {
#pragma GCC unroll 2
      for (int j = 0; j < NR; j++) {
        int32_t d = _mm512_reduce_add_epi32(acc[i][j]);
        yi[n + j] = rt_i8_out(d, xs[i], ws[n + j], b, n + j);
      }
    }
  }
}

INLINE T_AVX2 void i8_tile_avx2(const int8_t *x, size_t ldq, const float *xs, int K,
                                const int8_t *w, const float *ws, const float *b, int n, float *y,
                                int N, const int MR, const int NR) {
  __m256i acc[2][4];
  const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 2
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_si256();
  int k = 0;
  for (; k + 32 <= K; k += 32) {
    __m256i xv[2];
#pragma GCC unroll 2
    for (int i = 0; i < MR; i++) xv[i] = _mm256_load_si256((const __m256i *)(x + i * ldq + k));
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (size_t)j * K + k));
      __m256i wa = _mm256_abs_epi8(wv);
#pragma GCC unroll 2
      for (int i = 0; i < MR; i++) {
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wa, _mm256_sign_epi8(xv[i], wv)), ones);
        acc[i][j] = _mm256_add_epi32(acc[i][j], p);
      }
    }
  }
#pragma GCC unroll 2
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR == 4 && k == K) { /* all in registers (a scalar detour stalls store forwarding) */
      __m128i d = hsum4i_256(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      i8_out4(d, xs[i], ws + n, b ? b + n : NULL, yi + n);
      continue;
    }
    const int8_t *xi = x + i * ldq;
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      const int8_t *wj = w + (size_t)j * K;
      int32_t d = hsum1i_256(acc[i][j]);
      for (int kk = k; kk < K; kk++) d += (int32_t)xi[kk] * (int32_t)wj[kk];
      yi[n + j] = rt_i8_out(d, xs[i], ws[n + j], b, n + j);
    }
  }
}

/* Small K with VNNI, broadcast form (as f32_smallk_512): a panel of 16 weight rows is gathered
 * into groups of 4 k (lane j of group g holds W[n+j, 4g..4g+3]), then for each x row the 4 bytes
 * x[4g..4g+3] are broadcast and vpdpbusd accumulates 16 outputs at once. Integer sums are
 * exact, so this gives the same bits as the dot form; the epilogue is rt_i8_out, 16 wide. */
INLINE T_VNNI void i8_panel_rows_vnni(const int8_t *x, size_t ldq, const float *xs, int G,
                                      const __m512i *wt, __m512 ws, __m512i rs128, const float *b,
                                      __mmask16 cm, float *y, int N, const int MR) {
  __m512i acc[8];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r] = _mm512_setzero_si512();
  for (int g = 0; g < G; g++) {
    __m512i w = _mm512_load_si512((const void *)(wt + g));
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      int32_t x4;
      __builtin_memcpy(&x4, x + r * ldq + 4 * g, 4);
      acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(x4), w);
    }
  }
  __m512 bv = b ? _mm512_maskz_loadu_ps(cm, b) : _mm512_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    __m512i d = _mm512_sub_epi32(acc[r], rs128);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_mul_ps(_mm512_set1_ps(xs[r]), ws));
    if (b) v = _mm512_add_ps(v, bv);
    _mm512_mask_storeu_ps(y + (size_t)r * N, cm, v);
  }
}

INLINE T_VNNI void i8_smallk_vnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                                  const int8_t *Wq, const float *ws, const int32_t *rowsum,
                                  const float *b, float *y, int N, int n0, int n1) {
  __m512i wt[RT_SMALLK / 4];
  const int G = (K + 3) / 4, full = K / 4;
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(K));
  for (int n = n0; n < n1; n += 16) {
    int nc = n1 - n < 16 ? n1 - n : 16;
    __mmask16 cm = (__mmask16)(nc == 16 ? 0xffff : (1u << nc) - 1);
    const int8_t *wp = Wq + (size_t)n * K;
    for (int g = 0; g < full; g++) /* 4 bytes of each of the nc rows, never past a row */
      wt[g] = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), cm, idx, wp + 4 * g, 1);
    if (full < G) { /* K % 4 tail, zero-padded */
      int32_t t[16] = {0};
      for (int j = 0; j < nc; j++)
        for (int q = 0; q < K - 4 * full; q++)
          ((int8_t *)&t[j])[q] = wp[(size_t)j * K + 4 * full + q];
      wt[full] = _mm512_loadu_si512((const void *)t);
    }
    __m512 wsv = _mm512_maskz_loadu_ps(cm, ws + n);
    __m512i rs128 = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(cm, rowsum + n), 7);
    const float *bn = b ? b + n : NULL;
    for (int i = 0; i < M; i += 8) {
      const int8_t *xi = xq + (size_t)i * ldq;
      float *yi = y + (size_t)i * N + n;
      switch (M - i >= 8 ? 8 : M - i) {
      case 8:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 8);
        break;
      case 7:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 7);
        break;
      case 6:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 6);
        break;
      case 5:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 5);
        break;
      case 4:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 4);
        break;
      case 3:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 3);
        break;
      case 2:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 2);
        break;
      default:
        i8_panel_rows_vnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 1);
        break;
      }
    }
  }
}

T_VNNI void rt_i8_avx512vnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                             const int8_t *Wq, const float *ws, const int32_t *rowsum,
                             const float *b, float *y, int N, int n0, int n1) {
  if (K <= RT_SMALLK && M >= 8) {
    i8_smallk_vnni(xq, ldq, xs, M, K, Wq, ws, rowsum, b, y, N, n0, n1);
    return;
  }
  const int nrb = M <= 2 ? 8 : 4;
#define TILE(MR, NR)                                                                               \
  i8_tile_vnni(xq + (size_t)i * ldq, ldq, xs + i, K, Wq + (size_t)n * K, ws, rowsum, b, n,         \
               y + (size_t)i * N, N, MR, NR)
  COLUMN_LOOP(4, nrb, TILE)
#undef TILE
}

T_512 void rt_i8_avx512(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                        const int8_t *Wq, const float *ws, const int32_t *rowsum, const float *b,
                        float *y, int N, int n0, int n1) {
  const int nrb = M <= 2 ? 8 : 4;
#define TILE(MR, NR)                                                                               \
  i8_tile_512(xq + (size_t)i * ldq, ldq, xs + i, K, Wq + (size_t)n * K, ws, b, n,                  \
              y + (size_t)i * N, N, MR, NR)
  COLUMN_LOOP(4, nrb, TILE)
#undef TILE
}

T_AVX2 void rt_i8_avx2(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                       const int8_t *Wq, const float *ws, const int32_t *rowsum, const float *b,
                       float *y, int N, int n0, int n1) {
  const int nrb = 4;
#define TILE(MR, NR)                                                                               \
  do {                                                                                             \
    if ((MR) <= 2 && (NR) <= 4)                                                                    \
      i8_tile_avx2(xq + (size_t)i * ldq, ldq, xs + i, K, Wq + (size_t)n * K, ws, b, n,             \
                   y + (size_t)i * N, N, (MR) <= 2 ? (MR) : 1, (NR) <= 4 ? (NR) : 1);              \
  } while (0)
  COLUMN_LOOP(2, nrb, TILE)
#undef TILE
}

/* AVX-VNNI (VEX-encoded 256-bit vpdpbusd; Alder Lake and later client CPUs, which lack
 * AVX-512): part of the AVX2 path when the CPU has it. Same arithmetic as the AVX-512 VNNI tile:
 * x stored as u = x + 128 by rt_quant_avx2_u8, d = Σ u·w − 128·rowsum, exact. The K tail (no
 * byte-masked loads in AVX2) is scalar, on the same unsigned bytes. */
#define T_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))

INLINE T_AVXVNNI void i8_tile_avxvnni(const int8_t *x, size_t ldq, const float *xs, int K,
                                      const int8_t *w, const float *ws, const int32_t *rs,
                                      const float *b, int n, float *y, int N, const int MR,
                                      const int NR) {
  __m256i acc[3][4];
#pragma GCC unroll 3
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_si256();
  int k = 0;
  for (; k + 32 <= K; k += 32) {
    __m256i xv[3];
#pragma GCC unroll 3
    for (int i = 0; i < MR; i++) xv[i] = _mm256_load_si256((const __m256i *)(x + i * ldq + k));
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (size_t)j * K + k));
#pragma GCC unroll 3
      for (int i = 0; i < MR; i++) acc[i][j] = _mm256_dpbusd_avx_epi32(acc[i][j], xv[i], wv);
    }
  }
#pragma GCC unroll 3
  for (int i = 0; i < MR; i++) {
    float *yi = y + (size_t)i * N;
    if (NR == 4 && k == K) { /* all in registers (a scalar detour stalls store forwarding) */
      __m128i u = hsum4i_256(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
      __m128i d = _mm_sub_epi32(u, _mm_slli_epi32(_mm_loadu_si128((const __m128i *)(rs + n)), 7));
      i8_out4(d, xs[i], ws + n, b ? b + n : NULL, yi + n);
      continue;
    }
    const uint8_t *xi = (const uint8_t *)(x + i * ldq);
#pragma GCC unroll 4
    for (int j = 0; j < NR; j++) {
      const int8_t *wj = w + (size_t)j * K;
      uint32_t u = (uint32_t)hsum1i_256(acc[i][j]);
      for (int kk = k; kk < K; kk++) u += (uint32_t)((int32_t)xi[kk] * (int32_t)wj[kk]);
      int32_t d = (int32_t)(u - 128u * (uint32_t)rs[n + j]);
      yi[n + j] = rt_i8_out(d, xs[i], ws[n + j], b, n + j);
    }
  }
}

/* Small K with AVX-VNNI: i8_smallk_vnni with 8-column panels (vpgatherdd on ymm). */
INLINE T_AVXVNNI void i8_panel_rows_avxvnni(const int8_t *x, size_t ldq, const float *xs, int G,
                                            const __m256i *wt, __m256 ws, __m256i rs128,
                                            const float *b, __m256i cm, float *y, int N,
                                            const int MR) {
  __m256i acc[8];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) acc[r] = _mm256_setzero_si256();
  for (int g = 0; g < G; g++) {
    __m256i w = _mm256_load_si256(wt + g);
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
      int32_t x4;
      __builtin_memcpy(&x4, x + r * ldq + 4 * g, 4);
      acc[r] = _mm256_dpbusd_avx_epi32(acc[r], _mm256_set1_epi32(x4), w);
    }
  }
  __m256 bv = b ? _mm256_maskload_ps(b, cm) : _mm256_setzero_ps();
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++) {
    __m256i d = _mm256_sub_epi32(acc[r], rs128);
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(_mm256_set1_ps(xs[r]), ws));
    if (b) v = _mm256_add_ps(v, bv);
    _mm256_maskstore_ps(y + (size_t)r * N, cm, v);
  }
}

INLINE T_AVXVNNI void i8_smallk_avxvnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                                        const int8_t *Wq, const float *ws, const int32_t *rowsum,
                                        const float *b, float *y, int N, int n0, int n1) {
  __m256i wt[RT_SMALLK / 4];
  const int G = (K + 3) / 4, full = K / 4;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i idx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(K));
  for (int n = n0; n < n1; n += 8) {
    int nc = n1 - n < 8 ? n1 - n : 8;
    __m256i cm = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), lane);
    const int8_t *wp = Wq + (size_t)n * K;
    for (int g = 0; g < full; g++) /* 4 bytes of each of the nc rows, never past a row */
      wt[g] = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)(wp + 4 * g), idx,
                                          cm, 1);
    if (full < G) { /* K % 4 tail, zero-padded */
      int32_t t[8] = {0};
      for (int j = 0; j < nc; j++)
        for (int q = 0; q < K - 4 * full; q++)
          ((int8_t *)&t[j])[q] = wp[(size_t)j * K + 4 * full + q];
      wt[full] = _mm256_loadu_si256((const __m256i *)t);
    }
    __m256 wsv = _mm256_maskload_ps(ws + n, cm);
    __m256i rs128 = _mm256_slli_epi32(_mm256_maskload_epi32(rowsum + n, cm), 7);
    const float *bn = b ? b + n : NULL;
    for (int i = 0; i < M; i += 8) {
      const int8_t *xi = xq + (size_t)i * ldq;
      float *yi = y + (size_t)i * N + n;
      switch (M - i >= 8 ? 8 : M - i) {
      case 8:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 8);
        break;
      case 7:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 7);
        break;
      case 6:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 6);
        break;
      case 5:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 5);
        break;
      case 4:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 4);
        break;
      case 3:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 3);
        break;
      case 2:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 2);
        break;
      default:
        i8_panel_rows_avxvnni(xi, ldq, xs + i, G, wt, wsv, rs128, bn, cm, yi, N, 1);
        break;
      }
    }
  }
}

T_AVXVNNI void rt_i8_avxvnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                             const int8_t *Wq, const float *ws, const int32_t *rowsum,
                             const float *b, float *y, int N, int n0, int n1) {
  if (K <= RT_SMALLK && M >= 8) {
    i8_smallk_avxvnni(xq, ldq, xs, M, K, Wq, ws, rowsum, b, y, N, n0, n1);
    return;
  }
  const int nrb = 4;
#define TILE(MR, NR)                                                                               \
  do {                                                                                             \
    if ((MR) <= 3 && (NR) <= 4)                                                                    \
      i8_tile_avxvnni(xq + (size_t)i * ldq, ldq, xs + i, K, Wq + (size_t)n * K, ws, rowsum, b, n,  \
                      y + (size_t)i * N, N, (MR) <= 3 ? (MR) : 1, (NR) <= 4 ? (NR) : 1);           \
  } while (0)
  COLUMN_LOOP(2, nrb, TILE)
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
