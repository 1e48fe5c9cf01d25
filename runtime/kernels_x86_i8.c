/* runtime/kernels_x86_i8.c: the int8 products of rt_linear on x86: AVX-512 VNNI (vpdpbusd on
 * x+128 with the 128·rowsum correction), AVX-512 BW and AVX2 (vpmaddubsw on |w| and sign-applied
 * x, never saturating: docs/kernels.md), and AVX-VNNI; register tiles over the unpacked W, and
 * panel kernels for small K. The integer dot products are exact and the float epilogue is the
 * same on every path, so results are bit-identical across ISAs (kernels.c picks the path).
 *
 * Must never be called on a CPU without the ISA; must never read W past its last row.
 */
#include "runtime/kernels_x86.h"

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

