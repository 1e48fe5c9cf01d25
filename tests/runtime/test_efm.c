/* tests/runtime/test_efm.c: the .efm writer and reader. Round trips of seeded models of every
 * fixture config (fp32 exact, int8 within the per-row quantisation bound, float tensors exact,
 * layer table and names identical), the file and memory paths, the embedded tokenizer and
 * dictionary against the same mapping done by hand, export from a checkpoint, and malformed
 * files: truncations, flipped bytes, and each header / directory / section field broken on
 * purpose (with the CRC fixed so the field check itself is reached), each a one-line error. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "export/efm_write.h"
#include "export/export.h"
#include "model/to_runtime.h"
#include "runtime/crc32.h"
#include "runtime/edgeformer_rt.h"
#include "runtime/efm.h"
#include "runtime/spm.h"
#include "tests/runtime/efm_fixture.h"

#define SPM_SMALL EF_FIXTURES "/spm/char_identity.model"
#define SPM_UNI2K EF_FIXTURES "/spm/uni2k_nfkc.model"

static char err[2048];

static const char *const CONFIGS[] = {"edgelm_small", "bias_la", "prefix_la",   "no_la",
                                      "gelu",         "ut_like", "transformer", "std_tied"};
#define N_CONFIGS (int)(sizeof CONFIGS / sizeof CONFIGS[0])

static void make_fixture(const char *config, const char *spm, efm_fixture *fx) {
  char ini[512];
  snprintf(ini, sizeof ini, "%s/model/%s.ini", EF_FIXTURES, config);
  ck_assert_msg(!efm_fixture_make(ini, spm, 20221107, fx, err, sizeof err), "%s", err);
}

static uint8_t *serialize(const efm_fixture *fx, ef_efm_dtype dtype, size_t *len,
                          rt_model **rt_out) {
  rt_model *rt = NULL;
  uint8_t *buf = NULL;
  ck_assert_msg(!ef_model_to_runtime(fx->model, &rt, err, sizeof err), "%s", err);
  ck_assert_msg(!ef_efm_serialize(rt, dtype, fx->spm, fx->spm_len, fx->dict, &buf, len, NULL, err,
                                  sizeof err),
                "%s", err);
  if (rt_out)
    *rt_out = rt;
  else
    rt_model_free(rt);
  return buf;
}

static void assert_same_tables(const rt_model *a, const rt_model *b) {
  ck_assert_mem_eq(&a->cfg, &b->cfg, sizeof a->cfg);
  ck_assert_int_eq(a->n_tensors, b->n_tensors);
  ck_assert_int_eq(a->n_attn, b->n_attn);
  ck_assert_int_eq(a->n_ffn, b->n_ffn);
  ck_assert_int_eq(a->embed, b->embed);
  ck_assert_mem_eq(a->attn, b->attn, (size_t)a->n_attn * sizeof *a->attn);
  ck_assert_mem_eq(a->ffn, b->ffn, (size_t)a->n_ffn * sizeof *a->ffn);
  ck_assert_mem_eq(a->enc, b->enc, (size_t)a->cfg.encoder_layers * sizeof *a->enc);
  ck_assert_mem_eq(a->dec, b->dec, (size_t)a->cfg.decoder_layers * sizeof *a->dec);
  for (int t = 0; t < a->n_tensors; t++) ck_assert_str_eq(a->names[t], b->names[t]);
}

/* b (from the file) against a (the source, fp32): exact unless int8, then within half a step. */
static void assert_tensors_close(const rt_model *a, const rt_model *b, int expect_int8) {
  int n_i8 = 0;
  for (int t = 0; t < a->n_tensors; t++) {
    const rt_mat *x = &a->tensors[t], *y = &b->tensors[t];
    ck_assert_int_eq(x->rows, y->rows);
    ck_assert_int_eq(x->cols, y->cols);
    int want_i8 = expect_int8 && ef_efm_is_linear_weight(a, t);
    ck_assert_msg(y->dtype == (want_i8 ? RT_I8 : RT_F32), "%s: dtype %d", a->names[t], y->dtype);
    size_t cols = (size_t)x->cols;
    if (y->dtype == RT_F32) {
      ck_assert_mem_eq(x->f, y->f, (size_t)x->rows * cols * sizeof(float));
      continue;
    }
    n_i8++;
    ck_assert_int_eq((uintptr_t)y->q % RT_EFM_ALIGN, 0);
    for (int r = 0; r < x->rows; r++) {
      const float *w = x->f + (size_t)r * cols;
      float maxabs = 0;
      int32_t sum = 0;
      for (size_t c = 0; c < cols; c++) maxabs = fmaxf(maxabs, fabsf(w[c]));
      float s = y->scale[r];
      if (maxabs > 0) ck_assert_float_eq_tol(s, maxabs / 127.0f, maxabs * 1e-6f);
      for (size_t c = 0; c < cols; c++) {
        int q = y->q[(size_t)r * cols + c];
        sum += q;
        ck_assert_msg(fabsf(w[c] - s * (float)q) <= 0.5f * s * (1 + 1e-5f),
                      "%s[%d,%zu]: %g vs %g * %d", a->names[t], r, c, (double)w[c], (double)s, q);
      }
      ck_assert_int_eq(sum, y->rowsum[r]);
    }
  }
  if (expect_int8) ck_assert_int_gt(n_i8, 3);
}

