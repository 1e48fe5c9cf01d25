/* convert/pt_reader.h: a reader for PyTorch checkpoints (`torch.save` files), written for
 * importing fairseq models. It must never execute anything: the pickle inside a checkpoint is
 * interpreted by a small stack machine that only builds inert values (docs/import.md).
 *
 * Formats:
 *   - zip (torch >= 1.6): `<archive>/data.pkl`, `<archive>/data/<key>` raw little-endian
 *     storages, `<archive>/version`; entries stored or deflated (zlib), zip64 included; every
 *     entry read is checked against its CRC-32;
 *   - legacy (torch < 1.6): the magic number, protocol version and system info pickles, the
 *     main pickle, the list of storage keys, then per storage an int64 element count and the
 *     raw elements.
 *
 * The pickle subset: protocols 0-5 opcodes a torch.save file can hold (docs/import.md lists
 * them). Values rebuilt: None, bool, int (64-bit; longer integers become EF_PT_BIGINT),
 * float, str, bytes, list, tuple, dict, set, OrderedDict (as a dict), argparse.Namespace (an
 * EF_PT_OBJECT whose attributes are its BUILD state) and tensors
 * (`torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` / `_rebuild_parameter` over any
 * storage type, with sizes, strides and offset checked against the storage). Any other
 * global becomes an inert EF_PT_OBJECT that remembers its class name: REDUCE, NEWOBJ,
 * BUILD, SETITEMS... on it only record data. Extension codes (EXT*), out-of-band buffers and
 * the text PERSID opcode are refused.
 *
 * Memory: ef_pt_open maps the file (or takes a caller's buffer with ef_pt_open_memory, which
 * must outlive the reader) and owns every value it returns; ef_pt_close frees them all.
 * Values are never freed individually and may be shared (memo) or even cyclic.
 *
 * Errors: non-zero return + one line in err naming the file and the place (zip entry, pickle
 * offset, storage key) and the problem, e.g.
 * "model.pt: archive/data.pkl offset 812: global os.system used with REDUCE is not allowed
 * here" or "model.pt: truncated: zip central directory at offset 4096 ends past the file".
 * Every limit below is a named constant; exceeding one is an error, never a truncation.
 */
#ifndef EF_CONVERT_PT_READER_H
#define EF_CONVERT_PT_READER_H

#include <stddef.h>
#include <stdint.h>

#define EF_PT_MAX_FILE_BYTES ((uint64_t)64 << 30)   /* largest checkpoint file */
#define EF_PT_MAX_PICKLE_BYTES ((uint64_t)1 << 30)  /* largest data.pkl */
#define EF_PT_MAX_ZIP_ENTRIES (1 << 20)             /* entries in the archive */
#define EF_PT_MAX_NAME_BYTES 4096                   /* zip entry name */
#define EF_PT_MAX_DEPTH 1000                        /* nested MARKs (container depth) */
#define EF_PT_MAX_STACK (1 << 22)                   /* values on the pickle stack */
#define EF_PT_MAX_MEMO (1 << 22)                    /* memo slots */
#define EF_PT_MAX_STRING ((uint64_t)256 << 20)      /* one str / bytes value */
#define EF_PT_MAX_VALUES (1 << 24)                  /* values built by one pickle */
#define EF_PT_MAX_VALUE_BYTES ((uint64_t)2 << 30)   /* bytes of all strings + containers */
#define EF_PT_MAX_TENSOR_BYTES ((uint64_t)32 << 30) /* all storages (inflated ones counted) */
#define EF_PT_MAX_NDIM 16                           /* tensor dimensions */
#define EF_PT_MAX_STORAGES (1 << 20)                /* storages referenced */

typedef struct ef_pt ef_pt;         /* an open checkpoint */
typedef struct ef_pt_val ef_pt_val; /* one value of its pickle (owned by the ef_pt) */

typedef enum {
  EF_PT_NONE = 0,
  EF_PT_BOOL,
  EF_PT_INT,
  EF_PT_BIGINT, /* an integer wider than 64 bits: bytes little-endian two's complement */
  EF_PT_FLOAT,
  EF_PT_STR,
  EF_PT_BYTES,
  EF_PT_LIST,
  EF_PT_TUPLE,
  EF_PT_DICT, /* dict or OrderedDict; insertion order kept */
  EF_PT_SET,  /* set or frozenset */
  EF_PT_TENSOR,
  EF_PT_STORAGE,
  EF_PT_GLOBAL, /* a class or function name that was never called */
  EF_PT_OBJECT, /* an instance of a class: argparse.Namespace or an inert placeholder */
} ef_pt_kind;

