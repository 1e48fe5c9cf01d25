/* The runtime decoder against the training graph: for every committed model variant (sharing
 * schemes, layer adaptations, decoder layouts, activations), the runtime's encoder plus
 * incremental decoder steps (K/V cache, cross K/V once per source, sentences of different
 * lengths without padding) give the training graph's teacher-forced log-probabilities. Also:
 * greedy search follows the graph's argmax, beam/ngram/min_len/max_len constraints hold, and
 * bad input fails with a message. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/ops.h"
#include "model/edgeformer.h"
#include "model/to_runtime.h"
#include "runtime/decode_internal.h"

static char err[512];
static const char *const variants[] = {"edgelm_small", "bias_la", "gelu", "no_la", "prefix_la",
                                       "std_tied", "transformer", "ut_like"};
#define NV (int)(sizeof variants / sizeof *variants)

static uint64_t lcg = 88172645463325252ull;
static float noise(void) {
  lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((double)(lcg >> 40) / (double)(1ull << 24) - 0.5);
}

static ef_model *load_variant(const char *name) {
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  char path[1024];
  snprintf(path, sizeof path, "%s/model/%s.ini", EF_FIXTURES, name);
  ck_assert_msg(!ef_config_load(&t, 1, path, err, sizeof err), "%s", err);
  ef_model *m = NULL;
  ck_assert_msg(!ef_model_new(&cfg, &m, err, sizeof err), "%s", err);
  ef_model_init(m, 7);
  /* perturb every parameter so that zero-initialised ones (biases, Bias-LA) matter */
  float *p = ef_params_data(m->params);
  int64_t n = ef_params_flat_len(m->params);
  for (int64_t i = 0; i < n; i++) p[i] += 0.2f * noise();
  /* keep the pad row of the embedding zero, as training does */
  ef_tensor *E = ef_params_tensor(m->params, m->embed);
  memset(E->data + (size_t)EF_PAD * E->shape[1], 0, sizeof(float) * E->shape[1]);
  return m;
}

/* A variant with its runtime model and decoder (default kernels). */
typedef struct {
  ef_model *m;
  rt_model *rm;
  rt_decoder *d;
} session;

static session open_variant(const char *name) {
  session s = {load_variant(name), NULL, NULL};
  ck_assert_msg(!ef_model_to_runtime(s.m, &s.rm, err, sizeof err), "%s", err);
  ck_assert_msg(!rt_decoder_new(s.rm, NULL, &s.d, err, sizeof err), "%s", err);
  return s;
}

static void close_session(session *s) {
  rt_decoder_free(s->d);
  rt_model_free(s->rm);
  ef_model_free(s->m);
}

#define NB 3
static const int SL[NB] = {7, 12, 4}, TLN[NB] = {5, 9, 3};

