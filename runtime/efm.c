/* runtime/efm.c: the `.efm` reader (format: runtime/efm.h, docs/efm.md). Maps the file, checks
 * the CRC and every header field, count, offset and size, then builds an rt_model whose tensors
 * point into the mapping, loads the embedded SentencePiece model and the dictionary.
 *
 * It must never read outside the mapping, trust a size before checking it against what holds
 * it, or write to the mapping (it is read-only). All offset arithmetic is done in uint64_t with
 * the "size <= end - off" form, so no sum can wrap.
 */
#define _POSIX_C_SOURCE 200809L
#include "runtime/efm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/crc32.h"

#define NAME_BYTES 256 /* file name kept for messages */

struct rt_efm {
  char name[NAME_BYTES];
  const uint8_t *base; /* the file's bytes */
  uint64_t size;
  void *map; /* mmap'ed region (munmap) or NULL */
  size_t map_len;
  void *copy; /* aligned copy of a caller's buffer (free) or NULL */
  rt_model *model;
  const char **names; /* [n_tensors] into the names section */
  rt_spm *spm;
  int n_dict;        /* = vocab_size */
  char *dict_buf;    /* the dict section with '\n' replaced by NUL */
  const char **syms; /* [n_dict] */
  int n_spm;
  int *spm2fs; /* [n_spm] */
};

