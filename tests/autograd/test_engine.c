/* The engine's contracts: the parameter store (unique storage, aliases, counts), the arena
 * (sized once, no growth over 1000 steps), dropout masks independent of the thread count,
 * the parallel loop's coverage, and clear errors for mismatched shapes and bad ids. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/arena.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "autograd/params.h"

static char err[256];

START_TEST(params_resolve_every_alias_to_one_storage) {
  ef_params *p = ef_params_new();
  int64_t s[2] = {4, 3}, b[1] = {4};
  ck_assert_int_eq(ef_params_add(p, "encoder.layers.0.fc1.weight", 2, s, err, sizeof err), 0);
  ck_assert_int_eq(ef_params_add(p, "encoder.layers.0.fc1.bias", 1, b, err, sizeof err), 1);
  ck_assert_int_eq(ef_params_alias(p, "encoder.layers.2.fc1.weight", "encoder.layers.0.fc1.weight", err, sizeof err), 0);
  ck_assert_int_eq(ef_params_alias(p, "encoder.layers.4.fc1.weight", "encoder.layers.2.fc1.weight", err, sizeof err), 0);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  /* aliases may also be added after finalize */
  ck_assert_int_eq(ef_params_alias(p, "encoder.layers.2.fc1.bias", "encoder.layers.0.fc1.bias", err, sizeof err), 1);
  ck_assert_int_eq(ef_params_count(p), 2);
  ck_assert_int_eq(ef_params_numel(p), 16);
  ck_assert_int_eq(ef_params_alias_count(p), 3);
  ck_assert_int_eq(ef_params_find(p, "encoder.layers.4.fc1.weight"), 0);
  ck_assert_int_eq(ef_params_find(p, "encoder.layers.2.fc1.bias"), 1);
  ck_assert_int_eq(ef_params_find(p, "encoder.layers.1.fc1.weight"), -1);
  ck_assert_ptr_eq(ef_params_tensor(p, ef_params_find(p, "encoder.layers.4.fc1.weight"))->data,
                   ef_params_tensor(p, 0)->data);
  int idx = -5;
  ck_assert_str_eq(ef_params_alias_at(p, 2, &idx), "encoder.layers.2.fc1.bias");
  ck_assert_int_eq(idx, 1);
  /* 64-byte aligned storage for every parameter */
  ck_assert_int_eq((int)((uintptr_t)ef_params_tensor(p, 1)->data % 64), 0);
  ef_params_free(p);
}
END_TEST

START_TEST(params_reject_duplicates_and_bad_shapes) {
  ef_params *p = ef_params_new();
  int64_t s[2] = {4, 3}, bad[2] = {4, 0};
  ck_assert_int_eq(ef_params_add(p, "w", 2, s, err, sizeof err), 0);
  ck_assert_int_eq(ef_params_add(p, "w", 2, s, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "'w' is already taken") != NULL, "%s", err);
  ck_assert_int_eq(ef_params_add(p, "z", 2, bad, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "bad size 0 in dim 1") != NULL, "%s", err);
  ck_assert_int_eq(ef_params_alias(p, "a", "missing", err, sizeof err), -1);
  ck_assert_msg(strstr(err, "no parameter named 'missing'") != NULL, "%s", err);
  ck_assert_int_eq(ef_params_alias(p, "w", "w", err, sizeof err), -1);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  ck_assert_int_eq(ef_params_add(p, "late", 2, s, err, sizeof err), -1);
  ck_assert_int_eq(ef_params_alloc_states(p, 2, err, sizeof err), 0);
  ck_assert_ptr_nonnull(ef_params_state(p, 1));
  ck_assert_ptr_null(ef_params_state(p, 2));
  ef_params_free(p);
}
END_TEST