START_TEST(runtime_steps_equal_the_training_graph) {
  for (int vi = 0; vi < NV; vi++) {
    ef_model *m = load_variant(variants[vi]);
    int V = m->cfg.vocab_size, S = 12, T = 9;
    ef_ctx *c = ef_ctx_new(1 << 24, 1 << 14);
    ef_ctx_set_training(c, 0);
    ef_ctx_set_grad(c, 0);
    int64_t ss[2] = {NB, S}, ts[2] = {NB, T};
    ef_tensor *src = ef_tensor_new(c, EF_I32, 2, ss, 0, 0), *prev = ef_tensor_new(c, EF_I32, 2, ts, 0, 0);
    int srcs[NB][12], tgts[NB][9];
    for (int b = 0; b < NB; b++) {
      for (int s = 0; s < SL[b]; s++) srcs[b][s] = s == SL[b] - 1 ? EF_EOS : 4 + (int)((noise() + 0.5f) * (V - 5));
      for (int t = 0; t < TLN[b]; t++) tgts[b][t] = t == TLN[b] - 1 ? EF_EOS : 4 + (int)((noise() + 0.5f) * (V - 5));
      for (int s = 0; s < S; s++) /* left-padded */
        src->idata[b * S + s] = s < S - SL[b] ? EF_PAD : srcs[b][s - (S - SL[b])];
      for (int t = 0; t < T; t++) /* </s> + target[:-1], right-padded */
        prev->idata[b * T + t] = t == 0 ? EF_EOS : t < TLN[b] ? tgts[b][t - 1] : EF_PAD;
    }
    ef_batch_tensors bt = {src, prev, NULL};
    ef_model_out out;
    ck_assert_msg(!ef_model_forward(c, m, &bt, 0.0f, &out), "%s", ef_ctx_error(c));
    /* log-softmax of the graph's logits */
    float *ref = malloc(sizeof(float) * NB * T * V);
    for (int r = 0; r < NB * T; r++) {
      const float *x = out.logits->data + (size_t)r * V;
      float mx = -INFINITY;
      for (int v = 0; v < V; v++) mx = fmaxf(mx, x[v]);
      double sum = 0;
      for (int v = 0; v < V; v++) sum += exp((double)(x[v] - mx));
      for (int v = 0; v < V; v++) ref[(size_t)r * V + v] = (x[v] - mx) - (float)log(sum);
    }
    rt_model *rm = NULL;
    ck_assert_msg(!ef_model_to_runtime(m, &rm, err, sizeof err), "%s", err);
    rt_decoder *d = NULL;
    ck_assert_msg(!rt_decoder_new(rm, NULL, &d, err, sizeof err), "%s", err);
    const int *sp[NB] = {srcs[0], srcs[1], srcs[2]};
    ck_assert_int_eq(rt_encode(d, NB, sp, SL), 0);
    ck_assert_int_eq(rt_decoder_reserve(d, NB, T), 0);
    int *row_sent = d->row_sent.p;
    double worst = 0;
    for (int t = 0; t < T; t++) {
      int tok[NB];
      for (int b = 0; b < NB; b++) row_sent[b] = b, tok[b] = prev->idata[b * T + t];
      ck_assert_int_eq(rt_decoder_step(d, NB, tok, t, 1.0f), 0);
      for (int b = 0; b < NB; b++) {
        if (t >= TLN[b]) continue;
        for (int v = 0; v < V; v++) {
          double diff = fabs(d->logits.p[(size_t)b * V + v] - ref[((size_t)b * T + t) * V + v]);
          if (diff > worst) worst = diff;
        }
      }
    }
    ck_assert_msg(worst < 2e-5, "%s: runtime log-probs differ from the graph by %g", variants[vi], worst);
    printf("%-14s max |runtime - graph| log-prob %.2e\n", variants[vi], worst);
    rt_decoder_free(d);
    rt_model_free(rm);
    free(ref);
    ef_ctx_free(c);
    ef_model_free(m);
  }
}
END_TEST

/* Greedy: every emitted token is the argmax (pad excluded) of the graph given the prefix, and
 * the hypothesis score is the mean log-prob (lenpen 1). */
START_TEST(greedy_follows_the_graph_argmax) {
  session ss = open_variant("edgelm_small");
  ef_model *m = ss.m;
  rt_decoder *d = ss.d;
  int src[2][6] = {{40, 50, 60, 70, 80, EF_EOS}, {9, 8, EF_EOS}};
  const int *sp[2] = {src[0], src[1]};
  int sl[2] = {6, 3};
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = 1;
  o.max_len_b = 12;
  ck_assert_msg(!rt_generate(d, 2, sp, sl, &o, err, sizeof err), "%s", err);
  for (int i = 0; i < 2; i++) {
    int cnt;
    const rt_hypo *h = rt_decoder_hypos(d, i, &cnt);
    ck_assert_int_eq(cnt, 1);
    ck_assert(h->len >= 1 && h->len <= 13);
    ck_assert_int_eq(h->tokens[h->len - 1], EF_EOS);
    double sum = 0;
    for (int t = 0; t < h->len; t++) sum += h->pos_scores[t];
    ck_assert_msg(fabs(sum / h->len - h->score) < 1e-5, "score %g vs mean %g", h->score, sum / h->len);
    /* teacher-force the hypothesis through the graph */
    int V = m->cfg.vocab_size, T = h->len;
    ef_ctx *c = ef_ctx_new(1 << 22, 1 << 12);
    ef_ctx_set_training(c, 0);
    ef_ctx_set_grad(c, 0);
    int64_t ss[2] = {1, sl[i]}, ts[2] = {1, T};
    ef_tensor *s = ef_tensor_new(c, EF_I32, 2, ss, 0, 0), *p = ef_tensor_new(c, EF_I32, 2, ts, 0, 0);
    for (int k = 0; k < sl[i]; k++) s->idata[k] = src[i][k];
    for (int t = 0; t < T; t++) p->idata[t] = t ? h->tokens[t - 1] : EF_EOS;
    ef_batch_tensors bt = {s, p, NULL};
    ef_model_out out;
    ck_assert(!ef_model_forward(c, m, &bt, 0.0f, &out));
    for (int t = 0; t < T; t++) {
      const float *x = out.logits->data + (size_t)t * V;
      int best = -1;
      for (int v = 0; v < V; v++) {
        if (v == EF_PAD || (t < o.min_len && v == EF_EOS) || (t == 12 && v != EF_EOS)) continue;
        if (best < 0 || x[v] > x[best]) best = v;
      }
      ck_assert_msg(best == h->tokens[t], "sentence %d step %d: greedy %d, graph argmax %d", i, t,
                    h->tokens[t], best);
    }
    ef_ctx_free(c);
  }
  close_session(&ss);
}
END_TEST

