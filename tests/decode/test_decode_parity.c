/* Parity of the runtime's search with an independent PyTorch implementation of fairseq's
 * SequenceGenerator (tests/reference/search_ref.py): for seeded weights (tests/common/seeded.h)
 * of a small config and of the full edgelm preset, real sentences in batches of different
 * lengths, and the cases of tests/fixtures/generate/<name>.gen.txt (greedy, beam 5 nbest 5,
 * lenpen/min_len/max_len_a/no-repeat-ngram/unkpen, temperature), every hypothesis has the same
 * tokens, and its score and positional scores agree within 1e-4. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/edgeformer.h"
#include "model/to_runtime.h"
#include "runtime/decode.h"
#include "tests/common/seeded.h"

#define GEN_DIR EF_FIXTURES "/generate"
#define MAX_SENT 256
#define MAX_TOK 1100
#define SCORE_TOL 1e-4

static char err[512];

typedef struct {
  int n;
  int *ids[MAX_SENT];
  int len[MAX_SENT];
} sources;

static char *next_line(FILE *f, char *buf, size_t n) {
  while (fgets(buf, (int)n, f)) {
    buf[strcspn(buf, "\n")] = 0;
    if (buf[0]) return buf;
  }
  return NULL;
}

/* Parse ints from s (space-separated) into out; returns the count. */
static int parse_ints(char *s, int *out, int cap) {
  int n = 0;
  for (char *t = strtok(s, " "); t && n < cap; t = strtok(NULL, " ")) out[n++] = atoi(t);
  return n;
}

