/* tests/data/test_dataset.c: HDF5 dataset write/read round trip and the reader's validation of
 * corrupt files (truncated, non-increasing offsets, out-of-range ids, missing </s>, dictionary
 * and SentencePiece mismatches). It must never write outside its temporary directory. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "data/dataset.h"

static char dir[64];
static char path[256];

static void setup(void) {
  strcpy(dir, "/tmp/ef_ds_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/train.h5", dir);
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* A dictionary of 4 + 12 symbols (w0..w11), padded to 16. */
static ef_dict *small_dict(const char *prefix) {
  ef_dict *d = ef_dict_new();
  char sym[16];
  for (int i = 0; i < 12; i++) {
    int n = snprintf(sym, sizeof sym, "%s%d", prefix, i);
    ck_assert_int_eq(ef_dict_add(d, sym, (size_t)n, 100 - i, 0, NULL, 0), 4 + i);
  }
  return d;
}

/* Pairs: src i = (4+i%12, ..., </s>) of length 2 + i%5, tgt of length 1 + i%3. */
static void build(ef_dataset *ds, int n, const ef_dict *sd, const ef_dict *td) {
  ef_dataset_init(ds);
  strcpy(ds->split, "train");
  strcpy(ds->src.lang, "kjv");
  strcpy(ds->tgt.lang, "web");
  ck_assert_int_eq(ef_dict_checksum(sd, ds->src.dict_sha256), 0);
  ck_assert_int_eq(ef_dict_checksum(td, ds->tgt.dict_sha256), 0);
  ds->src.dict_size = ef_dict_size(sd);
  ds->tgt.dict_size = ef_dict_size(td);
  strcpy(ds->spm_sha256, "ab12");
  strcpy(ds->spm_model, "spm.model");
  for (int i = 0; i < n; i++) {
    int32_t s[8], t[8];
    int ns = 2 + i % 5, nt = 1 + i % 3;
    for (int k = 0; k < ns - 1; k++) s[k] = 4 + (i + k) % 12;
    s[ns - 1] = EF_DICT_EOS;
    for (int k = 0; k < nt - 1; k++) t[k] = 5 + (i * 3 + k) % 11;
    t[nt - 1] = EF_DICT_EOS;
    ck_assert_int_eq(ef_dataset_append(ds, s, ns, t, nt, 10 + i, NULL, 0), 0);
  }
  ds->src.n_unk = n > 0 ? 3 : 0;
}

