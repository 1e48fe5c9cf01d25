/* convert/pickle.c: a safe interpreter for the pickles torch.save writes. It is a stack machine
 * over the opcodes of protocols 0-5 that builds inert values only: it must never call, import
 * or look up anything a pickle names. Globals are kept as names; a handful of them
 * (OrderedDict, argparse.Namespace, torch's tensor rebuilders, set, torch.Size) are
 * recognised and rebuilt as data, every other one becomes a placeholder object. Every size,
 * count, depth and offset is checked against a named limit (pt_reader.h) before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/pt_internal.h"

#define PK_LINE_MAX 4096   /* text-opcode arguments (GLOBAL names, INT, FLOAT ...) */
#define PK_ERR_BYTES 384

/* protocol 0-5 opcodes (Python's pickletools names) */
enum {
  OP_MARK = '(', OP_STOP = '.', OP_POP = '0', OP_POP_MARK = '1', OP_DUP = '2', OP_FLOAT = 'F',
  OP_INT = 'I', OP_BININT = 'J', OP_BININT1 = 'K', OP_LONG = 'L', OP_BININT2 = 'M', OP_NONE = 'N',
  OP_PERSID = 'P', OP_BINPERSID = 'Q', OP_REDUCE = 'R', OP_STRING = 'S', OP_BINSTRING = 'T',
  OP_SHORT_BINSTRING = 'U', OP_UNICODE = 'V', OP_BINUNICODE = 'X', OP_APPEND = 'a',
  OP_BUILD = 'b', OP_GLOBAL = 'c', OP_DICT = 'd', OP_EMPTY_DICT = '}', OP_APPENDS = 'e',
  OP_GET = 'g', OP_BINGET = 'h', OP_INST = 'i', OP_LONG_BINGET = 'j', OP_LIST = 'l',
  OP_EMPTY_LIST = ']', OP_OBJ = 'o', OP_PUT = 'p', OP_BINPUT = 'q', OP_LONG_BINPUT = 'r',
  OP_SETITEM = 's', OP_TUPLE = 't', OP_EMPTY_TUPLE = ')', OP_SETITEMS = 'u', OP_BINFLOAT = 'G',
  OP_PROTO = 0x80, OP_NEWOBJ = 0x81, OP_EXT1 = 0x82, OP_EXT2 = 0x83, OP_EXT4 = 0x84,
  OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87, OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89,
  OP_LONG1 = 0x8a, OP_LONG4 = 0x8b, OP_BINBYTES = 'B', OP_SHORT_BINBYTES = 'C',
  OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e, OP_EMPTY_SET = 0x8f,
  OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91, OP_NEWOBJ_EX = 0x92, OP_STACK_GLOBAL = 0x93,
  OP_MEMOIZE = 0x94, OP_FRAME = 0x95, OP_BYTEARRAY8 = 0x96, OP_NEXT_BUFFER = 0x97,
  OP_READONLY_BUFFER = 0x98,
};

typedef struct {
  ef_pt *pt;
  const uint8_t *p;
  size_t n, pos, op_pos;
  const char *where;
  int legacy;
  ef_pt_val **stack;
  size_t sp, scap;
  size_t *marks;
  size_t nmarks, mcap;
  ef_pt_val **memo;
  size_t nmemo; /* slots allocated (highest index + 1) */
  size_t memo_next; /* MEMOIZE's next index */
  char *err;
  size_t errlen;
} unpickler;

void ef_pt_seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  for (char *c = err; *c; c++) /* one line: names from the file may hold control characters */
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
}

