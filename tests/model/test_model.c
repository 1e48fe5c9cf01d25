/* The EdgeFormer model: presets give the published counts, every fairseq key resolves, bad
 * configs fail naming the key, and the whole model's gradient (every unique parameter, every
 * variant) matches central finite differences: sharing-aware backprop at model scale. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "model/edgeformer.h"

static char err[EF_CONFIG_ERR_LEN];

static ef_model *load_preset(const char *name, const char *const *overrides) {
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  char path[1024];
  ck_assert_msg(!ef_config_resolve(name, path, sizeof path, err, sizeof err), "%s", err);
  ck_assert_msg(!ef_config_load(&t, 1, path, err, sizeof err), "%s", err);
  int n = 0;
  while (overrides && overrides[n]) n++;
  ck_assert_msg(!ef_config_apply_args(&t, 1, n, (char **)overrides, 0, err, sizeof err), "%s", err);
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&cfg, &m, err, sizeof err), "%s", err);
  return m;
}

START_TEST(edgelm_has_the_published_parameter_counts) {
  ef_model *m = load_preset("edgelm", NULL);
  ck_assert_int_eq(ef_model_unique_params(m, 0), 9495552);
  ck_assert_int_eq(ef_model_unique_params(m, 1), 9495552 + 2048 * 512);
  double macs = ef_model_macs(m, 30, 30);
  ck_assert_msg(fabs(macs / 1e9 - 1.3) < 0.05, "EdgeFormer MACs %.3fG, published 1.3G", macs / 1e9);
  ef_model_free(m);
  const char *no_lora[] = {"--layer_adaptation", "none", NULL};
  m = load_preset("edgelm", no_lora);
  ck_assert_int_eq(ef_model_unique_params(m, 0), 8696064);
  ef_model_free(m);
}
END_TEST

START_TEST(baselines_match_the_published_table) {
  static const struct {
    const char *preset;
    double params_m, macs_g;
  } rows[] = {{"ut", 7.4, 1.4}, {"ut-wide", 9.4, 1.9}, {"transformer-base", 44.0, 1.8}};
  for (int i = 0; i < 3; i++) {
    ef_model *m = load_preset(rows[i].preset, NULL);
    double p = (double)ef_model_unique_params(m, 0) / 1e6;
    /* within one unit of the last printed digit (see docs/model.md, "Counts") */
    double unit = rows[i].params_m >= 10 ? 1.0 : 0.1;
    ck_assert_msg(fabs(p - rows[i].params_m) < unit, "%s: %.3fM vs %.1fM", rows[i].preset, p,
                  rows[i].params_m);
    double g = ef_model_macs(m, 30, 30) / 1e9;
    if (strcmp(rows[i].preset, "transformer-base")) /* see docs/model.md */
      ck_assert_msg(fabs(g - rows[i].macs_g) < 0.1, "%s: %.3fG vs %.1fG", rows[i].preset, g,
                    rows[i].macs_g);
    ef_model_free(m);
  }
}
END_TEST

START_TEST(every_fairseq_key_resolves_to_its_shared_block) {
  ef_model *m = load_preset("edgelm", NULL);
  ef_params *p = m->params;
  /* encoder attention: layer i uses set i mod 4; FFN i mod 2 */
  ck_assert_int_eq(ef_params_find(p, "encoder.layers.9.self_attn.k_proj.weight"),
                   ef_params_find(p, "encoder.layers.1.self_attn.k_proj.weight"));
  ck_assert_int_eq(ef_params_find(p, "encoder.layers.11.fc2.bias"),
                   ef_params_find(p, "encoder.layers.1.fc2.bias"));
  ck_assert_int_ne(ef_params_find(p, "encoder.layers.2.fc1.weight"),
                   ef_params_find(p, "encoder.layers.1.fc1.weight"));
  /* decoder layer j: self-attention = A[2j], cross = A[2j+1] */
  ck_assert_int_eq(ef_params_find(p, "decoder.layers.1.self_attn.q_proj.weight"),
                   ef_params_find(p, "encoder.layers.2.self_attn.q_proj.weight"));
  ck_assert_int_eq(ef_params_find(p, "decoder.layers.1.encoder_attn.out_proj.bias"),
                   ef_params_find(p, "encoder.layers.3.self_attn.out_proj.bias"));
  ck_assert_int_eq(ef_params_find(p, "decoder.output_projection.weight"),
                   ef_params_find(p, "encoder.embed_tokens.weight"));
  /* per-layer LayerNorms and LoRA stay private */
  ck_assert_int_ne(ef_params_find(p, "encoder.layers.4.self_attn_layer_norm.weight"),
                   ef_params_find(p, "encoder.layers.0.self_attn_layer_norm.weight"));
  ck_assert_int_ge(ef_params_find(p, "encoder.layers.11.v_lora.linear_v.weight"), 0);
  ck_assert_int_eq(ef_params_tensor(p, ef_params_find(p, "encoder.layers.11.q_lora.linear_u.weight"))->shape[0], 32);
  ck_assert_int_eq(ef_params_find(p, "decoder.layers.0.self_attn.lora"), -1);
  /* full key set: canonical + aliases = every key of the fairseq state_dict */
  int keys = ef_params_count(p) + ef_params_alias_count(p);
  /* 2 embedding + 12 layers x (8 attn + 4 fc + 4 ln + 8 lora) + 2 dec x (8 self + 8 cross + 4 fc + 6 ln) */
  ck_assert_int_eq(keys, 3 + 12 * 24 + 2 * 26);
  ef_model_free(m);
}
END_TEST

