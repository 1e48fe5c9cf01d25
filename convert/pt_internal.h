/* convert/pt_internal.h: what pt_zip.c, pickle.c and pt_reader.c share behind the contract of
 * pt_reader.h (the value struct, the reader state, the zip table). Not for other folders. */
#ifndef EF_CONVERT_PT_INTERNAL_H
#define EF_CONVERT_PT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "convert/pt_reader.h"

#define EF_PT_NAME_BYTES 512 /* file name kept for messages */

/* ---- zip (pt_zip.c) -------------------------------------------------------------------- */
typedef struct {
  char *name;
  uint64_t csize, usize, local_off;
  uint64_t data_off; /* start of the entry's bytes, validated against the file size */
  uint32_t crc;
  int method; /* 0 stored, 8 deflated */
} ef_zip_entry;

typedef struct {
  const uint8_t *base;
  uint64_t size;
  ef_zip_entry *e;
  size_t n;
} ef_zip;

/* Parse the central directory (EOCD, zip64 records, every entry's local header). */
int ef_zip_open(ef_zip *z, const uint8_t *base, uint64_t size, const char *file, char *err,
                size_t errlen);
void ef_zip_free(ef_zip *z);
const ef_zip_entry *ef_zip_find(const ef_zip *z, const char *name);
/* The entry's uncompressed bytes, CRC-checked: stored entries point into the file
 * (*owned = NULL), deflated ones are inflated into *owned (malloc'd; the caller frees).
 * *budget (bytes still allowed to be inflated) is decreased. */
int ef_zip_read(const ef_zip *z, const ef_zip_entry *e, const uint8_t **data, uint8_t **owned,
                uint64_t *budget, const char *file, char *err, size_t errlen);

/* ---- values (pickle.c) ----------------------------------------------------------------- */
typedef struct ef_pt_storage {
  char *key;
  ef_pt_dtype dtype;
  int64_t numel;
  const uint8_t *data; /* set when resolved against the archive */
  uint8_t *owned;      /* inflated copy, freed with the reader */
  char *root_key;      /* legacy views: the storage this one is a view of, else NULL */
  int64_t view_offset; /* elements into the root */
} ef_pt_storage;

struct ef_pt_val {
  ef_pt_kind kind;
  int64_t i;
  double f;
  char *s; /* STR, BYTES, BIGINT bytes; OBJECT / GLOBAL class name */
  size_t len;
  ef_pt_val **items;      /* LIST/TUPLE/SET items; DICT: key, value, key, value ... */
  size_t n, cap;          /* n counts items (DICT: 2 per entry) */
  ef_pt_val *attrs;       /* OBJECT: its BUILD state (a DICT) or NULL */
  ef_pt_storage *storage; /* TENSOR, STORAGE */
  int64_t offset;
  int ndim;
  int64_t shape[EF_PT_MAX_NDIM], stride[EF_PT_MAX_NDIM];
  ef_pt_val *next_alloc;
};

struct ef_pt {
  char name[EF_PT_NAME_BYTES];
  const uint8_t *base;
  uint64_t size;
  int mapped;
  int is_zip;
  ef_zip zip;
  uint8_t *pickle_owned; /* an inflated data.pkl */
  ef_pt_val *all;        /* every value, for ef_pt_close */
  uint64_t n_values, value_bytes;
  ef_pt_storage **storages;
  size_t n_storages, cap_storages;
  uint64_t tensor_budget; /* bytes of storages still allowed */
  ef_pt_val *root;
};

/* Run one pickle from buf (stops at STOP). legacy selects the persistent-id layout.
 * *consumed = bytes read including STOP. */
int ef_pickle_load(ef_pt *pt, const uint8_t *buf, size_t n, const char *where, int legacy,
                   ef_pt_val **out, size_t *consumed, char *err, size_t errlen);
size_t ef_pt_dtype_size(ef_pt_dtype d);

__attribute__((format(printf, 3, 4))) void ef_pt_seterr(char *err, size_t errlen, const char *fmt,
                                                        ...);

#endif
