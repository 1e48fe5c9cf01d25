/* Every op's forward values and backward gradients against PyTorch (fixtures written by
 * tests/reference/op_fixtures.py). Tolerances: forward 1e-5 abs + 1e-4 rel; gradients
 * 1e-4 abs + 1e-3 rel (float32 kernels with different summation orders). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "autograd/params.h"
#include "tests/common/fixture.h"

#define FWD_ATOL 1e-5
#define FWD_RTOL 1e-4
#define BWD_ATOL 1e-4
#define BWD_RTOL 1e-3

typedef struct {
  fx_file fx;
  ef_params *params;
  ef_ctx *ctx;
} rig;

/* Loads the fixture; the listed float inputs become parameters (so they get gradients). */
static void rig_open(rig *r, const char *file, const char *const *inputs) {
  char err[256];
  fx_load(&r->fx, file);
  r->params = ef_params_new();
  for (int k = 0; inputs[k]; k++) {
    fx_tensor *t = fx_need(&r->fx, inputs[k]);
    ck_assert_int_ge(ef_params_add(r->params, inputs[k], t->ndim, t->shape, err, sizeof err), 0);
  }
  ck_assert_int_eq(ef_params_finalize(r->params, err, sizeof err), 0);
  for (int k = 0; inputs[k]; k++) {
    fx_tensor *t = fx_need(&r->fx, inputs[k]);
    memcpy(ef_params_tensor(r->params, k)->data, t->f, (size_t)t->numel * sizeof(float));
  }
  r->ctx = ef_ctx_new(1 << 20, 64);
}

static ef_tensor *rig_param(rig *r, const char *name) {
  return ef_params_tensor(r->params, ef_params_find(r->params, name));
}

static ef_tensor *rig_ids(rig *r, const char *name) {
  fx_tensor *t = fx_need(&r->fx, name);
  return ef_tensor_wrap(r->ctx, EF_I32, t->ndim, t->shape, t->i, NULL);
}

/* Checks y against the fixture, runs backward from dy, checks each "d<input>" gradient. */
static void rig_check(rig *r, ef_tensor *y, const char *const *inputs) {
  ck_assert_msg(y != NULL, "op failed: %s", ef_ctx_error(r->ctx));
  fx_tensor *ey = fx_need(&r->fx, "y");
  ck_assert_int_eq(y->numel, ey->numel);
  fx_assert_close("forward y", y->data, ey->f, y->numel, FWD_ATOL, FWD_RTOL);
  fx_tensor *dy = fx_get(&r->fx, "dy");
  if (!dy) return;
  ck_assert_int_eq(ef_backward_from(r->ctx, y, dy->f), 0);
  for (int k = 0; inputs[k]; k++) {
    char gname[80];
    snprintf(gname, sizeof gname, "d%s", inputs[k]);
    fx_tensor *eg = fx_need(&r->fx, gname);
    fx_assert_close(gname, rig_param(r, inputs[k])->grad, eg->f, eg->numel, BWD_ATOL, BWD_RTOL);
  }
}

static void rig_close(rig *r) {
  ef_ctx_free(r->ctx);
  ef_params_free(r->params);
  fx_free(&r->fx);
}

START_TEST(linear_matches_torch) {
  const char *in[] = {"x", "w", "b", NULL};
  rig r;
  rig_open(&r, "ops/linear.txt", in);
  rig_check(&r, ef_linear(r.ctx, rig_param(&r, "x"), rig_param(&r, "w"), rig_param(&r, "b")), in);
  rig_close(&r);
}
END_TEST

START_TEST(matmul_matches_torch_for_every_transpose) {
  const char *in[] = {"a", "b", NULL};
  char file[64];
  snprintf(file, sizeof file, "ops/matmul_t%d%d.txt", _i / 2, _i % 2);
  rig r;
  rig_open(&r, file, in);
  rig_check(&r, ef_matmul(r.ctx, rig_param(&r, "a"), rig_param(&r, "b"), _i / 2, _i % 2), in);
  rig_close(&r);
}
END_TEST

START_TEST(add_scale_bias_match_torch) {
  rig r;
  const char *in2[] = {"a", "b", NULL};
  rig_open(&r, "ops/add.txt", in2);
  rig_check(&r, ef_add(r.ctx, rig_param(&r, "a"), rig_param(&r, "b")), in2);
  rig_close(&r);
  const char *in1[] = {"x", NULL};
  rig_open(&r, "ops/scale.txt", in1);
  rig_check(&r, ef_scale(r.ctx, rig_param(&r, "x"), 0.125f), in1);
  rig_close(&r);
  const char *inb[] = {"x", "b", NULL};
  rig_open(&r, "ops/bias_add.txt", inb);
  rig_check(&r, ef_bias_add(r.ctx, rig_param(&r, "x"), rig_param(&r, "b")), inb);
  rig_close(&r);
}
END_TEST

START_TEST(relu_gelu_match_torch) {
  const char *in[] = {"x", NULL};
  rig r;
  rig_open(&r, "ops/relu.txt", in);
  rig_check(&r, ef_relu(r.ctx, rig_param(&r, "x")), in);
  rig_close(&r);
  rig_open(&r, "ops/gelu.txt", in);
  rig_check(&r, ef_gelu(r.ctx, rig_param(&r, "x")), in);
  rig_close(&r);
}
END_TEST

