/* tensor.c: tensor headers, views and the step context. Must never allocate outside the
 * arena during a step (only ef_ctx_new allocates from the system). */
#include "autograd/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/bf16.h"
#include "autograd/graph.h"

ef_ctx *ef_ctx_new(size_t arena_bytes, int max_nodes) {
  ef_ctx *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return NULL;
  ctx->arena = ef_arena_new(arena_bytes);
  ctx->pool = ef_grad_pool_new();
  ctx->nodes = calloc((size_t)(max_nodes > 0 ? max_nodes : 1), sizeof *ctx->nodes);
  if (!ctx->arena || !ctx->nodes || !ctx->pool) {
    ef_ctx_free(ctx);
    return NULL;
  }
  ctx->max_nodes = max_nodes;
  ctx->grad_enabled = 1;
  return ctx;
}

void ef_ctx_free(ef_ctx *ctx) {
  if (!ctx) return;
  ef_arena_free(ctx->arena);
  ef_grad_pool_free(ctx->pool);
  free(ctx->nodes);
  free(ctx);
}

void ef_ctx_reset(ef_ctx *ctx) {
  ef_arena_reset(ctx->arena);
  ef_grad_pool_reset(ctx->pool);
  ctx->n_nodes = 0;
  ctx->rng_calls = 0;
  memset(ctx->bf16_cache, 0, sizeof ctx->bf16_cache);
  ctx->err[0] = 0;
}

void ef_ctx_set_training(ef_ctx *ctx, int training) { ctx->training = training; }
int ef_ctx_training(const ef_ctx *ctx) { return ctx->training; }
void ef_ctx_set_bf16(ef_ctx *ctx, int enabled) { ctx->bf16 = enabled && ef_bf16_supported(); }
int ef_ctx_bf16(const ef_ctx *ctx) { return ctx->bf16; }
void ef_ctx_set_grad(ef_ctx *ctx, int enabled) { ctx->grad_enabled = enabled; }
void ef_ctx_set_rng(ef_ctx *ctx, uint64_t seed, uint64_t step) {
  ctx->seed = seed;
  ctx->step = step;
  ctx->rng_calls = 0;
}
int ef_ctx_ok(const ef_ctx *ctx) { return ctx->err[0] == 0; }
const char *ef_ctx_error(const ef_ctx *ctx) { return ctx->err; }
ef_arena *ef_ctx_arena(ef_ctx *ctx) { return ctx->arena; }
int ef_ctx_num_nodes(const ef_ctx *ctx) { return ctx->n_nodes; }

void *ef_ctx_fail(ef_ctx *ctx, const char *fmt, ...) {
  if (ctx->err[0]) return NULL;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
  va_end(ap);
  return NULL;
}

void *ef_ctx_alloc(ef_ctx *ctx, size_t bytes) {
  void *p = ef_arena_alloc(ctx->arena, bytes);
  if (!p) ef_ctx_fail(ctx, "out of memory: the step arena could not grow by %zu bytes", bytes);
  return p;
}

int ef_needs_grad(const ef_ctx *ctx, ef_tensor *const *in, int n) {
  if (!ctx->grad_enabled) return 0;
  for (int k = 0; k < n; k++)
    if (in[k] && in[k]->requires_grad) return 1;
  return 0;
}

ef_node *ef_record(ef_ctx *ctx, const char *op, ef_backward_fn bw, ef_tensor *out,
                   ef_tensor *const *in, int n) {
  if (!out->requires_grad) return NULL;
  if (ctx->n_nodes == ctx->max_nodes)
    return ef_ctx_fail(ctx, "%s: the tape is full (%d nodes); create the context with more", op,
                       ctx->max_nodes);
  ef_node *nd = &ctx->nodes[ctx->n_nodes++];
  memset(nd, 0, sizeof *nd);
  nd->op = op;
  nd->backward = bw;
  nd->out = out;
  for (int k = 0; k < n && k < EF_NODE_MAX_IN; k++) nd->in[k] = in[k];
  return nd;
}

static int check_shape(ef_ctx *ctx, const char *what, int ndim, const int64_t *shape,
                       int64_t *numel) {
  if (ndim < 1 || ndim > EF_MAX_DIMS)
    return ef_ctx_fail(ctx, "%s: %d dims (1..%d supported)", what, ndim, EF_MAX_DIMS), 0;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0 || (shape[d] > 0 && n > INT64_MAX / 8 / shape[d]))
      return ef_ctx_fail(ctx, "%s: bad size %lld in dim %d", what, (long long)shape[d], d), 0;
    n *= shape[d];
  }
  *numel = n;
  return 1;
}

static ef_tensor *header(ef_ctx *ctx, ef_dtype dt, int ndim, const int64_t *shape) {
  int64_t numel;
  if (!ef_ctx_ok(ctx) || !check_shape(ctx, "tensor", ndim, shape, &numel)) return NULL;
  ef_tensor *t = ef_ctx_alloc(ctx, sizeof *t);
  if (!t) return NULL;
  memset(t, 0, sizeof *t);
  t->dtype = dt;
  t->ndim = ndim;
  for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
  t->numel = numel;
  return t;
}

