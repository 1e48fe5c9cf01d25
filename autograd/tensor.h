/* tensor.h: the tensor header and the step context (arena + tape + sticky error).
 *
 * A tensor is a contiguous float32 (or int32 token id) array of up to EF_MAX_DIMS dims. Its
 * `data` and `grad` point into memory somebody else owns: the step arena (activations), the
 * parameter store (parameters), the caller (wrapped inputs) or the gradient pool. A tensor
 * with `requires_grad` takes part in backprop; every backward kernel ADDS into its inputs'
 * `grad`, so a tensor used several times (shared layers, tied embeddings) receives the sum of
 * its uses. Activation gradients are allocated by the reverse pass when first needed and given
 * back as soon as the op that produced the activation has run its backward (backward.c), so
 * only the gradients still in flight occupy memory, not one per activation.
 *
 * Views (ef_view_reshape, ef_view_rows) share data and grad with their base, so gradients
 * written through a view land in the base with no extra node.
 *
 * Ops never abort: a shape error sets the context's sticky error (one line naming the op and
 * the shapes) and returns NULL; every op given a NULL input returns NULL. Check
 * ef_ctx_ok() once after building the graph.
 */
#ifndef EF_AUTOGRAD_TENSOR_H
#define EF_AUTOGRAD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define EF_MAX_DIMS 4
#define EF_ERR_LEN 512

typedef enum { EF_F32 = 0, EF_I32 = 1 } ef_dtype;

typedef struct ef_tensor {
  ef_dtype dtype;
  int ndim;
  int64_t shape[EF_MAX_DIMS];
  int64_t numel;
  float *data;           /* EF_F32: the values */
  int32_t *idata;        /* EF_I32: the values (token ids); never has a gradient */
  float *grad;           /* same numel as data; NULL when no gradient flows here, or (activations)
                            until the reverse pass first needs it */
  const uint16_t *bf16;  /* parameters in a bf16 run: the values rounded to bf16, refreshed
                            once per update by the parameter store (params.h); else NULL */
  uint8_t requires_grad; /* a gradient flows to this tensor */
  uint8_t grad_pooled;   /* grad came from the step's gradient pool (backward.c) */
} ef_tensor;

typedef struct ef_ctx ef_ctx;
typedef struct ef_arena ef_arena;

/* --- the step context -------------------------------------------------------------------- */

/* A context owns one arena (activations, saved values, tensor headers) and one tape of at
 * most max_nodes ops. arena_bytes is the first chunk's size; the arena grows on the first
 * steps if needed and consolidates into one chunk at reset (see arena.h). */
ef_ctx *ef_ctx_new(size_t arena_bytes, int max_nodes);
void ef_ctx_free(ef_ctx *ctx);
/* Start a new step: forget the tape, reset the arena, clear the error. */
void ef_ctx_reset(ef_ctx *ctx);
/* Training mode: dropout active. Independent of gradient recording. */
void ef_ctx_set_training(ef_ctx *ctx, int training);
int ef_ctx_training(const ef_ctx *ctx);
/* Gradient recording (default on): when off, ops record no nodes and outputs get no grad. */
void ef_ctx_set_grad(ef_ctx *ctx, int enabled);
/* Dropout randomness: masks are a pure function of (seed, step, op index, element index). */
void ef_ctx_set_rng(ef_ctx *ctx, uint64_t seed, uint64_t step);
/* bf16 mixed precision (bf16.h): dense products take bf16 operands and accumulate in fp32;
 * everything else stays fp32. Only honoured where ef_bf16_supported(); default off. */
void ef_ctx_set_bf16(ef_ctx *ctx, int enabled);
int ef_ctx_bf16(const ef_ctx *ctx);
int ef_ctx_ok(const ef_ctx *ctx);
const char *ef_ctx_error(const ef_ctx *ctx);
/* Set the sticky error (printf-style); the first error wins. Returns NULL for convenience. */
void *ef_ctx_fail(ef_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shape error "op: what: a [..] vs b [..]" (b may be NULL); returns NULL. */
void *ef_fail_shapes(ef_ctx *ctx, const char *op, const char *what, const ef_tensor *a,
                     const ef_tensor *b);
ef_arena *ef_ctx_arena(ef_ctx *ctx);
int ef_ctx_num_nodes(const ef_ctx *ctx);

/* --- tensors ----------------------------------------------------------------------------- */

/* A new arena tensor, values uninitialised (zeroed if zero != 0). With requires_grad (and
 * recording on) a zeroed grad buffer is attached. */
ef_tensor *ef_tensor_new(ef_ctx *ctx, ef_dtype dt, int ndim, const int64_t *shape, int zero,
                         int requires_grad);
/* Wrap caller-owned memory (data or idata by dtype; grad may be NULL). Header in the arena. */
ef_tensor *ef_tensor_wrap(ef_ctx *ctx, ef_dtype dt, int ndim, const int64_t *shape, void *data,
                          float *grad);
/* Same storage, new shape with the same numel. */
ef_tensor *ef_view_reshape(ef_ctx *ctx, ef_tensor *t, int ndim, const int64_t *shape);
/* Rows [start, start+count) of dim 0. */
ef_tensor *ef_view_rows(ef_ctx *ctx, ef_tensor *t, int64_t start, int64_t count);

/* Shape helpers. ef_rows(t) = numel / last dim; ef_cols(t) = last dim. */
static inline int64_t ef_cols(const ef_tensor *t) { return t->shape[t->ndim - 1]; }
static inline int64_t ef_rows(const ef_tensor *t) { return t->numel / ef_cols(t); }
/* "[2,3,4]" into buf (always NUL-terminated); returns buf. */
char *ef_shape_str(const ef_tensor *t, char *buf, size_t len);
int ef_same_shape(const ef_tensor *a, const ef_tensor *b);

#endif
