/* tests/fuzz/fuzz_spm_check.c: the invariants both SentencePiece fuzz targets check on a loaded
 * model (see fuzz_spm_check.h). Every call of runtime/spm.h is made through both its alloc and
 * its fixed-size form so the size computations are checked against each other.
 * It must never leak, never read past the bytes it was given and never keep state between calls.
 */
#include "tests/fuzz/fuzz_spm_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRLEN 256

void fuzz_spm_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_spm: invariant broken: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  abort();
}

static void need_msg(const char *call, const char *err) {
  if (err[0] == 0) fuzz_spm_fail(call, "failed without a message");
}

/* decode_ids: alloc and fixed-size forms agree (exact buffer fits, one byte less fails). */
static void check_decode_ids(const rt_spm *m, const int *ids, int n, int must_succeed) {
  char err[ERRLEN] = "";
  char *text = NULL;
  int d = rt_spm_decode_ids_alloc(m, ids, n, &text, err, sizeof err);
  if (d < 0) {
    if (must_succeed) fuzz_spm_fail("decode_ids_alloc of encoded ids", err);
    need_msg("decode_ids_alloc", err);
    if (text) fuzz_spm_fail("decode_ids_alloc", "failed but returned a buffer");
    char small[16];
    if (rt_spm_decode_ids_err(m, ids, n, small, sizeof small, err, sizeof err) >= 0)
      fuzz_spm_fail("decode_ids_err", "succeeds where decode_ids_alloc failed");
    return;
  }
  if (text[d] != 0) fuzz_spm_fail("decode_ids_alloc", "result not NUL-terminated");
  char *buf = malloc((size_t)d + 1);
  if (!buf) abort();
  int d2 = rt_spm_decode_ids_err(m, ids, n, buf, (size_t)d + 1, err, sizeof err);
  if (d2 != d || memcmp(buf, text, (size_t)d + 1) != 0)
    fuzz_spm_fail("decode_ids_err", "differs from decode_ids_alloc");
  if (d > 0) {
    err[0] = 0;
    if (rt_spm_decode_ids_err(m, ids, n, buf, (size_t)d, err, sizeof err) >= 0)
      fuzz_spm_fail("decode_ids_err", "fits a buffer one byte too small");
    need_msg("decode_ids_err (buffer too small)", err);
  }
  /* the decoded text goes back through the encoder: any result is fine, no crash is not */
  int *again = NULL;
  err[0] = 0;
  if (rt_spm_encode_ids_alloc(m, text, (size_t)d, &again, err, sizeof err) < 0)
    need_msg("encode_ids_alloc of decoded text", err);
  free(again);
  free(buf);
  free(text);
}

/* decode_pieces: alloc and fixed-size forms agree. */
static void check_decode_pieces(const rt_spm *m, const char *pieces, size_t len, int must_succeed) {
  char err[ERRLEN] = "";
  char *text = NULL;
  int d = rt_spm_decode_pieces_alloc(m, pieces, len, &text, err, sizeof err);
  if (d < 0) {
    if (must_succeed) fuzz_spm_fail("decode_pieces_alloc of encoded pieces", err);
    need_msg("decode_pieces_alloc", err);
    return;
  }
  if (text[d] != 0) fuzz_spm_fail("decode_pieces_alloc", "result not NUL-terminated");
  char *buf = malloc((size_t)d + 1);
  if (!buf) abort();
  int d2 = rt_spm_decode_pieces_err(m, pieces, len, buf, (size_t)d + 1, err, sizeof err);
  if (d2 != d || memcmp(buf, text, (size_t)d + 1) != 0)
    fuzz_spm_fail("decode_pieces_err", "differs from decode_pieces_alloc");
  if (d > 0 && rt_spm_decode_pieces_err(m, pieces, len, buf, (size_t)d, err, sizeof err) >= 0)
    fuzz_spm_fail("decode_pieces_err", "fits a buffer one byte too small");
  free(buf);
  free(text);
}

