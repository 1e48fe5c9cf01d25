/* runtime/spm.c: the public tokenizer calls of runtime/spm.h: encode (validate UTF-8, normalise,
 * segment with the model's algorithm, then byte fallback / unknown merging as sentencepiece's
 * processor does) and decode (pieces back to text), plus the small vocabulary queries.
 * It must never write past a caller's buffer (too small = error, never truncation) and never
 * keep state between calls: a loaded model stays read-only and shareable across threads.
 */
#include "runtime/spm_internal.h"

#include <stdlib.h>
#include <string.h>

#define SPM_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD for invalid bytes on decode */

/* ---- vocabulary queries ---- */

int rt_spm_vocab_size(const rt_spm *m) { return m ? m->n : 0; }
rt_spm_algo rt_spm_algorithm(const rt_spm *m) { return m->algo; }

const char *rt_spm_id_to_piece(const rt_spm *m, int id) {
  if (!m || id < 0 || id >= m->n) return NULL;
  return spm_piece_str(m, id);
}

static int piece_to_id_len(const rt_spm *m, const char *s, size_t len) {
  int id = spm_lookup(m, s, len);
  return id >= 0 ? id : m->unk_id;
}

int rt_spm_piece_to_id(const rt_spm *m, const char *piece) {
  return piece_to_id_len(m, piece, strlen(piece));
}
float rt_spm_piece_score(const rt_spm *m, int id) {
  return id >= 0 && id < m->n ? m->pieces[id].score : 0.0f;
}
rt_spm_piece_type rt_spm_piece_kind(const rt_spm *m, int id) {
  return id >= 0 && id < m->n ? (rt_spm_piece_type)m->pieces[id].type : (rt_spm_piece_type)0;
}
int rt_spm_unk_id(const rt_spm *m) { return m->unk_id; }
static int control_id(const rt_spm *m, const char *piece) {
  int id = rt_spm_piece_to_id(m, piece);
  return m->pieces[id].type == RT_SPM_CONTROL ? id : -1;
}
int rt_spm_bos_id(const rt_spm *m) { return control_id(m, m->bos_piece); }
int rt_spm_eos_id(const rt_spm *m) { return control_id(m, m->eos_piece); }
int rt_spm_pad_id(const rt_spm *m) { return control_id(m, m->pad_piece); }

/* ---- UTF-8 ---- */

/* Decodes one character of s[0..len) like sentencepiece's DecodeUTF8: returns its byte length,
 * or 0 when the bytes are not valid UTF-8 (overlong forms, surrogates, > U+10FFFF included). */
static size_t utf8_valid_len(const unsigned char *s, size_t len) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  if (len >= 2 && (c & 0xE0) == 0xC0) {
    unsigned cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
    return (s[1] & 0xC0) == 0x80 && cp >= 0x80 ? 2 : 0;
  }
  if (len >= 3 && (c & 0xF0) == 0xE0) {
    unsigned cp = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && cp >= 0x800 &&
                   (cp < 0xD800 || cp >= 0xE000)
               ? 3
               : 0;
  }
  if (len >= 4 && (c & 0xF8) == 0xF0) {
    unsigned cp = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 &&
                   cp >= 0x10000 && cp <= 0x10FFFF
               ? 4
               : 0;
  }
  return 0;
}

static int check_utf8(const rt_spm *m, const char *text, size_t len, char *err, size_t errlen) {
  const unsigned char *s = (const unsigned char *)text;
  for (size_t i = 0; i < len;) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_valid_len(s + i, len - i);
    if (!k) {
      spm_errf(m, err, errlen, "invalid UTF-8 at byte %zu of the input (0x%02X)", i, s[i]);
      return -1;
    }
    i += k;
  }
  return 0;
}

/* ---- encode ---- */

/* The result of one encode: normalised text, and tokens whose spans point into it (byte
 * fallback tokens have len 0 and carry their byte piece id). */
typedef struct spm_enc {
  spm_buf norm;
  spm_tok *toks;
  int count;
} spm_enc;

static void enc_free(spm_enc *e) {
  free(e->norm.p);
  free(e->toks);
}

/* sentencepiece's SplitIntoWords (prefix whitespace): a word starts at the beginning and at
 * every U+2581. */
static int word_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks) {
  int count = 0;
  for (size_t pos = 0; pos < n;) {
    size_t cl = spm_char_len((unsigned char)s[pos]);
    if (cl > n - pos) cl = n - pos;
    int ws = cl == SPM_SPACE_LEN && memcmp(s + pos, SPM_SPACE, SPM_SPACE_LEN) == 0;
    if (pos == 0 || ws) toks[count++] = (spm_tok){(uint32_t)pos, 0, 0};
    toks[count - 1].len += (uint32_t)cl;
    pos += cl;
  }
  for (int i = 0; i < count; i++) toks[i].id = piece_to_id_len(m, s + toks[i].start, toks[i].len);
  return count;
}

