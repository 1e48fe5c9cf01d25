/* test_optim.c: optim/ against PyTorch and fairseq (fixtures from
 * tests/reference/optim_fixtures.py) and its contracts: schedule boundaries, clipping with
 * non-finite gradients, zero padding, thread-count invariance, checkpoint resume, errors.
 * Must never pass on values it did not compare.
 *
 * Parity tolerances (documented in docs/optim.md): lr 1e-6 relative (fixtures store float32),
 * loss and gradient norm 1e-5 relative, final parameters 1e-6 absolute + 1e-5 relative after
 * 10 updates. The C side computes the small model by hand in float32, so the differences are
 * float rounding of the forward/backward (different summation order from torch's GEMMs)
 * carried through 10 Adam updates. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/parallel.h"
#include "autograd/params.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "tests/common/fixture.h"

#define ERRLEN 256
#define LR_RTOL 1e-6
#define LR_ATOL 1e-12 /* lets an exact 0 compare (0 / (0 + 0) would be NaN) */
#define STAT_RTOL 1e-5
#define PARAM_ATOL 1e-6
#define PARAM_RTOL 1e-5
#define KERNEL_MAX_ULPS 0 /* the update kernels alone are bit-identical to torch 1.13 */
#define N_PARAMS 5
#define MAX_TOKENS 8
#define V 7
#define D 5
#define H 6
#define N_MICRO 2

static const char *const names[N_PARAMS] = {"E", "W1", "b1", "W2", "g"};

/* The fixture stores config scalars as float32; the reference used the decimal values
 * (0.05, 1e-6, ...), which 7 significant digits recover exactly. */
static double decimal_of(float f) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.7g", (double)f);
  return strtod(buf, NULL);
}

static ef_params *make_store(fx_file *model) {
  char err[ERRLEN];
  ef_params *p = ef_params_new();
  for (int i = 0; i < N_PARAMS; i++) {
    char key[64];
    snprintf(key, sizeof key, "init.%s", names[i]);
    fx_tensor *t = fx_need(model, key);
    ck_assert_int_eq(ef_params_add(p, names[i], t->ndim, t->shape, err, ERRLEN), i);
  }
  ck_assert_msg(ef_params_finalize(p, err, ERRLEN) == 0, "%s", err);
  for (int i = 0; i < N_PARAMS; i++) {
    char key[64];
    snprintf(key, sizeof key, "init.%s", names[i]);
    fx_tensor *t = fx_need(model, key);
    memcpy(ef_params_tensor(p, i)->data, t->f, (size_t)t->numel * sizeof(float));
  }
  return p;
}

/* One micro-batch of the reference model (see optim_fixtures.py): adds its gradients into
 * the store and returns its loss. */
