/* tests/runtime/test_spm_parity10k.c: the SentencePiece tokenizer (runtime/spm.h) against Python
 * sentencepiece 0.1.97 on 10,000 distinct real lines (English, Spanish and German Bible verses,
 * German gettext messages, FreeDict entries, fortunes) for six committed models: ids, pieces,
 * decode(ids) and decode(pieces) of every line, compared through the CRC-32s stored in
 * tests/fixtures/spm/parity10k.gz (written by tests/reference/spm_parity10k.py; format in its
 * docstring). The text fixture test_spm.c uses is separate; these lines are all new.
 * It must never pass when a value differs: every mismatch is counted and fails the test.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "runtime/spm.h"

#define FIX EF_FIXTURES "/spm/"
#define FIXTURE FIX "parity10k.gz"
#define EXPECT_LINES 10000            /* rows the fixture must hold */
#define EXPECT_MODELS 6               /* model columns the fixture must hold */
#define MAX_MODELS 16                 /* model columns the parser accepts */
#define FIELDS_PER_MODEL 5            /* nids, crc(ids), crc(pieces), decode(ids), decode(pieces) */
#define MAX_FIXTURE_BYTES (64u << 20) /* decompressed size accepted */
#define MAX_SHOWN 5                   /* mismatches printed per model before only counting */
#define ERRLEN 512

typedef struct fixture {
  char *buf; /* decompressed file, split in place */
  int nmodels, nrows;
  char *model[MAX_MODELS]; /* model names (point into buf) */
  char **row;              /* nrows rows, each 1 + nmodels * FIELDS_PER_MODEL fields */
} fixture;

static char *gunzip_file(const char *path) {
  gzFile g = gzopen(path, "rb");
  ck_assert_msg(g != NULL, "cannot open %s (run tests/reference/spm_parity10k.py)", path);
  size_t cap = 1 << 22, len = 0;
  char *b = malloc(cap + 1);
  ck_assert(b != NULL);
  for (;;) {
    if (len == cap) {
      ck_assert_msg(cap < MAX_FIXTURE_BYTES, "%s: more than %u bytes decompressed", path,
                    MAX_FIXTURE_BYTES);
      cap *= 2;
      b = realloc(b, cap + 1);
      ck_assert(b != NULL);
    }
    int n = gzread(g, b + len, (unsigned)(cap - len));
    ck_assert_msg(n >= 0, "%s: corrupt gzip data", path);
    if (n == 0) break;
    len += (size_t)n;
  }
  gzclose(g);
  b[len] = 0;
  return b;
}

/* Splits s on sep in place into at most max fields; returns the count. */
static int split(char *s, char sep, char **f, int max) {
  int n = 0;
  for (;;) {
    ck_assert_msg(n < max, "fixture row has more than %d fields", max);
    f[n++] = s;
    char *e = strchr(s, sep);
    if (!e) return n;
    *e = 0;
    s = e + 1;
  }
}

static fixture read_fixture(void) {
  fixture F = {0};
  F.buf = gunzip_file(FIXTURE);
  int cap = 1 << 14;
  F.row = malloc(cap * sizeof *F.row);
  ck_assert(F.row != NULL);
  char *s = F.buf;
  while (*s) {
    char *nl = strchr(s, '\n');
    ck_assert_msg(nl != NULL, "%s: last line has no newline", FIXTURE);
    *nl = 0;
    if (F.nmodels == 0 && s[0] == '#') {
      /* comment (only before the models row: input lines may start with '#') */
    } else if (F.nmodels == 0 && strncmp(s, "models\t", 7) == 0) {
      char *f[MAX_MODELS + 1];
      int n = split(s, '\t', f, MAX_MODELS + 1);
      F.nmodels = n - 1;
      for (int i = 0; i < F.nmodels; i++) F.model[i] = f[i + 1];
    } else {
      ck_assert_msg(F.nmodels > 0, "%s: data row before the models row", FIXTURE);
      if (F.nrows == cap) {
        cap *= 2;
        F.row = realloc(F.row, cap * sizeof *F.row);
        ck_assert(F.row != NULL);
      }
      F.row[F.nrows++] = s;
    }
    s = nl + 1;
  }
  return F;
}

/* Undoes the escaping of the input column (\\ \t \n) in place; returns the length. */
static size_t unescape(char *s) {
  char *o = s, *start = s;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
  return (size_t)(o - start);
}

static uint32_t crc_bytes(const void *p, size_t n) {
  return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

/* crc32 of ids as little-endian int32s, independent of the host's byte order */
static uint32_t crc_ids(const int *ids, int n) {
  unsigned char *b = malloc(4 * (size_t)n + 1);
  ck_assert(b != NULL);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 4; k++) b[4 * i + k] = (unsigned char)((uint32_t)ids[i] >> (8 * k));
  uint32_t c = crc_bytes(b, 4 * (size_t)n);
  free(b);
  return c;
}

static uint32_t parse_crc(const char *s) {
  char *end;
  unsigned long v = strtoul(s, &end, 16);
  ck_assert_msg(end != s && *end == 0 && strlen(s) == 8, "bad CRC field '%s'", s);
  return (uint32_t)v;
}

/* decoded text equals the input ("=") or has the CRC given */
static int decode_matches(const char *field, const char *got, size_t got_len, const char *same,
                          size_t same_len) {
  if (strcmp(field, "=") == 0) return got_len == same_len && memcmp(got, same, got_len) == 0;
  return crc_bytes(got, got_len) == parse_crc(field);
}

