/* tests/data/test_batch.c: batching semantics: fairseq's batch_by_size boundaries (fixtures
 * from fairseq's own code), the collate layout on a hand-checked example, every pair exactly
 * once per epoch under max_tokens / batch_size, skipping and truncation, seeded shuffling, and
 * exact save/restore of the iterator position. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/batch.h"

#define MAX_CASE 4096

static void add_pair(ef_dataset *ds, const int32_t *s, int ns, const int32_t *t, int nt) {
  ck_assert_int_eq(ef_dataset_append(ds, s, ns, t, nt, ds->n + 1, NULL, 0), 0);
}

START_TEST(test_batch_by_size_matches_fairseq) {
  FILE *f = fopen(EF_FIXTURES "/data/batch_by_size.txt", "r");
  ck_assert_ptr_nonnull(f);
  static char line[65536];
  static int64_t ntok[MAX_CASE], ends[MAX_CASE + 1], want[MAX_CASE];
  int cases = 0;
  while (fgets(line, sizeof line, f)) {
    char *p = line, *q;
    long long mt = strtoll(p, &p, 10), ms = strtoll(p, &p, 10), mult = strtoll(p, &p, 10);
    p = strchr(p, '|') + 1;
    int n = 0, nw = 0;
    for (;;) {
      long long v = strtoll(p, &q, 10);
      if (q == p) break;
      ntok[n++] = v;
      p = q;
    }
    p = strchr(p, '|') + 1;
    for (;;) {
      long long v = strtoll(p, &q, 10);
      if (q == p) break;
      want[nw++] = v;
      p = q;
    }
    int64_t nb = ef_batch_by_size(ntok, n, mt, ms, mult, ends);
    ck_assert_msg(nb == nw, "case %d: %lld batches, fairseq has %d", cases + 1, (long long)nb, nw);
    int64_t prev = 0;
    for (int k = 0; k < nw; k++) {
      ck_assert_msg(ends[k] - prev == want[k], "case %d batch %d: size %lld, fairseq %lld",
                    cases + 1, k, (long long)(ends[k] - prev), (long long)want[k]);
      prev = ends[k];
    }
    cases++;
  }
  fclose(f);
  ck_assert_int_ge(cases, 40);
}
END_TEST

START_TEST(test_collate_layout_hand_checked) {
  ef_dataset ds;
  ef_dataset_init(&ds);
  add_pair(&ds, (int32_t[]){10, 11, 2}, 3, (int32_t[]){20, 2}, 2);
  add_pair(&ds, (int32_t[]){12, 2}, 2, (int32_t[]){21, 22, 23, 2}, 4);
  add_pair(&ds, (int32_t[]){13, 14, 15, 16, 2}, 5, (int32_t[]){24, 2}, 2);
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  cfg.max_tokens = 100;
  cfg.required_batch_size_multiple = 1;
  cfg.shuffle = 0;
  ef_batch_iter *it;
  char err[256];
  ck_assert_msg(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err) == 0, "%s", err);
  ef_batch b;
  ck_assert_int_eq(ef_batch_iter_next(it, &b), 1);
  ck_assert_int_eq(b.bsz, 3);
  ck_assert_int_eq(b.src_len, 5);
  ck_assert_int_eq(b.tgt_len, 4);
  static const int32_t src[] = {13, 14, 15, 16, 2, /**/ 1, 1, 10, 11, 2, /**/ 1, 1, 1, 12, 2};
  static const int32_t tgt[] = {24, 2, 1, 1, /**/ 20, 2, 1, 1, /**/ 21, 22, 23, 2};
  static const int32_t prev[] = {2, 24, 1, 1, /**/ 2, 20, 1, 1, /**/ 2, 21, 22, 23};
  for (int i = 0; i < 15; i++) ck_assert_int_eq(b.src_tokens[i], src[i]);
  for (int i = 0; i < 12; i++) {
    ck_assert_int_eq(b.target[i], tgt[i]);
    ck_assert_int_eq(b.prev_output_tokens[i], prev[i]);
  }
  ck_assert_int_eq(b.src_lengths[0], 5);
  ck_assert_int_eq(b.src_lengths[1], 3);
  ck_assert_int_eq(b.src_lengths[2], 2);
  ck_assert_int_eq(b.ids[0], 2);
  ck_assert_int_eq(b.ids[1], 0);
  ck_assert_int_eq(b.ids[2], 1);
  ck_assert_int_eq(b.ntokens, 8);
  ck_assert_int_eq(b.nsrc_tokens, 10);
  ck_assert_int_eq(ef_batch_iter_next(it, &b), 0);
  ef_batch_iter_free(it);

  /* Truncation: source cut to max_source_positions - 1 tokens plus </s>. */
  cfg.max_source_positions = 3;
  cfg.truncate_source = 1;
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err), 0);
  ck_assert_int_eq(ef_batch_iter_next(it, &b), 1);
  ck_assert_int_eq(b.src_len, 3);
  ck_assert_int_eq(b.ids[0], 0); /* p0 (3) and p2 (5 -> 3) tie; stable keeps p0 first */
  ck_assert_int_eq(b.ids[1], 2);
  static const int32_t tsrc[] = {10, 11, 2, /**/ 13, 14, 2, /**/ 1, 12, 2};
  for (int i = 0; i < 9; i++) ck_assert_int_eq(b.src_tokens[i], tsrc[i]);
  ef_batch_stats st;
  ef_batch_iter_stats(it, &st);
  ck_assert_int_eq(st.n_truncated, 1);
  ck_assert_int_eq(st.n_too_long, 0);
  ef_batch_iter_free(it);

  /* Without truncation the long pair is skipped and counted. */
  cfg.truncate_source = 0;
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err), 0);
  ef_batch_iter_stats(it, &st);
  ck_assert_int_eq(st.n_too_long, 1);
  ck_assert_int_eq(st.n_used, 2);
  ef_batch_iter_free(it);
  ef_dataset_release(&ds);
}
END_TEST

