/* Import then generate: the fairseq-layout EdgeLM fixture (tests/fixtures/import/edgelm_tiny.pt,
 * written with torch.save by tests/reference/fairseq_checkpoint.py) imported with
 * ef_fairseq_import, opened like `edgeformer generate` opens checkpoints, and decoded with the
 * runtime: greedy and beam-5 outputs equal the PyTorch reference of fairseq's search
 * (edgelm_tiny.search.txt): same tokens, scores within 1e-4. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert/fairseq_import.h"
#include "model/to_runtime.h"
#include "runtime/decode.h"
#include "tests/common/fixture.h"
#include "train/checkpoint.h"
#include "train/options.h"

#define DIR EF_FIXTURES "/import"

START_TEST(imported_edgelm_generates_like_the_reference) {
  char err[512], out[256];
  snprintf(out, sizeof out, "%s/decode_import_%d.h5", EF_BINARY_DIR, (int)getpid());
  ef_import_opts io = {.checkpoint = DIR "/edgelm_tiny.pt", .dict = DIR "/dict.src.txt",
                       .spm = DIR "/spm.model", .output = out};
  ck_assert_msg(!ef_fairseq_import(&io, NULL, err, sizeof err), "%s", err);
  ef_model *m = NULL;
  ef_train_options to;
  ck_assert_msg(!ef_ckpt_load_model(out, &m, &to, err, sizeof err), "%s", err);
  unlink(out);
  rt_model *rm = NULL;
  ck_assert_msg(!ef_model_to_runtime(m, &rm, err, sizeof err), "%s", err);
  rt_decoder *d = NULL;
  ck_assert_msg(!rt_decoder_new(rm, NULL, &d, err, sizeof err), "%s", err);

  /* sources: rows of src_tokens without their left padding */
  fx_file fx;
  fx_load_efx(&fx, DIR "/edgelm_tiny.efx");
  fx_tensor *st = fx_need(&fx, "src_tokens");
  int B = (int)st->shape[0], S = (int)st->shape[1];
  ck_assert(B <= 16);
  const int *src[16];
  int len[16];
  for (int b = 0; b < B; b++) {
    int k = 0;
    while (k < S && st->i[b * S + k] == 1) k++;
    src[b] = st->i + b * S + k;
    len[b] = S - k;
  }
  FILE *f = fopen(DIR "/edgelm_tiny.search.txt", "r");
  ck_assert(f);
  static char line[1 << 16];
  rt_search_opts o;
  rt_search_opts_default(&o);
  float lenpen = 1;
  ck_assert(fgets(line, sizeof line, f));
  ck_assert_msg(sscanf(line, "# parameters: lenpen=%f max_len_a=%lf max_len_b=%d min_len=%d nbest=%d",
                       &lenpen, &o.max_len_a, &o.max_len_b, &o.min_len, &o.nbest) == 5, "%s", line);
  o.lenpen = lenpen;
  int last_beam = -1, n = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *p = line;
    int beam = (int)strtol(p, &p, 10), i = (int)strtol(p, &p, 10);
    float score = strtof(p, &p);
    ck_assert(i >= 0 && i < B);
    if (beam != last_beam) {
      o.beam = beam;
      ck_assert_msg(!rt_generate(d, B, src, len, &o, err, sizeof err), "%s", err);
      last_beam = beam;
    }
    const rt_hypo *h = rt_decoder_hypos(d, i, NULL);
    int ids[1024], k = 0;
    char *tab = strchr(p + 1, '\t');
    ck_assert(tab);
    *tab = 0;
    for (char *q = p; k < 1024;) {
      char *e;
      long v = strtol(q, &e, 10);
      if (e == q) break;
      ids[k++] = (int)v;
      q = e;
    }
    ck_assert_msg(h->len == k && !memcmp(h->tokens, ids, sizeof(int) * (size_t)k),
                  "beam %d sentence %d: %d tokens vs %d expected (first %d vs %d)", beam, i, h->len,
                  k, h->tokens[0], ids[0]);
    ck_assert_msg(fabs(h->score - score) < 1e-4, "beam %d sentence %d: score %.9g vs %.9g", beam,
                  i, h->score, score);
    if (fabs(h->score - score) > worst) worst = fabs(h->score - score);
    p = tab + 1;
    for (int t = 0; t < k; t++) ck_assert(fabs(h->pos_scores[t] - strtof(p, &p)) < 1e-4);
    n++;
  }
  fclose(f);
  printf("imported edgelm_tiny: %d hypotheses (greedy, beam 5) identical, max |score diff| %.2e\n",
         n, worst);
  ck_assert_int_ge(n, 8);
  fx_free(&fx);
  rt_decoder_free(d);
  rt_model_free(rm);
  ef_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("decode_import");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, imported_edgelm_generates_like_the_reference);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
