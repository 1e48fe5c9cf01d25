/* eval/tok13a.h: sacreBLEU's "13a" tokenizer (mteval-v13a as sacreBLEU 2.x implements it in
 * tokenizer_13a.py and tokenizer_re.py), the default tokenizer of BLEU. It must never
 * change its output for any input: BLEU scores people compare depend on every byte. */
#ifndef EF_EVAL_TOK13A_H
#define EF_EVAL_TOK13A_H

#include <stddef.h>

#include "eval/buf.h"

typedef struct {
  ef_bytes a, b;  /* ping-pong scratch */
  ef_bytes c;     /* the zh tokenizer's spaced line (tok_intl.c) */
  ef_u32s ua, ub; /* code-point scratch of the intl and zh tokenizers (tok_intl.c) */
} ef_tok13a;

/* Tokenizes s[0..len) (valid UTF-8; the caller has already lowercased and rstripped as
 * sacreBLEU does) into out: tokens joined by single spaces, no leading/trailing space
 * (out is overwritten, NUL-terminated). Returns 0, or -1 when out of memory. Steps:
 * drop "<skipped>", join "-\n", newline -> space, unescape &quot; &amp; &lt; &gt; (in that
 * order, each once over the line), pad, then the four regexes of tokenizer_re.py, then
 * split on Python whitespace and join with one space. */
int ef_tok13a_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out);
void ef_tok13a_free(ef_tok13a *t);
/* sacreBLEU's TokenizerRegexp alone (tokenizer_re.py: the four regexes, no unescaping, no
 * padding), as the zh tokenizer applies it after spacing CJK characters. */
int ef_tokre_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out);
/* ' '.join(s.split()) with Python's whitespace; out overwritten, NUL-terminated. */
int ef_tok_split_join(const char *s, size_t len, ef_bytes *out);

#endif