static int char_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks) {
  int count = 0;
  for (size_t pos = 0; pos < n;) {
    size_t cl = spm_user_prefix(m, s + pos, n - pos);
    if (!cl) cl = spm_char_len((unsigned char)s[pos]);
    if (cl > n - pos) cl = n - pos;
    toks[count++] = (spm_tok){(uint32_t)pos, (uint32_t)cl, piece_to_id_len(m, s + pos, cl)};
    pos += cl;
  }
  return count;
}

static int encode(const rt_spm *m, const char *text, size_t len, spm_enc *e, char *err,
                  size_t errlen) {
  memset(e, 0, sizeof *e);
  if (err && errlen) err[0] = 0;
  if (!m || (!text && len)) {
    spm_errf(m, err, errlen, "no model or no text given");
    return -1;
  }
  if (len > RT_SPM_MAX_INPUT_BYTES) {
    spm_errf(m, err, errlen, "input line of %zu bytes is longer than the limit of %u bytes", len,
             RT_SPM_MAX_INPUT_BYTES);
    return -1;
  }
  if (check_utf8(m, text, len, err, errlen)) return -1;
  if (spm_normalize(m, &m->norm, text, len, &e->norm, err, errlen)) return -1;
  size_t n = e->norm.len;
  if (n == 0) return 0;
  if (n > (size_t)INT32_MAX / 2) {
    spm_errf(m, err, errlen, "normalised line of %zu bytes is too long", n);
    return -1;
  }
  spm_tok *raw = malloc(n * sizeof *raw);
  e->toks = malloc(n * sizeof *e->toks);
  if (!raw || !e->toks) {
    free(raw);
    spm_errf(m, err, errlen, "out of memory for %zu tokens", n);
    return -1;
  }
  int cnt;
  const char *s = e->norm.p;
  switch (m->algo) {
  case RT_SPM_BPE:
    cnt = spm_bpe_encode(m, s, n, raw, err, errlen);
    break;
  case RT_SPM_WORD:
    cnt = word_encode(m, s, n, raw);
    break;
  case RT_SPM_CHAR:
    cnt = char_encode(m, s, n, raw);
    break;
  default:
    cnt = spm_unigram_encode(m, s, n, raw, err, errlen);
    break;
  }
  if (cnt < 0) {
    free(raw);
    return -1;
  }
  /* byte fallback, or merging runs of unknown pieces (PopulateSentencePieceText) */
  int out = 0, prev_unk = 0;
  for (int i = 0; i < cnt; i++) {
    spm_tok t = raw[i];
    int unk = m->pieces[t.id].type == RT_SPM_UNKNOWN;
    if (unk && m->byte_fallback) {
      for (uint32_t k = 0; k < t.len; k++)
        e->toks[out++] = (spm_tok){t.start + k, 0, m->byte_ids[(unsigned char)s[t.start + k]]};
    } else if (unk && prev_unk) {
      e->toks[out - 1].len += t.len;
    } else {
      e->toks[out++] = t;
    }
    prev_unk = unk;
  }
  free(raw);
  e->count = out;
  return 0;
}

static char *piece_text(const rt_spm *m, const spm_enc *e, int i, size_t *len) {
  const spm_tok *t = &e->toks[i];
  if (t->len) {
    *len = t->len;
    return e->norm.p + t->start;
  }
  *len = m->pieces[t->id].len;
  return m->pool + m->pieces[t->id].off;
}

/* Writes the pieces of e joined by spaces to out (need bytes, checked by the caller). */
static void join_pieces(const rt_spm *m, const spm_enc *e, char *out) {
  for (int i = 0; i < e->count; i++) {
    size_t len;
    const char *w = piece_text(m, e, i, &len);
    if (i > 0) *out++ = ' ';
    memcpy(out, w, len);
    out += len;
  }
  *out = 0;
}

static size_t pieces_bytes(const rt_spm *m, const spm_enc *e) {
  size_t need = 1, len;
  for (int i = 0; i < e->count; i++) need += (piece_text(m, e, i, &len), len) + (i > 0);
  return need;
}

int rt_spm_encode_ids(const rt_spm *m, const char *text, size_t len, int *ids, int cap, char *err,
                      size_t errlen) {
  spm_enc e;
  int n = -1;
  if (encode(m, text, len, &e, err, errlen) == 0) {
    if (e.count > cap) {
      spm_errf(m, err, errlen, "line needs %d ids but the buffer holds %d", e.count, cap);
    } else {
      for (int i = 0; i < e.count; i++) ids[i] = e.toks[i].id;
      n = e.count;
    }
  }
  enc_free(&e);
  return n;
}

