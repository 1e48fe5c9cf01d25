/* train/checkpoint.c: the HDF5 checkpoint writer (layout in checkpoint.h and
 * docs/checkpoints.md; the loader is checkpoint_load.c). It must never leave a partial file
 * under the final name, never write a file the loader would refuse, and never let HDF5 print. */
#define _POSIX_C_SOURCE 200809L
#include "train/checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "train/checkpoint_blob.h"
#include "train/checkpoint_internal.h"
#include "train/durable.h"
#include "train/h5util.h"

#define EF_CKPT_CHUNK_MAX_BYTES ((uint64_t)64 << 20) /* one chunk per parameter up to this */
#define EF_CKPT_MAX_COMPACT 65535             /* links/attributes kept in a group's object header */
#define EF_CKPT_IMAGE_SLACK ((size_t)1 << 20) /* metadata room in the in-memory file */
#define EF_CKPT_SUPERBLOCK_BYTES 48           /* superblock version 2/3 with 8-byte addresses */

const char *const ef_ckpt_moment_group[EF_CKPT_N_MOMENTS] = {"exp_avg", "exp_avg_sq"};

void ef_ckpt_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void ef_ckpt_state_init(ef_train_state *st, uint64_t seed) {
  memset(st, 0, sizeof *st);
  st->epoch = 1;
  st->iter_pos.epoch = 1;
  st->best_metric = NAN;
  st->seed = seed;
}

uint64_t ef_ckpt_crc32(const char *s, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  while (n > 0) { /* zlib takes uInt lengths */
    uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, (const Bytef *)s, k);
    s += k;
    n -= k;
  }
  return (uint64_t)c;
}

/* The store's accessors take non-const pointers; the writer only reads through them. */
static ef_params *rw(const ef_params *p) { return (ef_params *)(uintptr_t)p; }

/* ---- writer ---------------------------------------------------------------------------- */

/* A group whose links (or attributes) stay in its checksummed object header: HDF5's dense
 * storage (a fractal heap) has no checksums on its data blocks. */
static hid_t create_group(hid_t loc, const char *name) {
  hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
  if (gcpl < 0) return -1;
  hid_t g = -1;
  if (H5Pset_link_phase_change(gcpl, EF_CKPT_MAX_COMPACT, EF_CKPT_MAX_COMPACT) >= 0 &&
      H5Pset_attr_phase_change(gcpl, EF_CKPT_MAX_COMPACT, EF_CKPT_MAX_COMPACT) >= 0)
    g = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT);
  H5Pclose(gcpl);
  return g;
}

static int write_param(hid_t g, const char *name, const ef_tensor *t, const float *data) {
  hsize_t dims[EF_MAX_DIMS], chunk[EF_MAX_DIMS];
  uint64_t bytes = sizeof(float);
  for (int d = 0; d < t->ndim; d++) {
    dims[d] = chunk[d] = (hsize_t)t->shape[d];
    bytes *= (uint64_t)t->shape[d];
  }
  /* Fletcher-32 needs a chunked layout; big parameters get several chunks. */
  for (int d = 0; d < t->ndim && bytes > EF_CKPT_CHUNK_MAX_BYTES; d++)
    while (chunk[d] > 1 && bytes > EF_CKPT_CHUNK_MAX_BYTES) {
      bytes = bytes / chunk[d] * ((chunk[d] + 1) / 2);
      chunk[d] = (chunk[d] + 1) / 2;
    }
  hid_t sp = H5Screate_simple(t->ndim, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  int rc = 1;
  if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, t->ndim, chunk) >= 0 &&
      H5Pset_fletcher32(dcpl) >= 0)
    d = H5Dcreate2(g, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0) rc = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0;
  if (d >= 0) rc |= H5Dclose(d) < 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  return rc;
}

/* One dataset per unique parameter of flat (the data buffer or a state slot) under loc/name. */
static int write_group(hid_t loc, const char *name, const ef_params *p, const float *flat) {
  hid_t g = create_group(loc, name);
  if (g < 0) return 1;
  int rc = 0;
  for (int i = 0; i < ef_params_count(p) && !rc; i++)
    rc = write_param(g, ef_params_name(p, i), ef_params_tensor(rw(p), i),
                     flat + ef_params_offset(p, i));
  rc |= H5Gclose(g) < 0;
  return rc;
}

