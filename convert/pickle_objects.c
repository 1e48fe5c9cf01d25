/* convert/pickle_objects.c: what the safe unpickler (pickle.c) makes of persistent ids and of
 * calls to globals: storages, tensor views checked against their storage, OrderedDict,
 * argparse.Namespace and the other recognised names of docs/import.md, and an inert
 * placeholder for every other global. It must never call, import or look up anything a
 * pickle names: a name is only compared with the strings below. */
#include <stdlib.h>
#include <string.h>

#include "convert/pickle_internal.h"

static const char *class_of(const ef_pt_val *v) {
  return v && (v->kind == EF_PT_GLOBAL || v->kind == EF_PT_OBJECT) ? v->s : "";
}

static const struct {
  const char *name;
  ef_pt_dtype dtype;
} STORAGE_TYPES[] = {
    {"torch.FloatStorage", EF_PT_DT_FLOAT32},     {"torch.HalfStorage", EF_PT_DT_FLOAT16},
    {"torch.BFloat16Storage", EF_PT_DT_BFLOAT16}, {"torch.DoubleStorage", EF_PT_DT_FLOAT64},
    {"torch.LongStorage", EF_PT_DT_INT64},        {"torch.IntStorage", EF_PT_DT_INT32},
    {"torch.ShortStorage", EF_PT_DT_INT16},       {"torch.CharStorage", EF_PT_DT_INT8},
    {"torch.ByteStorage", EF_PT_DT_UINT8},        {"torch.BoolStorage", EF_PT_DT_BOOL},
};

/* The storage registered under key, created on first use; same key, same dtype and size. */
static ef_pt_storage *storage_for(unpickler *u, const char *key, ef_pt_dtype dt, int64_t numel) {
  ef_pt *pt = u->pt;
  for (size_t i = 0; i < pt->n_storages; i++) {
    ef_pt_storage *s = pt->storages[i];
    if (!strcmp(s->key, key)) {
      if (s->dtype != dt || s->numel != numel) {
        pk_fail(u, "storage '%s' is referenced as %s[%lld] and as %s[%lld]", key,
                ef_pt_dtype_name(s->dtype), (long long)s->numel, ef_pt_dtype_name(dt),
                (long long)numel);
        return NULL;
      }
      return s;
    }
  }
  if (pt->n_storages >= EF_PT_MAX_STORAGES) {
    pk_fail(u, "more than %d storages (EF_PT_MAX_STORAGES)", EF_PT_MAX_STORAGES);
    return NULL;
  }
  if (pt->n_storages == pt->cap_storages) {
    size_t cap = pt->cap_storages ? 2 * pt->cap_storages : 64;
    ef_pt_storage **g = realloc(pt->storages, cap * sizeof *g);
    if (!g) {
      pk_fail(u, "out of memory");
      return NULL;
    }
    pt->storages = g;
    pt->cap_storages = cap;
  }
  ef_pt_storage *s = calloc(1, sizeof *s);
  if (!s || !(s->key = strdup(key))) {
    free(s);
    pk_fail(u, "out of memory");
    return NULL;
  }
  s->dtype = dt;
  s->numel = numel;
  pt->storages[pt->n_storages++] = s;
  return s;
}

/* BINPERSID: ('storage', StorageType, key, location, numel) in zip files;
 * ('storage', StorageType, root_key, location, numel, view_metadata) in legacy files. */
