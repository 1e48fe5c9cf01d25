/* tests/train/test_checkpoint.c: HDF5 checkpoints of a real (small) EdgeFormer: bit-exact round
 * trip, the loader's validation (shapes, dtypes, keys, aliases, non-finite values, state
 * ranges), truncated and byte-flipped files, failed writes (file size limit, unwritable paths,
 * rename failure) leaving the previous checkpoint intact, reset flags, the link-once save set
 * and rotation. It must never write outside its temporary directory. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "model/edgeformer.h"
#include "train/checkpoint.h"
#include "test_checkpoint_util.h"

/* HDF5 1.10.8 leaks internal buffers when a checksum fails while reading a corrupted file (and
 * then prints "infinite loop closing library" at exit): allocations made inside libhdf5 are not
 * reported. Our own allocations still are, and test_checkpoint_util.h's open_hdf5_objects()
 * checks that every HDF5 handle we open is closed again. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
  return "leak:libhdf5_serial.so\nleak:libhdf5.so\n";
}

/* ---- round trip ----------------------------------------------------------------------- */

START_TEST(save_then_load_is_bit_exact) {
  fixture fx = fixture_new(0);
  ck_assert_msg(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err), "%s",
                err);
  ef_model *m2 = small_model(0);
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_train_state st2;
  memset(&st2, 0xAB, sizeof st2);
  char *cfg = NULL;
  ck_assert_msg(!ef_ckpt_load(fx.path, m2->params, &st2, &cfg, 0, err, sizeof err), "%s", err);
  ck_assert(same_store(fx.m->params, m2->params, 2));
  ck_assert(same_state(&fx.st, &st2));
  ck_assert_str_eq(cfg, fx.config);
  free(cfg);
  ck_assert_msg(!ef_ckpt_read_config(fx.path, &cfg, err, sizeof err), "%s", err);
  ck_assert_str_eq(cfg, fx.config);
  /* The stored config rebuilds the same model. */
  ef_model_config c2;
  ef_model_config_default(&c2);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &c2};
  char ini[512];
  snprintf(ini, sizeof ini, "%s/cfg.ini", fx.dir);
  FILE *f = fopen(ini, "w");
  fputs(cfg, f);
  fclose(f);
  ck_assert_msg(!ef_config_load(&t, 1, ini, err, sizeof err), "%s", err);
  ck_assert_int_eq(c2.embed_dim, fx.m->cfg.embed_dim);
  ck_assert_int_eq(c2.lora_rank, fx.m->cfg.lora_rank);
  ck_assert_int_eq(c2.vocab_size, fx.m->cfg.vocab_size);
  free(cfg);
  ef_model_free(m2);
  fixture_free(&fx);
}
END_TEST

START_TEST(layout_has_every_unique_parameter_once) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  hid_t f = H5Fopen(fx.path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert_int_ge(f, 0);
  H5G_info_t gi;
  for (int g = 0; g < 3; g++) {
    static const char *const groups[] = {"params", "optimizer/exp_avg", "optimizer/exp_avg_sq"};
    hid_t h = H5Gopen2(f, groups[g], H5P_DEFAULT);
    ck_assert(H5Gget_info(h, &gi) >= 0);
    ck_assert_int_eq((int)gi.nlinks, ef_params_count(fx.m->params));
    H5Gclose(h);
  }
  hid_t d = H5Dopen2(f, "aliases", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t dims[2];
  ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 2);
  ck_assert_int_eq((int)dims[0], ef_params_alias_count(fx.m->params));
  ck_assert_int_gt((int)dims[0], 0); /* the small EdgeLM shares layers: there are aliases */
  ck_assert_int_eq((int)dims[1], 2);
  H5Sclose(sp);
  H5Dclose(d);
  H5Fclose(f);
  fixture_free(&fx);
}
END_TEST

