/* convert/fairseq_config.c: fairseq's model arguments (cfg["model"] / args, an
 * argparse.Namespace or a dict) -> our model config (contract in fairseq_import.h). It must
 * never guess a value the checkpoint states differently: an option our model does not
 * implement is an error naming the option. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "convert/fairseq_import.h"

__attribute__((format(printf, 3, 4))) static int fi_err(char *err, size_t errlen, const char *fmt,
                                                        ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++) /* names from the file may hold control characters */
      if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  }
  return -1;
}

/* ---- the config --------------------------------------------------------------------------- */

typedef struct {
  const ef_pt_val *ns;
  const char *file;
  char *err;
  size_t errlen;
} nsread;

/* The field `name` of the namespace: flat (argparse, `encoder_embed_dim`) or, for the
 * dataclass TransformerConfig of newer fairseq, nested (`encoder` -> `embed_dim`). */
static const ef_pt_val *ns_field(const nsread *r, const char *name) {
  const ef_pt_val *v = ef_pt_get(r->ns, name);
  if (v) return v;
  static const char *const parts[] = {"encoder", "decoder"};
  for (int i = 0; i < 2; i++) {
    size_t n = strlen(parts[i]);
    if (!strncmp(name, parts[i], n) && name[n] == '_') {
      const ef_pt_val *sub = ef_pt_get(r->ns, parts[i]);
      ef_pt_kind k = ef_pt_kind_of(sub);
      if (k == EF_PT_DICT || k == EF_PT_OBJECT) return ef_pt_get(sub, name + n + 1);
    }
  }
  return NULL;
}

/* Each getter: absent (or None) -> *out = def and returns 0; wrong type -> -1 with message. */
static int ns_int(nsread *r, const char *name, int def, int *out) {
  const ef_pt_val *v = ns_field(r, name);
  ef_pt_kind k = ef_pt_kind_of(v);
  if (!v || k == EF_PT_NONE) return *out = def, 0;
  if (k != EF_PT_INT || ef_pt_int(v) < 0 || ef_pt_int(v) > (1 << 30))
    return fi_err(r->err, r->errlen, "%s: cfg.model.%s is a %s, not a non-negative int", r->file,
                  name, ef_pt_kind_name(k));
  *out = (int)ef_pt_int(v);
  return 0;
}

static int ns_float(nsread *r, const char *name, double def, double *out) {
  const ef_pt_val *v = ns_field(r, name);
  ef_pt_kind k = ef_pt_kind_of(v);
  if (!v || k == EF_PT_NONE) return *out = def, 0;
  if (k != EF_PT_FLOAT && k != EF_PT_INT)
    return fi_err(r->err, r->errlen, "%s: cfg.model.%s is a %s, not a number", r->file, name,
                  ef_pt_kind_name(k));
  *out = ef_pt_float(v);
  return 0;
}

/* Booleans: -1 = absent. */
static int ns_bool(nsread *r, const char *name, int *out) {
  const ef_pt_val *v = ns_field(r, name);
  ef_pt_kind k = ef_pt_kind_of(v);
  if (!v || k == EF_PT_NONE) return *out = -1, 0;
  if (k != EF_PT_BOOL && k != EF_PT_INT)
    return fi_err(r->err, r->errlen, "%s: cfg.model.%s is a %s, not a bool", r->file, name,
                  ef_pt_kind_name(k));
  *out = ef_pt_int(v) != 0;
  return 0;
}

static int ns_str(nsread *r, const char *name, const char *def, char *out, size_t cap) {
  const ef_pt_val *v = ns_field(r, name);
  ef_pt_kind k = ef_pt_kind_of(v);
  size_t len = 0;
  const char *s = ef_pt_bytes(v, &len);
  if (!v || k == EF_PT_NONE) return snprintf(out, cap, "%s", def), 0;
  if (k != EF_PT_STR || len >= cap || strlen(s) != len)
    return fi_err(r->err, r->errlen, "%s: cfg.model.%s is a %s, not a short string", r->file, name,
                  ef_pt_kind_name(k));
  memcpy(out, s, len + 1);
  return 0;
}

