/* tests/train/test_checkpoint_util.h: fixtures for test_checkpoint.c: a small real EdgeFormer
 * with filled parameters, moments and state in a temporary folder, store comparisons and file
 * helpers. Included by that one test only (static functions). It must never write outside the
 * fixture's temporary folder. */
#ifndef EF_TESTS_TRAIN_CHECKPOINT_UTIL_H
#define EF_TESTS_TRAIN_CHECKPOINT_UTIL_H

#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "model/edgeformer.h"
#include "train/checkpoint.h"

#define TEST_CONFIG_BYTES 8192

static char err[1024];

/* The EdgeLM layout (12+2 layers, attention in 4 sets, FFN in 2, LoRA) shrunk to d = 16. */
static ef_model *small_model(int encoder_ffn_dim) {
  ef_model_config c;
  ef_model_config_default(&c);
  c.embed_dim = 16;
  c.attention_heads = 2;
  c.encoder_ffn_dim = encoder_ffn_dim ? encoder_ffn_dim : 32;
  c.decoder_ffn_dim = 8;
  c.vocab_size = 50;
  c.lora_rank = 4;
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&c, &m, err, sizeof err), "%s", err);
  return m;
}

typedef struct {
  char dir[64], path[256];
  ef_model *m;
  char *config;
  ef_train_state st;
} fixture;

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static fixture fixture_new(int encoder_ffn_dim) {
  fixture fx;
  memset(&fx, 0, sizeof fx);
  strcpy(fx.dir, "/tmp/ef_ckpt_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(fx.dir));
  snprintf(fx.path, sizeof fx.path, "%s/ckpt.h5", fx.dir);
  fx.m = small_model(encoder_ffn_dim);
  ef_model_init(fx.m, 1);
  ck_assert(!ef_params_alloc_states(fx.m->params, 2, err, sizeof err));
  /* Moments: arbitrary bit patterns (exp_avg any sign, exp_avg_sq >= 0), padding left 0. */
  uint64_t s = 12345;
  ef_params *p = fx.m->params;
  for (int i = 0; i < ef_params_count(p); i++) {
    int64_t off = ef_params_offset(p, i), n = ef_params_tensor(p, i)->numel;
    for (int64_t j = 0; j < n; j++) {
      ef_params_state(p, 0)[off + j] = (float)((double)(int64_t)mix(&s) / 9.2e18) * 1e-3f;
      ef_params_state(p, 1)[off + j] = (float)((double)(mix(&s) >> 11) / 9.0e15) * 1e-6f;
    }
  }
  fx.config = malloc(TEST_CONFIG_BYTES);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &fx.m->cfg};
  ck_assert(!ef_config_format(&t, 1, fx.config, TEST_CONFIG_BYTES));
  ef_ckpt_state_init(&fx.st, 0xDEADBEEFCAFEF00Dull); /* above 2^63: unsigned on disk */
  fx.st.num_updates = 1234;
  fx.st.epoch = 3;
  fx.st.best_update = 1200;
  fx.st.best_metric = 2.718281828459045;
  fx.st.iter_pos.epoch = 3;
  fx.st.iter_pos.index = 17;
  fx.st.iter_pos.n_batches = 40;
  fx.st.iter_pos.fingerprint = -0x123456789abcdefll;
  fx.st.lr = 3.0517578125e-05 * (1 + 1e-15);
  fx.st.n_skipped_nonfinite = 2;
  strcpy(fx.st.optimizer, "adam");
  return fx;
}

static void fixture_free(fixture *fx) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
  ck_assert_int_eq(system(cmd), 0);
  ef_model_free(fx->m);
  free(fx->config);
}

static float *buf_of(ef_params *p, int k) {
  return k == 0 ? ef_params_data(p) : ef_params_state(p, k - 1);
}

/* Data and the first n_states state slots, bit for bit (flat buffers, padding included). */
static int same_store(ef_params *a, ef_params *b, int n_states) {
  size_t n = (size_t)ef_params_flat_len(a) * sizeof(float);
  if (ef_params_flat_len(b) != ef_params_flat_len(a)) return 0;
  for (int k = 0; k <= n_states; k++)
    if (memcmp(buf_of(a, k), buf_of(b, k), n)) return 0;
  return 1;
}

static float *snapshot(ef_params *p, int n_states) {
  size_t n = (size_t)ef_params_flat_len(p);
  float *s = malloc(n * sizeof(float) * (size_t)(n_states + 1));
  for (int k = 0; k <= n_states; k++) memcpy(s + (size_t)k * n, buf_of(p, k), n * sizeof(float));
  return s;
}

static int unchanged(ef_params *p, int n_states, const float *snap) {
  size_t n = (size_t)ef_params_flat_len(p);
  for (int k = 0; k <= n_states; k++)
    if (memcmp(snap + (size_t)k * n, buf_of(p, k), n * sizeof(float))) return 0;
  return 1;
}

static void restore(ef_params *p, int n_states, const float *snap) {
  size_t n = (size_t)ef_params_flat_len(p);
  for (int k = 0; k <= n_states; k++) memcpy(buf_of(p, k), snap + (size_t)k * n, n * sizeof(float));
}

static int all_zero(const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (x[i] != 0.0f || signbit(x[i])) return 0;
  return 1;
}

static int same_double(double a, double b) { return !memcmp(&a, &b, sizeof a); }

static int same_state(const ef_train_state *a, const ef_train_state *b) {
  return a->num_updates == b->num_updates && a->epoch == b->epoch &&
         a->best_update == b->best_update && same_double(a->best_metric, b->best_metric) &&
         a->seed == b->seed && a->iter_pos.epoch == b->iter_pos.epoch &&
         a->iter_pos.index == b->iter_pos.index && a->iter_pos.n_batches == b->iter_pos.n_batches &&
         a->iter_pos.fingerprint == b->iter_pos.fingerprint && same_double(a->lr, b->lr) &&
         a->n_skipped_nonfinite == b->n_skipped_nonfinite && !strcmp(a->optimizer, b->optimizer);
}

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n ? *n : 1);
  ck_assert_uint_eq(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

static void write_all(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, n, f), n);
  ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to) {
  size_t n = 0;
  unsigned char *b = read_all(from, &n);
  write_all(to, b, n);
  free(b);
}

static void touch(const char *dir, const char *name) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  write_all(p, (const unsigned char *)"x", 1);
}

/* Files in dir whose name contains part. */
static int count_files(const char *dir, const char *part) {
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, part)) n++;
  closedir(d);
  return n;
}

/* HDF5 files, groups, datasets, attributes and named types still open in this process
 * (HDF5 does not let a program count its transient types and dataspaces). */
static long open_hdf5_objects(void) { return (long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL); }

/* A Python that imports h5py, or NULL. */
static const char *python_with_h5py(void) {
  static const char *const candidates[] = {"python3", "/usr/bin/python3"};
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import h5py' >/dev/null 2>&1", candidates[i]);
    if (system(cmd) == 0) return candidates[i];
  }
  return NULL;
}

#endif
