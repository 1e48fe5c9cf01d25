/* runtime/model.c: allocation and validation of the runtime model representation. The check is
 * the one gate every source of an rt_model (live parameters, .efm files) passes before a decoder
 * touches it, so it must verify every index and shape a decoder dereferences. */
#include "runtime/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

rt_model *rt_model_alloc(const rt_config *cfg, int n_tensors, int n_attn, int n_ffn) {
  if (n_tensors < 1 || n_tensors > 1 << 20 || n_attn < 1 || n_attn > 4 * RT_MAX_LAYERS ||
      n_ffn < 1 || n_ffn > 4 * RT_MAX_LAYERS || cfg->encoder_layers < 0 ||
      cfg->encoder_layers > RT_MAX_LAYERS || cfg->decoder_layers < 1 ||
      cfg->decoder_layers > RT_MAX_LAYERS)
    return NULL;
  rt_model *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cfg = *cfg;
  m->n_tensors = n_tensors;
  m->n_attn = n_attn;
  m->n_ffn = n_ffn;
  m->tensors = calloc((size_t)n_tensors, sizeof *m->tensors);
  m->attn = malloc((size_t)n_attn * sizeof *m->attn);
  m->ffn = malloc((size_t)n_ffn * sizeof *m->ffn);
  m->enc = malloc((size_t)(cfg->encoder_layers ? cfg->encoder_layers : 1) * sizeof *m->enc);
  m->dec = malloc((size_t)cfg->decoder_layers * sizeof *m->dec);
  if (!m->tensors || !m->attn || !m->ffn || !m->enc || !m->dec) {
    rt_model_free(m);
    return NULL;
  }
  /* every index -1 (absent) until filled */
  memset(m->attn, 0xff, (size_t)n_attn * sizeof *m->attn);
  memset(m->ffn, 0xff, (size_t)n_ffn * sizeof *m->ffn);
  memset(m->enc, 0xff, (size_t)(cfg->encoder_layers ? cfg->encoder_layers : 1) * sizeof *m->enc);
  memset(m->dec, 0xff, (size_t)cfg->decoder_layers * sizeof *m->dec);
  m->embed = -1;
  return m;
}

void rt_model_free(rt_model *m) {
  if (!m) return;
  if (m->release) m->release(m->owner);
  free(m->tensors);
  free(m->attn);
  free(m->ffn);
  free(m->enc);
  free(m->dec);
  free(m);
}

typedef struct {
  const rt_model *m;
  char *err;
  size_t errlen;
} checker;

static const char *tname(const checker *c, int idx, char *buf, size_t n) {
  if (c->m->names && c->m->names[idx]) return c->m->names[idx];
  snprintf(buf, n, "tensor %d", idx);
  return buf;
}

/* Tensor idx must exist with shape [rows, cols] (rows = 1 for a vector). optional: -1 allowed. */
static int need(const checker *c, const char *what, int idx, int rows, int cols, int optional) {
  const rt_model *m = c->m;
  char nb[32];
  if (idx == -1 && optional) return 0;
  if (idx < 0 || idx >= m->n_tensors) {
    fail(c->err, c->errlen, "model: %s refers to tensor %d of %d", what, idx, m->n_tensors);
    return -1;
  }
  const rt_mat *t = &m->tensors[idx];
  if (t->rows != rows || t->cols != cols) {
    fail(c->err, c->errlen, "model: %s (%s) is [%d, %d], the config implies [%d, %d]", what,
         tname(c, idx, nb, sizeof nb), t->rows, t->cols, rows, cols);
    return -1;
  }
  if (t->dtype == RT_F32) {
    if (!t->f) goto nodata;
  } else if (t->dtype == RT_I8) {
    if (!t->q || !t->scale || !t->rowsum) goto nodata;
  } else {
    fail(c->err, c->errlen, "model: %s (%s) has unknown dtype %d", what,
         tname(c, idx, nb, sizeof nb), t->dtype);
    return -1;
  }
  return 0;
nodata:
  fail(c->err, c->errlen, "model: %s (%s) has no data", what, tname(c, idx, nb, sizeof nb));
  return -1;
}

/* Vectors (LayerNorm, biases, Bias-LA) are read as plain floats by the decoder. */
static int need_vec(const checker *c, const char *what, int idx, int n, int optional) {
  if (need(c, what, idx, 1, n, optional)) return -1;
  if (idx >= 0 && c->m->tensors[idx].dtype != RT_F32) {
    fail(c->err, c->errlen, "model: %s must be float32", what);
    return -1;
  }
  return 0;
}