START_TEST(params_lookup_scales_to_many_names) {
  ef_params *p = ef_params_new();
  int64_t s[1] = {2};
  char name[64], alias_name[64];
  for (int i = 0; i < 3000; i++) {
    snprintf(name, sizeof name, "p.%d", i);
    ck_assert_int_eq(ef_params_add(p, name, 1, s, err, sizeof err), i);
    snprintf(alias_name, sizeof alias_name, "alias.%d", i);
    ck_assert_int_eq(ef_params_alias(p, alias_name, name, err, sizeof err), i);
  }
  for (int i = 0; i < 3000; i += 7) {
    snprintf(alias_name, sizeof alias_name, "alias.%d", i);
    ck_assert_int_eq(ef_params_find(p, alias_name), i);
  }
  ef_params_free(p);
}
END_TEST

/* A small Transformer-like step: embedding, attention, FFN, loss, backward. */
static void one_step(ef_ctx *ctx, ef_params *p, ef_tensor *ids, ef_tensor *tgt, uint64_t step) {
  ef_ctx_reset(ctx);
  ef_ctx_set_training(ctx, 1);
  ef_ctx_set_rng(ctx, 1, step);
  ef_tensor *E = ef_params_tensor(p, 0), *W = ef_params_tensor(p, 1), *g = ef_params_tensor(p, 2),
            *b = ef_params_tensor(p, 3);
  ef_tensor *ids2 = ef_tensor_wrap(ctx, EF_I32, 2, ids->shape, ids->idata, NULL);
  ef_tensor *x = ef_add(ctx, ef_embedding(ctx, E, ids2, 4.0f, 1),
                        ef_sinusoidal_positions(ctx, ids2, 16, 1));
  x = ef_dropout(ctx, x, 0.1f);
  ef_tensor *q = ef_linear(ctx, x, W, NULL);
  ef_attn_opts o = {.heads = 2, .scale = 0.35f, .key_pad = NULL};
  ef_tensor *a = ef_attention(ctx, q, q, q, &o);
  x = ef_layernorm(ctx, ef_add(ctx, x, a), g, b, 1e-5f);
  ef_tensor *logits = ef_linear(ctx, x, E, NULL);
  ef_tensor *tg = ef_tensor_wrap(ctx, EF_I32, 2, tgt->shape, tgt->idata, NULL);
  ef_tensor *loss = ef_label_smoothed_nll(ctx, logits, tg, 0.1f, 1, NULL, NULL);
  ck_assert_msg(loss != NULL, "%s", ef_ctx_error(ctx));
  ck_assert_int_eq(ef_backward(ctx, loss), 0);
}

START_TEST(arena_does_not_grow_over_1000_steps) {
  ef_params *p = ef_params_new();
  int64_t es[2] = {40, 16}, ws[2] = {16, 16}, ls[1] = {16};
  ef_params_add(p, "E", 2, es, err, sizeof err);
  ef_params_add(p, "W", 2, ws, err, sizeof err);
  ef_params_add(p, "g", 1, ls, err, sizeof err);
  ef_params_add(p, "b", 1, ls, err, sizeof err);
  ck_assert_int_eq(ef_params_finalize(p, err, sizeof err), 0);
  for (int64_t i = 0; i < ef_params_flat_len(p); i++) ef_params_data(p)[i] = 0.01f * (float)(i % 17);
  int32_t idv[24], tgv[24];
  for (int i = 0; i < 24; i++) {
    idv[i] = 2 + (i * 7) % 38;
    tgv[i] = 2 + (i * 5) % 38;
  }
  int64_t s[2] = {3, 8};
  ef_tensor ids = {.dtype = EF_I32, .ndim = 2, .shape = {3, 8}, .numel = 24, .idata = idv};
  ef_tensor tgt = {.dtype = EF_I32, .ndim = 2, .shape = {3, 8}, .numel = 24, .idata = tgv};
  (void)s;
  ef_ctx *ctx = ef_ctx_new(4096, 64); /* deliberately too small: the first step grows it */
  one_step(ctx, p, &ids, &tgt, 0);
  ef_arena *a = ef_ctx_arena(ctx);
  ck_assert_int_gt(ef_arena_chunks(a), 1);
  one_step(ctx, p, &ids, &tgt, 1); /* after the first reset: one consolidated chunk */
  size_t cap = ef_arena_capacity(a), used = ef_arena_used(a);
  ck_assert_int_eq(ef_arena_chunks(a), 1);
  for (int step = 2; step < 1000; step++) {
    one_step(ctx, p, &ids, &tgt, (uint64_t)step);
    ck_assert_int_eq(ef_arena_chunks(a), 1);
    ck_assert_uint_eq(ef_arena_capacity(a), cap);
    ck_assert_uint_eq(ef_arena_used(a), used);
  }
  ef_ctx_free(ctx);
  ef_params_free(p);
}
END_TEST

