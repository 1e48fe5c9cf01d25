/* tests/runtime/test_spm.c: the SentencePiece tokenizer (runtime/spm.h) against Python
 * sentencepiece 0.1.97 on the fixtures of tests/reference/spm_fixtures.py (every line, every
 * model: pieces, ids, decode of ids and of pieces), plus malformed models that must fail with a
 * message and never crash, and the error paths of the API.
 * It must never pass when a value differs: every mismatch is counted and fails the test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spm.h"

#define FIX EF_FIXTURES "/spm/"
#define MAX_SHOWN 5 /* mismatches printed per model before only counting */
#define ERRLEN 512

/* model name, lines of lines.txt it is checked on */
static const struct {
  const char *name;
  int lines;
} MODELS[] = {{"uni2k_nfkc", 1995},       {"uni8k_nfkc", 1995},
              {"bpe8k_nfkc", 1995},       {"uni8k_identity", 1995},
              {"uni4k_bytes_user", 1995}, {"bpe4k_bytes_user_suffix", 1995},
              {"word2k_identity", 250},   {"char_identity", 250}};
#define NMODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

/* ---- fixture files ---- */

typedef struct lines {
  char *buf;
  char **line;
  size_t *len;
  int n;
} lines;

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open fixture %s (run tests/reference/spm_fixtures.py)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ck_assert(b != NULL);
  ck_assert_int_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  b[n] = 0;
  *len = (size_t)n;
  return b;
}

static lines read_lines(const char *path) {
  lines L = {0};
  size_t len;
  L.buf = read_file(path, &len);
  int cap = 1024;
  L.line = malloc(cap * sizeof *L.line);
  L.len = malloc(cap * sizeof *L.len);
  for (size_t i = 0; i < len;) {
    char *nl = memchr(L.buf + i, '\n', len - i);
    size_t e = nl ? (size_t)(nl - L.buf) : len;
    if (L.n == cap) {
      cap *= 2;
      L.line = realloc(L.line, cap * sizeof *L.line);
      L.len = realloc(L.len, cap * sizeof *L.len);
    }
    L.buf[e] = 0;
    L.line[L.n] = L.buf + i;
    L.len[L.n++] = e - i;
    i = e + 1;
  }
  return L;
}

static void free_lines(lines *L) {
  free(L->buf);
  free(L->line);
  free(L->len);
}

static char *fix_path(char *dst, size_t cap, const char *model, const char *ext) {
  snprintf(dst, cap, FIX "%s%s", model, ext);
  return dst;
}

/* Undoes the escaping of the .decode files (\\ \t \n) in place. */
static void unescape(char *s) {
  char *o = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
}

static int parse_ids(const char *s, int *ids, int cap) {
  int n = 0;
  while (*s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s) break;
    ck_assert_int_lt(n, cap);
    ids[n++] = (int)v;
    s = end;
  }
  return n;
}

/* ---- parity ---- */

