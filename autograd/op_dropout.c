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

/* Element i is kept when its 16-bit uniform draw is >= threshold = round(p·2^16). Output
 * i/4 of the splitmix64 stream seeded with key gives the draws of elements 4(i/4) .. 4(i/4)+3,
 * 16 bits each (one mix per four elements). p is thereby rounded to a multiple of 2^-16. */
static inline int keep(uint64_t key, int64_t i, uint32_t threshold) {
  uint64_t z = mix64(key + (uint64_t)(i >> 2) * 0x9E3779B97F4A7C15ull);
  return (uint32_t)((z >> (16 * (i & 3))) & 0xffffu) >= threshold;
}

typedef struct {
  float *dst;
  const float *src;
  uint64_t key;
  uint32_t threshold;
  float scale;
  int accumulate;
} dropout_args;

/* The factor of element i: scale when kept, else 0. */
static inline float factor(const dropout_args *s, int64_t i) {
  return keep(s->key, i, s->threshold) ? s->scale : 0.0f;
}

// x (n) -> y (n) = x·mask·scale; backward: dx (n) += dy·mask·scale
static void dropout_body(void *p, int64_t i0, int64_t i1, int tid) {
  const dropout_args *s = p;
  float *restrict dst = s->dst;
  const float *restrict src = s->src;
  const int acc = s->accumulate;
  int64_t i = i0;
  for (; i < i1 && (i & 3); i++) dst[i] = (acc ? dst[i] : 0.0f) + src[i] * factor(s, i);
  int64_t g1 = i + ((i1 - i) & ~(int64_t)3); /* whole groups of four: one mix each */
#pragma omp simd
  for (int64_t g = i; g < g1; g += 4) {
    uint64_t z = mix64(s->key + (uint64_t)(g >> 2) * 0x9E3779B97F4A7C15ull);
    for (int k = 0; k < 4; k++) {
      float f = (uint32_t)((z >> (16 * k)) & 0xffffu) >= s->threshold ? s->scale : 0.0f;
      dst[g + k] = (acc ? dst[g + k] : 0.0f) + src[g + k] * f;
    }
  }
  for (i = g1; i < i1; i++) dst[i] = (acc ? dst[i] : 0.0f) + src[i] * factor(s, i);
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
  uint32_t threshold = (uint32_t)((double)p * 65536.0 + 0.5);
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