static double micro_loss(ef_params *p, fx_file *model, int b) {
  char key[32];
  snprintf(key, sizeof key, "ids%d", b);
  fx_tensor *ids = fx_need(model, key);
  snprintf(key, sizeof key, "tgt%d", b);
  const float *tgt = fx_need(model, key)->f;
  ef_tensor *tE = ef_params_tensor(p, 0), *tW1 = ef_params_tensor(p, 1),
            *tb1 = ef_params_tensor(p, 2), *tW2 = ef_params_tensor(p, 3),
            *tg = ef_params_tensor(p, 4);
  const float *E = tE->data, *W1 = tW1->data, *b1 = tb1->data, *W2 = tW2->data, *g = tg->data;
  float *dE = tE->grad, *dW1 = tW1->grad, *db1 = tb1->grad, *dW2 = tW2->grad, *dg = tg->grad;
  double loss = 0;
  float tok_loss = 0;
  for (int64_t t = 0; t < ids->numel; t++) {
    int id = (int)ids->f[t];
    float x[D], h[H], u[D], y[D], r[V], dy[D], du[D], dh[H], da[H];
    for (int d = 0; d < D; d++) x[d] = E[id * D + d];
    for (int j = 0; j < H; j++) {
      float a = 0;
      for (int d = 0; d < D; d++) a += x[d] * W1[j * D + d];
      h[j] = tanhf(a + b1[j]);
    }
    for (int d = 0; d < D; d++) {
      float s = 0;
      for (int j = 0; j < H; j++) s += h[j] * W2[d * H + j];
      u[d] = s, y[d] = s * g[d];
    }
    for (int v = 0; v < V; v++) {
      float s = 0;
      for (int d = 0; d < D; d++) s += y[d] * E[v * D + d];
      r[v] = s - tgt[t * V + v];
      tok_loss += 0.5f * r[v] * r[v];
    }
    for (int d = 0; d < D; d++) {
      float s = 0;
      for (int v = 0; v < V; v++) s += r[v] * E[v * D + d];
      dy[d] = s;
    }
    for (int v = 0; v < V; v++)
      for (int d = 0; d < D; d++) dE[v * D + d] += r[v] * y[d];
    for (int d = 0; d < D; d++) dg[d] += dy[d] * u[d], du[d] = dy[d] * g[d];
    for (int j = 0; j < H; j++) {
      float s = 0;
      for (int d = 0; d < D; d++) s += du[d] * W2[d * H + j], dW2[d * H + j] += du[d] * h[j];
      dh[j] = s;
      da[j] = dh[j] * (1 - h[j] * h[j]);
      db1[j] += da[j];
    }
    for (int d = 0; d < D; d++) {
      float s = 0;
      for (int j = 0; j < H; j++) s += da[j] * W1[j * D + d], dW1[j * D + d] += da[j] * x[d];
      dE[id * D + d] += s;
    }
  }
  loss += tok_loss;
  if (b == 0) {
    const float *c = fx_need(model, "center")->f;
    float lambda = fx_need(model, "lambda")->f[0], q = 0;
    for (int i = 0; i < H * D; i++) {
      float diff = W1[i] - c[i];
      q += diff * diff;
      dW1[i] += lambda * diff;
    }
    loss += 0.5f * lambda * q;
  }
  return loss;
}

static ef_lr_schedule schedule_of(const float *s) {
  ef_lr_schedule sc = ef_lr_schedule_default((ef_lr_kind)(int)s[0], decimal_of(s[1]));
  sc.warmup_updates = (int64_t)s[2];
  sc.warmup_init_lr = decimal_of(s[3]);
  sc.end_learning_rate = decimal_of(s[4]);
  sc.power = decimal_of(s[5]);
  sc.total_num_update = (int64_t)s[6];
  return sc;
}

static void run_parity(const char *run) {
  fx_file model, ref;
  char path[128], err[ERRLEN];
  fx_load(&model, "optim/model.txt");
  snprintf(path, sizeof path, "optim/%s.txt", run);
  fx_load(&ref, path);
  const float *meta = fx_need(&ref, "meta")->f;
  ef_lr_schedule sched = schedule_of(fx_need(&ref, "sched")->f);
  ck_assert_msg(ef_lr_schedule_check(&sched, err, ERRLEN) == 0, "%s", err);
  ef_adam_config cfg = {decimal_of(meta[2]), decimal_of(meta[3]), decimal_of(meta[4]),
                        decimal_of(meta[1]), (ef_adam_variant)(int)meta[0]};
  double clip = decimal_of(meta[5]);
  int ntok = (int)meta[6];
  fx_tensor *rloss = fx_need(&ref, "loss"), *rnorm = fx_need(&ref, "grad_norm"),
            *rlr = fx_need(&ref, "lr");
  int steps = (int)rloss->numel;
  ef_params *p = make_store(&model);
  ef_adam opt;
  ck_assert_msg(ef_adam_init(&opt, p, &cfg, err, ERRLEN) == 0, "%s", err);
  float loss[64], norm[64], lr[64];
  ck_assert_int_le(steps, 64);
  for (int u = 0; u < steps; u++) {
    ef_params_zero_grad(p);
    double l = 0;
    for (int b = 0; b < N_MICRO; b++) l += micro_loss(p, &model, b);
    ef_grad_scale(p, (float)(1.0 / ntok));
    double n;
    ck_assert_int_eq(ef_clip_grad_norm(p, clip, &n), EF_CLIP_OK);
    double r = ef_lr_at(&sched, u);
    ck_assert_msg(ef_adam_step(&opt, r, err, ERRLEN) == 0, "%s", err);
    loss[u] = (float)l, norm[u] = (float)n, lr[u] = (float)r;
  }
  char what[96];
  snprintf(what, sizeof what, "%s lr", run);
  fx_assert_close(what, lr, rlr->f, steps, LR_ATOL, LR_RTOL);
  snprintf(what, sizeof what, "%s loss", run);
  fx_assert_close(what, loss, rloss->f, steps, 0, STAT_RTOL);
  snprintf(what, sizeof what, "%s grad norm", run);
  fx_assert_close(what, norm, rnorm->f, steps, 0, STAT_RTOL);
  double worst_p = 0, worst_abs = 0;
  for (int i = 0; i < N_PARAMS; i++) {
    char key[64];
    snprintf(key, sizeof key, "final.%s", names[i]);
    fx_tensor *t = fx_need(&ref, key);
    ef_tensor *et = ef_params_tensor(p, i);
    snprintf(what, sizeof what, "%s final %s", run, names[i]);
    fx_assert_close(what, et->data, t->f, t->numel, PARAM_ATOL, PARAM_RTOL);
    for (int64_t k = 0; k < t->numel; k++) {
      double e = fabs(et->data[k] - t->f[k]) / (fabs(t->f[k]) + 1e-3);
      if (e > worst_p) worst_p = e;
      if (fabs(et->data[k] - t->f[k]) > worst_abs) worst_abs = fabs(et->data[k] - t->f[k]);
    }
  }
  printf("parity %-16s max rel err: lr %.2e loss %.2e norm %.2e; params rel %.2e (to |x|+1e-3)"
         " abs %.2e\n",
         run, fx_err(lr, rlr->f, steps, 1e-30, 1, NULL),
         fx_err(loss, rloss->f, steps, 1e-30, 1, NULL),
         fx_err(norm, rnorm->f, steps, 1e-30, 1, NULL), worst_p, worst_abs);
  ef_params_free(p);
  fx_free(&model);
  fx_free(&ref);
}