START_TEST(bad_configs_fail_naming_the_key) {
  static const struct {
    const char *args[3];
    const char *expect;
  } cases[] = {
      {{"--attention_heads", "7"}, "[model] attention_heads = 7 does not divide embed_dim = 512"},
      {{"--encoder_attn_sets", "13"}, "[model] encoder_attn_sets = 13 is larger than encoder_layers = 12"},
      {{"--embed_dim", "-4"}, "[model] embed_dim = -4 is outside [2, 65536]"},
      {{"--dropout", "abc"}, "[model] dropout = 'abc' is not a number"},
      {{"--encoder_layers", "3.5"}, "[model] encoder_layers = '3.5' is not an integer"},
      {{"--layer_adaptation", "lora"}, "[model] layer_adaptation = 'lora' is not one of none | bias | adapter | prefix"},
      {{"--encoder_layer", "4"}, "unknown key 'encoder_layer' (did you mean 'encoder_layers'?)"},
      {{"--decoder-layers", "0"}, "[model] decoder_layers = 0 is outside [1, 256]"},
      {{"--share_layer_norm", "maybe"}, "[model] share_layer_norm = 'maybe' is not a boolean (true/false)"},
  };
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
    ef_model_config cfg;
    ef_model_config_default(&cfg);
    ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
    int rc = ef_config_apply_args(&t, 1, 2, (char **)cases[k].args, 0, err, sizeof err);
    if (!rc) rc = ef_model_config_check(&cfg, err, sizeof err);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(!strcmp(err, cases[k].expect), "got '%s', want '%s'", err, cases[k].expect);
  }
  char path[256];
  ck_assert_int_ne(ef_config_resolve("edgelm-xl", path, sizeof path, err, sizeof err), 0);
  ck_assert_msg(strstr(err, "unknown preset 'edgelm-xl'") != NULL, "%s", err);
  /* unknown key inside a file names the file */
  char tmp[] = "/tmp/ef_cfg_XXXXXX";
  int fd = mkstemp(tmp);
  ck_assert_int_ge(fd, 0);
  FILE *f = fdopen(fd, "w");
  fputs("[model]\nembed_dim = 64\nheads = 4\n", f);
  fclose(f);
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  ck_assert_int_ne(ef_config_load(&t, 1, tmp, err, sizeof err), 0);
  ck_assert_msg(strstr(err, tmp) && strstr(err, "unknown key 'heads' in [model]"), "%s", err);
  remove(tmp);
}
END_TEST

static void stats(ef_model *m, const char *key, double *mean, double *std, double *maxabs) {
  ef_tensor *t = ef_params_tensor(m->params, ef_params_find(m->params, key));
  ck_assert_ptr_nonnull(t);
  double s = 0, s2 = 0, mx = 0;
  for (int64_t i = 0; i < t->numel; i++) {
    s += t->data[i], s2 += (double)t->data[i] * t->data[i];
    if (fabs(t->data[i]) > mx) mx = fabs(t->data[i]);
  }
  *mean = s / (double)t->numel;
  *std = sqrt(s2 / (double)t->numel - *mean * *mean);
  *maxabs = mx;
}

START_TEST(initialisation_follows_fairseq) {
  ef_model *m = load_preset("edgelm", NULL);
  ef_model_init(m, 3);
  double mean, std, mx;
  stats(m, "encoder.embed_tokens.weight", &mean, &std, &mx);
  ck_assert_msg(fabs(std - pow(512, -0.5)) < 0.002 && fabs(mean) < 0.001, "embed std %g", std);
  ef_tensor *E = ef_params_tensor(m->params, m->embed);
  for (int d = 0; d < 512; d++) ck_assert_float_eq(E->data[512 + d], 0.0f); /* pad row */
  /* xavier-uniform gain 1/sqrt(2) on a 512x512: bound = sqrt(6/1024)/sqrt(2) = 0.0541 */
  stats(m, "encoder.layers.2.self_attn.k_proj.weight", &mean, &std, &mx);
  ck_assert_msg(mx <= 0.05413 && mx > 0.054 && fabs(std - 0.05413 / sqrt(3)) < 0.001, "k max %g", mx);
  stats(m, "encoder.layers.2.self_attn.out_proj.weight", &mean, &std, &mx);
  ck_assert_msg(mx <= 0.07655 && mx > 0.0763, "out_proj max %g", mx);
  stats(m, "encoder.layers.2.self_attn.out_proj.bias", &mean, &std, &mx);
  ck_assert_double_eq(mx, 0.0);
  stats(m, "encoder.layers.1.fc2.weight", &mean, &std, &mx); /* U(±1/sqrt(2048)) */
  ck_assert_msg(mx <= 0.0221 && mx > 0.0220, "fc2 max %g", mx);
  stats(m, "decoder.layers.1.final_layer_norm.weight", &mean, &std, &mx);
  ck_assert_double_eq(mean, 1.0);
  ck_assert_double_eq(std, 0.0);
  ef_model_free(m);
}
END_TEST

