/* tests/runtime/kernels_checks.c: see kernels_checks.h. Plain C: libc, libm, runtime/. */
#include "kernels_checks.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHOWN 5
#define CANARY 12345.678f
#define NCANARY 16

static const int MS[] = {1, 2, 3, 5, 7, 30, 33};
static const int KS[] = {1, 3, 32, 100, 513};
static const int NS[] = {1, 7, 130};
#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static uint64_t rng_state = 88172645463325252ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static float rndf(void) { return (float)(rnd() % 2000001) / 1000000.0f - 1.0f; } /* [-1, 1] */

static void fill(float *v, size_t n, float scale) {
  for (size_t i = 0; i < n; i++) v[i] = scale * rndf();
}

static int report(int *shown, const char *what, rt_isa isa, int M, int N, int K, int i, int n,
                  double got, double want) {
  if ((*shown)++ < MAX_SHOWN)
    fprintf(stderr, "  %s [%s] M=%d N=%d K=%d at (%d,%d): got %.9g want %.9g\n", what,
            rt_isa_name(isa), M, N, K, i, n, got, want);
  return 1;
}

static float *alloc_y(int M, int N) {
  float *y = malloc(((size_t)M * N + NCANARY) * sizeof *y);
  for (int c = 0; c < NCANARY; c++) y[(size_t)M * N + c] = CANARY;
  return y;
}
static int canaries_ok(const float *y, int M, int N) {
  for (int c = 0; c < NCANARY; c++)
    if (y[(size_t)M * N + c] != CANARY) return 0;
  return 1;
}

/* a context of exactly `isa`, or NULL when the CPU lacks it */
static rt_kernels *ctx_for(rt_isa isa) {
  rt_kernels *k = rt_kernels_new(isa);
  if (k && rt_kernels_isa(k) != isa) {
    rt_kernels_free(k);
    return NULL;
  }
  return k;
}

typedef struct {
  int M, N, K;
  float *x, *w, *b;
  int8_t *q;
  float *ws;
  int32_t *rs;
  rt_mat W;
} problem;

/* random x [M,K] (row 0 scaled so that some rows are small), W [N,K] fp32 or int8 over the
 * full int8 range, b [N] */
static void problem_make(problem *p, int M, int N, int K, int dtype) {
  memset(p, 0, sizeof *p);
  p->M = M, p->N = N, p->K = K;
  p->x = malloc((size_t)M * K * sizeof(float) + 1);
  p->w = malloc((size_t)N * K * sizeof(float) + 1);
  p->b = malloc((size_t)N * sizeof(float));
  fill(p->x, (size_t)M * K, 2.0f);
  if (M > 1)
    for (int k = 0; k < K; k++) p->x[K + k] *= 1e-3f;
  fill(p->w, (size_t)N * K, 0.1f);
  fill(p->b, (size_t)N, 1.0f);
  p->W = (rt_mat){.rows = N, .cols = K, .dtype = dtype, .f = p->w};
  if (dtype == RT_I8) {
    p->q = malloc((size_t)N * K + 1);
    p->ws = malloc((size_t)N * sizeof(float));
    p->rs = malloc((size_t)N * sizeof(int32_t));
    for (int n = 0; n < N; n++) {
      int32_t s = 0;
      for (int k = 0; k < K; k++) {
        int v = (int)(rnd() % 256) - 128;
        p->q[(size_t)n * K + k] = (int8_t)v;
        s += v;
      }
      p->ws[n] = 1e-3f * (1.0f + (float)(n % 5));
      p->rs[n] = s;
    }
    p->W.f = NULL;
    p->W.q = p->q, p->W.scale = p->ws, p->W.rowsum = p->rs;
  }
}

static void problem_free(problem *p) {
  free(p->x), free(p->w), free(p->b), free(p->q), free(p->ws), free(p->rs);
}

/* shapes beyond the cartesian product: the thresholds of the small-K kernels (AVX-512: K <= 48
 * with M >= 8, K <= 128 with M >= 64; AVX2: K <= 48 with M >= 16) and their neighbours */
static const int EXTRA[][3] = {{70, 37, 100}, {64, 130, 128}, {64, 16, 129}, {63, 20, 128},
                               {8, 16, 48},   {8, 17, 49},    {9, 33, 4},    {8, 1, 2},
                               {16, 9, 48},   {15, 9, 48}};

