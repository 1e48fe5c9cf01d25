/* train/checkpoint_load.c: the validating checkpoint loader (layout in checkpoint.h and
 * docs/checkpoints.md). It must never touch the live parameters, moments or state before the
 * whole file has been validated, never crash on a corrupt file (no variable-length strings are
 * read: see train/h5util.h) and never let HDF5 print. */
#define _POSIX_C_SOURCE 200809L
#include "train/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "train/checkpoint_internal.h"
#include "train/h5util.h"

#define EF_CKPT_SHAPE_TEXT 96 /* "[a,b,c,d]" */
#define EF_CKPT_TYPE_TEXT 32
#define EF_CKPT_KEY_BYTES (EF_PARAM_NAME_MAX + 2) /* room to notice a longer key */

enum { KIND_PARAM = 0, KIND_EXP_AVG, KIND_EXP_AVG_SQ };

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
  size_t n = (size_t)snprintf(buf, cap, "[");
  for (int d = 0; d < ndim && n < cap; d++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? "," : "", (long long)shape[d]);
  if (n < cap) snprintf(buf + n, cap - n, "]");
}

static void type_text(hid_t t, char *buf, size_t cap) {
  size_t bits = H5Tget_size(t) * 8;
  switch (H5Tget_class(t)) {
  case H5T_FLOAT:
    snprintf(buf, cap, "float%zu", bits);
    break;
  case H5T_INTEGER:
    snprintf(buf, cap, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
    break;
  case H5T_STRING:
    snprintf(buf, cap, "string");
    break;
  default:
    snprintf(buf, cap, "a non-numeric type");
    break;
  }
}

/* Opens the file and checks format and version. */
static hid_t open_checkpoint(const char *path, char *err, size_t errlen) {
  if (access(path, R_OK) != 0) {
    ef_ckpt_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    ef_ckpt_err(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
    return -1;
  }
  char format[64];
  int64_t version = 0;
  if (ef_h5_read_str_attr(f, "format", format, sizeof format) || strcmp(format, EF_CKPT_FORMAT)) {
    ef_ckpt_err(err, errlen, "%s: not an edgeformer checkpoint (attribute format != \"%s\")", path,
                EF_CKPT_FORMAT);
  } else if (ef_h5_read_i64_attr(f, "version", &version) || version != EF_CKPT_VERSION) {
    ef_ckpt_err(err, errlen, "%s: checkpoint version %lld is not supported (this build reads %d)",
                path, (long long)version, EF_CKPT_VERSION);
  } else {
    return f;
  }
  H5Fclose(f);
  return -1;
}

static int read_config(hid_t f, const char *path, char **out, char *err, size_t errlen) {
  size_t n = 0;
  uint64_t crc = 0;
  if (ef_h5_read_text(f, "config", EF_CKPT_MAX_CONFIG_BYTES, out, &n)) {
    ef_ckpt_err(err, errlen, "%s: /config is missing, not a string or unreadable", path);
    return 1;
  }
  hid_t d = H5Dopen2(f, "config", H5P_DEFAULT);
  int bad = d < 0 || ef_h5_read_u64_attr(d, "crc32", &crc);
  if (d >= 0) H5Dclose(d);
  if (bad || crc != ef_ckpt_crc32(*out, n)) {
    ef_ckpt_err(err, errlen, "%s: /config %s (corrupt file)", path,
                bad ? "lacks its crc32 attribute" : "fails its CRC-32");
    free(*out);
    *out = NULL;
    return 1;
  }
  return 0;
}

static int read_state(hid_t f, const char *path, ef_train_state *s, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  if (!ef_h5_exists(f, "state")) {
    ef_ckpt_err(err, errlen, "%s: group /state is missing", path);
    return 1;
  }
  hid_t g = H5Gopen2(f, "state", H5P_DEFAULT);
  const char *missing = NULL;
  if (g < 0) {
    ef_ckpt_err(err, errlen, "%s: /state is not a readable group (corrupt file)", path);
    return 1;
  }
  const struct {
    const char *name;
    int64_t *v;
  } ints[] = {{"num_updates", &s->num_updates},
              {"epoch", &s->epoch},
              {"best_update", &s->best_update},
              {"iter_epoch", &s->iter_pos.epoch},
              {"iter_index", &s->iter_pos.index},
              {"iter_n_batches", &s->iter_pos.n_batches},
              {"iter_fingerprint", &s->iter_pos.fingerprint},
              {"n_skipped_nonfinite", &s->n_skipped_nonfinite},
              {"bad_validations", &s->bad_validations}};
  for (size_t i = 0; i < sizeof ints / sizeof *ints && !missing; i++)
    if (ef_h5_read_i64_attr(g, ints[i].name, ints[i].v)) missing = ints[i].name;
  if (!missing && ef_h5_read_f64_attr(g, "best_metric", &s->best_metric)) missing = "best_metric";
  if (!missing && ef_h5_read_f64_attr(g, "lr", &s->lr)) missing = "lr";
  if (!missing && ef_h5_read_u64_attr(g, "seed", &s->seed)) missing = "seed";
  if (!missing && ef_h5_read_str_attr(g, "optimizer", s->optimizer, sizeof s->optimizer))
    missing = "optimizer";
  H5Gclose(g);
  if (missing) {
    ef_ckpt_err(err, errlen, "%s: /state lacks attribute %s (or it has the wrong type)", path,
                missing);
    return 1;
  }
  const char *bad = NULL;
  if (s->num_updates < 0)
    bad = "num_updates < 0";
  else if (s->epoch < 1)
    bad = "epoch < 1";
  else if (s->best_update < 0 || s->best_update > s->num_updates)
    bad = "best_update outside [0, num_updates]";
  else if (s->iter_pos.epoch < 1)
    bad = "iter_epoch < 1";
  else if (s->iter_pos.index < 0 || s->iter_pos.n_batches < 0 ||
           s->iter_pos.index > s->iter_pos.n_batches)
    bad = "iter_index outside [0, iter_n_batches]";
  else if (!isfinite(s->lr) || s->lr < 0)
    bad = "lr is negative or not finite";
  else if (isinf(s->best_metric))
    bad = "best_metric is infinite";
  else if (s->n_skipped_nonfinite < 0)
    bad = "n_skipped_nonfinite < 0";
  else if (s->bad_validations < 0)
    bad = "bad_validations < 0";
  if (bad) {
    ef_ckpt_err(err, errlen, "%s: /state: %s (corrupt file)", path, bad);
    return 1;
  }
  return 0;
}

static int cmp_str_ptr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Compares the (alias, canonical) rows with rows[] read from /aliases; 0 when the maps agree. */
static int compare_aliases(const ef_params *p, char **rows, hsize_t n, const char *path, char *err,
                           size_t errlen) {
  int m = ef_params_alias_count(p);
  if (n != (hsize_t)m) {
    ef_ckpt_err(
        err, errlen,
        "%s: /aliases has %llu entries, the model has %d aliases (different sharing scheme?)", path,
        (unsigned long long)n, m);
    return 1;
  }
  for (hsize_t i = 0; i < n; i++) {
    const char *a = rows[2 * i], *c = rows[2 * i + 1];
    int idx = ef_params_find(p, a);
    const char *model_c = idx >= 0 ? ef_params_name(p, idx) : NULL;
    if (!model_c) {
      ef_ckpt_err(err, errlen, "%s: /aliases: '%s' is not a name in the model", path, a);
      return 1;
    }
    if (!strcmp(model_c, a)) {
      ef_ckpt_err(err, errlen,
                  "%s: /aliases: '%s' is an alias in the file but a parameter of its own in the "
                  "model (different sharing scheme)",
                  path, a);
      return 1;
    }
    if (strcmp(model_c, c)) {
      ef_ckpt_err(err, errlen,
                  "%s: /aliases: '%s' -> '%s' in the file, but -> '%s' in the model (different "
                  "sharing scheme)",
                  path, a, c, model_c);
      return 1;
    }
  }
  const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
  if (!names) {
    ef_ckpt_err(err, errlen, "%s: out of memory", path);
    return 1;
  }
  for (hsize_t i = 0; i < n; i++) names[i] = rows[2 * i];
  qsort(names, (size_t)n, sizeof *names, cmp_str_ptr);
  for (hsize_t i = 1; i < n; i++)
    if (!strcmp(names[i - 1], names[i])) {
      ef_ckpt_err(err, errlen, "%s: /aliases lists '%s' twice", path, names[i]);
      free(names);
      return 1;
    }
  free(names);
  return 0;
}

static int check_aliases(hid_t f, const ef_params *p, const char *path, char *err, size_t errlen) {
  if (!ef_h5_exists(f, "aliases")) {
    ef_ckpt_err(err, errlen, "%s: dataset /aliases is missing", path);
    return 1;
  }
  hid_t d = H5Dopen2(f, "aliases", H5P_DEFAULT);
  hid_t t = d >= 0 ? H5Dget_type(d) : -1, sp = d >= 0 ? H5Dget_space(d) : -1;
  hsize_t dims[2] = {0, 0};
  size_t w = t >= 0 ? H5Tget_size(t) : 0;
  char *raw = NULL, *names = NULL, **rows = NULL;
  int rc = 1;
  if (t < 0 || sp < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0 || w == 0 ||
      w > EF_PARAM_NAME_MAX || H5Sget_simple_extent_ndims(sp) != 2 ||
      H5Sget_simple_extent_dims(sp, dims, NULL) != 2 || dims[1] != 2 ||
      dims[0] > EF_CKPT_MAX_ALIASES) {
    ef_ckpt_err(err, errlen,
                "%s: /aliases is not a [n, 2] dataset of fixed-length strings (n <= %d, at most %d "
                "bytes)",
                path, EF_CKPT_MAX_ALIASES, EF_PARAM_NAME_MAX);
    goto out;
  }
  size_t cells = (size_t)dims[0] * 2;
  raw = malloc(cells * w + 1);
  names = malloc(cells * (w + 1) + 1);
  rows = malloc((cells + 1) * sizeof *rows);
  if (!raw || !names || !rows) {
    ef_ckpt_err(err, errlen, "%s: out of memory reading /aliases", path);
    goto out;
  }
  if (cells > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
    ef_ckpt_err(err, errlen, "%s: cannot read /aliases (corrupt file: checksum mismatch?)", path);
    goto out;
  }
  for (size_t i = 0; i < cells; i++) { /* NUL-padded cells -> C strings */
    rows[i] = names + i * (w + 1);
    memcpy(rows[i], raw + i * w, w);
    rows[i][w] = 0;
  }
  rc = compare_aliases(p, rows, dims[0], path, err, errlen);
out:
  free(rows);
  free(names);
  free(raw);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  if (d >= 0) H5Dclose(d);
  return rc;
}

/* Reads dataset key of g (shown as where/key) into dst after checking type and shape, then
 * checks the values. */
static int read_tensor(hid_t g, const char *where, const char *key, const ef_tensor *t, float *dst,
                       int kind, const char *path, char *err, size_t errlen) {
  hid_t d = H5Dopen2(g, key, H5P_DEFAULT);
  if (d < 0) {
    ef_ckpt_err(err, errlen, "%s: %s/%s is not a readable dataset", path, where, key);
    return 1;
  }
  hid_t ty = H5Dget_type(d), sp = H5Dget_space(d);
  int rc = 1, ndim = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t dims[H5S_MAX_RANK];
  int64_t shape[H5S_MAX_RANK];
  char have[EF_CKPT_SHAPE_TEXT], want[EF_CKPT_SHAPE_TEXT], tt[EF_CKPT_TYPE_TEXT];
  if (ty < 0 || ndim < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) != ndim) {
    ef_ckpt_err(err, errlen, "%s: %s/%s has an unreadable type or shape (corrupt file)", path,
                where, key);
    goto out;
  }
  if (H5Tequal(ty, H5T_IEEE_F32LE) <= 0 && H5Tequal(ty, H5T_IEEE_F32BE) <= 0) {
    type_text(ty, tt, sizeof tt);
    ef_ckpt_err(err, errlen, "%s: %s/%s has type %s, expected float32", path, where, key, tt);
    goto out;
  }
  int same = ndim == t->ndim;
  for (int i = 0; i < ndim; i++) {
    shape[i] = (int64_t)dims[i];
    same = same && shape[i] == t->shape[i];
  }
  if (!same) {
    shape_text(have, sizeof have, ndim, shape);
    shape_text(want, sizeof want, t->ndim, t->shape);
    ef_ckpt_err(err, errlen, "%s: %s/%s has shape %s, the model expects %s", path, where, key, have,
                want);
    goto out;
  }
  if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
    ef_ckpt_err(err, errlen, "%s: cannot read %s/%s (corrupt file: checksum mismatch or truncated)",
                path, where, key);
    goto out;
  }
  for (int64_t i = 0; i < t->numel; i++) {
    if (!isfinite(dst[i])) {
      ef_ckpt_err(err, errlen, "%s: %s/%s holds a non-finite value (%g) at element %lld", path,
                  where, key, (double)dst[i], (long long)i);
      goto out;
    }
    if (kind == KIND_EXP_AVG_SQ && dst[i] < 0) {
      ef_ckpt_err(err, errlen, "%s: %s/%s holds a negative value (%g) at element %lld", path, where,
                  key, (double)dst[i], (long long)i);
      goto out;
    }
  }
  rc = 0;
out:
  if (sp >= 0) H5Sclose(sp);
  if (ty >= 0) H5Tclose(ty);
  H5Dclose(d);
  return rc;
}

