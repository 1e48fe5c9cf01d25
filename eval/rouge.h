/* eval/rouge.h: ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum (precision, recall, F1) exactly as
 * Google's rouge-score 0.1.2 (rouge_scorer.RougeScorer with its DefaultTokenizer):
 * Python-lowercase, every run of characters outside [a-z0-9] becomes a space, split, and
 * with stemming on, NLTK's Porter stemmer (NLTK_EXTENSIONS mode, the PorterStemmer()
 * default) for tokens longer than 3 characters. ROUGE-L is the LCS of the whole texts;
 * ROUGE-Lsum splits both texts on '\n' (dropping empty pieces) and computes the
 * summary-level union LCS with rouge-score's tie-breaking and no double counting.
 * Several references: RougeScorer.score_multi (per type, the reference with the highest F1,
 * the first on ties). It must never aggregate: a corpus mean is the caller's business. */
#ifndef EF_EVAL_ROUGE_H
#define EF_EVAL_ROUGE_H

#include <stddef.h>

#define EF_ROUGE_MAX_REFS 64
/* LCS tables above this many cells are refused (texts of ~16k x 16k tokens). */
#define EF_ROUGE_MAX_LCS_CELLS ((size_t)1 << 28)

typedef struct {
  double p, r, f;
} ef_prf;

enum { EF_ROUGE_1, EF_ROUGE_2, EF_ROUGE_L, EF_ROUGE_LSUM, EF_ROUGE_NTYPES };

typedef struct {
  ef_prf s[EF_ROUGE_NTYPES];
} ef_rouge_score;

/* "rouge1", "rouge2", "rougeL", "rougeLsum" */
const char *ef_rouge_type_name(int type);

typedef struct ef_rouge ef_rouge;

ef_rouge *ef_rouge_new(int use_stemmer);
void ef_rouge_free(ef_rouge *r);
/* Scores prediction against nrefs targets (UTF-8 with lengths). 0, or -1 with a message
 * (invalid UTF-8, texts too long, out of memory). */
int ef_rouge_score_pair(ef_rouge *r, const char *pred, size_t pred_len, const char *const *targets,
                        const size_t *target_lens, int nrefs, ef_rouge_score *out, char *err,
                        size_t errlen);
/* rouge-score's tokenizer output for s, tokens joined by single spaces; owned by r, valid
 * until the next call. NULL on error. */
const char *ef_rouge_tokenize(ef_rouge *r, const char *s, size_t len);

#endif