/* Fixed-length strings of the longest name, one row (alias, canonical) per alias. */
static int write_aliases(hid_t f, const ef_params *p) {
  int n = ef_params_alias_count(p);
  size_t w = 1;
  for (int i = 0; i < n; i++) {
    int idx = -1;
    size_t la = strlen(ef_params_alias_at(p, i, &idx)), lc = strlen(ef_params_name(p, idx));
    w = la > w ? la : w;
    w = lc > w ? lc : w;
  }
  char *rows = calloc((size_t)(n > 0 ? n : 1) * 2, w);
  if (!rows) return 1;
  for (int i = 0; i < n; i++) {
    int idx = -1;
    const char *a = ef_params_alias_at(p, i, &idx), *c = ef_params_name(p, idx);
    memcpy(rows + (size_t)(2 * i) * w, a, strlen(a));
    memcpy(rows + (size_t)(2 * i + 1) * w, c, strlen(c));
  }
  hsize_t dims[2] = {(hsize_t)n, 2};
  hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate_simple(2, dims, NULL), d = -1;
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  int rc = 1;
  int ok = t >= 0 && H5Tset_size(t, w) >= 0 && H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0 &&
           H5Tset_cset(t, H5T_CSET_UTF8) >= 0 && sp >= 0 && dcpl >= 0;
  if (ok && n > 0) ok = H5Pset_chunk(dcpl, 2, dims) >= 0 && H5Pset_fletcher32(dcpl) >= 0;
  if (ok) d = H5Dcreate2(f, "aliases", t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0) rc = n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0;
  if (d >= 0) rc |= H5Dclose(d) < 0;
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  free(rows);
  return rc;
}

static int write_state(hid_t f, const ef_train_state *st, const char *optimizer) {
  hid_t g = create_group(f, "state");
  if (g < 0) return 1;
  int rc = ef_h5_write_i64_attr(g, "num_updates", st->num_updates) ||
           ef_h5_write_i64_attr(g, "epoch", st->epoch) ||
           ef_h5_write_i64_attr(g, "best_update", st->best_update) ||
           ef_h5_write_f64_attr(g, "best_metric", st->best_metric) ||
           ef_h5_write_u64_attr(g, "seed", st->seed) ||
           ef_h5_write_i64_attr(g, "iter_epoch", st->iter_pos.epoch) ||
           ef_h5_write_i64_attr(g, "iter_index", st->iter_pos.index) ||
           ef_h5_write_i64_attr(g, "iter_n_batches", st->iter_pos.n_batches) ||
           ef_h5_write_i64_attr(g, "iter_fingerprint", st->iter_pos.fingerprint) ||
           ef_h5_write_f64_attr(g, "lr", st->lr) ||
           ef_h5_write_i64_attr(g, "n_skipped_nonfinite", st->n_skipped_nonfinite) ||
           ef_h5_write_i64_attr(g, "bad_validations", st->bad_validations) ||
           ef_h5_write_str_attr(g, "optimizer", optimizer);
  rc |= H5Gclose(g) < 0;
  return rc;
}

static int write_config(hid_t f, const char *text) {
  if (ef_h5_write_text(f, "config", text)) return 1;
  hid_t d = H5Dopen2(f, "config", H5P_DEFAULT);
  if (d < 0) return 1;
  int rc = ef_h5_write_u64_attr(d, "crc32", ef_ckpt_crc32(text, strlen(text)));
  rc |= H5Dclose(d) < 0;
  return rc;
}

static int write_contents(hid_t f, const ef_params *p, const char *config, const ef_train_state *st,
                          int with_optimizer, const ef_ckpt_blob *blobs, int nblobs) {
  if (ef_h5_write_str_attr(f, "format", EF_CKPT_FORMAT) ||
      ef_h5_write_i64_attr(f, "version", EF_CKPT_VERSION) || write_config(f, config) ||
      write_state(f, st, with_optimizer ? st->optimizer : "") || write_aliases(f, p) ||
      write_group(f, "params", p, ef_params_data(rw(p))) || ef_ckpt_write_blobs(f, blobs, nblobs))
    return 1;
  if (!with_optimizer) return 0;
  hid_t g = create_group(f, "optimizer");
  if (g < 0) return 1;
  int rc = 0;
  for (int k = 0; k < EF_CKPT_N_MOMENTS && !rc; k++)
    rc = write_group(g, ef_ckpt_moment_group[k], p, ef_params_state(rw(p), k));
  rc |= H5Gclose(g) < 0;
  return rc;
}

