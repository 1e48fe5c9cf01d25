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

#include "convert/pickle_internal.h"

#define PK_LINE_MAX 4096 /* text-opcode arguments (GLOBAL names, INT, FLOAT ...) */
#define PK_ERR_BYTES 384

/* protocol 0-5 opcodes (Python's pickletools names) */
enum {
  OP_MARK = '(',
  OP_STOP = '.',
  OP_POP = '0',
  OP_POP_MARK = '1',
  OP_DUP = '2',
  OP_FLOAT = 'F',
  OP_INT = 'I',
  OP_BININT = 'J',
  OP_BININT1 = 'K',
  OP_LONG = 'L',
  OP_BININT2 = 'M',
  OP_NONE = 'N',
  OP_PERSID = 'P',
  OP_BINPERSID = 'Q',
  OP_REDUCE = 'R',
  OP_STRING = 'S',
  OP_BINSTRING = 'T',
  OP_SHORT_BINSTRING = 'U',
  OP_UNICODE = 'V',
  OP_BINUNICODE = 'X',
  OP_APPEND = 'a',
  OP_BUILD = 'b',
  OP_GLOBAL = 'c',
  OP_DICT = 'd',
  OP_EMPTY_DICT = '}',
  OP_APPENDS = 'e',
  OP_GET = 'g',
  OP_BINGET = 'h',
  OP_INST = 'i',
  OP_LONG_BINGET = 'j',
  OP_LIST = 'l',
  OP_EMPTY_LIST = ']',
  OP_OBJ = 'o',
  OP_PUT = 'p',
  OP_BINPUT = 'q',
  OP_LONG_BINPUT = 'r',
  OP_SETITEM = 's',
  OP_TUPLE = 't',
  OP_EMPTY_TUPLE = ')',
  OP_SETITEMS = 'u',
  OP_BINFLOAT = 'G',
  OP_PROTO = 0x80,
  OP_NEWOBJ = 0x81,
  OP_EXT1 = 0x82,
  OP_EXT2 = 0x83,
  OP_EXT4 = 0x84,
  OP_TUPLE1 = 0x85,
  OP_TUPLE2 = 0x86,
  OP_TUPLE3 = 0x87,
  OP_NEWTRUE = 0x88,
  OP_NEWFALSE = 0x89,
  OP_LONG1 = 0x8a,
  OP_LONG4 = 0x8b,
  OP_BINBYTES = 'B',
  OP_SHORT_BINBYTES = 'C',
  OP_SHORT_BINUNICODE = 0x8c,
  OP_BINUNICODE8 = 0x8d,
  OP_BINBYTES8 = 0x8e,
  OP_EMPTY_SET = 0x8f,
  OP_ADDITEMS = 0x90,
  OP_FROZENSET = 0x91,
  OP_NEWOBJ_EX = 0x92,
  OP_STACK_GLOBAL = 0x93,
  OP_MEMOIZE = 0x94,
  OP_FRAME = 0x95,
  OP_BYTEARRAY8 = 0x96,
  OP_NEXT_BUFFER = 0x97,
  OP_READONLY_BUFFER = 0x98,
};

void ef_pt_seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  for (char *c = err; *c; c++) /* one line: names from the file may hold control characters */
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
}

