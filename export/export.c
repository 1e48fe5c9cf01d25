/* export/export.c: checkpoint -> .efm (see export.h). Everything is validated by the loaders it
 * calls (ef_ckpt_load, ef_dict_load, rt_spm_load_memory, rt_model_check); this file only wires
 * them together. It must never write the output unless every input loaded. */
#define _POSIX_C_SOURCE 200809L
#include "export/export.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dictionary.h"
#include "model/edgeformer.h"
#include "model/to_runtime.h"
#include "runtime/spm.h"
#include "train/checkpoint_blob.h"
#include "train/checkpoint.h"
#include "train/options.h"

static int set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The whole file, malloc'd; at most max bytes. */
static int read_file(const char *path, size_t max, void **out, size_t *len, char *err,
                     size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return set_err(err, errlen, "%s: cannot open (%s)", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      (uint64_t)st.st_size > max) {
    fclose(f);
    return set_err(err, errlen, "%s: not a regular file or larger than %zu bytes", path, max);
  }
  size_t n = (size_t)st.st_size;
  void *b = malloc(n ? n : 1);
  if (!b || fread(b, 1, n, f) != n) {
    free(b);
    fclose(f);
    return set_err(err, errlen, "%s: cannot read %zu bytes", path, n);
  }
  fclose(f);
  *out = b, *len = n;
  return 0;
}

/* path when given, else <data>/<name>; a missing default file is explained. */
static int resolve(const char *given, const char *data, const char *name, const char *flag,
                   char *out, size_t cap, char *err, size_t errlen) {
  if (given) {
    if ((size_t)snprintf(out, cap, "%s", given) >= cap)
      return set_err(err, errlen, "%s: path too long", given);
    return 0;
  }
  if (!data[0])
    return set_err(err, errlen,
                   "the checkpoint's config has no [data] data folder to find %s "
                   "in: pass %s",
                   name, flag);
  if ((size_t)snprintf(out, cap, "%s/%s", data, name) >= cap)
    return set_err(err, errlen, "%s/%s: path too long", data, name);
  struct stat st;
  if (stat(out, &st))
    return set_err(err, errlen,
                   "%s: not found (the checkpoint was trained on [data] data = %s; "
                   "pass %s FILE)",
                   out, data, flag);
  return 0;
}

/* 1 when a and b name the same existing file. */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int ef_export_checkpoint(const ef_export_opts *o, ef_export_result *res, char *err, size_t errlen) {
  memset(res, 0, sizeof *res);
  char *ini = NULL, msg[EF_CONFIG_ERR_LEN + 256];
  ef_model_config mcfg;
  ef_train_options *to = malloc(sizeof *to); /* large (paths) */
  ef_model *model = NULL;
  rt_model *rt = NULL;
  ef_dict *dict = NULL;
  rt_spm *spm = NULL;
  void *spm_bytes = NULL, *dict_bytes = NULL;
  size_t spm_len = 0, dict_len = 0;
  int rc = -1;
  if (!to) return set_err(err, errlen, "out of memory");
  ef_model_config_default(&mcfg);
  ef_train_options_default(to);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &mcfg},
                          {ef_train_keys, ef_train_n_keys, to}};
  if (ef_ckpt_read_config(o->checkpoint, &ini, err, errlen)) goto done;
  if (ef_config_load_text(t, 2, ini, o->checkpoint, msg, sizeof msg) ||
      ef_model_config_check(&mcfg, msg, sizeof msg)) {
    set_err(err, errlen, "%s: /config: %s", o->checkpoint, msg);
    goto done;
  }
  char dict_name[64]; /* the source side's dictionary (one vocabulary: embeddings are tied) */
  snprintf(dict_name, sizeof dict_name, "dict.%s.txt", to->source_lang);
  /* not given: the tokenizer embedded in the checkpoint (`import` writes one), else the data
   * folder's files */
  int dict_in = 0, spm_in = 0;
  if (!o->dict) {
    dict_in = ef_ckpt_read_blob(o->checkpoint, EF_CKPT_BLOB_SRC_DICT, &dict_bytes, &dict_len, err,
                                errlen);
    if (dict_in < 0) goto done;
    dict_in = dict_in == 0;
  }
  if (!o->spm) {
    spm_in = ef_ckpt_read_blob(o->checkpoint, EF_CKPT_BLOB_SPM, &spm_bytes, &spm_len, err, errlen);
    if (spm_in < 0) goto done;
    spm_in = spm_in == 0;
  }
  if (dict_in)
    snprintf(res->dict, sizeof res->dict, "%s:/%s/%s", o->checkpoint, EF_CKPT_BLOB_GROUP,
             EF_CKPT_BLOB_SRC_DICT);
  else if (resolve(o->dict, to->data, dict_name, "--dict", res->dict, sizeof res->dict, err,
                   errlen))
    goto done;
  if (spm_in)
    snprintf(res->spm, sizeof res->spm, "%s:/%s/%s", o->checkpoint, EF_CKPT_BLOB_GROUP,
             EF_CKPT_BLOB_SPM);
  else if (resolve(o->spm, to->data, "spm.model", "--spm", res->spm, sizeof res->spm, err, errlen))
    goto done;
  if (same_file(o->out, o->checkpoint) || (!dict_in && same_file(o->out, res->dict)) ||
      (!spm_in && same_file(o->out, res->spm))) {
    set_err(err, errlen, "%s: the output would replace one of the inputs", o->out);
    goto done;
  }
  if (dict_in ? ef_dict_load_memory(dict_bytes, dict_len, res->dict, &dict, err, errlen)
              : ef_dict_load(res->dict, &dict, err, errlen))
    goto done;
  if (!spm_in && read_file(res->spm, RT_SPM_MAX_MODEL_BYTES, &spm_bytes, &spm_len, err, errlen))
    goto done;
  if (rt_spm_load_memory(spm_bytes, spm_len, res->spm, &spm, err, errlen)) goto done;
  if (ef_dict_size(dict) != mcfg.vocab_size) {
    set_err(err, errlen,
            "%s has %d symbols but the checkpoint's vocabulary is %d: not the "
            "dictionary this model was trained with",
            res->dict, ef_dict_size(dict), mcfg.vocab_size);
    goto done;
  }
  for (int id = EF_DICT_NSPECIAL; id < ef_dict_size(dict); id++) {
    const char *s = ef_dict_symbol(dict, id);
    const char *p = rt_spm_id_to_piece(spm, rt_spm_piece_to_id(spm, s));
    if (!p || strcmp(p, s)) res->dict_not_in_spm++;
  }
  if (ef_model_new(&mcfg, &model, msg, sizeof msg)) {
    set_err(err, errlen, "%s: /config: %s", o->checkpoint, msg);
    goto done;
  }
  if (ef_ckpt_load(o->checkpoint, model->params, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, errlen))
    goto done;
  if (ef_model_to_runtime(model, &rt, msg, sizeof msg)) {
    set_err(err, errlen, "%s: %s", o->checkpoint, msg);
    goto done;
  }
  if (ef_efm_write(o->out, rt, o->dtype, spm_bytes, spm_len, dict, &res->stats, err, errlen))
    goto done;
  rc = 0;
done:
  rt_model_free(rt);
  ef_model_free(model);
  rt_spm_free(spm);
  free(spm_bytes);
  free(dict_bytes);
  ef_dict_free(dict);
  free(ini);
  free(to);
  return rc;
}