START_TEST(test_crc32_matches_zlib) {
  uint8_t buf[4099];
  uint64_t s = 7;
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)((s = s * 6364136223846793005ull + 1) >> 56);
  for (size_t n = 0; n <= sizeof buf; n += n < 70 ? 1 : 97) {
    ck_assert_uint_eq(rt_crc32(0, buf, n), (uint32_t)crc32(0, buf, (uInt)n));
    size_t k = n / 3;
    ck_assert_uint_eq(rt_crc32(rt_crc32(0, buf, k), buf + k, n - k),
                      (uint32_t)crc32(0, buf, (uInt)n));
  }
  ck_assert_uint_eq(rt_crc32(0, "123456789", 9), 0xcbf43926u);
}
END_TEST

START_TEST(test_roundtrip_every_config) {
  const char *config = CONFIGS[_i / 2];
  int int8 = _i % 2;
  efm_fixture fx;
  make_fixture(config, SPM_SMALL, &fx);
  size_t len;
  rt_model *src;
  uint8_t *buf = serialize(&fx, int8 ? EF_EFM_INT8 : EF_EFM_FP32, &len, &src);
  rt_efm *f = NULL;
  ck_assert_msg(!rt_efm_open_memory(buf, len, config, &f, err, sizeof err), "%s: %s", config, err);
  const rt_model *m = rt_efm_model(f);
  assert_same_tables(src, m);
  assert_tensors_close(src, m, int8);
  /* zero-copy: the tensors point into the caller's (64-byte aligned) buffer */
  const rt_mat *e = &m->tensors[m->embed];
  const uint8_t *ep = e->dtype == RT_F32 ? (const uint8_t *)e->f : (const uint8_t *)e->q;
  ck_assert(ep >= buf && ep < buf + len);
  ck_assert_int_eq(rt_efm_dict_size(f), ef_dict_size(fx.dict));
  for (int id = 0; id < ef_dict_size(fx.dict); id++)
    ck_assert_str_eq(rt_efm_symbol(f, id), ef_dict_symbol(fx.dict, id));
  ck_assert_ptr_null(rt_efm_symbol(f, ef_dict_size(fx.dict)));
  rt_efm_close(f);
  /* the same bytes are produced again: the file is a function of its inputs */
  size_t len2;
  uint8_t *buf2 = serialize(&fx, int8 ? EF_EFM_INT8 : EF_EFM_FP32, &len2, NULL);
  ck_assert_uint_eq(len, len2);
  ck_assert_mem_eq(buf, buf2, len);
  free(buf2);
  free(buf);
  rt_model_free(src);
  efm_fixture_free(&fx);
}
END_TEST

