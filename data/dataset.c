/* data/dataset.c: the HDF5 reader and writer of binarised datasets (layout in dataset.h and
 * docs/data.md), plus the in-memory builder used by `edgeformer prepare`.
 * It must never hand out a dataset it has not fully validated, never leave a half-written file
 * under the final name, and never let HDF5 print its error stack to the user. */
#include "data/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#define EF_DATASET_INITIAL_PAIRS 1024
#define EF_DATASET_INITIAL_TOKENS 16384
#define EF_DATASET_TMP_SUFFIX_BYTES 32

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* HDF5 prints its error stack on every failed call unless told not to; we report our own
 * one-line messages instead, and restore whatever handler the process had. */
typedef struct {
  H5E_auto2_t fn;
  void *data;
} h5_quiet;

static h5_quiet quiet_begin(void) {
  h5_quiet q = {0};
  H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}

static void quiet_end(h5_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.fn, q.data); }

void ef_dataset_init(ef_dataset *ds) { memset(ds, 0, sizeof *ds); }

void ef_dataset_release(ef_dataset *ds) {
  free(ds->src.tokens);
  free(ds->src.offsets);
  free(ds->tgt.tokens);
  free(ds->tgt.offsets);
  free(ds->line);
  ef_dataset_init(ds);
}

/* ---- builder ----------------------------------------------------------------------------- */

static int grow_side(ef_dataset_side *s, int64_t pairs_cap, int64_t need_tokens, int pairs_grew) {
  if (pairs_grew || !s->offsets) {
    int64_t *o = realloc(s->offsets, (size_t)(pairs_cap + 1) * sizeof *o);
    if (!o) return -1;
    if (!s->offsets) o[0] = 0;
    s->offsets = o;
  }
  if (need_tokens > s->cap_tokens) {
    int64_t cap = s->cap_tokens ? s->cap_tokens : EF_DATASET_INITIAL_TOKENS;
    while (cap < need_tokens) cap *= 2;
    int32_t *t = realloc(s->tokens, (size_t)cap * sizeof *t);
    if (!t) return -1;
    s->tokens = t;
    s->cap_tokens = cap;
  }
  return 0;
}

static void append_side(ef_dataset_side *s, int64_t i, const int32_t *ids, int n) {
  memcpy(s->tokens + s->n_tokens, ids, (size_t)n * sizeof *ids);
  s->n_tokens += n;
  s->offsets[i + 1] = s->n_tokens;
}

int ef_dataset_append(ef_dataset *ds, const int32_t *src, int ns, const int32_t *tgt, int nt,
                      int64_t line, char *err, size_t errlen) {
  if (ds->n >= EF_DATASET_MAX_SENTENCES || ds->src.n_tokens + ns > EF_DATASET_MAX_TOKENS ||
      ds->tgt.n_tokens + nt > EF_DATASET_MAX_TOKENS) {
    set_err(err, errlen, "dataset exceeds %lld pairs or %lld tokens per side",
            (long long)EF_DATASET_MAX_SENTENCES, (long long)EF_DATASET_MAX_TOKENS);
    return 1;
  }
  int grew = 0;
  if (ds->n == ds->cap || !ds->line) {
    int64_t cap = ds->cap ? ds->cap * 2 : EF_DATASET_INITIAL_PAIRS;
    int64_t *l = realloc(ds->line, (size_t)cap * sizeof *l);
    if (!l) goto oom;
    ds->line = l;
    ds->cap = cap;
    grew = 1;
  }
  if (grow_side(&ds->src, ds->cap, ds->src.n_tokens + ns, grew) ||
      grow_side(&ds->tgt, ds->cap, ds->tgt.n_tokens + nt, grew))
    goto oom;
  append_side(&ds->src, ds->n, src, ns);
  append_side(&ds->tgt, ds->n, tgt, nt);
  ds->line[ds->n++] = line;
  return 0;
oom:
  set_err(err, errlen, "out of memory appending pair %lld", (long long)ds->n + 1);
  return 1;
}

/* ---- writer ------------------------------------------------------------------------------ */

static int write_str_attr(hid_t loc, const char *name, const char *value) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a < 0 || H5Awrite(a, t, &value) < 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
  return rc;
}

