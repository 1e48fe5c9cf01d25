/* runtime/spm_model.c: loading a SentencePiece `.model` file (a serialized ModelProto) into an
 * rt_spm: parsing the protobuf, validating it the way sentencepiece's ModelInterface does, and
 * building the lookup structures (piece hash tables, vocabulary trie, user-symbol trie).
 * It must never trust a length or offset from the file before checking it, and never leave a
 * half-built model behind: on failure everything allocated is freed and one message is written.
 */
#include "runtime/spm_internal.h"

#include "runtime/protobuf.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPM_DEFAULT_UNK_SURFACE " \xE2\x81\x87 "
#define SPM_MAX_ERR_PIECE 40 /* bytes of a piece quoted in an error message */

/* ModelProto field numbers (sentencepiece_model.proto). */
enum { MP_PIECES = 1, MP_TRAINER = 2, MP_NORMALIZER = 3, MP_DENORMALIZER = 5 };
enum { SP_PIECE = 1, SP_SCORE = 2, SP_TYPE = 3 };
enum {
  TS_MODEL_TYPE = 3,
  TS_TREAT_WS_AS_SUFFIX = 24,
  TS_BYTE_FALLBACK = 35,
  TS_UNK_SURFACE = 44,
  TS_BOS_PIECE = 46,
  TS_EOS_PIECE = 47,
  TS_PAD_PIECE = 48
};
enum { NS_NAME = 1, NS_CHARSMAP = 2, NS_DUMMY = 3, NS_EXTRA_WS = 4, NS_ESCAPE_WS = 5 };