int pk_persistent_load(unpickler *u, ef_pt_val *pid) {
  if (!pid || pid->kind != EF_PT_TUPLE || pid->n < 5 || !ef_pt_str_eq(pid->items[0], "storage"))
    return pk_fail(u, "persistent id is not a ('storage', ...) tuple (%s)",
                   ef_pt_kind_name(ef_pt_kind_of(pid)));
  ef_pt_val **it = pid->items;
  const char *type = class_of(it[1]);
  int found = -1;
  for (size_t i = 0; i < sizeof STORAGE_TYPES / sizeof STORAGE_TYPES[0]; i++)
    if (!strcmp(type, STORAGE_TYPES[i].name)) found = (int)i;
  if (it[1]->kind != EF_PT_GLOBAL || found < 0)
    return pk_fail(u, "unsupported storage type %s", *type ? type : ef_pt_kind_name(it[1]->kind));
  if (it[2]->kind != EF_PT_STR || it[2]->len == 0 || it[2]->len > 64 ||
      strlen(it[2]->s) != it[2]->len || strchr(it[2]->s, '/'))
    return pk_fail(u, "storage key is not a short name");
  if (it[4]->kind != EF_PT_INT || it[4]->i < 0 ||
      (uint64_t)it[4]->i > EF_PT_MAX_TENSOR_BYTES / ef_pt_dtype_size(STORAGE_TYPES[found].dtype))
    return pk_fail(u, "storage '%s' has an invalid element count", it[2]->s);
  ef_pt_dtype dt = STORAGE_TYPES[found].dtype;
  ef_pt_storage *s;
  if (u->legacy && pid->n >= 6 && pid->items[5]->kind == EF_PT_TUPLE) {
    /* a view (view_key, offset, view_size) of root storage it[2] */
    ef_pt_val *vm = pid->items[5];
    if (vm->n != 3 || vm->items[0]->kind != EF_PT_STR || vm->items[1]->kind != EF_PT_INT ||
        vm->items[2]->kind != EF_PT_INT || vm->items[1]->i < 0 || vm->items[2]->i < 0 ||
        vm->items[1]->i > it[4]->i || vm->items[2]->i > it[4]->i - vm->items[1]->i ||
        vm->items[0]->len == 0 || vm->items[0]->len > 64 ||
        strlen(vm->items[0]->s) != vm->items[0]->len || strchr(vm->items[0]->s, '/'))
      return pk_fail(u, "storage view of '%s' is malformed or outside its storage", it[2]->s);
    if (!storage_for(u, it[2]->s, dt, it[4]->i)) return -1;
    s = storage_for(u, vm->items[0]->s, dt, vm->items[2]->i);
    if (!s) return -1;
    if (!s->root_key) {
      s->root_key = strdup(it[2]->s);
      if (!s->root_key) return pk_fail(u, "out of memory");
      s->view_offset = vm->items[1]->i;
    }
  } else {
    s = storage_for(u, it[2]->s, dt, it[4]->i);
    if (!s) return -1;
  }
  ef_pt_val *v = pk_val_new(u, EF_PT_STORAGE);
  if (!v) return -1;
  v->storage = s;
  return pk_push(u, v);
}

static int is_int_tuple(const ef_pt_val *v, int max) {
  if (!v || (v->kind != EF_PT_TUPLE && v->kind != EF_PT_LIST) || v->n > (size_t)max) return 0;
  for (size_t i = 0; i < v->n; i++)
    if (v->items[i]->kind != EF_PT_INT) return 0;
  return 1;
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): checked view. */
static ef_pt_val *rebuild_tensor(unpickler *u, ef_pt_val *args) {
  if (args->n < 4 || args->items[0]->kind != EF_PT_STORAGE || args->items[1]->kind != EF_PT_INT ||
      !is_int_tuple(args->items[2], EF_PT_MAX_NDIM) ||
      !is_int_tuple(args->items[3], EF_PT_MAX_NDIM) || args->items[2]->n != args->items[3]->n) {
    pk_fail(u,
            "tensor rebuild arguments are not (storage, offset, size, stride, ...) with at most "
            "%d dimensions",
            EF_PT_MAX_NDIM);
    return NULL;
  }
  ef_pt_storage *s = args->items[0]->storage;
  int64_t off = args->items[1]->i;
  ef_pt_val *size = args->items[2], *stride = args->items[3];
  if (off < 0 || off > s->numel) {
    pk_fail(u, "tensor offset %lld outside storage '%s' of %lld elements", (long long)off, s->key,
            (long long)s->numel);
    return NULL;
  }
  ef_pt_val *t = pk_val_new(u, EF_PT_TENSOR);
  if (!t) return NULL;
  t->storage = s;
  t->offset = off;
  t->ndim = (int)size->n;
  int64_t numel = 1, last = off; /* index of the last element */
  for (int d = 0; d < t->ndim; d++) {
    int64_t n = size->items[d]->i, st = stride->items[d]->i;
    if (n < 0 || st < 0 || n > (int64_t)1 << 40 || st > (int64_t)1 << 40) {
      pk_fail(u, "tensor on storage '%s' has size %lld / stride %lld in dimension %d", s->key,
              (long long)n, (long long)st, d);
      return NULL;
    }
    t->shape[d] = n;
    t->stride[d] = st;
    if (numel && n > ((int64_t)1 << 40) / numel) {
      pk_fail(u, "tensor on storage '%s' has more than 2^40 elements", s->key);
      return NULL;
    }
    numel *= n;
  }
  if (numel > 0) {
    int outside = 0;
    for (int d = 0; d < t->ndim && !outside; d++) {
      int64_t k = t->shape[d] - 1, st = t->stride[d];
      if (k > 0 && st > 0 && k > (s->numel - last) / st)
        outside = 1; /* no overflow */
      else
        last += k * st;
    }
    if (outside || last >= s->numel) {
      pk_fail(u,
              "tensor view (offset %lld, %d dims, %lld elements) does not fit in storage '%s' "
              "of %lld elements",
              (long long)off, t->ndim, (long long)numel, s->key, (long long)s->numel);
      return NULL;
    }
  }
  return t;
}

