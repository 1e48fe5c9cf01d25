/* convert/fairseq_import.c: fairseq checkpoint -> our model config, parameter store and HDF5
 * checkpoint (contract in fairseq_import.h). It must never write the output unless every key,
 * shape, duplicate and the vocabulary size have been checked, and never guess a config value
 * the checkpoint states differently. */
#include "convert/fairseq_import.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dictionary.h"
#include "model/edgeformer.h"
#include "runtime/spm.h"
#include "train/checkpoint.h"
#include "train/checkpoint_blob.h"

#define FI_CONFIG_TEXT_BYTES 8192
#define FI_SHAPE_TEXT_BYTES 96

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

/* ---- the state_dict ----------------------------------------------------------------------- */

static int is_buffer(const char *key) {
  size_t n = strlen(key);
  static const char *const suffixes[] = {".version", "._float_tensor"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    size_t k = strlen(suffixes[i]);
    if (n >= k && !strcmp(key + n - k, suffixes[i])) return 1;
  }
  return !strcmp(key, "version");
}

static void shape_text(char *out, size_t cap, int ndim, const int64_t *shape) {
  size_t n = (size_t)snprintf(out, cap, "[");
  for (int i = 0; i < ndim && n < cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
  if (n < cap) snprintf(out + n, cap - n, "]");
}

/* The tensor under key, with the parameter's shape, read as float32 into out. */
static int read_key(ef_pt *pt, const ef_pt_val *model, const char *file, const char *key,
                    const ef_tensor *want, float *out, ef_pt_dtype *dtype, char *err,
                    size_t errlen) {
  const ef_pt_val *v = ef_pt_get(model, key);
  if (!v) return fi_err(err, errlen, "%s: model key %s is missing (the model needs it)", file, key);
  ef_pt_tensor_info ti;
  if (ef_pt_tensor(v, &ti))
    return fi_err(err, errlen, "%s: model key %s is a %s, not a tensor", file, key,
                  ef_pt_kind_name(ef_pt_kind_of(v)));
  int same = ti.ndim == want->ndim;
  for (int i = 0; same && i < ti.ndim; i++) same = ti.shape[i] == want->shape[i];
  if (!same) {
    char a[FI_SHAPE_TEXT_BYTES], b[FI_SHAPE_TEXT_BYTES];
    shape_text(a, sizeof a, ti.ndim, ti.shape);
    shape_text(b, sizeof b, want->ndim, want->shape);
    return fi_err(err, errlen, "%s: model key %s has shape %s, the model expects %s", file, key, a,
                  b);
  }
  if (dtype) *dtype = ti.dtype;
  return ef_pt_tensor_read_f32(pt, v, out, want->numel, key, err, errlen);
}

/* The whole file (at most max bytes), malloc'd: what is checked is what gets embedded. */
static int slurp_file(const char *path, size_t max, char **buf, size_t *len, char *err,
                      size_t errlen) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return fi_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 0;
  for (;;) {
    if (*len == cap) {
      size_t nc = cap ? cap * 2 : 65536;
      char *q = cap <= max ? realloc(*buf, nc + 1) : NULL;
      if (!q) {
        fclose(f);
        free(*buf);
        *buf = NULL;
        return fi_err(err, errlen, "%s: larger than %zu bytes (or out of memory)", path, max);
      }
      *buf = q;
      cap = nc;
    }
    size_t got = fread(*buf + *len, 1, cap - *len, f);
    *len += got;
    if (!got) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad || *len > max) {
    free(*buf);
    *buf = NULL;
    return fi_err(err, errlen, "%s: %s", path, bad ? "cannot read" : "too large");
  }
  return 0;
}

