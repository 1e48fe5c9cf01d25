/* bf16 mixed precision: round-to-nearest-even conversion, the oneDNN bf16 product against a
 * double-precision reference on the same rounded operands (every transpose, beta 0 and 1,
 * serial and split over 2 threads), the linear op's bf16 path against its fp32 path (output
 * and all three gradients, stated tolerances), and the parameter store's bf16 copy. On a CPU
 * without bf16 instructions the product tests check that bf16 is reported unavailable and
 * that a bf16 context stays fp32 (bit-identical to the fp32 path). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/bf16.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "autograd/params.h"

static uint64_t rng_state;
static float urand(void) { /* [-1, 1) */
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(rng_state >> 40) / (double)(1 << 23) - 1.0);
}

static float bits_to_f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

START_TEST(conversion_rounds_to_nearest_even) {
  /* 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0);
   * 1 + 3*2^-8 ties to 1 + 2^-6 (even); just above a tie rounds up. */
  float in[] = {1.0f,
                1.0f + 0x1p-8f,
                1.0f + 3 * 0x1p-8f,
                1.0f + 0x1p-8f + 0x1p-20f,
                -2.5f,
                bits_to_f(0x7f7fffffu),
                INFINITY,
                -INFINITY,
                0.0f,
                -0.0f,
                NAN};
  uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0xc020,
                     0x7f80, 0x7f80, 0xff80, 0x0000, 0x8000};
  uint16_t out[11];
  ef_bf16_from_f32(out, in, 11);
  for (int i = 0; i < 10; i++)
    ck_assert_msg(out[i] == want[i], "%d: %04x != %04x", i, out[i], want[i]);
  ck_assert(isnan(ef_bf16_to_f32(out[10])));
  /* a large array (parallel path) equals the serial one element by element */
  int64_t n = 1 << 18;
  float *x = malloc((size_t)n * sizeof *x);
  uint16_t *a = malloc((size_t)n * 2), *b = malloc((size_t)n * 2);
  rng_state = 7;
  for (int64_t i = 0; i < n; i++) x[i] = urand() * 100.0f;
  ef_set_num_threads(2);
  ef_bf16_from_f32(a, x, n);
  for (int64_t i = 0; i < n; i += 4096) ef_bf16_from_f32(b + i, x + i, 4096);
  ck_assert_int_eq(memcmp(a, b, (size_t)n * 2), 0);
  for (int64_t i = 0; i < n; i++) /* within half a bf16 ulp: |x - bf16(x)| <= 2^-8 |x| */
    ck_assert_msg(fabsf(ef_bf16_to_f32(a[i]) - x[i]) <= 0x1p-8f * fabsf(x[i]), "%g", x[i]);
  free(x), free(a), free(b);
}
END_TEST

/* C = op(A) op(B) + beta C against a double reference of the same bf16 operands. fp32
 * accumulation of K products: |error| <= K * 2^-23 * sum_k |a_k b_k| (we allow 4x that). */
static void check_gemm(int ta, int tb, int M, int N, int K, int beta, int threads) {
  ef_set_num_threads(threads);
  float *af = malloc((size_t)M * K * 4), *bf = malloc((size_t)K * N * 4);
  uint16_t *A = malloc((size_t)M * K * 2), *B = malloc((size_t)K * N * 2);
  float *C = malloc((size_t)M * N * 4);
  rng_state = (uint64_t)(M * 131 + N * 7 + K + ta * 3 + tb * 5 + beta);
  for (int64_t i = 0; i < (int64_t)M * K; i++) af[i] = urand();
  for (int64_t i = 0; i < (int64_t)K * N; i++) bf[i] = urand();
  for (int64_t i = 0; i < (int64_t)M * N; i++) C[i] = urand();
  ef_bf16_from_f32(A, af, (int64_t)M * K);
  ef_bf16_from_f32(B, bf, (int64_t)K * N);
  float *C0 = malloc((size_t)M * N * 4);
  memcpy(C0, C, (size_t)M * N * 4);
  ef_bf16_gemm(ta, tb, M, N, K, A, B, beta ? 1.0f : 0.0f, C);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double r = beta ? C0[(int64_t)i * N + j] : 0.0, mag = fabs(r);
      for (int k = 0; k < K; k++) {
        double a = ef_bf16_to_f32(ta ? A[(int64_t)k * M + i] : A[(int64_t)i * K + k]);
        double b = ef_bf16_to_f32(tb ? B[(int64_t)j * K + k] : B[(int64_t)k * N + j]);
        r += a * b, mag += fabs(a * b);
      }
      double tol = 4.0 * (K + 1) * 0x1p-23 * mag + 1e-30;
      ck_assert_msg(fabs(C[(int64_t)i * N + j] - r) <= tol,
                    "ta=%d tb=%d %dx%dx%d beta=%d threads=%d: C[%d,%d] = %.9g, reference %.9g", ta,
                    tb, M, N, K, beta, threads, i, j, C[(int64_t)i * N + j], r);
    }
  free(af), free(bf), free(A), free(B), free(C), free(C0);
}