/* --- model-level gradient check --------------------------------------------------------
 * GELU everywhere but in the last variant: central differences straddling a ReLU kink are
 * wrong by construction (the ReLU op itself is checked in test_gradcheck away from 0). */

static const char *const variants[][16] = {
    {"--layer_adaptation", "adapter", "--lora_rank", "3", NULL},
    {"--layer_adaptation", "bias", NULL},
    {"--layer_adaptation", "prefix", "--prefix_length", "2", NULL},
    {"--decoder_layout", "standard", "--decoder_attn", "own", "--decoder_layer_sets", "1",
     "--share_layer_norm", "true", "--encoder_attn_sets", "1", "--layer_adaptation", "none", NULL},
    {"--layer_adaptation", "none", NULL},
};

static int32_t src[2 * 5] = {1, 1, 7, 9, 2, 5, 6, 8, 10, 2};
static int32_t prev[2 * 4] = {2, 11, 4, 1, 2, 12, 13, 6};
static int32_t tgt[2 * 4] = {11, 4, 2, 1, 12, 13, 6, 2};

static double loss_of(ef_ctx *c, ef_model *m, int grad) {
  ef_ctx_reset(c);
  ef_ctx_set_grad(c, grad);
  int64_t s[2] = {2, 5}, t[2] = {2, 4};
  ef_batch_tensors b = {ef_tensor_wrap(c, EF_I32, 2, s, src, NULL),
                        ef_tensor_wrap(c, EF_I32, 2, t, prev, NULL),
                        ef_tensor_wrap(c, EF_I32, 2, t, tgt, NULL)};
  ef_model_out out;
  ck_assert_msg(!ef_model_forward(c, m, &b, 0.1f, &out), "%s", ef_ctx_error(c));
  if (grad) ck_assert_int_eq(ef_backward(c, out.loss), 0);
  return out.loss->data[0];
}

START_TEST(model_gradient_matches_finite_differences) {
  const char *base[] = {"--encoder_layers", "4", "--decoder_layers", "2", "--embed_dim", "8",
                        "--attention_heads", "2", "--encoder_ffn_dim", "12", "--decoder_ffn_dim",
                        "4", "--encoder_attn_sets", "2", "--encoder_ffn_sets", "2",
                        "--vocab_size", "16", "--dropout", "0", "--activation", "gelu", NULL};
  const char *args[40];
  int n = 0;
  for (int i = 0; base[i]; i++) args[n++] = base[i];
  for (int i = 0; variants[_i][i]; i++) args[n++] = variants[_i][i];
  args[n] = NULL;
  ef_model *m = load_preset("edgelm", args);
  ef_model_init(m, 7);
  /* prefix/bias start at ~0: give them values so their gradients are generic */
  ef_ctx *c = ef_ctx_new(1 << 20, 4096);
  ef_params_zero_grad(m->params);
  loss_of(c, m, 1);
  int np = ef_params_count(m->params);
  int checked = 0;
  for (int k = 0; k < np; k++) {
    ef_tensor *t = ef_params_tensor(m->params, k);
    int64_t step = t->numel > 3 ? t->numel / 3 : 1;
    for (int64_t e = (k * 7) % step; e < t->numel; e += step) {
      const double h = 1e-2;
      float keep = t->data[e], analytic = t->grad[e];
      t->data[e] = keep + (float)h;
      double lp = loss_of(c, m, 0);
      t->data[e] = keep - (float)h;
      double lm = loss_of(c, m, 0);
      t->data[e] = keep;
      double numeric = (lp - lm) / (2 * h);
      /* the pad row of the embedding only gets the output-projection gradient (by design) */
      ck_assert_msg(fabs(analytic - numeric) <= 5e-3 + 2e-2 * fabs(numeric),
                    "variant %d: %s[%lld]: analytic %.6g, numeric %.6g", _i,
                    ef_params_name(m->params, k), (long long)e, analytic, numeric);
      checked++;
    }
  }
  ck_assert_int_gt(checked, 3 * np - 1);
  ef_ctx_free(c);
  ef_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("model");
  TCase *tc = tcase_create("model");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, edgelm_has_the_published_parameter_counts);
  tcase_add_test(tc, baselines_match_the_published_table);
  tcase_add_test(tc, every_fairseq_key_resolves_to_its_shared_block);
  tcase_add_test(tc, bad_configs_fail_naming_the_key);
  tcase_add_test(tc, initialisation_follows_fairseq);
  tcase_add_loop_test(tc, model_gradient_matches_finite_differences, 0,
                      (int)(sizeof variants / sizeof variants[0]));
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
