/* eval/codec.c: text <-> ids through SentencePiece and a fairseq dictionary. Must never drop
 * or truncate text silently: every failure is a message. */
#include "eval/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ef_codec_open(ef_codec *c, const char *spm_path, const char *src_dict, const char *tgt_dict,
                  char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  if (rt_spm_load(spm_path, &c->spm, err, errlen) ||
      ef_dict_load(src_dict, &c->dict[0], err, errlen) ||
      ef_dict_load(tgt_dict, &c->dict[1], err, errlen)) {
    ef_codec_close(c);
    return -1;
  }
  return 0;
}

static int load_dict(const ef_codec_src *s, ef_dict **d, char *err, size_t errlen) {
  return s->data ? ef_dict_load_memory(s->data, s->len, s->name, d, err, errlen)
                 : ef_dict_load(s->name, d, err, errlen);
}

int ef_codec_open_src(ef_codec *c, const ef_codec_src *spm, const ef_codec_src *src_dict,
                      const ef_codec_src *tgt_dict, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  int bad = spm->data ? rt_spm_load_memory(spm->data, spm->len, spm->name, &c->spm, err, errlen)
                      : rt_spm_load(spm->name, &c->spm, err, errlen);
  if (bad || load_dict(src_dict, &c->dict[0], err, errlen) ||
      load_dict(tgt_dict, &c->dict[1], err, errlen)) {
    ef_codec_close(c);
    return -1;
  }
  return 0;
}

void ef_codec_close(ef_codec *c) {
  rt_spm_free(c->spm);
  ef_dict_free(c->dict[0]);
  ef_dict_free(c->dict[1]);
  memset(c, 0, sizeof *c);
}

void ef_codec_buf_free(ef_codec_buf *b) {
  free(b->text);
  free(b->ids);
  free(b->pieces);
  memset(b, 0, sizeof *b);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

int ef_codec_encode(const ef_codec *c, const char *text, size_t len, ef_codec_buf *b, int *n_unk,
                    char *err, size_t errlen) {
  char *pieces = NULL;
  size_t plen = 0;
  if (rt_spm_encode_pieces_alloc(c->spm, text, len, &pieces, &plen, err, errlen) < 0) return -1;
  int ntok = ef_dict_count_tokens(pieces, plen) + 1;
  if (grow((void **)&b->ids, &b->ids_cap, (size_t)ntok, sizeof(int32_t))) {
    free(pieces);
    return snprintf(err, errlen, "out of memory"), -1;
  }
  int unk = 0;
  int n = ef_dict_encode_line(c->dict[0], pieces, plen, b->ids, (int)b->ids_cap, &unk, err, errlen);
  free(pieces);
  if (n < 0) return -1;
  if (n_unk) *n_unk = unk;
  return n;
}

int ef_codec_decode(const ef_codec *c, int side, const int32_t *ids, int n, ef_codec_buf *b,
                    char *err, size_t errlen) {
  size_t need = 1;
  const ef_dict *dict = c->dict[side ? 1 : 0];
  int dsize = ef_dict_size(dict);
  for (int i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= dsize)
      return snprintf(err, errlen, "id %d outside the dictionary (%d symbols)", ids[i], dsize), -1;
    need += strlen(ef_dict_symbol(dict, ids[i])) + 1;
  }
  if (grow((void **)&b->pieces, &b->pieces_cap, need, 1))
    return snprintf(err, errlen, "out of memory"), -1;
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    int id = ids[i];
    if (id == EF_DICT_EOS || id == EF_DICT_PAD || id == EF_DICT_BOS) continue;
    const char *s = ef_dict_symbol(dict, id);
    size_t l = strlen(s);
    if (o) b->pieces[o++] = ' ';
    memcpy(b->pieces + o, s, l);
    o += l;
  }
  b->pieces[o] = '\0';
  char *text = NULL;
  int tl = rt_spm_decode_pieces_alloc(c->spm, b->pieces, o, &text, err, errlen);
  if (tl < 0) return -1;
  if (grow((void **)&b->text, &b->text_cap, (size_t)tl + 1, 1)) {
    free(text);
    return snprintf(err, errlen, "out of memory"), -1;
  }
  memcpy(b->text, text, (size_t)tl + 1);
  free(text);
  return tl;
}
