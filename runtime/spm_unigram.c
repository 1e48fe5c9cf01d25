/* runtime/spm_unigram.c: unigram segmentation (the Viterbi best path over all vocabulary pieces
 * that match the normalised text), reproducing sentencepiece's optimised unigram encoder: an
 * unknown character costs (lowest piece score - 10), user-defined symbols score
 * length * highest score - 0.1, ties keep the earlier candidate, and the scores are accumulated
 * with the same float/double mix so the same path wins.
 * It must never allocate more than O(n) for n bytes of input, nor read past s[n).
 */
#include "runtime/spm_internal.h"

#include <stdlib.h>

typedef struct best_node {
  float score;   /* best path score ending here */
  int32_t start; /* where the last piece of that path starts (-1: not reached) */
  int32_t id;
} best_node;

int spm_unigram_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks, char *err,
                       size_t errlen) {
  if (n == 0) return 0;
  if (n > (size_t)INT32_MAX - 1) {
    spm_errf(m, err, errlen, "normalised input of %zu bytes is too long", n);
    return -1;
  }
  best_node *best = malloc((n + 1) * sizeof *best);
  if (!best) {
    spm_errf(m, err, errlen, "out of memory for a %zu-byte lattice", n);
    return -1;
  }
  for (size_t i = 0; i <= n; i++) best[i] = (best_node){0.0f, -1, -1};
  const spm_trie *t = &m->vocab;
  const int32_t *base = t->base, *check = t->check, *value = t->value;
  const uint32_t tsize = t->size;
  const float unk_score = m->min_score - SPM_UNK_PENALTY;
  const float max_score = m->max_score;
  const spm_piece *pieces = m->pieces;
  size_t pos = 0;
  while (pos < n) {
    const float here = best[pos].score;
    size_t mblen = spm_char_len((unsigned char)s[pos]);
    if (mblen > n - pos) mblen = n - pos;
    int has_single = 0;
    int32_t node = 0;
    for (size_t k = pos; k < n; k++) {
      uint32_t nx = (uint32_t)base[node] + (unsigned char)s[k];
      if (nx >= tsize || check[nx] != node) break;
      node = (int32_t)nx;
      int32_t id = value[node];
      if (id < 0) continue;
      const spm_piece *p = &pieces[id];
      if (p->type == RT_SPM_UNUSED) continue;
      size_t length = k + 1 - pos;
      /* sentencepiece computes the user-symbol bonus in double and the sum in double, then
       * stores it in a float: keep that so ties and near-ties break the same way. */
      double sc = p->type == RT_SPM_USER_DEFINED ? (double)((float)length * max_score) - 0.1
                                                 : (double)p->score;
      double cand = sc + (double)here;
      best_node *tg = &best[k + 1];
      if (tg->start < 0 || cand > (double)tg->score) {
        tg->score = (float)cand;
        tg->start = (int32_t)pos;
        tg->id = id;
      }
      if (length == mblen) has_single = 1;
    }
    if (!has_single) {
      float cand = unk_score + here;
      best_node *tg = &best[pos + mblen];
      if (tg->start < 0 || cand > tg->score) {
        tg->score = cand;
        tg->start = (int32_t)pos;
        tg->id = m->unk_id;
      }
    }
    pos += mblen;
  }
  /* backtrack, then reverse in place */
  int count = 0;
  for (size_t end = n; end > 0;) {
    const best_node *b = &best[end];
    if (b->start < 0 || (size_t)b->start >= end) { /* unreachable for valid tries */
      free(best);
      spm_errf(m, err, errlen, "internal error: broken unigram lattice at byte %zu", end);
      return -1;
    }
    toks[count++] = (spm_tok){(uint32_t)b->start, (uint32_t)(end - (size_t)b->start), b->id};
    end = (size_t)b->start;
  }
  for (int i = 0, j = count - 1; i < j; i++, j--) {
    spm_tok tmp = toks[i];
    toks[i] = toks[j];
    toks[j] = tmp;
  }
  free(best);
  return count;
}