int pk_fail(unpickler *u, const char *fmt, ...) {
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

ef_pt_val *pk_val_new(unpickler *u, ef_pt_kind kind) {
  ef_pt *pt = u->pt;
  if (pt->n_values >= EF_PT_MAX_VALUES) {
    pk_fail(u, "more than %d values (EF_PT_MAX_VALUES)", EF_PT_MAX_VALUES);
    return NULL;
  }
  ef_pt_val *v = calloc(1, sizeof *v);
  if (!v) {
    pk_fail(u, "out of memory");
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
    return pk_fail(u, "values take more than %llu bytes (EF_PT_MAX_VALUE_BYTES)",
                   (unsigned long long)EF_PT_MAX_VALUE_BYTES);
  u->pt->value_bytes += bytes;
  return 0;
}

/* A STR / BYTES / BIGINT / class-name value over a copy of len bytes (NUL-terminated). */
ef_pt_val *pk_val_bytes(unpickler *u, ef_pt_kind kind, const void *src, size_t len) {
  if (len > EF_PT_MAX_STRING) {
    pk_fail(u, "a string of %zu bytes exceeds the limit of %llu (EF_PT_MAX_STRING)", len,
            (unsigned long long)EF_PT_MAX_STRING);
    return NULL;
  }
  if (charge(u, len + 1)) return NULL;
  ef_pt_val *v = pk_val_new(u, kind);
  if (!v) return NULL;
  v->s = malloc(len + 1);
  if (!v->s) {
    pk_fail(u, "out of memory for a string of %zu bytes", len);
    return NULL;
  }
  if (len) memcpy(v->s, src, len);
  v->s[len] = 0;
  v->len = len;
  return v;
}

int pk_push_item(unpickler *u, ef_pt_val *c, ef_pt_val *item) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 4;
    if (charge(u, (cap - c->cap) * sizeof *c->items)) return -1;
    ef_pt_val **g = realloc(c->items, cap * sizeof *g);
    if (!g) return pk_fail(u, "out of memory");
    c->items = g;
    c->cap = cap;
  }
  c->items[c->n++] = item;
  return 0;
}

/* ---- the machine ------------------------------------------------------------------------- */

int pk_push(unpickler *u, ef_pt_val *v) {
  if (!v) return -1;
  if (u->sp == u->scap) {
    if (u->scap >= EF_PT_MAX_STACK)
      return pk_fail(u, "pickle stack deeper than %d (EF_PT_MAX_STACK)", EF_PT_MAX_STACK);
    size_t cap = u->scap ? 2 * u->scap : 64;
    ef_pt_val **g = realloc(u->stack, cap * sizeof *g);
    if (!g) return pk_fail(u, "out of memory");
    u->stack = g;
    u->scap = cap;
  }
  u->stack[u->sp++] = v;
  return 0;
}

static size_t floor_sp(const unpickler *u) { return u->nmarks ? u->marks[u->nmarks - 1] : 0; }

static ef_pt_val *pop(unpickler *u) {
  if (u->sp <= floor_sp(u)) {
    pk_fail(u, "pop from an empty stack (or past a MARK)");
    return NULL;
  }
  return u->stack[--u->sp];
}

static ef_pt_val *top(unpickler *u) {
  if (u->sp <= floor_sp(u)) {
    pk_fail(u, "the stack is empty (or ends at a MARK)");
    return NULL;
  }
  return u->stack[u->sp - 1];
}

/* Items above the last MARK: [*first, sp); the mark is removed. */
static int pop_mark(unpickler *u, size_t *first) {
  if (!u->nmarks) return pk_fail(u, "no MARK on the stack");
  *first = u->marks[--u->nmarks];
  return 0;
}

static int need(unpickler *u, size_t k) {
  if (k > u->n - u->pos)
    return pk_fail(u, "truncated: %zu bytes needed, %zu left", k, u->n - u->pos);
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
    if (u->pos - start + 1 >= cap)
      return pk_fail(u, "text argument longer than %zu bytes", cap - 1);
    u->pos++;
  }
  if (u->pos >= u->n) return pk_fail(u, "truncated: text argument without its newline");
  memcpy(buf, u->p + start, u->pos - start);
  buf[u->pos - start] = 0;
  u->pos++;
  return 0;
}

static ef_pt_val *make_int(unpickler *u, int64_t x) {
  ef_pt_val *v = pk_val_new(u, EF_PT_INT);
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
  return pk_val_bytes(u, EF_PT_BIGINT, b, n);
}