START_TEST(h5py_and_h5dump_read_the_layout) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  char cmd[2048];
  if (system("h5dump --version >/dev/null 2>&1") == 0) {
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", fx.path);
    ck_assert_msg(system(cmd) == 0, "h5dump -H failed on the checkpoint");
  }
  const char *py = python_with_h5py();
  if (!py) {
    fprintf(stderr, "test_checkpoint: h5py not found, skipping the h5py check\n");
    fixture_free(&fx);
    return;
  }
  int idx = ef_params_find(fx.m->params, "encoder.embed_tokens.weight");
  ck_assert_int_ge(idx, 0);
  const float *w = ef_params_tensor(fx.m->params, idx)->data;
  snprintf(cmd, sizeof cmd, "%s '%s/tests/train/check_h5py.py' '%s' %d %d %.9g %.9g %lld", py,
           EF_SOURCE_DIR, fx.path, ef_params_count(fx.m->params),
           ef_params_alias_count(fx.m->params), (double)w[0], (double)w[1],
           (long long)fx.st.num_updates);
  ck_assert_msg(system(cmd) == 0, "h5py check failed: %s", cmd);
  fixture_free(&fx);
}
END_TEST

/* ---- validation ------------------------------------------------------------------------- */

START_TEST(shape_mismatch_names_the_key_and_both_shapes) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  ef_model *m2 = small_model(64); /* encoder FFN 64 instead of 32 */
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_model_init(m2, 7);
  float *before = snapshot(m2->params, 2);
  ck_assert(ef_ckpt_load(fx.path, m2->params, &fx.st, NULL, 0, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want,
           "%s: /params/encoder.layers.0.fc1.weight has shape [32,16], the model expects [64,16]",
           fx.path);
  ck_assert_str_eq(err, want);
  ck_assert(unchanged(m2->params, 2, before));
  free(before);
  ef_model_free(m2);
  fixture_free(&fx);
}
END_TEST

typedef void (*edit_fn)(hid_t f);

