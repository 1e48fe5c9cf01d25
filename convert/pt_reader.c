/* convert/pt_reader.c: opening a torch.save file (contract in pt_reader.h): maps it, tells the
 * zip layout from the legacy one, runs the safe unpickler (pickle.c) and binds every storage
 * the pickle references to its bytes, checking sizes; then typed access to the values and
 * float conversion of tensors. It must never trust a size or offset from the file before
 * checking it against the bytes actually there. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/pt_internal.h"

#define PT_LEGACY_MAGIC_BYTES 10
static const uint8_t PT_LEGACY_MAGIC[PT_LEGACY_MAGIC_BYTES] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                                               0x20, 0x6a, 0xa8, 0x50, 0x19};
#define PT_LEGACY_PROTOCOL 1001
#define PT_ZIP_VERSION_MAX 3 /* the serialization versions torch writes so far */
#define PT_KEY_PATH_BYTES (EF_PT_MAX_NAME_BYTES + 80)

static void pt_free(ef_pt *pt) {
  if (!pt) return;
  for (ef_pt_val *v = pt->all, *next; v; v = next) {
    next = v->next_alloc;
    free(v->s);
    free(v->items);
    free(v);
  }
  for (size_t i = 0; i < pt->n_storages; i++) {
    free(pt->storages[i]->key);
    free(pt->storages[i]->owned);
    free(pt->storages[i]->root_key);
    free(pt->storages[i]);
  }
  free(pt->storages);
  free(pt->pickle_owned);
  ef_zip_free(&pt->zip);
  if (pt->mapped && pt->base) munmap((void *)pt->base, pt->size);
  free(pt);
}

void ef_pt_close(ef_pt *pt) { pt_free(pt); }

/* ---- zip layout ---------------------------------------------------------------------------- */

static int open_zip(ef_pt *pt, char *err, size_t errlen) {
  if (ef_zip_open(&pt->zip, pt->base, pt->size, pt->name, err, errlen)) return -1;
  pt->is_zip = 1;
  /* exactly one <prefix>/data.pkl with a one-level prefix */
  const ef_zip_entry *pkl = NULL;
  size_t plen = 0;
  for (size_t i = 0; i < pt->zip.n; i++) {
    const char *nm = pt->zip.e[i].name, *slash = strchr(nm, '/');
    if (slash && slash != nm && !strcmp(slash, "/data.pkl")) {
      if (pkl) {
        ef_pt_seterr(err, errlen, "%s: two pickles in one archive (%s and %s)", pt->name, pkl->name,
                     nm);
        return -1;
      }
      pkl = &pt->zip.e[i];
      plen = (size_t)(slash - nm);
    }
  }
  if (!pkl) {
    ef_pt_seterr(err, errlen,
                 "%s: a zip archive without <name>/data.pkl: not a torch.save "
                 "checkpoint",
                 pt->name);
    return -1;
  }
  char prefix[EF_PT_MAX_NAME_BYTES + 1], path[PT_KEY_PATH_BYTES];
  memcpy(prefix, pkl->name, plen);
  prefix[plen] = 0;
  uint64_t budget = EF_PT_MAX_TENSOR_BYTES;
  const uint8_t *data;
  uint8_t *owned;
  /* version (optional in very old zips) and byte order (torch >= 2.1) */
  snprintf(path, sizeof path, "%s/version", prefix);
  const ef_zip_entry *ve = ef_zip_find(&pt->zip, path);
  if (ve) {
    if (ve->usize > 32) {
      ef_pt_seterr(err, errlen, "%s: %s is %llu bytes, not a version number", pt->name, path,
                   (unsigned long long)ve->usize);
      return -1;
    }
    if (ef_zip_read(&pt->zip, ve, &data, &owned, &budget, pt->name, err, errlen)) return -1;
    char buf[40];
    memcpy(buf, data, ve->usize);
    buf[ve->usize] = 0;
    free(owned);
    char *end;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == '\r' || *end == ' ') end++;
    if (end == buf || *end || v < 1 || v > PT_ZIP_VERSION_MAX) {
      ef_pt_seterr(err, errlen, "%s: %s says '%.32s'; versions 1 to %d are supported", pt->name,
                   path, buf, PT_ZIP_VERSION_MAX);
      return -1;
    }
  }
  snprintf(path, sizeof path, "%s/byteorder", prefix);
  const ef_zip_entry *bo = ef_zip_find(&pt->zip, path);
  if (bo) {
    if (bo->usize > 16 ||
        ef_zip_read(&pt->zip, bo, &data, &owned, &budget, pt->name, err, errlen)) {
      if (bo->usize > 16) ef_pt_seterr(err, errlen, "%s: %s is not a byte order", pt->name, path);
      return -1;
    }
    int little = bo->usize == 6 && !memcmp(data, "little", 6);
    free(owned);
    if (!little) {
      ef_pt_seterr(err, errlen, "%s: big-endian checkpoints are not supported", pt->name);
      return -1;
    }
  }
  if (pkl->usize > EF_PT_MAX_PICKLE_BYTES) {
    ef_pt_seterr(err, errlen, "%s: %s is %llu bytes, more than the limit %llu", pt->name, pkl->name,
                 (unsigned long long)pkl->usize, (unsigned long long)EF_PT_MAX_PICKLE_BYTES);
    return -1;
  }
  if (ef_zip_read(&pt->zip, pkl, &data, &pt->pickle_owned, &budget, pt->name, err, errlen))
    return -1;
  size_t used;
  if (ef_pickle_load(pt, data, (size_t)pkl->usize, pkl->name, 0, &pt->root, &used, err, errlen))
    return -1;
  /* bind storages: <prefix>/data/<key>, exactly numel * element size bytes */
  for (size_t i = 0; i < pt->n_storages; i++) {
    ef_pt_storage *s = pt->storages[i];
    snprintf(path, sizeof path, "%s/data/%s", prefix, s->key);
    const ef_zip_entry *e = ef_zip_find(&pt->zip, path);
    uint64_t bytes = (uint64_t)s->numel * ef_pt_dtype_size(s->dtype);
    if (!e) {
      ef_pt_seterr(err, errlen, "%s: storage '%s' used by the pickle has no entry %s", pt->name,
                   s->key, path);
      return -1;
    }
    if (e->usize != bytes) {
      ef_pt_seterr(err, errlen,
                   "%s: %s holds %llu bytes, the pickle expects %lld %s elements "
                   "(%llu bytes)",
                   pt->name, path, (unsigned long long)e->usize, (long long)s->numel,
                   ef_pt_dtype_name(s->dtype), (unsigned long long)bytes);
      return -1;
    }
    if (e->method == 0) {
      if (bytes > budget) {
        ef_pt_seterr(err, errlen, "%s: storages exceed %llu bytes (EF_PT_MAX_TENSOR_BYTES)",
                     pt->name, (unsigned long long)EF_PT_MAX_TENSOR_BYTES);
        return -1;
      }
      budget -= bytes;
    }
    if (ef_zip_read(&pt->zip, e, &s->data, &s->owned, &budget, pt->name, err, errlen)) return -1;
  }
  return 0;
}