__attribute__((format(printf, 2, 3))) static int fail(unpickler *u, const char *fmt, ...) {
  char msg[PK_ERR_BYTES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ef_pt_seterr(u->err, u->errlen, "%s: %s offset %zu: %s", u->pt->name, u->where, u->op_pos, msg);
  return -1;
}

size_t ef_pt_dtype_size(ef_pt_dtype d) {
  static const size_t sz[EF_PT_DT_COUNT] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
  return (unsigned)d < EF_PT_DT_COUNT ? sz[d] : 0;
}

/* ---- values ------------------------------------------------------------------------------ */

static ef_pt_val *val_new(unpickler *u, ef_pt_kind kind) {
  ef_pt *pt = u->pt;
  if (pt->n_values >= EF_PT_MAX_VALUES) {
    fail(u, "more than %d values (EF_PT_MAX_VALUES)", EF_PT_MAX_VALUES);
    return NULL;
  }
  ef_pt_val *v = calloc(1, sizeof *v);
  if (!v) {
    fail(u, "out of memory");
    return NULL;
  }
  v->kind = kind;
  v->next_alloc = pt->all;
  pt->all = v;
  pt->n_values++;
  return v;
}

static int charge(unpickler *u, uint64_t bytes) {
  if (bytes > EF_PT_MAX_VALUE_BYTES - u->pt->value_bytes)
    return fail(u, "values take more than %llu bytes (EF_PT_MAX_VALUE_BYTES)",
                (unsigned long long)EF_PT_MAX_VALUE_BYTES);
  u->pt->value_bytes += bytes;
  return 0;
}

/* A STR / BYTES / BIGINT / class-name value over a copy of len bytes (NUL-terminated). */
static ef_pt_val *val_bytes(unpickler *u, ef_pt_kind kind, const void *src, size_t len) {
  if (len > EF_PT_MAX_STRING) {
    fail(u, "a string of %zu bytes exceeds the limit of %llu (EF_PT_MAX_STRING)", len,
         (unsigned long long)EF_PT_MAX_STRING);
    return NULL;
  }
  if (charge(u, len + 1)) return NULL;
  ef_pt_val *v = val_new(u, kind);
  if (!v) return NULL;
  v->s = malloc(len + 1);
  if (!v->s) {
    fail(u, "out of memory for a string of %zu bytes", len);
    return NULL;
  }
  if (len) memcpy(v->s, src, len);
  v->s[len] = 0;
  v->len = len;
  return v;
}

static int push_item(unpickler *u, ef_pt_val *c, ef_pt_val *item) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 4;
    if (charge(u, (cap - c->cap) * sizeof *c->items)) return -1;
    ef_pt_val **g = realloc(c->items, cap * sizeof *g);
    if (!g) return fail(u, "out of memory");
    c->items = g;
    c->cap = cap;
  }
  c->items[c->n++] = item;
  return 0;
}

/* ---- the machine ------------------------------------------------------------------------- */

static int push(unpickler *u, ef_pt_val *v) {
  if (!v) return -1;
  if (u->sp == u->scap) {
    if (u->scap >= EF_PT_MAX_STACK)
      return fail(u, "pickle stack deeper than %d (EF_PT_MAX_STACK)", EF_PT_MAX_STACK);
    size_t cap = u->scap ? 2 * u->scap : 64;
    ef_pt_val **g = realloc(u->stack, cap * sizeof *g);
    if (!g) return fail(u, "out of memory");
    u->stack = g;
    u->scap = cap;
  }
  u->stack[u->sp++] = v;
  return 0;
}