static void edit_drop_param(hid_t f) {
  ck_assert(H5Ldelete(f, "params/encoder.layers.0.fc1.bias", H5P_DEFAULT) >= 0);
}
static void edit_rename_param(hid_t f) {
  ck_assert(H5Lmove(f, "params/encoder.layers.0.fc1.bias", f, "params/encoder.layers.0.fc9.bias",
                    H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void edit_alias_key(hid_t f) { /* an alias stored next to its canonical key */
  ck_assert(H5Lcreate_hard(f, "params/encoder.layers.0.fc1.bias", f,
                           "params/encoder.layers.2.fc1.bias", H5P_DEFAULT, H5P_DEFAULT) >= 0);
}
static void edit_float64(hid_t f) {
  hid_t d = H5Dopen2(f, "params/encoder.layers.0.fc1.bias", H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  H5Dclose(d);
  ck_assert(H5Ldelete(f, "params/encoder.layers.0.fc1.bias", H5P_DEFAULT) >= 0);
  d = H5Dcreate2(f, "params/encoder.layers.0.fc1.bias", H5T_IEEE_F64LE, sp, H5P_DEFAULT,
                 H5P_DEFAULT, H5P_DEFAULT);
  ck_assert_int_ge(d, 0);
  H5Sclose(sp);
  H5Dclose(d);
}
static void write_value(hid_t f, const char *name, float v, hsize_t at) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t sp = H5Dget_space(d);
  hsize_t n = (hsize_t)H5Sget_simple_extent_npoints(sp);
  float *x = malloc(n * sizeof *x);
  ck_assert(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
  x[at] = v;
  ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
  free(x);
  H5Sclose(sp);
  H5Dclose(d);
}
static void edit_nan(hid_t f) { write_value(f, "params/encoder.embed_tokens.weight", NAN, 5); }
static void edit_inf_moment(hid_t f) {
  write_value(f, "optimizer/exp_avg/encoder.layers.0.fc1.bias", INFINITY, 3);
}
static void edit_negative_v(hid_t f) {
  write_value(f, "optimizer/exp_avg_sq/encoder.layers.0.fc1.bias", -1.0f, 0);
}
static void edit_drop_moment(hid_t f) {
  ck_assert(H5Ldelete(f, "optimizer/exp_avg_sq/encoder.layers.0.fc1.weight", H5P_DEFAULT) >= 0);
}
static void edit_drop_aliases(hid_t f) { ck_assert(H5Ldelete(f, "aliases", H5P_DEFAULT) >= 0); }
static void edit_alias_target(hid_t f) { /* row 0: a real key, but not what the model shares */
  hid_t d = H5Dopen2(f, "aliases", H5P_DEFAULT);
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  size_t w = H5Tget_size(t);
  hsize_t dims[2];
  H5Sget_simple_extent_dims(sp, dims, NULL);
  char *raw = calloc(dims[0] * 2, w);
  ck_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0);
  memset(raw + w, 0, w);
  memcpy(raw + w, "encoder.layers.0.fc1.bias", strlen("encoder.layers.0.fc1.bias"));
  ck_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) >= 0);
  free(raw);
  H5Tclose(t);
  H5Sclose(sp);
  H5Dclose(d);
}
static void edit_version(hid_t f) {
  ck_assert(H5Adelete(f, "version") >= 0);
  int64_t v = 2;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(f, "version", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Sclose(sp);
}
static void edit_state(hid_t f) {
  hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
  ck_assert(H5Adelete(g, "iter_index") >= 0);
  int64_t v = 1000; /* beyond iter_n_batches */
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(g, "iter_index", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Sclose(sp);
  H5Gclose(g);
}
static void edit_drop_state_attr(hid_t f) {
  hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
  ck_assert(H5Adelete(g, "seed") >= 0);
  H5Gclose(g);
}

START_TEST(loader_rejects_edited_files_naming_the_problem) {
  static const struct {
    edit_fn edit;
    const char *expect; /* a substring of the message */
  } cases[] = {
      {edit_drop_param, "/params/encoder.layers.0.fc1.bias is missing"},
      {edit_rename_param, "/params/encoder.layers.0.fc9.bias is not a parameter of the model"},
      {edit_alias_key, "/params/encoder.layers.2.fc1.bias is an alias; parameters are stored "
                       "once, as /params/encoder.layers.0.fc1.bias"},
      {edit_float64, "/params/encoder.layers.0.fc1.bias has type float64, expected float32"},
      {edit_nan, "/params/encoder.embed_tokens.weight holds a non-finite value (nan) at "
                 "element 5"},
      {edit_inf_moment, "/optimizer/exp_avg/encoder.layers.0.fc1.bias holds a non-finite value "
                        "(inf) at element 3"},
      {edit_negative_v, "/optimizer/exp_avg_sq/encoder.layers.0.fc1.bias holds a negative value"},
      {edit_drop_moment, "/optimizer/exp_avg_sq/encoder.layers.0.fc1.weight is missing"},
      {edit_drop_aliases, "dataset /aliases is missing"},
      {edit_alias_target, "in the file, but -> "},
      {edit_version, "checkpoint version 2 is not supported (this build reads 1)"},
      {edit_state, "/state: iter_index outside [0, iter_n_batches]"},
      {edit_drop_state_attr, "/state lacks attribute seed"},
  };
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  char edited[512];
  snprintf(edited, sizeof edited, "%s/edited.h5", fx.dir);
  float *before = snapshot(fx.m->params, 2);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    copy_file(fx.path, edited);
    hid_t f = H5Fopen(edited, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    cases[i].edit(f);
    ck_assert(H5Fclose(f) >= 0);
    ef_train_state st = fx.st;
    err[0] = 0;
    ck_assert_msg(ef_ckpt_load(edited, fx.m->params, &st, NULL, 0, err, sizeof err),
                  "case %zu loaded", i);
    ck_assert_msg(strstr(err, cases[i].expect) && !strncmp(err, edited, strlen(edited)),
                  "case %zu: got '%s', want '%s'", i, err, cases[i].expect);
    ck_assert(unchanged(fx.m->params, 2, before));
    ck_assert(same_state(&st, &fx.st));
    ck_assert_int_eq(open_hdf5_objects(), 0);
  }
  free(before);
  fixture_free(&fx);
}
END_TEST

START_TEST(files_that_are_not_checkpoints_are_refused) {
  fixture fx = fixture_new(0);
  char p[512];
  snprintf(p, sizeof p, "%s/text.h5", fx.dir);
  FILE *f = fopen(p, "w");
  fputs("[model]\nembed_dim = 16\n", f);
  fclose(f);
  ck_assert(ef_ckpt_load(p, fx.m->params, &fx.st, NULL, 0, err, sizeof err));
  ck_assert_msg(strstr(err, "not a readable HDF5 file"), "%s", err);
  hid_t h = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(h);
  ck_assert(ef_ckpt_load(p, fx.m->params, &fx.st, NULL, 0, err, sizeof err));
  ck_assert_msg(strstr(err, "not an edgeformer checkpoint"), "%s", err);
  char *cfg = (char *)1;
  ck_assert(ef_ckpt_read_config(p, &cfg, err, sizeof err));
  ck_assert_ptr_null(cfg);
  snprintf(p, sizeof p, "%s/none.h5", fx.dir);
  ck_assert(ef_ckpt_load(p, fx.m->params, &fx.st, NULL, 0, err, sizeof err));
  ck_assert_msg(strstr(err, "cannot open: No such file"), "%s", err);
  fixture_free(&fx);
}
END_TEST

/* Every truncation and many single-byte flips: one error and untouched parameters, or (a flip
 * in bytes HDF5 never reads) a load identical to the original. Never a crash. */
START_TEST(truncated_and_flipped_files_fail_cleanly) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  size_t n = 0;
  unsigned char *orig = read_all(fx.path, &n);
  ef_model *m2 = small_model(0);
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_model_init(m2, 99);
  float *before = snapshot(m2->params, 2);
  char bad[512];
  snprintf(bad, sizeof bad, "%s/bad.h5", fx.dir);
  const size_t cuts[] = {0, 1, 7, 8, 47, 48, 96, 512, 2048, n / 4, n / 2, n - 4096, n - 100, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    write_all(bad, orig, cuts[i]);
    ef_train_state st = fx.st;
    ck_assert_msg(ef_ckpt_load(bad, m2->params, &st, NULL, 0, err, sizeof err),
                  "truncated at %zu of %zu loaded", cuts[i], n);
    ck_assert_int_eq(open_hdf5_objects(), 0);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert(unchanged(m2->params, 2, before));
  }
  int detected = 0, harmless = 0;
  const size_t stride = n / 700 + 1;
  for (size_t off = 0; off < n; off += stride) {
    orig[off] ^= 0x5A;
    write_all(bad, orig, n);
    orig[off] ^= 0x5A;
    ef_train_state st;
    memset(&st, 0, sizeof st);
    err[0] = 0;
    int failed = ef_ckpt_load(bad, m2->params, &st, NULL, 0, err, sizeof err);
    ck_assert_msg(open_hdf5_objects() == 0, "flip at %zu leaks HDF5 objects (%s)", off, err);
    if (failed) {
      ck_assert_msg(err[0] && !strchr(err, '\n'), "flip at %zu: empty or multi-line error", off);
      ck_assert_msg(unchanged(m2->params, 2, before), "flip at %zu changed the model", off);
      detected++;
    } else {
      ck_assert_msg(same_store(fx.m->params, m2->params, 2), "flip at %zu loaded wrong values",
                    off);
      ck_assert_msg(same_state(&st, &fx.st), "flip at %zu loaded a wrong state", off);
      restore(m2->params, 2, before);
      harmless++;
    }
  }
  fprintf(stderr, "test_checkpoint: %zu-byte file, %d flips detected, %d in unread bytes\n", n,
          detected, harmless);
  ck_assert_int_gt(detected, harmless);
  free(before);
  free(orig);
  ef_model_free(m2);
  fixture_free(&fx);
}
END_TEST

/* ---- failed writes ----------------------------------------------------------------------- */

/* Saves under a file size limit in a child, which then exits normally (running HDF5's and
 * LSan's exit handlers: a half-closed HDF5 file would crash there). Returns the exit status:
 * 0 when the save failed with the expected message. */
static int save_with_size_limit(fixture *fx, rlim_t limit) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead of killing us */
    struct rlimit rl = {limit, limit};
    if (setrlimit(RLIMIT_FSIZE, &rl)) exit(10);
    fx->st.num_updates += 1; /* different contents */
    char e[512] = "";
    int rc = ef_ckpt_save(fx->path, fx->m->params, fx->config, &fx->st, 1, e, sizeof e);
    int code = 0;
    if (rc == 0)
      code = 11;
    else if (!strstr(e, fx->path) || !strstr(e, "File too large") ||
             !strstr(e, "previous file is untouched")) {
      fprintf(stderr, "unexpected message: %s\n", e);
      code = 12;
    }
    ef_model_free(fx->m); /* memory only: the folder belongs to the parent */
    free(fx->config);
    exit(code);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status), "the child died of signal %d", WTERMSIG(status));
  return WEXITSTATUS(status);
}

