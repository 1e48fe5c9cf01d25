/* tests/convert/test_fairseq_import.c: `edgeformer import --fairseq` (convert/fairseq_import.h)
 * on the committed fixtures of tests/reference/fairseq_checkpoint.py: the EdgeLM-layout
 * checkpoint imports to the config of edgelm_tiny.ini, the written HDF5 checkpoint loads into a
 * fresh model whose teacher-forced log-probs reproduce the PyTorch reference's; the legacy
 * format with fairseq 0.10 `args`, float16 weights and the universal-transformer layout import;
 * duplicate mismatches, missing / extra keys, wrong shapes, unsupported options and a wrong
 * dictionary fail with one line naming the key, and write nothing. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autograd/tensor.h"
#include "convert/fairseq_import.h"
#include "model/edgeformer.h"
#include "tests/common/fixture.h"
#include "train/checkpoint.h"

#define DIR EF_FIXTURES "/import/"
#define ERRLEN 2048
#define LPROBS_ATOL                                                                                \
  1e-4 /* as test_model_parity: the float32 reference itself is 1.3e-5 from float64 */

static char err[ERRLEN], tmpdir[256];

/* HDF5 1.10.8 keeps some internal buffers until exit; only libhdf5's own are suppressed. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libhdf5_serial.so\nleak:libhdf5.so\n";
}

static void setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/ef-import-XXXXXX");
  ck_assert(mkdtemp(tmpdir) != NULL);
}

static void teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  ck_assert(system(cmd) == 0);
}

static void load_ini(const char *path, ef_model_config *c) {
  ef_model_config_default(c);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, c};
  ck_assert_msg(!ef_config_load(&t, 1, path, err, sizeof err), "%s", err);
}

/* The model a checkpoint's stored config describes, with its parameters loaded. */
static ef_model *load_h5(const char *path, ef_model_config *c) {
  char *text = NULL;
  ck_assert_msg(!ef_ckpt_read_config(path, &text, err, sizeof err), "%s", err);
  ef_model_config_default(c);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, c};
  ck_assert_msg(!ef_config_load_text(&t, 1, text, path, err, sizeof err), "%s", err);
  free(text);
  ef_model *m;
  ck_assert_msg(!ef_model_new(c, &m, err, sizeof err), "%s", err);
  ck_assert_msg(!ef_ckpt_load(path, m->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err),
                "%s", err);
  return m;
}

static void same_structure(const ef_model_config *a, const ef_model_config *b) {
#define EQ(f) ck_assert_msg(a->f == b->f, #f ": %d vs %d", (int)a->f, (int)b->f)
  EQ(encoder_layers);
  EQ(decoder_layers);
  EQ(embed_dim);
  EQ(attention_heads);
  EQ(encoder_ffn_dim);
  EQ(decoder_ffn_dim);
  EQ(encoder_attn_sets);
  EQ(encoder_ffn_sets);
  EQ(decoder_layer_sets);
  EQ(decoder_layout);
  EQ(decoder_attn);
  EQ(share_layer_norm);
  EQ(layer_adaptation);
  EQ(lora_rank);
  EQ(activation);
  EQ(max_source_positions);
  EQ(max_target_positions);
  EQ(vocab_size);
#undef EQ
}

static ef_tensor *wrap_ids(ef_ctx *c, fx_file *fx, const char *name) {
  fx_tensor *t = fx_need(fx, name);
  ck_assert(t->is_int);
  return ef_tensor_wrap(c, EF_I32, t->ndim, t->shape, t->i, NULL);
}

