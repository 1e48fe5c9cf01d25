/* data/batch.c: fairseq-style length-bucketed batching, per-epoch seeded shuffling, collation
 * into padded [B, S] / [B, T] arrays, and exact save/restore of the iterator position.
 * Semantics are documented in batch.h. It must never allocate after ef_batch_iter_new and
 * never yield a pair twice (or not at all) within an epoch. */
#include "data/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EF_BATCH_GOLDEN 0x9e3779b97f4a7c15ull /* splitmix64 increment */

struct ef_batch_iter {
  const ef_dataset *ds;
  ef_batch_config cfg;
  int32_t *src_len, *tgt_len; /* [n] lengths after truncation */
  int64_t *members;           /* [n_used] pair indices in length order, split into batches */
  int64_t *starts;            /* [nb + 1] batch k = members[starts[k] .. starts[k+1]) */
  int64_t *perm;              /* [nb] this epoch's batch order */
  int64_t nb;
  int64_t epoch, index;
  int64_t fingerprint;
  ef_batch_stats stats;
  /* collate buffers, sized to the largest batch */
  int32_t *src_tokens, *prev_output_tokens, *target, *src_lengths;
  int64_t *ids;
  struct row {
    int32_t slen;
    int32_t pos;
  } * rows;
};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += EF_BATCH_GOLDEN);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n) without modulo bias. */
static uint64_t below(uint64_t *s, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n, r;
  do r = splitmix64(s);
  while (r >= limit);
  return r % n;
}

static void shuffle_i64(int64_t *a, int64_t n, uint64_t *s) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)below(s, (uint64_t)i + 1);
    int64_t t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

void ef_batch_config_default(ef_batch_config *c) {
  memset(c, 0, sizeof *c);
  c->required_batch_size_multiple = EF_BATCH_DEFAULT_MULTIPLE;
  c->max_source_positions = EF_BATCH_DEFAULT_MAX_POSITIONS;
  c->max_target_positions = EF_BATCH_DEFAULT_MAX_POSITIONS;
  c->shuffle = 1;
  c->seed = EF_BATCH_DEFAULT_SEED;
}

typedef struct {
  int32_t src, tgt;
  int64_t tie, idx;
} sort_key;

static int cmp_key(const void *a, const void *b) {
  const sort_key *x = a, *y = b;
  if (x->src != y->src) return x->src < y->src ? -1 : 1;
  if (x->tgt != y->tgt) return x->tgt < y->tgt ? -1 : 1;
  return (x->tie > y->tie) - (x->tie < y->tie);
}

/* fairseq data_utils_fast.pyx batch_by_size_vec, ported line by line. */
int64_t ef_batch_by_size(const int64_t *ntok, int64_t n, int64_t max_tokens, int64_t max_sentences,
                         int64_t bsz_mult, int64_t *ends) {
  if (n == 0) return 0;
  memset(ends, 0, (size_t)(n + 1) * sizeof *ends);
  int64_t batch_start = 0, count = 0, tail_max = 0, batch_max = 0;
  for (int64_t pos = 0; pos < n; pos++) {
    tail_max = tail_max > ntok[pos] ? tail_max : ntok[pos];
    int64_t new_end = pos + 1;
    int64_t new_max = batch_max > tail_max ? batch_max : tail_max;
    int64_t new_sentences = new_end - batch_start;
    int64_t new_tokens = new_sentences * new_max;
    int overflow = (max_sentences > 0 && new_sentences > max_sentences) ||
                   (max_tokens > 0 && new_tokens > max_tokens);
    int size_matches = new_sentences < bsz_mult || new_sentences % bsz_mult == 0;
    if (overflow) {
      int64_t tail_tokens = tail_max * (new_end - ends[count]);
      if (max_tokens > 0 && tail_tokens > max_tokens) {
        count++;
        ends[count] = pos;
        tail_max = ntok[pos];
      }
      batch_start = ends[count];
      count++;
      new_max = tail_max;
    }
    if (overflow || size_matches) {
      ends[count] = new_end;
      batch_max = new_max;
      tail_max = 0;
    }
  }
  if (ends[count] != n) count++;
  /* np.split(indices, ends[:count]): pieces end at ends[0..count-1], the last one at n. */
  ends[count] = n;
  return count + 1;
}