/* Reads group loc/name (shown as where) holding one dataset per unique parameter into flat.
 * Keys are checked first (no foreign or alias keys), then parameters are read in the model's
 * order, so the first problem reported is the first one in the model. */
static int read_group(hid_t loc, const char *name, const char *where, ef_params *p, float *flat,
                      int kind, const char *path, char *err, size_t errlen) {
  if (!ef_h5_exists(loc, name)) {
    ef_ckpt_err(err, errlen, "%s: group %s is missing", path, where);
    return 1;
  }
  int rc = 1;
  hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
  H5G_info_t info;
  if (g < 0 || H5Gget_info(g, &info) < 0) {
    ef_ckpt_err(err, errlen, "%s: %s is not a readable group (corrupt file)", path, where);
    goto out;
  }
  for (hsize_t i = 0; i < info.nlinks; i++) {
    char key[EF_CKPT_KEY_BYTES];
    ssize_t kl =
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, key, sizeof key, H5P_DEFAULT);
    if (kl < 0) {
      ef_ckpt_err(err, errlen, "%s: cannot list %s (corrupt file)", path, where);
      goto out;
    }
    if ((size_t)kl >= sizeof key) {
      ef_ckpt_err(err, errlen, "%s: %s holds a key of %zd bytes, longer than any parameter name",
                  path, where, kl);
      goto out;
    }
    int idx = ef_params_find(p, key);
    if (idx < 0) {
      ef_ckpt_err(err, errlen, "%s: %s/%s is not a parameter of the model (unexpected key)", path,
                  where, key);
      goto out;
    }
    if (strcmp(ef_params_name(p, idx), key)) {
      ef_ckpt_err(err, errlen, "%s: %s/%s is an alias; parameters are stored once, as %s/%s", path,
                  where, key, where, ef_params_name(p, idx));
      goto out;
    }
  }
  /* Every link is a distinct canonical key: the sets are equal when no key is missing. */
  for (int i = 0; i < ef_params_count(p); i++) {
    const char *key = ef_params_name(p, i);
    if (!ef_h5_exists(g, key)) {
      ef_ckpt_err(err, errlen, "%s: %s/%s is missing", path, where, key);
      goto out;
    }
    if (read_tensor(g, where, key, ef_params_tensor(p, i), flat + ef_params_offset(p, i), kind,
                    path, err, errlen))
      goto out;
  }
  rc = 0;
