/* tests/data/test_dictionary.c: fairseq dictionary rules (specials, counting, threshold, nwords,
 * padding to 8, encode_line, load/save round trip, malformed files) against fixtures computed
 * with fairseq's own Dictionary code (tests/reference/make_dict_fixtures.py). It must never
 * write outside a temporary directory. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dictionary.h"
#include "data/sha256.h"

#define FIX EF_FIXTURES "/data/"
#define MAX_IDS 256

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

static void count_file(ef_dict *d, const char *path) {
  size_t len;
  char *buf = slurp(path, &len), err[256];
  char *p = buf, *end = buf + len;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    ck_assert_msg(ef_dict_count_line(d, p, n, err, sizeof err) == 0, "%s", err);
    p += n + 1;
  }
  free(buf);
}

static void check_case(const char *name, const char *side1, const char *side2, int64_t threshold,
                       int64_t nwords, int pad) {
  char path[512], err[256];
  ef_dict *d = ef_dict_new();
  ck_assert_ptr_nonnull(d);
  snprintf(path, sizeof path, FIX "dictcorpus.%s", side1);
  count_file(d, path);
  if (side2) {
    snprintf(path, sizeof path, FIX "dictcorpus.%s", side2);
    count_file(d, path);
  }
  ck_assert_msg(ef_dict_finalize(d, threshold, nwords, pad, err, sizeof err) == 0, "%s", err);
  snprintf(path, sizeof path, FIX "dictcorpus.dict.%s.txt", name);
  size_t want_len, got_len;
  char *want = slurp(path, &want_len);
  char *got = ef_dict_serialize(d, &got_len);
  ck_assert_msg(got_len == want_len && !memcmp(got, want, want_len),
                "case %s: dictionary differs from fairseq's:\n--- got\n%.*s--- want\n%s", name,
                (int)got_len, got, want);
  if (pad > 1) ck_assert_int_eq(ef_dict_size(d) % pad, 0);
  char hex[65], hex2[65];
  ck_assert_int_eq(ef_dict_checksum(d, hex), 0);
  ef_sha256_hex(want, want_len, hex2);
  ck_assert_str_eq(hex, hex2);
  free(got);
  free(want);
  ef_dict_free(d);
}

START_TEST(test_sha256_known_vectors) {
  char hex[65];
  ef_sha256_hex("", 0, hex);
  ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ef_sha256_hex("abc", 3, hex);
  ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  ef_sha256_hex(two, strlen(two), hex);
  ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  char *mil = malloc(1000000);
  memset(mil, 'a', 1000000);
  ef_sha256_hex(mil, 1000000, hex);
  ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(mil);
}
END_TEST

START_TEST(test_specials_are_fairseq_ids_0_to_3) {
  ef_dict *d = ef_dict_new();
  ck_assert_int_eq(ef_dict_size(d), 4);
  ck_assert_str_eq(ef_dict_symbol(d, 0), "<s>");
  ck_assert_str_eq(ef_dict_symbol(d, 1), "<pad>");
  ck_assert_str_eq(ef_dict_symbol(d, 2), "</s>");
  ck_assert_str_eq(ef_dict_symbol(d, 3), "<unk>");
  ck_assert_ptr_null(ef_dict_symbol(d, 4));
  ck_assert_int_eq(ef_dict_index(d, "</s>", 4), EF_DICT_EOS);
  ck_assert_int_eq(ef_dict_index(d, "<pad>", 5), EF_DICT_PAD);
  ck_assert_int_eq(ef_dict_index(d, "nope", 4), EF_DICT_UNK);
  size_t len;
  char *s = ef_dict_serialize(d, &len);
  ck_assert_uint_eq(len, 0); /* specials are never written */
  free(s);
  int32_t ids[8];
  int unk = -1;
  ck_assert_int_eq(ef_dict_encode_line(d, "a <unk> b", 9, ids, 8, &unk, NULL, 0), 4);
  ck_assert_int_eq(ids[0], 3);
  ck_assert_int_eq(ids[1], 3);
  ck_assert_int_eq(ids[3], 2);
  ck_assert_int_eq(unk, 2); /* a literal <unk> is not "replaced" */
  ck_assert_int_eq(ef_dict_encode_line(d, "a b c", 5, ids, 3, &unk, NULL, 0), -1);
  ef_dict_free(d);
}
END_TEST

START_TEST(test_build_matches_fairseq_default) { check_case("src", "src", NULL, 0, -1, 8); }
END_TEST
START_TEST(test_build_matches_fairseq_tgt) { check_case("tgt", "tgt", NULL, 0, -1, 8); }
END_TEST
START_TEST(test_build_matches_fairseq_threshold) {
  check_case("src_threshold3", "src", NULL, 3, -1, 8);
}
END_TEST
START_TEST(test_build_matches_fairseq_nwords) { check_case("src_nwords12", "src", NULL, 0, 12, 8); }
END_TEST
START_TEST(test_build_matches_fairseq_no_padding) {
  check_case("src_nopad", "src", NULL, 0, -1, 1);
}
END_TEST
START_TEST(test_build_matches_fairseq_joined) { check_case("joined", "src", "tgt", 0, -1, 8); }
END_TEST
START_TEST(test_build_matches_fairseq_joined_threshold_nwords) {
  check_case("joined_threshold2_nwords20", "src", "tgt", 2, 20, 8);
}
END_TEST