START_TEST(failed_writes_keep_the_previous_checkpoint) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  size_t n = 0;
  unsigned char *orig = read_all(fx.path, &n);
  const rlim_t limits[] = {0, 100, 2048, 8192, n / 2, n - 1000, n - 1};
  for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
    ck_assert_int_eq(save_with_size_limit(&fx, limits[i]), 0);
    size_t n2 = 0;
    unsigned char *now = read_all(fx.path, &n2);
    ck_assert_msg(n2 == n && !memcmp(now, orig, n), "limit %zu changed the checkpoint",
                  (size_t)limits[i]);
    free(now);
    ck_assert_int_eq(count_files(fx.dir, ".tmp-"), 0);
  }
  /* An unwritable folder. */
  ck_assert(ef_ckpt_save("/proc/ef_no_such_dir/c.h5", fx.m->params, fx.config, &fx.st, 1, err,
                         sizeof err));
  ck_assert_msg(strstr(err, "/proc/ef_no_such_dir/c.h5: cannot create the temporary file"), "%s",
                err);
  /* The final rename fails (the target is a folder): temp removed, target untouched. */
  char target[512];
  snprintf(target, sizeof target, "%s/is_a_dir.h5", fx.dir);
  ck_assert(!mkdir(target, 0755));
  ck_assert(ef_ckpt_save(target, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  ck_assert_msg(strstr(err, "cannot rename the temporary file"), "%s", err);
  ck_assert_int_eq(count_files(fx.dir, ".tmp-"), 0);
  /* Non-finite parameters are not saved over a good checkpoint. */
  ef_params_data(fx.m->params)[ef_params_offset(fx.m->params, 3)] = NAN;
  ck_assert(ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  ck_assert_msg(strstr(err, "not saved: /params/"), "%s", err);
  size_t n3 = 0;
  unsigned char *now = read_all(fx.path, &n3);
  ck_assert(n3 == n && !memcmp(now, orig, n));
  free(now);
  free(orig);
  fixture_free(&fx);
}
END_TEST

/* ---- reset flags -------------------------------------------------------------------------- */

START_TEST(reset_flags_follow_fairseq) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  ef_model *m2 = small_model(0);
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_train_state st;

  ck_assert(
      !ef_ckpt_load(fx.path, m2->params, &st, NULL, EF_CKPT_RESET_LR_SCHEDULER, err, sizeof err));
  ef_train_state want = fx.st;
  want.lr = 0;
  ck_assert(same_state(&st, &want));
  ck_assert(same_store(fx.m->params, m2->params, 2));

  ck_assert(
      !ef_ckpt_load(fx.path, m2->params, &st, NULL, EF_CKPT_RESET_DATALOADER, err, sizeof err));
  want = fx.st;
  want.epoch = 1;
  memset(&want.iter_pos, 0, sizeof want.iter_pos);
  want.iter_pos.epoch = 1;
  ck_assert(same_state(&st, &want));

  ck_assert(
      !ef_ckpt_load(fx.path, m2->params, &st, NULL, EF_CKPT_RESET_OPTIMIZER, err, sizeof err));
  ck_assert(same_store(fx.m->params, m2->params, 0));
  ck_assert(all_zero(ef_params_state(m2->params, 0), ef_params_flat_len(m2->params)));
  ck_assert(all_zero(ef_params_state(m2->params, 1), ef_params_flat_len(m2->params)));
  ck_assert_int_eq(st.num_updates, 0);
  ck_assert_int_eq(st.best_update, 0);
  ck_assert(isnan(st.best_metric));
  ck_assert_str_eq(st.optimizer, "");
  ck_assert_int_eq(st.epoch, fx.st.epoch); /* the data position is kept */
  ck_assert_int_eq(st.iter_pos.index, fx.st.iter_pos.index);
  ck_assert(st.seed == fx.st.seed);

  /* Parameters only: state untouched (even NULL), moments zeroed. */
  ck_assert(!ef_ckpt_load(fx.path, m2->params, &st, NULL, 0, err, sizeof err));
  ef_train_state mine;
  ef_ckpt_state_init(&mine, 42);
  ef_train_state mine_copy = mine;
  ck_assert(!ef_ckpt_load(fx.path, m2->params, &mine, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err));
  ck_assert(same_state(&mine, &mine_copy));
  ck_assert(all_zero(ef_params_state(m2->params, 0), ef_params_flat_len(m2->params)));
  ck_assert(!ef_ckpt_load(fx.path, m2->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err));
  ck_assert(same_store(fx.m->params, m2->params, 0));
  ef_model_free(m2);

  /* A model without optimizer slots (generation) loads parameters only; resuming needs them. */
  ef_model *m3 = small_model(0);
  ck_assert(ef_ckpt_load(fx.path, m3->params, &st, NULL, 0, err, sizeof err));
  ck_assert_msg(strstr(err, "no optimizer state slots"), "%s", err);
  ck_assert(!ef_ckpt_load(fx.path, m3->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err));
  ck_assert(same_store(fx.m->params, m3->params, 0));
  ef_model_free(m3);
  fixture_free(&fx);
}
END_TEST

START_TEST(checkpoint_without_optimizer_needs_reset_to_resume) {
  fixture fx = fixture_new(0);
  ck_assert(!ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 0, err, sizeof err));
  hid_t f = H5Fopen(fx.path, H5F_ACC_RDONLY, H5P_DEFAULT);
  ck_assert(!H5Lexists(f, "optimizer", H5P_DEFAULT));
  H5Fclose(f);
  ef_model *m2 = small_model(0);
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_train_state st;
  ck_assert(ef_ckpt_load(fx.path, m2->params, &st, NULL, 0, err, sizeof err));
  ck_assert_msg(strstr(err, "saved without optimizer state; resume with the optimizer reset"), "%s",
                err);
  ck_assert(
      !ef_ckpt_load(fx.path, m2->params, &st, NULL, EF_CKPT_RESET_OPTIMIZER, err, sizeof err));
  ck_assert(same_store(fx.m->params, m2->params, 0));
  /* Saving the optimizer needs its slots and its name. */
  ef_model *m3 = small_model(0);
  ck_assert(ef_ckpt_save(fx.path, m3->params, fx.config, &fx.st, 1, err, sizeof err));
  ck_assert_msg(strstr(err, "state slots 0 and 1"), "%s", err);
  fx.st.optimizer[0] = 0;
  ck_assert(ef_ckpt_save(fx.path, fx.m->params, fx.config, &fx.st, 1, err, sizeof err));
  ck_assert_msg(strstr(err, "needs its name"), "%s", err);
  ef_model_free(m3);
  ef_model_free(m2);
  fixture_free(&fx);
}
END_TEST

