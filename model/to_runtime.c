/* to_runtime.c: live parameters -> rt_model (pointers into the parameter store, no copy).
 * Must never copy or reorder tensors: index i is unique parameter i, which is what the
 * exporter and the tests rely on. */
#include "model/to_runtime.h"

#include <stdio.h>
#include <stdlib.h>

void ef_model_runtime_config(const ef_model_config *c, rt_config *o) {
  o->encoder_layers = c->encoder_layers;
  o->decoder_layers = c->decoder_layers;
  o->embed_dim = c->embed_dim;
  o->attention_heads = c->attention_heads;
  o->encoder_ffn_dim = c->encoder_ffn_dim;
  o->decoder_ffn_dim = c->decoder_ffn_dim;
  o->decoder_layout = c->decoder_layout == EF_DEC_STANDARD ? RT_DEC_STANDARD : RT_DEC_INTERLEAVED;
  o->layer_adaptation = c->layer_adaptation == EF_LA_BIAS      ? RT_LA_BIAS
                        : c->layer_adaptation == EF_LA_ADAPTER ? RT_LA_ADAPTER
                        : c->layer_adaptation == EF_LA_PREFIX  ? RT_LA_PREFIX
                                                               : RT_LA_NONE;
  o->lora_rank = c->lora_rank;
  o->prefix_length = c->prefix_length;
  o->activation = c->activation == EF_ACT_GELU ? RT_ACT_GELU : RT_ACT_RELU;
  o->max_source_positions = c->max_source_positions;
  o->max_target_positions = c->max_target_positions;
  o->vocab_size = c->vocab_size;
}

int ef_model_to_runtime(ef_model *m, rt_model **out, char *err, size_t errlen) {
  *out = NULL;
  rt_config cfg;
  ef_model_runtime_config(&m->cfg, &cfg);
  int n = ef_params_count(m->params);
  rt_model *r = rt_model_alloc(&cfg, n, m->n_attn, m->n_ffn);
  if (!r) return snprintf(err, errlen, "runtime model: out of memory or sizes out of range"), -1;
  /* the names array is the model's one owned extra: released with it */
  const char **names = malloc((size_t)n * sizeof *names);
  if (!names) {
    rt_model_free(r);
    return snprintf(err, errlen, "runtime model: out of memory"), -1;
  }
  for (int i = 0; i < n; i++) names[i] = ef_params_name(m->params, i);
  r->names = names;
  r->owner = (void *)names;
  r->release = free;
  for (int i = 0; i < n; i++) {
    ef_tensor *t = ef_params_tensor(m->params, i);
    rt_mat *x = &r->tensors[i];
    x->dtype = RT_F32;
    x->f = t->data;
    x->rows = t->ndim == 2 ? (int)t->shape[0] : 1;
    x->cols = t->ndim == 2 ? (int)t->shape[1] : (int)t->shape[0];
  }
  r->embed = m->embed;
  for (int a = 0; a < m->n_attn; a++) {
    const ef_attn_params *p = &m->attn[a];
    r->attn[a] = (rt_attn){p->q_w, p->q_b, p->k_w, p->k_b, p->v_w, p->v_b, p->o_w, p->o_b};
  }
  for (int f = 0; f < m->n_ffn; f++) {
    const ef_ffn_params *p = &m->ffn[f];
    r->ffn[f] = (rt_ffn){p->fc1_w, p->fc1_b, p->fc2_w, p->fc2_b};
  }
  for (int i = 0; i < m->cfg.encoder_layers; i++) {
    const ef_enc_layer *L = &m->enc[i];
    r->enc[i] = (rt_enc_layer){
        .attn = L->attn, .ffn = L->ffn,
        .ln_attn = {L->ln_attn.w, L->ln_attn.b}, .ln_ffn = {L->ln_ffn.w, L->ln_ffn.b},
        .lora_q = {L->lora_q.u_w, L->lora_q.u_b, L->lora_q.v_w, L->lora_q.v_b},
        .lora_v = {L->lora_v.u_w, L->lora_v.u_b, L->lora_v.v_w, L->lora_v.v_b},
        .la_bias = L->la_bias, .prefix_k = L->prefix_k, .prefix_v = L->prefix_v};
  }
  for (int j = 0; j < m->cfg.decoder_layers; j++) {
    const ef_dec_layer *L = &m->dec[j];
    r->dec[j] = (rt_dec_layer){.self_attn = L->self_attn, .cross_attn = L->cross_attn,
                               .ffn = L->ffn,
                               .ln_self = {L->ln_self.w, L->ln_self.b},
                               .ln_cross = {L->ln_cross.w, L->ln_cross.b},
                               .ln_final = {L->ln_final.w, L->ln_final.b}};
  }
  if (rt_model_check(r, err, errlen)) {
    rt_model_free(r);
    return -1;
  }
  *out = r;
  return 0;
}
