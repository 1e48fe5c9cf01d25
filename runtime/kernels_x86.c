/* runtime/kernels_x86.c: placeholder until the vector paths land (portable only). */
#include "runtime/kernels_internal.h"

int rt_x86_supports(int isa) { (void)isa; return 0; }
void rt_f32_avx2(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                 int n0, int n1) { rt_f32_portable(x, M, K, W, b, y, N, n0, n1); }
void rt_f32_avx512(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                   int n0, int n1) { rt_f32_portable(x, M, K, W, b, y, N, n0, n1); }
void rt_i8_avx2(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                int n1) { rt_i8_portable(xq, ldq, xs, M, K, Wq, ws, rowsum, b, y, N, n0, n1); }
void rt_i8_avx512(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                  const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                  int n1) { rt_i8_portable(xq, ldq, xs, M, K, Wq, ws, rowsum, b, y, N, n0, n1); }
void rt_i8_avx512vnni(const int8_t *xq, size_t ldq, const float *xs, int M, int K,
                      const int8_t *Wq, const float *ws, const int32_t *rowsum, const float *b,
                      float *y, int N, int n0, int n1) {
  rt_i8_portable(xq, ldq, xs, M, K, Wq, ws, rowsum, b, y, N, n0, n1);
}
