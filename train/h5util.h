/* train/h5util.h: small HDF5 helpers for checkpoints: a silenced error stack, typed scalar
 * attributes and UTF-8 string datasets. Readers check the stored class (integer, float, string)
 * and never truncate: a value that does not fit is an error.
 *
 * Strings are FIXED-length (NUL-padded UTF-8), written and accepted: variable-length strings
 * keep their bytes in HDF5's global heap, which has no checksum, and HDF5 1.10 crashes
 * (H5HG_read) reading a corrupted one. Fixed-length strings live in the checksummed object
 * header (attributes) or in raw data (datasets), where damage is only wrong bytes.
 *
 * Return values: 0 on success, non-zero when the object is missing, has the wrong class or
 * HDF5 fails; the caller writes the message (it knows the file and the object's role).
 */
#ifndef EF_TRAIN_H5UTIL_H
#define EF_TRAIN_H5UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>

/* HDF5 prints its error stack on every failed call unless told not to; checkpoints report
 * their own one-line messages instead, and restore whatever handler the process had. */
typedef struct {
  H5E_auto2_t fn;
  void *data;
} ef_h5_quiet;

ef_h5_quiet ef_h5_quiet_begin(void);
void ef_h5_quiet_end(ef_h5_quiet q);

int ef_h5_write_str_attr(hid_t loc, const char *name, const char *value);
int ef_h5_write_i64_attr(hid_t loc, const char *name, int64_t v);
int ef_h5_write_u64_attr(hid_t loc, const char *name, uint64_t v);
int ef_h5_write_f64_attr(hid_t loc, const char *name, double v);

/* Fixed-length string attribute into buf; fails if it needs more than cap-1 bytes. */
int ef_h5_read_str_attr(hid_t loc, const char *name, char *buf, size_t cap);
int ef_h5_read_i64_attr(hid_t loc, const char *name, int64_t *v);
int ef_h5_read_u64_attr(hid_t loc, const char *name, uint64_t *v);
int ef_h5_read_f64_attr(hid_t loc, const char *name, double *v);

/* A scalar fixed-length UTF-8 string dataset (h5py: f[name][()].decode()). */
int ef_h5_write_text(hid_t loc, const char *name, const char *text);
/* Reads it into a malloc'd string; fails beyond max_bytes. *len receives strlen. */
int ef_h5_read_text(hid_t loc, const char *name, size_t max_bytes, char **out, size_t *len);

/* Whether loc has a link called name (false on any error). */
int ef_h5_exists(hid_t loc, const char *name);

#endif