static void check_model(const char *name, int nlines) {
  char path[512], err[ERRLEN];
  rt_spm *m = NULL;
  int rc = rt_spm_load(fix_path(path, sizeof path, name, ".model"), &m, err, sizeof err);
  ck_assert_msg(rc == 0, "load %s: %s", name, err);
  lines in = read_lines(FIX "lines.txt");
  lines pieces = read_lines(fix_path(path, sizeof path, name, ".pieces"));
  lines ids = read_lines(fix_path(path, sizeof path, name, ".ids"));
  lines dec = read_lines(fix_path(path, sizeof path, name, ".decode"));
  ck_assert_int_eq(in.n, 1995);
  ck_assert_int_eq(pieces.n, nlines);
  ck_assert_int_eq(ids.n, nlines < 500 ? nlines : 500);
  in.n = nlines;
  /* expected decodes: the input line unless listed in .decode */
  char **dec_ids = calloc(in.n, sizeof *dec_ids), **dec_pcs = calloc(in.n, sizeof *dec_pcs);
  for (int i = 0; i < dec.n; i++) {
    char *t1 = strchr(dec.line[i], '\t');
    ck_assert(t1 != NULL);
    char *t2 = strchr(t1 + 1, '\t');
    ck_assert(t2 != NULL);
    *t1 = *t2 = 0;
    int k = atoi(dec.line[i]);
    ck_assert(k >= 0 && k < in.n);
    unescape(t1 + 1);
    dec_ids[k] = t1 + 1;
    if (strcmp(t2 + 1, "=") == 0) {
      dec_pcs[k] = t1 + 1;
    } else {
      unescape(t2 + 1);
      dec_pcs[k] = t2 + 1;
    }
  }
  int bad_pieces = 0, bad_ids = 0, bad_dec_ids = 0, bad_dec_pcs = 0, checked_ids = 0;
  size_t pcap = 1 << 20;
  char *out = malloc(pcap);
  int *got = malloc(sizeof(int) * (1 << 18)), *want = malloc(sizeof(int) * (1 << 18));
  for (int i = 0; i < in.n; i++) {
    int np = rt_spm_encode_pieces(m, in.line[i], in.len[i], out, pcap, err, sizeof err);
    ck_assert_msg(np >= 0, "%s line %d: %s", name, i, err);
    if (strcmp(out, pieces.line[i]) != 0 && bad_pieces++ < MAX_SHOWN)
      fprintf(stderr, "%s line %d pieces differ\n  text: %s\n  want: %s\n  got:  %s\n", name, i,
              in.line[i], pieces.line[i], out);
    int ng = rt_spm_encode_ids(m, in.line[i], in.len[i], got, 1 << 18, err, sizeof err);
    ck_assert_msg(ng == np, "%s line %d: %d ids but %d pieces (%s)", name, i, ng, np, err);
    int nw;
    if (i < ids.n) {
      nw = parse_ids(ids.line[i], want, 1 << 18);
    } else { /* ids follow from the pieces (checked when the fixtures were made) */
      nw = 0;
      char *copy = strdup(pieces.line[i]), *save = NULL;
      for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        want[nw++] = rt_spm_piece_to_id(m, t);
      free(copy);
    }
    checked_ids++;
    if ((nw != ng || memcmp(got, want, sizeof(int) * (size_t)ng) != 0) && bad_ids++ < MAX_SHOWN)
      fprintf(stderr, "%s line %d ids differ (%d vs %d ids)\n", name, i, ng, nw);
    const char *expect_ids = dec_ids[i] ? dec_ids[i] : in.line[i];
    const char *expect_pcs = dec_pcs[i] ? dec_pcs[i] : in.line[i];
    int nd = rt_spm_decode_ids_err(m, want, nw, out, pcap, err, sizeof err);
    ck_assert_msg(nd >= 0, "%s line %d decode: %s", name, i, err);
    if (strcmp(out, expect_ids) != 0 && bad_dec_ids++ < MAX_SHOWN)
      fprintf(stderr, "%s line %d decode(ids) differs\n  want: [%s]\n  got:  [%s]\n", name, i,
              expect_ids, out);
    nd = rt_spm_decode_pieces(m, pieces.line[i], out, pcap);
    ck_assert_int_ge(nd, 0);
    if (strcmp(out, expect_pcs) != 0 && bad_dec_pcs++ < MAX_SHOWN)
      fprintf(stderr, "%s line %d decode(pieces) differs\n  want: [%s]\n  got:  [%s]\n", name, i,
              expect_pcs, out);
  }
  fprintf(stderr, "%s: %d lines: %d piece, %d id, %d decode(ids), %d decode(pieces) mismatches\n",
          name, in.n, bad_pieces, bad_ids, bad_dec_ids, bad_dec_pcs);
  ck_assert_int_eq(checked_ids, in.n);
  ck_assert_int_eq(bad_pieces, 0);
  ck_assert_int_eq(bad_ids, 0);
  ck_assert_int_eq(bad_dec_ids, 0);
  ck_assert_int_eq(bad_dec_pcs, 0);
  free(out);
  free(got);
  free(want);
  free(dec_ids);
  free(dec_pcs);
  free_lines(&in);
  free_lines(&pieces);
  free_lines(&ids);
  free_lines(&dec);
  rt_spm_free(m);
}

START_TEST(test_parity_with_python_sentencepiece) {
  check_model(MODELS[_i].name, MODELS[_i].lines);
}
END_TEST

/* ---- API behaviour ---- */