static void dropout_run(int threads, float *out, int64_t n, uint64_t step) {
  ef_set_num_threads(threads);
  ef_ctx *ctx = ef_ctx_new(1 << 20, 8);
  float *x = malloc((size_t)n * sizeof(float));
  for (int64_t i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 13);
  ef_ctx_set_training(ctx, 1);
  ef_ctx_set_rng(ctx, 2024, step);
  int64_t shape[2] = {n / 1000, 1000};
  ef_tensor *y = ef_dropout(ctx, ef_tensor_wrap(ctx, EF_F32, 2, shape, x, NULL), 0.1f);
  memcpy(out, y->data, (size_t)n * sizeof(float));
  free(x);
  ef_ctx_free(ctx);
}

START_TEST(dropout_masks_identical_for_1_and_2_threads) {
  const int64_t n = 1000000;
  float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *c = malloc(n * sizeof(float));
  int saved = ef_num_threads();
  dropout_run(1, a, n, 5);
  dropout_run(2, b, n, 5);
  dropout_run(2, c, n, 6);
  ef_set_num_threads(saved);
  ck_assert_int_eq(memcmp(a, b, n * sizeof(float)), 0);
  int64_t dropped = 0, differ = 0;
  for (int64_t i = 0; i < n; i++) {
    if (a[i] == 0.0f) dropped++;
    else ck_assert_float_eq_tol(a[i], (1.0f + (float)(i % 13)) / 0.9f, 1e-5f);
    if ((a[i] == 0.0f) != (c[i] == 0.0f)) differ++;
  }
  /* p = 0.1 over 1e6 elements: 100000 ± 300 (σ); allow 5σ */
  ck_assert_msg(labs((long)dropped - 100000) < 1500, "dropped %lld", (long long)dropped);
  ck_assert_msg(differ > 150000, "a new step must draw a new mask (%lld differ)", (long long)differ);
  free(a);
  free(b);
  free(c);
}
END_TEST

START_TEST(dropout_is_identity_in_eval_mode) {
  ef_ctx *ctx = ef_ctx_new(1 << 16, 8);
  float x[6] = {1, 2, 3, 4, 5, 6};
  int64_t s[1] = {6};
  ef_tensor *t = ef_tensor_wrap(ctx, EF_F32, 1, s, x, NULL);
  ck_assert_ptr_eq(ef_dropout(ctx, t, 0.5f), t);
  ef_ctx_set_training(ctx, 1);
  ck_assert_ptr_null(ef_dropout(ctx, t, 1.0f));
  ck_assert_msg(strstr(ef_ctx_error(ctx), "dropout: p = 1 outside [0, 1)") != NULL, "%s",
                ef_ctx_error(ctx));
  ef_ctx_free(ctx);
}
END_TEST

typedef struct {
  int *hits;
} cover_args;
static void cover(void *p, int64_t b, int64_t e, int tid) {
  cover_args *a = p;
  for (int64_t i = b; i < e; i++) __atomic_fetch_add(&a->hits[i], 1, __ATOMIC_RELAXED);
}

START_TEST(parallel_for_runs_every_item_once) {
  int saved = ef_num_threads();
  for (int threads = 1; threads <= 3; threads++) {
    ef_set_num_threads(threads);
    for (int64_t n = 0; n < 50; n++) {
      int hits[50] = {0};
      cover_args a = {hits};
      ef_parallel_for(n, cover, &a);
      for (int64_t i = 0; i < n; i++) ck_assert_int_eq(hits[i], 1);
    }
  }
  ef_set_num_threads(saved);
}
END_TEST