START_TEST(edgelm_checkpoint_imports_and_reproduces_reference_lprobs) {
  char out[400];
  snprintf(out, sizeof out, "%s/edgelm.h5", tmpdir);
  ef_import_opts o = {DIR "edgelm_tiny.pt", DIR "dict.src.txt", DIR "spm.model", out, NULL};
  ef_import_report rep;
  ck_assert_msg(!ef_fairseq_import(&o, &rep, err, sizeof err), "%s", err);
  ck_assert_str_eq(rep.format, "zip");
  ck_assert_str_eq(rep.arch, "transformer_edge");
  ck_assert_str_eq(rep.param_type, "edgeformer");
  ck_assert_int_eq(rep.n_keys, 347);
  ck_assert_int_eq(rep.n_buffers, 4);
  ck_assert_int_eq(rep.n_canonical + rep.n_aliases + rep.n_buffers, rep.n_keys);
  ck_assert_int_eq(rep.n_dict_not_in_spm, 0);
  ck_assert(fabsf(rep.cfg.label_smoothing - 0.1f) < 1e-6f && fabsf(rep.cfg.dropout - 0.1f) < 1e-6f);
  ef_model_config want, got;
  load_ini(DIR "edgelm_tiny.ini", &want);
  ef_model *m = load_h5(out, &got);
  same_structure(&got, &want);
  ck_assert_int_eq(ef_params_count(m->params), rep.n_canonical);
  ck_assert_int_eq(ef_params_alias_count(m->params), rep.n_aliases);

  fx_file fx;
  fx_load_efx(&fx, DIR "edgelm_tiny.efx");
  ef_ctx *c = ef_ctx_new(16u << 20, 8192);
  ef_ctx_set_grad(c, 0);
  ef_batch_tensors b = {wrap_ids(c, &fx, "src_tokens"), wrap_ids(c, &fx, "prev_output_tokens"),
                        wrap_ids(c, &fx, "target")};
  ef_model_out mo;
  ck_assert_msg(!ef_model_forward(c, m, &b, 0.1f, &mo), "%s", ef_ctx_error(c));
  fx_tensor *lp = fx_need(&fx, "lprobs");
  ck_assert_int_eq(mo.lprobs->numel, lp->numel);
  double worst = fx_err(mo.lprobs->data, lp->f, lp->numel, LPROBS_ATOL, 0.0, NULL);
  fprintf(stderr,
          "edgelm_tiny: imported model vs reference lprobs: max |diff| %.2e (%lld values)\n",
          worst * LPROBS_ATOL, (long long)lp->numel);
  fx_assert_close("imported edgelm_tiny lprobs", mo.lprobs->data, lp->f, lp->numel, LPROBS_ATOL,
                  0.0);
  ef_ctx_free(c);
  fx_free(&fx);
  ef_model_free(m);
}
END_TEST

START_TEST(legacy_args_fp16_and_ut_checkpoints_import) {
  char ok[400], half[400];
  snprintf(ok, sizeof ok, "%s/ok.h5", tmpdir);
  snprintf(half, sizeof half, "%s/fp16.h5", tmpdir);
  ef_import_opts o = {DIR "micro_ok.pt", DIR "micro.dict.txt", NULL, ok, NULL};
  ef_import_report rep;
  ck_assert_msg(!ef_fairseq_import(&o, &rep, err, sizeof err), "%s", err);
  ck_assert_str_eq(rep.format, "legacy");
  ck_assert_int_eq(rep.n_dict_not_in_spm, -1);
  o.checkpoint = DIR "micro_fp16.pt";
  o.output = half;
  ck_assert_msg(!ef_fairseq_import(&o, &rep, err, sizeof err), "%s", err);
  ck_assert_str_eq(rep.first_stored_dtype, "float16");
  ef_model_config want, c1, c2;
  load_ini(DIR "micro.ini", &want);
  ef_model *a = load_h5(ok, &c1), *b = load_h5(half, &c2);
  same_structure(&c1, &want);
  same_structure(&c2, &want);
  /* float16 weights: the float32 ones rounded to 11 significant bits */
  const float *x = ef_params_data(a->params), *y = ef_params_data(b->params);
  for (int64_t i = 0; i < ef_params_flat_len(a->params); i++)
    ck_assert_msg(fabsf(x[i] - y[i]) <= 1e-3f * fabsf(x[i]) + 6e-8f, "%lld: %g vs %g", (long long)i,
                  (double)x[i], (double)y[i]);
  ef_model_free(a);
  ef_model_free(b);
  /* the universal-transformer layout: one block shared by every layer, check only */
  o.checkpoint = DIR "micro_ut.pt";
  o.output = NULL;
  ck_assert_msg(!ef_fairseq_import(&o, &rep, err, sizeof err), "%s", err);
  load_ini(DIR "micro_ut.ini", &want);
  same_structure(&rep.cfg, &want);
}
END_TEST