/* ---- legacy layout ------------------------------------------------------------------------- */

static ef_pt_storage *find_storage(ef_pt *pt, const char *key) {
  for (size_t i = 0; i < pt->n_storages; i++)
    if (!strcmp(pt->storages[i]->key, key)) return pt->storages[i];
  return NULL;
}

static int open_legacy(ef_pt *pt, char *err, size_t errlen) {
  size_t pos = 0, used;
  ef_pt_val *v;
  static const char *const what[] = {"magic number", "protocol version", "system info"};
  for (int k = 0; k < 3; k++) {
    if (ef_pickle_load(pt, pt->base + pos, pt->size - pos, what[k], 1, &v, &used, err, errlen))
      return -1;
    pos += used;
    size_t n = 0;
    const char *b = ef_pt_bytes(v, &n);
    int ok = k == 0 ? ef_pt_kind_of(v) == EF_PT_BIGINT && n == PT_LEGACY_MAGIC_BYTES &&
                          !memcmp(b, PT_LEGACY_MAGIC, n)
             : k == 1 ? ef_pt_kind_of(v) == EF_PT_INT && ef_pt_int(v) == PT_LEGACY_PROTOCOL
                      : ef_pt_kind_of(v) == EF_PT_DICT;
    if (!ok) {
      ef_pt_seterr(err, errlen, "%s: not a PyTorch checkpoint (legacy %s is wrong)", pt->name,
                   what[k]);
      return -1;
    }
    if (k == 2) {
      const ef_pt_val *le = ef_pt_get(v, "little_endian");
      if (le && ef_pt_kind_of(le) == EF_PT_BOOL && !ef_pt_int(le)) {
        ef_pt_seterr(err, errlen, "%s: big-endian checkpoints are not supported", pt->name);
        return -1;
      }
    }
  }
  if (ef_pickle_load(pt, pt->base + pos, pt->size - pos, "pickle", 1, &pt->root, &used, err,
                     errlen))
    return -1;
  pos += used;
  ef_pt_val *keys;
  if (ef_pickle_load(pt, pt->base + pos, pt->size - pos, "storage key list", 1, &keys, &used, err,
                     errlen))
    return -1;
  pos += used;
  if (ef_pt_kind_of(keys) != EF_PT_LIST) {
    ef_pt_seterr(err, errlen, "%s: legacy storage key list is a %s", pt->name,
                 ef_pt_kind_name(ef_pt_kind_of(keys)));
    return -1;
  }
  uint64_t budget = EF_PT_MAX_TENSOR_BYTES;
  for (size_t i = 0; i < keys->n; i++) {
    const ef_pt_val *kv = keys->items[i];
    ef_pt_storage *s = kv->kind == EF_PT_STR ? find_storage(pt, kv->s) : NULL;
    if (!s || s->root_key || s->data) {
      ef_pt_seterr(err, errlen,
                   "%s: legacy storage list entry %zu (%s) names no storage of the "
                   "pickle, a view, or one already read",
                   pt->name, i, kv->kind == EF_PT_STR ? kv->s : "not a string");
      return -1;
    }
    size_t es = ef_pt_dtype_size(s->dtype);
    if (pt->size - pos < 8) {
      ef_pt_seterr(err, errlen, "%s: truncated: storage '%s' header at offset %zu", pt->name,
                   s->key, pos);
      return -1;
    }
    uint64_t numel = 0;
    for (int b = 7; b >= 0; b--) numel = numel << 8 | pt->base[pos + (size_t)b];
    pos += 8;
    if (numel != (uint64_t)s->numel) {
      ef_pt_seterr(err, errlen,
                   "%s: storage '%s' at offset %zu holds %llu elements, the pickle "
                   "says %lld",
                   pt->name, s->key, pos - 8, (unsigned long long)numel, (long long)s->numel);
      return -1;
    }
    uint64_t bytes = numel * es; /* numel <= EF_PT_MAX_TENSOR_BYTES / es (pickle.c) */
    if (bytes > budget || bytes > pt->size - pos) {
      ef_pt_seterr(err, errlen, "%s: %s: storage '%s' (%llu bytes at offset %zu) %s", pt->name,
                   bytes > budget ? "limit" : "truncated", s->key, (unsigned long long)bytes, pos,
                   bytes > budget ? "exceeds EF_PT_MAX_TENSOR_BYTES" : "ends past the file");
      return -1;
    }
    budget -= bytes;
    s->data = pt->base + pos;
    pos += bytes;
  }
  for (size_t i = 0; i < pt->n_storages; i++) {
    ef_pt_storage *s = pt->storages[i];
    if (s->root_key) {
      ef_pt_storage *r = find_storage(pt, s->root_key);
      if (!r || !r->data) {
        ef_pt_seterr(err, errlen, "%s: storage view '%s' of '%s' has no data", pt->name, s->key,
                     s->root_key);
        return -1;
      }
      s->data = r->data + (uint64_t)s->view_offset * ef_pt_dtype_size(s->dtype);
    } else if (!s->data) {
      ef_pt_seterr(err, errlen, "%s: storage '%s' used by the pickle is not in the file", pt->name,
                   s->key);
      return -1;
    }
  }
  return 0;
}