static void check_encoding(const char *dictname, const char *side, const char *encname) {
  char path[512], err[256];
  snprintf(path, sizeof path, FIX "dictcorpus.dict.%s.txt", dictname);
  ef_dict *d;
  ck_assert_msg(ef_dict_load(path, &d, err, sizeof err) == 0, "%s", err);
  size_t tlen, elen;
  snprintf(path, sizeof path, FIX "dictcorpus.%s", side);
  char *text = slurp(path, &tlen);
  snprintf(path, sizeof path, FIX "dictcorpus.enc.%s.txt", encname);
  char *enc = slurp(path, &elen);
  char *tp = text, *ep = enc, *save = NULL;
  int lines = 0;
  for (char *eline = strtok_r(ep, "\n", &save); eline; eline = strtok_r(NULL, "\n", &save)) {
    char *nl = strchr(tp, '\n');
    ck_assert_ptr_nonnull(nl);
    int32_t ids[MAX_IDS];
    int unk = -1;
    int n = ef_dict_encode_line(d, tp, (size_t)(nl - tp), ids, MAX_IDS, &unk, err, sizeof err);
    ck_assert_msg(n > 0, "%s", err);
    char *cur = eline;
    for (int i = 0; i < n; i++) {
      char *next;
      long want = strtol(cur, &next, 10);
      ck_assert_msg(next != cur, "line %d: fairseq has fewer ids than %d", lines + 1, n);
      ck_assert_msg(ids[i] == want, "line %d id %d: got %d want %ld", lines + 1, i, ids[i], want);
      cur = next;
    }
    ck_assert_msg(*cur == '\t', "line %d: fairseq has more ids than %d", lines + 1, n);
    ck_assert_int_eq(unk, atoi(cur + 1));
    tp = nl + 1;
    lines++;
  }
  ck_assert_int_eq(lines, 40);
  free(text);
  free(enc);
  ef_dict_free(d);
}

START_TEST(test_encode_line_matches_fairseq) {
  check_encoding("src", "src", "src");
  check_encoding("tgt", "tgt", "tgt");
  check_encoding("src_threshold3", "tgt", "tgt_by_src_threshold3");
}
END_TEST