out:
  if (g >= 0) H5Gclose(g);
  return rc;
}

static int read_moments(hid_t f, ef_params *p, float *scratch[EF_CKPT_N_MOMENTS], const char *path,
                        char *err, size_t errlen) {
  if (!ef_h5_exists(f, "optimizer")) {
    ef_ckpt_err(err, errlen,
                "%s: has no optimizer state (/optimizer); resume with the optimizer reset "
                "(--reset-optimizer)",
                path);
    return 1;
  }
  hid_t g = H5Gopen2(f, "optimizer", H5P_DEFAULT);
  H5G_info_t info;
  int rc = 1;
  if (g < 0 || H5Gget_info(g, &info) < 0 || info.nlinks != EF_CKPT_N_MOMENTS) {
    ef_ckpt_err(err, errlen, "%s: /optimizer must hold exactly the groups exp_avg and exp_avg_sq",
                path);
    goto out;
  }
  for (int k = 0; k < EF_CKPT_N_MOMENTS; k++) {
    char where[32];
    snprintf(where, sizeof where, "/optimizer/%s", ef_ckpt_moment_group[k]);
    if (read_group(g, ef_ckpt_moment_group[k], where, p, scratch[k], KIND_EXP_AVG + k, path, err,
                   errlen))
      goto out;
  }
  rc = 0;
out:
  if (g >= 0) H5Gclose(g);
  return rc;
}