static int check_save_args(const char *path, const ef_params *p, const char *config,
                           const ef_train_state *st, int with_optimizer, char *err, size_t errlen) {
  if (!path || !p || !st) {
    ef_ckpt_err(err, errlen, "checkpoint save: path, parameters and state are required");
    return 1;
  }
  if (!ef_params_data(rw(p))) {
    ef_ckpt_err(err, errlen, "%s: the parameter store is not finalized", path);
    return 1;
  }
  for (int i = 0; i < ef_params_count(p); i++) {
    const char *name = ef_params_name(p, i);
    if (strchr(name, '/') || !strcmp(name, ".")) {
      ef_ckpt_err(err, errlen, "%s: parameter name '%s' cannot be an HDF5 dataset name", path,
                  name);
      return 1;
    }
  }
  if (with_optimizer) {
    size_t n = strnlen(st->optimizer, sizeof st->optimizer);
    if (!ef_params_state(rw(p), 0) || !ef_params_state(rw(p), 1)) {
      ef_ckpt_err(err, errlen, "%s: saving the optimizer needs state slots 0 and 1 in the store",
                  path);
      return 1;
    }
    if (n == 0 || n == sizeof st->optimizer) {
      ef_ckpt_err(err, errlen, "%s: saving the optimizer needs its name in the state (\"adam\")",
                  path);
      return 1;
    }
  }
  if (strlen(config) > EF_CKPT_MAX_CONFIG_BYTES) {
    ef_ckpt_err(err, errlen, "%s: config text longer than %d bytes", path,
                EF_CKPT_MAX_CONFIG_BYTES);
    return 1;
  }
  return 0;
}

/* A checkpoint the loader would refuse is not written: it would replace a good one. */
static int check_finite(const char *path, const ef_params *p, int with_optimizer, char *err,
                        size_t errlen) {
  for (int k = -1; k < (with_optimizer ? EF_CKPT_N_MOMENTS : 0); k++) {
    const float *flat = k < 0 ? ef_params_data(rw(p)) : ef_params_state(rw(p), k);
    for (int i = 0; i < ef_params_count(p); i++) {
      const float *x = flat + ef_params_offset(p, i);
      int64_t n = ef_params_tensor(rw(p), i)->numel;
      for (int64_t j = 0; j < n; j++)
        if (!isfinite(x[j]) || (k == 1 && x[j] < 0)) {
          ef_ckpt_err(err, errlen, "%s: not saved: %s%s/%s holds %g at element %lld", path,
                      k < 0 ? "/params" : "/optimizer/", k < 0 ? "" : ef_ckpt_moment_group[k],
                      ef_params_name(p, i), (double)x[j], (long long)j);
          return 1;
        }
    }
  }
  return 0;
}

/* The in-memory file's buffer, taken over when HDF5 closes the file. (H5Fget_file_image
 * cannot be used: in HDF5 1.10.8 it returns a superblock v3 whose checksum does not match.) */
typedef struct {
  void *kept;   /* the closed file's bytes, ours to free */
  size_t alloc; /* size of the driver's latest allocation */
} image_grab;

static void *grab_malloc(size_t n, H5FD_file_image_op_t op, void *u) {
  (void)op;
  ((image_grab *)u)->alloc = n;
  return malloc(n);
}
static void *grab_memcpy(void *d, const void *s, size_t n, H5FD_file_image_op_t op, void *u) {
  (void)op, (void)u;
  return memcpy(d, s, n);
}
static void *grab_realloc(void *ptr, size_t n, H5FD_file_image_op_t op, void *u) {
  (void)op;
  ((image_grab *)u)->alloc = n;
  return realloc(ptr, n);
}
static herr_t grab_free(void *ptr, H5FD_file_image_op_t op, void *u) {
  if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && !((image_grab *)u)->kept)
    ((image_grab *)u)->kept = ptr;
  else
    free(ptr);
  return 0;
}
static void *grab_udata_copy(void *u) { return u; }
static herr_t grab_udata_free(void *u) {
  (void)u;
  return 0;
}

/* Length of a closed HDF5 file image: the end-of-file address of its superblock (version 2
 * or 3, 8-byte addresses, base address 0), 0 when the bytes do not look like one. */
