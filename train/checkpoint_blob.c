/* train/checkpoint_blob.c: byte datasets under /tokenizer (see checkpoint_blob.h). It must
 * never return a blob that failed its checksum. */
#include <hdf5.h>

#include "train/checkpoint_blob.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint.h"
#include "train/h5util.h"

#define BLOB_CHUNK_MAX ((size_t)1 << 24) /* chunk size limit of the stored bytes */
#define BLOB_NAME_MAX 64

static int set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int write_blob(hid_t g, const ef_ckpt_blob *b) {
  hsize_t dims[1] = {(hsize_t)b->len}, chunk[1];
  hid_t sp = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  int ok = sp >= 0 && dcpl >= 0;
  if (ok && b->len > 0) { /* a chunk cannot be empty: an empty file is stored contiguous */
    chunk[0] = (hsize_t)(b->len < BLOB_CHUNK_MAX ? b->len : BLOB_CHUNK_MAX);
    ok = H5Pset_chunk(dcpl, 1, chunk) >= 0 && H5Pset_fletcher32(dcpl) >= 0;
  }
  if (ok) d = H5Dcreate2(g, b->name, H5T_STD_U8LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ok = d >= 0 &&
       (b->len == 0 || H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, b->data) >= 0);
  if (d >= 0) H5Dclose(d);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (sp >= 0) H5Sclose(sp);
  return ok ? 0 : 1;
}

int ef_ckpt_write_blobs(hid_t f, const ef_ckpt_blob *blobs, int n) {
  if (n <= 0) return 0;
  hid_t g = H5Gcreate2(f, EF_CKPT_BLOB_GROUP, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) return 1;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) rc = write_blob(g, &blobs[i]);
  rc |= H5Gclose(g) < 0;
  return rc;
}

/* Reads dataset name of the open group g. */
static int read_one(const char *path, hid_t g, const char *name, void **data, size_t *len,
                    char *err, size_t errlen) {
  hid_t d = H5Dopen2(g, name, H5P_DEFAULT), sp = -1, t = -1;
  int rc = -1;
  *data = NULL;
  if (d < 0) return set_err(err, errlen, "%s: cannot open /%s/%s", path, EF_CKPT_BLOB_GROUP, name);
  sp = H5Dget_space(d);
  t = H5Dget_type(d);
  hsize_t dims[1];
  if (sp < 0 || t < 0 || H5Sget_simple_extent_ndims(sp) != 1 ||
      H5Sget_simple_extent_dims(sp, dims, NULL) != 1 || H5Tget_class(t) != H5T_INTEGER ||
      H5Tget_size(t) != 1) {
    set_err(err, errlen, "%s: /%s/%s is not a 1-D byte dataset", path, EF_CKPT_BLOB_GROUP, name);
    goto done;
  }
  if (dims[0] > EF_CKPT_MAX_BLOB_BYTES) {
    set_err(err, errlen, "%s: /%s/%s is larger than %zu bytes", path, EF_CKPT_BLOB_GROUP, name,
            EF_CKPT_MAX_BLOB_BYTES);
    goto done;
  }
  *len = (size_t)dims[0];
  *data = malloc(*len + 1);
  if (!*data) {
    set_err(err, errlen, "%s: out of memory reading /%s/%s", path, EF_CKPT_BLOB_GROUP, name);
    goto done;
  }
  if (*len && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) {
    set_err(err, errlen, "%s: cannot read /%s/%s (corrupt file: checksum mismatch or truncated)",
            path, EF_CKPT_BLOB_GROUP, name);
    free(*data);
    *data = NULL;
    goto done;
  }
  ((char *)*data)[*len] = 0;
  rc = 0;
done:
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  H5Dclose(d);
  return rc;
}

/* Opens path and its /tokenizer group: 0 with *f, *g open; 1 no group (*f open); -1 error. */
static int open_group(const char *path, hid_t *f, hid_t *g, char *err, size_t errlen) {
  *g = -1;
  *f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (*f < 0)
    return set_err(err, errlen, "%s: not a readable HDF5 file (truncated or corrupt?)", path);
  if (!ef_h5_exists(*f, EF_CKPT_BLOB_GROUP)) return 1;
  *g = H5Gopen2(*f, EF_CKPT_BLOB_GROUP, H5P_DEFAULT);
  if (*g < 0) {
    H5Fclose(*f);
    *f = -1;
    return set_err(err, errlen, "%s: cannot open /%s", path, EF_CKPT_BLOB_GROUP);
  }
  return 0;
}

int ef_ckpt_read_blob(const char *path, const char *name, void **data, size_t *len, char *err,
                      size_t errlen) {
  *data = NULL;
  *len = 0;
  ef_h5_quiet q = ef_h5_quiet_begin();
  hid_t f, g;
  int rc = open_group(path, &f, &g, err, errlen);
  if (rc == 0) {
    rc = ef_h5_exists(g, name) ? read_one(path, g, name, data, len, err, errlen) : 1;
    H5Gclose(g);
  }
  if (f >= 0) H5Fclose(f);
  ef_h5_quiet_end(q);
  return rc;
}

typedef struct {
  char names[EF_CKPT_MAX_BLOBS][BLOB_NAME_MAX];
  int n, too_many;
} name_list;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *u) {
  (void)g, (void)info;
  name_list *l = u;
  if (l->n == EF_CKPT_MAX_BLOBS || strlen(name) >= BLOB_NAME_MAX) {
    l->too_many = 1;
    return 1;
  }
  snprintf(l->names[l->n++], BLOB_NAME_MAX, "%s", name);
  return 0;
}

void ef_ckpt_blobs_free(ef_ckpt_blob *blobs, int n) {
  for (int i = 0; i < n; i++) {
    free((void *)(uintptr_t)blobs[i].name);
    free((void *)(uintptr_t)blobs[i].data);
  }
}

int ef_ckpt_read_blobs(const char *path, ef_ckpt_blob *blobs, int *n, char *err, size_t errlen) {
  *n = 0;
  ef_h5_quiet q = ef_h5_quiet_begin();
  hid_t f, g;
  int rc = open_group(path, &f, &g, err, errlen);
  if (rc == 1)
    rc = 0;
  else if (rc == 0) {
    name_list l = {.n = 0};
    hsize_t idx = 0;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &l) < 0 || l.too_many) {
      rc = set_err(err, errlen, "%s: /%s holds more than %d datasets or a name over %d bytes", path,
                   EF_CKPT_BLOB_GROUP, EF_CKPT_MAX_BLOBS, BLOB_NAME_MAX - 1);
    }
    for (int i = 0; i < l.n && !rc; i++) {
      void *data;
      size_t len;
      char *name = strdup(l.names[i]);
      if (!name) {
        rc = set_err(err, errlen, "%s: out of memory", path);
        break;
      }
      if (read_one(path, g, name, &data, &len, err, errlen)) {
        free(name);
        rc = -1;
        break;
      }
      blobs[*n].name = name;
      blobs[*n].data = data;
      blobs[(*n)++].len = len;
    }
    if (rc) {
      ef_ckpt_blobs_free(blobs, *n);
      *n = 0;
    }
    H5Gclose(g);
  }
  if (f >= 0) H5Fclose(f);
  ef_h5_quiet_end(q);
  return rc;
}