static int write_i64_attr(hid_t loc, const char *name, int64_t v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  int rc = a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0;
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  return rc;
}

static int write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                       const void *data, int64_t n) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t sp = H5Screate_simple(1, dims, NULL);
  hid_t d = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int rc = d < 0 || (n > 0 && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0);
  if (d >= 0) H5Dclose(d);
  H5Sclose(sp);
  return rc;
}

static int write_side(hid_t f, const char *group, const ef_dataset_side *s, int64_t n) {
  hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return 1;
  static const int64_t zero = 0;
  int rc = write_array(g, "tokens", H5T_STD_I32LE, H5T_NATIVE_INT32, s->tokens, s->n_tokens) ||
           write_array(g, "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64,
                       s->offsets ? s->offsets : &zero, n + 1) ||
           write_str_attr(g, "lang", s->lang) || write_str_attr(g, "dict_sha256", s->dict_sha256) ||
           write_i64_attr(g, "dict_size", s->dict_size) ||
           write_i64_attr(g, "n_tokens", s->n_tokens) || write_i64_attr(g, "n_unk", s->n_unk);
  H5Gclose(g);
  return rc;
}

int ef_dataset_write(const ef_dataset *ds, const char *path, char *err, size_t errlen) {
  size_t plen = strlen(path) + EF_DATASET_TMP_SUFFIX_BYTES;
  char *tmp = malloc(plen);
  if (!tmp) {
    set_err(err, errlen, "%s: out of memory", path);
    return 1;
  }
  snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
  h5_quiet q = quiet_begin();
  int rc = 1;
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    set_err(err, errlen, "%s: cannot create (is the folder writable?)", tmp);
    goto done;
  }
  int bad = write_str_attr(f, "format", EF_DATASET_FORMAT) ||
            write_i64_attr(f, "version", EF_DATASET_VERSION) ||
            write_str_attr(f, "split", ds->split) || write_i64_attr(f, "n_sentences", ds->n) ||
            write_str_attr(f, "source_lang", ds->src.lang) ||
            write_str_attr(f, "target_lang", ds->tgt.lang) ||
            write_str_attr(f, "spm_sha256", ds->spm_sha256) ||
            write_str_attr(f, "spm_model", ds->spm_model) ||
            write_side(f, "src", &ds->src, ds->n) || write_side(f, "tgt", &ds->tgt, ds->n) ||
            write_array(f, "line", H5T_STD_I64LE, H5T_NATIVE_INT64, ds->line, ds->n);
  bad |= H5Fclose(f) < 0;
  if (bad) {
    set_err(err, errlen, "%s: HDF5 write failed (disk full?)", tmp);
    remove(tmp);
    goto done;
  }
  int fd = open(tmp, O_RDONLY);
  if (fd < 0 || fsync(fd) != 0) {
    set_err(err, errlen, "%s: cannot sync: %s", tmp, strerror(errno));
    if (fd >= 0) close(fd);
    remove(tmp);
    goto done;
  }
  close(fd);
  if (rename(tmp, path)) {
    set_err(err, errlen, "%s: cannot rename the temporary file into place: %s", path,
            strerror(errno));
    remove(tmp);
    goto done;
  }
  rc = 0;
done:
  quiet_end(q);
  free(tmp);
  return rc;
}

/* ---- reader ------------------------------------------------------------------------------ */

/* Reads a string attribute (variable or fixed length) into buf. 0 ok, 1 missing/bad. */
static int read_str_attr(hid_t loc, const char *name, char *buf, size_t cap) {
  buf[0] = '\0';
  if (H5Aexists(loc, name) <= 0) return 1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 1;
  hid_t t = H5Aget_type(a);
  int rc = 1;
  if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    if (H5Tis_variable_str(t) > 0) {
      char *s = NULL;
      H5Tset_size(mt, H5T_VARIABLE);
      H5Tset_cset(mt, H5Tget_cset(t));
      if (H5Aread(a, mt, &s) >= 0) {
        rc = !s || strlen(s) >= cap;
        if (!rc) memcpy(buf, s, strlen(s) + 1);
        if (s) H5free_memory(s);
      }
    } else {
      size_t n = H5Tget_size(t);
      if (n < cap) {
        H5Tset_size(mt, n + 1);
        H5Tset_strpad(mt, H5T_STR_NULLTERM);
        rc = H5Aread(a, mt, buf) < 0;
        buf[n] = '\0';
      }
    }
    H5Tclose(mt);
  }
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

