/* layout.c: the EdgeFormer parameter layout (canonical fairseq keys, aliases, layer table)
 * and fairseq's initialisation. Must never create two storages for one shared block: every
 * sharing decision is made here, once, and recorded in the layer table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/edgeformer.h"

/* Names are "encoder.layers.<i>.<block>.<proj>.<weight|bias>" with i < EF_MAX_LAYERS: far
 * below NAME_LEN, so gcc's truncation warnings about composed prefixes are moot here. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#define NAME_LEN 160

typedef struct {
  ef_model *m;
  char *err;
  size_t errlen;
  int failed;
} builder;

static int add(builder *b, const char *name, int64_t d0, int64_t d1) {
  if (b->failed) return -1;
  int64_t shape[2] = {d0, d1};
  int idx = ef_params_add(b->m->params, name, d1 ? 2 : 1, shape, b->err, b->errlen);
  if (idx < 0) b->failed = 1;
  return idx;
}

static void alias(builder *b, const char *name, const char *target) {
  if (b->failed || !strcmp(name, target)) return;
  if (ef_params_alias(b->m->params, name, target, b->err, b->errlen) < 0) b->failed = 1;
}

/* "<prefix>.weight" [out, in] and "<prefix>.bias" [out]. */
static void add_linear(builder *b, const char *prefix, int64_t out, int64_t in, int *w, int *bias) {
  char n[NAME_LEN];
  snprintf(n, sizeof n, "%s.weight", prefix);
  *w = add(b, n, out, in);
  snprintf(n, sizeof n, "%s.bias", prefix);
  *bias = add(b, n, out, 0);
}

static void alias_pair(builder *b, const char *prefix, const char *target, const char *a,
                       const char *c) {
  char n[NAME_LEN], t[NAME_LEN];
  snprintf(n, sizeof n, "%s.%s", prefix, a);
  snprintf(t, sizeof t, "%s.%s", target, a);
  alias(b, n, t);
  snprintf(n, sizeof n, "%s.%s", prefix, c);
  snprintf(t, sizeof t, "%s.%s", target, c);
  alias(b, n, t);
}

static const char *const proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};

static void add_attention(builder *b, const char *prefix, int d, ef_attn_params *a) {
  int *slots[4][2] = {{&a->q_w, &a->q_b}, {&a->k_w, &a->k_b}, {&a->v_w, &a->v_b}, {&a->o_w, &a->o_b}};
  char n[NAME_LEN];
  for (int p = 0; p < 4; p++) {
    snprintf(n, sizeof n, "%s.%s", prefix, proj[p]);
    add_linear(b, n, d, d, slots[p][0], slots[p][1]);
  }
}

static void alias_attention(builder *b, const char *prefix, const char *target) {
  char n[NAME_LEN], t[NAME_LEN];
  for (int p = 0; p < 4; p++) {
    snprintf(n, sizeof n, "%s.%s", prefix, proj[p]);
    snprintf(t, sizeof t, "%s.%s", target, proj[p]);
    alias_pair(b, n, t, "weight", "bias");
  }
}

static void add_ln(builder *b, const char *name, int d, ef_ln_params *ln) {
  char n[NAME_LEN];
  snprintf(n, sizeof n, "%s.weight", name);
  ln->w = add(b, n, d, 0);
  snprintf(n, sizeof n, "%s.bias", name);
  ln->b = add(b, n, d, 0);
}