static int memo_put(unpickler *u, uint64_t idx) {
  ef_pt_val *v = top(u);
  if (!v) return -1;
  if (idx >= EF_PT_MAX_MEMO)
    return pk_fail(u, "memo index %llu beyond the limit %d (EF_PT_MAX_MEMO)",
                   (unsigned long long)idx, EF_PT_MAX_MEMO);
  if (idx >= u->nmemo) {
    size_t cap = u->nmemo ? u->nmemo : 64;
    while (cap <= idx) cap *= 2;
    if (cap > EF_PT_MAX_MEMO) cap = EF_PT_MAX_MEMO;
    if (charge(u, (cap - u->nmemo) * sizeof *u->memo)) return -1;
    ef_pt_val **g = realloc(u->memo, cap * sizeof *g);
    if (!g) return pk_fail(u, "out of memory");
    memset(g + u->nmemo, 0, (cap - u->nmemo) * sizeof *g);
    u->memo = g;
    u->nmemo = cap;
  }
  u->memo[idx] = v;
  return 0;
}

static int memo_get(unpickler *u, uint64_t idx) {
  if (idx >= u->nmemo || !u->memo[idx])
    return pk_fail(u, "memo index %llu was never stored", (unsigned long long)idx);
  return pk_push(u, u->memo[idx]);
}

/* A container value from stack items [first, sp) (which are removed). */
static ef_pt_val *collect(unpickler *u, ef_pt_kind kind, size_t first) {
  ef_pt_val *c = pk_val_new(u, kind);
  if (!c) return NULL;
  for (size_t i = first; i < u->sp; i++)
    if (pk_push_item(u, c, u->stack[i])) return NULL;
  u->sp = first;
  return c;
}

int pk_dict_set(unpickler *u, ef_pt_val *d, ef_pt_val *k, ef_pt_val *v) {
  if (pk_push_item(u, d, k)) return -1;
  return pk_push_item(u, d, v);
}

static int do_global(unpickler *u, const char *module, size_t mlen, const char *name, size_t nlen) {
  if (mlen == 0 || nlen == 0) return pk_fail(u, "empty global name");
  /* Python 2 module names, as Python 3's unpickler maps them */
  if (mlen == 11 && !memcmp(module, "__builtin__", 11)) module = "builtins", mlen = 8;
  if (mlen == 8 && !memcmp(module, "copy_reg", 8)) module = "copyreg", mlen = 7;
  char buf[2 * PK_LINE_MAX + 2];
  if (mlen + nlen + 2 > sizeof buf) return pk_fail(u, "global name too long");
  memcpy(buf, module, mlen);
  buf[mlen] = '.';
  memcpy(buf + mlen + 1, name, nlen);
  if (memchr(buf, 0, mlen + 1 + nlen)) return pk_fail(u, "global name holds a NUL byte");
  return pk_push(u, pk_val_bytes(u, EF_PT_GLOBAL, buf, mlen + 1 + nlen));
}

/* REDUCE, NEWOBJ: callable and argument tuple already popped. */
static int do_call(unpickler *u, ef_pt_val *cls, ef_pt_val *args, const char *op) {
  if (!cls || !args) return -1;
  if (cls->kind != EF_PT_GLOBAL)
    return pk_fail(u, "%s calls a %s, not a global", op, ef_pt_kind_name(cls->kind));
  if (args->kind != EF_PT_TUPLE)
    return pk_fail(u, "%s of %s with a %s instead of an argument tuple", op, cls->s,
                   ef_pt_kind_name(args->kind));
  return pk_push(u, pk_call_global(u, cls, args));
}