static int f32_case(rt_kernels *k, rt_isa isa, int M, int N, int K, int bias, int *shown) {
  int fails = 0;
  problem p;
  problem_make(&p, M, N, K, RT_F32);
  float *y = alloc_y(M, N);
  if (rt_linear(k, p.x, M, &p.W, bias ? p.b : NULL, y) != 0) fails++;
  for (int i = 0; i < M; i++)
    for (int n = 0; n < N; n++) {
      double ref = bias ? p.b[n] : 0.0, mag = bias ? fabs(p.b[n]) : 0.0;
      for (int kk = 0; kk < K; kk++) {
        double t = (double)p.x[(size_t)i * K + kk] * (double)p.w[(size_t)n * K + kk];
        ref += t, mag += fabs(t);
      }
      double tol = 2.0 * (K + 2) * ldexp(1.0, -24) * mag;
      double got = y[(size_t)i * N + n];
      if (!(fabs(got - ref) <= tol))
        fails += report(shown, "f32 vs double", isa, M, N, K, i, n, got, ref);
    }
  if (!canaries_ok(y, M, N)) fails++, fprintf(stderr, "  f32 wrote past y\n");
  free(y);
  problem_free(&p);
  return fails;
}

int kc_f32_vs_reference(rt_isa isa) {
  rt_kernels *k = ctx_for(isa);
  if (!k) return 0;
  int fails = 0, shown = 0;
  for (int bias = 0; bias < 2; bias++) {
    for (int mi = 0; mi < LEN(MS); mi++)
      for (int ki = 0; ki < LEN(KS); ki++)
        for (int ni = 0; ni < LEN(NS); ni++)
          fails += f32_case(k, isa, MS[mi], NS[ni], KS[ki], bias, &shown);
    for (int e = 0; e < LEN(EXTRA); e++)
      fails += f32_case(k, isa, EXTRA[e][0], EXTRA[e][1], EXTRA[e][2], bias, &shown);
  }
  rt_kernels_free(k);
  return fails;
}

/* The AVX2 path has two int8 kernels (vpmaddubsw, and AVX-VNNI when the CPU has it): run a
 * check on both, the second time with EF_RUNTIME_NO_AVXVNNI=1. */
static int both_avx2_variants(rt_isa isa, int (*body)(rt_isa)) {
  int fails = body(isa);
  if (isa == RT_ISA_AVX2 && !getenv("EF_RUNTIME_NO_AVXVNNI")) {
    setenv("EF_RUNTIME_NO_AVXVNNI", "1", 1);
    fails += body(isa);
    unsetenv("EF_RUNTIME_NO_AVXVNNI");
  }
  return fails;
}

static int i8_case(rt_kernels *k, rt_isa isa, int M, int N, int K, int bias, int *shown) {
  int fails = 0;
  problem p;
  problem_make(&p, M, N, K, RT_I8);
  if (M >= 3) { /* row 2: scale exactly 1 and ties everywhere, plus a NaN */
    float *r2 = p.x + 2 * (size_t)K;
    for (int kk = 0; kk < K; kk++) r2[kk] = (float)(kk % 16) - 7.5f;
    r2[0] = -127.0f;
    if (K >= 3) r2[1] = NAN;
  }
  float *y = alloc_y(M, N);
  int8_t *xq = malloc((size_t)M * K);
  float *xs = malloc((size_t)M * sizeof(float));
  rt_quantize_rows(p.x, M, K, xq, xs, NULL);
  if (rt_linear(k, p.x, M, &p.W, bias ? p.b : NULL, y) != 0) fails++;
  for (int i = 0; i < M; i++)
    for (int n = 0; n < N; n++) {
      int64_t d = 0;
      for (int kk = 0; kk < K; kk++) d += (int64_t)xq[(size_t)i * K + kk] * p.q[(size_t)n * K + kk];
      /* the documented epilogue, with volatile so the compiler cannot fuse it */
      volatile float s = xs[i] * p.ws[n];
      volatile float v = (float)(int32_t)d * s;
      volatile float want = bias ? v + p.b[n] : v;
      float got = y[(size_t)i * N + n];
      if (memcmp(&got, (const void *)&want, sizeof got) != 0)
        fails += report(shown, "i8 exact", isa, M, N, K, i, n, got, want);
    }
  if (!canaries_ok(y, M, N)) fails++, fprintf(stderr, "  i8 wrote past y\n");
  free(y), free(xq), free(xs);
  problem_free(&p);
  return fails;
}