START_TEST(gemm_matches_double_reference) {
  if (!ef_bf16_supported()) {
    printf("bf16 unavailable here (%s): product tests skipped\n", ef_bf16_describe());
    return;
  }
  static const int shapes[][3] = {{1, 1, 1},      {5, 3, 7},      {37, 53, 29},
                                  {300, 70, 129}, {1100, 96, 64}, {48, 1500, 40}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        for (int beta = 0; beta < 2; beta++)
          for (int th = 1; th <= 2; th++)
            check_gemm(ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], beta, th);
}
END_TEST

/* One linear op y = x Wᵀ + b and its gradients for the output gradient g, fp32 or bf16. */
static void run_linear(int bf16, int M, int N, int K, const float *xv, const float *wv,
                       const float *bv, const float *g, float *y, float *dx, float *dw, float *db) {
  ef_params *p = ef_params_new();
  char err[128];
  int64_t ws[2] = {N, K}, bs[1] = {N}, xs[2] = {M, K};
  ck_assert_int_eq(ef_params_add(p, "w", 2, ws, err, sizeof err), 0);
  ck_assert_int_eq(ef_params_add(p, "b", 1, bs, err, sizeof err), 1);
  ck_assert_int_eq(ef_params_add(p, "x", 2, xs, err, sizeof err), 2);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  memcpy(ef_params_tensor(p, 0)->data, wv, (size_t)N * K * 4);
  memcpy(ef_params_tensor(p, 1)->data, bv, (size_t)N * 4);
  memcpy(ef_params_tensor(p, 2)->data, xv, (size_t)M * K * 4);
  if (bf16) {
    ck_assert_int_eq(ef_params_enable_bf16(p, err, sizeof err), 0);
    ef_params_sync_bf16(p);
  }
  ef_ctx *c = ef_ctx_new(1 << 20, 64);
  ef_ctx_set_bf16(c, bf16);
  ef_tensor *out =
      ef_linear(c, ef_params_tensor(p, 2), ef_params_tensor(p, 0), ef_params_tensor(p, 1));
  ck_assert_msg(ef_ctx_ok(c), "%s", ef_ctx_error(c));
  ef_params_zero_grad(p);
  ck_assert_int_eq(ef_backward_from(c, out, g), 0);
  memcpy(y, out->data, (size_t)M * N * 4);
  memcpy(dx, ef_params_tensor(p, 2)->grad, (size_t)M * K * 4);
  memcpy(dw, ef_params_tensor(p, 0)->grad, (size_t)N * K * 4);
  memcpy(db, ef_params_tensor(p, 1)->grad, (size_t)N * 4);
  ef_ctx_free(c);
  ef_params_free(p);
}

/* max |a - b| / rms(b) */
static double rel_dev(const float *a, const float *b, int64_t n) {
  double ss = 0, mx = 0;
  for (int64_t i = 0; i < n; i++) ss += (double)b[i] * b[i];
  for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)a[i] - b[i]));
  return mx / sqrt(ss / (double)n);
}