START_TEST(torch_adam_poly_matches) { run_parity("adam_poly"); }
END_TEST
START_TEST(torch_adam_l2_poly_power2_matches) { run_parity("adam_l2_poly2"); }
END_TEST
START_TEST(torch_adamw_poly_matches) { run_parity("adamw_poly"); }
END_TEST
START_TEST(torch_adamw_inverse_sqrt_matches) { run_parity("adamw_invsqrt"); }
END_TEST
START_TEST(fairseq_adam_inverse_sqrt_matches) { run_parity("fairseq_invsqrt"); }
END_TEST
START_TEST(fairseq_adam_fixed_warmup_matches) { run_parity("fairseq_fixed"); }
END_TEST

/* Distance in units in the last place between two finite floats of the same sign region. */
static int64_t ulps(float a, float b) {
  int32_t ia, ib;
  memcpy(&ia, &a, 4), memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return ia > ib ? (int64_t)ia - ib : (int64_t)ib - ia;
}

static void run_kernel(const char *name) {
  fx_file fx;
  char path[128], err[ERRLEN];
  snprintf(path, sizeof path, "optim/%s.txt", name);
  fx_load(&fx, path);
  const float *meta = fx_need(&fx, "meta")->f;
  fx_tensor *init = fx_need(&fx, "init"), *lr = fx_need(&fx, "lr"), *fin = fx_need(&fx, "final");
  ef_adam_config cfg = {decimal_of(meta[2]), decimal_of(meta[3]), decimal_of(meta[4]),
                        decimal_of(meta[1]), (ef_adam_variant)(int)meta[0]};
  ef_params *p = ef_params_new();
  ck_assert_int_eq(ef_params_add(p, "w", 1, &init->numel, err, ERRLEN), 0);
  ck_assert_int_eq(ef_params_finalize(p, err, ERRLEN), 0);
  ef_tensor *w = ef_params_tensor(p, 0);
  memcpy(w->data, init->f, (size_t)init->numel * sizeof(float));
  ef_adam opt;
  ck_assert_msg(ef_adam_init(&opt, p, &cfg, err, ERRLEN) == 0, "%s", err);
  for (int64_t k = 0; k < lr->numel; k++) {
    char key[32];
    snprintf(key, sizeof key, "grad%lld", (long long)k);
    memcpy(w->grad, fx_need(&fx, key)->f, (size_t)init->numel * sizeof(float));
    ck_assert_int_eq(ef_adam_step(&opt, decimal_of(lr->f[k]), err, ERRLEN), 0);
  }
  int64_t worst = 0, differ = 0;
  for (int64_t i = 0; i < fin->numel; i++) {
    int64_t u = ulps(w->data[i], fin->f[i]);
    differ += u != 0;
    if (u > worst) worst = u;
  }
  printf("kernel %-18s max %lld ulp, %lld of %lld elements not bit-identical\n", name,
         (long long)worst, (long long)differ, (long long)fin->numel);
  ck_assert_msg(worst <= KERNEL_MAX_ULPS, "%s: %lld ulps from torch", name, (long long)worst);
  ef_params_free(p);
  fx_free(&fx);
}