/* ---- folders ------------------------------------------------------------------------------ */

START_TEST(save_set_writes_once_and_links) {
  fixture fx = fixture_new(0);
  unsigned all = EF_CKPT_SAVE_UPDATE | EF_CKPT_SAVE_LAST | EF_CKPT_SAVE_BEST;
  ck_assert_msg(!ef_ckpt_save_set(fx.dir, all, fx.m->params, fx.config, &fx.st, 1, err, sizeof err),
                "%s", err);
  char p_upd[512], p_last[512], p_best[512];
  snprintf(p_upd, sizeof p_upd, "%s/checkpoint_%lld.h5", fx.dir, (long long)fx.st.num_updates);
  snprintf(p_last, sizeof p_last, "%s/checkpoint_last.h5", fx.dir);
  snprintf(p_best, sizeof p_best, "%s/checkpoint_best.h5", fx.dir);
  struct stat a, b, c;
  ck_assert(!stat(p_upd, &a) && !stat(p_last, &b) && !stat(p_best, &c));
  ck_assert(a.st_ino == b.st_ino && a.st_ino == c.st_ino);
  /* The next update: last moves on, best and the old numbered file keep the old contents. */
  float *old = snapshot(fx.m->params, 2);
  ef_train_state old_st = fx.st;
  fx.st.num_updates += 10;
  ef_params_data(fx.m->params)[0] += 1.0f;
  ck_assert(!ef_ckpt_save_set(fx.dir, EF_CKPT_SAVE_UPDATE | EF_CKPT_SAVE_LAST, fx.m->params,
                              fx.config, &fx.st, 1, err, sizeof err));
  ck_assert(!ef_ckpt_save_set(fx.dir, EF_CKPT_SAVE_LAST, fx.m->params, fx.config, &fx.st, 1, err,
                              sizeof err)); /* same name twice: still fine */
  ef_model *m2 = small_model(0);
  ck_assert(!ef_params_alloc_states(m2->params, 2, err, sizeof err));
  ef_train_state st;
  ck_assert(!ef_ckpt_load(p_best, m2->params, &st, NULL, 0, err, sizeof err));
  ck_assert(unchanged(m2->params, 2, old) && same_state(&st, &old_st));
  ck_assert(!ef_ckpt_load(p_upd, m2->params, &st, NULL, 0, err, sizeof err));
  ck_assert(unchanged(m2->params, 2, old));
  ck_assert(!ef_ckpt_load(p_last, m2->params, &st, NULL, 0, err, sizeof err));
  ck_assert(same_store(fx.m->params, m2->params, 2) && same_state(&st, &fx.st));
  ck_assert_int_eq(count_files(fx.dir, ".tmp-"), 0);
  free(old);
  ef_model_free(m2);
  fixture_free(&fx);
}
END_TEST

