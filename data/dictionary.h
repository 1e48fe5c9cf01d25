/* data/dictionary.h: fairseq dictionaries (`dict.txt`), the mapping between the symbols of
 * tokenised text (SentencePiece pieces, words) and the integer ids the model sees.
 *
 * Rules (identical to fairseq/data/dictionary.py, see docs/data.md):
 * - ids 0..3 are the specials `<s>` `<pad>` `</s>` `<unk>`; file entries follow from id 4 in
 *   file order. A file line is `<symbol> <count>` split at its LAST space (a symbol may contain
 *   spaces), optionally followed by ` #fairseq:overwrite`, which lets a symbol that is already
 *   present (e.g. `<unk>`) be appended again: the new id then answers lookups of that symbol.
 *   A duplicate without the flag is an error. Trailing whitespace is stripped; `\r\n` and `\r`
 *   end lines as in Python's text mode.
 * - Building from text: every whitespace-separated token of every line counts once, and each
 *   line counts one `</s>`. ef_dict_finalize then keeps the specials, sorts the other symbols by
 *   count (descending, ties by symbol in code-point order), keeps at most nwords symbols in all
 *   (specials included) and stops at the first count below threshold, then appends
 *   `madeupword0000`, `madeupword0001`, ... (count 0) until the size is a multiple of
 *   padding_factor.
 * - Encoding a line maps each token to its id (unknown -> 3) and appends `</s>` (2).
 *
 * Memory: an ef_dict owns all its strings; pointers returned by ef_dict_symbol stay valid until
 * the next call that adds symbols (ef_dict_add, ef_dict_count_line, ef_dict_finalize) or
 * ef_dict_free. Lookups are read-only and may run from several threads at once.
 *
 * Errors: functions that can fail return non-zero (or -1) and write one NUL-terminated line to
 * err (may be NULL) naming the file and the problem, e.g. "dict.txt:17: duplicate symbol 'the'".
 */
#ifndef EF_DATA_DICTIONARY_H
#define EF_DATA_DICTIONARY_H

#include <stddef.h>
#include <stdint.h>

#include "data/sha256.h"

#define EF_DICT_BOS 0 /* <s> */
#define EF_DICT_PAD 1 /* <pad> */
#define EF_DICT_EOS 2 /* </s> */
#define EF_DICT_UNK 3 /* <unk> */
#define EF_DICT_NSPECIAL 4
#define EF_DICT_PADDING_FACTOR 8                 /* fairseq-preprocess --padding-factor default */
#define EF_DICT_MAX_SYMBOLS (1 << 24)            /* largest dictionary accepted */
#define EF_DICT_MAX_SYMBOL_BYTES 65536           /* longest symbol accepted */
#define EF_DICT_MAX_FILE_BYTES ((size_t)1 << 30) /* largest dict.txt accepted */
#define EF_DICT_OVERWRITE_FLAG "#fairseq:overwrite"

typedef struct ef_dict ef_dict;

/* A dictionary holding only the four specials (count 1 each, as fairseq). NULL on OOM. */
ef_dict *ef_dict_new(void);
void ef_dict_free(ef_dict *d); /* NULL is fine */

/* Read a dict.txt (fairseq `Dictionary.load`). 0 on success (*out set), non-zero + message. */
int ef_dict_load(const char *path, ef_dict **out, char *err, size_t errlen);
/* Same from memory; name is used in messages. */
int ef_dict_load_memory(const char *buf, size_t len, const char *name, ef_dict **out, char *err,
                        size_t errlen);
/* Write dict.txt as fairseq's `Dictionary.save` does: `<symbol> <count>\n` for every id >= 4
 * (a re-added symbol gets ` #fairseq:overwrite` so the file loads back identically). Writes a
 * temporary file and renames it over path. */
int ef_dict_save(const ef_dict *d, const char *path, char *err, size_t errlen);
/* The exact bytes ef_dict_save writes, malloc'ed (caller frees); NULL on OOM. */
char *ef_dict_serialize(const ef_dict *d, size_t *len);
/* sha256 (hex) of the ef_dict_serialize bytes: equals `sha256sum dict.txt` of a file written by
 * ef_dict_save or by fairseq. This is the fingerprint stored in datasets. */
int ef_dict_checksum(const ef_dict *d, char hex[EF_SHA256_HEX_LEN + 1]);

int ef_dict_size(const ef_dict *d);
const char *ef_dict_symbol(const ef_dict *d, int id); /* NULL when out of range */
int64_t ef_dict_count(const ef_dict *d, int id);      /* 0 when out of range */
/* Id of the symbol (len bytes, need not be NUL-terminated), or EF_DICT_UNK when absent. */
int ef_dict_index(const ef_dict *d, const char *sym, size_t len);
/* 1 when the symbol is present, else 0. */
int ef_dict_contains(const ef_dict *d, const char *sym, size_t len);

/* fairseq `add_symbol`: a present symbol gets its count increased by n (unless overwrite, which
 * appends it again); a new one is appended. Returns its id, or -1 with a message (too many
 * symbols, symbol too long or empty or containing a NUL or newline, OOM). */
int ef_dict_add(ef_dict *d, const char *sym, size_t len, int64_t n, int overwrite, char *err,
                size_t errlen);
/* Count one line of tokenised text (fairseq `add_file_to_dictionary` for one line): each token
 * is added with n = 1, then `</s>` once. 0 on success. */
int ef_dict_count_line(ef_dict *d, const char *line, size_t len, char *err, size_t errlen);
/* fairseq `Dictionary.finalize(threshold, nwords, padding_factor)`; nwords <= 0 keeps all,
 * padding_factor <= 1 pads nothing. 0 on success. */
int ef_dict_finalize(ef_dict *d, int64_t threshold, int64_t nwords, int padding_factor, char *err,
                     size_t errlen);

/* Encode one line of whitespace-separated tokens (fairseq `encode_line` with
 * add_if_not_exist=False, append_eos=True): writes the ids and `</s>` to ids (cap entries) and
 * returns their number, or -1 with a message when cap is too small. When n_unk is not NULL it
 * receives the number of tokens mapped to `<unk>` that were not literally `<unk>` (fairseq's
 * "replaced" count). Whitespace is Python's str.split() set (ASCII and Unicode spaces). */
int ef_dict_encode_line(const ef_dict *d, const char *line, size_t len, int32_t *ids, int cap,
                        int *n_unk, char *err, size_t errlen);
/* Number of tokens in a line (as ef_dict_encode_line splits it), without the `</s>`. */
int ef_dict_count_tokens(const char *line, size_t len);

/* Tokenizer shared by the functions above: finds the next token of line[*pos..len) and returns
 * its length (0 at the end of the line), setting *start. Whitespace as Python's str.split(). */
size_t ef_dict_next_token(const char *line, size_t len, size_t *pos, size_t *start);

#endif