int rt_spm_encode_ids_alloc(const rt_spm *m, const char *text, size_t len, int **out, char *err,
                            size_t errlen) {
  spm_enc e;
  int n = -1;
  *out = NULL;
  if (encode(m, text, len, &e, err, errlen) == 0) {
    *out = malloc((e.count ? (size_t)e.count : 1) * sizeof **out);
    if (!*out) {
      spm_errf(m, err, errlen, "out of memory for %d ids", e.count);
    } else {
      for (int i = 0; i < e.count; i++) (*out)[i] = e.toks[i].id;
      n = e.count;
    }
  }
  enc_free(&e);
  return n;
}

int rt_spm_encode_pieces(const rt_spm *m, const char *text, size_t len, char *out, size_t cap,
                         char *err, size_t errlen) {
  spm_enc e;
  int n = -1;
  if (encode(m, text, len, &e, err, errlen) == 0) {
    size_t need = pieces_bytes(m, &e);
    if (need > cap) {
      spm_errf(m, err, errlen, "line needs %zu bytes of pieces but the buffer holds %zu", need,
               cap);
    } else {
      join_pieces(m, &e, out);
      n = e.count;
    }
  }
  enc_free(&e);
  return n;
}

int rt_spm_encode_pieces_alloc(const rt_spm *m, const char *text, size_t len, char **out,
                               size_t *out_len, char *err, size_t errlen) {
  spm_enc e;
  int n = -1;
  *out = NULL;
  if (encode(m, text, len, &e, err, errlen) == 0) {
    size_t need = pieces_bytes(m, &e);
    *out = malloc(need);
    if (!*out) {
      spm_errf(m, err, errlen, "out of memory for %zu bytes of pieces", need);
    } else {
      join_pieces(m, &e, *out);
      n = e.count;
      if (out_len) *out_len = need - 1;
    }
  }
  enc_free(&e);
  return n;
}

/* ---- decode ---- */

typedef struct spm_dec {
  const rt_spm *m;
  spm_buf text;
  unsigned char *bytes; /* pending run of byte pieces */
  size_t nbytes, bytes_cap;
  int is_bos_ws, bos_ws_seen, oom;
} spm_dec;

static void put(spm_dec *d, const char *s, size_t len) {
  if (d->oom || len == 0) return;
  if (spm_buf_reserve(&d->text, len)) {
    d->oom = 1;
    return;
  }
  memcpy(d->text.p + d->text.len, s, len);
  d->text.len += len;
}

static void flush_bytes(spm_dec *d) {
  for (size_t i = 0; i < d->nbytes;) {
    size_t k = utf8_valid_len(d->bytes + i, d->nbytes - i);
    if (!k) {
      put(d, SPM_REPLACEMENT, 3);
      i++;
    } else {
      put(d, (const char *)d->bytes + i, k);
      i += k;
    }
  }
  d->nbytes = 0;
}

/* One piece (string w, id as PieceToId(w)), as sentencepiece's Decode loop does it. */
static void decode_piece(spm_dec *d, const char *w, size_t len, int id) {
  const rt_spm *m = d->m;
  const spm_piece *p = &m->pieces[id];
  if (p->type == RT_SPM_BYTE) {
    if (d->nbytes == d->bytes_cap) {
      size_t cap = d->bytes_cap ? 2 * d->bytes_cap : 64;
      unsigned char *nb = realloc(d->bytes, cap);
      if (!nb) {
        d->oom = 1;
        return;
      }
      d->bytes = nb;
      d->bytes_cap = cap;
    }
    d->bytes[d->nbytes++] = (unsigned char)p->byte;
    return;
  }
  flush_bytes(d);
  if (d->bos_ws_seen || d->text.len > 0) d->is_bos_ws = 0;
  d->bos_ws_seen = 0;
  if (p->type == RT_SPM_CONTROL) return;
  if (p->type == RT_SPM_UNKNOWN) {
    if (len == p->len && memcmp(w, spm_piece_str(m, id), len) == 0)
      put(d, m->unk_surface, m->unk_surface_len);
    else
      put(d, w, len); /* a piece absent from the vocabulary comes back verbatim */
    return;
  }
  if (d->is_bos_ws && (m->norm.add_dummy_prefix || m->norm.remove_extra_whitespaces)) {
    if (len >= SPM_SPACE_LEN && memcmp(w, SPM_SPACE, SPM_SPACE_LEN) == 0) {
      w += SPM_SPACE_LEN;
      len -= SPM_SPACE_LEN;
      d->bos_ws_seen = !m->norm.remove_extra_whitespaces;
    }
  }
  size_t run = 0;
  for (size_t i = 0; i < len;) {
    if (len - i >= SPM_SPACE_LEN && memcmp(w + i, SPM_SPACE, SPM_SPACE_LEN) == 0) {
      put(d, w + run, i - run);
      put(d, " ", 1);
      i += SPM_SPACE_LEN;
      run = i;
    } else {
      i++;
    }
  }
  put(d, w + run, len - run);
}

