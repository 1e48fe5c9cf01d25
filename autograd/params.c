/* params.c: the unique-parameter store with aliases (see params.h). Must never hand out two
 * storages for one name, nor change a tensor's address after finalize. */
#include "autograd/params.h"

#include "autograd/bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EF_PARAMS_ALIGN_FLOATS 16 /* each parameter starts on a 64-byte boundary */

typedef struct {
  char *name;
  ef_tensor t;
  int64_t offset;
} param;

typedef struct {
  char *name;
  int index;
} alias;

struct ef_params {
  param *params;
  int n, cap;
  alias *aliases; /* canonical names are not in this list */
  int n_alias, cap_alias;
  /* open-addressing hash: name -> slot; value = param index (>=0) or -(alias index)-2 */
  int *table;
  size_t table_size;
  int64_t total; /* floats incl. alignment padding */
  int64_t numel;
  float *data, *grad, *states[EF_PARAM_MAX_STATES];
  ef_bf16 *bf16; /* bf16 copy of data for the products of a bf16 run, or NULL */
  int n_states;
  int finalized;
};

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static const char *slot_name(const ef_params *p, int v) {
  return v >= 0 ? p->params[v].name : p->aliases[-v - 2].name;
}

/* Returns the table slot holding `name`, or the empty slot where it would go. */
static size_t lookup_slot(const ef_params *p, const char *name) {
  size_t mask = p->table_size - 1, i = (size_t)fnv1a(name) & mask;
  while (p->table[i] != -1 && strcmp(slot_name(p, p->table[i]), name)) i = (i + 1) & mask;
  return i;
}

static int rehash(ef_params *p, size_t size) {
  int *t = malloc(size * sizeof *t);
  if (!t) return 0;
  for (size_t i = 0; i < size; i++) t[i] = -1;
  int *old = p->table;
  size_t old_size = p->table_size;
  p->table = t;
  p->table_size = size;
  for (size_t i = 0; i < old_size; i++)
    if (old[i] != -1) p->table[lookup_slot(p, slot_name(p, old[i]))] = old[i];
  free(old);
  return 1;
}

static int insert_name(ef_params *p, const char *name, int value) {
  size_t names = (size_t)p->n + (size_t)p->n_alias + 1;
  if (names * 2 > p->table_size && !rehash(p, p->table_size ? p->table_size * 2 : 256)) return 0;
  p->table[lookup_slot(p, name)] = value;
  return 1;
}

ef_params *ef_params_new(void) {
  ef_params *p = calloc(1, sizeof *p);
  if (p && !rehash(p, 256)) {
    free(p);
    return NULL;
  }
  return p;
}

void ef_params_free(ef_params *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) free(p->params[i].name);
  for (int i = 0; i < p->n_alias; i++) free(p->aliases[i].name);
  free(p->params);
  free(p->aliases);
  free(p->table);
  free(p->data);
  free(p->grad);
  free(p->bf16);
  for (int k = 0; k < p->n_states; k++) free(p->states[k]);
  free(p);
}

static int check_name(const ef_params *p, const char *name, char *err, size_t errlen) {
  if (!name || !*name || strlen(name) > EF_PARAM_NAME_MAX) {
    snprintf(err, errlen, "parameter name is empty or longer than %d bytes", EF_PARAM_NAME_MAX);
    return 0;
  }
  if (p->finalized) {
    snprintf(err, errlen, "parameter '%s' declared after the store was finalized", name);
    return 0;
  }
  if (ef_params_find(p, name) >= 0) {
    snprintf(err, errlen, "parameter name '%s' is already taken", name);
    return 0;
  }
  return 1;
}

int ef_params_add(ef_params *p, const char *name, int ndim, const int64_t *shape, char *err,
                  size_t errlen) {
  if (!check_name(p, name, err, errlen)) return -1;
  if (ndim < 1 || ndim > EF_MAX_DIMS) {
    snprintf(err, errlen, "parameter '%s': %d dims (1..%d supported)", name, ndim, EF_MAX_DIMS);
    return -1;
  }
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0 || shape[d] > (INT64_C(1) << 40) / numel) {
      snprintf(err, errlen, "parameter '%s': bad size %lld in dim %d", name, (long long)shape[d],
               d);
      return -1;
    }
    numel *= shape[d];
  }
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 64;
    param *np = realloc(p->params, (size_t)cap * sizeof *np);
    if (!np) return snprintf(err, errlen, "out of memory"), -1;
    p->params = np;
    p->cap = cap;
  }
  param *q = &p->params[p->n];
  memset(q, 0, sizeof *q);
  q->name = strdup(name);
  if (!q->name || !insert_name(p, name, p->n)) {
    free(q->name);
    return snprintf(err, errlen, "out of memory"), -1;
  }
  q->t.dtype = EF_F32;
  q->t.ndim = ndim;
  for (int d = 0; d < ndim; d++) q->t.shape[d] = shape[d];
  q->t.numel = numel;
  q->offset = p->total;
  p->total +=
      (numel + EF_PARAMS_ALIGN_FLOATS - 1) / EF_PARAMS_ALIGN_FLOATS * EF_PARAMS_ALIGN_FLOATS;
  p->numel += numel;
  return p->n++;
}

