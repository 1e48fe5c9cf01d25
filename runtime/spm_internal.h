/* runtime/spm_internal.h: the layout of a loaded SentencePiece model, shared by the files of
 * the tokenizer (spm_model.c loads it, spm_normalize.c, spm_unigram.c, spm_bpe.c and spm.c read
 * it). Not a public header: nothing outside runtime/spm*.c may include it. Everything here is
 * read-only after rt_spm_load returns.
 */
#ifndef EF_RUNTIME_SPM_INTERNAL_H
#define EF_RUNTIME_SPM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/spm.h"

#define SPM_MAX_PIECE_BYTES 4096     /* longest piece string accepted at load */
#define SPM_MAX_NAME 256             /* longest model name kept for messages */
#define SPM_NORM_MAX_TRIE_RESULTS 32 /* sentencepiece's Normalizer::kMaxTrieResultsSize */
#define SPM_UNK_PENALTY 10.0f        /* sentencepiece's unigram kUnkPenalty */
#define SPM_SPACE "\xe2\x96\x81"     /* U+2581, the escaped whitespace */
#define SPM_SPACE_LEN 3

/* A trie over byte strings stored as a base/check double array (our own layout, built at load).
 * Node 0 is the root; the child of node s by byte c is t = base[s] + c when t < size and
 * check[t] == s. value[s] is the payload of a key ending at s, or -1. */
typedef struct spm_trie {
  int32_t *base, *check, *value;
  uint32_t size;
} spm_trie;

/* Open-addressing hash from piece string to id (slots hold id + 1, 0 = empty). */
typedef struct spm_hash {
  int32_t *slots;
  uint32_t mask;
} spm_hash;

typedef struct spm_piece {
  uint32_t off, len; /* string in rt_spm.pool (NUL-terminated there) */
  float score;
  uint8_t type; /* rt_spm_piece_type */
  int16_t byte; /* 0..255 for BYTE pieces, -1 otherwise */
} spm_piece;

/* A normaliser: the precompiled charsmap (darts-clone double array + NUL-separated
 * replacement strings) and the whitespace options. */
typedef struct spm_normalizer {
  uint32_t *units; /* darts-clone units (decoded little-endian), NULL when no charsmap */
  size_t nunits;
  const char *strings; /* replacement strings blob (points into rt_spm.file) */
  size_t strings_len;  /* last byte is NUL (checked at load) */
  int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
  int treat_whitespace_as_suffix;
} spm_normalizer;

struct rt_spm {
  char name[SPM_MAX_NAME];
  uint8_t *file; /* our copy of the serialized ModelProto */
  size_t file_len;
  int n;
  spm_piece *pieces;
  char *pool;
  rt_spm_algo algo;
  int byte_fallback;
  int unk_id;              /* index of the UNKNOWN piece */
  int byte_ids[256];       /* id of <0xNN>, or -1 */
  const char *unk_surface; /* NUL-terminated, in pool */
  size_t unk_surface_len;
  char bos_piece[64], eos_piece[64], pad_piece[64];
  float min_score, max_score; /* over NORMAL pieces, as sentencepiece computes them */
  spm_hash normal;            /* NORMAL, USER_DEFINED and UNUSED pieces */
  spm_hash reserved;          /* CONTROL, UNKNOWN and BYTE pieces */
  spm_trie vocab;             /* same keys as `normal`, value = id */
  spm_trie user;              /* USER_DEFINED pieces, value = id; size 0 when there are none */
  int has_user;
  spm_normalizer norm;
  spm_normalizer denorm; /* used on decode when the model has a denormalizer charsmap */
  int has_denorm;
};

/* spm_model.c */
int spm_hash_find(const rt_spm *m, const spm_hash *h, const char *s, size_t len);
int spm_lookup(const rt_spm *m, const char *s, size_t len); /* reserved, then normal, else -1 */
/* Length in bytes of the longest user-defined symbol at s (0 when none). */
size_t spm_user_prefix(const rt_spm *m, const char *s, size_t len);
static inline const char *spm_piece_str(const rt_spm *m, int id) {
  return m->pool + m->pieces[id].off;
}
/* Length of the UTF-8 character starting with byte b, as sentencepiece's OneCharLen. */
static inline size_t spm_char_len(unsigned char b) {
  static const unsigned char t[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return t[b >> 4];
}

/* One output token of a segmentation: a span of the normalised text and its id. */
typedef struct spm_tok {
  uint32_t start, len;
  int32_t id;
} spm_tok;

/* A growable byte buffer owned by one encode call. */
typedef struct spm_buf {
  char *p;
  size_t len, cap;
} spm_buf;
int spm_buf_reserve(spm_buf *b, size_t extra);

/* spm_normalize.c: appends the normalised form of text to out. 0 on success, -1 with a message
 * (corrupt charsmap, out of memory). text must be valid UTF-8. */
int spm_normalize(const rt_spm *m, const spm_normalizer *nz, const char *text, size_t len,
                  spm_buf *out, char *err, size_t errlen);

/* spm_unigram.c / spm_bpe.c / spm.c: segment normalised text s[0..n) into toks (room for n
 * entries); return the count or -1 with a message. */
int spm_unigram_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks, char *err,
                       size_t errlen);
int spm_bpe_encode(const rt_spm *m, const char *s, size_t n, spm_tok *toks, char *err,
                   size_t errlen);

void spm_errf(const rt_spm *m, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
