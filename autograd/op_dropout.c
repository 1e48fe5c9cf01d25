/* op_dropout.c: inverted dropout with a counter-based mask. The keep decision of element i is
 * hash(key, i) with key = hash(seed, step, index of this dropout op in the step), so masks do
 * not depend on thread count or chunking, and the backward recomputes the mask instead of
 * storing it. Must never draw from a stateful generator. */
#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

/* splitmix64's finaliser: a bijective 64-bit mix. */
static inline uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Element i is kept when its 24-bit uniform draw is >= threshold = p·2^24. The draw is the
 * i-th output of the splitmix64 stream seeded with key (one mix per element). */
static inline int keep(uint64_t key, int64_t i, uint32_t threshold) {
  return (uint32_t)(mix64(key + (uint64_t)i * 0x9E3779B97F4A7C15ull) >> 40) >= threshold;
}

typedef struct {
  float *dst;
  const float *src;
  uint64_t key;
  uint32_t threshold;
  float scale;
  int accumulate;
} dropout_args;

// x (n) -> y (n) = x·mask·scale; backward: dx (n) += dy·mask·scale
static void dropout_body(void *p, int64_t i0, int64_t i1, int tid) {
  dropout_args *s = p;
  float *restrict dst = s->dst;
  const float *restrict src = s->src;
  if (s->accumulate) {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++)
      dst[i] += src[i] * (keep(s->key, i, s->threshold) ? s->scale : 0.0f);
  } else {
#pragma omp simd
    for (int64_t i = i0; i < i1; i++)
      dst[i] = src[i] * (keep(s->key, i, s->threshold) ? s->scale : 0.0f);
  }
}

static void dropout_backward(ef_node *n) {
  dropout_args s = {n->in[0]->grad, n->out->grad, (uint64_t)n->i[0], (uint32_t)n->i[1], n->f[0], 1};
  ef_parallel_for_cost(n->out->numel, 10.0, dropout_body, &s);
}

ef_tensor *ef_dropout(ef_ctx *ctx, ef_tensor *x, float p) {
  if (!x || !ef_ctx_ok(ctx)) return NULL;
  if (x->dtype != EF_F32) return ef_fail_shapes(ctx, "dropout", "float tensor expected", x, NULL);
  if (!(p >= 0.0f && p < 1.0f)) return ef_ctx_fail(ctx, "dropout: p = %g outside [0, 1)", p);
  if (!ctx->training || p == 0.0f) return x;
  uint64_t call = ctx->rng_calls++;
  uint64_t key = mix64(ctx->seed ^ mix64(ctx->step ^ mix64(call + 0x5EEDull)));
  ef_tensor *y = ef_op_output(ctx, x->ndim, x->shape, &x, 1);
  if (!y) return NULL;
  uint32_t threshold = (uint32_t)((double)p * (double)(1u << 24));
  dropout_args s = {y->data, x->data, key, threshold, 1.0f / (1.0f - p), 0};
  ef_parallel_for_cost(y->numel, 10.0, dropout_body, &s);
  ef_node *nd = ef_record(ctx, "dropout", dropout_backward, y, &x, 1);
  if (nd) {
    nd->i[0] = (int64_t)key;
    nd->i[1] = threshold;
    nd->f[0] = s.scale;
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