static int check_linear(const checker *c, const char *what, int w, int b, int out, int in,
                        int optional) {
  char n[96];
  snprintf(n, sizeof n, "%s.weight", what);
  if (need(c, n, w, out, in, optional)) return -1;
  snprintf(n, sizeof n, "%s.bias", what);
  return need_vec(c, n, b, out, optional || w == -1);
}

static int check_ln(const checker *c, const char *what, rt_ln ln, int d) {
  char n[96];
  snprintf(n, sizeof n, "%s.weight", what);
  if (need_vec(c, n, ln.w, d, 0)) return -1;
  snprintf(n, sizeof n, "%s.bias", what);
  return need_vec(c, n, ln.b, d, 0);
}

static int check_attn(const checker *c, int a, int d) {
  char n[64];
  const rt_attn *p = &c->m->attn[a];
  const int w[4] = {p->q_w, p->k_w, p->v_w, p->o_w}, b[4] = {p->q_b, p->k_b, p->v_b, p->o_b};
  const char *proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
  for (int i = 0; i < 4; i++) {
    snprintf(n, sizeof n, "attention %d %s", a, proj[i]);
    if (check_linear(c, n, w[i], b[i], d, d, 0)) return -1;
  }
  return 0;
}

static int check_ffn(const checker *c, int f, int d, int hidden) {
  char n[64];
  const rt_ffn *p = &c->m->ffn[f];
  snprintf(n, sizeof n, "ffn %d fc1", f);
  if (check_linear(c, n, p->fc1_w, p->fc1_b, hidden, d, 0)) return -1;
  snprintf(n, sizeof n, "ffn %d fc2", f);
  return check_linear(c, n, p->fc2_w, p->fc2_b, d, hidden, 0);
}

