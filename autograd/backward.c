/* backward.c: the reverse pass over the tape. Must never zero a parameter gradient: uses
 * accumulate, and the caller zeroes the store once per update. */
#include <string.h>

#include "autograd/graph.h"
#include "autograd/ops.h"

static int run_tape(ef_ctx *ctx) {
  for (int i = ctx->n_nodes - 1; i >= 0; i--) {
    ef_node *n = &ctx->nodes[i];
    if (n->out->grad) n->backward(n);
  }
  return 0;
}

int ef_backward(ef_ctx *ctx, ef_tensor *loss) {
  if (!ef_ctx_ok(ctx)) return -1;
  if (!loss || loss->numel != 1 || !loss->grad) {
    ef_ctx_fail(ctx, "backward: the loss must be a scalar that needs a gradient");
    return -1;
  }
  loss->grad[0] = 1.0f;
  return run_tape(ctx);
}

int ef_backward_from(ef_ctx *ctx, ef_tensor *out, const float *out_grad) {
  if (!ef_ctx_ok(ctx)) return -1;
  if (!out || !out->grad) {
    ef_ctx_fail(ctx, "backward: the output does not need a gradient");
    return -1;
  }
  memcpy(out->grad, out_grad, (size_t)out->numel * sizeof(float));
  return run_tape(ctx);
}
