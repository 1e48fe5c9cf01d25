/* tests/fuzz/fuzz_spm_model.c: libFuzzer target for the `.model` reader. The input bytes are
 * loaded with rt_spm_load_memory; when loading succeeds the model's vocabulary is walked and a
 * fixed set of texts (English, German, Spanish, digits, whitespace runs, literal special pieces,
 * invalid UTF-8) is encoded and decoded, together with fixed id lists and piece strings.
 * Built by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined) and, without libFuzzer,
 * by tests/fuzz/CMakeLists.txt with fuzz_driver.c as a regression test.
 * It must never crash, hang, leak or read out of bounds on any input: a failed load only has to
 * come with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spm.h"
#include "tests/fuzz/fuzz_spm_check.h"

#define ERRLEN 256
#define DECODE_IDS 64 /* ids spread over the vocabulary decoded per model */

/* Texts encoded with every model that loads; lengths are explicit (one holds a NUL). */
static const struct {
  const char *s;
  size_t len;
} TEXTS[] = {
#define T(lit)                                                                                     \
  { lit, sizeof(lit) - 1 }
    T("In the beginning God created the heavens and the earth."),
    T("Straße, Größe, Ärger, Öl, Übermut, ß ẞ — „Anführungszeichen“"),
    T("Die Datei »%s« konnte nicht geöffnet werden: Zugriff verweigert."),
    T("¿Qué pasó? ¡Ay! Niño, año, corazón. Y dijo Dios: Sea la luz."),
    T("0123456789 3.14159 1,000,000 2026-11-24 12:34:56 +49 (0)30 1234"),
    T(""),
    T(" "),
    T("   many    inner     spaces\tand\ttabs  "),
    T("<s> </s> <unk> <pad> <0x41> <0xZZ> \xe2\x96\x81 \xe2\x96\x81\xe2\x96\x81 \xe2\x81\x87"),
    T("ＦＵＬＬＷＩＤＴＨ ﬁ ﬂ Ⅻ ① ½ x² e\xcc\x81 \xef\xbb\xbf zero\xe2\x80\x8bwidth"),
    T("emoji \xf0\x9f\x98\x80 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd 日本語 한국어 العربية"),
    T("nul\0inside and \x01\x7f control"),
    T("\xef\xbf\xbd replacement character"),
    T("invalid \xff\xfe bytes"),
    T("truncated \xe2\x82"),
    T("overlong \xc0\xaf slash"),
    T("surrogate \xed\xa0\x80 half"),
    T("beyond \xf4\x90\x80\x80 U+10FFFF"),
    T("\xc3"),
#undef T
};
#define NTEXTS (sizeof TEXTS / sizeof TEXTS[0])

static const char PIECES[] = "\xe2\x96\x81Stra\xc3\x9f"
                             "e <0x41> <0xFF> <0xC3> <unk> <s> </s> \xe2\x96\x81"
                             "a\xc3\xb1o "
                             "xyz   \xe2\x96\x81 <pad>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[ERRLEN] = "";
  rt_spm *m = NULL;
  if (rt_spm_load_memory(data, size, "fuzz.model", &m, err, sizeof err) != 0) {
    if (m) fuzz_spm_fail("load", "failed but returned a model");
    if (err[0] == 0) fuzz_spm_fail("load", "failed without a message");
    return 0;
  }
  fuzz_spm_exercise_vocab(m);
  for (size_t i = 0; i < NTEXTS; i++) fuzz_spm_exercise_text(m, TEXTS[i].s, TEXTS[i].len);

  /* ids spread over the whole vocabulary, then the same with one id out of range */
  int n = rt_spm_vocab_size(m), ids[DECODE_IDS + 1];
  for (int i = 0; i < DECODE_IDS; i++) ids[i] = (int)((long long)i * n / DECODE_IDS);
  ids[DECODE_IDS] = n;
  fuzz_spm_exercise_decode(m, ids, DECODE_IDS, PIECES, sizeof PIECES - 1);
  fuzz_spm_exercise_decode(m, ids, DECODE_IDS + 1, PIECES, 0);
  rt_spm_free(m);
  return 0;
}