START_TEST(update_kernels_match_torch_to_the_ulp) {
  static const char *const which[] = {"kernel_adam_wd0", "kernel_adam_wd0.1", "kernel_adamw_wd0.1",
                                      "kernel_fairseq_wd0", "kernel_fairseq_wd0.1"};
  for (size_t i = 0; i < sizeof which / sizeof which[0]; i++) run_kernel(which[i]);
}
END_TEST

START_TEST(schedules_match_fairseq_step_update) {
  static const char *const which[] = {
      "fixed",      "fixed_nowarm",    "inverse_sqrt",     "inverse_sqrt_init",
      "polynomial", "polynomial_pow2", "polynomial_nowarm"};
  fx_file fx;
  char err[ERRLEN], key[64];
  fx_load(&fx, "optim/schedules.txt");
  for (size_t s = 0; s < sizeof which / sizeof which[0]; s++) {
    snprintf(key, sizeof key, "cfg.%s", which[s]);
    ef_lr_schedule sc = schedule_of(fx_need(&fx, key)->f);
    ck_assert_msg(ef_lr_schedule_check(&sc, err, ERRLEN) == 0, "%s: %s", which[s], err);
    snprintf(key, sizeof key, "lr.%s", which[s]);
    fx_tensor *ref = fx_need(&fx, key);
    float got[64];
    ck_assert_int_le(ref->numel, 64);
    for (int64_t n = 0; n < ref->numel; n++) got[n] = (float)ef_lr_at(&sc, n);
    fx_assert_close(key, got, ref->f, ref->numel, LR_ATOL, LR_RTOL);
  }
  fx_free(&fx);
}
END_TEST

START_TEST(schedule_boundaries_follow_fairseq_off_by_ones) {
  /* polynomial_decay, lr 0.05, warmup 3, total 8, end 1e-3: update k runs with lr_at(k-1). */
  ef_lr_schedule pd = ef_lr_schedule_default(EF_LR_POLYNOMIAL_DECAY, 0.05);
  pd.warmup_updates = 3, pd.total_num_update = 8, pd.end_learning_rate = 1e-3;
  ck_assert_double_eq(ef_lr_at(&pd, 0), 0.0);  /* first update: lr 0 */
  ck_assert_double_eq(ef_lr_at(&pd, 3), 0.05); /* n == warmup: still warmup, = lr */
  ck_assert_double_eq_tol(ef_lr_at(&pd, 4), 0.049 * 0.8 + 1e-3, 1e-15);
  ck_assert_double_eq(ef_lr_at(&pd, 8), 1e-3);       /* n == total: end */
  ck_assert_double_eq(ef_lr_at(&pd, 1000000), 1e-3); /* past total: stays end */
  ck_assert_double_eq(ef_lr_at(&pd, -5), 0.0);
  /* warmup longer than total: the warmup branch is tested first, as in fairseq. */
  pd.warmup_updates = 10;
  ck_assert_double_eq_tol(ef_lr_at(&pd, 9), 0.045, 1e-15);
  ck_assert_double_eq(ef_lr_at(&pd, 11), 1e-3);
  /* inverse_sqrt, lr 0.05, warmup 4: from 0 in steps of lr/4, exactly lr at n == warmup. */
  ef_lr_schedule is = ef_lr_schedule_default(EF_LR_INVERSE_SQRT, 0.05);
  ck_assert_int_eq(is.warmup_updates, EF_LR_INVERSE_SQRT_DEFAULT_WARMUP);
  is.warmup_updates = 4;
  ck_assert_double_eq(ef_lr_at(&is, 0), 0.0);
  ck_assert_double_eq_tol(ef_lr_at(&is, 3), 0.0375, 1e-15);
  ck_assert_double_eq_tol(ef_lr_at(&is, 4), 0.05, 1e-15);
  ck_assert_double_eq_tol(ef_lr_at(&is, 16), 0.025, 1e-15);
  is.warmup_init_lr = 0.01; /* explicit --warmup-init-lr */
  ck_assert_double_eq(ef_lr_at(&is, 0), 0.01);
  ck_assert_double_eq_tol(ef_lr_at(&is, 2), 0.03, 1e-15);
  /* fixed, warmup 3: (n+1)/3 of lr, full lr from n = 2 on; no warmup: always lr. */
  ef_lr_schedule fx = ef_lr_schedule_default(EF_LR_FIXED, 0.05);
  ck_assert_double_eq(ef_lr_at(&fx, 0), 0.05);
  fx.warmup_updates = 3;
  ck_assert_double_eq_tol(ef_lr_at(&fx, 0), 0.05 / 3, 1e-15);
  ck_assert_double_eq(ef_lr_at(&fx, 2), 0.05);
  ck_assert_double_eq(ef_lr_at(&fx, 3), 0.05);
}
END_TEST