void fuzz_spm_exercise_text(const rt_spm *m, const char *text, size_t len) {
  char err[ERRLEN] = "";
  int *ids = NULL;
  char *pieces = NULL;
  size_t plen = 0;
  int n = rt_spm_encode_ids_alloc(m, text, len, &ids, err, sizeof err);
  if (n < 0) need_msg("encode_ids_alloc", err);
  err[0] = 0;
  int np = rt_spm_encode_pieces_alloc(m, text, len, &pieces, &plen, err, sizeof err);
  if (np < 0) need_msg("encode_pieces_alloc", err);
  if ((n < 0) != (np < 0) || n != np) fuzz_spm_fail("encode", "ids and pieces counts differ");
  if (n < 0) {
    if (ids || pieces) fuzz_spm_fail("encode_*_alloc", "failed but returned a buffer");
    return;
  }
  int vocab = rt_spm_vocab_size(m);
  for (int i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= vocab) fuzz_spm_fail("encode_ids_alloc", "id out of range");
  if (pieces[plen] != 0) fuzz_spm_fail("encode_pieces_alloc", "result not NUL-terminated");

  /* fixed-size forms: the exact size fits and gives the same result, one less fails */
  int *ids2 = malloc(((size_t)n + 1) * sizeof *ids2);
  char *pieces2 = malloc(plen + 1);
  if (!ids2 || !pieces2) abort();
  if (rt_spm_encode_ids(m, text, len, ids2, n, err, sizeof err) != n ||
      (n > 0 && memcmp(ids, ids2, (size_t)n * sizeof *ids) != 0))
    fuzz_spm_fail("encode_ids", "differs from encode_ids_alloc");
  if (rt_spm_encode_pieces(m, text, len, pieces2, plen + 1, err, sizeof err) != n ||
      memcmp(pieces, pieces2, plen + 1) != 0)
    fuzz_spm_fail("encode_pieces", "differs from encode_pieces_alloc");
  err[0] = 0;
  if (n > 0 && rt_spm_encode_ids(m, text, len, ids2, n - 1, err, sizeof err) >= 0)
    fuzz_spm_fail("encode_ids", "fits a buffer one id too small");
  if (n > 0) need_msg("encode_ids (buffer too small)", err);
  err[0] = 0;
  if (rt_spm_encode_pieces(m, text, len, pieces2, plen, err, sizeof err) >= 0)
    fuzz_spm_fail("encode_pieces", "fits a buffer one byte too small");
  need_msg("encode_pieces (buffer too small)", err);

  check_decode_ids(m, ids, n, 1);
  check_decode_pieces(m, pieces, plen, 1);
  free(ids2);
  free(pieces2);
  free(ids);
  free(pieces);
}

void fuzz_spm_exercise_decode(const rt_spm *m, const int *ids, int n, const char *pieces,
                              size_t len) {
  check_decode_ids(m, ids, n, 0);
  check_decode_pieces(m, pieces, len, 0);
}

void fuzz_spm_exercise_vocab(const rt_spm *m) {
  int n = rt_spm_vocab_size(m);
  if (n <= 0) fuzz_spm_fail("vocab_size", "a loaded model has no pieces");
  int walk = n < FUZZ_SPM_MAX_VOCAB_WALK ? n : FUZZ_SPM_MAX_VOCAB_WALK;
  for (int id = 0; id < walk; id++) {
    const char *p = rt_spm_id_to_piece(m, id);
    if (!p) fuzz_spm_fail("id_to_piece", "NULL for an id in range");
    if (rt_spm_piece_to_id(m, p) != id) fuzz_spm_fail("piece_to_id", p);
    if (rt_spm_piece_kind(m, id) == 0) fuzz_spm_fail("piece_kind", p);
    (void)rt_spm_piece_score(m, id);
  }
  if (rt_spm_id_to_piece(m, -1) || rt_spm_id_to_piece(m, n))
    fuzz_spm_fail("id_to_piece", "non-NULL for an id out of range");
  if (rt_spm_piece_kind(m, n) != 0) fuzz_spm_fail("piece_kind", "kind for an id out of range");
  int unk = rt_spm_unk_id(m);
  if (unk < 0 || unk >= n || rt_spm_piece_kind(m, unk) != RT_SPM_UNKNOWN)
    fuzz_spm_fail("unk_id", "not an UNKNOWN piece");
  if (rt_spm_piece_to_id(m, "\xe2\x96\x81no such piece \x01") != unk)
    fuzz_spm_fail("piece_to_id", "absent piece is not unk");
  int special[3] = {rt_spm_bos_id(m), rt_spm_eos_id(m), rt_spm_pad_id(m)};
  for (int i = 0; i < 3; i++)
    if (special[i] < -1 || special[i] >= n) fuzz_spm_fail("bos/eos/pad id", "out of range");
  (void)rt_spm_algorithm(m);
}