START_TEST(test_write_read_round_trip) {
  ef_dict *sd = small_dict("s"), *td = small_dict("t");
  ef_dataset ds, rd;
  build(&ds, 3000, sd, td);
  char err[512];
  ck_assert_msg(ef_dataset_write(&ds, path, err, sizeof err) == 0, "%s", err);
  ef_dataset_expect ex = {sd, td, "dict.kjv.txt", "dict.web.txt", "ab12"};
  ck_assert_msg(ef_dataset_read(path, &ex, &rd, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd.n, 3000);
  ck_assert_str_eq(rd.split, "train");
  ck_assert_str_eq(rd.src.lang, "kjv");
  ck_assert_str_eq(rd.tgt.lang, "web");
  ck_assert_str_eq(rd.spm_model, "spm.model");
  ck_assert_int_eq(rd.src.n_unk, 3);
  ck_assert_int_eq(rd.src.n_tokens, ds.src.n_tokens);
  ck_assert_int_eq(rd.tgt.n_tokens, ds.tgt.n_tokens);
  ck_assert_int_eq(memcmp(rd.src.tokens, ds.src.tokens, ds.src.n_tokens * 4), 0);
  ck_assert_int_eq(memcmp(rd.tgt.tokens, ds.tgt.tokens, ds.tgt.n_tokens * 4), 0);
  ck_assert_int_eq(memcmp(rd.src.offsets, ds.src.offsets, 3001 * 8), 0);
  ck_assert_int_eq(memcmp(rd.tgt.offsets, ds.tgt.offsets, 3001 * 8), 0);
  ck_assert_int_eq(memcmp(rd.line, ds.line, 3000 * 8), 0);
  ck_assert_int_eq(ef_dataset_len(&rd.src, 4), 6);
  /* no temporary file left behind */
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s/train.h5.tmp.%ld", dir, (long)getpid());
  ck_assert_int_ne(access(tmp, F_OK), 0);
  ef_dataset_release(&rd);
  ef_dataset_release(&ds);
  ef_dict_free(sd);
  ef_dict_free(td);
}
END_TEST

START_TEST(test_empty_dataset_round_trips) {
  ef_dict *sd = small_dict("s");
  ef_dataset ds, rd;
  build(&ds, 0, sd, sd);
  char err[512];
  ck_assert_msg(ef_dataset_write(&ds, path, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(ef_dataset_read(path, NULL, &rd, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(rd.n, 0);
  ef_dataset_release(&rd);
  ef_dataset_release(&ds);
  ef_dict_free(sd);
}
END_TEST

static void expect_read_error(const ef_dataset_expect *ex, const char *want) {
  ef_dataset rd;
  char err[512] = "";
  ck_assert_int_ne(ef_dataset_read(path, ex, &rd, err, sizeof err), 0);
  ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err, want);
  ck_assert_ptr_null(rd.src.tokens);
  ck_assert_int_eq(rd.n, 0);
}

/* Write a valid file, then overwrite element `pos` of an integer dataset with `value`. */
static void write_then_poke(const char *dset, hsize_t pos, long long value) {
  ef_dict *sd = small_dict("s");
  ef_dataset ds;
  build(&ds, 50, sd, sd);
  char err[512];
  ck_assert_msg(ef_dataset_write(&ds, path, err, sizeof err) == 0, "%s", err);
  ef_dataset_release(&ds);
  ef_dict_free(sd);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  hid_t fs = H5Dget_space(d);
  hsize_t one = 1;
  H5Sselect_elements(fs, H5S_SELECT_SET, 1, &pos);
  hid_t ms = H5Screate_simple(1, &one, NULL);
  ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_LLONG, ms, fs, H5P_DEFAULT, &value), 0);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  H5Fclose(f);
}

START_TEST(test_non_increasing_offsets_are_reported_with_row) {
  write_then_poke("/src/offsets", 17, 3);
  expect_read_error(NULL, "train.h5: dataset /src/offsets is not increasing at row 17");
  write_then_poke("/tgt/offsets", 50, 7);
  expect_read_error(NULL, "dataset /tgt/offsets is not increasing at row 50");
  write_then_poke("/src/offsets", 0, 1);
  expect_read_error(NULL, "dataset /src/offsets does not start at 0");
}
END_TEST

START_TEST(test_out_of_range_ids_are_reported) {
  write_then_poke("/src/tokens", 5, 16);
  expect_read_error(NULL, "dataset /src/tokens holds id 16 at position 5, outside the dictionary");
  write_then_poke("/tgt/tokens", 0, -4);
  expect_read_error(NULL, "dataset /tgt/tokens holds id -4 at position 0");
  write_then_poke("/src/tokens", 1, 1);
  expect_read_error(NULL, "holds <pad> (id 1) at position 1");
  write_then_poke("/src/tokens", 1, 7); /* the </s> of sentence 0 */
  expect_read_error(NULL, "sentence 0 of /src does not end with </s>");
}
END_TEST

START_TEST(test_dictionary_mismatch_is_reported) {
  ef_dict *sd = small_dict("s"), *other = small_dict("x"), *bigger = small_dict("s");
  ef_dict_add(bigger, "extra", 5, 1, 0, NULL, 0);
  ef_dataset ds;
  build(&ds, 20, sd, sd);
  char err[512];
  ck_assert_msg(ef_dataset_write(&ds, path, err, sizeof err) == 0, "%s", err);
  ef_dataset_expect ex = {other, sd, "dict.kjv.txt", "dict.web.txt", NULL};
  expect_read_error(&ex, "train.h5: /src was built with dictionary sha256");
  expect_read_error(&ex, "but dict.kjv.txt has");
  ex = (ef_dataset_expect){sd, bigger, "a.txt", "dict.web.txt", NULL};
  expect_read_error(&ex, "/tgt was built with a dictionary of 16 symbols but dict.web.txt has 17");
  ex = (ef_dataset_expect){sd, sd, NULL, NULL, "ffff"};
  expect_read_error(&ex, "built with SentencePiece model sha256 ab12");
  ef_dataset_release(&ds);
  ef_dict_free(sd);
  ef_dict_free(other);
  ef_dict_free(bigger);
}
END_TEST

START_TEST(test_truncated_and_foreign_files_are_rejected) {
  ef_dict *sd = small_dict("s");
  ef_dataset ds;
  build(&ds, 2000, sd, sd);
  char err[512];
  ck_assert_msg(ef_dataset_write(&ds, path, err, sizeof err) == 0, "%s", err);
  ef_dataset_release(&ds);
  ef_dict_free(sd);
  FILE *f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  ck_assert_int_eq(truncate(path, size / 2), 0);
  expect_read_error(NULL, "train.h5: not a readable HDF5 file");
  f = fopen(path, "wb");
  fputs("hello, not hdf5\n", f);
  fclose(f);
  expect_read_error(NULL, "train.h5: not a readable HDF5 file");
  /* An HDF5 file that is not ours. */
  hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(h);
  expect_read_error(NULL, "train.h5: not an edgeformer dataset");
  unlink(path);
  expect_read_error(NULL, "train.h5: cannot open");
}
END_TEST

START_TEST(test_missing_dataset_is_reported) {
  write_then_poke("/line", 0, 1);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "/tgt/tokens", H5P_DEFAULT);
  H5Fclose(f);
  expect_read_error(NULL, "train.h5: dataset /tgt/tokens is missing");
}
END_TEST

int main(void) {
  Suite *s = suite_create("dataset");
  TCase *tc = tcase_create("core");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_write_read_round_trip);
  tcase_add_test(tc, test_empty_dataset_round_trips);
  tcase_add_test(tc, test_non_increasing_offsets_are_reported_with_row);
  tcase_add_test(tc, test_out_of_range_ids_are_reported);
  tcase_add_test(tc, test_dictionary_mismatch_is_reported);
  tcase_add_test(tc, test_truncated_and_foreign_files_are_rejected);
  tcase_add_test(tc, test_missing_dataset_is_reported);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
