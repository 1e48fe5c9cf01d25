/* eval/sentsplit.h: a rule-based English sentence splitter for ROUGE-Lsum, standing in for the
 * NLTK punkt model rouge-score's split_summaries=True calls (nltk.sent_tokenize), which is a
 * trained model not available offline. Rules (docs/metrics.md "ROUGE-Lsum sentence
 * splitting"): a sentence ends after a run of '.', '!' or '?' (plus closing quotes and
 * brackets) that is followed by whitespace, except after a known abbreviation, a single-letter
 * initial, or an ellipsis / abbreviation followed by a lowercase word. It must never change a
 * character other than the whitespace it turns into the boundary: tokens are unchanged. */
#ifndef EF_EVAL_SENTSPLIT_H
#define EF_EVAL_SENTSPLIT_H

#include <stddef.h>

/* Writes s[0..len) (valid UTF-8) to out (room for len bytes) with the whitespace run after each
 * sentence end replaced by one '\n', and every other '\n' or '\r' by a space (punkt does not
 * split at line breaks). Returns the output length (<= len). */
size_t ef_split_sentences(const char *s, size_t len, char *out);

#endif