/* ---- opening ------------------------------------------------------------------------------- */

static int open_common(ef_pt *pt, char *err, size_t errlen) {
  if (pt->size == 0) {
    ef_pt_seterr(err, errlen, "%s: empty file", pt->name);
    return -1;
  }
  if (pt->size >= 4 && (!memcmp(pt->base, "PK\x03\x04", 4) || !memcmp(pt->base, "PK\x05\x06", 4)))
    return open_zip(pt, err, errlen);
  if (pt->base[0] == 0x80) return open_legacy(pt, err, errlen);
  if (pt->size >= 262 && !memcmp(pt->base + 257, "ustar", 5)) {
    ef_pt_seterr(err, errlen, "%s: a tar checkpoint (torch < 0.4) is not supported", pt->name);
    return -1;
  }
  ef_pt_seterr(err, errlen,
               "%s: not a PyTorch checkpoint (neither a zip archive nor a legacy "
               "pickle; first byte 0x%02x)",
               pt->name, pt->base[0]);
  return -1;
}

static ef_pt *pt_new(const char *name) {
  ef_pt *pt = calloc(1, sizeof *pt);
  if (pt) snprintf(pt->name, sizeof pt->name, "%s", name ? name : "checkpoint");
  return pt;
}

int ef_pt_open_memory(const uint8_t *data, size_t size, const char *name, ef_pt **out, char *err,
                      size_t errlen) {
  *out = NULL;
  ef_pt *pt = pt_new(name);
  if (!pt) {
    ef_pt_seterr(err, errlen, "%s: out of memory", name ? name : "checkpoint");
    return -1;
  }
  pt->base = data;
  pt->size = data ? size : 0;
  if (open_common(pt, err, errlen)) {
    pt_free(pt);
    return -1;
  }
  *out = pt;
  return 0;
}