START_TEST(rotate_keeps_the_newest_numbered_checkpoints) {
  fixture fx = fixture_new(0);
  static const char *const names[] = {
      "checkpoint_1.h5",    "checkpoint_2.h5",    "checkpoint_10.h5", "checkpoint_3.h5",
      "checkpoint_last.h5", "checkpoint_best.h5", "checkpoint_x.h5",  "checkpoint_5.h5.tmp-9",
      "checkpoint_.h5",     "checkpoint_7.h5.bak"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) touch(fx.dir, names[i]);
  int removed = -1;
  ck_assert_msg(!ef_ckpt_rotate(fx.dir, 2, &removed, err, sizeof err), "%s", err);
  ck_assert_int_eq(removed, 2);
  static const int kept[] = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", fx.dir, names[i]);
    ck_assert_msg((access(p, F_OK) == 0) == kept[i], "%s", names[i]);
  }
  ck_assert(!ef_ckpt_rotate(fx.dir, 0, &removed, err, sizeof err)); /* keep all */
  ck_assert_int_eq(removed, 0);
  ck_assert(ef_ckpt_rotate("/nonexistent/ef", 1, NULL, err, sizeof err));
  ck_assert_msg(strstr(err, "cannot list the checkpoint folder"), "%s", err);
  fixture_free(&fx);
}
END_TEST

/* One case per test, so CK_RUN_CASE=<test name> runs just that one. */
#define ADD(s, fn)                                                                                 \
  do {                                                                                             \
    TCase *tc = tcase_create(#fn);                                                                 \
    tcase_set_timeout(tc, 600);                                                                    \
    tcase_add_test(tc, fn);                                                                        \
    suite_add_tcase(s, tc);                                                                        \
  } while (0)

int main(void) {
  Suite *s = suite_create("checkpoint");
  ADD(s, save_then_load_is_bit_exact);
  ADD(s, layout_has_every_unique_parameter_once);
  ADD(s, h5py_and_h5dump_read_the_layout);
  ADD(s, shape_mismatch_names_the_key_and_both_shapes);
  ADD(s, loader_rejects_edited_files_naming_the_problem);
  ADD(s, files_that_are_not_checkpoints_are_refused);
  ADD(s, truncated_and_flipped_files_fail_cleanly);
  ADD(s, failed_writes_keep_the_previous_checkpoint);
  ADD(s, reset_flags_follow_fairseq);
  ADD(s, checkpoint_without_optimizer_needs_reset_to_resume);
  ADD(s, save_set_writes_once_and_links);
  ADD(s, rotate_keeps_the_newest_numbered_checkpoints);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