int ef_fairseq_import(const ef_import_opts *o, ef_import_report *rep, char *err, size_t errlen) {
  ef_import_report local;
  if (!rep) rep = &local;
  memset(rep, 0, sizeof *rep);
  rep->n_dict_not_in_spm = -1;
  const char *file = o->checkpoint;
  ef_pt *pt = NULL;
  ef_dict *dict = NULL;
  rt_spm *spm = NULL;
  ef_model *m = NULL;
  float *scratch = NULL;
  char *dict_bytes = NULL, *spm_bytes = NULL;
  size_t dict_len = 0, spm_len = 0;
  int rc = -1;
  if (!o->checkpoint || !o->dict)
    return fi_err(err, errlen, "import needs a checkpoint and a dictionary");
  if (ef_pt_open(file, &pt, err, errlen)) goto done;
  snprintf(rep->format, sizeof rep->format, "%s", ef_pt_format(pt));
  const ef_pt_val *root = ef_pt_root(pt);
  if (ef_pt_kind_of(root) != EF_PT_DICT) {
    fi_err(err, errlen, "%s: the checkpoint holds a %s, not a dict with 'model' and 'cfg'", file,
           ef_pt_kind_name(ef_pt_kind_of(root)));
    goto done;
  }
  const ef_pt_val *model = ef_pt_get(root, "model");
  if (ef_pt_kind_of(model) != EF_PT_DICT) {
    fi_err(err, errlen, "%s: no 'model' state_dict in the checkpoint (found a %s)", file,
           ef_pt_kind_name(ef_pt_kind_of(model)));
    goto done;
  }
  /* hydra-era fairseq: cfg["model"]; fairseq 0.10: args */
  const ef_pt_val *cfg = ef_pt_get(root, "cfg"), *ns = NULL, *crit = NULL;
  if (ef_pt_kind_of(cfg) == EF_PT_DICT || ef_pt_kind_of(cfg) == EF_PT_OBJECT) {
    ns = ef_pt_get(cfg, "model");
    crit = ef_pt_get(cfg, "criterion");
  }
  if (ef_pt_kind_of(ns) == EF_PT_NONE) ns = crit = ef_pt_get(root, "args");
  if (ef_pt_kind_of(ns) == EF_PT_NONE) {
    fi_err(err, errlen, "%s: neither cfg['model'] nor args: the checkpoint has no model config",
           file);
    goto done;
  }
  /* V from the embedding, checked against the dictionary */
  ef_pt_tensor_info emb;
  if (ef_pt_tensor(ef_pt_get(model, "encoder.embed_tokens.weight"), &emb) || emb.ndim != 2) {
    fi_err(err, errlen, "%s: model key encoder.embed_tokens.weight is missing or not a matrix",
           file);
    goto done;
  }
  if (slurp_file(o->dict, EF_DICT_MAX_FILE_BYTES, &dict_bytes, &dict_len, err, errlen) ||
      ef_dict_load_memory(dict_bytes, dict_len, o->dict, &dict, err, errlen))
    goto done;
  if (ef_dict_size(dict) != emb.shape[0]) {
    fi_err(err, errlen,
           "%s: the dictionary has %d symbols (4 specials + %d lines) but the "
           "checkpoint's embedding encoder.embed_tokens.weight has %lld rows: not the dictionary "
           "this model was trained with",
           o->dict, ef_dict_size(dict), ef_dict_size(dict) - 4, (long long)emb.shape[0]);
    goto done;
  }
  if (ef_fairseq_config(ns, file, emb.shape[0], &rep->cfg, rep->arch, sizeof rep->arch,
                        rep->param_type, sizeof rep->param_type, err, errlen))
    goto done;
  const ef_pt_val *ls = ef_pt_get(crit, "label_smoothing");
  if (ef_pt_kind_of(ls) == EF_PT_FLOAT || ef_pt_kind_of(ls) == EF_PT_INT) {
    double x = ef_pt_float(ls);
    if (x >= 0 && x < 0.99) rep->cfg.label_smoothing = (float)x;
  }
  if (o->spm) {
    if (slurp_file(o->spm, RT_SPM_MAX_MODEL_BYTES, &spm_bytes, &spm_len, err, errlen) ||
        rt_spm_load_memory(spm_bytes, spm_len, o->spm, &spm, err, errlen))
      goto done;
    int64_t missing = 0;
    for (int id = EF_DICT_NSPECIAL; id < ef_dict_size(dict); id++) {
      const char *sym = ef_dict_symbol(dict, id);
      int sid = rt_spm_piece_to_id(spm, sym);
      const char *back = rt_spm_id_to_piece(spm, sid);
      if (!back || strcmp(back, sym)) missing++;
    }
    rep->n_dict_not_in_spm = missing;
  }
  if (ef_model_new(&rep->cfg, &m, err, errlen)) goto done;
  ef_params *p = m->params;

  /* every key is a parameter (canonical or alias) or a buffer */
  size_t nkeys = ef_pt_len(model);
  for (size_t i = 0; i < nkeys; i++) {
    const ef_pt_val *k, *v;
    ef_pt_entry(model, i, &k, &v);
    size_t len = 0;
    const char *key = ef_pt_bytes(k, &len);
    if (ef_pt_kind_of(k) != EF_PT_STR || strlen(key) != len) {
      fi_err(err, errlen, "%s: model entry %zu has a %s key, not a string", file, i,
             ef_pt_kind_name(ef_pt_kind_of(k)));
      goto done;
    }
    rep->n_keys++;
    if (is_buffer(key)) {
      rep->n_buffers++;
      continue;
    }
    if (ef_params_find(p, key) < 0) {
      fi_err(err, errlen,
             "%s: unexpected model key %s: not a parameter of the model cfg.model "
             "describes (arch %s, model_param_type '%s')",
             file, key, rep->arch[0] ? rep->arch : "?", rep->param_type);
      goto done;
    }
  }
  /* canonical keys: the values */
  int nparams = ef_params_count(p);
  int64_t maxn = 0;
  for (int i = 0; i < nparams; i++) {
    ef_tensor *t = ef_params_tensor(p, i);
    ef_pt_dtype dt;
    if (read_key(pt, model, file, ef_params_name(p, i), t, t->data, &dt, err, errlen)) goto done;
    if (i == 0)
      snprintf(rep->first_stored_dtype, sizeof rep->first_stored_dtype, "%s", ef_pt_dtype_name(dt));
    for (int64_t k = 0; k < t->numel; k++) {
      if (!isfinite(t->data[k])) {
        fi_err(err, errlen, "%s: model key %s has a non-finite value (%g) at element %lld", file,
               ef_params_name(p, i), (double)t->data[k], (long long)k);
        goto done;
      }
    }
    if (t->numel > maxn) maxn = t->numel;
    rep->n_canonical++;
    rep->n_params += t->numel;
  }
  /* duplicates: bit-identical to their canonical key */
  scratch = malloc((size_t)(maxn ? maxn : 1) * sizeof *scratch);
  if (!scratch) {
    fi_err(err, errlen, "%s: out of memory", file);
    goto done;
  }
  for (int a = 0; a < ef_params_alias_count(p); a++) {
    int idx;
    const char *alias = ef_params_alias_at(p, a, &idx);
    ef_tensor *t = ef_params_tensor(p, idx);
    if (read_key(pt, model, file, alias, t, scratch, NULL, err, errlen)) goto done;
    if (memcmp(scratch, t->data, (size_t)t->numel * sizeof *scratch)) {
      int64_t k = 0;
      while (k < t->numel && !memcmp(&scratch[k], &t->data[k], sizeof *scratch)) k++;
      fi_err(err, errlen,
             "%s: duplicate key %s differs from its canonical key %s at element %lld "
             "(%.9g vs %.9g): the checkpoint does not share these parameters as this model does",
             file, alias, ef_params_name(p, idx), (long long)k, (double)scratch[k],
             (double)t->data[k]);
      goto done;
    }
    rep->n_aliases++;
  }
  if (o->log) {
    const ef_model_config *c = &rep->cfg;
    fprintf(o->log,
            "import: %s (%s, %s): arch %s, parameterisation %s: %d+%d layers, d %d, %d "
            "heads, FFN %d/%d, LoRA r %d, V %d\n",
            file, rep->format, rep->first_stored_dtype, rep->arch[0] ? rep->arch : "?",
            rep->param_type[0] ? rep->param_type : "none", c->encoder_layers, c->decoder_layers,
            c->embed_dim, c->attention_heads, c->encoder_ffn_dim, c->decoder_ffn_dim,
            c->layer_adaptation == EF_LA_ADAPTER ? c->lora_rank : 0, c->vocab_size);
    fprintf(o->log,
            "import: %lld keys: %lld parameters (%lld values), %lld duplicates "
            "bit-identical to their canonical key, %lld buffers skipped; V = %d matches %s\n",
            (long long)rep->n_keys, (long long)rep->n_canonical, (long long)rep->n_params,
            (long long)rep->n_aliases, (long long)rep->n_buffers, c->vocab_size, o->dict);
    if (rep->n_dict_not_in_spm >= 0)
      fprintf(o->log, "import: %s: %lld dictionary symbols are not pieces of this model%s\n",
              o->spm, (long long)rep->n_dict_not_in_spm,
              rep->n_dict_not_in_spm ? " (they can never be produced by tokenisation)" : "");
  }
  if (o->output) {
    char text[FI_CONFIG_TEXT_BYTES];
    ef_config_table tb = {ef_model_keys, ef_model_n_keys, &rep->cfg};
    if (ef_config_format(&tb, 1, text, sizeof text)) {
      fi_err(err, errlen, "%s: config too long", file);
      goto done;
    }
    /* zero Adam moments at update 0, named "adam": restoring them is the same as a fresh
     * optimizer, and the file resumes with or without --reset-optimizer */
    ef_train_state st;
    ef_ckpt_state_init(&st, 1);
    snprintf(st.optimizer, sizeof st.optimizer, "adam");
    /* the dictionary (one vocabulary: source and target) and the SentencePiece model go into
     * the checkpoint, so that translate / generate / export need nothing else */
    ef_ckpt_blob blobs[2] = {{EF_CKPT_BLOB_SRC_DICT, dict_bytes, dict_len},
                             {EF_CKPT_BLOB_SPM, spm_bytes, spm_len}};
    if (ef_params_alloc_states(p, EF_CKPT_N_MOMENTS, err, errlen) ||
        ef_ckpt_save_blobs(o->output, p, text, &st, 1, blobs, spm_bytes ? 2 : 1, err, errlen))
      goto done;
    if (o->log) fprintf(o->log, "import: wrote %s\n", o->output);
  }
  rc = 0;
done:
  free(scratch);
  ef_model_free(m);
  rt_spm_free(spm);
  ef_dict_free(dict);
  free(dict_bytes);
  free(spm_bytes);
  ef_pt_close(pt);
  return rc;
}