static void run_fixture(const char *name) {
  char path[1024], line[65536], ini[512];
  snprintf(path, sizeof path, "%s/%s.gen.txt", GEN_DIR, name);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f, "%s: missing (run tests/reference/generate_fixtures.py)", path);
  unsigned long long seed = 0;
  ck_assert(next_line(f, line, sizeof line) && sscanf(line, "config %511s", ini) == 1);
  ck_assert(next_line(f, line, sizeof line) && sscanf(line, "seed %llu", &seed) == 1);
  /* the model from the fixture's config, seeded weights */
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  snprintf(path, sizeof path, "%s/%s", GEN_DIR, ini);
  ck_assert_msg(!ef_config_load(&t, 1, path, err, sizeof err), "%s", err);
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&cfg, &m, err, sizeof err), "%s", err);
  ck_assert_int_eq(fx_seeded_fill(m, seed), 0);
  rt_model *rm = NULL;
  ck_assert_msg(!ef_model_to_runtime(m, &rm, err, sizeof err), "%s", err);
  rt_decoder *d = NULL;
  ck_assert_msg(!rt_decoder_new(rm, NULL, &d, err, sizeof err), "%s", err);

  static sources S;
  memset(&S, 0, sizeof S);
  int n_sent = 0;
  ck_assert(next_line(f, line, sizeof line) && sscanf(line, "sentences %d", &n_sent) == 1);
  ck_assert(n_sent > 0 && n_sent <= MAX_SENT);
  int *buf = malloc(sizeof(int) * MAX_TOK);
  float *fb = malloc(sizeof(float) * MAX_TOK);
  for (int i = 0; i < n_sent; i++) {
    ck_assert(next_line(f, line, sizeof line) && line[0] == 'S');
    int k = parse_ints(line + 2, buf, MAX_TOK);
    ck_assert(k >= 3 && buf[0] == i && buf[1] == k - 2);
    S.len[i] = buf[1];
    S.ids[i] = malloc(sizeof(int) * (size_t)S.len[i]);
    memcpy(S.ids[i], buf + 2, sizeof(int) * (size_t)S.len[i]);
  }
  int n_cases = 0, n_hyps = 0;
  double worst_score = 0, worst_pos = 0;
  while (next_line(f, line, sizeof line)) {
    char cname[64];
    rt_search_opts o;
    rt_search_opts_default(&o);
    float lenpen, unkpen, temp;
    double a;
    int batch;
    ck_assert_msg(sscanf(line, "case %63s beam %d nbest %d lenpen %f max_len_a %lf max_len_b %d "
                         "min_len %d no_repeat_ngram_size %d unkpen %f temperature %f batch %d",
                         cname, &o.beam, &o.nbest, &lenpen, &a, &o.max_len_b, &o.min_len,
                         &o.no_repeat_ngram_size, &unkpen, &temp, &batch) == 11,
                  "bad case line: %s", line);
    o.lenpen = lenpen, o.unkpen = unkpen, o.temperature = temp, o.max_len_a = a;
    n_cases++;
    /* the case's batches, then the hypotheses of all its sentences in order */
    int bfirst[MAX_SENT], bcount[MAX_SENT], nbatch = 0, pending = 0;
    while (next_line(f, line, sizeof line) && line[0] == 'B') {
      int width, max_len;
      ck_assert(nbatch < MAX_SENT);
      ck_assert_msg(sscanf(line, "B %d %d %d %d", &bfirst[nbatch], &bcount[nbatch], &width,
                           &max_len) == 4, "%s", line);
      nbatch++;
    }
    pending = 1; /* line holds the first H */
    for (int bi = 0; bi < nbatch; bi++) {
      int first = bfirst[bi], count = bcount[bi];
      const int *sp[MAX_SENT];
      for (int i = 0; i < count; i++) sp[i] = S.ids[first + i];
      ck_assert_msg(!rt_generate(d, count, sp, S.len + first, &o, err, sizeof err), "%s", err);
      for (int i = 0; i < count; i++) {
        int cnt;
        const rt_hypo *h = rt_decoder_hypos(d, i, &cnt);
        ck_assert_int_eq(cnt, o.nbest);
        for (int r = 0; r < o.nbest; r++) {
          if (!pending) ck_assert(next_line(f, line, sizeof line));
          pending = 0;
          ck_assert_msg(line[0] == 'H', "expected an H line: %s", line);
          int si, rank, len;
          float score;
          int off = 0;
          ck_assert(sscanf(line, "H %d %d %f %d %n", &si, &rank, &score, &len, &off) == 4);
          ck_assert(si == first + i && rank == r && len < MAX_TOK);
          int k = parse_ints(line + off, buf, MAX_TOK);
          ck_assert_int_eq(k, len);
          ck_assert_msg(h[r].tokens && h[r].len == len && !memcmp(h[r].tokens, buf, sizeof(int) * (size_t)len),
                        "%s case %s sentence %d hypothesis %d: tokens differ (len %d vs %d, first "
                        "ids %d %d %d vs %d %d %d)", name, cname, si, r, h[r].len, len,
                        h[r].tokens ? h[r].tokens[0] : -1, h[r].len > 1 ? h[r].tokens[1] : -1,
                        h[r].len > 2 ? h[r].tokens[2] : -1, buf[0], len > 1 ? buf[1] : -1,
                        len > 2 ? buf[2] : -1);
          double ds = fabs(h[r].score - score);
          if (ds > worst_score) worst_score = ds;
          ck_assert_msg(ds < SCORE_TOL, "%s case %s sentence %d hypothesis %d: score %.9g vs %.9g",
                        name, cname, si, r, h[r].score, score);
          ck_assert(next_line(f, line, sizeof line) && line[0] == 'P');
          char *p = line + 2;
          int pi = (int)strtol(p, &p, 10), pr = (int)strtol(p, &p, 10);
          ck_assert(pi == si && pr == r);
          for (int j = 0; j < len; j++) {
            fb[j] = strtof(p, &p);
            double dp = fabs(h[r].pos_scores[j] - fb[j]);
            if (dp > worst_pos) worst_pos = dp;
            ck_assert_msg(dp < SCORE_TOL, "%s case %s sentence %d hyp %d token %d: %.9g vs %.9g",
                          name, cname, si, r, j, h[r].pos_scores[j], fb[j]);
          }
          n_hyps++;
        }
      }
    }
    ck_assert(next_line(f, line, sizeof line) && !strcmp(line, "end"));
  }
  printf("%-13s %d cases, %d hypotheses identical; max |score diff| %.2e, max |positional diff| "
         "%.2e\n", name, n_cases, n_hyps, worst_score, worst_pos);
  ck_assert_int_ge(n_cases, 4);
  for (int i = 0; i < n_sent; i++) free(S.ids[i]);
  free(buf);
  free(fb);
  fclose(f);
  rt_decoder_free(d);
  rt_model_free(rm);
  ef_model_free(m);
}

START_TEST(small_config_matches_fairseq_search) { run_fixture("gen_small"); }
END_TEST
START_TEST(edgelm_config_matches_fairseq_search) { run_fixture("edgelm"); }
END_TEST

int main(void) {
  Suite *s = suite_create("decode_parity");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 1200);
  tcase_add_test(tc, small_config_matches_fairseq_search);
  tcase_add_test(tc, edgelm_config_matches_fairseq_search);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