/* Beam search invariants: nbest sorted, every hypothesis ends in </s>, respects min_len and
 * max_len, never contains pad, and no 2-gram repeats when blocked. */
START_TEST(beam_constraints_hold) {
  session ss = open_variant("edgelm_small");
  rt_decoder *d = ss.d;
  int src[3][8] = {{40, 50, 60, 70, 80, 90, 100, EF_EOS}, {9, 8, EF_EOS}, {200, EF_EOS}};
  const int *sp[3] = {src[0], src[1], src[2]};
  int sl[3] = {8, 3, 2};
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = 4;
  o.nbest = 4;
  o.min_len = 3;
  o.max_len_a = 1.5;
  o.max_len_b = 2;
  o.no_repeat_ngram_size = 2;
  ck_assert_msg(!rt_generate(d, 3, sp, sl, &o, err, sizeof err), "%s", err);
  int max_len = (int)(1.5 * 8 + 2);
  for (int i = 0; i < 3; i++) {
    int cnt;
    const rt_hypo *h = rt_decoder_hypos(d, i, &cnt);
    ck_assert_int_eq(cnt, 4);
    for (int k = 0; k < cnt; k++) {
      ck_assert(h[k].tokens);
      if (k) ck_assert(h[k].score <= h[k - 1].score);
      ck_assert_int_eq(h[k].tokens[h[k].len - 1], EF_EOS);
      ck_assert(h[k].len - 1 >= o.min_len && h[k].len <= max_len + 1);
      for (int t = 0; t < h[k].len; t++) ck_assert_int_ne(h[k].tokens[t], EF_PAD);
      /* bigrams over </s> + tokens are unique */
      for (int a = 0; a + 1 < h[k].len; a++)
        for (int b = a + 1; b + 1 < h[k].len; b++)
          ck_assert(!(h[k].tokens[a] == h[k].tokens[b] && h[k].tokens[a + 1] == h[k].tokens[b + 1]));
    }
  }
  /* bad input: a message, no crash */
  int bad[2] = {5000, EF_EOS}, pad[2] = {EF_PAD, EF_EOS};
  const int *bp[1] = {bad};
  int bl[1] = {2};
  ck_assert_int_eq(rt_generate(d, 1, bp, bl, &o, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "sentence 0"), "%s", err);
  bp[0] = pad;
  ck_assert_int_eq(rt_generate(d, 1, bp, bl, &o, err, sizeof err), -1);
  int longs[100];
  for (int k = 0; k < 100; k++) longs[k] = k == 99 ? EF_EOS : 10;
  bp[0] = longs;
  bl[0] = 100;
  ck_assert_int_eq(rt_generate(d, 1, bp, bl, &o, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "the model allows 64"), "%s", err);
  o.nbest = 9;
  bl[0] = 2, bp[0] = src[2];
  ck_assert_int_eq(rt_generate(d, 1, bp, bl, &o, err, sizeof err), -1);
  ck_assert_msg(strstr(err, "nbest"), "%s", err);
  close_session(&ss);
}
END_TEST