START_TEST(test_load_save_round_trip_is_byte_exact) {
  const char *names[] = {"src", "joined", "src_nwords12"};
  char dir[] = "/tmp/ef_dict_XXXXXX", out[600], path[512], err[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  for (int k = 0; k < 3; k++) {
    snprintf(path, sizeof path, FIX "dictcorpus.dict.%s.txt", names[k]);
    ef_dict *d;
    ck_assert_msg(ef_dict_load(path, &d, err, sizeof err) == 0, "%s", err);
    snprintf(out, sizeof out, "%s/dict.txt", dir);
    ck_assert_msg(ef_dict_save(d, out, err, sizeof err) == 0, "%s", err);
    size_t a, b;
    char *x = slurp(path, &a), *y = slurp(out, &b);
    ck_assert_uint_eq(a, b);
    ck_assert_int_eq(memcmp(x, y, a), 0);
    char h1[65], h2[65];
    ck_assert_int_eq(ef_sha256_file(out, h1, err, sizeof err), 0);
    ck_assert_int_eq(ef_dict_checksum(d, h2), 0);
    ck_assert_str_eq(h1, h2);
    free(x);
    free(y);
    ef_dict_free(d);
  }
  remove(out);
  rmdir(dir);
}
END_TEST

START_TEST(test_load_fairseq_line_rules) {
  /* Symbols may hold spaces (split at the last one); CRLF and trailing blanks are fine. */
  const char *text = "hello world 5\r\nx 7   \nneg -2\n";
  ef_dict *d;
  char err[256];
  ck_assert_msg(ef_dict_load_memory(text, strlen(text), "t.txt", &d, err, sizeof err) == 0, "%s",
                err);
  ck_assert_int_eq(ef_dict_size(d), 7);
  ck_assert_str_eq(ef_dict_symbol(d, 4), "hello world");
  ck_assert_int_eq(ef_dict_count(d, 4), 5);
  ck_assert_int_eq(ef_dict_index(d, "x", 1), 5);
  ck_assert_int_eq(ef_dict_count(d, 6), -2);
  ef_dict_free(d);
}
END_TEST

START_TEST(test_overwrite_flag_appends_and_round_trips) {
  const char *text = "a 3\n<unk> 1 #fairseq:overwrite\nb 2\n";
  ef_dict *d;
  char err[256];
  ck_assert_msg(ef_dict_load_memory(text, strlen(text), "o.txt", &d, err, sizeof err) == 0, "%s",
                err);
  ck_assert_int_eq(ef_dict_size(d), 7);
  ck_assert_int_eq(ef_dict_index(d, "<unk>", 5), 5); /* lookups answer the new id */
  ck_assert_str_eq(ef_dict_symbol(d, 3), "<unk>");
  size_t len;
  char *s = ef_dict_serialize(d, &len);
  ck_assert_uint_eq(len, strlen(text));
  ck_assert_int_eq(memcmp(s, text, len), 0);
  free(s);
  ef_dict_free(d);
}
END_TEST

static void expect_load_error(const char *text, const char *want) {
  ef_dict *d = (ef_dict *)1;
  char err[256] = "";
  ck_assert_int_ne(ef_dict_load_memory(text, strlen(text), "bad.txt", &d, err, sizeof err), 0);
  ck_assert_ptr_null(d);
  ck_assert_msg(strstr(err, want) != NULL, "message '%s' lacks '%s'", err, want);
}

START_TEST(test_malformed_dictionaries_are_rejected_with_line_numbers) {
  expect_load_error("a 1\na 2\n", "bad.txt:2: duplicate symbol 'a'");
  expect_load_error("a 1\n<unk> 2\n", "bad.txt:2: duplicate symbol '<unk>'");
  expect_load_error("a 1\nb x\n", "bad.txt:2: expected '<symbol> <count>");
  expect_load_error("a 1\n\nb 2\n", "bad.txt:2: expected");
  expect_load_error("nospace\n", "bad.txt:1: expected");
  expect_load_error("a #fairseq:overwrite\n", "bad.txt:1: expected"); /* no count left */
  expect_load_error("a\t1\n", "bad.txt:1: expected");
  expect_load_error("\xff 1\n", "bad.txt: not valid UTF-8");
  expect_load_error("a 99999999999999999999\n", "bad.txt:1: expected");
  ef_dict *d;
  char err[256];
  ck_assert_int_ne(ef_dict_load("/nonexistent/dict.txt", &d, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dict.txt: cannot open"));
}
END_TEST

START_TEST(test_python_whitespace_splits_tokens) {
  const char *line = "a\xc2\xa0"
                     "b\xe3\x80\x80"
                     "c\x1f"
                     "d\te \xe2\x80\x83"
                     "f\xe2\x80\x8b"
                     "g";
  /* NBSP, ideographic space, \x1f, tab, em space split; zero-width space U+200B does not. */
  ck_assert_int_eq(ef_dict_count_tokens(line, strlen(line)), 6);
  ck_assert_int_eq(ef_dict_count_tokens("", 0), 0);
  ck_assert_int_eq(ef_dict_count_tokens("  \t ", 4), 0);
}
END_TEST

START_TEST(test_hash_lookup_survives_growth) {
  ef_dict *d = ef_dict_new();
  char sym[32], err[256];
  for (int i = 0; i < 50000; i++) {
    int n = snprintf(sym, sizeof sym, "w%d", i);
    ck_assert_int_eq(ef_dict_add(d, sym, (size_t)n, i, 0, err, sizeof err), 4 + i);
  }
  for (int i = 0; i < 50000; i += 7) {
    int n = snprintf(sym, sizeof sym, "w%d", i);
    ck_assert_int_eq(ef_dict_index(d, sym, (size_t)n), 4 + i);
    ck_assert_int_eq(ef_dict_count(d, 4 + i), i);
  }
  ck_assert_int_eq(ef_dict_add(d, "", 0, 1, 0, err, sizeof err), -1);
  ck_assert_int_eq(ef_dict_add(d, "a\nb", 3, 1, 0, err, sizeof err), -1);
  ef_dict_free(d);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dictionary");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_sha256_known_vectors);
  tcase_add_test(tc, test_specials_are_fairseq_ids_0_to_3);
  tcase_add_test(tc, test_build_matches_fairseq_default);
  tcase_add_test(tc, test_build_matches_fairseq_tgt);
  tcase_add_test(tc, test_build_matches_fairseq_threshold);
  tcase_add_test(tc, test_build_matches_fairseq_nwords);
  tcase_add_test(tc, test_build_matches_fairseq_no_padding);
  tcase_add_test(tc, test_build_matches_fairseq_joined);
  tcase_add_test(tc, test_build_matches_fairseq_joined_threshold_nwords);
  tcase_add_test(tc, test_encode_line_matches_fairseq);
  tcase_add_test(tc, test_load_save_round_trip_is_byte_exact);
  tcase_add_test(tc, test_load_fairseq_line_rules);
  tcase_add_test(tc, test_overwrite_flag_appends_and_round_trips);
  tcase_add_test(tc, test_malformed_dictionaries_are_rejected_with_line_numbers);
  tcase_add_test(tc, test_python_whitespace_splits_tokens);
  tcase_add_test(tc, test_hash_lookup_survives_growth);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
