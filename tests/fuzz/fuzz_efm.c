/* tests/fuzz/fuzz_efm.c: libFuzzer target for the `.efm` reader (runtime/efm.c). Every input is
 * loaded twice with rt_efm_open_memory: as it is (almost always stopped by the size or CRC
 * check), and as a 64-byte aligned copy whose file_size field and CRC are rewritten to match, so
 * that mutations reach every header, section, directory, tensor, tokenizer and dictionary check
 * behind the CRC (and the zero-copy path). A model that loads is then walked completely (every
 * tensor byte, scale and row sum, every name and dictionary symbol), texts are encoded and
 * decoded with its tokenizer and dictionary, and small models are run through the decoder
 * (greedy and beam 2, a few tokens) through the public API's building blocks.
 * Built by tests/fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined) and, without
 * libFuzzer, by tests/fuzz/CMakeLists.txt with fuzz_driver.c as a regression test.
 * It must never crash, hang, leak or read out of bounds on any input: a failed load only has to
 * come with a message and no model.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/crc32.h"
#include "runtime/decode.h"
#include "runtime/efm.h"

#define ERRLEN 512
#define DECODE_MAX_FILE (256u << 10) /* run the decoder only on files up to this size */
#define DECODE_MAX_DIM 256
#define DECODE_MAX_VOCAB 4096

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_efm: broken invariant: %s\n", what);
    abort();
  }
}

static const char *const TEXTS[] = {"In the beginning God created the heavens and the earth.",
                                    "",
                                    " ",
                                    "Straße, Größe — „Anführungszeichen“ \xf0\x9f\x98\x80",
                                    "invalid \xff\xfe bytes",
                                    "<s> </s> <unk> <pad>"};

/* Reads every byte a decoder could touch, so ASan sees any pointer outside the mapping. */
static volatile uint32_t sink;

static void walk(const rt_efm *f) {
  const rt_model *m = rt_efm_model(f);
  uint32_t acc = 0;
  for (int t = 0; t < m->n_tensors; t++) {
    const rt_mat *x = &m->tensors[t];
    size_t n = (size_t)x->rows * (size_t)x->cols;
    acc += (uint32_t)strlen(m->names[t]);
    if (x->dtype == RT_F32) {
      for (size_t i = 0; i < n; i++) acc += (uint32_t)(x->f[i] != 0);
    } else {
      for (size_t i = 0; i < n; i++) acc += (uint8_t)x->q[i];
      for (int r = 0; r < x->rows; r++) acc += (uint32_t)x->rowsum[r] + (x->scale[r] > 1);
    }
  }
  for (int id = 0; id < rt_efm_dict_size(f); id++) {
    const char *s = rt_efm_symbol(f, id);
    check(s != NULL, "symbol of an id in range");
    acc += (uint32_t)strlen(s);
  }
  check(rt_efm_symbol(f, -1) == NULL && rt_efm_symbol(f, rt_efm_dict_size(f)) == NULL,
        "symbols out of range are NULL");
  sink = acc;
}

static void exercise_text(const rt_efm *f, rt_decoder *dec) {
  char err[ERRLEN];
  int V = rt_efm_dict_size(f);
  for (size_t i = 0; i < sizeof TEXTS / sizeof TEXTS[0]; i++) {
    int *ids = NULL;
    int n = rt_efm_encode(f, TEXTS[i], strlen(TEXTS[i]), &ids, err, sizeof err);
    if (n < 0) {
      check(ids == NULL && err[0], "failed encode has a message");
      continue;
    }
    check(n >= 1 && ids[n - 1] == RT_EOS, "encode ends with </s>");
    for (int k = 0; k < n; k++) check(ids[k] >= 0 && ids[k] < V, "encoded id in range");
    char *text = NULL;
    if (rt_efm_decode(f, ids, n, &text, err, sizeof err) >= 0) free(text);
    if (dec) {
      rt_search_opts o;
      rt_search_opts_default(&o);
      o.max_len_b = 3;
      const int *src[1] = {ids};
      for (int beam = 1; beam <= 2; beam++) {
        o.beam = beam;
        if (rt_generate(dec, 1, src, &n, &o, err, sizeof err) == 0) {
          int count = 0;
          const rt_hypo *h = rt_decoder_hypos(dec, 0, &count);
          check(h && count >= 1, "hypotheses after generate");
          char *out = NULL;
          if (rt_efm_decode(f, h[0].tokens, h[0].len, &out, err, sizeof err) >= 0) free(out);
        }
      }
    }
    free(ids);
  }
  /* ids spread over the vocabulary, then one out of range */
  int ids[17];
  for (int k = 0; k < 16; k++) ids[k] = (int)((long long)k * V / 16);
  ids[16] = V;
  char *text = NULL;
  if (rt_efm_decode(f, ids, 16, &text, err, sizeof err) >= 0) free(text);
  check(rt_efm_decode(f, ids, 17, &text, err, sizeof err) < 0 && text == NULL,
        "decode of an id out of range fails");
}

static void try_load(const uint8_t *data, size_t size) {
  char err[ERRLEN] = "";
  rt_efm *f = (rt_efm *)&err; /* must be reset to NULL on failure */
  if (rt_efm_open_memory(data, size, "fuzz.efm", &f, err, sizeof err) != 0) {
    check(f == NULL, "failed load returns no model");
    check(err[0] != 0, "failed load has a message");
    check(memchr(err, '\n', sizeof err) == NULL, "message is one line");
    return;
  }
  walk(f);
  const rt_model *m = rt_efm_model(f);
  rt_decoder *dec = NULL;
  if (size <= DECODE_MAX_FILE && m->cfg.embed_dim <= DECODE_MAX_DIM &&
      m->cfg.vocab_size <= DECODE_MAX_VOCAB && m->cfg.encoder_ffn_dim <= 4 * DECODE_MAX_DIM &&
      m->cfg.decoder_ffn_dim <= 4 * DECODE_MAX_DIM) {
    rt_kernels *k = rt_kernels_new(RT_ISA_PORTABLE);
    if (k && rt_decoder_new(m, k, &dec, err, sizeof err) == 0) exercise_text(f, dec);
    rt_decoder_free(dec);
    rt_kernels_free(k);
  } else {
    exercise_text(f, NULL);
  }
  rt_efm_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try_load(data, size);
  if (size < RT_EFM_HEADER_SIZE + 4) return 0;
  size_t cap = (size + RT_EFM_ALIGN - 1) / RT_EFM_ALIGN * RT_EFM_ALIGN;
  uint8_t *b = aligned_alloc(RT_EFM_ALIGN, cap);
  if (!b) return 0;
  memcpy(b, data, size);
  for (int i = 0; i < 8; i++) b[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
  uint32_t crc = rt_crc32(0, b, size - 4);
  for (int i = 0; i < 4; i++) b[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
  try_load(b, size);
  free(b);
  return 0;
}