/* n pairs with pseudo-random lengths: src 1..70, tgt 1..60 (including </s>). */
static void random_dataset(ef_dataset *ds, int n, unsigned seed) {
  ef_dataset_init(ds);
  int32_t s[80], t[80];
  for (int i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    int ns = 1 + (int)((seed >> 16) % 70);
    seed = seed * 1103515245u + 12345u;
    int nt = 1 + (int)((seed >> 16) % 60);
    for (int k = 0; k < ns - 1; k++) s[k] = 4 + (i + k) % 100;
    s[ns - 1] = 2;
    for (int k = 0; k < nt - 1; k++) t[k] = 4 + (i * 7 + k) % 100;
    t[nt - 1] = 2;
    add_pair(ds, s, ns, t, nt);
  }
}

/* Checks one epoch: every used pair exactly once, limits respected, rows match the dataset. */
static int64_t check_epoch(ef_batch_iter *it, const ef_dataset *ds, const ef_batch_config *cfg,
                           int *seen, int64_t *first_ids, int nfirst) {
  memset(seen, 0, (size_t)ds->n * sizeof *seen);
  ef_batch b;
  int64_t nb = 0, total = 0;
  while (ef_batch_iter_next(it, &b)) {
    if (nb < nfirst) first_ids[nb] = b.ids[0];
    nb++;
    int64_t longest = 0;
    for (int64_t r = 0; r < b.bsz; r++) {
      int64_t p = b.ids[r];
      seen[p]++;
      int64_t sl = ef_dataset_len(&ds->src, p), tl = ef_dataset_len(&ds->tgt, p);
      ck_assert_int_eq(b.src_lengths[r], sl);
      if (r > 0) ck_assert_int_le(b.src_lengths[r], b.src_lengths[r - 1]);
      longest = sl > longest ? sl : longest;
      longest = tl > longest ? tl : longest;
      const int32_t *srow = b.src_tokens + r * b.src_len;
      for (int64_t j = 0; j < b.src_len - sl; j++) ck_assert_int_eq(srow[j], 1);
      ck_assert_int_eq(memcmp(srow + b.src_len - sl, ds->src.tokens + ds->src.offsets[p], sl * 4),
                       0);
      const int32_t *trow = b.target + r * b.tgt_len, *prow = b.prev_output_tokens + r * b.tgt_len;
      ck_assert_int_eq(memcmp(trow, ds->tgt.tokens + ds->tgt.offsets[p], tl * 4), 0);
      ck_assert_int_eq(prow[0], 2);
      for (int64_t j = 1; j < tl; j++) ck_assert_int_eq(prow[j], trow[j - 1]);
      for (int64_t j = tl; j < b.tgt_len; j++) {
        ck_assert_int_eq(trow[j], 1);
        ck_assert_int_eq(prow[j], 1);
      }
    }
    ck_assert_int_le(b.bsz * longest, cfg->max_tokens);
    if (cfg->batch_size > 0) ck_assert_int_le(b.bsz, cfg->batch_size);
    total += b.bsz;
  }
  for (int64_t i = 0; i < ds->n; i++) {
    int64_t sl = ef_dataset_len(&ds->src, i), tl = ef_dataset_len(&ds->tgt, i);
    int used = sl <= cfg->max_source_positions && tl <= cfg->max_target_positions;
    ck_assert_msg(seen[i] == used, "pair %lld seen %d times", (long long)i, seen[i]);
  }
  return total;
}