int ef_pt_open(const char *path, ef_pt **out, char *err, size_t errlen) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ef_pt_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ef_pt_seterr(err, errlen, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  if ((uint64_t)st.st_size > EF_PT_MAX_FILE_BYTES) {
    ef_pt_seterr(err, errlen, "%s: %lld bytes, more than the limit %llu (EF_PT_MAX_FILE_BYTES)",
                 path, (long long)st.st_size, (unsigned long long)EF_PT_MAX_FILE_BYTES);
    close(fd);
    return -1;
  }
  ef_pt *pt = pt_new(path);
  if (!pt) {
    close(fd);
    ef_pt_seterr(err, errlen, "%s: out of memory", path);
    return -1;
  }
  pt->size = (uint64_t)st.st_size;
  if (pt->size) {
    void *m = mmap(NULL, pt->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ef_pt_seterr(err, errlen, "%s: cannot map: %s", path, strerror(errno));
      close(fd);
      pt_free(pt);
      return -1;
    }
    pt->base = m;
    pt->mapped = 1;
  }
  close(fd);
  if (open_common(pt, err, errlen)) {
    pt_free(pt);
    return -1;
  }
  *out = pt;
  return 0;
}

const ef_pt_val *ef_pt_root(const ef_pt *pt) { return pt ? pt->root : NULL; }
const char *ef_pt_format(const ef_pt *pt) { return pt && pt->is_zip ? "zip" : "legacy"; }

/* ---- values -------------------------------------------------------------------------------- */

ef_pt_kind ef_pt_kind_of(const ef_pt_val *v) { return v ? v->kind : EF_PT_NONE; }

