/* runtime/edgeformer_rt.c: the app-facing C API (edgeformer_rt.h) over the .efm reader, the
 * tokenizer and the decoder. It must never add behaviour of its own to those: it only wires
 * text -> ids -> rt_generate -> ids -> text and turns their messages into statuses. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/edgeformer_rt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/decode.h"
#include "runtime/efm.h"
#include "runtime/kernels.h"

#define EF_RT_MAX_THREADS 64

struct ef_rt_model {
  rt_efm *efm;
  rt_kernels *k;
  rt_decoder *dec;
};

static ef_rt_status fail(ef_rt_status s, char *err, size_t errlen, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return s;
}

void ef_rt_options_default(ef_rt_options *o) {
  rt_search_opts s;
  rt_search_opts_default(&s);
  o->beam = s.beam;
  o->lenpen = s.lenpen;
  o->max_len_a = s.max_len_a;
  o->max_len_b = s.max_len_b;
  o->threads = 1;
  o->no_repeat_ngram_size = s.no_repeat_ngram_size;
}

const char *ef_rt_strerror(ef_rt_status s) {
  switch (s) {
  case EF_RT_OK:
    return "success";
  case EF_RT_ERR_IO:
    return "cannot read the model file";
  case EF_RT_ERR_FORMAT:
    return "not a valid .efm model file";
  case EF_RT_ERR_NOMEM:
    return "out of memory";
  case EF_RT_ERR_ARGUMENT:
    return "invalid argument";
  case EF_RT_ERR_INPUT:
    return "the text cannot be translated";
  }
  return "unknown status";
}

static ef_rt_status finish_load(rt_efm *efm, const char *name, ef_rt_model **out, char *err,
                                size_t errlen) {
  ef_rt_model *m = calloc(1, sizeof *m);
  if (!m) {
    rt_efm_close(efm);
    return fail(EF_RT_ERR_NOMEM, err, errlen, "out of memory");
  }
  m->efm = efm;
  m->k = rt_kernels_new(rt_isa_detect());
  if (!m->k) {
    ef_rt_free(m);
    return fail(EF_RT_ERR_NOMEM, err, errlen, "out of memory");
  }
  char msg[512];
  if (rt_decoder_new(rt_efm_model(efm), m->k, &m->dec, msg, sizeof msg)) {
    ef_rt_free(m); /* the model passed the file checks but not the decoder's */
    return fail(EF_RT_ERR_FORMAT, err, errlen, "%s: %s", name ? name : "<memory>", msg);
  }
  *out = m;
  return EF_RT_OK;
}

ef_rt_status ef_rt_load(const char *path, ef_rt_model **out, char *err, size_t errlen) {
  if (!out) return fail(EF_RT_ERR_ARGUMENT, err, errlen, "ef_rt_load: out is NULL");
  *out = NULL;
  if (!path) return fail(EF_RT_ERR_ARGUMENT, err, errlen, "ef_rt_load: path is NULL");
  struct stat st;
  if (stat(path, &st)) return fail(EF_RT_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
  rt_efm *efm = NULL;
  if (rt_efm_open(path, &efm, err, errlen))
    return S_ISREG(st.st_mode) ? EF_RT_ERR_FORMAT : EF_RT_ERR_IO;
  return finish_load(efm, path, out, err, errlen);
}

ef_rt_status ef_rt_load_memory(const void *buf, size_t len, const char *name, ef_rt_model **out,
                               char *err, size_t errlen) {
  if (!out) return fail(EF_RT_ERR_ARGUMENT, err, errlen, "ef_rt_load_memory: out is NULL");
  *out = NULL;
  rt_efm *efm = NULL;
  if (rt_efm_open_memory(buf, len, name, &efm, err, errlen)) return EF_RT_ERR_FORMAT;
  return finish_load(efm, name, out, err, errlen);
}

void ef_rt_free(ef_rt_model *m) {
  if (!m) return;
  rt_decoder_free(m->dec);
  rt_kernels_free(m->k);
  rt_efm_close(m->efm);
  free(m);
}

void ef_rt_model_info(const ef_rt_model *m, ef_rt_info *info) {
  const rt_model *r = rt_efm_model(m->efm);
  memset(info, 0, sizeof *info);
  info->vocab_size = r->cfg.vocab_size;
  info->encoder_layers = r->cfg.encoder_layers;
  info->decoder_layers = r->cfg.decoder_layers;
  info->embed_dim = r->cfg.embed_dim;
  info->max_source_tokens = r->cfg.max_source_positions;
  info->int8 = r->tensors[r->embed].dtype == RT_I8;
  info->file_bytes = (unsigned long long)rt_efm_file_size(m->efm);
}

ef_rt_status ef_rt_translate(ef_rt_model *m, const char *text, const ef_rt_options *opts,
                             char **out, char *err, size_t errlen) {
  if (!out) return fail(EF_RT_ERR_ARGUMENT, err, errlen, "ef_rt_translate: out is NULL");
  *out = NULL;
  if (!m || !text) return fail(EF_RT_ERR_ARGUMENT, err, errlen, "ef_rt_translate: NULL argument");
  ef_rt_options o;
  if (opts)
    o = *opts;
  else
    ef_rt_options_default(&o);
  if (o.threads < 1 || o.threads > EF_RT_MAX_THREADS)
    return fail(EF_RT_ERR_ARGUMENT, err, errlen, "threads %d out of range 1..%d", o.threads,
                EF_RT_MAX_THREADS);
  if (o.beam < 1 || o.beam > RT_MAX_BEAM || o.max_len_b < 0 || !(o.max_len_a >= 0) ||
      o.no_repeat_ngram_size < 0)
    return fail(EF_RT_ERR_ARGUMENT, err, errlen,
                "beam %d (1..%d), max_len_a %g, max_len_b %d, no_repeat_ngram_size %d "
                "(>= 0)",
                o.beam, RT_MAX_BEAM, o.max_len_a, o.max_len_b, o.no_repeat_ngram_size);
  if (rt_kernels_threads(m->k) != o.threads && rt_kernels_set_threads(m->k, o.threads))
    return fail(EF_RT_ERR_NOMEM, err, errlen, "cannot start %d threads", o.threads);
  rt_search_opts s;
  rt_search_opts_default(&s);
  s.beam = o.beam;
  s.lenpen = o.lenpen;
  s.max_len_a = o.max_len_a;
  s.max_len_b = o.max_len_b;
  s.no_repeat_ngram_size = o.no_repeat_ngram_size;
  int *ids = NULL;
  int n = rt_efm_encode(m->efm, text, strlen(text), &ids, err, errlen);
  if (n < 0) return EF_RT_ERR_INPUT;
  const int *src[1] = {ids};
  int rc = rt_generate(m->dec, 1, src, &n, &s, err, errlen);
  free(ids);
  if (rc) return EF_RT_ERR_INPUT; /* too long, or options out of range: the message says */
  int count = 0;
  const rt_hypo *h = rt_decoder_hypos(m->dec, 0, &count);
  if (!h || count < 1) return fail(EF_RT_ERR_INPUT, err, errlen, "no hypothesis was produced");
  if (rt_efm_decode(m->efm, h[0].tokens, h[0].len, out, err, errlen) < 0) return EF_RT_ERR_NOMEM;
  return EF_RT_OK;
}