int ef_ckpt_read_config(const char *path, char **config_ini_text, char *err, size_t errlen) {
  *config_ini_text = NULL;
  ef_h5_quiet q = ef_h5_quiet_begin();
  hid_t f = open_checkpoint(path, err, errlen);
  int rc = f < 0 || read_config(f, path, config_ini_text, err, errlen);
  if (f >= 0) H5Fclose(f);
  ef_h5_quiet_end(q);
  return rc;
}

static void apply_resets(ef_train_state *s, unsigned flags) {
  if (flags & EF_CKPT_RESET_OPTIMIZER) { /* fairseq: no num_updates, no best, fresh schedule */
    s->num_updates = 0;
    s->best_update = 0;
    s->best_metric = NAN;
    s->lr = 0;
    s->n_skipped_nonfinite = 0;
    s->bad_validations = 0;
    s->optimizer[0] = 0;
  }
  if (flags & EF_CKPT_RESET_LR_SCHEDULER) s->lr = 0;
  if (flags & EF_CKPT_RESET_DATALOADER) {
    s->epoch = 1;
    memset(&s->iter_pos, 0, sizeof s->iter_pos);
    s->iter_pos.epoch = 1;
  }
}

int ef_ckpt_load(const char *path, ef_params *p, ef_train_state *st, char **config_ini_text,
                 unsigned flags, char *err, size_t errlen) {
  if (flags & EF_CKPT_PARAMS_ONLY)
    flags |= EF_CKPT_RESET_OPTIMIZER | EF_CKPT_RESET_LR_SCHEDULER | EF_CKPT_RESET_DATALOADER;
  if (!path || !p || (!st && !(flags & EF_CKPT_PARAMS_ONLY))) {
    ef_ckpt_err(err, errlen, "checkpoint load: path, parameters and state are required");
    return 1;
  }
  if (!ef_params_data(p)) {
    ef_ckpt_err(err, errlen, "%s: the parameter store is not finalized", path);
    return 1;
  }
  int with_moments = !(flags & EF_CKPT_RESET_OPTIMIZER);
  if (with_moments && (!ef_params_state(p, 0) || !ef_params_state(p, 1))) {
    ef_ckpt_err(err, errlen,
                "%s: the parameter store has no optimizer state slots to resume into (allocate "
                "them first, or reset the optimizer)",
                path);
    return 1;
  }
  ef_h5_quiet q = ef_h5_quiet_begin();
  int rc = 1;
  char *config = NULL;
  ef_train_state fs;
  size_t flat = (size_t)ef_params_flat_len(p);
  float *scratch[1 + EF_CKPT_N_MOMENTS] = {0};
  hid_t f = open_checkpoint(path, err, errlen);
  if (f < 0) goto out;
  if (read_config(f, path, &config, err, errlen) || read_state(f, path, &fs, err, errlen) ||
      check_aliases(f, p, path, err, errlen))
    goto out;
  if (with_moments && !fs.optimizer[0]) {
    ef_ckpt_err(err, errlen,
                "%s: saved without optimizer state; resume with the optimizer reset "
                "(--reset-optimizer)",
                path);
    goto out;
  }
  for (int k = 0; k < (with_moments ? 1 + EF_CKPT_N_MOMENTS : 1); k++)
    if (!(scratch[k] = calloc(flat ? flat : 1, sizeof(float)))) {
      ef_ckpt_err(err, errlen, "%s: out of memory for %zu scratch floats", path, flat);
      goto out;
    }
  if (read_group(f, "params", "/params", p, scratch[0], KIND_PARAM, path, err, errlen) ||
      (with_moments && read_moments(f, p, scratch + 1, path, err, errlen)))
    goto out;

  /* Everything is valid: commit. */
  memcpy(ef_params_data(p), scratch[0], flat * sizeof(float));
  for (int k = 0; k < EF_PARAM_MAX_STATES && ef_params_state(p, k); k++) {
    if (with_moments && k < EF_CKPT_N_MOMENTS)
      memcpy(ef_params_state(p, k), scratch[1 + k], flat * sizeof(float));
    else
      memset(ef_params_state(p, k), 0, flat * sizeof(float));
  }
  if (!(flags & EF_CKPT_PARAMS_ONLY)) {
    apply_resets(&fs, flags);
    *st = fs;
  }
  if (config_ini_text) {
    *config_ini_text = config;
    config = NULL;
  }
  rc = 0;
out:
  if (f >= 0) H5Fclose(f);
  for (int k = 0; k < 1 + EF_CKPT_N_MOMENTS; k++) free(scratch[k]);
  free(config);
  ef_h5_quiet_end(q);
  return rc;
}