START_TEST(schedule_rejects_bad_options) {
  char err[ERRLEN];
  ef_lr_kind k;
  ck_assert_int_eq(ef_lr_kind_parse("polynomial_decay", &k, err, ERRLEN), 0);
  ck_assert_int_eq(k, EF_LR_POLYNOMIAL_DECAY);
  ck_assert_str_eq(ef_lr_kind_name(EF_LR_INVERSE_SQRT), "inverse_sqrt");
  ck_assert_int_eq(ef_lr_kind_parse("cosine", &k, err, ERRLEN), -1);
  ck_assert_ptr_nonnull(strstr(err, "cosine"));
  ef_lr_schedule s = ef_lr_schedule_default(EF_LR_INVERSE_SQRT, 1e-3);
  s.warmup_updates = 0;
  ck_assert_int_eq(ef_lr_schedule_check(&s, err, ERRLEN), -1);
  ck_assert_ptr_nonnull(strstr(err, "--warmup-updates"));
  s = ef_lr_schedule_default(EF_LR_POLYNOMIAL_DECAY, 1e-3);
  s.total_num_update = 0;
  ck_assert_int_eq(ef_lr_schedule_check(&s, err, ERRLEN), -1);
  ck_assert_ptr_nonnull(strstr(err, "--total-num-update"));
  s = ef_lr_schedule_default(EF_LR_FIXED, NAN);
  ck_assert_int_eq(ef_lr_schedule_check(&s, err, ERRLEN), -1);
  s = ef_lr_schedule_default(EF_LR_FIXED, 1e-3);
  s.warmup_updates = -1;
  ck_assert_int_eq(ef_lr_schedule_check(&s, err, ERRLEN), -1);
}
END_TEST

/* A store of the given sizes (1-D parameters), finalized, gradients filled with a fixed
 * pattern inside the parameters only. */
static ef_params *pattern_store(const int64_t *sizes, int n, unsigned seed) {
  char err[ERRLEN], name[32];
  ef_params *p = ef_params_new();
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof name, "p%d", i);
    ck_assert_int_eq(ef_params_add(p, name, 1, &sizes[i], err, ERRLEN), i);
  }
  ck_assert_msg(ef_params_finalize(p, err, ERRLEN) == 0, "%s", err);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < n; i++) {
    ef_tensor *t = ef_params_tensor(p, i);
    for (int64_t k = 0; k < sizes[i]; k++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      t->data[k] = (float)((int64_t)(s >> 40) % 2001 - 1000) / 1000.0f;
      t->grad[k] = (float)((int64_t)(s >> 20) % 2001 - 1000) / 500.0f;
    }
  }
  return p;
}

