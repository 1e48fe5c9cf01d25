/* eval/tok_intl.h: sacreBLEU 2.6.0's other BLEU tokenizers: `intl` (tokenizer_intl.py,
 * mteval-v14's international tokenization with the `regex` module's \p{N} \p{P} \p{S}),
 * `zh` (tokenizer_zh.py: strip, space out the characters its _UCODE_RANGES accept, then
 * TokenizerRegexp), `char` (every character a token) and `none` (the line as it is). Every
 * output is the token list joined by single spaces (Python str.split() whitespace), which is
 * exactly how sacreBLEU's n-gram extraction reads a tokenizer's output. The Unicode sets come
 * from eval/tok_tables.h, generated from the reference itself. It must never differ from the
 * reference on any code point of those tables. */
#ifndef EF_EVAL_TOK_INTL_H
#define EF_EVAL_TOK_INTL_H

#include <stddef.h>
#include <stdint.h>

#include "eval/buf.h"
#include "eval/tok13a.h"

/* All take valid UTF-8 s[0..len) (already lowercased and rstripped as sacreBLEU does),
 * write the tokens into out and return 0, or -1 when out of memory. */
int ef_tok_intl_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out);
int ef_tok_zh_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out);
int ef_tok_char_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out);

/* The character classes, for tests. */
int ef_intl_is_number(uint32_t cp);
int ef_intl_is_punct(uint32_t cp);
int ef_intl_is_symbol(uint32_t cp);
int ef_zh_is_chinese(uint32_t cp);

#endif