const char *ef_pt_kind_name(ef_pt_kind k) {
  static const char *const names[] = {"None", "bool",   "int",     "big int", "float",
                                      "str",  "bytes",  "list",    "tuple",   "dict",
                                      "set",  "tensor", "storage", "global",  "object"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

int64_t ef_pt_int(const ef_pt_val *v) {
  return v && (v->kind == EF_PT_INT || v->kind == EF_PT_BOOL) ? v->i : 0;
}

double ef_pt_float(const ef_pt_val *v) {
  if (!v) return 0;
  if (v->kind == EF_PT_FLOAT) return v->f;
  if (v->kind == EF_PT_INT || v->kind == EF_PT_BOOL) return (double)v->i;
  return 0;
}

const char *ef_pt_bytes(const ef_pt_val *v, size_t *len) {
  if (!v || (v->kind != EF_PT_STR && v->kind != EF_PT_BYTES && v->kind != EF_PT_BIGINT)) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = v->len;
  return v->s;
}

int ef_pt_str_eq(const ef_pt_val *v, const char *s) {
  return v && v->kind == EF_PT_STR && strlen(s) == v->len && !memcmp(v->s, s, v->len);
}

size_t ef_pt_len(const ef_pt_val *v) {
  if (!v) return 0;
  if (v->kind == EF_PT_DICT) return v->n / 2;
  if (v->kind == EF_PT_OBJECT) return v->attrs ? v->attrs->n / 2 : 0;
  if (v->kind == EF_PT_LIST || v->kind == EF_PT_TUPLE || v->kind == EF_PT_SET) return v->n;
  return 0;
}

const ef_pt_val *ef_pt_item(const ef_pt_val *v, size_t i) {
  if (!v || (v->kind != EF_PT_LIST && v->kind != EF_PT_TUPLE && v->kind != EF_PT_SET) || i >= v->n)
    return NULL;
  return v->items[i];
}

int ef_pt_entry(const ef_pt_val *v, size_t i, const ef_pt_val **key, const ef_pt_val **value) {
  if (v && v->kind == EF_PT_OBJECT) v = v->attrs;
  if (!v || v->kind != EF_PT_DICT || i >= v->n / 2) return -1;
  *key = v->items[2 * i];
  *value = v->items[2 * i + 1];
  return 0;
}

const ef_pt_val *ef_pt_get(const ef_pt_val *v, const char *key) {
  if (v && v->kind == EF_PT_OBJECT) v = v->attrs;
  if (!v || v->kind != EF_PT_DICT) return NULL;
  for (size_t i = v->n / 2; i-- > 0;)
    if (ef_pt_str_eq(v->items[2 * i], key)) return v->items[2 * i + 1];
  return NULL;
}

const char *ef_pt_class(const ef_pt_val *v) {
  return v && (v->kind == EF_PT_OBJECT || v->kind == EF_PT_GLOBAL) ? v->s : NULL;
}

/* ---- tensors ------------------------------------------------------------------------------- */

const char *ef_pt_dtype_name(ef_pt_dtype d) {
  static const char *const names[EF_PT_DT_COUNT] = {"float32", "float16", "bfloat16", "float64",
                                                    "int64",   "int32",   "int16",    "int8",
                                                    "uint8",   "bool"};
  return (unsigned)d < EF_PT_DT_COUNT ? names[d] : "?";
}

int ef_pt_tensor(const ef_pt_val *v, ef_pt_tensor_info *info) {
  if (!v || v->kind != EF_PT_TENSOR) return -1;
  memset(info, 0, sizeof *info);
  info->dtype = v->storage->dtype;
  info->ndim = v->ndim;
  info->offset = v->offset;
  info->numel = 1;
  for (int d = 0; d < v->ndim; d++) {
    info->shape[d] = v->shape[d];
    info->stride[d] = v->stride[d];
    info->numel *= v->shape[d];
  }
  info->storage = v->storage->key;
  return 0;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | man << 13; /* inf / nan */
  } else if (exp) {
    bits = sign | (exp + 112) << 23 | man << 13;
  } else if (man) { /* subnormal: normalise */
    int e = -1;
    do {
      e++;
      man <<= 1;
    } while (!(man & 0x400));
    bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
  } else {
    bits = sign;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static float load_elem(const uint8_t *p, ef_pt_dtype dt) {
  float f;
  uint32_t u32;
  switch (dt) {
  case EF_PT_DT_FLOAT32:
    memcpy(&f, p, 4);
    return f;
  case EF_PT_DT_FLOAT16:
    return half_to_float((uint16_t)(p[0] | p[1] << 8));
  case EF_PT_DT_BFLOAT16:
    u32 = (uint32_t)(p[0] | p[1] << 8) << 16;
    memcpy(&f, &u32, 4);
    return f;
  default: {
    double d;
    memcpy(&d, p, 8);
    return (float)d;
  }
  }
}

int ef_pt_tensor_read_f32(ef_pt *pt, const ef_pt_val *v, float *out, int64_t n, const char *what,
                          char *err, size_t errlen) {
  const char *name = pt ? pt->name : "checkpoint";
  if (!v || v->kind != EF_PT_TENSOR) {
    ef_pt_seterr(err, errlen, "%s: %s is a %s, not a tensor", name, what,
                 ef_pt_kind_name(ef_pt_kind_of(v)));
    return -1;
  }
  ef_pt_tensor_info ti;
  ef_pt_tensor(v, &ti);
  if (ti.dtype != EF_PT_DT_FLOAT32 && ti.dtype != EF_PT_DT_FLOAT16 &&
      ti.dtype != EF_PT_DT_BFLOAT16 && ti.dtype != EF_PT_DT_FLOAT64) {
    ef_pt_seterr(err, errlen, "%s: %s is a %s tensor, not a floating-point one", name, what,
                 ef_pt_dtype_name(ti.dtype));
    return -1;
  }
  if (ti.numel != n) {
    ef_pt_seterr(err, errlen, "%s: %s has %lld elements, %lld expected", name, what,
                 (long long)ti.numel, (long long)n);
    return -1;
  }
  if (!v->storage->data) {
    ef_pt_seterr(err, errlen, "%s: %s: storage '%s' has no data", name, what, v->storage->key);
    return -1;
  }
  const uint8_t *base = v->storage->data;
  size_t es = ef_pt_dtype_size(ti.dtype);
  int64_t idx[EF_PT_MAX_NDIM] = {0}, off = ti.offset; /* bounds checked by the unpickler */
  for (int64_t k = 0; k < n; k++) {
    out[k] = load_elem(base + (uint64_t)off * es, ti.dtype);
    for (int d = ti.ndim - 1; d >= 0; d--) { /* odometer over the shape */
      if (++idx[d] < ti.shape[d]) {
        off += ti.stride[d];
        break;
      }
      off -= (idx[d] - 1) * ti.stride[d];
      idx[d] = 0;
    }
  }
  return 0;
}