static int kc_i8_exact_body(rt_isa isa) {
  rt_kernels *k = ctx_for(isa);
  if (!k) return 0;
  int fails = 0, shown = 0;
  for (int bias = 0; bias < 2; bias++) {
    for (int mi = 0; mi < LEN(MS); mi++)
      for (int ki = 0; ki < LEN(KS); ki++)
        for (int ni = 0; ni < LEN(NS); ni++)
          fails += i8_case(k, isa, MS[mi], NS[ni], KS[ki], bias, &shown);
    for (int e = 0; e < LEN(EXTRA); e++)
      fails += i8_case(k, isa, EXTRA[e][0], EXTRA[e][1], EXTRA[e][2], bias, &shown);
  }
  rt_kernels_free(k);
  return fails;
}

static int kc_threads_identical_body(rt_isa isa) {
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
  return 0; /* the WebAssembly modules are built without threads (scripts/build_wasm.sh) */
#endif
  rt_kernels *k1 = ctx_for(isa), *k2 = ctx_for(isa);
  if (!k1 || !k2) {
    rt_kernels_free(k1), rt_kernels_free(k2);
    return 0;
  }
  int fails = 0;
  /* resize the pool a few times (threads are joined and restarted), end with 2 */
  if (rt_kernels_set_threads(k2, 0) != -1) fails++, fprintf(stderr, "  set_threads(0) accepted\n");
  if (rt_kernels_set_threads(k2, 3) != 0 || rt_kernels_threads(k2) != 3) fails++;
  if (rt_kernels_set_threads(k2, 1) != 0 || rt_kernels_threads(k2) != 1) fails++;
  if (rt_kernels_set_threads(k2, 2) != 0 || rt_kernels_threads(k2) != 2) fails++;
  /* {64, 48, 600}: activations quantised by both threads; {40, 100, 32}, {33, 130, 100}: the
   * small-K panels */
  static const int shapes[][3] = {{33, 130, 100},  {7, 33, 513},   {2, 1000, 3},   {5, 512, 128},
                                  {64, 48, 600},   {40, 100, 32},  {1, 2048, 512}, {5, 512, 2048},
                                  {30, 2048, 512}, {150, 512, 512}};
  /* EF_KERNELS_QUICK (the ThreadSanitizer run): only the small shapes, which still split */
  int nshapes = getenv("EF_KERNELS_QUICK") ? 6 : LEN(shapes);
  for (int s = 0; s < nshapes; s++)
    for (int dt = 0; dt < 2; dt++) {
      int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
      problem p;
      problem_make(&p, M, N, K, dt ? RT_I8 : RT_F32);
      float *y1 = alloc_y(M, N), *y2 = alloc_y(M, N);
      for (int rep = 0; rep < 3; rep++) { /* several calls: the pool is reused */
        rt_linear(k1, p.x, M, &p.W, p.b, y1);
        rt_linear(k2, p.x, M, &p.W, p.b, y2);
        if (memcmp(y1, y2, ((size_t)M * N + NCANARY) * sizeof *y1) != 0) {
          fails++;
          fprintf(stderr, "  threads [%s] %s M=%d N=%d K=%d: 1 and 2 threads differ\n",
                  rt_isa_name(isa), dt ? "i8" : "f32", M, N, K);
          break;
        }
      }
      free(y1), free(y2);
      problem_free(&p);
    }
  rt_kernels_free(k1), rt_kernels_free(k2);
  return fails;
}

static int kc_zero_rows_body(rt_isa isa) {
  rt_kernels *k = ctx_for(isa);
  if (!k) return 0;
  int fails = 0;
  for (int dt = 0; dt < 2; dt++)
    for (int bias = 0; bias < 2; bias++) {
      int M = 3, N = 37, K = 70;
      problem p;
      problem_make(&p, M, N, K, dt ? RT_I8 : RT_F32);
      memset(p.x + K, 0, (size_t)K * sizeof(float)); /* row 1 all zeros */
      float *y = alloc_y(M, N);
      rt_linear(k, p.x, M, &p.W, bias ? p.b : NULL, y);
      for (int n = 0; n < N; n++) {
        float want = bias ? p.b[n] : 0.0f;
        if (y[N + n] != want) {
          fails++;
          fprintf(stderr, "  zero row [%s] %s n=%d: got %g want %g\n", rt_isa_name(isa),
                  dt ? "i8" : "f32", n, y[N + n], want);
          break;
        }
      }
      /* K = 0: the bias (or zeros); M = 0: nothing written */
      rt_mat W0 = p.W;
      W0.cols = 0;
      rt_linear(k, p.x, M, &W0, bias ? p.b : NULL, y);
      for (int i = 0; i < M * N; i++)
        if (y[i] != (bias ? p.b[i % N] : 0.0f)) {
          fails++;
          fprintf(stderr, "  K=0 [%s] gave %g at %d\n", rt_isa_name(isa), y[i], i);
          break;
        }
      float sentinel = y[0];
      rt_linear(k, p.x, 0, &p.W, p.b, y);
      if (y[0] != sentinel) fails++, fprintf(stderr, "  M=0 wrote y\n");
      if (!canaries_ok(y, M, N)) fails++;
      free(y);
      problem_free(&p);
    }
  rt_kernels_free(k);
  return fails;
}

