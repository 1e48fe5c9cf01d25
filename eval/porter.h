/* eval/porter.h: the Porter stemmer exactly as NLTK's PorterStemmer() in its default
 * NLTK_EXTENSIONS mode (nltk/stem/porter.py), which is what Google's rouge-score uses for
 * use_stemmer=True. It must never read or write outside the given buffers. */
#ifndef EF_EVAL_PORTER_H
#define EF_EVAL_PORTER_H

#include <stddef.h>

/* The stem is at most this many bytes longer than the word (step 1b adds an 'e'). */
#define EF_PORTER_GROWTH 1

/* Stems word[0..len) (lowercase ASCII, as rouge-score's tokenizer produces; other bytes
 * count as consonants) into out (room for len + EF_PORTER_GROWTH bytes, not
 * NUL-terminated). Returns the stem's length. */
size_t ef_porter_stem(const char *word, size_t len, char *out);

#endif