START_TEST(layernorm_matches_torch) {
  const char *in[] = {"x", "w", "b", NULL};
  rig r;
  rig_open(&r, "ops/layernorm.txt", in);
  rig_check(&r, ef_layernorm(r.ctx, rig_param(&r, "x"), rig_param(&r, "w"), rig_param(&r, "b"), 1e-5f),
            in);
  rig_close(&r);
}
END_TEST

START_TEST(embedding_matches_torch_and_skips_pad_rows) {
  const char *in[] = {"table", NULL};
  rig r;
  rig_open(&r, "ops/embedding.txt", in);
  ef_tensor *y = ef_embedding(r.ctx, rig_param(&r, "table"), rig_ids(&r, "ids"), sqrtf(8.0f), 1);
  rig_check(&r, y, in);
  /* the pad row (1) receives nothing although pad ids occur */
  for (int d = 0; d < 8; d++) ck_assert_float_eq(rig_param(&r, "table")->grad[8 + d], 0.0f);
  rig_close(&r);
}
END_TEST

START_TEST(sinusoidal_positions_match_fairseq) {
  const char *files[] = {"ops/positions.txt", "ops/positions_odd.txt", "ops/positions_long.txt",
                         "ops/positions_512.txt"};
  const int dims[] = {16, 7, 128, 512};
  const char *none[] = {NULL};
  rig r;
  rig_open(&r, files[_i], none);
  ef_tensor *y = ef_sinusoidal_positions(r.ctx, rig_ids(&r, "ids"), dims[_i], 1);
  ck_assert_ptr_null(y ? y->grad : NULL);
  rig_check(&r, y, none);
  rig_close(&r);
}
END_TEST

START_TEST(mask_rows_matches_torch) {
  const char *in[] = {"x", NULL};
  rig r;
  rig_open(&r, "ops/mask_rows.txt", in);
  rig_check(&r, ef_mask_rows(r.ctx, rig_param(&r, "x"), rig_ids(&r, "ids"), 1), in);
  rig_close(&r);
}
END_TEST

START_TEST(attention_matches_torch) {
  static const struct {
    const char *file;
    int heads, causal, pad, prefix;
  } cases[] = {{"ops/attention_pad.txt", 4, 0, 1, 0},
               {"ops/attention_causal.txt", 4, 1, 0, 0},
               {"ops/attention_cross.txt", 2, 0, 1, 0},
               {"ops/attention_prefix.txt", 4, 1, 1, 1}};
  const char *in[] = {"q", "k", "v", "pk", "pv", NULL};
  if (!cases[_i].prefix) in[3] = NULL;
  rig r;
  rig_open(&r, cases[_i].file, in);
  ef_tensor *q = rig_param(&r, "q");
  int D = (int)q->shape[2];
  ef_attn_opts o = {.heads = cases[_i].heads, .scale = 1.0f / sqrtf((float)(D / cases[_i].heads)),
                    .causal = cases[_i].causal,
                    .key_pad = cases[_i].pad ? rig_ids(&r, "key_pad") : NULL,
                    .prefix_k = cases[_i].prefix ? rig_param(&r, "pk") : NULL,
                    .prefix_v = cases[_i].prefix ? rig_param(&r, "pv") : NULL};
  rig_check(&r, ef_attention(r.ctx, q, rig_param(&r, "k"), rig_param(&r, "v"), &o), in);
  rig_close(&r);
}
END_TEST

START_TEST(label_smoothed_nll_matches_fairseq) {
  const char *files[] = {"ops/xent_eps0.1.txt", "ops/xent_eps0.txt"};
  const float eps[] = {0.1f, 0.0f};
  const char *in[] = {"logits", NULL};
  rig r;
  rig_open(&r, files[_i], in);
  double nll = 0.0;
  ef_tensor *lprobs = NULL;
  ef_tensor *y = ef_label_smoothed_nll(r.ctx, rig_param(&r, "logits"), rig_ids(&r, "target"),
                                       eps[_i], 1, &nll, &lprobs);
  ck_assert_ptr_nonnull(lprobs);
  fx_tensor *elp = fx_need(&r.fx, "lprobs");
  fx_assert_close("lprobs", lprobs->data, elp->f, elp->numel, FWD_ATOL, FWD_RTOL);
  float nllf = (float)nll;
  fx_assert_close("nll", &nllf, fx_need(&r.fx, "nll")->f, 1, FWD_ATOL, FWD_RTOL);
  rig_check(&r, y, in);
  rig_close(&r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_reference");
  TCase *tc = tcase_create("torch");
  tcase_add_test(tc, linear_matches_torch);
  tcase_add_loop_test(tc, matmul_matches_torch_for_every_transpose, 0, 4);
  tcase_add_test(tc, add_scale_bias_match_torch);
  tcase_add_test(tc, relu_gelu_match_torch);
  tcase_add_test(tc, layernorm_matches_torch);
  tcase_add_test(tc, embedding_matches_torch_and_skips_pad_rows);
  tcase_add_loop_test(tc, sinusoidal_positions_match_fairseq, 0, 4);
  tcase_add_test(tc, mask_rows_matches_torch);
  tcase_add_loop_test(tc, attention_matches_torch, 0, 4);
  tcase_add_loop_test(tc, label_smoothed_nll_matches_fairseq, 0, 2);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