static void refill_grads(ef_params *p, int step) {
  for (int i = 0; i < ef_params_count(p); i++) {
    ef_tensor *t = ef_params_tensor(p, i);
    for (int64_t k = 0; k < t->shape[0]; k++)
      t->grad[k] = sinf((float)(k * 7 + i * 13 + step * 3)) * 0.5f;
  }
}

START_TEST(clip_scales_only_above_max_norm) {
  const int64_t sizes[] = {1, 3};
  ef_params *p = pattern_store(sizes, 2, 1);
  float *g0 = ef_params_tensor(p, 0)->grad, *g1 = ef_params_tensor(p, 1)->grad;
  g0[0] = 3, g1[0] = 0, g1[1] = 4, g1[2] = 0; /* norm 5 */
  double n = 0;
  ck_assert_int_eq(ef_clip_grad_norm(p, 10.0, &n), EF_CLIP_OK);
  ck_assert_double_eq(n, 5.0);
  ck_assert_float_eq(g0[0], 3.0f);                             /* coef 10/5 > 1: untouched */
  ck_assert_int_eq(ef_clip_grad_norm(p, 0.0, &n), EF_CLIP_OK); /* 0: measure only */
  ck_assert_float_eq(g1[1], 4.0f);
  ck_assert_int_eq(ef_clip_grad_norm(p, 1.0, &n), EF_CLIP_OK);
  ck_assert_double_eq(n, 5.0); /* the pre-clip norm */
  float coef = 1.0f / (5.0f + 1e-6f);
  ck_assert_float_eq(g0[0], 3.0f * coef);
  ck_assert_float_eq(g1[1], 4.0f * coef);
  ck_assert_double_eq_tol(ef_grad_norm(p), 1.0, 1e-6);
  ef_grad_scale(p, 0.5f);
  ck_assert_float_eq(g0[0], 3.0f * coef * 0.5f);
  ef_params_free(p);
}
END_TEST

START_TEST(clip_reports_non_finite_norm_and_leaves_grads) {
  const int64_t sizes[] = {5, 40};
  const float bad[] = {NAN, INFINITY, -INFINITY};
  for (int b = 0; b < 3; b++) {
    ef_params *p = pattern_store(sizes, 2, 2);
    float *g = ef_params_grad(p);
    int64_t len = ef_params_flat_len(p);
    float *copy = malloc((size_t)len * sizeof(float));
    ef_params_tensor(p, 1)->grad[17] = bad[b];
    memcpy(copy, g, (size_t)len * sizeof(float));
    double n = 0;
    ck_assert_int_eq(ef_clip_grad_norm(p, 1.0, &n), EF_CLIP_NONFINITE);
    ck_assert(!isfinite(n));
    ck_assert_int_eq(memcmp(copy, g, (size_t)len * sizeof(float)), 0);
    free(copy);
    ef_params_free(p);
  }
}
END_TEST

static int padding_is_zero(ef_params *p, const float *buf) {
  int64_t len = ef_params_flat_len(p);
  int n = ef_params_count(p);
  for (int i = 0; i < n; i++) {
    int64_t end = ef_params_offset(p, i) + ef_params_tensor(p, i)->shape[0];
    int64_t next = i + 1 < n ? ef_params_offset(p, i + 1) : len;
    for (int64_t k = end; k < next; k++)
      if (buf[k] != 0.0f) return 0;
  }
  return 1;
}

START_TEST(padding_stays_zero_in_every_variant) {
  const int64_t sizes[] = {3, 17, 1, 33};
  const ef_adam_variant variants[] = {EF_ADAM_TORCH, EF_ADAMW_TORCH, EF_ADAM_FAIRSEQ};
  char err[ERRLEN];
  for (int v = 0; v < 3; v++) {
    ef_params *p = pattern_store(sizes, 4, 3);
    ck_assert_int_gt(ef_params_flat_len(p), ef_params_numel(p)); /* there is padding */
    ef_adam_config cfg = ef_adam_default_config();
    cfg.weight_decay = 0.1, cfg.variant = variants[v];
    ef_adam opt;
    ck_assert_msg(ef_adam_init(&opt, p, &cfg, err, ERRLEN) == 0, "%s", err);
    for (int s = 0; s < 5; s++) {
      refill_grads(p, s);
      ef_clip_grad_norm(p, 1.0, NULL);
      ck_assert_int_eq(ef_adam_step(&opt, 0.01, err, ERRLEN), 0);
    }
    ck_assert(padding_is_zero(p, ef_params_data(p)));
    ck_assert(padding_is_zero(p, ef_params_grad(p)));
    ck_assert(padding_is_zero(p, ef_params_state(p, opt.slot_m)));
    ck_assert(padding_is_zero(p, ef_params_state(p, opt.slot_m + 1)));
    ck_assert_int_eq(opt.step, 5);
    ef_params_free(p);
  }
}
END_TEST

