/* op_embedding.c: token embedding lookup with a scale factor. The backward scatters (adds)
 * into the table's rows, so a table also used as the output projection (tied embeddings)
 * sums both uses. Pad tokens get no gradient (nn.Embedding's padding_idx). Ids are checked
 * against the table size: never an out-of-bounds read. */
#include <string.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  const int32_t *ids;
  const float *table;
  float *y, *dtable;
  const float *dy;
  float scale;
  int64_t n, D;
  int pad;
} emb_args;

// ids (n), table (V, D) -> y (n, D)
static void embedding_forward(void *p, int64_t i0, int64_t i1, int tid) {
  emb_args *s = p;
  for (int64_t i = i0; i < i1; i++) {
    const float *row = s->table + (int64_t)s->ids[i] * s->D;
    float *y = s->y + i * s->D;
    for (int64_t d = 0; d < s->D; d++) y[d] = s->scale * row[d];
  }
}

// dy (n, D) -> dtable[ids[i], d0:d1] += scale·dy[i, d0:d1]; columns split across threads
static void embedding_backward_body(void *p, int64_t d0, int64_t d1, int tid) {
  emb_args *s = p;
  for (int64_t i = 0; i < s->n; i++) {
    if (s->ids[i] == s->pad) continue;
    float *row = s->dtable + (int64_t)s->ids[i] * s->D;
    const float *g = s->dy + i * s->D;
    for (int64_t d = d0; d < d1; d++) row[d] += s->scale * g[d];
  }
}

static void embedding_backward(ef_node *n) {
  emb_args s = {.ids = n->in[1]->idata, .dtable = n->in[0]->grad, .dy = n->out->grad,
                .scale = n->f[0], .n = n->in[1]->numel, .D = n->in[0]->shape[1],
                .pad = (int)n->i[0]};
  if (s.dtable) ef_parallel_for_cost(s.D, 2.0 * (double)s.n, embedding_backward_body, &s);
}

ef_tensor *ef_embedding(ef_ctx *ctx, ef_tensor *table, ef_tensor *ids, float scale,
                        int padding_idx) {
  if (!table || !ids || !ef_ctx_ok(ctx)) return NULL;
  if (table->dtype != EF_F32 || table->ndim != 2 || ids->dtype != EF_I32 ||
      ids->ndim >= EF_MAX_DIMS)
    return ef_fail_shapes(ctx, "embedding", "a 2-D float table and int32 ids expected", table,
                          ids);
  int64_t V = table->shape[0];
  for (int64_t i = 0; i < ids->numel; i++)
    if (ids->idata[i] < 0 || ids->idata[i] >= V)
      return ef_ctx_fail(ctx, "embedding: token id %d at position %lld outside the table [0,%lld)",
                         ids->idata[i], (long long)i, (long long)V);
  int64_t shape[EF_MAX_DIMS];
  for (int d = 0; d < ids->ndim; d++) shape[d] = ids->shape[d];
  shape[ids->ndim] = table->shape[1];
  ef_tensor *in[2] = {table, ids};
  ef_tensor *y = ef_op_output(ctx, ids->ndim + 1, shape, in, 2);
  if (!y) return NULL;
  emb_args s = {.ids = ids->idata, .table = table->data, .y = y->data, .scale = scale,
                .n = ids->numel, .D = table->shape[1]};
  ef_parallel_for_cost(s.n, (double)s.D, embedding_forward, &s);
  ef_node *nd = ef_record(ctx, "embedding", embedding_backward, y, in, 2);
  if (nd) {
    nd->f[0] = scale;
    nd->i[0] = padding_idx;
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