ef_tensor *ef_tensor_new(ef_ctx *ctx, ef_dtype dt, int ndim, const int64_t *shape, int zero,
                         int requires_grad) {
  ef_tensor *t = header(ctx, dt, ndim, shape);
  if (!t) return NULL;
  size_t bytes = (size_t)t->numel * 4;
  void *p = ef_ctx_alloc(ctx, bytes);
  if (!p) return NULL;
  if (zero) memset(p, 0, bytes);
  if (dt == EF_F32)
    t->data = p;
  else
    t->idata = p;
  if (requires_grad && dt == EF_F32 && ctx->grad_enabled) t->requires_grad = 1; /* grad: lazily */
  return t;
}

ef_tensor *ef_tensor_wrap(ef_ctx *ctx, ef_dtype dt, int ndim, const int64_t *shape, void *data,
                          float *grad) {
  ef_tensor *t = header(ctx, dt, ndim, shape);
  if (!t) return NULL;
  if (dt == EF_F32) {
    t->data = data;
    t->grad = grad;
    t->requires_grad = grad != NULL;
  } else {
    t->idata = data;
  }
  return t;
}

/* A view shares its base's gradient, so the base needs a real (arena, never pooled) one now. */
static int pin_grad(ef_ctx *ctx, ef_tensor *t) {
  if (!t->requires_grad || t->grad) return 1;
  size_t bytes = (size_t)t->numel * sizeof(float);
  t->grad = ef_ctx_alloc(ctx, bytes);
  if (!t->grad) return 0;
  memset(t->grad, 0, bytes);
  return 1;
}

ef_tensor *ef_view_reshape(ef_ctx *ctx, ef_tensor *t, int ndim, const int64_t *shape) {
  if (!t || !pin_grad(ctx, t)) return NULL;
  ef_tensor *v = header(ctx, t->dtype, ndim, shape);
  if (!v) return NULL;
  if (v->numel != t->numel) {
    char a[64], b[64];
    return ef_ctx_fail(ctx, "reshape: %s has %lld elements, %s has %lld",
                       ef_shape_str(t, a, sizeof a), (long long)t->numel,
                       ef_shape_str(v, b, sizeof b), (long long)v->numel);
  }
  v->data = t->data;
  v->idata = t->idata;
  v->grad = t->grad;
  v->requires_grad = t->requires_grad;
  return v;
}

ef_tensor *ef_view_rows(ef_ctx *ctx, ef_tensor *t, int64_t start, int64_t count) {
  if (!t || !pin_grad(ctx, t)) return NULL;
  if (start < 0 || count < 0 || start + count > t->shape[0]) {
    char a[64];
    return ef_ctx_fail(ctx, "view_rows: rows [%lld, %lld) outside %s", (long long)start,
                       (long long)(start + count), ef_shape_str(t, a, sizeof a));
  }
  int64_t shape[EF_MAX_DIMS];
  for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d];
  shape[0] = count;
  ef_tensor *v = header(ctx, t->dtype, t->ndim, shape);
  if (!v) return NULL;
  int64_t stride = t->shape[0] ? t->numel / t->shape[0] : 0;
  v->data = t->data ? t->data + start * stride : NULL;
  v->idata = t->idata ? t->idata + start * stride : NULL;
  v->grad = t->grad ? t->grad + start * stride : NULL;
  v->requires_grad = t->requires_grad;
  return v;
}

char *ef_shape_str(const ef_tensor *t, char *buf, size_t len) {
  size_t n = 0;
  n += (size_t)snprintf(buf + n, len - n, "[");
  for (int d = 0; d < t->ndim && n < len; d++)
    n += (size_t)snprintf(buf + n, len - n, d ? ",%lld" : "%lld", (long long)t->shape[d]);
  if (n < len) snprintf(buf + n, len - n, "]");
  return buf;
}

int ef_same_shape(const ef_tensor *a, const ef_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

void *ef_fail_shapes(ef_ctx *ctx, const char *op, const char *what, const ef_tensor *a,
                     const ef_tensor *b) {
  char sa[96], sb[96];
  ef_shape_str(a, sa, sizeof sa);
  if (b) return ef_ctx_fail(ctx, "%s: %s: %s vs %s", op, what, sa, ef_shape_str(b, sb, sizeof sb));
  return ef_ctx_fail(ctx, "%s: %s: %s", op, what, sa);
}

ef_tensor *ef_op_output(ef_ctx *ctx, int ndim, const int64_t *shape, ef_tensor *const *in, int n) {
  return ef_tensor_new(ctx, EF_F32, ndim, shape, 0, ef_needs_grad(ctx, in, n));
}