static int read_i64_attr(hid_t loc, const char *name, int64_t *v) {
  if (H5Aexists(loc, name) <= 0) return 1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return 1;
  hid_t t = H5Aget_type(a);
  int rc = t < 0 || H5Tget_class(t) != H5T_INTEGER || H5Aread(a, H5T_NATIVE_INT64, v) < 0;
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

/* Opens a rank-1 integer dataset and returns its length, or -1 with a message. */
static int64_t open_array(hid_t loc, const char *path, const char *name, const char *full,
                          hid_t *out, char *err, size_t errlen) {
  *out = -1;
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
    set_err(err, errlen, "%s: dataset %s is missing", path, full);
    return -1;
  }
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) {
    set_err(err, errlen, "%s: dataset %s cannot be opened", path, full);
    return -1;
  }
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  hsize_t dims[1] = {0};
  int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_INTEGER &&
           H5Sget_simple_extent_ndims(sp) == 1 && H5Sget_simple_extent_dims(sp, dims, NULL) == 1;
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  if (!ok) {
    set_err(err, errlen, "%s: dataset %s is not a one-dimensional integer array", path, full);
    H5Dclose(d);
    return -1;
  }
  *out = d;
  return (int64_t)dims[0];
}

static int read_array(hid_t d, hid_t mem_type, void *buf, int64_t n, const char *path,
                      const char *full, char *err, size_t errlen) {
  if (n > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    set_err(err, errlen, "%s: dataset %s cannot be read (file truncated or corrupt?)", path, full);
    return 1;
  }
  return 0;
}