/* Every op rejects mismatched shapes with a message naming the op and the shapes. */
START_TEST(mismatched_shapes_give_clear_errors) {
  static float buf[4096];
  int32_t ibuf[64] = {0};
  struct {
    const char *expect;
  } cases[] = {{"linear: in_features of x and weight differ: [2,3] vs [4,5]"},
               {"matmul: inner dimensions differ: [2,3] vs [4,5]"},
               {"add: shapes differ: [2,3] vs [3,2]"},
               {"bias_add: bias length differs from the last dim: [2,3] vs [4]"},
               {"layernorm: weight length differs from the last dim: [2,3] vs [4]"},
               {"embedding: a 2-D float table and int32 ids expected: [2,3] vs [2,3]"},
               {"attention: width not divisible by the head count: [2,3,6]"},
               {"attention: q and k disagree on batch or width: [2,3,6] vs [2,4,8]"},
               {"label_smoothed_nll: one int32 target per row of logits expected: [2,3] vs [3]"},
               {"mask_rows: one id per row of x expected: [2,3] vs [3]"},
               {"linear: bias length differs from out_features: [4,3] vs [5]"},
               {"embedding: token id 40 at position 1 outside the table [0,2)"},
               {"label_smoothed_nll: target 3 at row 0 outside [0,3)"}};
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
    ef_ctx *c = ef_ctx_new(1 << 16, 8);
    int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s45[2] = {4, 5}, s4[1] = {4}, s3[1] = {3},
            s5[1] = {5}, s43[2] = {4, 3}, s236[3] = {2, 3, 6}, s248[3] = {2, 4, 8};
    ef_tensor *a23 = ef_tensor_wrap(c, EF_F32, 2, s23, buf, NULL);
    ef_tensor *r = NULL;
    switch (k) {
    case 0: r = ef_linear(c, a23, ef_tensor_wrap(c, EF_F32, 2, s45, buf, NULL), NULL); break;
    case 1: r = ef_matmul(c, a23, ef_tensor_wrap(c, EF_F32, 2, s45, buf, NULL), 0, 0); break;
    case 2: r = ef_add(c, a23, ef_tensor_wrap(c, EF_F32, 2, s32, buf, NULL)); break;
    case 3: r = ef_bias_add(c, a23, ef_tensor_wrap(c, EF_F32, 1, s4, buf, NULL)); break;
    case 4: {
      ef_tensor *w = ef_tensor_wrap(c, EF_F32, 1, s4, buf, NULL);
      r = ef_layernorm(c, a23, w, w, 1e-5f);
      break;
    }
    case 5: r = ef_embedding(c, a23, a23, 1.0f, 1); break;
    case 6: {
      ef_tensor *q = ef_tensor_wrap(c, EF_F32, 3, s236, buf, NULL);
      ef_attn_opts o = {.heads = 4};
      r = ef_attention(c, q, q, q, &o);
      break;
    }
    case 7: {
      ef_tensor *q = ef_tensor_wrap(c, EF_F32, 3, s236, buf, NULL);
      ef_tensor *kk = ef_tensor_wrap(c, EF_F32, 3, s248, buf, NULL);
      ef_attn_opts o = {.heads = 2};
      r = ef_attention(c, q, kk, kk, &o);
      break;
    }
    case 8:
      r = ef_label_smoothed_nll(c, a23, ef_tensor_wrap(c, EF_I32, 1, s3, ibuf, NULL), 0.1f, 1,
                                NULL, NULL);
      break;
    case 9: r = ef_mask_rows(c, a23, ef_tensor_wrap(c, EF_I32, 1, s3, ibuf, NULL), 1); break;
    case 10:
      r = ef_linear(c, ef_tensor_wrap(c, EF_F32, 2, s23, buf, NULL),
                    ef_tensor_wrap(c, EF_F32, 2, s43, buf, NULL),
                    ef_tensor_wrap(c, EF_F32, 1, s5, buf, NULL));
      break;
    case 11: {
      int32_t ids[2] = {1, 40};
      int64_t s2[1] = {2}, t22[2] = {2, 2};
      r = ef_embedding(c, ef_tensor_wrap(c, EF_F32, 2, t22, buf, NULL),
                       ef_tensor_wrap(c, EF_I32, 1, s2, ids, NULL), 1.0f, 1);
      break;
    }
    case 12: {
      int32_t t[2] = {3, 0};
      int64_t s2[1] = {2};
      r = ef_label_smoothed_nll(c, ef_tensor_wrap(c, EF_F32, 2, s23, buf, NULL),
                                ef_tensor_wrap(c, EF_I32, 1, s2, t, NULL), 0.1f, 1, NULL, NULL);
      break;
    }
    }
    ck_assert_ptr_null(r);
    ck_assert_msg(!ef_ctx_ok(c), "case %d: no error set", k);
    ck_assert_msg(!strcmp(ef_ctx_error(c), cases[k].expect), "case %d: got '%s', want '%s'", k,
                  ef_ctx_error(c), cases[k].expect);
    /* errors are sticky and NULL propagates without a second message */
    ck_assert_ptr_null(ef_relu(c, r));
    ck_assert_str_eq(ef_ctx_error(c), cases[k].expect);
    ef_ctx_free(c);
  }
}
END_TEST

