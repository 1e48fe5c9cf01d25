/* runtime/spm_bpe.c: BPE segmentation as sentencepiece's bpe::Model does it: start from
 * characters (user-defined symbols are single frozen symbols), repeatedly merge the adjacent
 * pair whose concatenation is the highest-scoring vocabulary piece (leftmost on ties), and
 * finally split merged pieces of type UNUSED back into the pieces they were made of.
 * It must never allocate inside the merge loop (one block per call) nor read past s[n).
 */
#include "runtime/spm_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct bpe_sym {
  uint32_t start, len;
  int32_t prev, next; /* -1 at the ends */
  int frozen;
} bpe_sym;

typedef struct bpe_pair {
  float score;
  int32_t left, right;
  uint32_t size; /* bytes of the merged piece, to detect stale entries */
} bpe_pair;

/* A merge of an UNUSED piece, remembered to undo it at the end (last one wins, as in
 * sentencepiece's rev_merge map keyed by the piece string). */
typedef struct bpe_unmerge {
  uint32_t start, len, left_len;
} bpe_unmerge;

typedef struct bpe_state {
  const rt_spm *m;
  const char *s;
  bpe_sym *sym;
  bpe_pair *heap;
  size_t nheap;
  bpe_unmerge *um;
  size_t num;
} bpe_state;

static inline int pair_better(const bpe_pair *a, const bpe_pair *b) {
  return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(bpe_state *st, bpe_pair p) {
  size_t i = st->nheap++;
  while (i > 0) {
    size_t up = (i - 1) / 2;
    if (!pair_better(&p, &st->heap[up])) break;
    st->heap[i] = st->heap[up];
    i = up;
  }
  st->heap[i] = p;
}

static bpe_pair heap_pop(bpe_state *st) {
  bpe_pair top = st->heap[0], last = st->heap[--st->nheap];
  size_t i = 0, n = st->nheap;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && pair_better(&st->heap[c + 1], &st->heap[c])) c++;
    if (!pair_better(&st->heap[c], &last)) break;
    st->heap[i] = st->heap[c];
    i = c;
  }
  if (n > 0) st->heap[i] = last;
  return top;
}

static void maybe_add_pair(bpe_state *st, int32_t left, int32_t right) {
  if (left < 0 || right < 0) return;
  const bpe_sym *l = &st->sym[left], *r = &st->sym[right];
  if (l->frozen || r->frozen) return;
  uint32_t size = l->len + r->len;
  int id = spm_hash_find(st->m, &st->m->normal, st->s + l->start, size);
  if (id < 0) return;
  const spm_piece *p = &st->m->pieces[id];
  heap_push(st, (bpe_pair){p->score, left, right, size});
  if (p->type == RT_SPM_UNUSED) st->um[st->num++] = (bpe_unmerge){l->start, size, l->len};
}

static const bpe_unmerge *find_unmerge(const bpe_state *st, uint32_t start, uint32_t len) {
  for (size_t i = st->num; i-- > 0;) {
    const bpe_unmerge *u = &st->um[i];
    if (u->len == len && memcmp(st->s + u->start, st->s + start, len) == 0) return u;
  }
  return NULL;
}

static int piece_id(const rt_spm *m, const char *s, size_t len) {
  int id = spm_lookup(m, s, len);
  return id >= 0 ? id : m->unk_id;
}

/* Emits the piece s[start, start+len), splitting UNUSED merges recursively (explicit stack:
 * spans are pushed right part first). Returns the new count. */
static int emit(const bpe_state *st, uint32_t start, uint32_t len, spm_tok *toks, int count,
                uint32_t *stack) {
  size_t top = 0;
  stack[top++] = start;
  stack[top++] = len;
  while (top > 0) {
    uint32_t l = stack[--top], b = stack[--top];
    int id = piece_id(st->m, st->s + b, l);
    const bpe_unmerge *u = NULL;
    if (st->m->pieces[id].type == RT_SPM_UNUSED) u = find_unmerge(st, b, l);
    if (!u) {
      toks[count++] = (spm_tok){b, l, id};
      continue;
    }
    stack[top++] = b + u->left_len;
    stack[top++] = l - u->left_len;
    stack[top++] = b;
    stack[top++] = u->left_len;
  }
  return count;
}

int spm_bpe_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks, char *err,
                   size_t errlen) {
  if (n == 0) return 0;
  if (n > (size_t)INT32_MAX / 4) {
    spm_errf(m, err, errlen, "normalised input of %zu bytes is too long", n);
    return -1;
  }
  /* one block: n symbols, 3n heap entries (n-1 initial pairs + 2 per merge), 2n unmerge
   * records (one per push), and a 2n-word stack for emit (depth <= piece bytes) */
  size_t bytes = n * sizeof(bpe_sym) + 3 * n * sizeof(bpe_pair) + 3 * n * sizeof(bpe_unmerge) +
                 4 * (n + 1) * sizeof(uint32_t);
  char *block = malloc(bytes);
  if (!block) {
    spm_errf(m, err, errlen, "out of memory for BPE over %zu bytes", n);
    return -1;
  }
  bpe_state st = {m, s, NULL, NULL, 0, NULL, 0};
  st.heap = (bpe_pair *)block;
  st.sym = (bpe_sym *)(block + 3 * n * sizeof(bpe_pair));
  st.um = (bpe_unmerge *)((char *)st.sym + n * sizeof(bpe_sym));
  uint32_t *stack = (uint32_t *)((char *)st.um + 3 * n * sizeof(bpe_unmerge));

  int32_t nsym = 0;
  for (size_t pos = 0; pos < n;) {
    size_t ul = spm_user_prefix(m, s + pos, n - pos), len = ul;
    if (!len) {
      len = spm_char_len((unsigned char)s[pos]);
      if (len > n - pos) len = n - pos;
    }
    st.sym[nsym] = (bpe_sym){(uint32_t)pos, (uint32_t)len, nsym - 1, -1, ul > 0};
    if (nsym > 0) st.sym[nsym - 1].next = nsym;
    nsym++;
    pos += len;
  }
  for (int32_t i = 1; i < nsym; i++) maybe_add_pair(&st, i - 1, i);

  while (st.nheap > 0) {
    bpe_pair top = heap_pop(&st);
    bpe_sym *l = &st.sym[top.left], *r = &st.sym[top.right];
    if (l->len == 0 || r->len == 0 || l->len + r->len != top.size) continue; /* stale */
    l->len += r->len;
    l->next = r->next;
    if (r->next >= 0) st.sym[r->next].prev = top.left;
    r->len = 0;
    maybe_add_pair(&st, l->prev, top.left);
    maybe_add_pair(&st, top.left, l->next);
  }

  int count = 0;
  for (int32_t i = 0; i >= 0 && nsym > 0; i = st.sym[i].next)
    count = emit(&st, st.sym[i].start, st.sym[i].len, toks, count, stack);
  free(block);
  return count;
}