static size_t floor_sp(const unpickler *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

static ef_pt_val *pop(unpickler *u) {
  if (u->sp <= floor_sp(u)) {
    fail(u, "pop from an empty stack (or past a MARK)");
    return NULL;
  }
  return u->stack[--u->sp];
}

static ef_pt_val *top(unpickler *u) {
  if (u->sp <= floor_sp(u)) {
    fail(u, "the stack is empty (or ends at a MARK)");
    return NULL;
  }
  return u->stack[u->sp - 1];
}

/* Items above the last MARK: [*first, sp); the mark is removed. */
static int pop_mark(unpickler *u, size_t *first) {
  if (!u->nmarks) return fail(u, "no MARK on the stack");
  *first = u->marks[--u->nmarks];
  return 0;
}

static int need(unpickler *u, size_t k) {
  if (k > u->n - u->pos)
    return fail(u, "truncated: %zu bytes needed, %zu left", k, u->n - u->pos);
  return 0;
}

static uint64_t le(const uint8_t *p, int k) {
  uint64_t x = 0;
  for (int i = k - 1; i >= 0; i--) x = x << 8 | p[i];
  return x;
}

/* A text argument up to '\n' (not included), NUL-terminated into buf. */
static int read_line(unpickler *u, char *buf, size_t cap) {
  size_t start = u->pos;
  while (u->pos < u->n && u->p[u->pos] != '\n') {
    if (u->pos - start + 1 >= cap) return fail(u, "text argument longer than %zu bytes", cap - 1);
    u->pos++;
  }
  if (u->pos >= u->n) return fail(u, "truncated: text argument without its newline");
  memcpy(buf, u->p + start, u->pos - start);
  buf[u->pos - start] = 0;
  u->pos++;
  return 0;
}

static ef_pt_val *make_int(unpickler *u, int64_t x) {
  ef_pt_val *v = val_new(u, EF_PT_INT);
  if (v) v->i = x;
  return v;
}

/* LONG1/LONG4: little-endian two's complement of n bytes. */
static ef_pt_val *make_long(unpickler *u, const uint8_t *b, size_t n) {
  if (n <= 8) {
    uint64_t x = n ? le(b, (int)n) : 0;
    if (n && n < 8 && (b[n - 1] & 0x80)) x |= ~(uint64_t)0 << (8 * n);
    return make_int(u, (int64_t)x);
  }
  return val_bytes(u, EF_PT_BIGINT, b, n);
}

static int memo_put(unpickler *u, uint64_t idx) {
  ef_pt_val *v = top(u);
  if (!v) return -1;
  if (idx >= EF_PT_MAX_MEMO)
    return fail(u, "memo index %llu beyond the limit %d (EF_PT_MAX_MEMO)", (unsigned long long)idx,
                EF_PT_MAX_MEMO);
  if (idx >= u->nmemo) {
    size_t cap = u->nmemo ? u->nmemo : 64;
    while (cap <= idx) cap *= 2;
    if (cap > EF_PT_MAX_MEMO) cap = EF_PT_MAX_MEMO;
    if (charge(u, (cap - u->nmemo) * sizeof *u->memo)) return -1;
    ef_pt_val **g = realloc(u->memo, cap * sizeof *g);
    if (!g) return fail(u, "out of memory");
    memset(g + u->nmemo, 0, (cap - u->nmemo) * sizeof *g);
    u->memo = g;
    u->nmemo = cap;
  }
  u->memo[idx] = v;
  return 0;
}

static int memo_get(unpickler *u, uint64_t idx) {
  if (idx >= u->nmemo || !u->memo[idx])
    return fail(u, "memo index %llu was never stored", (unsigned long long)idx);
  return push(u, u->memo[idx]);
}

/* A container value from stack items [first, sp) (which are removed). */
static ef_pt_val *collect(unpickler *u, ef_pt_kind kind, size_t first) {
  ef_pt_val *c = val_new(u, kind);
  if (!c) return NULL;
  for (size_t i = first; i < u->sp; i++)
    if (push_item(u, c, u->stack[i])) return NULL;
  u->sp = first;
  return c;
}

static int dict_set(unpickler *u, ef_pt_val *d, ef_pt_val *k, ef_pt_val *v) {
  if (push_item(u, d, k)) return -1;
  return push_item(u, d, v);
}

static const char *class_of(const ef_pt_val *v) {
  return v && (v->kind == EF_PT_GLOBAL || v->kind == EF_PT_OBJECT) ? v->s : "";
}

static const struct {
  const char *name;
  ef_pt_dtype dtype;
} STORAGE_TYPES[] = {
    {"torch.FloatStorage", EF_PT_DT_FLOAT32},   {"torch.HalfStorage", EF_PT_DT_FLOAT16},
    {"torch.BFloat16Storage", EF_PT_DT_BFLOAT16}, {"torch.DoubleStorage", EF_PT_DT_FLOAT64},
    {"torch.LongStorage", EF_PT_DT_INT64},      {"torch.IntStorage", EF_PT_DT_INT32},
    {"torch.ShortStorage", EF_PT_DT_INT16},     {"torch.CharStorage", EF_PT_DT_INT8},
    {"torch.ByteStorage", EF_PT_DT_UINT8},      {"torch.BoolStorage", EF_PT_DT_BOOL},
};

/* The storage registered under key, created on first use; same key, same dtype and size. */
static ef_pt_storage *storage_for(unpickler *u, const char *key, ef_pt_dtype dt, int64_t numel) {
  ef_pt *pt = u->pt;
  for (size_t i = 0; i < pt->n_storages; i++) {
    ef_pt_storage *s = pt->storages[i];
    if (!strcmp(s->key, key)) {
      if (s->dtype != dt || s->numel != numel) {
        fail(u, "storage '%s' is referenced as %s[%lld] and as %s[%lld]", key,
             ef_pt_dtype_name(s->dtype), (long long)s->numel, ef_pt_dtype_name(dt),
             (long long)numel);
        return NULL;
      }
      return s;
    }
  }
  if (pt->n_storages >= EF_PT_MAX_STORAGES) {
    fail(u, "more than %d storages (EF_PT_MAX_STORAGES)", EF_PT_MAX_STORAGES);
    return NULL;
  }
  if (pt->n_storages == pt->cap_storages) {
    size_t cap = pt->cap_storages ? 2 * pt->cap_storages : 64;
    ef_pt_storage **g = realloc(pt->storages, cap * sizeof *g);
    if (!g) {
      fail(u, "out of memory");
      return NULL;
    }
    pt->storages = g;
    pt->cap_storages = cap;
  }
  ef_pt_storage *s = calloc(1, sizeof *s);
  if (!s || !(s->key = strdup(key))) {
    free(s);
    fail(u, "out of memory");
    return NULL;
  }
  s->dtype = dt;
  s->numel = numel;
  pt->storages[pt->n_storages++] = s;
  return s;
}

/* BINPERSID: ('storage', StorageType, key, location, numel) in zip files;
 * ('storage', StorageType, root_key, location, numel, view_metadata) in legacy files. */
static int persistent_load(unpickler *u, ef_pt_val *pid) {
  if (!pid || pid->kind != EF_PT_TUPLE || pid->n < 5 || !ef_pt_str_eq(pid->items[0], "storage"))
    return fail(u, "persistent id is not a ('storage', ...) tuple (%s)", ef_pt_kind_name(ef_pt_kind_of(pid)));
  ef_pt_val **it = pid->items;
  const char *type = class_of(it[1]);
  int found = -1;
  for (size_t i = 0; i < sizeof STORAGE_TYPES / sizeof STORAGE_TYPES[0]; i++)
    if (!strcmp(type, STORAGE_TYPES[i].name)) found = (int)i;
  if (it[1]->kind != EF_PT_GLOBAL || found < 0)
    return fail(u, "unsupported storage type %s", *type ? type : ef_pt_kind_name(it[1]->kind));
  if (it[2]->kind != EF_PT_STR || it[2]->len == 0 || it[2]->len > 64 ||
      strlen(it[2]->s) != it[2]->len || strchr(it[2]->s, '/'))
    return fail(u, "storage key is not a short name");
  if (it[4]->kind != EF_PT_INT || it[4]->i < 0 ||
      (uint64_t)it[4]->i > EF_PT_MAX_TENSOR_BYTES / ef_pt_dtype_size(STORAGE_TYPES[found].dtype))
    return fail(u, "storage '%s' has an invalid element count", it[2]->s);
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
      return fail(u, "storage view of '%s' is malformed or outside its storage", it[2]->s);
    if (!storage_for(u, it[2]->s, dt, it[4]->i)) return -1;
    s = storage_for(u, vm->items[0]->s, dt, vm->items[2]->i);
    if (!s) return -1;
    if (!s->root_key) {
      s->root_key = strdup(it[2]->s);
      if (!s->root_key) return fail(u, "out of memory");
      s->view_offset = vm->items[1]->i;
    }
  } else {
    s = storage_for(u, it[2]->s, dt, it[4]->i);
    if (!s) return -1;
  }
  ef_pt_val *v = val_new(u, EF_PT_STORAGE);
  if (!v) return -1;
  v->storage = s;
  return push(u, v);
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
      !is_int_tuple(args->items[2], EF_PT_MAX_NDIM) || !is_int_tuple(args->items[3], EF_PT_MAX_NDIM) ||
      args->items[2]->n != args->items[3]->n) {
    fail(u, "tensor rebuild arguments are not (storage, offset, size, stride, ...) with at most "
         "%d dimensions", EF_PT_MAX_NDIM);
    return NULL;
  }
  ef_pt_storage *s = args->items[0]->storage;
  int64_t off = args->items[1]->i;
  ef_pt_val *size = args->items[2], *stride = args->items[3];
  if (off < 0 || off > s->numel) {
    fail(u, "tensor offset %lld outside storage '%s' of %lld elements", (long long)off, s->key,
         (long long)s->numel);
    return NULL;
  }
  ef_pt_val *t = val_new(u, EF_PT_TENSOR);
  if (!t) return NULL;
  t->storage = s;
  t->offset = off;
  t->ndim = (int)size->n;
  int64_t numel = 1, last = off; /* index of the last element */
  for (int d = 0; d < t->ndim; d++) {
    int64_t n = size->items[d]->i, st = stride->items[d]->i;
    if (n < 0 || st < 0 || n > (int64_t)1 << 40 || st > (int64_t)1 << 40) {
      fail(u, "tensor on storage '%s' has size %lld / stride %lld in dimension %d", s->key,
           (long long)n, (long long)st, d);
      return NULL;
    }
    t->shape[d] = n;
    t->stride[d] = st;
    if (numel && n > ((int64_t)1 << 40) / numel) {
      fail(u, "tensor on storage '%s' has more than 2^40 elements", s->key);
      return NULL;
    }
    numel *= n;
  }
  if (numel > 0) {
    int outside = 0;
    for (int d = 0; d < t->ndim && !outside; d++) {
      int64_t k = t->shape[d] - 1, st = t->stride[d];
      if (k > 0 && st > 0 && k > (s->numel - last) / st) outside = 1; /* no overflow */
      else last += k * st;
    }
    if (outside || last >= s->numel) {
      fail(u, "tensor view (offset %lld, %d dims, %lld elements) does not fit in storage '%s' "
           "of %lld elements", (long long)off, t->ndim, (long long)numel, s->key,
           (long long)s->numel);
      return NULL;
    }
  }
  return t;
}

