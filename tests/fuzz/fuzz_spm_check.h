/* tests/fuzz/fuzz_spm_check.h: the checks both SentencePiece fuzz targets run on a loaded model
 * (fuzz_spm_model.c: fuzzed model, fixed texts; fuzz_spm_encode.c: fixed models, fuzzed text).
 * A broken invariant calls abort() so libFuzzer and the regression driver both report it; this
 * code must never leak, never read past the bytes it was given and never keep state between
 * calls.
 */
#ifndef EF_TESTS_FUZZ_SPM_CHECK_H
#define EF_TESTS_FUZZ_SPM_CHECK_H

#include <stddef.h>

#include "runtime/spm.h"

/* Encodes text[0..len) to ids and to pieces (alloc and fixed-size calls, exact and one-short
 * buffers), decodes both results back, and aborts when the calls disagree with each other
 * (count, success, bytes) or report failure without a message. */
void fuzz_spm_exercise_text(const rt_spm *m, const char *text, size_t len);

/* Decodes arbitrary ids (any int, in range or not) and an arbitrary pieces string; both may fail
 * but must say why, and the alloc and fixed-size calls must agree. */
void fuzz_spm_exercise_decode(const rt_spm *m, const int *ids, int n, const char *pieces,
                              size_t len);

/* Vocabulary queries on every id (at most FUZZ_SPM_MAX_VOCAB_WALK): id_to_piece / piece_to_id
 * round trip, scores, kinds, special ids. */
void fuzz_spm_exercise_vocab(const rt_spm *m);

#define FUZZ_SPM_MAX_VOCAB_WALK 20000 /* ids walked per model in fuzz_spm_exercise_vocab */

/* Stops the process with a message on stderr (abort(), so sanitizers print a stack). */
void fuzz_spm_fail(const char *what, const char *detail);

#endif
