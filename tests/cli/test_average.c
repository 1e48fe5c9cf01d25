/* tests/cli/test_average.c: `edgeformer average` against an independent computation. The test
 * writes checkpoints of a small EdgeFormer (205 unique parameters, 138 aliases) with known
 * values, runs the command, reads the result back with the checkpoint loader and compares
 * every parameter bit for bit with a long-double mean computed here, rounded once to float.
 * One element is chosen so that float32 accumulation (what fairseq's script does) would give
 * another float: the average really sums in float64. Also: folder selection by update and
 * epoch number (with an upper bound), the first input's counters and embedded tokenizer are
 * kept, shared tensors stay shared, and bad inputs fail with one line and write nothing. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/edgeformer.h"
#include "train/checkpoint.h"
#include "train/checkpoint_blob.h"

#define EDGEFORMER EF_BINARY_DIR "/bin/edgeformer"
#define N_CKPT 4
#define CONFIG_BYTES 8192
#define CMD_LEN 4096

static char err[1024];

/* HDF5 1.10.8 keeps some internal buffers until exit (see tests/train/test_checkpoint.c). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libhdf5_serial.so\nleak:libhdf5.so\n";
}

static ef_model *small_model(int ffn) {
  ef_model_config c;
  ef_model_config_default(&c);
  c.embed_dim = 16;
  c.attention_heads = 2;
  c.encoder_ffn_dim = ffn;
  c.decoder_ffn_dim = 8;
  c.vocab_size = 50;
  c.lora_rank = 4;
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&c, &m, err, sizeof err), "%s", err);
  return m;
}

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Checkpoint k's value of flat element j (j < total). Element 0 of the first parameter gets
 * 1, 2^-24, 2^-24, 0: float32 accumulation loses the small terms, float64 does not. */
static float value(int k, int64_t j, uint64_t *s) {
  if (j == 0) {
    static const float special[N_CKPT] = {1.0f, 0x1p-24f, 0x1p-24f, 0.0f};
    return special[k];
  }
  return (float)((double)(int64_t)mix(s) / 9.2e18);
}

typedef struct {
  char dir[64];
  ef_model *m;
  char *config;
  float *vals[N_CKPT]; /* flat values of each checkpoint */
} fixture;

static void write_ckpt(fixture *fx, const char *name, int k, int64_t update, int with_blob) {
  ef_params *p = fx->m->params;
  memcpy(ef_params_data(p), fx->vals[k], (size_t)ef_params_flat_len(p) * sizeof(float));
  ef_train_state st;
  ef_ckpt_state_init(&st, 7);
  st.num_updates = update;
  st.epoch = k + 1;
  snprintf(st.optimizer, sizeof st.optimizer, "adam");
  char path[256];
  snprintf(path, sizeof path, "%s/%s", fx->dir, name);
  ef_ckpt_blob blob = {EF_CKPT_BLOB_SPM, "spm bytes", 9};
  ck_assert_msg(!ef_ckpt_save_blobs(path, p, fx->config, &st, 1, &blob, with_blob, err, sizeof err),
                "%s", err);
}

static fixture fixture_new(void) {
  fixture fx;
  memset(&fx, 0, sizeof fx);
  strcpy(fx.dir, "/tmp/ef_avg_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(fx.dir));
  fx.m = small_model(32);
  ck_assert(!ef_params_alloc_states(fx.m->params, 2, err, sizeof err));
  fx.config = malloc(CONFIG_BYTES);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &fx.m->cfg};
  ck_assert(!ef_config_format(&t, 1, fx.config, CONFIG_BYTES));
  ef_params *p = fx.m->params;
  int64_t len = ef_params_flat_len(p);
  uint64_t s = 20261204;
  for (int k = 0; k < N_CKPT; k++) {
    fx.vals[k] = calloc((size_t)len, sizeof(float));
    int64_t j = 0;
    for (int i = 0; i < ef_params_count(p); i++) { /* values only where parameters live */
      int64_t off = ef_params_offset(p, i), n = ef_params_tensor(p, i)->numel;
      for (int64_t e = 0; e < n; e++, j++) fx.vals[k][off + e] = value(k, j, &s);
    }
  }
  /* update checkpoints 100, 200, 300, 400 (= values 0..3), epoch checkpoints 1..4 */
  for (int k = 0; k < N_CKPT; k++) {
    char name[64];
    snprintf(name, sizeof name, "checkpoint_%d.h5", 100 * (k + 1));
    write_ckpt(&fx, name, k, 100 * (k + 1), k == N_CKPT - 1);
    snprintf(name, sizeof name, "checkpoint%d.h5", k + 1);
    write_ckpt(&fx, name, k, 10 * (k + 1), 0);
  }
  write_ckpt(&fx, "checkpoint_last.h5", 3, 400, 0); /* never matched by the patterns */
  return fx;
}