int ef_params_alias(ef_params *p, const char *alias_name, const char *target, char *err,
                    size_t errlen) {
  int idx = ef_params_find(p, target);
  if (idx < 0) {
    snprintf(err, errlen, "alias '%s': no parameter named '%s'", alias_name, target);
    return -1;
  }
  /* Aliases may be added after finalize: they change no storage. */
  int fin = p->finalized;
  p->finalized = 0;
  int ok = check_name(p, alias_name, err, errlen);
  p->finalized = fin;
  if (!ok) return -1;
  if (p->n_alias == p->cap_alias) {
    int cap = p->cap_alias ? p->cap_alias * 2 : 64;
    alias *na = realloc(p->aliases, (size_t)cap * sizeof *na);
    if (!na) return snprintf(err, errlen, "out of memory"), -1;
    p->aliases = na;
    p->cap_alias = cap;
  }
  alias *a = &p->aliases[p->n_alias];
  a->name = strdup(alias_name);
  a->index = idx;
  if (!a->name || !insert_name(p, alias_name, -p->n_alias - 2)) {
    free(a->name);
    return snprintf(err, errlen, "out of memory"), -1;
  }
  p->n_alias++;
  return idx;
}

static float *alloc_floats(int64_t n) {
  void *m = NULL;
  size_t bytes = (size_t)(n > 0 ? n : 1) * sizeof(float);
  if (posix_memalign(&m, 64, bytes)) return NULL;
  memset(m, 0, bytes);
  return m;
}

int ef_params_finalize(ef_params *p, char *err, size_t errlen) {
  if (p->finalized) return 0;
  p->data = alloc_floats(p->total);
  p->grad = alloc_floats(p->total);
  if (!p->data || !p->grad) {
    snprintf(err, errlen, "out of memory allocating %lld parameters", (long long)p->numel);
    return -1;
  }
  for (int i = 0; i < p->n; i++) {
    p->params[i].t.data = p->data + p->params[i].offset;
    p->params[i].t.grad = p->grad + p->params[i].offset;
    p->params[i].t.requires_grad = 1;
  }
  p->finalized = 1;
  return 0;
}

int ef_params_alloc_states(ef_params *p, int n_states, char *err, size_t errlen) {
  if (!p->finalized || p->n_states + n_states > EF_PARAM_MAX_STATES) {
    snprintf(err, errlen, "optimizer state: store not finalized or more than %d slots",
             EF_PARAM_MAX_STATES);
    return -1;
  }
  for (int k = 0; k < n_states; k++) {
    float *s = alloc_floats(p->total);
    if (!s) return snprintf(err, errlen, "out of memory allocating optimizer state"), -1;
    p->states[p->n_states++] = s;
  }
  return 0;
}

int ef_params_find(const ef_params *p, const char *name) {
  int v = p->table[lookup_slot(p, name)];
  if (v == -1) return -1;
  return v >= 0 ? v : p->aliases[-v - 2].index;
}

int ef_params_count(const ef_params *p) { return p->n; }
int64_t ef_params_numel(const ef_params *p) { return p->numel; }
int ef_params_alias_count(const ef_params *p) { return p->n_alias; }
const char *ef_params_alias_at(const ef_params *p, int i, int *index) {
  if (i < 0 || i >= p->n_alias) return NULL;
  if (index) *index = p->aliases[i].index;
  return p->aliases[i].name;
}
const char *ef_params_name(const ef_params *p, int idx) {
  return idx >= 0 && idx < p->n ? p->params[idx].name : NULL;
}
ef_tensor *ef_params_tensor(ef_params *p, int idx) {
  return idx >= 0 && idx < p->n ? &p->params[idx].t : NULL;
}
float *ef_params_data(ef_params *p) { return p->data; }
float *ef_params_grad(ef_params *p) { return p->grad; }
float *ef_params_state(ef_params *p, int k) {
  return k >= 0 && k < p->n_states ? p->states[k] : NULL;
}
int64_t ef_params_offset(const ef_params *p, int idx) { return p->params[idx].offset; }
int64_t ef_params_flat_len(const ef_params *p) { return p->total; }
int ef_params_enable_bf16(ef_params *p, char *err, size_t errlen) {
  if (!p->finalized) return snprintf(err, errlen, "bf16 copy: store not finalized"), -1;
  if (p->bf16) return 0;
  size_t bytes = ((size_t)p->total * sizeof(ef_bf16) + 63) / 64 * 64;
  p->bf16 = aligned_alloc(64, bytes ? bytes : 64);
  if (!p->bf16) return snprintf(err, errlen, "out of memory allocating the bf16 weight copy"), -1;
  memset(p->bf16, 0, bytes ? bytes : 64);
  for (int i = 0; i < p->n; i++)
    if (p->params[i].t.ndim == 2) p->params[i].t.bf16 = p->bf16 + p->params[i].offset;
  return 0;
}

void ef_params_sync_bf16(ef_params *p) {
  if (p->bf16) ef_bf16_from_f32(p->bf16, p->data, p->total);
}

void ef_params_zero_grad(ef_params *p) {
  if (p->grad) memset(p->grad, 0, (size_t)p->total * sizeof(float));
}