/* Sampling: reproducible for a seed, different across seeds, top-k 1 equals greedy. */
START_TEST(sampling_is_seeded_and_topk1_is_greedy) {
  session ss = open_variant("edgelm_small");
  rt_decoder *d = ss.d;
  int src[6] = {40, 50, 60, 70, 80, EF_EOS};
  const int *sp[1] = {src};
  int sl[1] = {6};
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = 1;
  o.max_len_b = 10;
  ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
  int greedy[16], gl = rt_decoder_hypos(d, 0, NULL)->len;
  memcpy(greedy, rt_decoder_hypos(d, 0, NULL)->tokens, sizeof(int) * gl);
  o.sampling = 1;
  o.topk = 1;
  ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
  const rt_hypo *h = rt_decoder_hypos(d, 0, NULL);
  ck_assert_int_eq(h->len, gl);
  ck_assert(!memcmp(h->tokens, greedy, sizeof(int) * gl));
  o.topk = -1;
  o.beam = 3;
  o.temperature = 2.0f;
  o.seed = 1;
  int first[16], fl;
  ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
  fl = rt_decoder_hypos(d, 0, NULL)->len;
  memcpy(first, rt_decoder_hypos(d, 0, NULL)->tokens, sizeof(int) * fl);
  ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
  ck_assert_int_eq(rt_decoder_hypos(d, 0, NULL)->len, fl);
  ck_assert(!memcmp(rt_decoder_hypos(d, 0, NULL)->tokens, first, sizeof(int) * fl));
  int differs = 0;
  for (uint64_t seed = 2; seed < 12 && !differs; seed++) {
    o.seed = seed;
    ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
    h = rt_decoder_hypos(d, 0, NULL);
    differs = h->len != fl || memcmp(h->tokens, first, sizeof(int) * fl);
  }
  ck_assert_msg(differs, "ten seeds gave the same sample");
  o.topp = 0.9f;
  ck_assert(!rt_generate(d, 1, sp, sl, &o, err, sizeof err));
  close_session(&ss);
}
END_TEST

/* rt_decoder_reorder gathers cache rows in place (new row r <- old row from[r]): random maps
 * with repeats, swaps, longer cycles, untouched rows and fewer new rows than old (finished
 * sentences leave the batch), every cache element checked against a copy-based gather. */
START_TEST(cache_reorder_in_place_equals_a_gather) {
  session ss = open_variant("edgelm_small");
  rt_decoder *d = ss.d;
  enum { ROWS = 12, STEPS = 5 };
  ck_assert_int_eq(rt_decoder_reserve(d, ROWS, STEPS), 0);
  size_t cs = (size_t)d->steps_cap * d->d, n = (size_t)d->L * 2 * ROWS * cs;
  float *want = malloc(n * sizeof *want);
  ck_assert(want);
  for (int trial = 0; trial < 400; trial++) {
    int old_rows = 1 + trial % ROWS, R = 1 + (int)((noise() + 0.5f) * (float)old_rows);
    if (R > old_rows) R = old_rows;
    int from[ROWS], steps = 1 + trial % STEPS;
    for (int r = 0; r < R; r++) {
      int kind = trial % 4; /* permutations, identities with swaps, and free maps */
      from[r] = kind == 3 ? (int)((noise() + 0.5f) * (float)old_rows) % old_rows : r;
    }
    if (trial % 4 != 3) /* shuffle: cycles of every length */
      for (int r = R - 1; r > 0; r--) {
        if (trial % 4 == 1 && noise() < 0.0f) continue;
        int j = (int)((noise() + 0.5f) * (float)(r + 1)) % (r + 1), t = from[r];
        from[r] = from[j], from[j] = t;
      }
    for (int l = 0; l < d->L; l++)
      for (int r = 0; r < old_rows; r++)
        for (size_t i = 0; i < (size_t)steps * d->d; i++) {
          d->sk[l].p[r * cs + i] = (float)(1000 * l + 100 * r) + (float)i * 1e-3f;
          d->sv[l].p[r * cs + i] = -(float)(1000 * l + 100 * r) - (float)i * 1e-3f;
        }
    for (int l = 0; l < d->L; l++)
      for (int r = 0; r < R; r++) {
        memcpy(want + ((size_t)(2 * l) * ROWS + r) * cs, d->sk[l].p + from[r] * cs,
               (size_t)steps * d->d * sizeof(float));
        memcpy(want + ((size_t)(2 * l + 1) * ROWS + r) * cs, d->sv[l].p + from[r] * cs,
               (size_t)steps * d->d * sizeof(float));
      }
    ck_assert_int_eq(rt_decoder_reorder(d, R, from, steps), 0);
    for (int l = 0; l < d->L; l++)
      for (int r = 0; r < R; r++) {
        int k = memcmp(d->sk[l].p + r * cs, want + ((size_t)(2 * l) * ROWS + r) * cs,
                       (size_t)steps * d->d * sizeof(float));
        int v = memcmp(d->sv[l].p + r * cs, want + ((size_t)(2 * l + 1) * ROWS + r) * cs,
                       (size_t)steps * d->d * sizeof(float));
        ck_assert_msg(!k && !v, "trial %d: layer %d row %d (from %d of %d old rows) differs",
                      trial, l, r, from[r], old_rows);
      }
  }
  free(want);
  close_session(&ss);
}
END_TEST