int ef_fairseq_config(const ef_pt_val *ns, const char *file, int64_t vocab, ef_model_config *c,
                      char *arch, size_t archlen, char *ptype, size_t ptypelen, char *err,
                      size_t errlen) {
  nsread r = {ns, file, err, errlen};
  ef_pt_kind nk = ef_pt_kind_of(ns);
  if (nk != EF_PT_OBJECT && nk != EF_PT_DICT)
    return fi_err(err, errlen, "%s: cfg.model is a %s, not an argparse.Namespace or a dict", file,
                  ef_pt_kind_name(nk));
  if (ns_str(&r, "arch", "", arch, archlen)) return -1;
  if (!arch[0] && ns_str(&r, "_name", "", arch, archlen)) return -1; /* dataclass configs */
  int edge_arch = !strcmp(arch, "transformer_edge");
  if (ns_str(&r, "model_param_type", edge_arch ? "edgeformer" : "", ptype, ptypelen)) return -1;
  for (char *p = ptype; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  if (strcmp(ptype, "edgeformer") && strcmp(ptype, "ut") && strcmp(ptype, "universal") && ptype[0])
    return fi_err(err, errlen,
                  "%s: cfg.model.model_param_type = '%s' is not edgeformer, ut or "
                  "empty",
                  file, ptype);
  ef_model_config_default(c);
  int d, dd, h, dh, eff, dff, el, dl, lora, lora_shape, msp, mtp, in_dim, out_dim;
  double dropout = 0.1;
  char act[32];
  if (ns_int(&r, "encoder_embed_dim", 512, &d) || ns_int(&r, "decoder_embed_dim", d, &dd) ||
      ns_int(&r, "encoder_attention_heads", 8, &h) ||
      ns_int(&r, "decoder_attention_heads", h, &dh) ||
      ns_int(&r, "encoder_ffn_embed_dim", 2048, &eff) ||
      ns_int(&r, "decoder_ffn_embed_dim", edge_arch ? 128 : eff, &dff) ||
      ns_int(&r, "encoder_layers", edge_arch ? 12 : 6, &el) ||
      ns_int(&r, "decoder_layers", edge_arch ? 2 : 6, &dl) || ns_int(&r, "lora_r", 0, &lora) ||
      ns_int(&r, "lora_r_shape", 0, &lora_shape) ||
      ns_int(&r, "max_source_positions", 1024, &msp) ||
      ns_int(&r, "max_target_positions", 1024, &mtp) ||
      ns_int(&r, "decoder_input_dim", dd, &in_dim) ||
      ns_int(&r, "decoder_output_dim", dd, &out_dim) || ns_float(&r, "dropout", 0.1, &dropout) ||
      ns_str(&r, "activation_fn", "relu", act, sizeof act))
    return -1;
#define NEED(cond, ...)                                                                            \
  do {                                                                                             \
    if (!(cond)) return fi_err(err, errlen, __VA_ARGS__);                                          \
  } while (0)
  NEED(dd == d && in_dim == d && out_dim == d,
       "%s: cfg.model: decoder width %d (input %d, output %d) differs from encoder_embed_dim %d; "
       "our model has one width",
       file, dd, in_dim, out_dim, d);
  NEED(dh == h,
       "%s: cfg.model: decoder_attention_heads %d differs from encoder_attention_heads "
       "%d",
       file, dh, h);
  NEED(!strcmp(act, "relu") || !strcmp(act, "gelu"),
       "%s: cfg.model.activation_fn = '%s' is not supported (relu, gelu)", file, act);
  NEED(lora == 0 || lora_shape == 0,
       "%s: cfg.model.lora_r_shape = %d (per-layer LoRA ranks) is not supported", file, lora_shape);
  NEED(dropout >= 0 && dropout < 0.99, "%s: cfg.model.dropout = %g out of range", file, dropout);
  /* options we do not implement: an error only when the checkpoint says so explicitly */
  static const struct {
    const char *name;
    int required; /* the value our model implements */
  } flags[] = {
      {"encoder_normalize_before", 0},
      {"decoder_normalize_before", 0},
      {"encoder_learned_pos", 0},
      {"decoder_learned_pos", 0},
      {"layernorm_embedding", 0},
      {"no_scale_embedding", 0},
      {"no_token_positional_embeddings", 0},
      {"cross_self_attention", 0},
      {"no_cross_attention", 0},
      {"share_all_embeddings", 1},
      {"adaptive_input", 0},
      {"tie_adaptive_weights", 0},
      /* NormFormer options of the EdgeLM fork: extra LayerNorms and scales we do not have */
      {"scale_attn", 0},
      {"scale_fc", 0},
      {"scale_heads", 0},
      {"scale_resids", 0},
  };
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    int b = -1;
    if (ns_bool(&r, flags[i].name, &b)) return -1;
    NEED(b < 0 || b == flags[i].required,
         "%s: cfg.model.%s = %s is not supported (our model implements %s)", file, flags[i].name,
         b ? "True" : "False", flags[i].required ? "True" : "False");
  }
  const ef_pt_val *cut = ef_pt_get(ns, "adaptive_softmax_cutoff");
  NEED(ef_pt_kind_of(cut) == EF_PT_NONE,
       "%s: cfg.model.adaptive_softmax_cutoff is set: adaptive "
       "softmax is not supported",
       file);

  c->embed_dim = d;
  c->attention_heads = h;
  c->encoder_ffn_dim = eff;
  c->decoder_ffn_dim = dff;
  c->activation = !strcmp(act, "gelu") ? EF_ACT_GELU : EF_ACT_RELU;
  c->dropout = (float)dropout;
  c->max_source_positions = msp;
  c->max_target_positions = mtp;
  c->layer_adaptation = lora > 0 ? EF_LA_ADAPTER : EF_LA_NONE;
  c->lora_rank = lora > 0 ? lora : c->lora_rank;
  c->share_layer_norm = 0;
  if (!strcmp(ptype, "edgeformer")) {
    /* fairseq's transformer_edge builds exactly 12 + 2 layers whatever the counts say */
    NEED(el == 12 && dl == 2,
         "%s: cfg.model: model_param_type edgeformer is 12 + 2 layers, the "
         "checkpoint says encoder_layers %d, decoder_layers %d",
         file, el, dl);
    c->encoder_layers = 12, c->decoder_layers = 2;
    c->encoder_attn_sets = 4, c->encoder_ffn_sets = 2, c->decoder_layer_sets = 2;
    c->decoder_layout = EF_DEC_INTERLEAVED, c->decoder_attn = EF_DEC_ATTN_ENCODER;
  } else if (ptype[0]) { /* universal transformer: every layer shares the first one's blocks */
    c->encoder_layers = el, c->decoder_layers = dl;
    c->encoder_attn_sets = 1, c->encoder_ffn_sets = 1, c->decoder_layer_sets = 1;
    c->decoder_layout = EF_DEC_STANDARD, c->decoder_attn = EF_DEC_ATTN_OWN;
  } else { /* no sharing */
    c->encoder_layers = el, c->decoder_layers = dl;
    c->encoder_attn_sets = el, c->encoder_ffn_sets = el, c->decoder_layer_sets = dl;
    c->decoder_layout = EF_DEC_STANDARD, c->decoder_attn = EF_DEC_ATTN_OWN;
  }
#undef NEED
  if (vocab > 0) c->vocab_size = (int)vocab;
  char cerr[EF_CONFIG_ERR_LEN];
  if (ef_model_config_check(c, cerr, sizeof cerr))
    return fi_err(err, errlen, "%s: the config in the checkpoint is not a valid model: %s", file,
                  cerr);
  return 0;
}
