/* runtime/spm.h: the SentencePiece tokenizer of edgeformer, the one tokenizer of the project.
 *
 * Reads a SentencePiece `.model` file (a serialized ModelProto) and reproduces what Google's
 * sentencepiece library does with it: the normaliser stored in the model (precompiled charsmap,
 * e.g. nmt_nfkc, nfkc, identity), whitespace handling (add_dummy_prefix, remove_extra_whitespaces,
 * "\xe2\x96\x81" (U+2581) escaping, treat_whitespace_as_suffix), user-defined symbols, control
 * symbols, byte fallback (<0xNN> pieces), unigram (Viterbi) and BPE segmentation, and decoding.
 * Depends on libc and libm only, so the device runtime can use it.
 *
 * Memory: rt_spm_load* allocate one rt_spm that owns every byte it needs (the file is copied, the
 * caller's buffer may be freed right after load); rt_spm_free releases it. A loaded model is
 * read-only, so one rt_spm may be used from several threads at once: every encode/decode call
 * takes its scratch memory from the call itself (heap, freed before return) and never mutates
 * the model. Strings returned by rt_spm_id_to_piece belong to the model and live until
 * rt_spm_free.
 *
 * Errors: functions that can fail return a status (negative or non-zero) and, where they take
 * (err, errlen), write one NUL-terminated line there naming the model (file name given at load)
 * and the problem, e.g. "m.model: piece 17 length 900 runs past the end of the message".
 * err may be NULL (errlen then ignored). Nothing is ever silently truncated: when an output
 * buffer is too small the call fails and says how much was needed.
 */
#ifndef EF_RUNTIME_SPM_H
#define EF_RUNTIME_SPM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Limits (inputs past them are rejected with a message, never truncated). */
#define RT_SPM_MAX_MODEL_BYTES (256u << 20) /* largest .model file accepted */
#define RT_SPM_MAX_PIECES (1 << 22)         /* largest vocabulary accepted */
#define RT_SPM_MAX_INPUT_BYTES (1u << 24)   /* largest single line one encode call accepts */

typedef struct rt_spm rt_spm;

/* Segmentation algorithm of a model (trainer_spec.model_type). */
typedef enum rt_spm_algo {
  RT_SPM_UNIGRAM = 1,
  RT_SPM_BPE = 2,
  RT_SPM_WORD = 3, /* not supported: loading such a model fails with a message */
  RT_SPM_CHAR = 4  /* not supported: loading such a model fails with a message */
} rt_spm_algo;

/* Piece types (ModelProto.SentencePiece.Type). */
typedef enum rt_spm_piece_type {
  RT_SPM_NORMAL = 1,
  RT_SPM_UNKNOWN = 2,
  RT_SPM_CONTROL = 3,
  RT_SPM_USER_DEFINED = 4,
  RT_SPM_BYTE = 6,
  RT_SPM_UNUSED = 5
} rt_spm_piece_type;

/* Load a model. 0 on success (*out set); on failure non-zero, *out = NULL and a one-line
 * message in err naming the file and the problem. */
int rt_spm_load(const char *path, rt_spm **out, char *err, size_t errlen);
/* Same from memory; name is used in messages only (may be NULL). buf is copied. */
int rt_spm_load_memory(const void *buf, size_t len, const char *name, rt_spm **out, char *err,
                       size_t errlen);
void rt_spm_free(rt_spm *m); /* NULL is fine */

int rt_spm_vocab_size(const rt_spm *m);
rt_spm_algo rt_spm_algorithm(const rt_spm *m);
/* The piece string of id, or NULL when id is out of range. Owned by m. */
const char *rt_spm_id_to_piece(const rt_spm *m, int id);
/* Id of piece (NUL-terminated), or the unk id when absent. */
int rt_spm_piece_to_id(const rt_spm *m, const char *piece);
float rt_spm_piece_score(const rt_spm *m, int id);            /* 0 when id is out of range */
rt_spm_piece_type rt_spm_piece_kind(const rt_spm *m, int id); /* 0 when out of range */
/* Special ids from trainer_spec; -1 when disabled in the model. */
int rt_spm_unk_id(const rt_spm *m);
int rt_spm_bos_id(const rt_spm *m);
int rt_spm_eos_id(const rt_spm *m);
int rt_spm_pad_id(const rt_spm *m);

/* Encode one line of UTF-8 text (no newline needed; len bytes, NUL not required). Fills ids
 * (at most cap entries) and returns the count, or -1 with a message in err: invalid UTF-8,
 * input longer than RT_SPM_MAX_INPUT_BYTES, or more ids than cap (the message gives the count
 * needed). The ids are those of `spm_encode --output_format=id` (no bos/eos added). */
int rt_spm_encode_ids(const rt_spm *m, const char *text, size_t len, int *ids, int cap, char *err,
                      size_t errlen);
/* Encode to pieces joined by single spaces, like `spm_encode --output_format=piece`, written
 * NUL-terminated to out (cap bytes including the NUL). Returns the number of pieces, or -1 with a
 * message (invalid UTF-8, input too long, out too small). */
int rt_spm_encode_pieces(const rt_spm *m, const char *text, size_t len, char *out, size_t cap,
                         char *err, size_t errlen);

/* Decode ids to text (NUL-terminated in out, cap bytes including the NUL), like
 * `spm_decode --input_format=id`: U+2581 becomes a space, the leading dummy space is removed,
 * <0xNN> byte pieces are reassembled (invalid byte sequences become U+FFFD), control pieces
 * (bos/eos/pad...) are dropped, the unknown piece becomes trainer_spec.unk_surface (default
 * " \xE2\x81\x87 ", U+2047) as sentencepiece does. Returns the number of bytes written (excluding
 * the NUL), or -1 when an id is out of range or out is too small. */
int rt_spm_decode_ids(const rt_spm *m, const int *ids, int n, char *out, size_t cap);
/* Same for pieces separated by spaces (`spm_decode` default input format; runs of spaces are
 * one separator). A piece absent from the vocabulary is copied verbatim, as sentencepiece does.
 * Returns bytes written or -1 (out too small). */
int rt_spm_decode_pieces(const rt_spm *m, const char *pieces, char *out, size_t cap);
/* Variants of the two above that also write a one-line message to err on failure. */
int rt_spm_decode_ids_err(const rt_spm *m, const int *ids, int n, char *out, size_t cap, char *err,
                          size_t errlen);
int rt_spm_decode_pieces_err(const rt_spm *m, const char *pieces, size_t len, char *out, size_t cap,
                             char *err, size_t errlen);

/* The same four calls with outputs of any size: on success *out is a malloc'ed array (ids) or
 * NUL-terminated string that the caller frees with free(); on failure *out is NULL. The return
 * value is the count of ids / pieces, or the decoded byte length, or -1 with a message.
 * out_len (may be NULL) receives the byte length of the pieces string: pieces may contain NUL
 * when the input does (U+0000 is valid UTF-8), so strlen() is not always enough. */
int rt_spm_encode_ids_alloc(const rt_spm *m, const char *text, size_t len, int **out, char *err,
                            size_t errlen);
int rt_spm_encode_pieces_alloc(const rt_spm *m, const char *text, size_t len, char **out,
                               size_t *out_len, char *err, size_t errlen);
int rt_spm_decode_ids_alloc(const rt_spm *m, const int *ids, int n, char **out, char *err,
                            size_t errlen);
int rt_spm_decode_pieces_alloc(const rt_spm *m, const char *pieces, size_t len, char **out,
                               char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
