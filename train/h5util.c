/* train/h5util.c: typed HDF5 attributes and string datasets for checkpoints (see h5util.h).
 * It must never read past a caller's buffer, leak an HDF5 handle or leave HDF5-allocated
 * strings unfreed, on any path. */
#include "train/h5util.h"

#include <stdlib.h>
#include <string.h>

ef_h5_quiet ef_h5_quiet_begin(void) {
  ef_h5_quiet q = {0};
  H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  return q;
}

void ef_h5_quiet_end(ef_h5_quiet q) { H5Eset_auto2(H5E_DEFAULT, q.fn, q.data); }

int ef_h5_exists(hid_t loc, const char *name) { return H5Lexists(loc, name, H5P_DEFAULT) > 0; }

/* A fixed-length UTF-8 string type of n bytes (at least 1), NUL-padded. */
static hid_t fixed_str_type(size_t n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return t;
  if (H5Tset_size(t, n ? n : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

int ef_h5_write_str_attr(hid_t loc, const char *name, const char *value) {
  size_t n = strlen(value);
  hid_t t = fixed_str_type(n), sp = H5Screate(H5S_SCALAR), a = -1;
  int rc = 1;
  if (t >= 0 && sp >= 0) a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) rc = H5Awrite(a, t, n ? value : "") < 0;
  if (a >= 0) rc |= H5Aclose(a) < 0;
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return rc;
}

static int write_scalar_attr(hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                             const void *v) {
  hid_t sp = H5Screate(H5S_SCALAR), a = -1;
  int rc = 1;
  if (sp >= 0) a = H5Acreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) rc = H5Awrite(a, mem_type, v) < 0;
  if (a >= 0) rc |= H5Aclose(a) < 0;
  if (sp >= 0) H5Sclose(sp);
  return rc;
}

int ef_h5_write_i64_attr(hid_t loc, const char *name, int64_t v) {
  return write_scalar_attr(loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
int ef_h5_write_u64_attr(hid_t loc, const char *name, uint64_t v) {
  return write_scalar_attr(loc, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}
int ef_h5_write_f64_attr(hid_t loc, const char *name, double v) {
  return write_scalar_attr(loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

/* Opens attribute name of loc if it is a scalar (or one-element) of class cls. */
static hid_t open_attr(hid_t loc, const char *name, H5T_class_t cls) {
  if (H5Aexists(loc, name) <= 0) return -1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return -1;
  hid_t t = H5Aget_type(a), sp = H5Aget_space(a);
  int ok = t >= 0 && sp >= 0 && H5Tget_class(t) == cls && H5Sget_simple_extent_npoints(sp) == 1;
  if (t >= 0) H5Tclose(t);
  if (sp >= 0) H5Sclose(sp);
  if (!ok) {
    H5Aclose(a);
    return -1;
  }
  return a;
}

static int read_scalar_attr(hid_t loc, const char *name, H5T_class_t cls, hid_t mem_type, void *v) {
  hid_t a = open_attr(loc, name, cls);
  if (a < 0) return 1;
  int rc = H5Aread(a, mem_type, v) < 0;
  H5Aclose(a);
  return rc;
}

int ef_h5_read_i64_attr(hid_t loc, const char *name, int64_t *v) {
  return read_scalar_attr(loc, name, H5T_INTEGER, H5T_NATIVE_INT64, v);
}
int ef_h5_read_u64_attr(hid_t loc, const char *name, uint64_t *v) {
  return read_scalar_attr(loc, name, H5T_INTEGER, H5T_NATIVE_UINT64, v);
}
int ef_h5_read_f64_attr(hid_t loc, const char *name, double *v) {
  return read_scalar_attr(loc, name, H5T_FLOAT, H5T_NATIVE_DOUBLE, v);
}

/* Fixed-length strings only: see h5util.h. The stored bytes up to the first NUL. */
static int read_fixed(hid_t t, size_t max_bytes, char **out, size_t *len,
                      herr_t (*rd)(hid_t, hid_t, void *), hid_t obj) {
  *out = NULL;
  if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0) return 1;
  size_t n = H5Tget_size(t);
  if (n == 0 || n > max_bytes + 1) return 1;
  char *buf = malloc(n + 1);
  if (!buf) return 1;
  if (rd(obj, t, buf) < 0) {
    free(buf);
    return 1;
  }
  buf[n] = 0;
  size_t k = strlen(buf);
  if (k > max_bytes) {
    free(buf);
    return 1;
  }
  *out = buf;
  if (len) *len = k;
  return 0;
}

static herr_t attr_read(hid_t a, hid_t t, void *buf) { return H5Aread(a, t, buf); }
static herr_t dset_read(hid_t d, hid_t t, void *buf) {
  return H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

int ef_h5_read_str_attr(hid_t loc, const char *name, char *buf, size_t cap) {
  if (cap == 0) return 1;
  hid_t a = open_attr(loc, name, H5T_STRING);
  if (a < 0) return 1;
  hid_t t = H5Aget_type(a);
  char *s = NULL;
  size_t n = 0;
  int rc = t < 0 || read_fixed(t, cap - 1, &s, &n, attr_read, a);
  if (!rc) memcpy(buf, s, n + 1);
  free(s);
  if (t >= 0) H5Tclose(t);
  H5Aclose(a);
  return rc;
}

int ef_h5_write_text(hid_t loc, const char *name, const char *text) {
  size_t n = strlen(text);
  hid_t t = fixed_str_type(n), sp = H5Screate(H5S_SCALAR), d = -1;
  int rc = 1;
  if (t >= 0 && sp >= 0) d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0) rc = H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, n ? text : "") < 0;
  if (d >= 0) rc |= H5Dclose(d) < 0;
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  return rc;
}

int ef_h5_read_text(hid_t loc, const char *name, size_t max_bytes, char **out, size_t *len) {
  *out = NULL;
  if (!ef_h5_exists(loc, name)) return 1;
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0) return 1;
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
  int rc = t < 0 || sp < 0 || H5Sget_simple_extent_type(sp) != H5S_SCALAR ||
           read_fixed(t, max_bytes, out, len, dset_read, d);
  if (sp >= 0) H5Sclose(sp);
  if (t >= 0) H5Tclose(t);
  H5Dclose(d);
  return rc;
}