static rt_spm *load(const char *name) {
  char path[512], err[ERRLEN];
  rt_spm *m = NULL;
  ck_assert_msg(rt_spm_load(fix_path(path, sizeof path, name, ".model"), &m, err, sizeof err) == 0,
                "%s", err);
  return m;
}

START_TEST(test_special_ids_and_vocab_queries) {
  rt_spm *m = load("uni4k_bytes_user");
  ck_assert_int_eq(rt_spm_vocab_size(m), 4000);
  ck_assert_int_eq(rt_spm_algorithm(m), RT_SPM_UNIGRAM);
  ck_assert_int_eq(rt_spm_unk_id(m), 0);
  ck_assert_int_eq(rt_spm_bos_id(m), 1);
  ck_assert_int_eq(rt_spm_eos_id(m), 2);
  ck_assert_int_eq(rt_spm_pad_id(m), 3);
  ck_assert_str_eq(rt_spm_id_to_piece(m, 0), "<unk>");
  ck_assert_str_eq(rt_spm_id_to_piece(m, 2), "</s>");
  ck_assert_ptr_null(rt_spm_id_to_piece(m, 4000));
  ck_assert_ptr_null(rt_spm_id_to_piece(m, -1));
  ck_assert_int_eq(rt_spm_piece_to_id(m, "definitely-not-a-piece"), 0);
  int ctl = rt_spm_piece_to_id(m, "<ctl>");
  ck_assert_int_eq(rt_spm_piece_kind(m, ctl), RT_SPM_CONTROL);
  ck_assert_int_eq(rt_spm_piece_kind(m, rt_spm_piece_to_id(m, "<sep>")), RT_SPM_USER_DEFINED);
  ck_assert_int_eq(rt_spm_piece_kind(m, rt_spm_piece_to_id(m, "<0x41>")), RT_SPM_BYTE);
  for (int id = 0; id < rt_spm_vocab_size(m); id++)
    ck_assert_int_eq(rt_spm_piece_to_id(m, rt_spm_id_to_piece(m, id)), id);
  /* control ids decode to nothing; <unk> to " \u2047 " */
  int hello[8], n;
  char err[ERRLEN], out[256];
  n = rt_spm_encode_ids(m, "Hello", 5, hello + 1, 6, err, sizeof err);
  ck_assert_int_gt(n, 0);
  hello[0] = 1;
  hello[n + 1] = ctl;
  hello[n + 2] = 2;
  ck_assert_int_eq(rt_spm_decode_ids(m, hello, n + 3, out, sizeof out), 5);
  ck_assert_str_eq(out, "Hello");
  int unk[2] = {0, rt_spm_piece_to_id(m, "\xe2\x96\x81the")};
  ck_assert_int_ge(rt_spm_decode_ids(m, unk, 2, out, sizeof out), 0);
  ck_assert_str_eq(out, " \xe2\x81\x87  the");
  rt_spm_free(m);
}
END_TEST