static void check_model(fixture *F, int col) {
  const char *name = F->model[col];
  char path[512], err[ERRLEN];
  snprintf(path, sizeof path, FIX "%s.model", name);
  rt_spm *m = NULL;
  ck_assert_msg(rt_spm_load(path, &m, err, sizeof err) == 0, "load %s: %s", name, err);
  int bad_ids = 0, bad_pieces = 0, bad_dec_ids = 0, bad_dec_pcs = 0, checked = 0;
  for (int r = 0; r < F->nrows; r++) {
    /* split a copy: the row is shared by every model's check */
    char *copy = strdup(F->row[r]), *f[1 + MAX_MODELS * FIELDS_PER_MODEL];
    ck_assert(copy != NULL);
    int nf = split(copy, '\t', f, 1 + MAX_MODELS * FIELDS_PER_MODEL);
    ck_assert_msg(nf == 1 + F->nmodels * FIELDS_PER_MODEL, "row %d has %d fields", r, nf);
    size_t len = unescape(f[0]);
    char **want = f + 1 + col * FIELDS_PER_MODEL;
    int *ids = NULL;
    char *pieces = NULL, *dec_ids = NULL, *dec_pcs = NULL;
    size_t plen = 0;
    int n = rt_spm_encode_ids_alloc(m, f[0], len, &ids, err, sizeof err);
    ck_assert_msg(n >= 0, "%s row %d: %s", name, r, err);
    int np = rt_spm_encode_pieces_alloc(m, f[0], len, &pieces, &plen, err, sizeof err);
    ck_assert_msg(np == n, "%s row %d: %d pieces but %d ids (%s)", name, r, np, n, err);
    if ((n != atoi(want[0]) || crc_ids(ids, n) != parse_crc(want[1])) && bad_ids++ < MAX_SHOWN)
      fprintf(stderr, "%s row %d ids differ (%d ids, python %s)\n  text: %s\n", name, r, n, want[0],
              f[0]);
    if (crc_bytes(pieces, plen) != parse_crc(want[2]) && bad_pieces++ < MAX_SHOWN)
      fprintf(stderr, "%s row %d pieces differ\n  text: %s\n  got:  %s\n", name, r, f[0], pieces);
    int nd = rt_spm_decode_ids_alloc(m, ids, n, &dec_ids, err, sizeof err);
    ck_assert_msg(nd >= 0, "%s row %d decode(ids): %s", name, r, err);
    if (!decode_matches(want[3], dec_ids, (size_t)nd, f[0], len) && bad_dec_ids++ < MAX_SHOWN)
      fprintf(stderr, "%s row %d decode(ids) differs\n  text: [%s]\n  got:  [%s]\n", name, r, f[0],
              dec_ids);
    int ndp = rt_spm_decode_pieces_alloc(m, pieces, plen, &dec_pcs, err, sizeof err);
    ck_assert_msg(ndp >= 0, "%s row %d decode(pieces): %s", name, r, err);
    if (!decode_matches(want[4], dec_pcs, (size_t)ndp, dec_ids, (size_t)nd) &&
        bad_dec_pcs++ < MAX_SHOWN)
      fprintf(stderr, "%s row %d decode(pieces) differs\n  text: [%s]\n  got:  [%s]\n", name, r,
              f[0], dec_pcs);
    checked++;
    free(ids);
    free(pieces);
    free(dec_ids);
    free(dec_pcs);
    free(copy);
  }
  fprintf(stderr, "%s: %d lines: %d id, %d piece, %d decode(ids), %d decode(pieces) mismatches\n",
          name, checked, bad_ids, bad_pieces, bad_dec_ids, bad_dec_pcs);
  ck_assert_int_eq(checked, EXPECT_LINES);
  ck_assert_int_eq(bad_ids, 0);
  ck_assert_int_eq(bad_pieces, 0);
  ck_assert_int_eq(bad_dec_ids, 0);
  ck_assert_int_eq(bad_dec_pcs, 0);
  rt_spm_free(m);
}

static void free_fixture(fixture *F) {
  free(F->buf);
  free(F->row);
}

START_TEST(test_10k_real_lines_match_python_sentencepiece) {
  fixture F = read_fixture();
  ck_assert_int_eq(F.nrows, EXPECT_LINES);
  ck_assert_int_eq(F.nmodels, EXPECT_MODELS);
  ck_assert_int_lt(_i, F.nmodels);
  check_model(&F, _i);
  free_fixture(&F);
}
END_TEST

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fixture's lines are distinct, so 10k lines really are 10k different checks. */
START_TEST(test_fixture_lines_are_distinct) {
  fixture F = read_fixture();
  char **text = malloc((size_t)F.nrows * sizeof *text);
  ck_assert(text != NULL);
  for (int r = 0; r < F.nrows; r++) {
    text[r] = F.row[r];
    char *tab = strchr(text[r], '\t');
    ck_assert(tab != NULL);
    *tab = 0;
  }
  qsort(text, (size_t)F.nrows, sizeof *text, cmp_str);
  int dups = 0;
  for (int r = 1; r < F.nrows; r++) dups += strcmp(text[r - 1], text[r]) == 0;
  ck_assert_int_eq(dups, 0);
  free(text);
  free_fixture(&F);
}
END_TEST

static Suite *parity10k_suite(void) {
  Suite *s = suite_create("spm_parity10k");
  TCase *t = tcase_create("parity10k");
  tcase_set_timeout(t, 600);
  tcase_add_test(t, test_fixture_lines_are_distinct);
  tcase_add_loop_test(t, test_10k_real_lines_match_python_sentencepiece, 0, EXPECT_MODELS);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(parity10k_suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