/* Runs `steps` updates of every variant's kind on a store large enough for many chunks and
 * norm parts; returns the store (caller frees) and the norms. */
static ef_params *train_big(int threads, ef_adam_variant variant, double *norms, int steps) {
  const int64_t sizes[] = {70001, 3, 123457, 4096};
  char err[ERRLEN];
  int saved = ef_num_threads();
  ef_set_num_threads(threads);
  ef_params *p = pattern_store(sizes, 4, 4);
  ef_adam_config cfg = {0.9, 0.98, 1e-6, 0.01, variant};
  ef_adam opt;
  ck_assert_msg(ef_adam_init(&opt, p, &cfg, err, ERRLEN) == 0, "%s", err);
  for (int s = 0; s < steps; s++) {
    refill_grads(p, s);
    ef_grad_scale(p, 1.0f / 3.0f);
    ck_assert_int_eq(ef_clip_grad_norm(p, 1.0, &norms[s]), EF_CLIP_OK);
    ck_assert_int_eq(ef_adam_step(&opt, 1e-3 * (s + 1), err, ERRLEN), 0);
  }
  ef_set_num_threads(saved);
  return p;
}

START_TEST(one_and_two_threads_give_identical_bits) {
  enum { STEPS = 4 };
  for (int v = EF_ADAM_TORCH; v <= EF_ADAM_FAIRSEQ; v++) {
    double n1[STEPS], n2[STEPS];
    ef_params *a = train_big(1, (ef_adam_variant)v, n1, STEPS);
    ef_params *b = train_big(2, (ef_adam_variant)v, n2, STEPS);
    size_t bytes = (size_t)ef_params_flat_len(a) * sizeof(float);
    ck_assert_int_eq(memcmp(n1, n2, sizeof n1), 0);
    ck_assert_int_eq(memcmp(ef_params_data(a), ef_params_data(b), bytes), 0);
    ck_assert_int_eq(memcmp(ef_params_state(a, 0), ef_params_state(b, 0), bytes), 0);
    ck_assert_int_eq(memcmp(ef_params_state(a, 1), ef_params_state(b, 1), bytes), 0);
    ef_params_free(a);
    ef_params_free(b);
  }
}
END_TEST

START_TEST(resume_from_saved_state_is_bit_identical) {
  const int64_t sizes[] = {40, 9};
  char err[ERRLEN];
  ef_adam_config cfg = {0.9, 0.98, 1e-6, 0.01, EF_ADAM_FAIRSEQ};
  ef_params *a = pattern_store(sizes, 2, 5), *b = pattern_store(sizes, 2, 5);
  ef_adam oa, ob;
  ck_assert_int_eq(ef_adam_init(&oa, a, &cfg, err, ERRLEN), 0);
  for (int s = 0; s < 6; s++) refill_grads(a, s), ef_adam_step(&oa, 0.01, err, ERRLEN);
  /* b: 3 steps, then "checkpoint" (params, m, v, step) into a fresh store and optimizer. */
  ck_assert_int_eq(ef_adam_init(&ob, b, &cfg, err, ERRLEN), 0);
  for (int s = 0; s < 3; s++) refill_grads(b, s), ef_adam_step(&ob, 0.01, err, ERRLEN);
  ef_params *c = pattern_store(sizes, 2, 99);
  ef_adam oc;
  ck_assert_int_eq(ef_adam_init(&oc, c, &cfg, err, ERRLEN), 0);
  size_t bytes = (size_t)ef_params_flat_len(b) * sizeof(float);
  memcpy(ef_params_data(c), ef_params_data(b), bytes);
  memcpy(ef_params_state(c, oc.slot_m), ef_params_state(b, ob.slot_m), bytes);
  memcpy(ef_params_state(c, oc.slot_m + 1), ef_params_state(b, ob.slot_m + 1), bytes);
  oc.step = ob.step;
  for (int s = 3; s < 6; s++) refill_grads(c, s), ef_adam_step(&oc, 0.01, err, ERRLEN);
  ck_assert_int_eq(memcmp(ef_params_data(a), ef_params_data(c), bytes), 0);
  ck_assert_int_eq(oc.step, 6);
  ef_params_free(a), ef_params_free(b), ef_params_free(c);
}
END_TEST