START_TEST(test_every_pair_once_per_epoch_under_limits) {
  ef_dataset ds;
  random_dataset(&ds, 2000, 7);
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  cfg.max_tokens = 600;
  cfg.batch_size = 24;
  cfg.max_source_positions = 64;
  cfg.max_target_positions = 50;
  ef_batch_iter *it;
  char err[256];
  ck_assert_msg(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err) == 0, "%s", err);
  int *seen = malloc(ds.n * sizeof *seen);
  ef_batch_stats st;
  ef_batch_iter_stats(it, &st);
  int64_t too_long = 0;
  for (int64_t i = 0; i < ds.n; i++)
    too_long += ef_dataset_len(&ds.src, i) > 64 || ef_dataset_len(&ds.tgt, i) > 50;
  ck_assert_int_gt(too_long, 0);
  ck_assert_int_eq(st.n_too_long, too_long);
  ck_assert_int_eq(st.n_used, ds.n - too_long);
  for (int epoch = 1; epoch <= 3; epoch++) {
    ef_batch_iter_set_epoch(it, epoch);
    ck_assert_int_eq(check_epoch(it, &ds, &cfg, seen, NULL, 0), st.n_used);
  }
  free(seen);
  ef_batch_iter_free(it);
  ef_dataset_release(&ds);
}
END_TEST

static void epoch_order(const ef_dataset *ds, uint64_t seed, int epoch, int64_t *ids, int n) {
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  cfg.max_tokens = 500;
  cfg.seed = seed;
  ef_batch_iter *it;
  ck_assert_int_eq(ef_batch_iter_new(ds, &cfg, &it, NULL, 0), 0);
  ef_batch_iter_set_epoch(it, epoch);
  ef_batch b;
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(ef_batch_iter_next(it, &b), 1);
    ids[i] = b.ids[b.bsz - 1] * 100000 + b.bsz;
  }
  ef_batch_iter_free(it);
}

START_TEST(test_shuffling_is_deterministic_per_seed_and_differs_across_epochs) {
  ef_dataset ds;
  random_dataset(&ds, 1500, 11);
  enum { N = 20 };
  int64_t a[N], b[N], c[N], d[N];
  epoch_order(&ds, 1, 1, a, N);
  epoch_order(&ds, 1, 1, b, N);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
  epoch_order(&ds, 1, 2, c, N);
  ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
  epoch_order(&ds, 2, 1, d, N);
  ck_assert_int_ne(memcmp(a, d, sizeof a), 0);
  /* Without shuffle, batches come in length order, every epoch the same. */
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  cfg.max_tokens = 500;
  cfg.shuffle = 0;
  ef_batch_iter *it;
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &it, NULL, 0), 0);
  ef_batch bt;
  int64_t last = 0;
  while (ef_batch_iter_next(it, &bt)) {
    ck_assert_int_ge(bt.src_lengths[0], last);
    last = bt.src_lengths[0];
  }
  ef_batch_iter_free(it);
  ef_dataset_release(&ds);
}
END_TEST

/* Fingerprint of a batch's content. */
static uint64_t batch_hash(const ef_batch *b) {
  uint64_t h = 1469598103934665603ull;
  const int32_t *arrs[3] = {b->src_tokens, b->target, b->prev_output_tokens};
  int64_t lens[3] = {b->bsz * b->src_len, b->bsz * b->tgt_len, b->bsz * b->tgt_len};
  for (int a = 0; a < 3; a++)
    for (int64_t i = 0; i < lens[a]; i++) h = (h ^ (uint32_t)arrs[a][i]) * 1099511628211ull;
  return h;
}