START_TEST(full_tape_is_an_error_not_a_crash) {
  ef_params *p = ef_params_new();
  int64_t s[1] = {4};
  ef_params_add(p, "x", 1, s, err, sizeof err);
  ef_params_finalize(p, err, sizeof err);
  ef_ctx *c = ef_ctx_new(1 << 16, 3);
  ef_tensor *x = ef_params_tensor(p, 0);
  for (int i = 0; i < 5 && x; i++) x = ef_relu(c, x);
  ck_assert_ptr_null(x);
  ck_assert_msg(strstr(ef_ctx_error(c), "relu: the tape is full (3 nodes)") != NULL, "%s",
                ef_ctx_error(c));
  ck_assert_int_eq(ef_backward(c, x), -1);
  ef_ctx_free(c);
  ef_params_free(p);
}
END_TEST

START_TEST(views_share_storage_and_gradients) {
  ef_params *p = ef_params_new();
  int64_t s[2] = {4, 3};
  ef_params_add(p, "x", 2, s, err, sizeof err);
  ef_params_finalize(p, err, sizeof err);
  ef_tensor *x = ef_params_tensor(p, 0);
  for (int i = 0; i < 12; i++) x->data[i] = (float)i;
  ef_ctx *c = ef_ctx_new(1 << 16, 8);
  ef_tensor *rows = ef_view_rows(c, x, 1, 2);
  ck_assert_float_eq(rows->data[0], 3.0f);
  int64_t s6[2] = {2, 3};
  ck_assert_int_eq(rows->shape[0], 2);
  ef_tensor *flat = ef_view_reshape(c, rows, 1, (int64_t[]){6});
  ef_tensor *y = ef_scale(c, flat, 2.0f);
  float g[6] = {1, 1, 1, 1, 1, 1};
  ck_assert_int_eq(ef_backward_from(c, y, g), 0);
  for (int i = 0; i < 12; i++) ck_assert_float_eq(x->grad[i], (i >= 3 && i < 9) ? 2.0f : 0.0f);
  ck_assert_ptr_null(ef_view_reshape(c, x, 2, s6));
  ck_assert_msg(strstr(ef_ctx_error(c), "reshape: [4,3] has 12 elements, [2,3] has 6") != NULL,
                "%s", ef_ctx_error(c));
  ef_ctx_free(c);
  ef_params_free(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("engine");
  TCase *tc = tcase_create("contracts");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, params_resolve_every_alias_to_one_storage);
  tcase_add_test(tc, params_reject_duplicates_and_bad_shapes);
  tcase_add_test(tc, params_lookup_scales_to_many_names);
  tcase_add_test(tc, arena_does_not_grow_over_1000_steps);
  tcase_add_test(tc, dropout_masks_identical_for_1_and_2_threads);
  tcase_add_test(tc, dropout_is_identity_in_eval_mode);
  tcase_add_test(tc, parallel_for_runs_every_item_once);
  tcase_add_test(tc, mismatched_shapes_give_clear_errors);
  tcase_add_test(tc, full_tape_is_an_error_not_a_crash);
  tcase_add_test(tc, views_share_storage_and_gradients);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