int ef_model_new(const ef_model_config *cfg, ef_model **out, char *err, size_t errlen) {
  *out = NULL;
  if (ef_model_config_check(cfg, err, errlen)) return -1;
  ef_model *m = calloc(1, sizeof *m);
  if (!m) return snprintf(err, errlen, "out of memory"), -1;
  m->cfg = *cfg;
  const ef_model_config *c = &m->cfg;
  int d = c->embed_dim, A = c->encoder_attn_sets, Fs = c->encoder_ffn_sets,
      Ds = c->decoder_layer_sets;
  int own = c->decoder_attn == EF_DEC_ATTN_OWN;
  m->n_attn = A + (own ? 2 * Ds : 0);
  m->n_ffn = Fs + Ds;
  m->params = ef_params_new();
  m->attn = calloc((size_t)m->n_attn, sizeof *m->attn);
  m->ffn = calloc((size_t)m->n_ffn, sizeof *m->ffn);
  m->enc = calloc((size_t)c->encoder_layers, sizeof *m->enc);
  m->dec = calloc((size_t)c->decoder_layers, sizeof *m->dec);
  if (!m->params || !m->attn || !m->ffn || !m->enc || !m->dec) {
    ef_model_free(m);
    return snprintf(err, errlen, "out of memory"), -1;
  }
  builder b = {m, err, errlen, 0};
  char n[NAME_LEN], t[NAME_LEN];

  m->embed = add(&b, "encoder.embed_tokens.weight", c->vocab_size, d);
  alias(&b, "decoder.embed_tokens.weight", "encoder.embed_tokens.weight");
  alias(&b, "decoder.output_projection.weight", "encoder.embed_tokens.weight");
  m->n_embedding_params = (int64_t)c->vocab_size * d;

  /* encoder: shared blocks first (canonical at the first layer using them) */
  for (int s = 0; s < A; s++) {
    snprintf(n, sizeof n, "encoder.layers.%d.self_attn", s);
    add_attention(&b, n, d, &m->attn[s]);
  }
  for (int f = 0; f < Fs; f++) {
    snprintf(n, sizeof n, "encoder.layers.%d.fc1", f);
    add_linear(&b, n, c->encoder_ffn_dim, d, &m->ffn[f].fc1_w, &m->ffn[f].fc1_b);
    snprintf(n, sizeof n, "encoder.layers.%d.fc2", f);
    add_linear(&b, n, d, c->encoder_ffn_dim, &m->ffn[f].fc2_w, &m->ffn[f].fc2_b);
  }
  for (int i = 0; i < c->encoder_layers; i++) {
    ef_enc_layer *L = &m->enc[i];
    L->attn = i % A;
    L->ffn = i % Fs;
    L->lora_q = L->lora_v = (ef_lora_params){-1, -1, -1, -1};
    L->la_bias = L->prefix_k = L->prefix_v = -1;
    snprintf(n, sizeof n, "encoder.layers.%d.self_attn", i);
    snprintf(t, sizeof t, "encoder.layers.%d.self_attn", L->attn);
    alias_attention(&b, n, t);
    snprintf(n, sizeof n, "encoder.layers.%d", i);
    snprintf(t, sizeof t, "encoder.layers.%d", L->ffn);
    char nf[NAME_LEN], tf[NAME_LEN];
    snprintf(nf, sizeof nf, "%s.fc1", n), snprintf(tf, sizeof tf, "%s.fc1", t);
    alias_pair(&b, nf, tf, "weight", "bias");
    snprintf(nf, sizeof nf, "%s.fc2", n), snprintf(tf, sizeof tf, "%s.fc2", t);
    alias_pair(&b, nf, tf, "weight", "bias");
    /* LayerNorms: own, or following their block's canonical layer */
    int owner_a = c->share_layer_norm ? L->attn : i, owner_f = c->share_layer_norm ? L->ffn : i;
    snprintf(nf, sizeof nf, "encoder.layers.%d.self_attn_layer_norm", owner_a);
    if (owner_a == i) add_ln(&b, nf, d, &L->ln_attn);
    else L->ln_attn = m->enc[owner_a].ln_attn;
    snprintf(tf, sizeof tf, "encoder.layers.%d.self_attn_layer_norm", i);
    alias_pair(&b, tf, nf, "weight", "bias");
    snprintf(nf, sizeof nf, "encoder.layers.%d.final_layer_norm", owner_f);
    if (owner_f == i) add_ln(&b, nf, d, &L->ln_ffn);
    else L->ln_ffn = m->enc[owner_f].ln_ffn;
    snprintf(tf, sizeof tf, "encoder.layers.%d.final_layer_norm", i);
    alias_pair(&b, tf, nf, "weight", "bias");
    /* layer adaptation: private to each encoder layer */
    if (c->layer_adaptation == EF_LA_ADAPTER) {
      int r = c->lora_rank;
      ef_lora_params *lp[2] = {&L->lora_q, &L->lora_v};
      const char *which[2] = {"q_lora", "v_lora"};
      for (int k = 0; k < 2; k++) {
        snprintf(nf, sizeof nf, "encoder.layers.%d.%s.linear_u", i, which[k]);
        add_linear(&b, nf, r, d, &lp[k]->u_w, &lp[k]->u_b);
        snprintf(nf, sizeof nf, "encoder.layers.%d.%s.linear_v", i, which[k]);
        add_linear(&b, nf, d, r, &lp[k]->v_w, &lp[k]->v_b);
      }
    } else if (c->layer_adaptation == EF_LA_BIAS) {
      snprintf(nf, sizeof nf, "encoder.layers.%d.la_bias", i);
      L->la_bias = add(&b, nf, d, 0);
    } else if (c->layer_adaptation == EF_LA_PREFIX) {
      snprintf(nf, sizeof nf, "encoder.layers.%d.prefix_k", i);
      L->prefix_k = add(&b, nf, c->prefix_length, d);
      snprintf(nf, sizeof nf, "encoder.layers.%d.prefix_v", i);
      L->prefix_v = add(&b, nf, c->prefix_length, d);
    }
  }

  /* decoder */
  for (int s = 0; s < Ds; s++) {
    ef_ffn_params *f = &m->ffn[Fs + s];
    snprintf(n, sizeof n, "decoder.layers.%d.fc1", s);
    add_linear(&b, n, c->decoder_ffn_dim, d, &f->fc1_w, &f->fc1_b);
    snprintf(n, sizeof n, "decoder.layers.%d.fc2", s);
    add_linear(&b, n, d, c->decoder_ffn_dim, &f->fc2_w, &f->fc2_b);
    if (own) {
      snprintf(n, sizeof n, "decoder.layers.%d.self_attn", s);
      add_attention(&b, n, d, &m->attn[A + 2 * s]);
      snprintf(n, sizeof n, "decoder.layers.%d.encoder_attn", s);
      add_attention(&b, n, d, &m->attn[A + 2 * s + 1]);
    }
  }
  static const char *const dec_ln[3] = {"self_attn_layer_norm", "encoder_attn_layer_norm",
                                        "final_layer_norm"};
  for (int j = 0; j < c->decoder_layers; j++) {
    ef_dec_layer *L = &m->dec[j];
    int s = j % Ds;
    L->ffn = Fs + s;
    L->self_attn = own ? A + 2 * s : (2 * j) % A;
    L->cross_attn = own ? A + 2 * s + 1 : (2 * j + 1) % A;
    snprintf(n, sizeof n, "decoder.layers.%d", j);
    snprintf(t, sizeof t, "decoder.layers.%d", s);
    char nf[NAME_LEN], tf[NAME_LEN];
    snprintf(nf, sizeof nf, "%s.fc1", n), snprintf(tf, sizeof tf, "%s.fc1", t);
    alias_pair(&b, nf, tf, "weight", "bias");
    snprintf(nf, sizeof nf, "%s.fc2", n), snprintf(tf, sizeof tf, "%s.fc2", t);
    alias_pair(&b, nf, tf, "weight", "bias");
    snprintf(nf, sizeof nf, "%s.self_attn", n);
    if (own) snprintf(tf, sizeof tf, "%s.self_attn", t);
    else snprintf(tf, sizeof tf, "encoder.layers.%d.self_attn", L->self_attn);
    alias_attention(&b, nf, tf);
    snprintf(nf, sizeof nf, "%s.encoder_attn", n);
    if (own) snprintf(tf, sizeof tf, "%s.encoder_attn", t);
    else snprintf(tf, sizeof tf, "encoder.layers.%d.self_attn", L->cross_attn);
    alias_attention(&b, nf, tf);
    ef_ln_params *lns[3] = {&L->ln_self, &L->ln_cross, &L->ln_final};
    int owner = c->share_layer_norm ? s : j;
    for (int k = 0; k < 3; k++) {
      snprintf(tf, sizeof tf, "decoder.layers.%d.%s", owner, dec_ln[k]);
      if (owner == j) add_ln(&b, tf, d, lns[k]);
      else {
        ef_ln_params *own_lns[3] = {&m->dec[owner].ln_self, &m->dec[owner].ln_cross,
                                    &m->dec[owner].ln_final};
        *lns[k] = *own_lns[k];
      }
      snprintf(nf, sizeof nf, "decoder.layers.%d.%s", j, dec_ln[k]);
      alias_pair(&b, nf, tf, "weight", "bias");
    }
  }
  if (b.failed || ef_params_finalize(m->params, err, errlen)) {
    ef_model_free(m);
    return -1;
  }
  *out = m;
  return 0;
}