/* The bytes of a str whose characters are all below U+0100 (its UTF-8 decoded). */
static ef_pt_val *latin1_bytes(unpickler *u, const ef_pt_val *str) {
  ef_pt_val *v = pk_val_bytes(u, EF_PT_BYTES, str->s, str->len); /* at most as long */
  if (!v) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < str->len; i++) {
    uint8_t c = (uint8_t)str->s[i];
    if (c < 0x80) {
      v->s[k++] = (char)c;
    } else if ((c == 0xc2 || c == 0xc3) && i + 1 < str->len &&
               ((uint8_t)str->s[i + 1] & 0xc0) == 0x80) {
      v->s[k++] = (char)(((c & 0x1f) << 6) | ((uint8_t)str->s[++i] & 0x3f));
    } else {
      pk_fail(u, "_codecs.encode(..., 'latin1') of a character above U+00FF");
      return NULL;
    }
  }
  v->s[k] = 0;
  v->len = k;
  return v;
}

/* The result of calling (REDUCE / NEWOBJ / OBJ / INST) class or function `cls` on `args`: data
 * for the recognised names, an inert placeholder for everything else. Nothing is executed. */
ef_pt_val *pk_call_global(unpickler *u, ef_pt_val *cls, ef_pt_val *args) {
  const char *name = cls->s;
  if (!strcmp(name, "collections.OrderedDict") || !strcmp(name, "builtins.dict")) {
    ef_pt_val *d = pk_val_new(u, EF_PT_DICT);
    if (!d) return NULL;
    if (args->n >= 1 && args->items[0]->kind == EF_PT_LIST) { /* OrderedDict([(k, v), ...]) */
      ef_pt_val *l = args->items[0];
      for (size_t i = 0; i < l->n; i++) {
        ef_pt_val *kv = l->items[i];
        if (kv->kind != EF_PT_TUPLE || kv->n != 2) {
          pk_fail(u, "%s argument item %zu is not a (key, value) pair", name, i);
          return NULL;
        }
        if (pk_dict_set(u, d, kv->items[0], kv->items[1])) return NULL;
      }
    }
    return d;
  }
  if (!strcmp(name, "builtins.set") || !strcmp(name, "builtins.frozenset") ||
      !strcmp(name, "builtins.list") || !strcmp(name, "torch.Size")) {
    ef_pt_kind k = !strcmp(name, "builtins.list") ? EF_PT_LIST
                   : !strcmp(name, "torch.Size")  ? EF_PT_TUPLE
                                                  : EF_PT_SET;
    ef_pt_val *c = pk_val_new(u, k);
    if (!c) return NULL;
    if (args->n >= 1 && (args->items[0]->kind == EF_PT_LIST || args->items[0]->kind == EF_PT_TUPLE))
      for (size_t i = 0; i < args->items[0]->n; i++)
        if (pk_push_item(u, c, args->items[0]->items[i])) return NULL;
    return c;
  }
  if (!strcmp(name, "torch._utils._rebuild_tensor_v2") ||
      !strcmp(name, "torch._utils._rebuild_tensor"))
    return rebuild_tensor(u, args);
  if ((!strcmp(name, "torch._utils._rebuild_parameter") ||
       !strcmp(name, "torch._utils._rebuild_parameter_with_state")) &&
      args->n >= 1 && args->items[0]->kind == EF_PT_TENSOR)
    return args->items[0];
  /* protocol 2 pickles bytes as _codecs.encode(text, 'latin1'): code points < 256 */
  if (!strcmp(name, "_codecs.encode") && args->n == 2 && args->items[0]->kind == EF_PT_STR &&
      (ef_pt_str_eq(args->items[1], "latin1") || ef_pt_str_eq(args->items[1], "latin-1")))
    return latin1_bytes(u, args->items[0]);
  /* copyreg._reconstructor(cls, base, state): an instance of cls */
  if (!strcmp(name, "copyreg._reconstructor") && args->n >= 1 &&
      args->items[0]->kind == EF_PT_GLOBAL)
    cls = args->items[0];
  return pk_val_bytes(u, EF_PT_OBJECT, cls->s, cls->len);
}