static size_t image_length(const unsigned char *b, size_t alloc) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (alloc < EF_CKPT_SUPERBLOCK_BYTES || memcmp(b, sig, sizeof sig) || (b[8] != 2 && b[8] != 3) ||
      b[9] != 8)
    return 0;
  uint64_t base = 0, eof = 0;
  for (int i = 7; i >= 0; i--) {
    base = base << 8 | b[12 + i];
    eof = eof << 8 | b[28 + i];
  }
  return base == 0 && eof >= EF_CKPT_SUPERBLOCK_BYTES && eof <= alloc ? (size_t)eof : 0;
}

/* The whole file, built in memory with HDF5's core driver: HDF5 never touches the disk, so a
 * full disk is met by our own write() (a clean error), never by a failing H5Fclose, which in
 * HDF5 1.10 leaves a half-closed file that crashes the library's exit handler. */
static void *build_image(const ef_params *p, const char *config, const ef_train_state *st,
                         int with_optimizer, const ef_ckpt_blob *blobs, int nblobs, size_t *size) {
  size_t floats = (size_t)ef_params_flat_len(p) * (with_optimizer ? 1 + EF_CKPT_N_MOMENTS : 1);
  size_t increment = floats * sizeof(float) + strlen(config) + EF_CKPT_IMAGE_SLACK;
  for (int i = 0; i < nblobs; i++) increment += blobs[i].len;
  image_grab g = {NULL, 0};
  H5FD_file_image_callbacks_t cb = {
      grab_malloc, grab_memcpy, grab_realloc, grab_free, grab_udata_copy, grab_udata_free, &g};
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
  /* The 1.10 file format checksums all the metadata it writes here (superblock v3, object
   * headers, the single-chunk and fixed-array chunk indexes; the 1.8 format would index
   * chunks with unchecked v1 B-trees), so a flipped byte is detected instead of parsed.
   * Readable by HDF5 >= 1.10 (h5py wheels bundle newer). */
  if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0 &&
      H5Pset_fapl_core(fapl, increment, 0) >= 0 && H5Pset_file_image_callbacks(fapl, &cb) >= 0)
    f = H5Fcreate("checkpoint-in-memory.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (f < 0) return NULL;
  int bad = write_contents(f, p, config, st, with_optimizer, blobs, nblobs);
  bad |= H5Fclose(f) < 0; /* in memory: cannot fail for lack of space */
  *size = g.kept && !bad ? image_length(g.kept, g.alloc) : 0;
  if (!*size) {
    free(g.kept);
    return NULL;
  }
  return g.kept;
}

int ef_ckpt_save(const char *path, const ef_params *p, const char *config_ini_text,
                 const ef_train_state *st, int with_optimizer, char *err, size_t errlen) {
  return ef_ckpt_save_blobs(path, p, config_ini_text, st, with_optimizer, NULL, 0, err, errlen);
}

int ef_ckpt_save_blobs(const char *path, const ef_params *p, const char *config_ini_text,
                       const ef_train_state *st, int with_optimizer, const ef_ckpt_blob *blobs,
                       int nblobs, char *err, size_t errlen) {
  const char *config = config_ini_text ? config_ini_text : "";
  if (check_save_args(path, p, config, st, with_optimizer, err, errlen) ||
      check_finite(path, p, with_optimizer, err, errlen))
    return 1;
  if (nblobs < 0 || nblobs > EF_CKPT_MAX_BLOBS) {
    ef_ckpt_err(err, errlen, "%s: %d embedded files (at most %d)", path, nblobs, EF_CKPT_MAX_BLOBS);
    return 1;
  }
  for (int i = 0; i < nblobs; i++)
    if (!blobs[i].name[0] || strchr(blobs[i].name, '/') || blobs[i].len > EF_CKPT_MAX_BLOB_BYTES) {
      ef_ckpt_err(err, errlen, "%s: embedded file '%s': bad name or over %zu bytes", path,
                  blobs[i].name, EF_CKPT_MAX_BLOB_BYTES);
      return 1;
    }
  ef_h5_quiet q = ef_h5_quiet_begin();
  size_t size = 0;
  void *image = build_image(p, config, st, with_optimizer, blobs, nblobs, &size);
  ef_h5_quiet_end(q);
  if (!image) {
    ef_ckpt_err(err, errlen,
                "%s: building the checkpoint failed (HDF5 error or out of memory); "
                "nothing was written",
                path);
    return 1;
  }
  int rc = ef_durable_write(path, image, size, err, errlen);
  free(image);
  return rc;
}