static int do_build(unpickler *u) {
  ef_pt_val *state = pop(u);
  ef_pt_val *obj = state ? top(u) : NULL;
  if (!obj) return -1;
  if (obj->kind == EF_PT_OBJECT) {
    if (state->kind == EF_PT_DICT)
      obj->attrs = state;
    else if (state->kind == EF_PT_TUPLE && state->n == 2) /* (dict or None, slots dict) */
      obj->attrs = state->items[0]->kind == EF_PT_DICT   ? state->items[0]
                   : state->items[1]->kind == EF_PT_DICT ? state->items[1]
                                                         : NULL;
  }
  /* dicts (OrderedDict._metadata), tensors, containers: the state is dropped */
  return 0;
}

static int do_setitems(unpickler *u, size_t first) {
  if ((u->sp - first) % 2) return pk_fail(u, "SETITEMS with an odd number of items");
  if (first == 0 || first <= floor_sp(u)) return pk_fail(u, "SETITEMS without a target");
  ef_pt_val *d = u->stack[first - 1];
  if (d->kind == EF_PT_DICT) {
    for (size_t i = first; i < u->sp; i += 2)
      if (pk_dict_set(u, d, u->stack[i], u->stack[i + 1])) return -1;
  } else if (d->kind != EF_PT_OBJECT) { /* placeholders ignore their items */
    return pk_fail(u, "SETITEM(S) on a %s", ef_pt_kind_name(d->kind));
  }
  u->sp = first;
  return 0;
}

static int do_appends(unpickler *u, size_t first, int set) {
  if (first == 0 || first <= floor_sp(u))
    return pk_fail(u, "%s without a target", set ? "ADDITEMS" : "APPEND(S)");
  ef_pt_val *l = u->stack[first - 1];
  if (l->kind == (set ? EF_PT_SET : EF_PT_LIST)) {
    for (size_t i = first; i < u->sp; i++)
      if (pk_push_item(u, l, u->stack[i])) return -1;
  } else if (l->kind != EF_PT_OBJECT) {
    return pk_fail(u, "%s on a %s", set ? "ADDITEMS" : "APPEND(S)", ef_pt_kind_name(l->kind));
  }
  u->sp = first;
  return 0;
}