static uint64_t fnv_mix(uint64_t h, int64_t v) {
  for (int i = 0; i < 8; i++) h = (h ^ (uint64_t)((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  return h;
}

void ef_batch_iter_free(ef_batch_iter *it) {
  if (!it) return;
  free(it->src_len);
  free(it->tgt_len);
  free(it->members);
  free(it->starts);
  free(it->perm);
  free(it->src_tokens);
  free(it->prev_output_tokens);
  free(it->target);
  free(it->src_lengths);
  free(it->ids);
  free(it->rows);
  free(it);
}

int ef_batch_iter_new(const ef_dataset *ds, const ef_batch_config *cfg, ef_batch_iter **out,
                      char *err, size_t errlen) {
  *out = NULL;
  if (cfg->max_tokens <= 0 && cfg->batch_size <= 0) {
    set_err(err, errlen, "batching needs --max-tokens or --batch-size");
    return 1;
  }
  if (cfg->required_batch_size_multiple < 1 || cfg->max_source_positions < 2 ||
      cfg->max_target_positions < 1) {
    set_err(err, errlen,
            "batching: --required-batch-size-multiple must be >= 1, --max-source-positions >= 2 "
            "and --max-target-positions >= 1");
    return 1;
  }
  ef_batch_iter *it = calloc(1, sizeof *it);
  int64_t n = ds->n;
  sort_key *keys = NULL;
  int64_t *ntok = NULL, *ends = NULL;
  if (!it) goto oom;
  it->ds = ds;
  it->cfg = *cfg;
  it->stats.n_pairs = n;
  size_t n1 = (size_t)(n > 0 ? n : 1);
  it->src_len = malloc(n1 * sizeof *it->src_len);
  it->tgt_len = malloc(n1 * sizeof *it->tgt_len);
  keys = malloc(n1 * sizeof *keys);
  if (!it->src_len || !it->tgt_len || !keys) goto oom;

  /* Lengths, filtering, and the sort keys of the kept pairs. */
  int64_t kept = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t sl = ef_dataset_len(&ds->src, i), tl = ef_dataset_len(&ds->tgt, i);
    if (sl > cfg->max_source_positions && cfg->truncate_source) {
      sl = cfg->max_source_positions;
      it->stats.n_truncated++;
    }
    it->src_len[i] = (int32_t)(sl < INT32_MAX ? sl : INT32_MAX);
    it->tgt_len[i] = (int32_t)(tl < INT32_MAX ? tl : INT32_MAX);
    if (sl > cfg->max_source_positions || tl > cfg->max_target_positions) {
      it->stats.n_too_long++;
      continue;
    }
    if (cfg->max_tokens > 0 && (sl > tl ? sl : tl) > cfg->max_tokens) {
      it->stats.n_over_max_tokens++;
      continue;
    }
    keys[kept++] = (sort_key){it->src_len[i], it->tgt_len[i], i, i};
  }
  if (cfg->shuffle && kept > 1) {
    /* Tie-breaking permutation from the seed (fairseq: np.random.permutation under
     * numpy_seed(seed), then stable sorts by target then source length). */
    int64_t *perm = malloc((size_t)kept * sizeof *perm);
    if (!perm) goto oom;
    for (int64_t i = 0; i < kept; i++) perm[i] = i;
    uint64_t s = cfg->seed;
    shuffle_i64(perm, kept, &s);
    for (int64_t i = 0; i < kept; i++) keys[i].tie = perm[i];
    free(perm);
  }
  qsort(keys, (size_t)kept, sizeof *keys, cmp_key);

  size_t k1 = (size_t)(kept > 0 ? kept : 1);
  it->members = malloc(k1 * sizeof *it->members);
  ntok = malloc(k1 * sizeof *ntok);
  ends = malloc((k1 + 1) * sizeof *ends);
  if (!it->members || !ntok || !ends) goto oom;
  for (int64_t i = 0; i < kept; i++) {
    it->members[i] = keys[i].idx;
    ntok[i] = keys[i].src > keys[i].tgt ? keys[i].src : keys[i].tgt;
  }
  free(keys);
  keys = NULL;
  int64_t nb = ef_batch_by_size(ntok, kept, cfg->max_tokens, cfg->batch_size,
                                cfg->required_batch_size_multiple, ends);
  it->starts = malloc((size_t)(nb + 1) * sizeof *it->starts);
  it->perm = malloc((size_t)(nb > 0 ? nb : 1) * sizeof *it->perm);
  if (!it->starts || !it->perm) goto oom;
  /* Keep non-empty pieces only (empty ones cannot occur after filtering; be safe anyway). */
  int64_t prev = 0, b = 0;
  it->starts[0] = 0;
  for (int64_t k = 0; k < nb; k++) {
    if (ends[k] <= prev) continue;
    it->starts[++b] = ends[k];
    prev = ends[k];
  }
  it->nb = b;
  free(ntok);
  free(ends);
  ntok = ends = NULL;

  /* Buffer sizes and the fingerprint. */
  uint64_t h = 1469598103934665603ull;
  int64_t max_b = 1, max_s = 1, max_t = 1;
  for (int64_t k = 0; k < it->nb; k++) {
    int64_t bsz = it->starts[k + 1] - it->starts[k];
    max_b = bsz > max_b ? bsz : max_b;
    h = fnv_mix(h, bsz);
    for (int64_t j = it->starts[k]; j < it->starts[k + 1]; j++) {
      int64_t p = it->members[j];
      max_s = it->src_len[p] > max_s ? it->src_len[p] : max_s;
      max_t = it->tgt_len[p] > max_t ? it->tgt_len[p] : max_t;
      h = fnv_mix(h, p);
    }
  }
  it->fingerprint = (int64_t)(h >> 1);
  it->stats.n_used = kept;
  it->stats.n_batches = it->nb;
  it->stats.max_bsz = max_b;
  /* The buffers hold the largest B and the longest S and T; a batch uses B*S <= this. */
  int64_t cap_s = 0, cap_t = 0;
  for (int64_t k = 0; k < it->nb; k++) {
    int64_t bsz = it->starts[k + 1] - it->starts[k], s = 0, t = 0;
    for (int64_t j = it->starts[k]; j < it->starts[k + 1]; j++) {
      int64_t p = it->members[j];
      s = it->src_len[p] > s ? it->src_len[p] : s;
      t = it->tgt_len[p] > t ? it->tgt_len[p] : t;
    }
    cap_s = bsz * s > cap_s ? bsz * s : cap_s;
    cap_t = bsz * t > cap_t ? bsz * t : cap_t;
  }
  it->stats.max_src_len = max_s;
  it->stats.max_tgt_len = max_t;
  it->src_tokens = malloc((size_t)(cap_s > 0 ? cap_s : 1) * sizeof *it->src_tokens);
  it->prev_output_tokens = malloc((size_t)(cap_t > 0 ? cap_t : 1) * sizeof(int32_t));
  it->target = malloc((size_t)(cap_t > 0 ? cap_t : 1) * sizeof(int32_t));
  it->src_lengths = malloc((size_t)max_b * sizeof(int32_t));
  it->ids = malloc((size_t)max_b * sizeof(int64_t));
  it->rows = malloc((size_t)max_b * sizeof *it->rows);
  if (!it->src_tokens || !it->prev_output_tokens || !it->target || !it->src_lengths || !it->ids ||
      !it->rows)
    goto oom;
  ef_batch_iter_set_epoch(it, 1);
  *out = it;
  return 0;
oom:
  free(keys);
  free(ntok);
  free(ends);
  ef_batch_iter_free(it);
  set_err(err, errlen, "out of memory building batches over %lld pairs", (long long)n);
  return 1;
}

void ef_batch_iter_stats(const ef_batch_iter *it, ef_batch_stats *st) { *st = it->stats; }

void ef_batch_iter_set_epoch(ef_batch_iter *it, int64_t epoch) {
  it->epoch = epoch;
  it->index = 0;
  for (int64_t k = 0; k < it->nb; k++) it->perm[k] = k;
  if (it->cfg.shuffle) {
    /* fairseq shuffles the batch list under numpy_seed(seed + epoch). */
    uint64_t s = it->cfg.seed * EF_BATCH_GOLDEN + (uint64_t)epoch;
    (void)splitmix64(&s);
    shuffle_i64(it->perm, it->nb, &s);
  }
}

static int cmp_row(const void *a, const void *b) {
  const struct row *x = a, *y = b;
  if (x->slen != y->slen) return x->slen > y->slen ? -1 : 1; /* longest source first */
  return (x->pos > y->pos) - (x->pos < y->pos);              /* stable */
}

int ef_batch_iter_next(ef_batch_iter *it, ef_batch *b) {
  if (it->index >= it->nb) return 0;
  int64_t k = it->perm[it->index++];
  const int64_t *m = it->members + it->starts[k];
  int64_t bsz = it->starts[k + 1] - it->starts[k], S = 0, T = 0;
  for (int64_t r = 0; r < bsz; r++) {
    it->rows[r] = (struct row){it->src_len[m[r]], (int32_t)r};
    S = it->src_len[m[r]] > S ? it->src_len[m[r]] : S;
    T = it->tgt_len[m[r]] > T ? it->tgt_len[m[r]] : T;
  }
  qsort(it->rows, (size_t)bsz, sizeof *it->rows, cmp_row);
  const ef_dataset *ds = it->ds;
  int64_t ntok = 0, nsrc = 0;
  for (int64_t r = 0; r < bsz; r++) {
    int64_t p = m[it->rows[r].pos];
    int64_t sl = it->src_len[p], tl = it->tgt_len[p];
    const int32_t *src = ds->src.tokens + ds->src.offsets[p];
    const int32_t *tgt = ds->tgt.tokens + ds->tgt.offsets[p];
    int32_t *srow = it->src_tokens + r * S, *prow = it->prev_output_tokens + r * T,
            *trow = it->target + r * T;
    for (int64_t j = 0; j < S - sl; j++) srow[j] = EF_DICT_PAD;
    if (sl < ef_dataset_len(&ds->src, p)) { /* truncated: first sl-1 tokens, then </s> */
      memcpy(srow + S - sl, src, (size_t)(sl - 1) * sizeof *src);
      srow[S - 1] = EF_DICT_EOS;
    } else {
      memcpy(srow + S - sl, src, (size_t)sl * sizeof *src);
    }
    memcpy(trow, tgt, (size_t)tl * sizeof *tgt);
    prow[0] = EF_DICT_EOS; /* the final </s> moved to the front */
    memcpy(prow + 1, tgt, (size_t)(tl - 1) * sizeof *tgt);
    for (int64_t j = tl; j < T; j++) trow[j] = prow[j] = EF_DICT_PAD;
    it->src_lengths[r] = (int32_t)sl;
    it->ids[r] = p;
    ntok += tl;
    nsrc += sl;
  }
  *b = (ef_batch){.bsz = bsz,
                  .src_len = S,
                  .tgt_len = T,
                  .src_tokens = it->src_tokens,
                  .src_lengths = it->src_lengths,
                  .prev_output_tokens = it->prev_output_tokens,
                  .target = it->target,
                  .ids = it->ids,
                  .ntokens = ntok,
                  .nsrc_tokens = nsrc};
  return 1;
}

ef_batch_pos ef_batch_iter_tell(const ef_batch_iter *it) {
  return (ef_batch_pos){it->epoch, it->index, it->nb, it->fingerprint};
}

int ef_batch_iter_seek(ef_batch_iter *it, ef_batch_pos pos, char *err, size_t errlen) {
  if (pos.n_batches != it->nb || pos.fingerprint != it->fingerprint) {
    set_err(err, errlen,
            "saved data position belongs to other batches (%lld batches, fingerprint %llx; these "
            "are %lld, %llx): the dataset or the batching options changed",
            (long long)pos.n_batches, (unsigned long long)pos.fingerprint, (long long)it->nb,
            (unsigned long long)it->fingerprint);
    return 1;
  }
  if (pos.epoch < 1 || pos.index < 0 || pos.index > it->nb) {
    set_err(err, errlen, "saved data position (epoch %lld, batch %lld) is out of range",
            (long long)pos.epoch, (long long)pos.index);
    return 1;
  }
  ef_batch_iter_set_epoch(it, pos.epoch);
  it->index = pos.index;
  return 0;
}

const int64_t *ef_batch_iter_members(const ef_batch_iter *it, int64_t k, int64_t *n) {
  if (k < 0 || k >= it->nb) {
    *n = 0;
    return NULL;
  }
  *n = it->starts[k + 1] - it->starts[k];
  return it->members + it->starts[k];
}