static int kc_steady_state_body(rt_isa isa) {
  rt_kernels *k = ctx_for(isa), *ref = ctx_for(isa);
  if (!k || !ref) {
    rt_kernels_free(k), rt_kernels_free(ref);
    return 0;
  }
  int fails = 0;
  static const int seq[][3] = {{2, 64, 100},   {40, 130, 513}, {1, 7, 3},
                               {33, 130, 512}, {40, 130, 513}, {5, 64, 100}};
  size_t grows_after_max = 0;
  for (int s = 0; s < LEN(seq); s++) {
    int M = seq[s][0], N = seq[s][1], K = seq[s][2];
    problem p;
    problem_make(&p, M, N, K, RT_I8);
    float *y = alloc_y(M, N), *y2 = alloc_y(M, N);
    rt_linear(k, p.x, M, &p.W, p.b, y);
    rt_kernels *fresh = ctx_for(isa);
    rt_linear(fresh, p.x, M, &p.W, p.b, y2);
    rt_kernels_free(fresh);
    if (memcmp(y, y2, (size_t)M * N * sizeof *y) != 0)
      fails++, fprintf(stderr, "  steady [%s] step %d differs from a fresh context\n",
                       rt_isa_name(isa), s);
    if (s == 1) grows_after_max = rt_kernels_scratch_grows(k);
    if (s > 1 && rt_kernels_scratch_grows(k) != grows_after_max)
      fails++, fprintf(stderr, "  steady [%s] step %d reallocated scratch\n", rt_isa_name(isa), s);
    free(y), free(y2);
    problem_free(&p);
  }
  /* after rt_kernels_reserve, no call up to the reserved size reallocates */
  if (rt_kernels_reserve(ref, 40, 2048) != 0) fails++;
  size_t g = rt_kernels_scratch_grows(ref);
  problem p;
  problem_make(&p, 40, 16, 2048, RT_I8);
  float *y = alloc_y(40, 16);
  rt_linear(ref, p.x, 40, &p.W, NULL, y);
  if (rt_kernels_scratch_grows(ref) != g) fails++, fprintf(stderr, "  reserve did not hold\n");
  free(y);
  problem_free(&p);
  rt_kernels_free(k), rt_kernels_free(ref);
  return fails;
}

int kc_quantize_roundtrip(void) {
  int fails = 0, rows = 9, cols = 301;
  float *w = malloc((size_t)rows * cols * sizeof *w), *scale = malloc((size_t)rows * sizeof *scale);
  int8_t *q = malloc((size_t)rows * cols);
  int32_t *rs = malloc((size_t)rows * sizeof *rs);
  fill(w, (size_t)rows * cols, 3.0f);
  for (int c = 0; c < cols; c++) w[2 * cols + c] = 0.0f;    /* zero row */
  for (int c = 0; c < cols; c++) w[3 * cols + c] *= 1e-30f; /* small row, above 2^-100 */
  for (int c = 0; c < cols; c++) w[5 * cols + c] *= 1e-32f; /* tiny row: quantises to 0 */
  for (int c = 0; c < cols; c++) w[4 * cols + c] = (c % 2) ? -0.5f : 0.5f; /* ties */
  rt_quantize_rows(w, rows, cols, q, scale, rs);
  for (int r = 0; r < rows; r++) {
    const float *wr = w + (size_t)r * cols;
    const int8_t *qr = q + (size_t)r * cols;
    double m = 0;
    int32_t s = 0;
    int hit = 0;
    for (int c = 0; c < cols; c++)
      if (fabs(wr[c]) > m) m = fabs(wr[c]);
    int tiny = m < ldexp(1.0, -100);
    if (tiny && scale[r] != 1.0f) fails++, fprintf(stderr, "  zero row scale %g\n", scale[r]);
    if (!tiny && fabs(scale[r] - m / 127.0) > 1e-6 * m / 127.0)
      fails++, fprintf(stderr, "  row %d scale %g want %g\n", r, scale[r], m / 127.0);
    for (int c = 0; c < cols; c++) {
      s += qr[c];
      if (qr[c] < -127) fails++;
      double err = fabs((double)wr[c] - (double)scale[r] * qr[c]);
      if (tiny ? qr[c] != 0 : err > 0.5 * scale[r] * (1 + ldexp(1.0, -14))) {
        if (fails++ < MAX_SHOWN)
          fprintf(stderr, "  quantise row %d col %d: w %g q %d scale %g\n", r, c, wr[c], qr[c],
                  scale[r]);
      }
      if (fabs(wr[c]) == m && abs(qr[c]) == 127) hit = 1;
    }
    if (!tiny && !hit) fails++, fprintf(stderr, "  row %d: max does not map to 127\n", r);
    if (s != rs[r]) fails++, fprintf(stderr, "  row %d rowsum %d want %d\n", r, rs[r], s);
  }
  /* round half to even: 0.5·127 / 0.5 = 127 exactly; a crafted tie */
  float t[3] = {127.0f, 2.5f, -3.5f}, ts;
  int8_t tq[3];
  rt_quantize_rows(t, 1, 3, tq, &ts, NULL);
  if (ts != 1.0f || tq[0] != 127 || tq[1] != 2 || tq[2] != -4)
    fails++, fprintf(stderr, "  ties: scale %g q %d %d %d\n", ts, tq[0], tq[1], tq[2]);
  free(w), free(scale), free(q), free(rs);
  return fails;
}