/* Finishes d: the decoded text (denormalised when the model says so) goes to out (cap bytes)
 * or, when cap is 0, to a new malloc'ed string in *alloc. */
static int decode_finish(spm_dec *d, char *out, size_t cap, char **alloc, char *err,
                         size_t errlen) {
  const rt_spm *m = d->m;
  flush_bytes(d);
  int rc = -1;
  spm_buf den = {0};
  const spm_buf *res = &d->text;
  if (d->oom) {
    spm_errf(m, err, errlen, "out of memory while decoding");
    goto done;
  }
  if (m->has_denorm) {
    if (spm_normalize(m, &m->denorm, d->text.p, d->text.len, &den, err, errlen)) goto done;
    res = &den;
  }
  if (res->len > (size_t)INT32_MAX) {
    spm_errf(m, err, errlen, "decoded text of %zu bytes is too long", res->len);
    goto done;
  }
  if (alloc) {
    out = *alloc = malloc(res->len + 1);
    if (!out) {
      spm_errf(m, err, errlen, "out of memory for %zu decoded bytes", res->len + 1);
      goto done;
    }
  } else if (res->len + 1 > cap) {
    spm_errf(m, err, errlen, "decoded text needs %zu bytes but the buffer holds %zu", res->len + 1,
             cap);
    goto done;
  }
  if (res->len) memcpy(out, res->p, res->len);
  out[res->len] = 0;
  rc = (int)res->len;
done:
  free(den.p);
  free(d->text.p);
  free(d->bytes);
  return rc;
}

static int decode_ids(const rt_spm *m, const int *ids, int n, char *out, size_t cap, char **alloc,
                      char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (alloc) *alloc = NULL;
  spm_dec d = {m, {0}, NULL, 0, 0, 1, 0, 0};
  for (int i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= m->n) {
      spm_errf(m, err, errlen, "id %d at position %d is out of range [0, %d)", ids[i], i, m->n);
      free(d.text.p);
      free(d.bytes);
      return -1;
    }
    const char *w = spm_piece_str(m, ids[i]);
    size_t len = m->pieces[ids[i]].len;
    decode_piece(&d, w, len, piece_to_id_len(m, w, len));
  }
  return decode_finish(&d, out, cap, alloc, err, errlen);
}

static int decode_pieces(const rt_spm *m, const char *pieces, size_t len, char *out, size_t cap,
                         char **alloc, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (alloc) *alloc = NULL;
  spm_dec d = {m, {0}, NULL, 0, 0, 1, 0, 0};
  for (size_t i = 0; i < len;) {
    if (pieces[i] == ' ') {
      i++;
      continue;
    }
    size_t j = i;
    while (j < len && pieces[j] != ' ') j++;
    decode_piece(&d, pieces + i, j - i, piece_to_id_len(m, pieces + i, j - i));
    i = j;
  }
  return decode_finish(&d, out, cap, alloc, err, errlen);
}

int rt_spm_decode_ids_err(const rt_spm *m, const int *ids, int n, char *out, size_t cap, char *err,
                          size_t errlen) {
  if (cap == 0) {
    spm_errf(m, err, errlen, "decode output buffer has no room");
    return -1;
  }
  return decode_ids(m, ids, n, out, cap, NULL, err, errlen);
}

int rt_spm_decode_pieces_err(const rt_spm *m, const char *pieces, size_t len, char *out, size_t cap,
                             char *err, size_t errlen) {
  if (cap == 0) {
    spm_errf(m, err, errlen, "decode output buffer has no room");
    return -1;
  }
  return decode_pieces(m, pieces, len, out, cap, NULL, err, errlen);
}

int rt_spm_decode_ids_alloc(const rt_spm *m, const int *ids, int n, char **out, char *err,
                            size_t errlen) {
  return decode_ids(m, ids, n, NULL, 0, out, err, errlen);
}

int rt_spm_decode_pieces_alloc(const rt_spm *m, const char *pieces, size_t len, char **out,
                               char *err, size_t errlen) {
  return decode_pieces(m, pieces, len, NULL, 0, out, err, errlen);
}

int rt_spm_decode_ids(const rt_spm *m, const int *ids, int n, char *out, size_t cap) {
  return rt_spm_decode_ids_err(m, ids, n, out, cap, NULL, 0);
}

int rt_spm_decode_pieces(const rt_spm *m, const char *pieces, char *out, size_t cap) {
  return rt_spm_decode_pieces_err(m, pieces, strlen(pieces), out, cap, NULL, 0);
}
