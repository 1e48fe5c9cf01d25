/* export/efm_write.c: lays out and writes `.efm` files (see efm_write.h, runtime/efm.h). The
 * layout is computed first (every section and tensor array offset), then one zeroed buffer is
 * filled, so padding is always 0 and the file is a pure function of its inputs.
 *
 * It must never write a file the runtime's reader would reject: every count it stores is checked
 * against the same limits first.
 */
#include "export/efm_write.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "runtime/efm.h"
#include "runtime/kernels.h"
#include "train/durable.h"

static int set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}
static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

int ef_efm_is_linear_weight(const rt_model *m, int t) {
  if (t < 0) return 0;
  if (t == m->embed) return 1;
  for (int i = 0; i < m->n_attn; i++) {
    const rt_attn *a = &m->attn[i];
    if (t == a->q_w || t == a->k_w || t == a->v_w || t == a->o_w) return 1;
  }
  for (int i = 0; i < m->n_ffn; i++)
    if (t == m->ffn[i].fc1_w || t == m->ffn[i].fc2_w) return 1;
  for (int i = 0; i < m->cfg.encoder_layers; i++) {
    const rt_enc_layer *e = &m->enc[i];
    if (t == e->lora_q.u_w || t == e->lora_q.v_w || t == e->lora_v.u_w || t == e->lora_v.v_w)
      return 1;
  }
  return 0;
}

typedef struct {
  int i8;                       /* stored as int8 */
  uint64_t name_off;            /* into the names section */
  uint64_t data, scale, rowsum; /* absolute offsets */
} tensor_plan;

/* Row r of tensor t as floats into out[cols] (dequantising int8 sources). */
static void source_row(const rt_mat *t, int r, float *out) {
  size_t o = (size_t)r * (size_t)t->cols;
  if (t->dtype == RT_F32) {
    memcpy(out, t->f + o, (size_t)t->cols * sizeof *out);
  } else {
    for (int c = 0; c < t->cols; c++) out[c] = t->scale[r] * (float)t->q[o + (size_t)c];
  }
}

static int check_model(const rt_model *m, const ef_dict *dict, char *err, size_t errlen) {
  if (!m->names) return set_err(err, errlen, "the model has no tensor names");
  if (m->n_tensors < 1 || m->n_tensors > RT_EFM_MAX_TENSORS)
    return set_err(err, errlen, "%d tensors (the format holds 1..%d)", m->n_tensors,
                   RT_EFM_MAX_TENSORS);
  char msg[512];
  if (rt_model_check(m, msg, sizeof msg)) return set_err(err, errlen, "model: %s", msg);
  if (ef_dict_size(dict) != m->cfg.vocab_size)
    return set_err(err, errlen,
                   "the dictionary has %d symbols but the model's vocabulary is %d "
                   "(wrong dict.txt?)",
                   ef_dict_size(dict), m->cfg.vocab_size);
  for (int t = 0; t < m->n_tensors; t++) {
    const rt_mat *x = &m->tensors[t];
    size_t len = m->names[t] ? strlen(m->names[t]) : 0;
    if (len < 1 || len > RT_EFM_MAX_NAME_BYTES)
      return set_err(err, errlen, "tensor %d: name missing or longer than %d bytes", t,
                     RT_EFM_MAX_NAME_BYTES);
    for (size_t k = 0; k < len; k++)
      if ((unsigned char)m->names[t][k] < 0x21 || (unsigned char)m->names[t][k] > 0x7e)
        return set_err(err, errlen, "tensor %d: its name is not printable ASCII", t);
    if (x->rows < 1 || x->cols < 1 || x->rows > RT_MAX_VOCAB || x->cols > RT_MAX_VOCAB)
      return set_err(err, errlen, "tensor %d (%s): shape [%d, %d] out of range", t, m->names[t],
                     x->rows, x->cols);
    if (x->dtype == RT_F32 ? !x->f : (!x->q || !x->scale || !x->rowsum))
      return set_err(err, errlen, "tensor %d (%s): no data", t, m->names[t]);
  }
  for (int id = EF_DICT_NSPECIAL; id < ef_dict_size(dict); id++) {
    const char *s = ef_dict_symbol(dict, id);
    if (!*s || strchr(s, '\n'))
      return set_err(err, errlen, "dictionary symbol %d is empty or holds a newline", id);
  }
  return 0;
}