int kc_isa_selection(void) {
  int fails = 0;
  const char *old = getenv("EF_RUNTIME_ISA");
  char *saved = old ? strdup(old) : NULL;
  setenv("EF_RUNTIME_ISA", "portable", 1);
  if (rt_isa_detect() != RT_ISA_PORTABLE) fails++, fprintf(stderr, "  EF_RUNTIME_ISA ignored\n");
  unsetenv("EF_RUNTIME_ISA");
  rt_isa best = rt_isa_detect();
  for (int i = RT_ISA_PORTABLE; i <= RT_ISA_NEON; i++) {
    rt_kernels *k = rt_kernels_new((rt_isa)i);
    if (!k) {
      fails++;
      continue;
    }
    if ((int)rt_kernels_isa(k) > i && !(i == RT_ISA_NEON)) fails++;
    if ((int)rt_kernels_isa(k) > (int)best)
      fails++, fprintf(stderr, "  %s above best\n", rt_isa_name(rt_kernels_isa(k)));
    rt_kernels_free(k);
  }
  if (saved) setenv("EF_RUNTIME_ISA", saved, 1);
  free(saved);
  return fails;
}

int kc_run_all(const char *only) {
  int total = 0, f;
  fprintf(stderr, "best ISA: %s\n", rt_isa_name(rt_isa_detect()));
  if (!only || strstr("quantize_roundtrip", only)) {
    total += f = kc_quantize_roundtrip();
    fprintf(stderr, "%-22s %-11s %s\n", "quantize_roundtrip", "-", f ? "FAIL" : "ok");
  }
  if (!only || strstr("isa_selection", only)) {
    total += f = kc_isa_selection();
    fprintf(stderr, "%-22s %-11s %s\n", "isa_selection", "-", f ? "FAIL" : "ok");
  }
  rt_isa cap = rt_isa_detect(); /* EF_RUNTIME_ISA limits the paths checked */
  for (int i = RT_ISA_PORTABLE; i <= (int)cap; i++) {
    rt_isa isa = (rt_isa)i;
    rt_kernels *k = ctx_for(isa);
    if (!k) continue;
    rt_kernels_free(k);
    struct {
      const char *name;
      int (*fn)(rt_isa);
    } checks[] = {{"f32_vs_reference", kc_f32_vs_reference},
                  {"i8_exact", kc_i8_exact},
                  {"threads_identical", kc_threads_identical},
                  {"zero_rows", kc_zero_rows},
                  {"steady_state", kc_steady_state}};
    for (int c = 0; c < LEN(checks); c++) {
      if (only && !strstr(checks[c].name, only)) continue;
      total += f = checks[c].fn(isa);
      fprintf(stderr, "%-22s %-11s %s\n", checks[c].name, rt_isa_name(isa), f ? "FAIL" : "ok");
    }
  }
  return total;
}

int kc_i8_exact(rt_isa isa) { return both_avx2_variants(isa, kc_i8_exact_body); }

int kc_threads_identical(rt_isa isa) { return both_avx2_variants(isa, kc_threads_identical_body); }

int kc_zero_rows(rt_isa isa) { return both_avx2_variants(isa, kc_zero_rows_body); }

int kc_steady_state(rt_isa isa) { return both_avx2_variants(isa, kc_steady_state_body); }