void ef_model_free(ef_model *m) {
  if (!m) return;
  ef_params_free(m->params);
  free(m->attn);
  free(m->ffn);
  free(m->enc);
  free(m->dec);
  free(m);
}

/* --- initialisation ----------------------------------------------------------------------- */

typedef struct {
  uint64_t s;
} rng_t;

static double uniform01(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(rng_t *r) {
  double u1 = uniform01(r), u2 = uniform01(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void fill_uniform(ef_model *m, int idx, double bound, rng_t *r) {
  ef_tensor *t = ef_params_tensor(m->params, idx);
  for (int64_t i = 0; i < t->numel; i++) t->data[i] = (float)((2.0 * uniform01(r) - 1.0) * bound);
}

static void fill_const(ef_model *m, int idx, float v) {
  if (idx < 0) return;
  ef_tensor *t = ef_params_tensor(m->params, idx);
  for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
}

/* PyTorch's nn.Linear default: weight and bias U(±1/√fan_in). */
static void init_linear_default(ef_model *m, int w, int b, rng_t *r) {
  if (w < 0) return;
  double bound = 1.0 / sqrt((double)ef_params_tensor(m->params, w)->shape[1]);
  fill_uniform(m, w, bound, r);
  if (b >= 0) fill_uniform(m, b, bound, r);
}

static void init_xavier(ef_model *m, int w, double gain, rng_t *r) {
  ef_tensor *t = ef_params_tensor(m->params, w);
  fill_uniform(m, w, gain * sqrt(6.0 / (double)(t->shape[0] + t->shape[1])), r);
}

void ef_model_init(ef_model *m, uint64_t seed) {
  rng_t r = {seed * 0x9E3779B97F4A7C15ull + 0x1234567ull};
  const ef_model_config *c = &m->cfg;
  ef_tensor *E = ef_params_tensor(m->params, m->embed);
  double std = 1.0 / sqrt((double)c->embed_dim);
  for (int64_t i = 0; i < E->numel; i++) E->data[i] = (float)(normal(&r) * std);
  memset(E->data + (int64_t)EF_PAD * c->embed_dim, 0, (size_t)c->embed_dim * sizeof(float));
  for (int a = 0; a < m->n_attn; a++) {
    ef_attn_params *p = &m->attn[a];
    int w[3] = {p->q_w, p->k_w, p->v_w}, bb[3] = {p->q_b, p->k_b, p->v_b};
    for (int k = 0; k < 3; k++) {
      double bound = 1.0 / sqrt((double)c->embed_dim);
      fill_uniform(m, bb[k], bound, &r);
      init_xavier(m, w[k], 1.0 / sqrt(2.0), &r);
    }
    init_xavier(m, p->o_w, 1.0, &r);
    fill_const(m, p->o_b, 0.0f);
  }
  for (int f = 0; f < m->n_ffn; f++) {
    init_linear_default(m, m->ffn[f].fc1_w, m->ffn[f].fc1_b, &r);
    init_linear_default(m, m->ffn[f].fc2_w, m->ffn[f].fc2_b, &r);
  }
  for (int i = 0; i < c->encoder_layers; i++) {
    ef_enc_layer *L = &m->enc[i];
    fill_const(m, L->ln_attn.w, 1.0f);
    fill_const(m, L->ln_attn.b, 0.0f);
    fill_const(m, L->ln_ffn.w, 1.0f);
    fill_const(m, L->ln_ffn.b, 0.0f);
    init_linear_default(m, L->lora_q.u_w, L->lora_q.u_b, &r);
    init_linear_default(m, L->lora_q.v_w, L->lora_q.v_b, &r);
    init_linear_default(m, L->lora_v.u_w, L->lora_v.u_b, &r);
    init_linear_default(m, L->lora_v.v_w, L->lora_v.v_b, &r);
    fill_const(m, L->la_bias, 0.0f);
    int pre[2] = {L->prefix_k, L->prefix_v};
    for (int k = 0; k < 2; k++) {
      if (pre[k] < 0) continue;
      ef_tensor *t = ef_params_tensor(m->params, pre[k]);
      for (int64_t e = 0; e < t->numel; e++) t->data[e] = (float)(0.02 * normal(&r));
    }
  }
  for (int j = 0; j < c->decoder_layers; j++) {
    ef_ln_params *lns[3] = {&m->dec[j].ln_self, &m->dec[j].ln_cross, &m->dec[j].ln_final};
    for (int k = 0; k < 3; k++) {
      fill_const(m, lns[k]->w, 1.0f);
      fill_const(m, lns[k]->b, 0.0f);
    }
  }
}