/* Threads: the same hypotheses, bit for bit, with 1 and 2 kernel threads (linear layers split
 * by columns, attention by heads: every value is computed by the same instructions). */
START_TEST(two_threads_give_identical_results) {
  ef_model *m = load_variant("prefix_la");
  rt_model *rm = NULL;
  ck_assert(!ef_model_to_runtime(m, &rm, err, sizeof err));
  int src[3][8] = {{40, 50, 60, 70, 80, 90, 100, EF_EOS}, {9, 8, EF_EOS}, {200, 7, 7, EF_EOS}};
  const int *sp[3] = {src[0], src[1], src[2]};
  int sl[3] = {8, 3, 4};
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = 4;
  o.nbest = 3;
  o.max_len_b = 20;
  int toks[2][3][3][32], lens[2][3][3];
  float scores[2][3][3];
  for (int th = 1; th <= 2; th++) {
    rt_kernels *k = rt_kernels_new(rt_isa_detect());
    ck_assert_int_eq(rt_kernels_set_threads(k, th), 0);
    rt_decoder *d = NULL;
    ck_assert(!rt_decoder_new(rm, k, &d, err, sizeof err));
    ck_assert_msg(!rt_generate(d, 3, sp, sl, &o, err, sizeof err), "%s", err);
    for (int i = 0; i < 3; i++) {
      const rt_hypo *h = rt_decoder_hypos(d, i, NULL);
      for (int r = 0; r < 3; r++) {
        lens[th - 1][i][r] = h[r].len;
        scores[th - 1][i][r] = h[r].score;
        memcpy(toks[th - 1][i][r], h[r].tokens, sizeof(int) * (size_t)h[r].len);
      }
    }
    rt_decoder_free(d);
    rt_kernels_free(k);
  }
  for (int i = 0; i < 3; i++)
    for (int r = 0; r < 3; r++) {
      ck_assert_int_eq(lens[0][i][r], lens[1][i][r]);
      ck_assert(!memcmp(toks[0][i][r], toks[1][i][r], sizeof(int) * (size_t)lens[0][i][r]));
      ck_assert_msg(scores[0][i][r] == scores[1][i][r], "score %.9g vs %.9g", scores[0][i][r],
                    scores[1][i][r]);
    }
  rt_model_free(rm);
  ef_model_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("decode_model");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, runtime_steps_equal_the_training_graph);
  tcase_add_test(tc, greedy_follows_the_graph_argmax);
  tcase_add_test(tc, beam_constraints_hold);
  tcase_add_test(tc, sampling_is_seeded_and_topk1_is_greedy);
  tcase_add_test(tc, two_threads_give_identical_results);
  tcase_add_test(tc, cache_reorder_in_place_equals_a_gather);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
