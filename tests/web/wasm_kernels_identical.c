/* tests/web/wasm_kernels_identical.c: in the SIMD128 WebAssembly module, every fp32 and int8
 * linear layer gives the bits of the portable C path (runtime/kernels_wasm.c follows its
 * summation order), over shapes with K tails of every length, M = 1 (decoder) and larger,
 * with and without bias, and values that include zeros, negative zeros and large magnitudes.
 * Built and run with node by scripts/build_wasm.sh --check; prints one line, exits 1 on any
 * difference. (Natively it compares the portable path with itself.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/kernels.h"

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  int r = (int)(rng % 1000);
  if (r == 0) return -0.0f;
  if (r == 1) return 0.0f;
  if (r == 2) return 3e4f;
  return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

int main(void) {
  rt_kernels *p = rt_kernels_new(RT_ISA_PORTABLE), *v = rt_kernels_new(rt_isa_detect());
  static const int Ms[] = {1, 2, 3, 5, 17}, Ns[] = {1, 2, 3, 4, 7, 33},
                   Ks[] = {1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 515};
  long outputs = 0, diffs = 0;
  for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
    for (size_t c = 0; c < sizeof Ns / sizeof *Ns; c++)
      for (size_t e = 0; e < sizeof Ks / sizeof *Ks; e++)
        for (int dt = 0; dt < 2; dt++)
          for (int bias = 0; bias < 2; bias++) {
            int M = Ms[a], N = Ns[c], K = Ks[e];
            float *x = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
            float *b = malloc(sizeof(float) * N), *y0 = malloc(sizeof(float) * M * N),
                  *y1 = malloc(sizeof(float) * M * N);
            int8_t *q = malloc((size_t)N * K);
            float *sc = malloc(sizeof(float) * N);
            int32_t *rs = malloc(sizeof(int32_t) * N);
            for (int i = 0; i < M * K; i++) x[i] = frand();
            for (int i = 0; i < N * K; i++) w[i] = frand();
            for (int i = 0; i < N; i++) b[i] = frand();
            rt_mat W = {0};
            W.rows = N, W.cols = K;
            if (dt) {
              rt_quantize_rows(w, N, K, q, sc, rs);
              W.dtype = RT_I8, W.q = q, W.scale = sc, W.rowsum = rs;
            } else {
              W.dtype = RT_F32, W.f = w;
            }
            if (rt_linear(p, x, M, &W, bias ? b : NULL, y0) ||
                rt_linear(v, x, M, &W, bias ? b : NULL, y1))
              return fprintf(stderr, "rt_linear failed\n"), 1;
            for (int i = 0; i < M * N; i++, outputs++)
              if (memcmp(&y0[i], &y1[i], sizeof(float))) {
                if (diffs++ < 5)
                  fprintf(stderr, "  %s M=%d N=%d K=%d bias=%d [%d]: portable %a, %s %a\n",
                          dt ? "i8" : "f32", M, N, K, bias, i, y0[i],
                          rt_isa_name(rt_kernels_isa(v)), y1[i]);
              }
            free(x), free(w), free(b), free(y0), free(y1), free(q), free(sc), free(rs);
          }
  printf("wasm_kernels_identical: %s vs portable: %ld outputs, %ld differ\n",
         rt_isa_name(rt_kernels_isa(v)), outputs, diffs);
  rt_kernels_free(p), rt_kernels_free(v);
  return diffs ? 1 : 0;
}