START_TEST(test_file_mmap_and_unaligned_memory) {
  efm_fixture fx;
  make_fixture("edgelm_small", SPM_SMALL, &fx);
  rt_model *src;
  ck_assert(!ef_model_to_runtime(fx.model, &src, err, sizeof err));
  char dir[] = "/tmp/ef_efm_XXXXXX", path[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/m.efm", dir);
  ef_efm_stats st;
  ck_assert_msg(
      !ef_efm_write(path, src, EF_EFM_INT8, fx.spm, fx.spm_len, fx.dict, &st, err, sizeof err),
      "%s", err);
  rt_efm *f = NULL;
  ck_assert_msg(!rt_efm_open(path, &f, err, sizeof err), "%s", err);
  ck_assert_uint_eq(rt_efm_file_size(f), st.file_bytes);
  assert_same_tables(src, rt_efm_model(f));
  assert_tensors_close(src, rt_efm_model(f), 1);
  /* the same bytes at an odd address load from a private aligned copy */
  FILE *fp = fopen(path, "rb");
  uint8_t *raw = malloc(st.file_bytes + 1);
  ck_assert_uint_eq(fread(raw + 1, 1, st.file_bytes, fp), st.file_bytes);
  fclose(fp);
  rt_efm *g = NULL;
  ck_assert_msg(!rt_efm_open_memory(raw + 1, st.file_bytes, "odd", &g, err, sizeof err), "%s", err);
  memset(raw, 0, st.file_bytes + 1); /* g must not depend on the caller's bytes */
  free(raw);
  assert_tensors_close(src, rt_efm_model(g), 1);
  rt_efm_close(g);
  rt_efm_close(f);
  /* missing file: one line naming it */
  ck_assert(rt_efm_open("/nonexistent/x.efm", &f, err, sizeof err));
  ck_assert_ptr_null(f);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/x.efm: cannot open"));
  unlink(path);
  rmdir(dir);
  rt_model_free(src);
  efm_fixture_free(&fx);
}
END_TEST

START_TEST(test_tokenizer_and_dictionary_map_text_both_ways) {
  efm_fixture fx;
  make_fixture("edgelm_small", SPM_UNI2K, &fx);
  size_t len;
  uint8_t *buf = serialize(&fx, EF_EFM_INT8, &len, NULL);
  rt_efm *f = NULL;
  ck_assert_msg(!rt_efm_open_memory(buf, len, "tok", &f, err, sizeof err), "%s", err);
  rt_spm *ref = NULL;
  ck_assert(!rt_spm_load_memory(fx.spm, fx.spm_len, "ref", &ref, err, sizeof err));
  FILE *lines = fopen(EF_FIXTURES "/spm/lines.txt", "r");
  ck_assert_ptr_nonnull(lines);
  char line[8192];
  int n_lines = 0, n_unk = 0;
  while (fgets(line, sizeof line, lines) && n_lines < 200) {
    size_t l = strcspn(line, "\n");
    line[l] = 0;
    int *ids = NULL, *sp = NULL;
    int n = rt_efm_encode(f, line, l, &ids, err, sizeof err);
    int ns = rt_spm_encode_ids_alloc(ref, line, l, &sp, err, sizeof err);
    ck_assert_int_ge(n, 1);
    ck_assert_int_eq(n, ns + 1);
    ck_assert_int_eq(ids[n - 1], RT_EOS);
    for (int i = 0; i < ns; i++) {
      const char *piece = rt_spm_id_to_piece(ref, sp[i]);
      int want = ef_dict_index(fx.dict, piece, strlen(piece));
      ck_assert_int_eq(ids[i], want);
      n_unk += ids[i] == RT_UNK;
    }
    /* back to text: the same as SentencePiece decoding its own ids */
    char *text = NULL, *want = NULL;
    ck_assert_int_ge(rt_efm_decode(f, ids, n, &text, err, sizeof err), 0);
    ck_assert_int_ge(rt_spm_decode_ids_alloc(ref, sp, ns, &want, err, sizeof err), 0);
    int has_unk = 0; /* <unk> decodes to the unknown surface, not the original text */
    for (int i = 0; i < ns; i++) has_unk |= ids[i] == RT_UNK;
    if (!has_unk) ck_assert_str_eq(text, want);
    free(text), free(want), free(ids), free(sp);
    n_lines++;
  }
  fclose(lines);
  ck_assert_int_gt(n_lines, 10);
  /* out-of-range ids are an error, specials are dropped */
  int bad[2] = {5, ef_dict_size(fx.dict)};
  char *out = NULL;
  ck_assert_int_eq(rt_efm_decode(f, bad, 2, &out, err, sizeof err), -1);
  ck_assert_ptr_nonnull(strstr(err, "outside the vocabulary"));
  int specials[4] = {RT_BOS, RT_PAD, RT_EOS, RT_EOS};
  ck_assert_int_eq(rt_efm_decode(f, specials, 4, &out, err, sizeof err), 0);
  ck_assert_str_eq(out, "");
  free(out);
  ck_assert_int_eq(rt_efm_spm_to_fairseq(f, -1), RT_UNK);
  ck_assert_int_eq(rt_efm_spm_to_fairseq(f, rt_spm_unk_id(ref)), RT_UNK);
  rt_spm_free(ref);
  rt_efm_close(f);
  free(buf);
  efm_fixture_free(&fx);
}
END_TEST

START_TEST(test_export_from_checkpoint_uses_data_folder_files) {
  efm_fixture fx;
  make_fixture("edgelm_small", SPM_SMALL, &fx);
  char dir[] = "/tmp/ef_export_XXXXXX", ckpt[256], out[256];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_msg(!efm_fixture_save(&fx, dir, err, sizeof err), "%s", err);
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", dir);
  snprintf(out, sizeof out, "%s/m.efm", dir);
  ef_export_opts o = {.checkpoint = ckpt, .out = out, .dtype = EF_EFM_INT8};
  ef_export_result r;
  ck_assert_msg(!ef_export_checkpoint(&o, &r, err, sizeof err), "%s", err);
  ck_assert_ptr_nonnull(strstr(r.dict, "dict.src.txt"));
  rt_efm *f = NULL;
  ck_assert_msg(!rt_efm_open(out, &f, err, sizeof err), "%s", err);
  rt_model *src;
  ck_assert(!ef_model_to_runtime(fx.model, &src, err, sizeof err));
  assert_same_tables(src, rt_efm_model(f));
  assert_tensors_close(src, rt_efm_model(f), 1);
  rt_efm_close(f);
  /* a missing dictionary is named */
  char dict[300];
  snprintf(dict, sizeof dict, "%s/nope.txt", dir);
  o.dict = dict;
  ck_assert(ef_export_checkpoint(&o, &r, err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, "nope.txt"));
  /* a dictionary of the wrong size is refused */
  snprintf(dict, sizeof dict, "%s/small.txt", dir);
  FILE *d = fopen(dict, "w");
  fputs("a 1\nb 1\n", d);
  fclose(d);
  ck_assert(ef_export_checkpoint(&o, &r, err, sizeof err));
  ck_assert_ptr_nonnull(strstr(err, "symbols but the checkpoint's vocabulary"));
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  rt_model_free(src);
  efm_fixture_free(&fx);
}
END_TEST

START_TEST(test_c_api_statuses_and_repeatable_translation) {
  efm_fixture fx;
  make_fixture("edgelm_small", SPM_SMALL, &fx);
  size_t len;
  uint8_t *buf = serialize(&fx, EF_EFM_INT8, &len, NULL);
  ef_rt_model *m = (ef_rt_model *)1;
  ck_assert_int_eq(ef_rt_load("/nonexistent/m.efm", &m, err, sizeof err), EF_RT_ERR_IO);
  ck_assert_ptr_null(m);
  ck_assert_ptr_nonnull(strstr(err, "/nonexistent/m.efm"));
  ck_assert_int_eq(ef_rt_load_memory(buf, len - 1, "short", &m, err, sizeof err), EF_RT_ERR_FORMAT);
  ck_assert_ptr_null(m);
  ck_assert_int_eq(ef_rt_load_memory(buf, len, "api", &m, err, sizeof err), EF_RT_OK);
  ef_rt_info info;
  ef_rt_model_info(m, &info);
  ck_assert_int_eq(info.vocab_size, ef_dict_size(fx.dict));
  ck_assert_int_eq(info.int8, 1);
  ck_assert_int_eq(info.max_source_tokens, 64);
  ef_rt_options o;
  ef_rt_options_default(&o);
  ck_assert_int_eq(o.beam, 5);
  ck_assert_int_eq(o.max_len_b, 200);
  o.max_len_b = 10;
  char *a = NULL, *b = NULL;
  ck_assert_msg(ef_rt_translate(m, "God said", &o, &a, err, sizeof err) == EF_RT_OK, "%s", err);
  ck_assert_msg(ef_rt_translate(m, "God said", &o, &b, err, sizeof err) == EF_RT_OK, "%s", err);
  ck_assert_str_eq(a, b); /* the decoder's reused buffers do not change results */
  free(a), free(b);
  o.threads = 2;
  ck_assert_int_eq(ef_rt_translate(m, "God said", &o, &b, err, sizeof err), EF_RT_OK);
  free(b);
  o.beam = 0;
  ck_assert_int_eq(ef_rt_translate(m, "God said", &o, &b, err, sizeof err), EF_RT_ERR_ARGUMENT);
  ck_assert_ptr_null(b);
  o.beam = 1;
  ck_assert_int_eq(ef_rt_translate(m, "bad \xff utf-8", &o, &b, err, sizeof err), EF_RT_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
  char long_text[400];
  memset(long_text, 'a', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = 0;
  ck_assert_int_eq(ef_rt_translate(m, long_text, &o, &b, err, sizeof err), EF_RT_ERR_INPUT);
  ck_assert_ptr_nonnull(strstr(err, "the model allows 64"));
  for (int s = EF_RT_OK; s <= EF_RT_ERR_INPUT; s++)
    ck_assert_ptr_nonnull(ef_rt_strerror((ef_rt_status)s));
  ef_rt_free(m);
  ef_rt_free(NULL);
  free(buf);
  efm_fixture_free(&fx);
}
END_TEST

/* ---- malformed files ------------------------------------------------------------------------ */

static uint32_t get32(const uint8_t *p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void set32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> 8 * i);
}
static void set64(uint8_t *p, uint64_t v) {
  set32(p, (uint32_t)v), set32(p + 4, (uint32_t)(v >> 32));
}
static void fix_crc(uint8_t *b, size_t len) {
  set32(b + len - 4, (uint32_t)crc32(0, b, (uInt)(len - 4)));
}

/* Loading b must fail with one line starting "bad: " and containing want. */
static void expect_error(const uint8_t *b, size_t len, const char *want, const char *what) {
  rt_efm *f = (rt_efm *)1;
  err[0] = 0;
  int rc = rt_efm_open_memory(b, len, "bad", &f, err, sizeof err);
  ck_assert_msg(rc != 0, "%s: loaded", what);
  ck_assert_ptr_null(f);
  ck_assert_msg(!strncmp(err, "bad: ", 5), "%s: message '%s'", what, err);
  ck_assert_msg(!strchr(err, '\n'), "%s: message has a newline: '%s'", what, err);
  ck_assert_msg(!want || strstr(err, want), "%s: message '%s' lacks '%s'", what, err, want);
}

static uint64_t sec_off(const uint8_t *b, int s) { return get64(b + 96 + 16 * s); }
static uint8_t *entry(uint8_t *b, int t) {
  return b + sec_off(b, RT_EFM_SEC_TENSORS) + (size_t)t * RT_EFM_ENTRY_SIZE;
}

START_TEST(test_truncated_and_flipped_files_fail) {
  efm_fixture fx;
  make_fixture("no_la", SPM_SMALL, &fx);
  size_t len;
  uint8_t *good = serialize(&fx, EF_EFM_INT8, &len, NULL);
  uint8_t *b = malloc(len);
  for (size_t n = 0; n < len; n += n < 1024 ? 1 : 61) {
    memcpy(b, good, n);
    expect_error(b, n, NULL, "truncated");
  }
  uint64_t s = 99;
  for (int k = 0; k < 400; k++) {
    memcpy(b, good, len);
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    size_t pos = (size_t)(s >> 33) % len;
    b[pos] ^= (uint8_t)(1u << (s >> 29 & 7));
    expect_error(b, len, pos < 24 ? NULL : "CRC", "flipped");
  }
  free(b);
  free(good);
  efm_fixture_free(&fx);
}
END_TEST

typedef struct {
  const char *what, *want;
  void (*patch)(uint8_t *b, size_t len);
} corruption;

static int first_int8(uint8_t *b) {
  for (int t = 0;; t++)
    if (get32(entry(b, t) + 8) == RT_I8) return t;
}
static int first_vector(uint8_t *b) {
  for (int t = 0;; t++)
    if (get32(entry(b, t) + 12) == 1 && get32(entry(b, t) + 8) == RT_F32) return t;
}
static void p_magic(uint8_t *b, size_t n) { b[3] = '2'; }
static void p_version(uint8_t *b, size_t n) { set32(b + 4, 2); }
static void p_flags(uint8_t *b, size_t n) { set32(b + 8, 6); }
static void p_header_size(uint8_t *b, size_t n) { set32(b + 12, 256); }
static void p_file_size(uint8_t *b, size_t n) { set64(b + 16, n + 64); }
static void p_enc_layers(uint8_t *b, size_t n) { set32(b + 24, 100000); }
static void p_vocab(uint8_t *b, size_t n) { set32(b + 76, 0xffffffffu); }
static void p_n_tensors(uint8_t *b, size_t n) { set32(b + 80, 0x7fffffff); }
static void p_embed(uint8_t *b, size_t n) { set32(b + 92, (uint32_t)-5); }
static void p_sec_past_end(uint8_t *b, size_t n) {
  set64(b + 96 + 16 * RT_EFM_SEC_DATA + 8, (uint64_t)-64);
}
static void p_sec_off_huge(uint8_t *b, size_t n) {
  set64(b + 96 + 16 * RT_EFM_SEC_SPM, 1ull << 62);
}
static void p_sec_misaligned(uint8_t *b, size_t n) {
  set64(b + 96 + 16 * RT_EFM_SEC_DATA, sec_off(b, RT_EFM_SEC_DATA) + 8);
}
static void p_layers_size(uint8_t *b, size_t n) { set64(b + 104, get64(b + 104) - 4); }
static void p_layer_index(uint8_t *b, size_t n) {
  set32(b + sec_off(b, RT_EFM_SEC_LAYERS), 1u << 30);
}
static void p_name_unterminated(uint8_t *b, size_t n) {
  set32(entry(b, 0) + 4, get32(entry(b, 0) + 4) + 1);
}
static void p_name_off(uint8_t *b, size_t n) { set32(entry(b, 0), 0xfffffff0u); }
static void p_name_newline(uint8_t *b, size_t n) {
  b[sec_off(b, RT_EFM_SEC_NAMES) + get32(entry(b, 2)) + 1] = '\n';
}
static void p_dtype(uint8_t *b, size_t n) { set32(entry(b, 0) + 8, 7); }
static void p_rows_negative(uint8_t *b, size_t n) { set32(entry(b, 0) + 12, (uint32_t)-1); }
static void p_data_off_end(uint8_t *b, size_t n) { /* the last 64-byte slot of the section */
  uint64_t end = sec_off(b, RT_EFM_SEC_DATA) + get64(b + 104 + 16 * RT_EFM_SEC_DATA);
  set64(entry(b, first_int8(b)) + 24, (end - 1) / 64 * 64);
}
static void p_data_off_misaligned(uint8_t *b, size_t n) {
  set64(entry(b, 0) + 24, get64(entry(b, 0) + 24) + 4);
}
static void p_data_off_wrap(uint8_t *b, size_t n) { set64(entry(b, 0) + 24, (uint64_t)-64); }
static void p_f32_scale(uint8_t *b, size_t n) { set64(entry(b, first_vector(b)) + 32, 64); }
static void p_reserved(uint8_t *b, size_t n) { entry(b, 1)[50] = 1; }
static void p_shape(uint8_t *b, size_t n) { /* a bias/LayerNorm vector one shorter than d */
  uint8_t *e = entry(b, first_vector(b));
  set32(e + 16, get32(e + 16) - 1);
}
static void p_scale_negative(uint8_t *b, size_t n) {
  uint8_t *e = entry(b, first_int8(b));
  set32(b + get64(e + 32), 0xbf800000u); /* -1.0f */
}
static void p_rowsum(uint8_t *b, size_t n) {
  uint8_t *e = entry(b, first_int8(b));
  set32(b + get64(e + 40), get32(b + get64(e + 40)) + 1);
}
static void p_minus128(uint8_t *b, size_t n) {
  uint8_t *e = entry(b, first_int8(b));
  int8_t *q = (int8_t *)(b + get64(e + 24));
  int32_t sum = (int32_t)get32(b + get64(e + 40)) - q[0] - 128;
  q[0] = -128;
  set32(b + get64(e + 40), (uint32_t)sum);
}
static void p_dict_newline(uint8_t *b, size_t n) {
  uint64_t off = sec_off(b, RT_EFM_SEC_DICT), size = get64(b + 104 + 16 * RT_EFM_SEC_DICT);
  b[off + size - 1] = 'x';
}
static void p_dict_short(uint8_t *b, size_t n) {
  uint64_t size = get64(b + 104 + 16 * RT_EFM_SEC_DICT);
  uint64_t off = sec_off(b, RT_EFM_SEC_DICT);
  uint64_t k = size - 1;
  while (b[off + k - 1] != '\n') k--; /* drop the last symbol */
  set64(b + 104 + 16 * RT_EFM_SEC_DICT, k);
}
static void p_spm_garbage(uint8_t *b, size_t n) {
  memset(b + sec_off(b, RT_EFM_SEC_SPM), 0xff, 16);
}
static void p_section_order(uint8_t *b, size_t n) {
  set64(b + 96 + 16 * RT_EFM_SEC_NAMES, sec_off(b, RT_EFM_SEC_LAYERS));
}

static const corruption CORRUPTIONS[] = {
    {"magic", "bad magic", p_magic},
    {"version", "version 2", p_version},
    {"flags", "unknown flags", p_flags},
    {"header_size", "header_size 256", p_header_size},
    {"file_size", "file_size", p_file_size},
    {"encoder_layers", "encoder_layers 100000", p_enc_layers},
    {"vocab_size", "vocab_size -1", p_vocab},
    {"n_tensors", "n_tensors", p_n_tensors},
    {"embed", "embed -5", p_embed},
    {"data section past the end", "section data", p_sec_past_end},
    {"section offset huge", "section spm", p_sec_off_huge},
    {"data section misaligned", "not 64-byte aligned", p_sec_misaligned},
    {"layers size", "layers section has", p_layers_size},
    {"layer index", "refers to tensor 1073741824", p_layer_index},
    {"name unterminated", "ended by a NUL", p_name_unterminated},
    {"name offset", "outside the names section", p_name_off},
    {"name with a newline", "byte 1 of its name is 0x0a", p_name_newline},
    {"dtype", "dtype 7", p_dtype},
    {"rows", "shape [-1,", p_rows_negative},
    {"data past the data section", "runs outside the data section", p_data_off_end},
    {"data misaligned", "is not 64-byte aligned", p_data_off_misaligned},
    {"data offset wraps", "runs outside the data section", p_data_off_wrap},
    {"f32 with scale", "must be 0", p_f32_scale},
    {"reserved", "reserved bytes", p_reserved},
    {"shape vs config", "the config implies", p_shape},
    {"negative scale", "scale of row 0", p_scale_negative},
    {"rowsum", "rowsum of row 0", p_rowsum},
    {"-128", "-128", p_minus128},
    {"dict unterminated", "not ended by a newline", p_dict_newline},
    {"dict short", "symbols, the vocabulary needs", p_dict_short},
    {"spm garbage", "spm section", p_spm_garbage},
    {"sections overlap", "out of order", p_section_order},
};
#define N_CORRUPTIONS (int)(sizeof CORRUPTIONS / sizeof CORRUPTIONS[0])

START_TEST(test_each_broken_field_is_named) {
  const corruption *c = &CORRUPTIONS[_i];
  efm_fixture fx;
  make_fixture("edgelm_small", SPM_SMALL, &fx);
  size_t len;
  uint8_t *b = serialize(&fx, EF_EFM_INT8, &len, NULL);
  c->patch(b, len);
  fix_crc(b, len);
  expect_error(b, len, c->want, c->what);
  free(b);
  efm_fixture_free(&fx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("efm");
  TCase *tc = tcase_create("efm");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_crc32_matches_zlib);
  tcase_add_loop_test(tc, test_roundtrip_every_config, 0, 2 * N_CONFIGS);
  tcase_add_test(tc, test_file_mmap_and_unaligned_memory);
  tcase_add_test(tc, test_tokenizer_and_dictionary_map_text_both_ways);
  tcase_add_test(tc, test_export_from_checkpoint_uses_data_folder_files);
  tcase_add_test(tc, test_c_api_statuses_and_repeatable_translation);
  tcase_add_test(tc, test_truncated_and_flipped_files_fail);
  tcase_add_loop_test(tc, test_each_broken_field_is_named, 0, N_CORRUPTIONS);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