START_TEST(linear_bf16_matches_fp32_within_tolerance) {
  const int M = 200, N = 96, K = 160;
  float *x = malloc(M * K * 4), *w = malloc(N * K * 4), *b = malloc(N * 4), *g = malloc(M * N * 4);
  rng_state = 11;
  for (int i = 0; i < M * K; i++) x[i] = urand();
  for (int i = 0; i < N * K; i++) w[i] = urand() * 0.1f;
  for (int i = 0; i < N; i++) b[i] = urand();
  for (int i = 0; i < M * N; i++) g[i] = urand();
  float *r[2][4];
  int64_t len[4] = {M * N, M * K, N * K, N};
  for (int v = 0; v < 2; v++)
    for (int k = 0; k < 4; k++) r[v][k] = malloc((size_t)len[k] * 4);
  ef_set_num_threads(2);
  for (int v = 0; v < 2; v++)
    run_linear(v, M, N, K, x, w, b, g, r[v][0], r[v][1], r[v][2], r[v][3]);
  static const char *what[4] = {"y", "dx", "dW", "db"};
  if (!ef_bf16_supported()) { /* a bf16 context quietly stays fp32: identical results */
    for (int k = 0; k < 4; k++) ck_assert_int_eq(memcmp(r[0][k], r[1][k], (size_t)len[k] * 4), 0);
  } else {
    /* bf16 operands carry 8 significant bits (relative rounding <= 2^-8); a dot product of
     * independent roundings deviates by about 2^-8 * rms of the result, the worst of
     * thousands of elements by ~4x that: we allow 2% of the rms. db sums dy in fp32: exact. */
    for (int k = 0; k < 3; k++) {
      double d = rel_dev(r[1][k], r[0][k], len[k]);
      ck_assert_msg(d < 0.02, "%s: max deviation %.4f of the rms", what[k], d);
      ck_assert_msg(d > 0.0, "%s: bf16 path identical to fp32: not taken?", what[k]);
    }
    ck_assert_int_eq(memcmp(r[0][3], r[1][3], (size_t)N * 4), 0);
  }
  for (int v = 0; v < 2; v++)
    for (int k = 0; k < 4; k++) free(r[v][k]);
  free(x), free(w), free(b), free(g);
}
END_TEST

START_TEST(store_keeps_one_bf16_copy_refreshed_on_sync) {
  ef_params *p = ef_params_new();
  char err[128];
  int64_t ws[2] = {3, 4}, bs[1] = {3};
  ck_assert_int_eq(ef_params_add(p, "w", 2, ws, err, sizeof err), 0);
  ck_assert_int_eq(ef_params_add(p, "b", 1, bs, err, sizeof err), 1);
  ck_assert_int_eq(ef_params_alias(p, "w_shared", "w", err, sizeof err), 0);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  ck_assert_ptr_null(ef_params_tensor(p, 0)->bf16);
  ck_assert_int_eq(ef_params_enable_bf16(p, err, sizeof err), 0);
  ef_tensor *w = ef_params_tensor(p, 0);
  ck_assert_ptr_nonnull(w->bf16);
  ck_assert_ptr_null(ef_params_tensor(p, 1)->bf16); /* 1-D: never in a product */
  ck_assert_ptr_eq(ef_params_tensor(p, ef_params_find(p, "w_shared"))->bf16, w->bf16);
  for (int i = 0; i < 12; i++) w->data[i] = 1.0f + (float)i * 0x1p-10f;
  ef_params_sync_bf16(p);
  for (int i = 0; i < 12; i++) {
    uint16_t want;
    ef_bf16_from_f32(&want, &w->data[i], 1);
    ck_assert_int_eq(w->bf16[i], want);
  }
  w->data[0] = 3.0f; /* no sync: the copy is what the last sync made */
  ck_assert_int_eq(w->bf16[0], 0x3f80);
  ef_params_sync_bf16(p);
  ck_assert_int_eq(w->bf16[0], 0x4040);
  ef_params_free(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("bf16");
  TCase *tc = tcase_create("bf16");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, conversion_rounds_to_nearest_even);
  tcase_add_test(tc, gemm_matches_double_reference);
  tcase_add_test(tc, linear_bf16_matches_fp32_within_tolerance);
  tcase_add_test(tc, store_keeps_one_bf16_copy_refreshed_on_sync);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
