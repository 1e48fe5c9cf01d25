/* tests/data/test_prepare.c: `edgeformer prepare` end to end through ef_prepare_run: dictionaries
 * equal to fairseq's on the same text, datasets equal to fairseq's encode_line, dropped empty
 * pairs counted, TSV input equal to text-prefix input, --spm-train then --spm, reuse of a
 * dictionary (fine-tuning), and the error messages of bad inputs. Needs `spm_train` (Debian
 * package sentencepiece). It must never write outside its temporary directory. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/prepare.h"

#define FIX EF_FIXTURES "/data/"

static char dir[64];

static void setup(void) {
  strcpy(dir, "/tmp/ef_prep_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void assert_same_file(const char *a, const char *b) {
  size_t na, nb;
  char *x = slurp(a, &na), *y = slurp(b, &nb);
  ck_assert_msg(na == nb && !memcmp(x, y, na), "%s and %s differ", a, b);
  free(x);
  free(y);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static FILE *quiet_log(void) { return fopen("/dev/null", "w"); }

static int run(ef_prepare_opts *o, char *err, size_t errlen) {
  FILE *log = quiet_log();
  o->log = log;
  int rc = ef_prepare_run(o, err, errlen);
  fclose(log);
  return rc;
}

START_TEST(test_pretokenised_text_matches_fairseq_preprocess) {
  ef_prepare_opts o;
  ef_prepare_opts_default(&o);
  char dest[128], err[1024], path[256];
  snprintf(dest, sizeof dest, "%s/bin", dir);
  o.trainpref = FIX "dictcorpus";
  o.destdir = dest;
  ck_assert_msg(run(&o, err, sizeof err) == 0, "%s", err);
  /* dict.src.txt / dict.tgt.txt are fairseq's dictionaries of the same text. */
  snprintf(path, sizeof path, "%s/dict.src.txt", dest);
  assert_same_file(path, FIX "dictcorpus.dict.src.txt");
  snprintf(path, sizeof path, "%s/dict.tgt.txt", dest);
  assert_same_file(path, FIX "dictcorpus.dict.tgt.txt");
  /* train.h5 holds fairseq's encode_line ids, minus the pair whose source line is empty. */
  ef_dict *sd, *td;
  snprintf(path, sizeof path, "%s/dict.src.txt", dest);
  ck_assert_int_eq(ef_dict_load(path, &sd, err, sizeof err), 0);
  snprintf(path, sizeof path, "%s/dict.tgt.txt", dest);
  ck_assert_int_eq(ef_dict_load(path, &td, err, sizeof err), 0);
  ef_dataset ds;
  ef_dataset_expect ex = {sd, td, "dict.src.txt", "dict.tgt.txt", NULL};
  snprintf(path, sizeof path, "%s/train.h5", dest);
  ck_assert_msg(ef_dataset_read(path, &ex, &ds, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(ds.n, 39); /* line 16 of dictcorpus.src is empty */
  ck_assert_str_eq(ds.spm_sha256, "");
  size_t len;
  char *enc = slurp(FIX "dictcorpus.enc.src.txt", &len), *save = NULL;
  int64_t row = 0, unk = 0, lineno = 0;
  for (char *l = strtok_r(enc, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    lineno++;
    if (lineno == 16) continue;
    ck_assert_int_eq(ds.line[row], lineno);
    char *tab = strchr(l, '\t'), *p = l, *q;
    ck_assert_ptr_nonnull(tab);
    *tab = '\0';
    int64_t k = ds.src.offsets[row];
    for (long v = strtol(p, &q, 10); q != p; p = q, v = strtol(p, &q, 10))
      ck_assert_int_eq(ds.src.tokens[k++], v);
    ck_assert_int_eq(k, ds.src.offsets[row + 1]);
    unk += atoi(tab + 1);
    row++;
  }
  ck_assert_int_eq(row, 39);
  ck_assert_int_eq(ds.src.n_unk, unk);
  free(enc);
  ef_dataset_release(&ds);

  /* Running again into the same folder without --srcdict refuses to overwrite it... */
  ck_assert_int_ne(run(&o, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "dict.src.txt already exists: pass it with --srcdict"));
  /* ...and reusing the dictionaries (fine-tuning) encodes other text against them. */
  char dicts[2][256];
  snprintf(dicts[0], sizeof dicts[0], "%s/dict.src.txt", dest);
  snprintf(dicts[1], sizeof dicts[1], "%s/dict.tgt.txt", dest);
  o.srcdict = dicts[0];
  o.tgtdict = dicts[1];
  o.trainpref = NULL;
  o.validpref = FIX "kjv-web";
  ck_assert_msg(run(&o, err, sizeof err) == 0, "%s", err);
  snprintf(path, sizeof path, "%s/valid.h5", dest);
  ck_assert_msg(ef_dataset_read(path, &ex, &ds, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(ds.n, 250);
  ck_assert_int_gt(ds.src.n_unk, ds.src.n_tokens / 2); /* Bible words are unknown here */
  ef_dataset_release(&ds);
  snprintf(path, sizeof path, "%s/dict.src.txt", dest);
  assert_same_file(path, FIX "dictcorpus.dict.src.txt");
  ef_dict_free(sd);
  ef_dict_free(td);
}
END_TEST

START_TEST(test_spm_train_then_spm_and_tsv_give_identical_datasets) {
  char a[128], b[128], tsv[128], err[1024], pa[256], pb[256];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  snprintf(tsv, sizeof tsv, "%s/pairs.tsv", dir);
  ef_prepare_opts o;
  ef_prepare_opts_default(&o);
  o.source_lang = "src";
  o.target_lang = "tgt";
  o.trainpref = FIX "kjv-web";
  o.spm_train_vocab = 300;
  o.joined_dictionary = 1;
  o.destdir = a;
  ck_assert_msg(run(&o, err, sizeof err) == 0, "%s", err);
  snprintf(pa, sizeof pa, "%s/spm.model", a);
  ck_assert_int_eq(access(pa, R_OK), 0);
  snprintf(pa, sizeof pa, "%s/spm_train.input.txt", a);
  ck_assert_int_ne(access(pa, F_OK), 0); /* temporary input removed */
  /* The same pairs as a TSV, tokenised with the model just learnt, into another folder. */
  size_t ls, lt;
  char *s = slurp(FIX "kjv-web.src", &ls), *t = slurp(FIX "kjv-web.tgt", &lt);
  FILE *f = fopen(tsv, "wb");
  char *ss = NULL, *st = NULL;
  char *x = strtok_r(s, "\n", &ss), *y = strtok_r(t, "\n", &st);
  for (; x && y; x = strtok_r(NULL, "\n", &ss), y = strtok_r(NULL, "\n", &st))
    fprintf(f, "%s\t%s\n", x, y);
  fclose(f);
  free(s);
  free(t);
  ef_prepare_opts_default(&o);
  snprintf(pa, sizeof pa, "%s/spm.model", a);
  snprintf(pb, sizeof pb, "%s/dict.src.txt", a);
  o.train_tsv = tsv;
  o.spm_model = pa;
  o.srcdict = pb;
  o.joined_dictionary = 1;
  o.destdir = b;
  ck_assert_msg(run(&o, err, sizeof err) == 0, "%s", err);
  ef_dataset da, db;
  snprintf(pa, sizeof pa, "%s/train.h5", a);
  snprintf(pb, sizeof pb, "%s/train.h5", b);
  ck_assert_msg(ef_dataset_read(pa, NULL, &da, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(ef_dataset_read(pb, NULL, &db, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(da.n, 250);
  ck_assert_int_eq(db.n, 250);
  ck_assert_int_eq(da.src.n_tokens, db.src.n_tokens);
  ck_assert_int_eq(da.tgt.n_tokens, db.tgt.n_tokens);
  ck_assert_int_eq(memcmp(da.src.tokens, db.src.tokens, da.src.n_tokens * 4), 0);
  ck_assert_int_eq(memcmp(da.tgt.tokens, db.tgt.tokens, da.tgt.n_tokens * 4), 0);
  ck_assert_str_eq(da.spm_sha256, db.spm_sha256);
  ck_assert_int_eq(strlen(da.spm_sha256), 64);
  ck_assert_str_eq(da.src.dict_sha256, db.tgt.dict_sha256); /* joined */
  ck_assert_str_eq(da.spm_model, "spm.model");
  ck_assert_int_eq(da.src.n_unk, 0); /* the model covers every character of its training text */
  /* The model copied into b is the same file. */
  snprintf(pa, sizeof pa, "%s/spm.model", a);
  snprintf(pb, sizeof pb, "%s/spm.model", b);
  assert_same_file(pa, pb);
  /* A dataset checked against another SentencePiece model is refused. */
  ef_dataset_release(&db);
  ef_dataset_expect ex = {0};
  ex.spm_sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
  snprintf(pb, sizeof pb, "%s/train.h5", b);
  ck_assert_int_ne(ef_dataset_read(pb, &ex, &db, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "built with SentencePiece model sha256"));
  ef_dataset_release(&da);
}
END_TEST

static void expect_error(ef_prepare_opts *o, const char *want) {
  char err[1024] = "";
  ck_assert_int_ne(run(o, err, sizeof err), 0);
  ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err, want);
}

START_TEST(test_bad_inputs_fail_with_clear_messages) {
  char pref[128], p1[160], p2[160], tsv[128], dest[128];
  snprintf(pref, sizeof pref, "%s/c", dir);
  snprintf(p1, sizeof p1, "%s.src", pref);
  snprintf(p2, sizeof p2, "%s.tgt", pref);
  snprintf(tsv, sizeof tsv, "%s/x.tsv", dir);
  snprintf(dest, sizeof dest, "%s/out", dir);
  ef_prepare_opts o;
  ef_prepare_opts_default(&o);
  o.destdir = dest;
  expect_error(&o, "no input");
  write_file(p1, "a b\nc d\ne\n");
  write_file(p2, "x\ny\n");
  o.trainpref = pref;
  expect_error(&o, "c.src has 3 lines but");
  write_file(p2, "x\ny\n\xc3(\n");
  expect_error(&o, "c.tgt:3: not valid UTF-8");
  o.trainpref = NULL;
  write_file(tsv, "a\tb\nno tab here\n");
  o.train_tsv = tsv;
  expect_error(&o, "x.tsv:2: expected 2 tab-separated fields (source, target), found 1");
  write_file(tsv, "a\tb\tc\n");
  expect_error(&o, "x.tsv:1: expected 2 tab-separated fields (source, target), found 3");
  o.trainpref = pref;
  expect_error(&o, "--trainpref and --train-tsv both given");
  o.train_tsv = NULL;
  o.spm_model = FIX "kjv-web.src"; /* not a model */
  write_file(p2, "x\ny\nz\n");
  expect_error(&o, "kjv-web.src");
  o.spm_model = NULL;
  o.spm_train_vocab = 100000; /* far too many pieces for three lines */
  expect_error(&o, "spm_train failed");
  o.spm_train_vocab = 0;
  o.srcdict = "/nonexistent/dict.txt";
  expect_error(&o, "/nonexistent/dict.txt: cannot open");
  o.srcdict = NULL;
  o.trainpref = NULL;
  o.validpref = pref;
  expect_error(&o, "building a dictionary needs --trainpref");
  o.target_lang = "src";
  expect_error(&o, "must differ");
}
END_TEST

START_TEST(test_empty_pairs_are_dropped_and_counted_or_kept) {
  char pref[128], p1[160], p2[160], dest[128], err[1024], path[256];
  snprintf(pref, sizeof pref, "%s/e", dir);
  snprintf(p1, sizeof p1, "%s.src", pref);
  snprintf(p2, sizeof p2, "%s.tgt", pref);
  snprintf(dest, sizeof dest, "%s/out", dir);
  write_file(p1, "a b\r\n\nc\n \t\nd");
  write_file(p2, "x\ny\n\nq\nz\n");
  ef_prepare_opts o;
  ef_prepare_opts_default(&o);
  o.trainpref = pref;
  o.destdir = dest;
  char logpath[160];
  snprintf(logpath, sizeof logpath, "%s/log.txt", dir);
  FILE *log = fopen(logpath, "w");
  o.log = log;
  ck_assert_msg(ef_prepare_run(&o, err, sizeof err) == 0, "%s", err);
  fclose(log);
  size_t n;
  char *text = slurp(logpath, &n);
  ck_assert_msg(strstr(text, "prepare: train: 5 lines, 2 pairs, 3 dropped (2 empty source, 1 "
                             "empty target, 0 empty both)") != NULL,
                "log:\n%s", text);
  ck_assert_ptr_nonnull(strstr(text, "prepare: [src] train: 2 sents, 5 tokens, 0% replaced"));
  free(text);
  ef_dataset ds;
  snprintf(path, sizeof path, "%s/train.h5", dest);
  ck_assert_msg(ef_dataset_read(path, NULL, &ds, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(ds.n, 2);
  ck_assert_int_eq(ds.line[0], 1);
  ck_assert_int_eq(ds.line[1], 5);
  ck_assert_int_eq(ef_dataset_len(&ds.src, 0), 3); /* "a b" + </s>: the \r was dropped */
  ef_dataset_release(&ds);
  /* --keep-empty keeps every line (a lone </s> on the empty side). */
  char dicts[2][256];
  snprintf(dicts[0], sizeof dicts[0], "%s/dict.src.txt", dest);
  snprintf(dicts[1], sizeof dicts[1], "%s/dict.tgt.txt", dest);
  o.srcdict = dicts[0];
  o.tgtdict = dicts[1];
  o.keep_empty = 1;
  ck_assert_msg(run(&o, err, sizeof err) == 0, "%s", err);
  ck_assert_msg(ef_dataset_read(path, NULL, &ds, err, sizeof err) == 0, "%s", err);
  ck_assert_int_eq(ds.n, 5);
  ck_assert_int_eq(ef_dataset_len(&ds.src, 1), 1);
  ef_dataset_release(&ds);
}
END_TEST

int main(void) {
  Suite *s = suite_create("prepare");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_pretokenised_text_matches_fairseq_preprocess);
  tcase_add_test(tc, test_spm_train_then_spm_and_tsv_give_identical_datasets);
  tcase_add_test(tc, test_bad_inputs_fail_with_clear_messages);
  tcase_add_test(tc, test_empty_pairs_are_dropped_and_counted_or_kept);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