static void fixture_free(fixture *fx) {
  char cmd[CMD_LEN];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  ck_assert_int_eq(system(cmd), 0);
  for (int k = 0; k < N_CKPT; k++) free(fx->vals[k]);
  free(fx->config);
  ef_model_free(fx->m);
}

static int run(const fixture *fx, const char *args) {
  char cmd[CMD_LEN];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' average %s > out.log 2> err.log", fx->dir, EDGEFORMER,
           args);
  int rc = system(cmd);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Loads dir/name into a fresh model and checks every parameter against the mean of the given
 * checkpoints (indices into fx->vals), computed in long double and rounded once. */
static void check_mean(const fixture *fx, const char *name, const int *which, int n,
                       ef_train_state *st) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", fx->dir, name);
  ef_model *m = small_model(32);
  ef_params *p = m->params;
  ck_assert_msg(!ef_ckpt_load(path, p, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err), "%s",
                err); /* same unique keys, shapes and alias map as the model */
  ck_assert(!ef_params_alloc_states(p, 2, err, sizeof err));
  ck_assert_msg(!ef_ckpt_load(path, p, st, NULL, EF_CKPT_RESET_OPTIMIZER, err, sizeof err), "%s",
                err);
  int64_t checked = 0;
  for (int i = 0; i < ef_params_count(p); i++) {
    int64_t off = ef_params_offset(p, i), cnt = ef_params_tensor(p, i)->numel;
    for (int64_t e = 0; e < cnt; e++) {
      long double acc = 0;
      for (int k = 0; k < n; k++) acc += fx->vals[which[k]][off + e];
      float want = (float)(acc / n), got = ef_params_data(p)[off + e];
      ck_assert_msg(!memcmp(&want, &got, sizeof want), "%s: %s[%lld] = %.9g, want %.9g", name,
                    ef_params_name(p, i), (long long)e, (double)got, (double)want);
      checked++;
    }
  }
  ck_assert_int_eq(checked, ef_params_numel(p));
  ef_model_free(m);
}

START_TEST(average_inputs_matches_long_double_mean) {
  fixture fx = fixture_new();
  ck_assert_int_eq(run(&fx, "--inputs checkpoint_100.h5 checkpoint_200.h5 checkpoint_300.h5 "
                            "checkpoint_400.h5 -o avg.h5"),
                   0);
  int all[N_CKPT] = {0, 1, 2, 3};
  ef_train_state st;
  check_mean(&fx, "avg.h5", all, N_CKPT, &st);
  ck_assert_int_eq(st.num_updates, 0); /* saved without optimizer: loaded with the reset */
  ck_assert_int_eq(st.epoch, 1);       /* the first input's epoch */
  ck_assert_str_eq(st.optimizer, "");
  /* element 0: 1, 2^-24, 2^-24, 0 -> float64 mean (1 + 2^-23) / 4, which float32 summing
   * (1 + 2^-24 = 1 in float) would have made 0.25 */
  char path[256];
  snprintf(path, sizeof path, "%s/avg.h5", fx.dir);
  ef_model *m = small_model(32);
  ck_assert(!ef_ckpt_load(path, m->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err));
  float first = ef_params_data(m->params)[ef_params_offset(m->params, 0)];
  float f32 = ((1.0f + 0x1p-24f) + 0x1p-24f + 0.0f) / 4.0f;
  ck_assert_float_eq(first, (float)((1.0 + 0x1p-23) / 4.0));
  ck_assert_float_ne(first, f32);
  ef_model_free(m);
  /* the tokenizer of the first input travels with the average (here: none) */
  void *blob;
  size_t bl;
  ck_assert_int_eq(ef_ckpt_read_blob(path, EF_CKPT_BLOB_SPM, &blob, &bl, err, sizeof err), 1);
  fixture_free(&fx);
}
END_TEST

