/* convert/pickle_internal.h: what pickle.c (the opcode machine) and pickle_objects.c (what
 * globals and persistent ids become) share. Not for other files. */
#ifndef EF_CONVERT_PICKLE_INTERNAL_H
#define EF_CONVERT_PICKLE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "convert/pt_internal.h"

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
  size_t nmemo;     /* slots allocated (highest index + 1) */
  size_t memo_next; /* MEMOIZE's next index */
  char *err;
  size_t errlen;
} unpickler;

/* Fill u->err with "<file>: <where> offset <op>: <message>"; returns -1. */
__attribute__((format(printf, 2, 3))) int pk_fail(unpickler *u, const char *fmt, ...);
/* A new value owned by the reader (counted against EF_PT_MAX_VALUES); NULL + message. */
ef_pt_val *pk_val_new(unpickler *u, ef_pt_kind kind);
/* STR / BYTES / BIGINT / class name over a NUL-terminated copy of len bytes. */
ef_pt_val *pk_val_bytes(unpickler *u, ef_pt_kind kind, const void *src, size_t len);
int pk_push_item(unpickler *u, ef_pt_val *c, ef_pt_val *item); /* append to a container */
int pk_dict_set(unpickler *u, ef_pt_val *d, ef_pt_val *k, ef_pt_val *v);
int pk_push(unpickler *u, ef_pt_val *v); /* onto the stack; v NULL -> -1 (error already set) */

/* pickle_objects.c: BINPERSID (pushes a STORAGE) and calling a global (REDUCE, NEWOBJ, ...). */
int pk_persistent_load(unpickler *u, ef_pt_val *pid);
ef_pt_val *pk_call_global(unpickler *u, ef_pt_val *cls, ef_pt_val *args);

#endif