static int str_op(unpickler *u, ef_pt_kind kind, int width) {
  if (need(u, (size_t)width)) return -1;
  uint64_t len = le(u->p + u->pos, width);
  u->pos += (size_t)width;
  if (need(u, len)) return -1; /* len <= bytes left <= SIZE_MAX */
  ef_pt_val *v = pk_val_bytes(u, kind, u->p + u->pos, (size_t)len);
  u->pos += (size_t)len;
  return pk_push(u, v);
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
      if (u->p[u->pos] > 5) return pk_fail(u, "pickle protocol %d is newer than 5", u->p[u->pos]);
      u->pos++;
      break;
    case OP_FRAME:
      if (need(u, 8)) return -1;
      u->pos += 8; /* frames only group opcodes */
      break;
    case OP_STOP:
      if (!u->sp) return pk_fail(u, "STOP with an empty stack");
      *out = u->stack[u->sp - 1]; /* as Python: values left below it are dropped */
      return 0;
    case OP_MARK:
      if (u->nmarks >= EF_PT_MAX_DEPTH)
        return pk_fail(u, "MARKs nested deeper than %d (EF_PT_MAX_DEPTH)", EF_PT_MAX_DEPTH);
      if (u->nmarks == u->mcap) {
        size_t cap = u->mcap ? 2 * u->mcap : 16;
        size_t *g = realloc(u->marks, cap * sizeof *g);
        if (!g) return pk_fail(u, "out of memory");
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
        return pk_fail(u, "POP from an empty stack");
      }
      break;
    case OP_POP_MARK:
      if (pop_mark(u, &first)) return -1;
      u->sp = first;
      break;
    case OP_DUP:
      if (!(a = top(u)) || pk_push(u, a)) return -1;
      break;
    case OP_NONE:
      if (pk_push(u, pk_val_new(u, EF_PT_NONE))) return -1;
      break;
    case OP_NEWTRUE:
    case OP_NEWFALSE:
      if (!(a = pk_val_new(u, EF_PT_BOOL))) return -1;
      a->i = op == OP_NEWTRUE;
      if (pk_push(u, a)) return -1;
      break;
    case OP_BININT:
      if (need(u, 4)) return -1;
      if (pk_push(u, make_int(u, (int32_t)(uint32_t)le(u->p + u->pos, 4)))) return -1;
      u->pos += 4;
      break;
    case OP_BININT1:
      if (need(u, 1)) return -1;
      if (pk_push(u, make_int(u, u->p[u->pos++]))) return -1;
      break;
    case OP_BININT2:
      if (need(u, 2)) return -1;
      if (pk_push(u, make_int(u, (int64_t)le(u->p + u->pos, 2)))) return -1;
      u->pos += 2;
      break;
    case OP_LONG1:
    case OP_LONG4: {
      int w = op == OP_LONG1 ? 1 : 4;
      if (need(u, (size_t)w)) return -1;
      uint64_t n = le(u->p + u->pos, w);
      u->pos += (size_t)w;
      if (op == OP_LONG4 && (n >> 31)) return pk_fail(u, "LONG4 with a negative length");
      if (need(u, n)) return -1;
      if (pk_push(u, make_long(u, u->p + u->pos, (size_t)n))) return -1;
      u->pos += (size_t)n;
      break;
    }
    case OP_INT:
    case OP_LONG: {
      if (read_line(u, line, sizeof line)) return -1;
      size_t l = strlen(line);
      if (op == OP_LONG && l && line[l - 1] == 'L') line[--l] = 0;
      if (op == OP_INT && (!strcmp(line, "00") || !strcmp(line, "01"))) {
        if (!(a = pk_val_new(u, EF_PT_BOOL))) return -1;
        a->i = line[1] == '1';
        if (pk_push(u, a)) return -1;
        break;
      }
      char *end;
      errno = 0;
      long long x = strtoll(line, &end, 10);
      if (!l || *end || errno)
        return pk_fail(u, "%s argument '%.40s' is not a 64-bit integer",
                       op == OP_INT ? "INT" : "LONG", line);
      if (pk_push(u, make_int(u, x))) return -1;
      break;
    }
    case OP_FLOAT: {
      if (read_line(u, line, sizeof line)) return -1;
      char *end;
      double x = strtod(line, &end);
      if (!line[0] || *end) return pk_fail(u, "FLOAT argument '%.40s' is not a number", line);
      if (!(a = pk_val_new(u, EF_PT_FLOAT))) return -1;
      a->f = x;
      if (pk_push(u, a)) return -1;
      break;
    }
    case OP_BINFLOAT: {
      if (need(u, 8)) return -1;
      uint64_t bits = 0;
      for (int i = 0; i < 8; i++) bits = bits << 8 | u->p[u->pos + (size_t)i]; /* big-endian */
      u->pos += 8;
      if (!(a = pk_val_new(u, EF_PT_FLOAT))) return -1;
      memcpy(&a->f, &bits, sizeof a->f);
      if (pk_push(u, a)) return -1;
      break;
    }
    case OP_BINUNICODE:
      if (str_op(u, EF_PT_STR, 4)) return -1;
      break;
    case OP_SHORT_BINUNICODE:
      if (str_op(u, EF_PT_STR, 1)) return -1;
      break;
    case OP_BINUNICODE8:
      if (str_op(u, EF_PT_STR, 8)) return -1;
      break;
    case OP_BINSTRING:
      if (str_op(u, EF_PT_STR, 4)) return -1;
      break;
    case OP_SHORT_BINSTRING:
      if (str_op(u, EF_PT_STR, 1)) return -1;
      break;
    case OP_BINBYTES:
      if (str_op(u, EF_PT_BYTES, 4)) return -1;
      break;
    case OP_SHORT_BINBYTES:
      if (str_op(u, EF_PT_BYTES, 1)) return -1;
      break;
    case OP_BINBYTES8:
      if (str_op(u, EF_PT_BYTES, 8)) return -1;
      break;
    case OP_BYTEARRAY8:
      if (str_op(u, EF_PT_BYTES, 8)) return -1;
      break;
    case OP_EMPTY_LIST:
      if (pk_push(u, pk_val_new(u, EF_PT_LIST))) return -1;
      break;
    case OP_EMPTY_TUPLE:
      if (pk_push(u, pk_val_new(u, EF_PT_TUPLE))) return -1;
      break;
    case OP_EMPTY_DICT:
      if (pk_push(u, pk_val_new(u, EF_PT_DICT))) return -1;
      break;
    case OP_EMPTY_SET:
      if (pk_push(u, pk_val_new(u, EF_PT_SET))) return -1;
      break;
    case OP_LIST:
    case OP_TUPLE:
    case OP_FROZENSET:
      if (pop_mark(u, &first)) return -1;
      if (pk_push(u, collect(u,
                             op == OP_LIST    ? EF_PT_LIST
                             : op == OP_TUPLE ? EF_PT_TUPLE
                                              : EF_PT_SET,
                             first)))
        return -1;
      break;
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3: {
      size_t k = (size_t)(op - OP_TUPLE1 + 1);
      if (u->sp < floor_sp(u) + k)
        return pk_fail(u, "TUPLE%zu needs %zu values on the stack", k, k);
      if (pk_push(u, collect(u, EF_PT_TUPLE, u->sp - k))) return -1;
      break;
    }
    case OP_DICT:
      if (pop_mark(u, &first)) return -1;
      if ((u->sp - first) % 2) return pk_fail(u, "DICT with an odd number of items");
      if (pk_push(u, collect(u, EF_PT_DICT, first))) return -1;
      break;
    case OP_APPEND:
      if (u->sp < floor_sp(u) + 2) return pk_fail(u, "APPEND needs a list and a value");
      if (do_appends(u, u->sp - 1, 0)) return -1;
      break;
    case OP_APPENDS:
      if (pop_mark(u, &first) || do_appends(u, first, 0)) return -1;
      break;
    case OP_ADDITEMS:
      if (pop_mark(u, &first) || do_appends(u, first, 1)) return -1;
      break;
    case OP_SETITEM:
      if (u->sp < floor_sp(u) + 3) return pk_fail(u, "SETITEM needs a dict, a key and a value");
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
        return pk_fail(u, "memo index '%.40s' is not a number", line);
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
        return pk_fail(u, "STACK_GLOBAL needs two strings");
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
      if (c->kind != EF_PT_DICT) return pk_fail(u, "NEWOBJ_EX keyword arguments are not a dict");
      if (do_call(u, a, b, "NEWOBJ_EX")) return -1;
      break;
    case OP_OBJ: {
      if (pop_mark(u, &first)) return -1;
      if (first >= u->sp) return pk_fail(u, "OBJ without a class");
      a = u->stack[first];
      if (a->kind != EF_PT_GLOBAL)
        return pk_fail(u, "OBJ on a %s, not a class", ef_pt_kind_name(a->kind));
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
      if (pk_persistent_load(u, pop(u))) return -1;
      break;
    case OP_PERSID:
      return pk_fail(u,
                     "text persistent ids (PERSID) are not used by torch.save and not supported");
    case OP_EXT1:
    case OP_EXT2:
    case OP_EXT4:
      return pk_fail(u, "extension-registry opcode 0x%02x is not supported", op);
    case OP_NEXT_BUFFER:
    case OP_READONLY_BUFFER:
      return pk_fail(u, "out-of-band buffer opcode 0x%02x is not supported", op);
    case OP_STRING:
    case OP_UNICODE:
      return pk_fail(
          u, "protocol-0 string opcode '%c' is not supported (torch.save uses protocol 2)", op);
    default:
      return pk_fail(u, "unknown pickle opcode 0x%02x", op);
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