int rt_model_check(const rt_model *m, char *err, size_t errlen) {
  const rt_config *g = &m->cfg;
  checker c = {m, err, errlen};
  int d = g->embed_dim;
  if (g->encoder_layers < 1 || g->encoder_layers > RT_MAX_LAYERS || g->decoder_layers < 1 ||
      g->decoder_layers > RT_MAX_LAYERS)
    return fail(err, errlen, "model: %d encoder / %d decoder layers (1..%d each)",
                g->encoder_layers, g->decoder_layers, RT_MAX_LAYERS), -1;
  if (d < 1 || d > RT_MAX_DIM || g->attention_heads < 1 || d % g->attention_heads)
    return fail(err, errlen, "model: embed_dim %d with %d heads", d, g->attention_heads), -1;
  if (g->encoder_ffn_dim < 1 || g->encoder_ffn_dim > RT_MAX_DIM || g->decoder_ffn_dim < 1 ||
      g->decoder_ffn_dim > RT_MAX_DIM)
    return fail(err, errlen, "model: FFN widths %d / %d out of range", g->encoder_ffn_dim,
                g->decoder_ffn_dim), -1;
  if (g->vocab_size <= RT_UNK || g->vocab_size > RT_MAX_VOCAB)
    return fail(err, errlen, "model: vocab_size %d out of range", g->vocab_size), -1;
  if (g->max_source_positions < 2 || g->max_source_positions > RT_MAX_POSITIONS ||
      g->max_target_positions < 2 || g->max_target_positions > RT_MAX_POSITIONS)
    return fail(err, errlen, "model: max positions %d / %d out of range",
                g->max_source_positions, g->max_target_positions), -1;
  if (g->decoder_layout != RT_DEC_INTERLEAVED && g->decoder_layout != RT_DEC_STANDARD)
    return fail(err, errlen, "model: unknown decoder_layout %d", g->decoder_layout), -1;
  if (g->activation != RT_ACT_RELU && g->activation != RT_ACT_GELU)
    return fail(err, errlen, "model: unknown activation %d", g->activation), -1;
  if (g->layer_adaptation < RT_LA_NONE || g->layer_adaptation > RT_LA_PREFIX)
    return fail(err, errlen, "model: unknown layer_adaptation %d", g->layer_adaptation), -1;
  if (g->layer_adaptation == RT_LA_ADAPTER && (g->lora_rank < 1 || g->lora_rank > RT_MAX_DIM))
    return fail(err, errlen, "model: lora_rank %d out of range", g->lora_rank), -1;
  if (g->layer_adaptation == RT_LA_PREFIX && (g->prefix_length < 1 || g->prefix_length > 4096))
    return fail(err, errlen, "model: prefix_length %d out of range", g->prefix_length), -1;
  if (!m->tensors || m->n_tensors < 1) return fail(err, errlen, "model: no tensors"), -1;
  if (need(&c, "embedding", m->embed, g->vocab_size, d, 0)) return -1;

  /* Blocks that no layer uses are still checked: a decoder never reads them, but a file that
   * declares them must be consistent. FFN widths depend on who uses the block, so collect. */
  for (int a = 0; a < m->n_attn; a++)
    if (check_attn(&c, a, d)) return -1;
  for (int i = 0; i < g->encoder_layers; i++) {
    const rt_enc_layer *L = &m->enc[i];
    char n[64];
    if (L->attn < 0 || L->attn >= m->n_attn || L->ffn < 0 || L->ffn >= m->n_ffn)
      return fail(err, errlen, "model: encoder layer %d uses attention %d / ffn %d (have %d / %d)",
                  i, L->attn, L->ffn, m->n_attn, m->n_ffn), -1;
    if (check_ffn(&c, L->ffn, d, g->encoder_ffn_dim)) return -1;
    snprintf(n, sizeof n, "encoder layer %d self_attn_layer_norm", i);
    if (check_ln(&c, n, L->ln_attn, d)) return -1;
    snprintf(n, sizeof n, "encoder layer %d final_layer_norm", i);
    if (check_ln(&c, n, L->ln_ffn, d)) return -1;
    int la = g->layer_adaptation, r = g->lora_rank;
    const rt_lora *lo[2] = {&L->lora_q, &L->lora_v};
    for (int k = 0; k < 2; k++) {
      int opt = la != RT_LA_ADAPTER;
      if (opt && (lo[k]->u_w != -1 || lo[k]->v_w != -1))
        return fail(err, errlen, "model: encoder layer %d has LoRA tensors but layer_adaptation "
                    "is not adapter", i), -1;
      snprintf(n, sizeof n, "encoder layer %d %s_lora.linear_u", i, k ? "v" : "q");
      if (check_linear(&c, n, lo[k]->u_w, lo[k]->u_b, r, d, opt)) return -1;
      snprintf(n, sizeof n, "encoder layer %d %s_lora.linear_v", i, k ? "v" : "q");
      if (check_linear(&c, n, lo[k]->v_w, lo[k]->v_b, d, r, opt)) return -1;
    }
    snprintf(n, sizeof n, "encoder layer %d la_bias", i);
    if (need_vec(&c, n, L->la_bias, d, la != RT_LA_BIAS)) return -1;
    snprintf(n, sizeof n, "encoder layer %d prefix_k", i);
    if (need(&c, n, L->prefix_k, g->prefix_length, d, la != RT_LA_PREFIX)) return -1;
    snprintf(n, sizeof n, "encoder layer %d prefix_v", i);
    if (need(&c, n, L->prefix_v, g->prefix_length, d, la != RT_LA_PREFIX)) return -1;
    if ((L->prefix_k >= 0 && m->tensors[L->prefix_k].dtype != RT_F32) ||
        (L->prefix_v >= 0 && m->tensors[L->prefix_v].dtype != RT_F32))
      return fail(err, errlen, "model: encoder layer %d prefix must be float32", i), -1;
    if (la != RT_LA_BIAS && L->la_bias != -1)
      return fail(err, errlen, "model: encoder layer %d has la_bias but layer_adaptation is "
                  "not bias", i), -1;
    if (la != RT_LA_PREFIX && (L->prefix_k != -1 || L->prefix_v != -1))
      return fail(err, errlen, "model: encoder layer %d has a prefix but layer_adaptation is "
                  "not prefix", i), -1;
  }
  for (int j = 0; j < g->decoder_layers; j++) {
    const rt_dec_layer *L = &m->dec[j];
    char n[64];
    if (L->self_attn < 0 || L->self_attn >= m->n_attn || L->cross_attn < 0 ||
        L->cross_attn >= m->n_attn || L->ffn < 0 || L->ffn >= m->n_ffn)
      return fail(err, errlen, "model: decoder layer %d uses attention %d/%d, ffn %d (have %d / %d)",
                  j, L->self_attn, L->cross_attn, L->ffn, m->n_attn, m->n_ffn), -1;
    if (check_ffn(&c, L->ffn, d, g->decoder_ffn_dim)) return -1;
    snprintf(n, sizeof n, "decoder layer %d self_attn_layer_norm", j);
    if (check_ln(&c, n, L->ln_self, d)) return -1;
    snprintf(n, sizeof n, "decoder layer %d encoder_attn_layer_norm", j);
    if (check_ln(&c, n, L->ln_cross, d)) return -1;
    snprintf(n, sizeof n, "decoder layer %d final_layer_norm", j);
    if (check_ln(&c, n, L->ln_final, d)) return -1;
  }
  return 0;
}