START_TEST(test_errors_are_reported_not_truncated) {
  rt_spm *m = load("uni8k_nfkc");
  char err[ERRLEN], out[16];
  int ids[4];
  const char *text = "this sentence has more than four pieces for sure";
  ck_assert_int_eq(rt_spm_encode_ids(m, text, strlen(text), ids, 4, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "needs"));
  ck_assert_int_eq(rt_spm_encode_pieces(m, text, strlen(text), out, sizeof out, err, sizeof err),
                   -1);
  ck_assert_ptr_nonnull(strstr(err, "bytes"));
  ck_assert_int_eq(rt_spm_encode_ids(m,
                                     "ab\xff"
                                     "cd",
                                     5, ids, 4, err, sizeof err),
                   -1);
  ck_assert_ptr_nonnull(strstr(err, "invalid UTF-8 at byte 2"));
  ck_assert_int_eq(rt_spm_encode_ids(m, "\xed\xa0\x80", 3, ids, 4, err, sizeof err), -1);
  ck_assert_int_eq(rt_spm_encode_ids(m, "\xc0\xaf", 2, ids, 4, err, sizeof err), -1);
  ck_assert_int_eq(rt_spm_encode_ids(m, "\xe2\x96", 2, ids, 4, err, sizeof err), -1);
  int bad[2] = {5, 8000};
  ck_assert_int_eq(rt_spm_decode_ids_err(m, bad, 2, out, sizeof out, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "out of range"));
  int many[20];
  int n = rt_spm_encode_ids(m, text, strlen(text), many, 20, err, sizeof err);
  ck_assert_int_gt(n, 4);
  ck_assert_int_eq(rt_spm_decode_ids(m, many, n, out, sizeof out), -1);
  char *big = NULL;
  ck_assert_int_eq(rt_spm_decode_ids_alloc(m, many, n, &big, err, sizeof err), (int)strlen(text));
  ck_assert_str_eq(big, text);
  free(big);
  /* U+0000 is valid UTF-8 and becomes its own (unknown) piece, as in sentencepiece */
  char *pcs = NULL;
  size_t plen = 0;
  ck_assert_int_eq(rt_spm_encode_pieces_alloc(m, "a\0b c", 5, &pcs, &plen, err, sizeof err), 4);
  ck_assert_uint_eq(plen, 13);
  ck_assert_int_eq(memcmp(pcs,
                          "\xe2\x96\x81"
                          "a \0 b \xe2\x96\x81"
                          "c",
                          14),
                   0);
  free(pcs);
  ck_assert_int_eq(rt_spm_encode_ids(m, "", 0, ids, 0, err, sizeof err), 0);
  ck_assert_int_eq(rt_spm_encode_pieces(m, "   ", 3, out, 1, err, sizeof err), 0);
  ck_assert_str_eq(out, "");
  rt_spm_free(m);
}
END_TEST

START_TEST(test_byte_fallback_roundtrip) {
  rt_spm *m = load("uni4k_bytes_user");
  char err[ERRLEN], *pieces = NULL, *back = NULL;
  const char *text = "\xe6\x97\xa5\xe6\x9c\xac"; /* not in the vocabulary: 6 byte pieces */
  ck_assert_int_eq(
      rt_spm_encode_pieces_alloc(m, text, strlen(text), &pieces, NULL, err, sizeof err), 7);
  ck_assert_str_eq(pieces, "\xe2\x96\x81 <0xE6> <0x97> <0xA5> <0xE6> <0x9C> <0xAC>");
  ck_assert_int_eq(rt_spm_decode_pieces_alloc(m, pieces, strlen(pieces), &back, err, sizeof err),
                   6);
  ck_assert_str_eq(back, text);
  free(back);
  /* a broken byte sequence decodes to U+FFFD per invalid byte */
  ck_assert_int_eq(rt_spm_decode_pieces_alloc(m, "<0xE6> <0x97> a", 15, &back, err, sizeof err), 7);
  ck_assert_str_eq(back, "\xef\xbf\xbd\xef\xbf\xbd"
                         "a");
  free(back);
  free(pieces);
  rt_spm_free(m);
}
END_TEST

/* ---- malformed models ---- */

static char *model_bytes(const char *name, size_t *len) {
  char path[512];
  return read_file(fix_path(path, sizeof path, name, ".model"), len);
}

static int try_load(const void *buf, size_t len, char *err) {
  rt_spm *m = NULL;
  int rc = rt_spm_load_memory(buf, len, "bad.model", &m, err, ERRLEN);
  if (rc == 0) {
    ck_assert_ptr_nonnull(m);
    /* whatever loaded must also encode without crashing */
    char out[4096], e2[ERRLEN];
    const char *t = "Ein kleiner Test, 123 \xc3\xa4\xc3\xb6 \xef\xbc\xa1 fin.";
    rt_spm_encode_pieces(m, t, strlen(t), out, sizeof out, e2, sizeof e2);
    rt_spm_free(m);
  } else {
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(err, "bad.model: ", 11) == 0 && strlen(err) > 14,
                  "message must name the file: '%s'", err);
  }
  return rc;
}