/* The bytes of a str whose characters are all below U+0100 (its UTF-8 decoded). */
static ef_pt_val *latin1_bytes(unpickler *u, const ef_pt_val *str) {
  ef_pt_val *v = val_bytes(u, EF_PT_BYTES, str->s, str->len); /* at most as long */
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
      fail(u, "_codecs.encode(..., 'latin1') of a character above U+00FF");
      return NULL;
    }
  }
  v->s[k] = 0;
  v->len = k;
  return v;
}

/* The result of calling (REDUCE / NEWOBJ / OBJ / INST) class or function `cls` on `args`: data
 * for the recognised names, an inert placeholder for everything else. Nothing is executed. */
static ef_pt_val *call_global(unpickler *u, ef_pt_val *cls, ef_pt_val *args) {
  const char *name = cls->s;
  if (!strcmp(name, "collections.OrderedDict") || !strcmp(name, "builtins.dict")) {
    ef_pt_val *d = val_new(u, EF_PT_DICT);
    if (!d) return NULL;
    if (args->n >= 1 && args->items[0]->kind == EF_PT_LIST) { /* OrderedDict([(k, v), ...]) */
      ef_pt_val *l = args->items[0];
      for (size_t i = 0; i < l->n; i++) {
        ef_pt_val *kv = l->items[i];
        if (kv->kind != EF_PT_TUPLE || kv->n != 2) {
          fail(u, "%s argument item %zu is not a (key, value) pair", name, i);
          return NULL;
        }
        if (dict_set(u, d, kv->items[0], kv->items[1])) return NULL;
      }
    }
    return d;
  }
  if (!strcmp(name, "builtins.set") || !strcmp(name, "builtins.frozenset") ||
      !strcmp(name, "builtins.list") || !strcmp(name, "torch.Size")) {
    ef_pt_kind k = !strcmp(name, "builtins.list") ? EF_PT_LIST
                   : !strcmp(name, "torch.Size")  ? EF_PT_TUPLE
                                                  : EF_PT_SET;
    ef_pt_val *c = val_new(u, k);
    if (!c) return NULL;
    if (args->n >= 1 && (args->items[0]->kind == EF_PT_LIST || args->items[0]->kind == EF_PT_TUPLE))
      for (size_t i = 0; i < args->items[0]->n; i++)
        if (push_item(u, c, args->items[0]->items[i])) return NULL;
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
  return val_bytes(u, EF_PT_OBJECT, cls->s, cls->len);
}

static int do_global(unpickler *u, const char *module, size_t mlen, const char *name, size_t nlen) {
  if (mlen == 0 || nlen == 0) return fail(u, "empty global name");
  /* Python 2 module names, as Python 3's unpickler maps them */
  if (mlen == 11 && !memcmp(module, "__builtin__", 11)) module = "builtins", mlen = 8;
  if (mlen == 8 && !memcmp(module, "copy_reg", 8)) module = "copyreg", mlen = 7;
  char buf[2 * PK_LINE_MAX + 2];
  if (mlen + nlen + 2 > sizeof buf) return fail(u, "global name too long");
  memcpy(buf, module, mlen);
  buf[mlen] = '.';
  memcpy(buf + mlen + 1, name, nlen);
  if (memchr(buf, 0, mlen + 1 + nlen)) return fail(u, "global name holds a NUL byte");
  return push(u, val_bytes(u, EF_PT_GLOBAL, buf, mlen + 1 + nlen));
}

/* REDUCE, NEWOBJ: callable and argument tuple already popped. */
static int do_call(unpickler *u, ef_pt_val *cls, ef_pt_val *args, const char *op) {
  if (!cls || !args) return -1;
  if (cls->kind != EF_PT_GLOBAL)
    return fail(u, "%s calls a %s, not a global", op, ef_pt_kind_name(cls->kind));
  if (args->kind != EF_PT_TUPLE)
    return fail(u, "%s of %s with a %s instead of an argument tuple", op, cls->s,
                ef_pt_kind_name(args->kind));
  return push(u, call_global(u, cls, args));
}

static int do_build(unpickler *u) {
  ef_pt_val *state = pop(u);
  ef_pt_val *obj = state ? top(u) : NULL;
  if (!obj) return -1;
  if (obj->kind == EF_PT_OBJECT) {
    if (state->kind == EF_PT_DICT) obj->attrs = state;
    else if (state->kind == EF_PT_TUPLE && state->n == 2) /* (dict or None, slots dict) */
      obj->attrs = state->items[0]->kind == EF_PT_DICT   ? state->items[0]
                   : state->items[1]->kind == EF_PT_DICT ? state->items[1]
                                                         : NULL;
  }
  /* dicts (OrderedDict._metadata), tensors, containers: the state is dropped */
  return 0;
}

static int do_setitems(unpickler *u, size_t first) {
  if ((u->sp - first) % 2) return fail(u, "SETITEMS with an odd number of items");
  if (first == 0 || first <= floor_sp(u)) return fail(u, "SETITEMS without a target");
  ef_pt_val *d = u->stack[first - 1];
  if (d->kind == EF_PT_DICT) {
    for (size_t i = first; i < u->sp; i += 2)
      if (dict_set(u, d, u->stack[i], u->stack[i + 1])) return -1;
  } else if (d->kind != EF_PT_OBJECT) { /* placeholders ignore their items */
    return fail(u, "SETITEM(S) on a %s", ef_pt_kind_name(d->kind));
  }
  u->sp = first;
  return 0;
}

static int do_appends(unpickler *u, size_t first, int set) {
  if (first == 0 || first <= floor_sp(u)) return fail(u, "%s without a target", set ? "ADDITEMS" : "APPEND(S)");
  ef_pt_val *l = u->stack[first - 1];
  if (l->kind == (set ? EF_PT_SET : EF_PT_LIST)) {
    for (size_t i = first; i < u->sp; i++)
      if (push_item(u, l, u->stack[i])) return -1;
  } else if (l->kind != EF_PT_OBJECT) {
    return fail(u, "%s on a %s", set ? "ADDITEMS" : "APPEND(S)", ef_pt_kind_name(l->kind));
  }
  u->sp = first;
  return 0;
}

static int str_op(unpickler *u, ef_pt_kind kind, int width) {
  if (need(u, (size_t)width)) return -1;
  uint64_t len = le(u->p + u->pos, width);
  u->pos += (size_t)width;
  if (need(u, len)) return -1; /* len <= bytes left <= SIZE_MAX */
  ef_pt_val *v = val_bytes(u, kind, u->p + u->pos, (size_t)len);
  u->pos += (size_t)len;
  return push(u, v);
}

static int run(unpickler *u, ef_pt_val **out) {
  char line[PK_LINE_MAX], line2[PK_LINE_MAX];
  for (;;) {
    u->op_pos = u->pos;
    if (need(u, 1)) return -1;
    int op = u->p[u->pos++];
    size_t first = 0;
    ef_pt_val *a, *b, *c;
    switch (op) {
    case OP_PROTO:
      if (need(u, 1)) return -1;
      if (u->p[u->pos] > 5) return fail(u, "pickle protocol %d is newer than 5", u->p[u->pos]);
      u->pos++;
      break;
    case OP_FRAME:
      if (need(u, 8)) return -1;
      u->pos += 8; /* frames only group opcodes */
      break;
    case OP_STOP:
      if (!u->sp) return fail(u, "STOP with an empty stack");
      *out = u->stack[u->sp - 1]; /* as Python: values left below it are dropped */
      return 0;
    case OP_MARK:
      if (u->nmarks >= EF_PT_MAX_DEPTH)
        return fail(u, "MARKs nested deeper than %d (EF_PT_MAX_DEPTH)", EF_PT_MAX_DEPTH);
      if (u->nmarks == u->mcap) {
        size_t cap = u->mcap ? 2 * u->mcap : 16;
        size_t *g = realloc(u->marks, cap * sizeof *g);
        if (!g) return fail(u, "out of memory");
        u->marks = g;
        u->mcap = cap;
      }
      u->marks[u->nmarks++] = u->sp;
      break;
    case OP_POP:
      if (u->sp > floor_sp(u)) {
        u->sp--;
      } else if (u->nmarks && u->marks[u->nmarks - 1] == u->sp) {
        u->nmarks--; /* POP of a MARK */
      } else {
        return fail(u, "POP from an empty stack");
      }
      break;
    case OP_POP_MARK:
      if (pop_mark(u, &first)) return -1;
      u->sp = first;
      break;
    case OP_DUP:
      if (!(a = top(u)) || push(u, a)) return -1;
      break;
    case OP_NONE:
      if (push(u, val_new(u, EF_PT_NONE))) return -1;
      break;
    case OP_NEWTRUE:
    case OP_NEWFALSE:
      if (!(a = val_new(u, EF_PT_BOOL))) return -1;
      a->i = op == OP_NEWTRUE;
      if (push(u, a)) return -1;
      break;
    case OP_BININT:
      if (need(u, 4)) return -1;
      if (push(u, make_int(u, (int32_t)(uint32_t)le(u->p + u->pos, 4)))) return -1;
      u->pos += 4;
      break;
    case OP_BININT1:
      if (need(u, 1)) return -1;
      if (push(u, make_int(u, u->p[u->pos++]))) return -1;
      break;
    case OP_BININT2:
      if (need(u, 2)) return -1;
      if (push(u, make_int(u, (int64_t)le(u->p + u->pos, 2)))) return -1;
      u->pos += 2;
      break;
    case OP_LONG1:
    case OP_LONG4: {
      int w = op == OP_LONG1 ? 1 : 4;
      if (need(u, (size_t)w)) return -1;
      uint64_t n = le(u->p + u->pos, w);
      u->pos += (size_t)w;
      if (op == OP_LONG4 && (n >> 31)) return fail(u, "LONG4 with a negative length");
      if (need(u, n)) return -1;
      if (push(u, make_long(u, u->p + u->pos, (size_t)n))) return -1;
      u->pos += (size_t)n;
      break;
    }
    case OP_INT:
    case OP_LONG: {
      if (read_line(u, line, sizeof line)) return -1;
      size_t l = strlen(line);
      if (op == OP_LONG && l && line[l - 1] == 'L') line[--l] = 0;
      if (op == OP_INT && (!strcmp(line, "00") || !strcmp(line, "01"))) {
        if (!(a = val_new(u, EF_PT_BOOL))) return -1;
        a->i = line[1] == '1';
        if (push(u, a)) return -1;
        break;
      }
      char *end;
      errno = 0;
      long long x = strtoll(line, &end, 10);
      if (!l || *end || errno) return fail(u, "%s argument '%.40s' is not a 64-bit integer",
                                          op == OP_INT ? "INT" : "LONG", line);
      if (push(u, make_int(u, x))) return -1;
      break;
    }
    case OP_FLOAT: {
      if (read_line(u, line, sizeof line)) return -1;
      char *end;
      double x = strtod(line, &end);
      if (!line[0] || *end) return fail(u, "FLOAT argument '%.40s' is not a number", line);
      if (!(a = val_new(u, EF_PT_FLOAT))) return -1;
      a->f = x;
      if (push(u, a)) return -1;
      break;
    }
    case OP_BINFLOAT: {
      if (need(u, 8)) return -1;
      uint64_t bits = 0;
      for (int i = 0; i < 8; i++) bits = bits << 8 | u->p[u->pos + (size_t)i]; /* big-endian */
      u->pos += 8;
      if (!(a = val_new(u, EF_PT_FLOAT))) return -1;
      memcpy(&a->f, &bits, sizeof a->f);
      if (push(u, a)) return -1;
      break;
    }
    case OP_BINUNICODE: if (str_op(u, EF_PT_STR, 4)) return -1; break;
    case OP_SHORT_BINUNICODE: if (str_op(u, EF_PT_STR, 1)) return -1; break;
    case OP_BINUNICODE8: if (str_op(u, EF_PT_STR, 8)) return -1; break;
    case OP_BINSTRING: if (str_op(u, EF_PT_STR, 4)) return -1; break;
    case OP_SHORT_BINSTRING: if (str_op(u, EF_PT_STR, 1)) return -1; break;
    case OP_BINBYTES: if (str_op(u, EF_PT_BYTES, 4)) return -1; break;
    case OP_SHORT_BINBYTES: if (str_op(u, EF_PT_BYTES, 1)) return -1; break;
    case OP_BINBYTES8: if (str_op(u, EF_PT_BYTES, 8)) return -1; break;
    case OP_BYTEARRAY8: if (str_op(u, EF_PT_BYTES, 8)) return -1; break;
    case OP_EMPTY_LIST: if (push(u, val_new(u, EF_PT_LIST))) return -1; break;
    case OP_EMPTY_TUPLE: if (push(u, val_new(u, EF_PT_TUPLE))) return -1; break;
    case OP_EMPTY_DICT: if (push(u, val_new(u, EF_PT_DICT))) return -1; break;
    case OP_EMPTY_SET: if (push(u, val_new(u, EF_PT_SET))) return -1; break;
    case OP_LIST:
    case OP_TUPLE:
    case OP_FROZENSET:
      if (pop_mark(u, &first)) return -1;
      if (push(u, collect(u, op == OP_LIST ? EF_PT_LIST : op == OP_TUPLE ? EF_PT_TUPLE : EF_PT_SET,
                          first)))
        return -1;
      break;
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3: {
      size_t k = (size_t)(op - OP_TUPLE1 + 1);
      if (u->sp < floor_sp(u) + k) return fail(u, "TUPLE%zu needs %zu values on the stack", k, k);
      if (push(u, collect(u, EF_PT_TUPLE, u->sp - k))) return -1;
      break;
    }
    case OP_DICT:
      if (pop_mark(u, &first)) return -1;
      if ((u->sp - first) % 2) return fail(u, "DICT with an odd number of items");
      if (push(u, collect(u, EF_PT_DICT, first))) return -1;
      break;
    case OP_APPEND:
      if (u->sp < floor_sp(u) + 2) return fail(u, "APPEND needs a list and a value");
      if (do_appends(u, u->sp - 1, 0)) return -1;
      break;
    case OP_APPENDS:
      if (pop_mark(u, &first) || do_appends(u, first, 0)) return -1;
      break;
    case OP_ADDITEMS:
      if (pop_mark(u, &first) || do_appends(u, first, 1)) return -1;
      break;
    case OP_SETITEM:
      if (u->sp < floor_sp(u) + 3) return fail(u, "SETITEM needs a dict, a key and a value");
      if (do_setitems(u, u->sp - 2)) return -1;
      break;
    case OP_SETITEMS:
      if (pop_mark(u, &first) || do_setitems(u, first)) return -1;
      break;
    case OP_GET:
    case OP_PUT: {
      if (read_line(u, line, sizeof line)) return -1;
      char *end;
      errno = 0;
      unsigned long long idx = strtoull(line, &end, 10);
      if (!line[0] || *end || errno || line[0] == '-')
        return fail(u, "memo index '%.40s' is not a number", line);
      if (op == OP_GET ? memo_get(u, idx) : memo_put(u, idx)) return -1;
      break;
    }
    case OP_BINGET:
    case OP_BINPUT:
      if (need(u, 1)) return -1;
      if (op == OP_BINGET ? memo_get(u, u->p[u->pos]) : memo_put(u, u->p[u->pos])) return -1;
      u->pos++;
      break;
    case OP_LONG_BINGET:
    case OP_LONG_BINPUT: {
      if (need(u, 4)) return -1;
      uint64_t idx = le(u->p + u->pos, 4);
      u->pos += 4;
      if (op == OP_LONG_BINGET ? memo_get(u, idx) : memo_put(u, idx)) return -1;
      break;
    }
    case OP_MEMOIZE:
      if (memo_put(u, u->memo_next)) return -1;
      u->memo_next++;
      break;
    case OP_GLOBAL:
      if (read_line(u, line, sizeof line) || read_line(u, line2, sizeof line2)) return -1;
      if (do_global(u, line, strlen(line), line2, strlen(line2))) return -1;
      break;
    case OP_STACK_GLOBAL:
      b = pop(u);
      a = b ? pop(u) : NULL;
      if (!a) return -1;
      if (a->kind != EF_PT_STR || b->kind != EF_PT_STR)
        return fail(u, "STACK_GLOBAL needs two strings");
      if (do_global(u, a->s, a->len, b->s, b->len)) return -1;
      break;
    case OP_REDUCE:
      b = pop(u);
      a = b ? pop(u) : NULL;
      if (do_call(u, a, b, "REDUCE")) return -1;
      break;
    case OP_NEWOBJ:
      b = pop(u);
      a = b ? pop(u) : NULL;
      if (do_call(u, a, b, "NEWOBJ")) return -1;
      break;
    case OP_NEWOBJ_EX:
      c = pop(u); /* kwargs */
      b = c ? pop(u) : NULL;
      a = b ? pop(u) : NULL;
      if (!a) return -1;
      if (c->kind != EF_PT_DICT) return fail(u, "NEWOBJ_EX keyword arguments are not a dict");
      if (do_call(u, a, b, "NEWOBJ_EX")) return -1;
      break;
    case OP_OBJ: {
      if (pop_mark(u, &first)) return -1;
      if (first >= u->sp) return fail(u, "OBJ without a class");
      a = u->stack[first];
      if (a->kind != EF_PT_GLOBAL) return fail(u, "OBJ on a %s, not a class", ef_pt_kind_name(a->kind));
      b = collect(u, EF_PT_TUPLE, first + 1);
      u->sp = first;
      if (do_call(u, a, b, "OBJ")) return -1;
      break;
    }
    case OP_INST: {
      if (read_line(u, line, sizeof line) || read_line(u, line2, sizeof line2)) return -1;
      if (pop_mark(u, &first)) return -1;
      b = collect(u, EF_PT_TUPLE, first);
      if (!b || do_global(u, line, strlen(line), line2, strlen(line2))) return -1;
      a = pop(u);
      if (do_call(u, a, b, "INST")) return -1;
      break;
    }
    case OP_BUILD:
      if (do_build(u)) return -1;
      break;
    case OP_BINPERSID:
      if (persistent_load(u, pop(u))) return -1;
      break;
    case OP_PERSID:
      return fail(u, "text persistent ids (PERSID) are not used by torch.save and not supported");
    case OP_EXT1:
    case OP_EXT2:
    case OP_EXT4:
      return fail(u, "extension-registry opcode 0x%02x is not supported", op);
    case OP_NEXT_BUFFER:
    case OP_READONLY_BUFFER:
      return fail(u, "out-of-band buffer opcode 0x%02x is not supported", op);
    case OP_STRING:
    case OP_UNICODE:
      return fail(u, "protocol-0 string opcode '%c' is not supported (torch.save uses protocol 2)", op);
    default:
      return fail(u, "unknown pickle opcode 0x%02x", op);
    }
  }
}

int ef_pickle_load(ef_pt *pt, const uint8_t *buf, size_t n, const char *where, int legacy,
                   ef_pt_val **out, size_t *consumed, char *err, size_t errlen) {
  unpickler u;
  memset(&u, 0, sizeof u);
  u.pt = pt;
  u.p = buf;
  u.n = n;
  u.where = where;
  u.legacy = legacy;
  u.err = err;
  u.errlen = errlen;
  *out = NULL;
  int rc = run(&u, out);
  if (consumed) *consumed = u.pos;
  free(u.stack);
  free(u.marks);
  free(u.memo);
  return rc;
}
