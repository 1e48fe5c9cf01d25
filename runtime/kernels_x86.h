/* runtime/kernels_x86.h: what the x86 kernel files share: the per-function target attributes,
 * horizontal reductions and the int8 epilogue of four outputs. Private to kernels_x86*.c; every
 * function here is static inline and compiled for the ISA of its attribute only. */
#ifndef EF_RUNTIME_KERNELS_X86_H
#define EF_RUNTIME_KERNELS_X86_H

#include <immintrin.h>

#include "runtime/kernels_internal.h"

#define T_AVX2 __attribute__((target("avx2,fma")))
#define T_512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

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

/* Small K (LoRA / adapter products): the panel kernels take K up to this (kernels_x86.c) */
#define RT_SMALLK 128

#endif
