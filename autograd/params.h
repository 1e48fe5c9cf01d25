/* params.h: the parameter store. One storage, one gradient and (on request) optimizer state
 * slots per UNIQUE parameter, each carved from one allocation, so zero-grad is one memset
 * and an optimizer is one loop. A parameter has one canonical name and any number of alias
 * names (e.g. the fairseq state_dict keys of every layer that shares it); lookup works by any
 * name. Graphs use a parameter through ef_params_tensor(), whose data and grad point into the
 * store: every use adds into the same gradient.
 *
 * Life cycle: ef_params_new -> ef_params_add / ef_params_alias ... -> ef_params_finalize
 * (allocates, zero-filled) -> use -> ef_params_free. Names are copied.
 */
#ifndef EF_AUTOGRAD_PARAMS_H
#define EF_AUTOGRAD_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "autograd/tensor.h"

#define EF_PARAM_NAME_MAX 200
#define EF_PARAM_MAX_STATES 4

typedef struct ef_params ef_params;

ef_params *ef_params_new(void);
void ef_params_free(ef_params *p);
/* Declare a unique parameter. Returns its index, or -1 with a message in err (duplicate
 * name, bad shape, or called after finalize). */
int ef_params_add(ef_params *p, const char *name, int ndim, const int64_t *shape, char *err,
                  size_t errlen);
/* Make `alias` another name of the parameter called `target` (canonical or alias). */
int ef_params_alias(ef_params *p, const char *alias, const char *target, char *err, size_t errlen);
/* Allocate data and grad (64-byte aligned, zeroed). 0 on success. */
int ef_params_finalize(ef_params *p, char *err, size_t errlen);
/* Add n_states optimizer slots per parameter (zeroed; e.g. Adam's m and v). */
int ef_params_alloc_states(ef_params *p, int n_states, char *err, size_t errlen);

/* Index of the parameter with this name or alias, -1 if none. */
int ef_params_find(const ef_params *p, const char *name);
int ef_params_count(const ef_params *p);       /* unique parameters */
int64_t ef_params_numel(const ef_params *p);   /* sum of their sizes */
int ef_params_alias_count(const ef_params *p); /* aliases, excluding canonical names */
/* The i-th alias (0..alias_count-1): its name and the index it resolves to. */
const char *ef_params_alias_at(const ef_params *p, int i, int *index);

const char *ef_params_name(const ef_params *p, int idx);
/* The parameter as a tensor (header owned by the store; data and grad into the store). */
ef_tensor *ef_params_tensor(ef_params *p, int idx);
/* The flat buffers: all values, all grads, state slot k; each ef_params_flat_len floats
 * (parameters start on 64-byte boundaries; the padding between them stays zero). */
float *ef_params_data(ef_params *p);
float *ef_params_grad(ef_params *p);
float *ef_params_state(ef_params *p, int k);
/* Offset of parameter idx in the flat buffers. */
int64_t ef_params_offset(const ef_params *p, int idx);
int64_t ef_params_flat_len(const ef_params *p);
void ef_params_zero_grad(ef_params *p);

/* bf16 mixed precision (bf16.h): a bf16 copy of every value, made by ef_params_sync_bf16, which
 * the products of a bf16 step read instead of converting a weight at each use. After
 * ef_params_enable_bf16 every 2-D parameter tensor's `bf16` points into that copy (1-D ones,
 * LayerNorm and biases, never enter a product). The owner syncs once per update, after the
 * values change (optimizer step, checkpoint load): a shared weight is converted once however
 * many layers use it. */
int ef_params_enable_bf16(ef_params *p, char *err, size_t errlen);
void ef_params_sync_bf16(ef_params *p);

#endif