static int read_side(hid_t f, const char *path, const char *group, int64_t n, const ef_dict *dict,
                     const char *dict_name, ef_dataset_side *s, char *err, size_t errlen) {
  char full[EF_DATASET_NAME_BYTES * 2];
  if (H5Lexists(f, group, H5P_DEFAULT) <= 0) {
    set_err(err, errlen, "%s: group /%s is missing", path, group);
    return 1;
  }
  hid_t g = H5Gopen2(f, group, H5P_DEFAULT), dt = -1, dofs = -1;
  int rc = 1;
  if (g < 0) {
    set_err(err, errlen, "%s: group /%s cannot be opened", path, group);
    return 1;
  }
  int64_t attr_tokens;
  if (read_str_attr(g, "lang", s->lang, sizeof s->lang) ||
      read_str_attr(g, "dict_sha256", s->dict_sha256, sizeof s->dict_sha256) ||
      read_i64_attr(g, "dict_size", &s->dict_size) || read_i64_attr(g, "n_tokens", &attr_tokens) ||
      read_i64_attr(g, "n_unk", &s->n_unk)) {
    set_err(err, errlen,
            "%s: group /%s lacks one of the attributes lang, dict_sha256, dict_size, n_tokens, "
            "n_unk",
            path, group);
    goto out;
  }
  snprintf(full, sizeof full, "/%s/offsets", group);
  int64_t n_off = open_array(g, path, "offsets", full, &dofs, err, errlen);
  if (n_off < 0) goto out;
  if (n_off != n + 1) {
    set_err(err, errlen, "%s: dataset %s has %lld rows, expected n_sentences + 1 = %lld", path,
            full, (long long)n_off, (long long)n + 1);
    goto out;
  }
  snprintf(full, sizeof full, "/%s/tokens", group);
  int64_t n_tok = open_array(g, path, "tokens", full, &dt, err, errlen);
  if (n_tok < 0) goto out;
  if (n_tok > EF_DATASET_MAX_TOKENS) {
    set_err(err, errlen, "%s: dataset %s has %lld tokens, more than the limit %lld", path, full,
            (long long)n_tok, (long long)EF_DATASET_MAX_TOKENS);
    goto out;
  }
  if (attr_tokens != n_tok) {
    set_err(err, errlen, "%s: attribute /%s n_tokens = %lld but %s has %lld entries", path, group,
            (long long)attr_tokens, full, (long long)n_tok);
    goto out;
  }
  s->offsets = malloc((size_t)(n + 1) * sizeof *s->offsets);
  s->tokens = malloc((size_t)(n_tok > 0 ? n_tok : 1) * sizeof *s->tokens);
  if (!s->offsets || !s->tokens) {
    set_err(err, errlen, "%s: out of memory for %lld tokens of /%s", path, (long long)n_tok, group);
    goto out;
  }
  s->n_tokens = n_tok;
  snprintf(full, sizeof full, "/%s/offsets", group);
  if (read_array(dofs, H5T_NATIVE_INT64, s->offsets, n + 1, path, full, err, errlen)) goto out;
  snprintf(full, sizeof full, "/%s/tokens", group);
  if (read_array(dt, H5T_NATIVE_INT32, s->tokens, n_tok, path, full, err, errlen)) goto out;

  /* Structure of the offsets. */
  snprintf(full, sizeof full, "/%s/offsets", group);
  if (s->offsets[0] != 0) {
    set_err(err, errlen, "%s: dataset %s does not start at 0 (row 0 is %lld)", path, full,
            (long long)s->offsets[0]);
    goto out;
  }
  for (int64_t i = 0; i < n; i++)
    if (s->offsets[i + 1] <= s->offsets[i] || s->offsets[i + 1] > n_tok) {
      set_err(err, errlen, "%s: dataset %s is %s at row %lld", path, full,
              s->offsets[i + 1] <= s->offsets[i] ? "not increasing" : "past the end of the tokens",
              (long long)i + 1);
      goto out;
    }
  if (s->offsets[n] != n_tok) {
    set_err(err, errlen, "%s: dataset %s ends at %lld but /%s/tokens has %lld entries", path, full,
            (long long)s->offsets[n], group, (long long)n_tok);
    goto out;
  }
  /* Token ids against the dictionary. */
  int64_t vocab = s->dict_size;
  if (dict) {
    if (s->dict_size != ef_dict_size(dict)) {
      set_err(err, errlen,
              "%s: /%s was built with a dictionary of %lld symbols but %s has %d (rebuild the "
              "dataset with this dictionary, or use the one it was built with)",
              path, group, (long long)s->dict_size, dict_name ? dict_name : "the dictionary",
              ef_dict_size(dict));
      goto out;
    }
    char hex[EF_SHA256_HEX_LEN + 1];
    if (ef_dict_checksum(dict, hex)) {
      set_err(err, errlen, "%s: out of memory hashing the dictionary", path);
      goto out;
    }
    if (strcmp(hex, s->dict_sha256)) {
      set_err(err, errlen,
              "%s: /%s was built with dictionary sha256 %.12s... but %s has %.12s... (rebuild the "
              "dataset with this dictionary, or use the one it was built with)",
              path, group, s->dict_sha256, dict_name ? dict_name : "the dictionary", hex);
      goto out;
    }
  }
  snprintf(full, sizeof full, "/%s/tokens", group);
  for (int64_t i = 0; i < n_tok; i++) {
    if (s->tokens[i] < 0 || s->tokens[i] >= vocab) {
      set_err(err, errlen,
              "%s: dataset %s holds id %d at position %lld, outside the dictionary "
              "(%lld symbols)",
              path, full, s->tokens[i], (long long)i, (long long)vocab);
      goto out;
    }
    if (s->tokens[i] == EF_DICT_PAD) {
      set_err(err, errlen, "%s: dataset %s holds <pad> (id 1) at position %lld", path, full,
              (long long)i);
      goto out;
    }
  }
  for (int64_t i = 0; i < n; i++)
    if (s->tokens[s->offsets[i + 1] - 1] != EF_DICT_EOS) {
      set_err(err, errlen, "%s: sentence %lld of /%s does not end with </s> (id 2)", path,
              (long long)i, group);
      goto out;
    }
  if (s->n_unk < 0 || s->n_unk > n_tok) {
    set_err(err, errlen, "%s: attribute /%s n_unk = %lld is out of range", path, group,
            (long long)s->n_unk);
    goto out;
  }
  rc = 0;
out:
  if (dt >= 0) H5Dclose(dt);
  if (dofs >= 0) H5Dclose(dofs);
  H5Gclose(g);
  return rc;
}

