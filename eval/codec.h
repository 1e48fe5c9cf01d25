/* eval/codec.h: text <-> model ids, the way the data was prepared: SentencePiece pieces
 * (runtime/spm.h) looked up in a fairseq dictionary (data/dictionary.h), `</s>` appended; and
 * back: dictionary symbols (specials dropped) joined by spaces, then SentencePiece decoding
 * (U+2581 -> space, byte pieces reassembled). One codec per (spm model, dictionary) pair.
 *
 * Memory: ef_codec_open loads (and owns) the model and dictionary; ef_codec_close frees them.
 * Encode/decode write into caller buffers that grow with realloc (ef_codec_buf).
 * Errors: -1 and one line naming the file or the input problem.
 */
#ifndef EF_EVAL_CODEC_H
#define EF_EVAL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "data/dictionary.h"
#include "runtime/spm.h"

typedef struct ef_codec {
  rt_spm *spm;
  ef_dict *dict[2]; /* source, target (may be the same file; loaded twice then) */
} ef_codec;

/* A growable byte/int buffer the codec writes into (zero-initialise; free with
 * ef_codec_buf_free). */
typedef struct {
  char *text;
  size_t text_cap;
  int32_t *ids;
  size_t ids_cap;
  char *pieces;
  size_t pieces_cap;
} ef_codec_buf;

int ef_codec_open(ef_codec *c, const char *spm_path, const char *src_dict, const char *tgt_dict,
                  char *err, size_t errlen);
/* One input of ef_codec_open_src: a file (data NULL) or bytes already in memory (a tokenizer
 * embedded in a checkpoint); name is what messages call it. */
typedef struct {
  const char *name;
  const void *data;
  size_t len;
} ef_codec_src;
int ef_codec_open_src(ef_codec *c, const ef_codec_src *spm, const ef_codec_src *src_dict,
                      const ef_codec_src *tgt_dict, char *err, size_t errlen);
void ef_codec_close(ef_codec *c);
void ef_codec_buf_free(ef_codec_buf *b);

/* Encode one line of UTF-8 text to source ids ending in `</s>`. Returns the count (>= 1) with
 * b->ids holding them, or -1 with a message. *n_unk (may be NULL) counts pieces missing
 * from the dictionary (mapped to <unk>). */
int ef_codec_encode(const ef_codec *c, const char *text, size_t len, ef_codec_buf *b, int *n_unk,
                    char *err, size_t errlen);
/* Decode ids of a side (0 = source, 1 = target dictionary) (a trailing `</s>` and any special
 * symbol are dropped; <unk> becomes SentencePiece's unknown surface) to text in b->text
 * (NUL-terminated). Returns the byte length or -1. b->pieces receives the space-joined dictionary
 * symbols (the string before SentencePiece decoding). */
int ef_codec_decode(const ef_codec *c, int side, const int32_t *ids, int n, ef_codec_buf *b,
                    char *err, size_t errlen);

#endif