void spm_errf(const rt_spm *m, char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  int k = snprintf(err, errlen, "%s: ", m && m->name[0] ? m->name : "<memory>");
  if (k < 0 || (size_t)k >= errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
  va_end(ap);
}

int spm_buf_reserve(spm_buf *b, size_t extra) {
  if (b->cap - b->len >= extra) return 0;
  size_t want = b->len + extra, cap = b->cap ? b->cap : 64;
  while (cap < want) {
    if (cap > SIZE_MAX / 2) return -1;
    cap *= 2;
  }
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

/* ---- hash table of piece strings ---- */

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

static int hash_init(spm_hash *h, int count) {
  uint32_t cap = 16;
  while (cap < (uint32_t)count * 2u) cap *= 2;
  h->slots = calloc(cap, sizeof *h->slots);
  h->mask = cap - 1;
  return h->slots ? 0 : -1;
}

int spm_hash_find(const rt_spm *m, const spm_hash *h, const char *s, size_t len) {
  if (!h->slots) return -1;
  for (uint32_t i = (uint32_t)hash_bytes(s, len) & h->mask;; i = (i + 1) & h->mask) {
    int32_t v = h->slots[i];
    if (v == 0) return -1;
    const spm_piece *p = &m->pieces[v - 1];
    if (p->len == len && memcmp(m->pool + p->off, s, len) == 0) return v - 1;
  }
}

/* Inserts id; returns the id already holding the same string, or -1 when inserted. */
static int hash_insert(const rt_spm *m, spm_hash *h, int id) {
  const spm_piece *p = &m->pieces[id];
  const char *s = m->pool + p->off;
  for (uint32_t i = (uint32_t)hash_bytes(s, p->len) & h->mask;; i = (i + 1) & h->mask) {
    int32_t v = h->slots[i];
    if (v == 0) {
      h->slots[i] = id + 1;
      return -1;
    }
    const spm_piece *q = &m->pieces[v - 1];
    if (q->len == p->len && memcmp(m->pool + q->off, s, p->len) == 0) return v - 1;
  }
}

int spm_lookup(const rt_spm *m, const char *s, size_t len) {
  int id = spm_hash_find(m, &m->reserved, s, len);
  return id >= 0 ? id : spm_hash_find(m, &m->normal, s, len);
}

/* ---- base/check double-array trie ---- */

typedef struct trie_key {
  const char *s;
  uint32_t len;
  int32_t value;
} trie_key;

static int key_cmp(const void *a, const void *b) {
  const trie_key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

static int trie_grow(spm_trie *t, size_t need) {
  if (need <= t->size) return 0;
  if (need > (size_t)INT32_MAX) return -1;
  size_t cap = t->size ? t->size : 256;
  while (cap < need) cap *= 2;
  if (cap > (size_t)INT32_MAX) cap = (size_t)INT32_MAX;
  int32_t *b = realloc(t->base, cap * sizeof *b);
  if (b) t->base = b;
  int32_t *c = realloc(t->check, cap * sizeof *c);
  if (c) t->check = c;
  int32_t *v = realloc(t->value, cap * sizeof *v);
  if (v) t->value = v;
  if (!b || !c || !v) return -1;
  for (size_t i = t->size; i < cap; i++) {
    t->base[i] = 0;
    t->check[i] = -1;
    t->value[i] = -1;
  }
  t->size = (uint32_t)cap;
  return 0;
}

/* Percentage of taken cells in a searched stretch above which base searches skip it. */
#define TRIE_DENSE_PERCENT 95

typedef struct trie_job {
  int32_t node;
  uint32_t lo, hi, depth;
} trie_job;

/* Builds t from keys (sorted here). Iterative, so long keys cannot exhaust the stack. */
static int trie_build(spm_trie *t, trie_key *keys, size_t nkeys) {
  memset(t, 0, sizeof *t);
  if (trie_grow(t, 256) != 0) return -1;
  t->check[0] = -2; /* the root belongs to nobody */
  if (nkeys == 0) return 0;
  qsort(keys, nkeys, sizeof *keys, key_cmp);
  trie_job *stack = malloc((nkeys + 1) * sizeof *stack);
  if (!stack) return -1;
  size_t top = 0, first_free = 1;
  stack[top++] = (trie_job){0, 0, (uint32_t)nkeys, 0};
  int rc = 0;
  while (top > 0 && rc == 0) {
    trie_job j = stack[--top];
    uint32_t lo = j.lo;
    if (keys[lo].len == j.depth) t->value[j.node] = keys[lo++].value;
    if (lo >= j.hi) continue;
    /* distinct labels at this depth, in order */
    unsigned char labels[256];
    uint32_t starts[257];
    int nl = 0;
    for (uint32_t i = lo; i < j.hi; i++) {
      unsigned char c = (unsigned char)keys[i].s[j.depth];
      if (nl == 0 || labels[nl - 1] != c) {
        labels[nl] = c;
        starts[nl++] = i;
      }
    }
    starts[nl] = j.hi;
    /* Search a base from the first free cell on. When the stretch searched was nearly all
     * taken, later searches start past it for good (darts' heuristic; the few free cells left
     * behind stay unused): without this every node rescans the same full cells and building a
     * vocabulary of n pieces takes time quadratic in n. */
    while (first_free < t->size && t->check[first_free] != -1) first_free++;
    size_t b = first_free > labels[0] ? first_free - labels[0] : 1;
    if (b < 1) b = 1;
    size_t taken = 0, start = b;
    for (;; b++) {
      if (trie_grow(t, b + 256) != 0) {
        rc = -1;
        break;
      }
      int ok = t->check[b + labels[0]] == -1;
      taken += !ok;
      for (int k = 1; k < nl && ok; k++) ok = t->check[b + labels[k]] == -1;
      if (ok) break;
    }
    if (rc) break;
    if (taken * 100 >= (b - start + 1) * TRIE_DENSE_PERCENT) first_free = b + labels[0];
    t->base[j.node] = (int32_t)b;
    for (int k = 0; k < nl; k++) t->check[b + labels[k]] = j.node;
    /* push children in reverse so they are built in label order */
    for (int k = nl - 1; k >= 0; k--)
      stack[top++] = (trie_job){(int32_t)(b + labels[k]), starts[k], starts[k + 1], j.depth + 1};
  }
  free(stack);
  return rc;
}

static void trie_free(spm_trie *t) {
  free(t->base);
  free(t->check);
  free(t->value);
  memset(t, 0, sizeof *t);
}

size_t spm_user_prefix(const rt_spm *m, const char *s, size_t len) {
  if (!m->has_user) return 0;
  const spm_trie *t = &m->user;
  int32_t node = 0;
  size_t best = 0;
  for (size_t i = 0; i < len; i++) {
    uint32_t c = (unsigned char)s[i];
    uint32_t nx = (uint32_t)t->base[node] + c;
    if (nx >= t->size || t->check[nx] != node) break;
    node = (int32_t)nx;
    if (t->value[node] >= 0) best = i + 1;
  }
  return best;
}

/* ---- protobuf parsing ---- */

typedef struct raw_piece {
  const uint8_t *s;
  size_t len;
  float score;
  int type;
} raw_piece;

typedef struct raw_model {
  size_t npieces;
  int model_type, byte_fallback, suffix;
  const uint8_t *unk_surface;
  size_t unk_surface_len;
  int has_unk_surface;
  const uint8_t *pieces_str[3]; /* bos, eos, pad */
  size_t pieces_len[3];
} raw_model;

#define WANT(f, wt, what)                                                                          \
  do {                                                                                             \
    if ((f).wire_type != (wt)) {                                                                   \
      spm_errf(m, err, errlen, "%s has wire type %d, expected %d", what, (f).wire_type, wt);       \
      return -1;                                                                                   \
    }                                                                                              \
  } while (0)

static int parse_piece(rt_spm *m, const uint8_t *data, size_t len, size_t index, raw_piece *out,
                       char *err, size_t errlen) {
  rt_pb_reader r;
  rt_pb_field f;
  char msg[160];
  int st;
  rt_pb_reader_init(&r, data, len);
  out->s = NULL;
  out->len = 0;
  out->score = 0;
  out->type = RT_SPM_NORMAL;
  while ((st = rt_pb_next(&r, &f, msg, sizeof msg)) == RT_PB_OK) {
    if (f.number == SP_PIECE) {
      WANT(f, RT_PB_BYTES, "piece string");
      out->s = f.data;
      out->len = f.len;
    } else if (f.number == SP_SCORE) {
      WANT(f, RT_PB_FIXED32, "piece score");
      out->score = rt_pb_as_float(&f);
    } else if (f.number == SP_TYPE) {
      WANT(f, RT_PB_VARINT, "piece type");
      out->type = (int)rt_pb_as_int32(&f);
    }
  }
  if (st == RT_PB_ERROR) {
    spm_errf(m, err, errlen, "piece %zu: %s", index, msg);
    return -1;
  }
  return 0;
}

static int parse_normalizer(rt_spm *m, const uint8_t *data, size_t len, spm_normalizer *nz,
                            const char *what, char *err, size_t errlen) {
  rt_pb_reader r;
  rt_pb_field f;
  char msg[160];
  int st;
  rt_pb_reader_init(&r, data, len);
  while ((st = rt_pb_next(&r, &f, msg, sizeof msg)) == RT_PB_OK) {
    switch (f.number) {
    case NS_CHARSMAP: {
      WANT(f, RT_PB_BYTES, "precompiled_charsmap");
      free(nz->units);
      nz->units = NULL;
      nz->nunits = 0;
      nz->strings = NULL;
      nz->strings_len = 0;
      if (f.len == 0) break;
      /* <trie size: uint32 LE><darts-clone units><NUL-terminated replacement strings> */
      if (f.len <= 4) {
        spm_errf(m, err, errlen, "%s precompiled_charsmap is %zu bytes, too short", what, f.len);
        return -1;
      }
      uint32_t tsize = (uint32_t)f.data[0] | (uint32_t)f.data[1] << 8 | (uint32_t)f.data[2] << 16 |
                       (uint32_t)f.data[3] << 24;
      if (tsize >= f.len - 4 || tsize % 4 != 0 || tsize == 0) {
        spm_errf(m, err, errlen,
                 "%s precompiled_charsmap: trie size %u does not fit the %zu-byte blob", what,
                 tsize, f.len);
        return -1;
      }
      nz->nunits = tsize / 4;
      nz->units = malloc(tsize);
      if (!nz->units) {
        spm_errf(m, err, errlen, "out of memory");
        return -1;
      }
      for (size_t i = 0; i < nz->nunits; i++) {
        const uint8_t *p = f.data + 4 + 4 * i;
        nz->units[i] =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      }
      nz->strings = (const char *)f.data + 4 + tsize;
      nz->strings_len = f.len - 4 - tsize;
      if (nz->strings[nz->strings_len - 1] != '\0') {
        spm_errf(m, err, errlen,
                 "%s precompiled_charsmap: replacement strings are not NUL-terminated", what);
        return -1;
      }
      break;
    }
    case NS_DUMMY:
      WANT(f, RT_PB_VARINT, "add_dummy_prefix");
      nz->add_dummy_prefix = rt_pb_as_bool(&f);
      break;
    case NS_EXTRA_WS:
      WANT(f, RT_PB_VARINT, "remove_extra_whitespaces");
      nz->remove_extra_whitespaces = rt_pb_as_bool(&f);
      break;
    case NS_ESCAPE_WS:
      WANT(f, RT_PB_VARINT, "escape_whitespaces");
      nz->escape_whitespaces = rt_pb_as_bool(&f);
      break;
    default:
      break; /* name, normalization_rule_tsv, extensions: not needed */
    }
  }
  if (st == RT_PB_ERROR) {
    spm_errf(m, err, errlen, "%s: %s", what, msg);
    return -1;
  }
  return 0;
}

static int parse_trainer(rt_spm *m, const uint8_t *data, size_t len, raw_model *rm, char *err,
                         size_t errlen) {
  rt_pb_reader r;
  rt_pb_field f;
  char msg[160];
  int st;
  rt_pb_reader_init(&r, data, len);
  while ((st = rt_pb_next(&r, &f, msg, sizeof msg)) == RT_PB_OK) {
    switch (f.number) {
    case TS_MODEL_TYPE:
      WANT(f, RT_PB_VARINT, "trainer_spec.model_type");
      rm->model_type = (int)rt_pb_as_int32(&f);
      break;
    case TS_TREAT_WS_AS_SUFFIX:
      WANT(f, RT_PB_VARINT, "trainer_spec.treat_whitespace_as_suffix");
      rm->suffix = rt_pb_as_bool(&f);
      break;
    case TS_BYTE_FALLBACK:
      WANT(f, RT_PB_VARINT, "trainer_spec.byte_fallback");
      rm->byte_fallback = rt_pb_as_bool(&f);
      break;
    case TS_UNK_SURFACE:
      WANT(f, RT_PB_BYTES, "trainer_spec.unk_surface");
      rm->unk_surface = f.data;
      rm->unk_surface_len = f.len;
      rm->has_unk_surface = 1;
      break;
    case TS_BOS_PIECE:
    case TS_EOS_PIECE:
    case TS_PAD_PIECE:
      WANT(f, RT_PB_BYTES, "trainer_spec special piece");
      rm->pieces_str[f.number - TS_BOS_PIECE] = f.data;
      rm->pieces_len[f.number - TS_BOS_PIECE] = f.len;
      break;
    default:
      break;
    }
  }
  if (st == RT_PB_ERROR) {
    spm_errf(m, err, errlen, "trainer_spec: %s", msg);
    return -1;
  }
  return 0;
}

static void quote_piece(char *dst, size_t cap, const char *s, size_t len) {
  size_t n = len < SPM_MAX_ERR_PIECE ? len : SPM_MAX_ERR_PIECE;
  snprintf(dst, cap, "'%.*s'%s", (int)n, s, len > n ? "..." : "");
}

static int byte_piece_value(const char *s, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
  const char *a = memchr(hex, s[3], 16), *b = memchr(hex, s[4], 16);
  if (!a || !b || !s[3] || !s[4]) return -1;
  return (int)(a - hex) * 16 + (int)(b - hex);
}

static int build_pieces(rt_spm *m, raw_piece *raw, raw_model *rm, char *err, size_t errlen) {
  size_t pool = 0;
  for (size_t i = 0; i < rm->npieces; i++) pool += raw[i].len + 1;
  pool += (rm->has_unk_surface ? rm->unk_surface_len : sizeof SPM_DEFAULT_UNK_SURFACE) + 1;
  m->pool = malloc(pool);
  m->pieces = calloc(rm->npieces, sizeof *m->pieces);
  if (!m->pool || !m->pieces || hash_init(&m->normal, (int)rm->npieces) ||
      hash_init(&m->reserved, (int)rm->npieces)) {
    spm_errf(m, err, errlen, "out of memory for %zu pieces", rm->npieces);
    return -1;
  }
  m->n = (int)rm->npieces;
  for (int b = 0; b < 256; b++) m->byte_ids[b] = -1;
  m->unk_id = -1;
  m->min_score = FLT_MAX;
  m->max_score = FLT_MIN; /* sic: sentencepiece starts from FLT_MIN, the smallest positive */
  size_t off = 0;
  char q[SPM_MAX_ERR_PIECE + 8];
  for (int i = 0; i < m->n; i++) {
    raw_piece *r = &raw[i];
    spm_piece *p = &m->pieces[i];
    if (r->len == 0) {
      spm_errf(m, err, errlen, "piece %d is empty", i);
      return -1;
    }
    if (r->len > SPM_MAX_PIECE_BYTES || memchr(r->s, 0, r->len)) {
      spm_errf(m, err, errlen, "piece %d is longer than %d bytes or contains a NUL byte", i,
               SPM_MAX_PIECE_BYTES);
      return -1;
    }
    if (r->type < RT_SPM_NORMAL || r->type > RT_SPM_BYTE) {
      spm_errf(m, err, errlen, "piece %d has unknown type %d", i, r->type);
      return -1;
    }
    memcpy(m->pool + off, r->s, r->len);
    m->pool[off + r->len] = 0;
    p->off = (uint32_t)off;
    p->len = (uint32_t)r->len;
    p->score = r->score;
    p->type = (uint8_t)r->type;
    p->byte = -1;
    off += r->len + 1;
    const char *s = m->pool + p->off;
    quote_piece(q, sizeof q, s, p->len);
    int normal =
        p->type == RT_SPM_NORMAL || p->type == RT_SPM_USER_DEFINED || p->type == RT_SPM_UNUSED;
    int dup = hash_insert(m, normal ? &m->normal : &m->reserved, i);
    if (dup >= 0) {
      spm_errf(m, err, errlen, "piece %d %s is already defined as piece %d", i, q, dup);
      return -1;
    }
    if (p->type == RT_SPM_USER_DEFINED) m->has_user = 1;
    if (p->type == RT_SPM_UNKNOWN) {
      if (m->unk_id >= 0) {
        spm_errf(m, err, errlen, "piece %d: unknown piece is already defined as piece %d", i,
                 m->unk_id);
        return -1;
      }
      m->unk_id = i;
    }
    if (p->type == RT_SPM_BYTE) {
      if (!rm->byte_fallback) {
        spm_errf(m, err, errlen, "byte piece %d %s found although byte_fallback is false", i, q);
        return -1;
      }
      int b = byte_piece_value(s, p->len);
      if (b < 0) {
        spm_errf(m, err, errlen, "byte piece %d %s is not of the form <0xNN>", i, q);
        return -1;
      }
      p->byte = (int16_t)b;
      m->byte_ids[b] = i;
    }
    if (p->type == RT_SPM_NORMAL) {
      if (p->score < m->min_score) m->min_score = p->score;
      if (p->score > m->max_score) m->max_score = p->score;
    }
  }
  if (m->unk_id < 0) {
    spm_errf(m, err, errlen, "no piece has type UNKNOWN");
    return -1;
  }
  if (rm->byte_fallback)
    for (int b = 0; b < 256; b++)
      if (m->byte_ids[b] < 0) {
        spm_errf(m, err, errlen, "byte_fallback is true but byte piece <0x%02X> is missing", b);
        return -1;
      }
  const char *us = rm->has_unk_surface ? (const char *)rm->unk_surface : SPM_DEFAULT_UNK_SURFACE;
  size_t ul = rm->has_unk_surface ? rm->unk_surface_len : strlen(SPM_DEFAULT_UNK_SURFACE);
  memcpy(m->pool + off, us, ul);
  m->pool[off + ul] = 0;
  m->unk_surface = m->pool + off;
  m->unk_surface_len = ul;
  static const char *defaults[3] = {"<s>", "</s>", "<pad>"};
  char *dst[3] = {m->bos_piece, m->eos_piece, m->pad_piece};
  for (int k = 0; k < 3; k++) {
    const char *s =
        rm->pieces_str[k] && rm->pieces_len[k] ? (const char *)rm->pieces_str[k] : defaults[k];
    size_t l = rm->pieces_str[k] && rm->pieces_len[k] ? rm->pieces_len[k] : strlen(defaults[k]);
    if (l >= sizeof m->bos_piece) l = sizeof m->bos_piece - 1; /* longer ones match nothing */
    memcpy(dst[k], s, l);
    dst[k][l] = 0;
  }
  return 0;
}

static int build_tries(rt_spm *m, char *err, size_t errlen) {
  trie_key *keys = malloc((size_t)m->n * sizeof *keys);
  if (!keys) goto oom;
  size_t nk = 0, nu = 0;
  for (int i = 0; i < m->n; i++) {
    int t = m->pieces[i].type;
    if (t == RT_SPM_NORMAL || t == RT_SPM_USER_DEFINED || t == RT_SPM_UNUSED)
      keys[nk++] = (trie_key){spm_piece_str(m, i), m->pieces[i].len, i};
  }
  if (nk == 0) {
    free(keys);
    spm_errf(m, err, errlen, "no normal pieces are defined");
    return -1;
  }
  if (trie_build(&m->vocab, keys, nk) != 0) goto oom;
  for (int i = 0; i < m->n; i++)
    if (m->pieces[i].type == RT_SPM_USER_DEFINED)
      keys[nu++] = (trie_key){spm_piece_str(m, i), m->pieces[i].len, i};
  if (nu && trie_build(&m->user, keys, nu) != 0) goto oom;
  free(keys);
  return 0;
oom:
  free(keys);
  spm_errf(m, err, errlen, "out of memory building the vocabulary trie");
  return -1;
}

static void normalizer_defaults(spm_normalizer *nz) {
  memset(nz, 0, sizeof *nz);
  nz->add_dummy_prefix = nz->remove_extra_whitespaces = nz->escape_whitespaces = 1;
}

static int parse_model(rt_spm *m, char *err, size_t errlen) {
  rt_pb_reader r;
  rt_pb_field f;
  char msg[160];
  int st;
  raw_model rm;
  memset(&rm, 0, sizeof rm);
  rm.model_type = RT_SPM_UNIGRAM;
  normalizer_defaults(&m->norm);
  normalizer_defaults(&m->denorm);
  /* pass 1: count pieces and read the specs */
  rt_pb_reader_init(&r, m->file, m->file_len);
  while ((st = rt_pb_next(&r, &f, msg, sizeof msg)) == RT_PB_OK) {
    if (f.number == MP_PIECES) {
      WANT(f, RT_PB_BYTES, "ModelProto.pieces");
      if (++rm.npieces > RT_SPM_MAX_PIECES) {
        spm_errf(m, err, errlen, "more than %d pieces", RT_SPM_MAX_PIECES);
        return -1;
      }
    } else if (f.number == MP_TRAINER) {
      WANT(f, RT_PB_BYTES, "ModelProto.trainer_spec");
      if (parse_trainer(m, f.data, f.len, &rm, err, errlen)) return -1;
    } else if (f.number == MP_NORMALIZER) {
      WANT(f, RT_PB_BYTES, "ModelProto.normalizer_spec");
      if (parse_normalizer(m, f.data, f.len, &m->norm, "normalizer_spec", err, errlen)) return -1;
    } else if (f.number == MP_DENORMALIZER) {
      WANT(f, RT_PB_BYTES, "ModelProto.denormalizer_spec");
      if (parse_normalizer(m, f.data, f.len, &m->denorm, "denormalizer_spec", err, errlen))
        return -1;
      m->has_denorm = 1;
    }
  }
  if (st == RT_PB_ERROR) {
    spm_errf(m, err, errlen, "not a valid SentencePiece model: %s", msg);
    return -1;
  }
  if (rm.npieces == 0) {
    spm_errf(m, err, errlen, "not a valid SentencePiece model: it has no pieces");
    return -1;
  }
  if (rm.model_type < RT_SPM_UNIGRAM || rm.model_type > RT_SPM_CHAR) {
    spm_errf(m, err, errlen, "unknown model_type %d", rm.model_type);
    return -1;
  }
  m->algo = (rt_spm_algo)rm.model_type;
  m->byte_fallback = rm.byte_fallback;
  m->norm.treat_whitespace_as_suffix = rm.suffix;
  m->has_denorm = m->has_denorm && m->denorm.units != NULL;
  /* pass 2: the pieces */
  raw_piece *raw = malloc(rm.npieces * sizeof *raw);
  if (!raw) {
    spm_errf(m, err, errlen, "out of memory for %zu pieces", rm.npieces);
    return -1;
  }
  size_t k = 0;
  rt_pb_reader_init(&r, m->file, m->file_len);
  while (rt_pb_next(&r, &f, msg, sizeof msg) == RT_PB_OK) {
    if (f.number != MP_PIECES) continue;
    if (parse_piece(m, f.data, f.len, k, &raw[k], err, errlen)) {
      free(raw);
      return -1;
    }
    k++;
  }
  int rc = build_pieces(m, raw, &rm, err, errlen);
  free(raw);
  if (rc == 0) rc = build_tries(m, err, errlen);
  return rc;
}

void rt_spm_free(rt_spm *m) {
  if (!m) return;
  free(m->file);
  free(m->pieces);
  free(m->pool);
  free(m->normal.slots);
  free(m->reserved.slots);
  trie_free(&m->vocab);
  trie_free(&m->user);
  free(m->norm.units);
  free(m->denorm.units);
  free(m);
}

int rt_spm_load_memory(const void *buf, size_t len, const char *name, rt_spm **out, char *err,
                       size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!out) return -1;
  *out = NULL;
  rt_spm *m = calloc(1, sizeof *m);
  if (!m) {
    spm_errf(NULL, err, errlen, "out of memory");
    return -1;
  }
  snprintf(m->name, sizeof m->name, "%s", name ? name : "<memory>");
  if (!buf && len) {
    spm_errf(m, err, errlen, "no buffer given");
    rt_spm_free(m);
    return -1;
  }
  if (len > RT_SPM_MAX_MODEL_BYTES) {
    spm_errf(m, err, errlen, "model is %zu bytes, more than the limit of %u", len,
             RT_SPM_MAX_MODEL_BYTES);
    rt_spm_free(m);
    return -1;
  }
  m->file = malloc(len ? len : 1);
  if (!m->file) {
    spm_errf(m, err, errlen, "out of memory for %zu bytes", len);
    rt_spm_free(m);
    return -1;
  }
  if (len) memcpy(m->file, buf, len);
  m->file_len = len;
  if (parse_model(m, err, errlen) != 0) {
    rt_spm_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

int rt_spm_load(const char *path, rt_spm **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    if (err && errlen) snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  int rc = -1;
  while (buf) {
    if (len == cap) {
      if (cap > RT_SPM_MAX_MODEL_BYTES) {
        if (err && errlen)
          snprintf(err, errlen, "%s: file is larger than the limit of %u bytes", path,
                   RT_SPM_MAX_MODEL_BYTES);
        goto done;
      }
      uint8_t *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, fp);
    len += got;
    if (got == 0) break;
  }
  if (!buf) {
    if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
    goto done;
  }
  if (ferror(fp)) {
    if (err && errlen) snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
    goto done;
  }
  rc = rt_spm_load_memory(buf, len, path, out, err, errlen);
done:
  free(buf);
  fclose(fp);
  return rc;
}