typedef enum {
  EF_PT_DT_FLOAT32 = 0,
  EF_PT_DT_FLOAT16,
  EF_PT_DT_BFLOAT16,
  EF_PT_DT_FLOAT64,
  EF_PT_DT_INT64,
  EF_PT_DT_INT32,
  EF_PT_DT_INT16,
  EF_PT_DT_INT8,
  EF_PT_DT_UINT8,
  EF_PT_DT_BOOL,
  EF_PT_DT_COUNT
} ef_pt_dtype;

/* Open a checkpoint file (zip or legacy). 0 on success (*out set), non-zero + message. */
int ef_pt_open(const char *path, ef_pt **out, char *err, size_t errlen);
/* Same over bytes in memory (not copied; must outlive the reader). name is for messages. */
int ef_pt_open_memory(const uint8_t *data, size_t size, const char *name, ef_pt **out, char *err,
                      size_t errlen);
void ef_pt_close(ef_pt *pt); /* NULL is fine */

/* The unpickled top-level value. */
const ef_pt_val *ef_pt_root(const ef_pt *pt);
/* "zip" or "legacy". */
const char *ef_pt_format(const ef_pt *pt);

/* ---- values ---------------------------------------------------------------------------- */
ef_pt_kind ef_pt_kind_of(const ef_pt_val *v); /* NULL -> EF_PT_NONE */
const char *ef_pt_kind_name(ef_pt_kind k);
/* Integers (and bools) as int64; floats; 0 when the kind does not fit (check the kind). */
int64_t ef_pt_int(const ef_pt_val *v);
double ef_pt_float(const ef_pt_val *v); /* INT and BOOL converted too */
/* STR (UTF-8) / BYTES / BIGINT bytes: pointer and length; NULL for other kinds. STR is
 * NUL-terminated (it may contain NULs: use *len). */
const char *ef_pt_bytes(const ef_pt_val *v, size_t *len);
/* 1 when v is a STR equal to s. */
int ef_pt_str_eq(const ef_pt_val *v, const char *s);
/* Elements of LIST, TUPLE, SET; entries of DICT; attributes of OBJECT. */
size_t ef_pt_len(const ef_pt_val *v);
const ef_pt_val *ef_pt_item(const ef_pt_val *v, size_t i); /* LIST/TUPLE/SET */
/* DICT entry i (key and value); OBJECT: its attribute dict's entry i. 0 or -1. */
int ef_pt_entry(const ef_pt_val *v, size_t i, const ef_pt_val **key, const ef_pt_val **value);
/* DICT or OBJECT (attributes): the value under the str key, NULL when absent (the last one
 * wins when a key repeats, as in Python). */
const ef_pt_val *ef_pt_get(const ef_pt_val *v, const char *key);
/* OBJECT / GLOBAL: "module.name" of the class; NULL otherwise. */
const char *ef_pt_class(const ef_pt_val *v);

/* ---- tensors --------------------------------------------------------------------------- */
typedef struct {
  ef_pt_dtype dtype;
  int ndim;
  int64_t shape[EF_PT_MAX_NDIM];
  int64_t stride[EF_PT_MAX_NDIM];
  int64_t offset;      /* in elements, into the storage */
  int64_t numel;       /* product of shape */
  const char *storage; /* storage key ("0", "17", ...) */
} ef_pt_tensor_info;

/* Shape, strides, dtype of a TENSOR value. 0, or -1 when v is not a tensor. */
int ef_pt_tensor(const ef_pt_val *v, ef_pt_tensor_info *info);
const char *ef_pt_dtype_name(ef_pt_dtype d);
/* Read a float tensor (float32, float16, bfloat16 or float64) into out (numel floats, row-major
 * in its shape, strides applied). n must equal numel. 0, or non-zero + message naming `what`
 * (e.g. the state_dict key). */
int ef_pt_tensor_read_f32(ef_pt *pt, const ef_pt_val *v, float *out, int64_t n, const char *what,
                          char *err, size_t errlen);

#endif