static int fail(const rt_efm *f, char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    int n = snprintf(err, errlen, "%s: ", f->name);
    if (n < 0) n = 0;
    if ((size_t)n < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static int32_t rdi32(const uint8_t *p) { return (int32_t)rd32(p); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int host_is_little_endian(void) {
  const uint32_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static const char *const SECTION_NAMES[RT_EFM_N_SECTIONS] = {"layers", "tensors", "names",
                                                             "spm",    "dict",    "data"};

/* [off, off + n) inside [lo, hi)? */
static int in_range(uint64_t off, uint64_t n, uint64_t lo, uint64_t hi) {
  return off >= lo && off <= hi && n <= hi - off;
}

/* ---- header and sections ------------------------------------------------------------------ */

typedef struct {
  uint64_t off[RT_EFM_N_SECTIONS], size[RT_EFM_N_SECTIONS];
  rt_config cfg;
  int n_tensors, n_attn, n_ffn, embed;
  uint32_t flags;
} efm_header;

static int parse_header(const rt_efm *f, efm_header *h, char *err, size_t errlen) {
  const uint8_t *b = f->base;
  uint64_t n = f->size;
  if (n < RT_EFM_HEADER_SIZE + 4)
    return fail(f, err, errlen,
                "file is %llu bytes, shorter than the %u-byte header and CRC "
                "(not an .efm file, or truncated)",
                (unsigned long long)n, RT_EFM_HEADER_SIZE);
  if (memcmp(b, RT_EFM_MAGIC, 4))
    return fail(f, err, errlen, "bad magic at offset 0 (expected \"%s\"): not an .efm file",
                RT_EFM_MAGIC);
  uint32_t version = rd32(b + 4);
  if (version != RT_EFM_VERSION)
    return fail(f, err, errlen, "version %u at offset 4 is not supported (this runtime reads %u)",
                version, RT_EFM_VERSION);
  uint64_t file_size = rd64(b + 16);
  if (file_size != n)
    return fail(f, err, errlen,
                "header says file_size %llu (offset 16) but the file has %llu "
                "bytes (truncated or extended)",
                (unsigned long long)file_size, (unsigned long long)n);
  uint32_t stored = rd32(b + n - 4), crc = rt_crc32(0, b, (size_t)(n - 4));
  if (stored != crc)
    return fail(f, err, errlen,
                "CRC-32 mismatch (stored %08x at offset %llu, computed %08x): "
                "the file is corrupt",
                stored, (unsigned long long)(n - 4), crc);
  h->flags = rd32(b + 8);
  if (h->flags & ~RT_EFM_FLAG_INT8)
    return fail(f, err, errlen, "unknown flags 0x%x at offset 8", h->flags);
  uint32_t header_size = rd32(b + 12);
  if (header_size != RT_EFM_HEADER_SIZE)
    return fail(f, err, errlen, "header_size %u at offset 12 (expected %u)", header_size,
                RT_EFM_HEADER_SIZE);
  int32_t c[RT_EFM_N_CONFIG];
  for (int i = 0; i < RT_EFM_N_CONFIG; i++) c[i] = rdi32(b + 24 + 4 * i);
  rt_config *cfg = &h->cfg;
  cfg->encoder_layers = c[0], cfg->decoder_layers = c[1], cfg->embed_dim = c[2];
  cfg->attention_heads = c[3], cfg->encoder_ffn_dim = c[4], cfg->decoder_ffn_dim = c[5];
  cfg->decoder_layout = c[6], cfg->layer_adaptation = c[7], cfg->lora_rank = c[8];
  cfg->prefix_length = c[9], cfg->activation = c[10], cfg->max_source_positions = c[11];
  cfg->max_target_positions = c[12], cfg->vocab_size = c[13];
  /* the counts the sizes below depend on; rt_model_check checks the rest of the config */
  if (cfg->encoder_layers < 1 || cfg->encoder_layers > RT_MAX_LAYERS)
    return fail(f, err, errlen, "config encoder_layers %d (offset 24) out of range 1..%d",
                cfg->encoder_layers, RT_MAX_LAYERS);
  if (cfg->decoder_layers < 1 || cfg->decoder_layers > RT_MAX_LAYERS)
    return fail(f, err, errlen, "config decoder_layers %d (offset 28) out of range 1..%d",
                cfg->decoder_layers, RT_MAX_LAYERS);
  if (cfg->vocab_size < 5 || cfg->vocab_size > RT_MAX_VOCAB)
    return fail(f, err, errlen, "config vocab_size %d (offset 76) out of range 5..%d",
                cfg->vocab_size, RT_MAX_VOCAB);
  h->n_tensors = rdi32(b + 80), h->n_attn = rdi32(b + 84), h->n_ffn = rdi32(b + 88);
  h->embed = rdi32(b + 92);
  if (h->n_tensors < 1 || h->n_tensors > RT_EFM_MAX_TENSORS)
    return fail(f, err, errlen, "n_tensors %d (offset 80) out of range 1..%d", h->n_tensors,
                RT_EFM_MAX_TENSORS);
  if (h->n_attn < 1 || h->n_attn > 4 * RT_MAX_LAYERS)
    return fail(f, err, errlen, "n_attn %d (offset 84) out of range 1..%d", h->n_attn,
                4 * RT_MAX_LAYERS);
  if (h->n_ffn < 1 || h->n_ffn > 4 * RT_MAX_LAYERS)
    return fail(f, err, errlen, "n_ffn %d (offset 88) out of range 1..%d", h->n_ffn,
                4 * RT_MAX_LAYERS);
  if (h->embed < 0 || h->embed >= h->n_tensors)
    return fail(f, err, errlen, "embed %d (offset 92) is not a tensor index (n_tensors %d)",
                h->embed, h->n_tensors);

  /* sections: in order, aligned, inside [header_size, file_size - 4) */
  uint64_t end = n - 4, prev_end = RT_EFM_HEADER_SIZE;
  for (int s = 0; s < RT_EFM_N_SECTIONS; s++) {
    uint64_t off = rd64(b + 96 + 16 * s), size = rd64(b + 104 + 16 * s);
    uint64_t align = s == RT_EFM_SEC_DATA ? RT_EFM_ALIGN : RT_EFM_SECTION_ALIGN;
    if (off % align)
      return fail(f, err, errlen,
                  "section %s offset %llu (header offset %d) is not %llu-byte "
                  "aligned",
                  SECTION_NAMES[s], (unsigned long long)off, 96 + 16 * s,
                  (unsigned long long)align);
    if (off < prev_end || !in_range(off, size, prev_end, end))
      return fail(f, err, errlen,
                  "section %s [%llu, +%llu) (header offset %d) is out of order "
                  "or runs past the end of the data (%llu)",
                  SECTION_NAMES[s], (unsigned long long)off, (unsigned long long)size, 96 + 16 * s,
                  (unsigned long long)end);
    h->off[s] = off, h->size[s] = size;
    prev_end = off + size;
  }
  uint64_t want_layers = 4ull * (8ull * (uint64_t)h->n_attn + 4ull * (uint64_t)h->n_ffn +
                                 (uint64_t)RT_EFM_ENC_FIELDS * (uint64_t)cfg->encoder_layers +
                                 (uint64_t)RT_EFM_DEC_FIELDS * (uint64_t)cfg->decoder_layers);
  if (h->size[RT_EFM_SEC_LAYERS] != want_layers)
    return fail(f, err, errlen, "layers section has %llu bytes, the counts imply %llu",
                (unsigned long long)h->size[RT_EFM_SEC_LAYERS], (unsigned long long)want_layers);
  if (h->size[RT_EFM_SEC_TENSORS] != (uint64_t)RT_EFM_ENTRY_SIZE * (uint64_t)h->n_tensors)
    return fail(f, err, errlen, "tensors section has %llu bytes, n_tensors %d implies %llu",
                (unsigned long long)h->size[RT_EFM_SEC_TENSORS], h->n_tensors,
                (unsigned long long)RT_EFM_ENTRY_SIZE * (uint64_t)h->n_tensors);
  if (h->size[RT_EFM_SEC_SPM] == 0 || h->size[RT_EFM_SEC_SPM] > RT_SPM_MAX_MODEL_BYTES)
    return fail(f, err, errlen, "spm section size %llu out of range 1..%u",
                (unsigned long long)h->size[RT_EFM_SEC_SPM], RT_SPM_MAX_MODEL_BYTES);
  return 0;
}

/* ---- layer table ---------------------------------------------------------------------------- */

static void read_layers(const rt_efm *f, const efm_header *h, rt_model *m) {
  const uint8_t *p = f->base + h->off[RT_EFM_SEC_LAYERS];
#define NEXT() (p += 4, rdi32(p - 4))
  for (int i = 0; i < h->n_attn; i++) {
    rt_attn *a = &m->attn[i];
    a->q_w = NEXT(), a->q_b = NEXT(), a->k_w = NEXT(), a->k_b = NEXT();
    a->v_w = NEXT(), a->v_b = NEXT(), a->o_w = NEXT(), a->o_b = NEXT();
  }
  for (int i = 0; i < h->n_ffn; i++) {
    rt_ffn *q = &m->ffn[i];
    q->fc1_w = NEXT(), q->fc1_b = NEXT(), q->fc2_w = NEXT(), q->fc2_b = NEXT();
  }
  for (int i = 0; i < h->cfg.encoder_layers; i++) {
    rt_enc_layer *e = &m->enc[i];
    e->attn = NEXT(), e->ffn = NEXT();
    e->ln_attn.w = NEXT(), e->ln_attn.b = NEXT(), e->ln_ffn.w = NEXT(), e->ln_ffn.b = NEXT();
    e->lora_q.u_w = NEXT(), e->lora_q.u_b = NEXT(), e->lora_q.v_w = NEXT(), e->lora_q.v_b = NEXT();
    e->lora_v.u_w = NEXT(), e->lora_v.u_b = NEXT(), e->lora_v.v_w = NEXT(), e->lora_v.v_b = NEXT();
    e->la_bias = NEXT(), e->prefix_k = NEXT(), e->prefix_v = NEXT();
  }
  for (int i = 0; i < h->cfg.decoder_layers; i++) {
    rt_dec_layer *d = &m->dec[i];
    d->self_attn = NEXT(), d->cross_attn = NEXT(), d->ffn = NEXT();
    d->ln_self.w = NEXT(), d->ln_self.b = NEXT(), d->ln_cross.w = NEXT(), d->ln_cross.b = NEXT();
    d->ln_final.w = NEXT(), d->ln_final.b = NEXT();
  }
#undef NEXT
}

/* ---- tensor directory ----------------------------------------------------------------------- */

/* One array of n bytes at off: inside the data section and aligned. */
static int check_array(const rt_efm *f, const efm_header *h, int t, const char *field, uint64_t off,
                       uint64_t n, char *err, size_t errlen) {
  uint64_t lo = h->off[RT_EFM_SEC_DATA], hi = lo + h->size[RT_EFM_SEC_DATA];
  if (off % RT_EFM_ALIGN)
    return fail(f, err, errlen, "tensor %d (%s): %s %llu is not %u-byte aligned", t, f->names[t],
                field, (unsigned long long)off, RT_EFM_ALIGN);
  if (!in_range(off, n, lo, hi))
    return fail(f, err, errlen,
                "tensor %d (%s): %s %llu + %llu bytes runs outside the data "
                "section [%llu, %llu)",
                t, f->names[t], field, (unsigned long long)off, (unsigned long long)n,
                (unsigned long long)lo, (unsigned long long)hi);
  return 0;
}

static int read_tensors(rt_efm *f, const efm_header *h, rt_model *m, char *err, size_t errlen) {
  const uint8_t *dir = f->base + h->off[RT_EFM_SEC_TENSORS];
  const uint8_t *names = f->base + h->off[RT_EFM_SEC_NAMES];
  uint64_t names_size = h->size[RT_EFM_SEC_NAMES];
  for (int t = 0; t < h->n_tensors; t++) {
    const uint8_t *e = dir + (size_t)t * RT_EFM_ENTRY_SIZE;
    uint64_t name_off = rd32(e), name_len = rd32(e + 4);
    f->names[t] = "?";
    if (name_len < 1 || name_len > RT_EFM_MAX_NAME_BYTES ||
        !in_range(name_off, name_len + 1, 0, names_size))
      return fail(f, err, errlen,
                  "tensor %d: name [%llu, +%llu) outside the names section "
                  "(%llu bytes) or longer than %d",
                  t, (unsigned long long)name_off, (unsigned long long)name_len,
                  (unsigned long long)names_size, RT_EFM_MAX_NAME_BYTES);
    const char *nm = (const char *)names + name_off;
    if (memchr(nm, 0, (size_t)name_len) || nm[name_len] != 0)
      return fail(f, err, errlen, "tensor %d: name at names+%llu is not %llu bytes ended by a NUL",
                  t, (unsigned long long)name_off, (unsigned long long)name_len);
    for (uint64_t k = 0; k < name_len; k++) /* names go into messages: one printable line */
      if ((unsigned char)nm[k] < 0x21 || (unsigned char)nm[k] > 0x7e)
        return fail(f, err, errlen,
                    "tensor %d: byte %llu of its name is 0x%02x (names are printable ASCII)", t,
                    (unsigned long long)k, (unsigned char)nm[k]);
    f->names[t] = nm;
    uint32_t dtype = rd32(e + 8);
    int32_t rows = rdi32(e + 12), cols = rdi32(e + 16);
    uint64_t data_off = rd64(e + 24), scale_off = rd64(e + 32), rowsum_off = rd64(e + 40);
    for (int k = 20; k < 24; k++)
      if (e[k]) return fail(f, err, errlen, "tensor %d (%s): reserved bytes 20..23 not 0", t, nm);
    for (int k = 48; k < 64; k++)
      if (e[k]) return fail(f, err, errlen, "tensor %d (%s): reserved bytes 48..63 not 0", t, nm);
    if (dtype != RT_F32 && dtype != RT_I8)
      return fail(f, err, errlen, "tensor %d (%s): dtype %u (expected 0 = f32 or 1 = int8)", t, nm,
                  dtype);
    if (rows < 1 || rows > RT_MAX_VOCAB || cols < 1 || cols > RT_MAX_VOCAB)
      return fail(f, err, errlen, "tensor %d (%s): shape [%d, %d] out of range 1..%d", t, nm, rows,
                  cols, RT_MAX_VOCAB);
    uint64_t numel = (uint64_t)rows * (uint64_t)cols;
    rt_mat *mt = &m->tensors[t];
    mt->rows = rows, mt->cols = cols, mt->dtype = (int)dtype;
    if (dtype == RT_F32) {
      if (scale_off || rowsum_off)
        return fail(f, err, errlen,
                    "tensor %d (%s): f32 tensor with scale_off %llu / "
                    "rowsum_off %llu (must be 0)",
                    t, nm, (unsigned long long)scale_off, (unsigned long long)rowsum_off);
      if (check_array(f, h, t, "data_off", data_off, 4 * numel, err, errlen)) return -1;
      mt->f = (const float *)(f->base + data_off);
      continue;
    }
    if (!(h->flags & RT_EFM_FLAG_INT8))
      return fail(f, err, errlen,
                  "tensor %d (%s) is int8 but the header flags say no int8 "
                  "tensors",
                  t, nm);
    if (check_array(f, h, t, "data_off", data_off, numel, err, errlen) ||
        check_array(f, h, t, "scale_off", scale_off, 4 * (uint64_t)rows, err, errlen) ||
        check_array(f, h, t, "rowsum_off", rowsum_off, 4 * (uint64_t)rows, err, errlen))
      return -1;
    mt->q = (const int8_t *)(f->base + data_off);
    mt->scale = (const float *)(f->base + scale_off);
    mt->rowsum = (const int32_t *)(f->base + rowsum_off);
    /* values the kernels rely on: finite positive scales, exact row sums */
    for (int r = 0; r < rows; r++) {
      float s = mt->scale[r];
      if (!(s > 0) || !isfinite(s))
        return fail(f, err, errlen,
                    "tensor %d (%s): scale of row %d is %g (must be finite and "
                    "> 0)",
                    t, nm, r, (double)s);
      const int8_t *q = mt->q + (size_t)r * (size_t)cols;
      int64_t sum = 0;
      for (int c = 0; c < cols; c++) {
        if (q[c] == -128)
          return fail(f, err, errlen,
                      "tensor %d (%s): row %d holds -128 (symmetric int8 is "
                      "-127..127)",
                      t, nm, r);
        sum += q[c];
      }
      if (sum != mt->rowsum[r])
        return fail(f, err, errlen,
                    "tensor %d (%s): rowsum of row %d is %d, the values sum to "
                    "%lld",
                    t, nm, r, (int)mt->rowsum[r], (long long)sum);
    }
  }
  return 0;
}

/* ---- dictionary ----------------------------------------------------------------------------- */

static const char *const SPECIALS[4] = {"<s>", "<pad>", "</s>", "<unk>"};

static int read_dict(rt_efm *f, const efm_header *h, char *err, size_t errlen) {
  uint64_t size = h->size[RT_EFM_SEC_DICT];
  int v = h->cfg.vocab_size;
  const char *src = (const char *)f->base + h->off[RT_EFM_SEC_DICT];
  f->dict_buf = malloc((size_t)size + 1);
  f->syms = calloc((size_t)v, sizeof *f->syms);
  if (!f->dict_buf || !f->syms) return fail(f, err, errlen, "out of memory reading the dict");
  memcpy(f->dict_buf, src, (size_t)size);
  f->dict_buf[size] = 0;
  for (int i = 0; i < 4; i++) f->syms[i] = SPECIALS[i];
  int id = 4;
  uint64_t start = 0;
  for (uint64_t i = 0; i < size; i++) {
    char c = f->dict_buf[i];
    if (c == 0)
      return fail(f, err, errlen, "dict section: NUL byte at dict+%llu", (unsigned long long)i);
    if (c != '\n') continue;
    if (i == start)
      return fail(f, err, errlen, "dict section: empty symbol for id %d at dict+%llu", id,
                  (unsigned long long)i);
    if (id >= v)
      return fail(f, err, errlen, "dict section: more than vocab_size - 4 = %d symbols", v - 4);
    f->dict_buf[i] = 0;
    f->syms[id++] = f->dict_buf + start;
    start = i + 1;
  }
  if (start != size)
    return fail(f, err, errlen, "dict section: the last symbol is not ended by a newline");
  if (id != v)
    return fail(f, err, errlen,
                "dict section: %d symbols, the vocabulary needs %d (vocab_size "
                "%d - 4 specials)",
                id - 4, v - 4, v);
  f->n_dict = v;
  /* SentencePiece id -> fairseq id: a piece's last dictionary entry wins (fairseq's lookup) */
  f->n_spm = rt_spm_vocab_size(f->spm);
  f->spm2fs = malloc((size_t)(f->n_spm > 0 ? f->n_spm : 1) * sizeof *f->spm2fs);
  if (!f->spm2fs) return fail(f, err, errlen, "out of memory mapping the dictionary");
  for (int i = 0; i < f->n_spm; i++) f->spm2fs[i] = RT_UNK;
  for (int i = 4; i < v; i++) {
    int s = rt_spm_piece_to_id(f->spm, f->syms[i]);
    const char *piece = rt_spm_id_to_piece(f->spm, s);
    if (s >= 0 && s < f->n_spm && piece && !strcmp(piece, f->syms[i])) f->spm2fs[s] = i;
  }
  return 0;
}

/* ---- open / close --------------------------------------------------------------------------- */

static int parse(rt_efm *f, char *err, size_t errlen) {
  efm_header h;
  if (parse_header(f, &h, err, errlen)) return -1;
  f->names = calloc((size_t)h.n_tensors, sizeof *f->names);
  if (!f->names) return fail(f, err, errlen, "out of memory");
  f->model = rt_model_alloc(&h.cfg, h.n_tensors, h.n_attn, h.n_ffn);
  if (!f->model)
    return fail(f, err, errlen,
                "cannot allocate the model tables (n_tensors %d, n_attn %d, "
                "n_ffn %d: out of memory or out of range)",
                h.n_tensors, h.n_attn, h.n_ffn);
  rt_model *m = f->model;
  m->cfg = h.cfg;
  m->embed = h.embed;
  m->names = f->names;
  read_layers(f, &h, m);
  if (read_tensors(f, &h, m, err, errlen)) return -1;
  char msg[512];
  if (rt_model_check(m, msg, sizeof msg)) return fail(f, err, errlen, "%s", msg);
  /* named "tokenizer": encode errors (bad input text) then read "tokenizer: invalid UTF-8..." */
  if (rt_spm_load_memory(f->base + h.off[RT_EFM_SEC_SPM], (size_t)h.size[RT_EFM_SEC_SPM],
                         "tokenizer", &f->spm, msg, sizeof msg))
    return fail(f, err, errlen, "spm section: %s", msg);
  return read_dict(f, &h, err, errlen);
}

static rt_efm *efm_new(const char *name) {
  rt_efm *f = calloc(1, sizeof *f);
  if (f) snprintf(f->name, sizeof f->name, "%s", name && *name ? name : "<memory>");
  return f;
}

void rt_efm_close(rt_efm *f) {
  if (!f) return;
  rt_model_free(f->model);
  rt_spm_free(f->spm);
  free(f->names);
  free(f->dict_buf);
  free(f->syms);
  free(f->spm2fs);
  if (f->map) munmap(f->map, f->map_len);
  free(f->copy);
  free(f);
}

static int finish_open(rt_efm *f, rt_efm **out, char *err, size_t errlen) {
  if (!host_is_little_endian()) {
    fail(f, err, errlen, ".efm files are little-endian; this host is big-endian");
  } else if (parse(f, err, errlen) == 0) {
    *out = f;
    return 0;
  }
  rt_efm_close(f);
  return -1;
}

int rt_efm_open(const char *path, rt_efm **out, char *err, size_t errlen) {
  *out = NULL;
  rt_efm *f = efm_new(path);
  if (!f) {
    if (err && errlen) snprintf(err, errlen, "%s: out of memory", path);
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fail(f, err, errlen, "cannot open (%s)", strerror(errno));
    if (fd >= 0) close(fd);
    rt_efm_close(f);
    return -1;
  }
  if (!S_ISREG(st.st_mode) || st.st_size < 0 || (uint64_t)st.st_size > RT_EFM_MAX_FILE_BYTES ||
      (uint64_t)st.st_size > (uint64_t)SIZE_MAX || st.st_size < (off_t)(RT_EFM_HEADER_SIZE + 4)) {
    if (!S_ISREG(st.st_mode))
      fail(f, err, errlen, "not a regular file");
    else
      fail(f, err, errlen, "file is %lld bytes (an .efm file has %u..%llu)", (long long)st.st_size,
           RT_EFM_HEADER_SIZE + 4, (unsigned long long)RT_EFM_MAX_FILE_BYTES);
    close(fd);
    rt_efm_close(f);
    return -1;
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  close(fd);
  if (map == MAP_FAILED) {
    fail(f, err, errlen, "cannot map %lld bytes (%s)", (long long)st.st_size, strerror(map_errno));
    rt_efm_close(f);
    return -1;
  }
  f->map = map, f->map_len = (size_t)st.st_size;
  f->base = map, f->size = (uint64_t)st.st_size;
  return finish_open(f, out, err, errlen);
}

int rt_efm_open_memory(const void *buf, size_t len, const char *name, rt_efm **out, char *err,
                       size_t errlen) {
  *out = NULL;
  rt_efm *f = efm_new(name);
  if (!f) {
    if (err && errlen) snprintf(err, errlen, "%s: out of memory", name ? name : "<memory>");
    return -1;
  }
  if (!buf && len) {
    fail(f, err, errlen, "NULL buffer");
    rt_efm_close(f);
    return -1;
  }
  if ((uint64_t)len > RT_EFM_MAX_FILE_BYTES) {
    fail(f, err, errlen, "buffer of %zu bytes is larger than the %llu-byte limit", len,
         (unsigned long long)RT_EFM_MAX_FILE_BYTES);
    rt_efm_close(f);
    return -1;
  }
  if ((uintptr_t)buf % RT_EFM_ALIGN) { /* tensors need their alignment: work on a copy */
    size_t cap = (len + RT_EFM_ALIGN - 1) / RT_EFM_ALIGN * RT_EFM_ALIGN;
    f->copy = aligned_alloc(RT_EFM_ALIGN, cap ? cap : RT_EFM_ALIGN);
    if (!f->copy) {
      fail(f, err, errlen, "out of memory copying %zu bytes", len);
      rt_efm_close(f);
      return -1;
    }
    if (len) memcpy(f->copy, buf, len);
    buf = f->copy;
  }
  f->base = buf, f->size = len;
  return finish_open(f, out, err, errlen);
}

/* ---- accessors, text <-> ids ---------------------------------------------------------------- */

const rt_model *rt_efm_model(const rt_efm *f) { return f->model; }
const rt_spm *rt_efm_spm(const rt_efm *f) { return f->spm; }
uint64_t rt_efm_file_size(const rt_efm *f) { return f->size; }
int rt_efm_dict_size(const rt_efm *f) { return f->n_dict; }

const char *rt_efm_symbol(const rt_efm *f, int id) {
  return id >= 0 && id < f->n_dict ? f->syms[id] : NULL;
}

int rt_efm_spm_to_fairseq(const rt_efm *f, int spm_id) {
  return spm_id >= 0 && spm_id < f->n_spm ? f->spm2fs[spm_id] : RT_UNK;
}

int rt_efm_encode(const rt_efm *f, const char *text, size_t len, int **ids, char *err,
                  size_t errlen) {
  *ids = NULL;
  int *sp = NULL;
  int n = rt_spm_encode_ids_alloc(f->spm, text, len, &sp, err, errlen);
  if (n < 0) return -1;
  int *out = realloc(sp, ((size_t)n + 1) * sizeof *out);
  if (!out) {
    free(sp);
    return fail(f, err, errlen, "out of memory encoding %zu bytes", len);
  }
  for (int i = 0; i < n; i++) out[i] = rt_efm_spm_to_fairseq(f, out[i]);
  out[n] = RT_EOS;
  *ids = out;
  return n + 1;
}

int rt_efm_decode(const rt_efm *f, const int *ids, int n, char **out, char *err, size_t errlen) {
  *out = NULL;
  size_t total = 1;
  for (int i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= f->n_dict)
      return fail(f, err, errlen,
                  "decode: id %d at position %d is outside the vocabulary "
                  "(0..%d)",
                  ids[i], i, f->n_dict - 1);
    total += strlen(f->syms[ids[i]]) + 1;
  }
  char *pieces = malloc(total), *p = pieces;
  if (!pieces) return fail(f, err, errlen, "out of memory decoding %d ids", n);
  for (int i = 0; i < n; i++) {
    if (ids[i] == RT_BOS || ids[i] == RT_PAD || ids[i] == RT_EOS) continue;
    if (p != pieces) *p++ = ' ';
    size_t l = strlen(f->syms[ids[i]]);
    memcpy(p, f->syms[ids[i]], l);
    p += l;
  }
  *p = 0;
  int r = rt_spm_decode_pieces_alloc(f->spm, pieces, (size_t)(p - pieces), out, err, errlen);
  free(pieces);
  return r;
}