START_TEST(test_truncated_models_fail_cleanly) {
  size_t len;
  char *buf = model_bytes("uni2k_nfkc", &len), err[ERRLEN];
  int failed = 0, tried = 0;
  /* every prefix in the first pieces, then a stride through the file */
  for (size_t cut = 0; cut < len; cut += cut < 400 ? 1 : 997) {
    tried++;
    failed += try_load(buf, cut, err) != 0;
  }
  ck_assert_int_gt(failed, tried * 9 / 10);
  ck_assert_int_ne(try_load(buf, len - 1, err), 0); /* cut inside the normalizer charsmap */
  ck_assert_int_ne(try_load(buf, 5, err), 0);
  ck_assert_ptr_nonnull(strstr(err, "runs past the end"));
  ck_assert_int_eq(try_load(buf, len, err), 0);
  free(buf);
}
END_TEST

START_TEST(test_corrupt_fields_fail_cleanly) {
  char err[ERRLEN];
  /* bad varint: 11 continuation bytes */
  unsigned char v[12];
  v[0] = 0x08; /* field 1, varint */
  memset(v + 1, 0xff, 11);
  ck_assert_int_ne(try_load(v, sizeof v, err), 0);
  ck_assert_ptr_nonnull(strstr(err, "bad varint"));
  /* length-delimited field claiming more bytes than there are */
  unsigned char l[] = {0x0a, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0x01};
  ck_assert_int_ne(try_load(l, sizeof l, err), 0);
  ck_assert_ptr_nonnull(strstr(err, "runs past the end"));
  /* a piece with a wrong wire type for its score */
  unsigned char w[] = {0x0a, 0x05, 0x0a, 0x01, 'a', 0x10, 0x01};
  ck_assert_int_ne(try_load(w, sizeof w, err), 0);
  ck_assert_ptr_nonnull(strstr(err, "wire type"));
  /* groups are not supported */
  unsigned char g[] = {0x0b, 0x0c};
  ck_assert_int_ne(try_load(g, sizeof g, err), 0);
  /* no UNKNOWN piece */
  unsigned char nu[] = {0x0a, 0x03, 0x0a, 0x01, 'a'};
  ck_assert_int_ne(try_load(nu, sizeof nu, err), 0);
  ck_assert_ptr_nonnull(strstr(err, "UNKNOWN"));
  /* empty file, not a model */
  ck_assert_int_ne(try_load("", 0, err), 0);
  ck_assert_int_ne(try_load("hello world, not protobuf", 25, err), 0);
  /* missing file */
  rt_spm *m = NULL;
  ck_assert_int_ne(rt_spm_load(FIX "does-not-exist.model", &m, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "does-not-exist.model: cannot open"));
}
END_TEST

START_TEST(test_flipped_bytes_never_crash) {
  size_t len;
  char *buf = model_bytes("uni2k_nfkc", &len), err[ERRLEN];
  char *copy = malloc(len);
  unsigned seed = 12345;
  int loaded = 0;
  for (int trial = 0; trial < 300; trial++) {
    memcpy(copy, buf, len);
    for (int k = 0; k < 4; k++) {
      seed = seed * 1103515245u + 12345u;
      size_t at = (seed >> 4) % len;
      /* half the trials aim at the charsmap (the end of the file) */
      if (trial % 2) at = len - 1 - (at % (len / 2));
      copy[at] ^= (char)(1u << (seed >> 28 & 7));
    }
    loaded += try_load(copy, len, err) == 0;
  }
  ck_assert_int_ge(loaded, 0);
  free(copy);
  free(buf);
}
END_TEST

static Suite *spm_suite(void) {
  Suite *s = suite_create("spm");
  TCase *p = tcase_create("parity");
  tcase_set_timeout(p, 600);
  tcase_add_loop_test(p, test_parity_with_python_sentencepiece, 0, NMODELS);
  suite_add_tcase(s, p);
  TCase *a = tcase_create("api");
  tcase_add_test(a, test_special_ids_and_vocab_queries);
  tcase_add_test(a, test_errors_are_reported_not_truncated);
  tcase_add_test(a, test_byte_fallback_roundtrip);
  suite_add_tcase(s, a);
  TCase *b = tcase_create("malformed");
  tcase_set_timeout(b, 600);
  tcase_add_test(b, test_truncated_models_fail_cleanly);
  tcase_add_test(b, test_corrupt_fields_fail_cleanly);
  tcase_add_test(b, test_flipped_bytes_never_crash);
  suite_add_tcase(s, b);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(spm_suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