int ef_efm_serialize(const rt_model *m, ef_efm_dtype dtype, const void *spm, size_t spm_len,
                     const ef_dict *dict, uint8_t **out, size_t *out_len, ef_efm_stats *stats,
                     char *err, size_t errlen) {
  *out = NULL, *out_len = 0;
  const uint32_t one = 1;
  uint8_t endian;
  memcpy(&endian, &one, 1);
  if (endian != 1) return set_err(err, errlen, "the writer needs a little-endian host");
  if (check_model(m, dict, err, errlen)) return -1;
  if (spm_len < 1 || spm_len > RT_SPM_MAX_MODEL_BYTES)
    return set_err(err, errlen, "SentencePiece model of %zu bytes (1..%u accepted)", spm_len,
                   RT_SPM_MAX_MODEL_BYTES);
  const rt_config *c = &m->cfg;
  int nt = m->n_tensors;
  tensor_plan *plan = calloc((size_t)nt, sizeof *plan);
  if (!plan) return set_err(err, errlen, "out of memory");

  /* layout */
  uint64_t size[RT_EFM_N_SECTIONS], off[RT_EFM_N_SECTIONS];
  size[RT_EFM_SEC_LAYERS] = 4ull * (8ull * (uint64_t)m->n_attn + 4ull * (uint64_t)m->n_ffn +
                                    (uint64_t)RT_EFM_ENC_FIELDS * (uint64_t)c->encoder_layers +
                                    (uint64_t)RT_EFM_DEC_FIELDS * (uint64_t)c->decoder_layers);
  size[RT_EFM_SEC_TENSORS] = (uint64_t)RT_EFM_ENTRY_SIZE * (uint64_t)nt;
  size[RT_EFM_SEC_NAMES] = 0;
  for (int t = 0; t < nt; t++) {
    plan[t].name_off = size[RT_EFM_SEC_NAMES];
    size[RT_EFM_SEC_NAMES] += strlen(m->names[t]) + 1;
  }
  size[RT_EFM_SEC_SPM] = spm_len;
  size[RT_EFM_SEC_DICT] = 0;
  for (int id = EF_DICT_NSPECIAL; id < ef_dict_size(dict); id++)
    size[RT_EFM_SEC_DICT] += strlen(ef_dict_symbol(dict, id)) + 1;
  uint64_t pos = RT_EFM_HEADER_SIZE;
  for (int s = 0; s < RT_EFM_SEC_DATA; s++) {
    off[s] = align_up(pos, RT_EFM_SECTION_ALIGN);
    pos = off[s] + size[s];
  }
  off[RT_EFM_SEC_DATA] = pos = align_up(pos, RT_EFM_ALIGN);
  int n_i8 = 0;
  int64_t n_values = 0;
  for (int t = 0; t < nt; t++) {
    const rt_mat *x = &m->tensors[t];
    uint64_t numel = (uint64_t)x->rows * (uint64_t)x->cols;
    n_values += (int64_t)numel;
    plan[t].i8 = dtype == EF_EFM_INT8 && (x->dtype == RT_I8 || ef_efm_is_linear_weight(m, t));
    n_i8 += plan[t].i8;
    plan[t].data = align_up(pos, RT_EFM_ALIGN);
    if (!plan[t].i8) {
      pos = plan[t].data + 4 * numel;
      continue;
    }
    plan[t].scale = align_up(plan[t].data + numel, RT_EFM_ALIGN);
    plan[t].rowsum = align_up(plan[t].scale + 4ull * (uint64_t)x->rows, RT_EFM_ALIGN);
    pos = plan[t].rowsum + 4ull * (uint64_t)x->rows;
  }
  size[RT_EFM_SEC_DATA] = pos - off[RT_EFM_SEC_DATA];
  uint64_t file_size = pos + 4;
  if (file_size > RT_EFM_MAX_FILE_BYTES || file_size > (uint64_t)SIZE_MAX) {
    free(plan);
    return set_err(err, errlen, "the file would have %llu bytes (limit %llu)",
                   (unsigned long long)file_size, (unsigned long long)RT_EFM_MAX_FILE_BYTES);
  }
  uint8_t *b = aligned_alloc(RT_EFM_ALIGN, (size_t)align_up(file_size, RT_EFM_ALIGN));
  if (!b) {
    free(plan);
    return set_err(err, errlen, "out of memory for a %llu-byte file",
                   (unsigned long long)file_size);
  }
  memset(b, 0, (size_t)file_size);

  /* header */
  memcpy(b, RT_EFM_MAGIC, 4);
  put32(b + 4, RT_EFM_VERSION);
  put32(b + 8, n_i8 ? RT_EFM_FLAG_INT8 : 0);
  put32(b + 12, RT_EFM_HEADER_SIZE);
  put64(b + 16, file_size);
  const int cfgv[RT_EFM_N_CONFIG] = {
      c->encoder_layers,       c->decoder_layers,   c->embed_dim,
      c->attention_heads,      c->encoder_ffn_dim,  c->decoder_ffn_dim,
      c->decoder_layout,       c->layer_adaptation, c->lora_rank,
      c->prefix_length,        c->activation,       c->max_source_positions,
      c->max_target_positions, c->vocab_size};
  for (int i = 0; i < RT_EFM_N_CONFIG; i++) put32(b + 24 + 4 * i, (uint32_t)cfgv[i]);
  put32(b + 80, (uint32_t)nt);
  put32(b + 84, (uint32_t)m->n_attn);
  put32(b + 88, (uint32_t)m->n_ffn);
  put32(b + 92, (uint32_t)m->embed);
  for (int s = 0; s < RT_EFM_N_SECTIONS; s++) {
    put64(b + 96 + 16 * s, off[s]);
    put64(b + 104 + 16 * s, size[s]);
  }

  /* layer table */
  uint8_t *p = b + off[RT_EFM_SEC_LAYERS];
#define PUT(v) (put32(p, (uint32_t)(v)), p += 4)
  for (int i = 0; i < m->n_attn; i++) {
    const rt_attn *a = &m->attn[i];
    PUT(a->q_w), PUT(a->q_b), PUT(a->k_w), PUT(a->k_b);
    PUT(a->v_w), PUT(a->v_b), PUT(a->o_w), PUT(a->o_b);
  }
  for (int i = 0; i < m->n_ffn; i++) {
    const rt_ffn *q = &m->ffn[i];
    PUT(q->fc1_w), PUT(q->fc1_b), PUT(q->fc2_w), PUT(q->fc2_b);
  }
  for (int i = 0; i < c->encoder_layers; i++) {
    const rt_enc_layer *e = &m->enc[i];
    PUT(e->attn), PUT(e->ffn), PUT(e->ln_attn.w), PUT(e->ln_attn.b);
    PUT(e->ln_ffn.w), PUT(e->ln_ffn.b);
    PUT(e->lora_q.u_w), PUT(e->lora_q.u_b), PUT(e->lora_q.v_w), PUT(e->lora_q.v_b);
    PUT(e->lora_v.u_w), PUT(e->lora_v.u_b), PUT(e->lora_v.v_w), PUT(e->lora_v.v_b);
    PUT(e->la_bias), PUT(e->prefix_k), PUT(e->prefix_v);
  }
  for (int i = 0; i < c->decoder_layers; i++) {
    const rt_dec_layer *d = &m->dec[i];
    PUT(d->self_attn), PUT(d->cross_attn), PUT(d->ffn), PUT(d->ln_self.w), PUT(d->ln_self.b);
    PUT(d->ln_cross.w), PUT(d->ln_cross.b), PUT(d->ln_final.w), PUT(d->ln_final.b);
  }
#undef PUT

  /* directory, names, tensor data */
  for (int t = 0; t < nt; t++) {
    const rt_mat *x = &m->tensors[t];
    uint8_t *e = b + off[RT_EFM_SEC_TENSORS] + (uint64_t)t * RT_EFM_ENTRY_SIZE;
    size_t len = strlen(m->names[t]);
    memcpy(b + off[RT_EFM_SEC_NAMES] + plan[t].name_off, m->names[t], len);
    put32(e, (uint32_t)plan[t].name_off);
    put32(e + 4, (uint32_t)len);
    put32(e + 8, plan[t].i8 ? RT_I8 : RT_F32);
    put32(e + 12, (uint32_t)x->rows);
    put32(e + 16, (uint32_t)x->cols);
    put64(e + 24, plan[t].data);
    put64(e + 32, plan[t].scale);
    put64(e + 40, plan[t].rowsum);
    size_t rows = (size_t)x->rows, cols = (size_t)x->cols;
    if (!plan[t].i8) {
      float *dst = (float *)(b + plan[t].data);
      for (int r = 0; r < x->rows; r++) source_row(x, r, dst + (size_t)r * cols);
    } else if (x->dtype == RT_I8) {
      memcpy(b + plan[t].data, x->q, rows * cols);
      memcpy(b + plan[t].scale, x->scale, rows * sizeof(float));
      memcpy(b + plan[t].rowsum, x->rowsum, rows * sizeof(int32_t));
    } else {
      rt_quantize_rows(x->f, x->rows, x->cols, (int8_t *)(b + plan[t].data),
                       (float *)(b + plan[t].scale), (int32_t *)(b + plan[t].rowsum));
    }
  }
  memcpy(b + off[RT_EFM_SEC_SPM], spm, spm_len);
  p = b + off[RT_EFM_SEC_DICT];
  for (int id = EF_DICT_NSPECIAL; id < ef_dict_size(dict); id++) {
    size_t len = strlen(ef_dict_symbol(dict, id));
    memcpy(p, ef_dict_symbol(dict, id), len);
    p[len] = '\n';
    p += len + 1;
  }

  /* CRC of everything before it, in chunks (zlib's length argument is a uInt) */
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < file_size - 4;) {
    uint64_t n = file_size - 4 - done;
    if (n > (1u << 30)) n = 1u << 30;
    crc = crc32(crc, b + done, (uInt)n);
    done += n;
  }
  put32(b + file_size - 4, (uint32_t)crc);

  if (stats) {
    stats->file_bytes = file_size;
    stats->tensor_bytes = size[RT_EFM_SEC_DATA];
    stats->n_tensors = nt;
    stats->n_int8 = n_i8;
    stats->n_values = n_values;
  }
  free(plan);
  *out = b;
  *out_len = (size_t)file_size;
  return 0;
}

int ef_efm_write(const char *path, const rt_model *m, ef_efm_dtype dtype, const void *spm,
                 size_t spm_len, const ef_dict *dict, ef_efm_stats *stats, char *err,
                 size_t errlen) {
  uint8_t *buf;
  size_t len;
  char msg[768];
  if (ef_efm_serialize(m, dtype, spm, spm_len, dict, &buf, &len, stats, msg, sizeof msg))
    return set_err(err, errlen, "%s: %s", path, msg);
  int rc = ef_durable_write(path, buf, len, err, errlen);
  free(buf);
  return rc ? -1 : 0;
}