START_TEST(test_restored_position_yields_identical_batches) {
  ef_dataset ds;
  random_dataset(&ds, 1200, 3);
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  cfg.max_tokens = 400;
  cfg.seed = 42;
  ef_batch_iter *a, *b;
  char err[256];
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &a, err, sizeof err), 0);
  ef_batch_stats st;
  ef_batch_iter_stats(a, &st);
  ef_batch x, y;
  /* Run into epoch 2, save mid-epoch. */
  while (ef_batch_iter_next(a, &x)) {
  }
  ef_batch_iter_set_epoch(a, 2);
  for (int i = 0; i < 7; i++) ck_assert_int_eq(ef_batch_iter_next(a, &x), 1);
  ef_batch_pos pos = ef_batch_iter_tell(a);
  ck_assert_int_eq(pos.epoch, 2);
  ck_assert_int_eq(pos.index, 7);
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &b, err, sizeof err), 0);
  ck_assert_msg(ef_batch_iter_seek(b, pos, err, sizeof err) == 0, "%s", err);
  int64_t compared = 0;
  for (int epoch = 2; epoch <= 3; epoch++) {
    for (;;) {
      int ra = ef_batch_iter_next(a, &x), rb = ef_batch_iter_next(b, &y);
      ck_assert_int_eq(ra, rb);
      if (!ra) break;
      ck_assert_int_eq(x.bsz, y.bsz);
      ck_assert_int_eq(memcmp(x.ids, y.ids, x.bsz * sizeof *x.ids), 0);
      ck_assert_uint_eq(batch_hash(&x), batch_hash(&y));
      compared++;
    }
    ef_batch_iter_set_epoch(a, epoch + 1);
    ef_batch_iter_set_epoch(b, epoch + 1);
  }
  ck_assert_int_eq(compared, 2 * st.n_batches - 7);
  /* A position from other batching options is refused. */
  ef_batch_iter *c;
  cfg.max_tokens = 300;
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &c, err, sizeof err), 0);
  ck_assert_int_ne(ef_batch_iter_seek(c, pos, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "dataset or the batching options changed"));
  pos = ef_batch_iter_tell(c);
  pos.index = pos.n_batches + 1;
  ck_assert_int_ne(ef_batch_iter_seek(c, pos, err, sizeof err), 0);
  ef_batch_iter_free(a);
  ef_batch_iter_free(b);
  ef_batch_iter_free(c);
  ef_dataset_release(&ds);
}
END_TEST

START_TEST(test_bad_config_and_oversized_pairs) {
  ef_dataset ds;
  random_dataset(&ds, 300, 5);
  ef_batch_config cfg;
  ef_batch_config_default(&cfg);
  ef_batch_iter *it;
  char err[256];
  ck_assert_int_ne(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err), 0);
  ck_assert_ptr_nonnull(strstr(err, "--max-tokens or --batch-size"));
  cfg.max_tokens = 40; /* pairs longer than 40 tokens cannot fit any batch */
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err), 0);
  ef_batch_stats st;
  ef_batch_iter_stats(it, &st);
  int64_t over = 0;
  for (int64_t i = 0; i < ds.n; i++)
    over += ef_dataset_len(&ds.src, i) > 40 || ef_dataset_len(&ds.tgt, i) > 40;
  ck_assert_int_eq(st.n_over_max_tokens, over);
  ck_assert_int_eq(st.n_used + over, ds.n);
  ef_batch_iter_free(it);
  /* batch_size alone */
  cfg.max_tokens = 0;
  cfg.batch_size = 16;
  ck_assert_int_eq(ef_batch_iter_new(&ds, &cfg, &it, err, sizeof err), 0);
  ef_batch b;
  int64_t total = 0;
  while (ef_batch_iter_next(it, &b)) {
    ck_assert_int_le(b.bsz, 16);
    total += b.bsz;
  }
  ck_assert_int_eq(total, ds.n);
  ef_batch_iter_free(it);
  /* an empty dataset gives an empty epoch */
  ef_dataset empty;
  ef_dataset_init(&empty);
  ck_assert_int_eq(ef_batch_iter_new(&empty, &cfg, &it, err, sizeof err), 0);
  ck_assert_int_eq(ef_batch_iter_next(it, &b), 0);
  ef_batch_iter_free(it);
  ef_dataset_release(&ds);
}
END_TEST

int main(void) {
  Suite *s = suite_create("batch");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_batch_by_size_matches_fairseq);
  tcase_add_test(tc, test_collate_layout_hand_checked);
  tcase_add_test(tc, test_every_pair_once_per_epoch_under_limits);
  tcase_add_test(tc, test_shuffling_is_deterministic_per_seed_and_differs_across_epochs);
  tcase_add_test(tc, test_restored_position_yields_identical_batches);
  tcase_add_test(tc, test_bad_config_and_oversized_pairs);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