int ef_dataset_read(const char *path, const ef_dataset_expect *expect, ef_dataset *out, char *err,
                    size_t errlen) {
  static const ef_dataset_expect none = {0};
  if (!expect) expect = &none;
  ef_dataset_init(out);
  h5_quiet q = quiet_begin();
  int rc = 1;
  hid_t dl = -1;
  if (access(path, R_OK) != 0) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    quiet_end(q);
    return 1;
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    set_err(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
    quiet_end(q);
    return 1;
  }
  char format[EF_DATASET_NAME_BYTES];
  int64_t version = 0;
  if (read_str_attr(f, "format", format, sizeof format) || strcmp(format, EF_DATASET_FORMAT)) {
    set_err(err, errlen, "%s: not an edgeformer dataset (attribute format != \"%s\")", path,
            EF_DATASET_FORMAT);
    goto out;
  }
  if (read_i64_attr(f, "version", &version) || version != EF_DATASET_VERSION) {
    set_err(err, errlen, "%s: dataset version %lld is not supported (this build reads %d)", path,
            (long long)version, EF_DATASET_VERSION);
    goto out;
  }
  char src_lang[EF_DATASET_NAME_BYTES], tgt_lang[EF_DATASET_NAME_BYTES];
  if (read_str_attr(f, "split", out->split, sizeof out->split) ||
      read_i64_attr(f, "n_sentences", &out->n) ||
      read_str_attr(f, "source_lang", src_lang, sizeof src_lang) ||
      read_str_attr(f, "target_lang", tgt_lang, sizeof tgt_lang) ||
      read_str_attr(f, "spm_sha256", out->spm_sha256, sizeof out->spm_sha256) ||
      read_str_attr(f, "spm_model", out->spm_model, sizeof out->spm_model)) {
    set_err(err, errlen,
            "%s: root lacks one of the attributes split, n_sentences, source_lang, target_lang, "
            "spm_sha256, spm_model",
            path);
    goto out;
  }
  if (out->n < 0 || out->n > EF_DATASET_MAX_SENTENCES) {
    set_err(err, errlen, "%s: n_sentences = %lld is out of range", path, (long long)out->n);
    goto out;
  }
  if (read_side(f, path, "src", out->n, expect->src_dict, expect->src_dict_name, &out->src, err,
                errlen) ||
      read_side(f, path, "tgt", out->n, expect->tgt_dict, expect->tgt_dict_name, &out->tgt, err,
                errlen))
    goto out;
  if (strcmp(src_lang, out->src.lang) || strcmp(tgt_lang, out->tgt.lang)) {
    set_err(err, errlen, "%s: languages of the root (%s-%s) and groups (%s-%s) disagree", path,
            src_lang, tgt_lang, out->src.lang, out->tgt.lang);
    goto out;
  }
  if (expect->spm_sha256 && expect->spm_sha256[0] && out->spm_sha256[0] &&
      strcmp(expect->spm_sha256, out->spm_sha256)) {
    set_err(err, errlen,
            "%s: built with SentencePiece model sha256 %.12s... but the model in use has "
            "%.12s...",
            path, out->spm_sha256, expect->spm_sha256);
    goto out;
  }
  int64_t n_line = open_array(f, path, "line", "/line", &dl, err, errlen);
  if (n_line < 0) goto out;
  if (n_line != out->n) {
    set_err(err, errlen, "%s: dataset /line has %lld rows, expected n_sentences = %lld", path,
            (long long)n_line, (long long)out->n);
    goto out;
  }
  out->line = malloc((size_t)(out->n > 0 ? out->n : 1) * sizeof *out->line);
  if (!out->line) {
    set_err(err, errlen, "%s: out of memory", path);
    goto out;
  }
  if (read_array(dl, H5T_NATIVE_INT64, out->line, out->n, path, "/line", err, errlen)) goto out;
  out->cap = out->n;
  rc = 0;
out:
  if (dl >= 0) H5Dclose(dl);
  H5Fclose(f);
  quiet_end(q);
  if (rc) ef_dataset_release(out);
  return rc;
}