START_TEST(average_newest_update_and_epoch_checkpoints) {
  fixture fx = fixture_new();
  /* newest 2 by update: 400 and 300 (values 3, 2); the first one's blob is kept */
  ck_assert_int_eq(run(&fx, "--num-update-checkpoints 2 --save-dir . -o u2.h5"), 0);
  int u2[2] = {3, 2};
  ef_train_state st;
  check_mean(&fx, "u2.h5", u2, 2, &st);
  char path[256];
  snprintf(path, sizeof path, "%s/u2.h5", fx.dir);
  void *blob = NULL;
  size_t bl = 0;
  ck_assert_int_eq(ef_ckpt_read_blob(path, EF_CKPT_BLOB_SPM, &blob, &bl, err, sizeof err), 0);
  ck_assert_int_eq(bl, 9);
  ck_assert(!memcmp(blob, "spm bytes", 9));
  free(blob);
  /* --inputs DIR is the folder (fairseq); upper bound 250: 200 and 100 */
  ck_assert_int_eq(run(&fx, "--num-update-checkpoints 2 --checkpoint-upper-bound 250 --inputs . "
                            "-o ub.h5"),
                   0);
  int ub[2] = {1, 0};
  check_mean(&fx, "ub.h5", ub, 2, &st);
  /* epochs: checkpoint4.h5, checkpoint3.h5, checkpoint2.h5 */
  ck_assert_int_eq(run(&fx, "--num-epoch-checkpoints 3 -o e3.h5"), 0);
  int e3[3] = {3, 2, 1};
  check_mean(&fx, "e3.h5", e3, 3, &st);
  /* the output may replace an input: it is read first, written atomically */
  ck_assert_int_eq(run(&fx, "--inputs checkpoint1.h5 checkpoint2.h5 -o checkpoint1.h5"), 0);
  int e12[2] = {0, 1};
  check_mean(&fx, "checkpoint1.h5", e12, 2, &st);
  fixture_free(&fx);
}
END_TEST

static void expect_error(const fixture *fx, const char *args, int want_rc, const char *want) {
  ck_assert_int_eq(run(fx, args), want_rc);
  char path[256], line[2048] = "";
  snprintf(path, sizeof path, "%s/err.log", fx->dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
  ck_assert_msg(fgetc(f) == EOF, "more than one line for '%s'", args);
  fclose(f);
  ck_assert_msg(strstr(line, want) != NULL, "'%s': got '%s', want '%s'", args, line, want);
  snprintf(path, sizeof path, "%s/bad.h5", fx->dir);
  ck_assert_int_ne(access(path, F_OK), 0); /* nothing written */
}

START_TEST(average_bad_inputs) {
  fixture fx = fixture_new();
  /* another model (encoder FFN 64): refused by the loader, naming the parameter */
  ef_model *other = small_model(64);
  ef_train_state st;
  ef_ckpt_state_init(&st, 1);
  char path[256];
  snprintf(path, sizeof path, "%s/other.h5", fx.dir);
  ck_assert(!ef_ckpt_save(path, other->params, fx.config, &st, 0, err, sizeof err));
  ef_model_free(other);
  expect_error(&fx, "--inputs checkpoint_100.h5 other.h5 -o bad.h5", 1, "fc1.weight has shape");
  expect_error(&fx, "--num-update-checkpoints 5 -o bad.h5", 1,
               "found 4 checkpoint_<N>.h5 checkpoint files but need 5");
  expect_error(&fx, "--inputs checkpoint_100.h5 nope.h5 -o bad.h5", 1, "nope.h5");
  expect_error(&fx, "--inputs checkpoint_100.h5", 2, "-o OUT.h5 and one of");
  expect_error(&fx, "--num-update-checkpoints 0 -o bad.h5", 2, "expected an integer >= 1");
  expect_error(&fx, "--num-update-checkpoints 1 --num-epoch-checkpoints 1 -o bad.h5", 2,
               "-o OUT.h5 and one of");
  expect_error(&fx, "--inputs checkpoint_100.h5 --checkpoint-upper-bound 3 -o bad.h5", 2,
               "--checkpoint-upper-bound needs");
  fixture_free(&fx);
}
END_TEST

/* A damaged byte inside an embedded file fails its Fletcher-32 checksum: one message, no
 * data returned. */
START_TEST(embedded_file_damage_is_detected) {
  fixture fx = fixture_new();
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint_400.h5", fx.dir); /* holds "spm bytes" */
  FILE *f = fopen(path, "r+b");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f), at = -1;
  char *b = malloc((size_t)n);
  fseek(f, 0, SEEK_SET);
  ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
  for (long i = 0; i + 9 <= n && at < 0; i++)
    if (!memcmp(b + i, "spm bytes", 9)) at = i;
  ck_assert_int_ge(at, 0);
  fseek(f, at + 4, SEEK_SET);
  fputc('X', f);
  fclose(f);
  free(b);
  void *data = (void *)1;
  size_t len;
  ck_assert_int_eq(ef_ckpt_read_blob(path, EF_CKPT_BLOB_SPM, &data, &len, err, sizeof err), -1);
  ck_assert_ptr_null(data);
  ck_assert_msg(strstr(err, "/tokenizer/spm_model (corrupt file: checksum mismatch") != NULL, "%s",
                err);
  fixture_free(&fx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("average");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, average_inputs_matches_long_double_mean);
  tcase_add_test(tc, average_newest_update_and_epoch_checkpoints);
  tcase_add_test(tc, average_bad_inputs);
  tcase_add_test(tc, embedded_file_damage_is_detected);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int nf = srunner_ntests_failed(sr);
  srunner_free(sr);
  return nf ? EXIT_FAILURE : EXIT_SUCCESS;
}
