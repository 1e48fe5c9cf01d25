/* tests/fuzz/fuzz_spm_encode.c: libFuzzer target for the encoder and decoder. The committed
 * fixture models (tests/fixtures/spm/, one per algorithm and normaliser: unigram and BPE with
 * nmt_nfkc, identity, byte fallback, user-defined symbols, whitespace as suffix, WORD, CHAR) are
 * loaded once; every input is encoded and decoded with each of them, its bytes are also decoded
 * as a pieces string and, read as little-endian int32s, as an id list.
 * Built by tests/fuzz/run.sh (clang, libFuzzer) and by tests/fuzz/CMakeLists.txt with
 * fuzz_driver.c as a regression test; FUZZ_SPM_FIXTURES names the fixture directory.
 * It must never crash, hang, leak or read out of bounds on any input text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/spm.h"
#include "tests/fuzz/fuzz_spm_check.h"

#ifndef FUZZ_SPM_FIXTURES
#error "define FUZZ_SPM_FIXTURES as the path of tests/fixtures/spm"
#endif

#define ERRLEN 512
#define MAX_DECODE_IDS 4096 /* ids read from one input for the id decoder */

static const char *const MODEL_NAMES[] = {
    "uni8k_nfkc",     "bpe8k_nfkc",      "uni4k_bytes_user", "bpe4k_bytes_user_suffix",
    "uni8k_identity", "word2k_identity", "char_identity",
};
#define NMODELS (sizeof MODEL_NAMES / sizeof MODEL_NAMES[0])

static rt_spm *models[NMODELS];

static void free_models(void) {
  for (size_t i = 0; i < NMODELS; i++) rt_spm_free(models[i]);
}

static void load_models(void) {
  char path[1024], err[ERRLEN];
  for (size_t i = 0; i < NMODELS; i++) {
    snprintf(path, sizeof path, "%s/%s.model", FUZZ_SPM_FIXTURES, MODEL_NAMES[i]);
    if (rt_spm_load(path, &models[i], err, sizeof err) != 0) {
      fprintf(stderr, "error: fuzz_spm_encode: %s\n", err);
      exit(2);
    }
  }
  atexit(free_models);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!models[0]) load_models();
  const char *text = (const char *)data;
  int nids = size / 4 < MAX_DECODE_IDS ? (int)(size / 4) : MAX_DECODE_IDS;
  int *ids = malloc(((size_t)nids + 1) * sizeof *ids);
  if (!ids) abort();
  for (int i = 0; i < nids; i++)
    ids[i] = (int)((uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 |
                   (uint32_t)data[4 * i + 2] << 16 | (uint32_t)data[4 * i + 3] << 24);
  for (size_t k = 0; k < NMODELS; k++) {
    fuzz_spm_exercise_text(models[k], text, size);
    /* ids reduced into the vocabulary (so most decode) and as they are (mostly out of range) */
    int n = rt_spm_vocab_size(models[k]);
    int *in_range = malloc(((size_t)nids + 1) * sizeof *in_range);
    if (!in_range) abort();
    for (int i = 0; i < nids; i++) in_range[i] = (int)((uint32_t)ids[i] % (uint32_t)n);
    fuzz_spm_exercise_decode(models[k], in_range, nids, text, size);
    fuzz_spm_exercise_decode(models[k], ids, nids, text, 0);
    free(in_range);
  }
  free(ids);
  return 0;
}