START_TEST(adam_rejects_bad_config_and_lr) {
  const int64_t sizes[] = {4};
  char err[ERRLEN];
  ef_params *p = pattern_store(sizes, 1, 6);
  ef_adam opt;
  ef_adam_config cfg = ef_adam_default_config();
  cfg.beta2 = 1.0;
  ck_assert_int_eq(ef_adam_init(&opt, p, &cfg, err, ERRLEN), -1);
  ck_assert_ptr_nonnull(strstr(err, "betas"));
  cfg = ef_adam_default_config();
  cfg.eps = -1;
  ck_assert_int_eq(ef_adam_init(&opt, p, &cfg, err, ERRLEN), -1);
  cfg = ef_adam_default_config();
  cfg.weight_decay = NAN;
  ck_assert_int_eq(ef_adam_init(&opt, p, &cfg, err, ERRLEN), -1);
  cfg = ef_adam_default_config();
  cfg.variant = (ef_adam_variant)7;
  ck_assert_int_eq(ef_adam_init(&opt, p, &cfg, err, ERRLEN), -1);
  cfg = ef_adam_default_config();
  ck_assert_int_eq(ef_adam_init(&opt, p, &cfg, err, ERRLEN), 0);
  ck_assert_int_eq(opt.slot_m, 0);
  float before = ef_params_data(p)[0];
  ck_assert_int_eq(ef_adam_step(&opt, NAN, err, ERRLEN), -1);
  ck_assert_int_eq(ef_adam_step(&opt, -1e-3, err, ERRLEN), -1);
  ck_assert_ptr_nonnull(strstr(err, "learning rate"));
  ck_assert_float_eq(ef_params_data(p)[0], before);
  ck_assert_int_eq(opt.step, 0);
  /* A second optimizer takes the next two slots; a third finds none free. */
  ef_adam opt2;
  ck_assert_int_eq(ef_adam_init(&opt2, p, &cfg, err, ERRLEN), 0);
  ck_assert_int_eq(opt2.slot_m, 2);
  ck_assert_int_eq(ef_adam_init(&opt2, p, &cfg, err, ERRLEN), -1);
  ef_params_free(p);
  /* Not finalized. */
  ef_params *q = ef_params_new();
  ck_assert_int_eq(ef_adam_init(&opt, q, &cfg, err, ERRLEN), -1);
  ef_params_free(q);
}
END_TEST

int main(void) {
  Suite *s = suite_create("optim");
  TCase *tc = tcase_create("optim");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, torch_adam_poly_matches);
  tcase_add_test(tc, torch_adam_l2_poly_power2_matches);
  tcase_add_test(tc, torch_adamw_poly_matches);
  tcase_add_test(tc, torch_adamw_inverse_sqrt_matches);
  tcase_add_test(tc, fairseq_adam_inverse_sqrt_matches);
  tcase_add_test(tc, fairseq_adam_fixed_warmup_matches);
  tcase_add_test(tc, update_kernels_match_torch_to_the_ulp);
  tcase_add_test(tc, schedules_match_fairseq_step_update);
  tcase_add_test(tc, schedule_boundaries_follow_fairseq_off_by_ones);
  tcase_add_test(tc, schedule_rejects_bad_options);
  tcase_add_test(tc, clip_scales_only_above_max_norm);
  tcase_add_test(tc, clip_reports_non_finite_norm_and_leaves_grads);
  tcase_add_test(tc, padding_stays_zero_in_every_variant);
  tcase_add_test(tc, one_and_two_threads_give_identical_bits);
  tcase_add_test(tc, resume_from_saved_state_is_bit_identical);
  tcase_add_test(tc, adam_rejects_bad_config_and_lr);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