START_TEST(nested_dataclass_config_is_read) {
  /* cfg["model"] as newer fairseq's dataclass dict: encoder/decoder fields nested */
  ef_import_opts o = {DIR "micro_nested.pt", DIR "micro.dict.txt", NULL, NULL, NULL};
  ef_import_report rep;
  ck_assert(ef_fairseq_import(&o, &rep, err, sizeof err) != 0); /* only the embedding is there */
  ck_assert_msg(strstr(err, "is missing (the model needs it)") != NULL, "%s", err);
  ck_assert_str_eq(rep.arch, "transformer_edge");
  ck_assert_str_eq(rep.param_type, "edgeformer");
  const ef_model_config *c = &rep.cfg;
  ck_assert(c->embed_dim == 4 && c->attention_heads == 1 && c->encoder_ffn_dim == 6 &&
            c->decoder_ffn_dim == 2 && c->encoder_layers == 12 && c->decoder_layers == 2);
  ck_assert(c->layer_adaptation == EF_LA_ADAPTER && c->lora_rank == 1);
  ck_assert(c->activation == EF_ACT_GELU && fabsf(c->dropout - 0.2f) < 1e-6f &&
            fabsf(c->label_smoothing - 0.2f) < 1e-6f);
  ck_assert(c->max_source_positions == 64 && c->vocab_size == 8);
}
END_TEST

static const struct {
  const char *file, *dict, *expect;
} BAD[] = {
    {"micro_dup_mismatch.pt", "micro.dict.txt",
     "micro_dup_mismatch.pt: duplicate key decoder.layers.0.self_attn.q_proj.weight differs from "
     "its canonical key encoder.layers.0.self_attn.q_proj.weight at element 5"},
    {"micro_missing.pt", "micro.dict.txt",
     "micro_missing.pt: model key encoder.layers.1.self_attn.k_proj.bias is missing"},
    {"micro_extra.pt", "micro.dict.txt",
     "micro_extra.pt: unexpected model key encoder.layers.12.fc1.weight"},
    {"micro_shape.pt", "micro.dict.txt",
     "micro_shape.pt: model key encoder.layers.0.fc1.weight has shape [4,6], the model expects "
     "[6,4]"},
    {"micro_prenorm.pt", "micro.dict.txt",
     "micro_prenorm.pt: cfg.model.encoder_normalize_before = True is not supported"},
    {"edgelm_tiny.pt", "micro.dict.txt",
     "micro.dict.txt: the dictionary has 8 symbols (4 specials + 4 lines) but the checkpoint's "
     "embedding encoder.embed_tokens.weight has 142 rows"},
    {"evil_zip.pt", "micro.dict.txt",
     "evil_zip.pt: no 'model' state_dict in the checkpoint (found a object)"},
    {"tensors.pt", "micro.dict.txt", "tensors.pt: no 'model' state_dict"},
    {"evil_raw.pkl", "micro.dict.txt", "evil_raw.pkl: not a PyTorch checkpoint"},
    {"spm.model", "micro.dict.txt", "spm.model: not a PyTorch checkpoint"},
    {"micro_ok.pt", "no-such-dict.txt", "no-such-dict.txt"},
};

START_TEST(bad_checkpoints_fail_naming_the_key_and_write_nothing) {
  char out[400];
  snprintf(out, sizeof out, "%s/never.h5", tmpdir);
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    char ck[300], dict[300];
    snprintf(ck, sizeof ck, DIR "%s", BAD[i].file);
    snprintf(dict, sizeof dict, DIR "%s", BAD[i].dict);
    ef_import_opts o = {ck, dict, NULL, out, NULL};
    err[0] = 0;
    ck_assert_msg(ef_fairseq_import(&o, NULL, err, sizeof err) != 0, "%s imported", BAD[i].file);
    ck_assert_msg(strstr(err, BAD[i].expect) != NULL, "%s: got '%s'", BAD[i].file, err);
    ck_assert_msg(!strchr(err, '\n'), "%s: message spans lines", BAD[i].file);
    ck_assert_msg(access(out, F_OK) != 0, "%s: wrote %s", BAD[i].file, out);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("fairseq_import");
  TCase *tc = tcase_create("import");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, edgelm_checkpoint_imports_and_reproduces_reference_lprobs);
  tcase_add_test(tc, legacy_args_fp16_and_ut_checkpoints_import);
  tcase_add_test(tc, nested_dataclass_config_is_read);
  tcase_add_test(tc, bad_checkpoints_fail_naming_the_key_and_write_nothing);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
