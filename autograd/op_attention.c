/* op_attention.c: multi-head scaled dot-product attention on projected q, k, v, with key
 * padding mask, causal mask and optional prefix keys/values (Prefix-LA). Our own kernel,
 * spread over (batch, head) units on the worker pool: the per-head products are small (a
 * few dozen tokens by 64 dims), where a GEMM call per head costs more than it computes.
 * Probabilities are saved for the backward. Must never read a key outside [0, P + Tk). */
#include <math.h>
#include <string.h>

#include "autograd/graph.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

typedef struct {
  const float *q, *k, *v, *pk, *pv; /* pk/pv: prefix [P, D] or NULL */
  const int32_t *key_pad;           /* [B, Tk] or NULL */
  float *out, *probs;               /* out [B, Tq, D]; probs [B, H, Tq, P + Tk] */
  int64_t B, Tq, Tk, P, D, H, dh;
  float scale;
  int causal;
  /* backward */
  const float *dout;
  float *dq, *dk, *dv, *dpk, *dpv;
  float *scratch; /* per thread: forward [dh][P+Tk]; backward [dh][P+Tk] + [P+Tk] */
  int per_head;   /* units are heads (each looping over the batch) instead of (b, h) */
} attn_args;

static inline void axpy(float *restrict y, float a, const float *restrict x, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* out[j] = Σ_d x[d]·rows_t[d][j] for j < S: a row times a transposed block, vectorised over j
 * (dot products of 64 floats each would need a horizontal sum per key). */
static inline void row_times_t(float *restrict out, const float *restrict x,
                               const float *restrict rows_t, int64_t dh, int64_t S) {
  for (int64_t j = 0; j < S; j++) out[j] = 0.0f;
  for (int64_t d = 0; d < dh; d++) {
    float xd = x[d];
    const float *r = rows_t + d * S;
#pragma omp simd
    for (int64_t j = 0; j < S; j++) out[j] += xd * r[j];
  }
}

/* Key j of the extended sequence (prefix first): its row in k (or pk), and in v. */
static inline const float *key_row(const attn_args *s, int64_t b, int64_t j, int64_t h) {
  return j < s->P ? s->pk + j * s->D + h * s->dh : s->k + (b * s->Tk + j - s->P) * s->D + h * s->dh;
}
static inline const float *val_row(const attn_args *s, int64_t b, int64_t j, int64_t h) {
  return j < s->P ? s->pv + j * s->D + h * s->dh : s->v + (b * s->Tk + j - s->P) * s->D + h * s->dh;
}

/* rows_t[d][j] = row j (of the extended keys or values) at column d of head h. */
static void transpose_head(const attn_args *s, int64_t b, int64_t h, int values,
                           float *restrict rows_t) {
  int64_t S = s->P + s->Tk;
  for (int64_t j = 0; j < S; j++) {
    const float *r = values ? val_row(s, b, j, h) : key_row(s, b, j, h);
    for (int64_t d = 0; d < s->dh; d++) rows_t[d * S + j] = r[d];
  }
}

// one (b, h): q (Tq, dh), keys (P+Tk, dh) -> probs (Tq, P+Tk), out (Tq, dh)
static void attention_forward_unit(const attn_args *s, int64_t b, int64_t h, float *kt) {
  int64_t S = s->P + s->Tk, off = s->Tk - s->Tq;
  transpose_head(s, b, h, 0, kt);
  for (int64_t i = 0; i < s->Tq; i++) {
    const float *qi = s->q + (b * s->Tq + i) * s->D + h * s->dh;
    float *p = s->probs + ((b * s->H + h) * s->Tq + i) * S;
    row_times_t(p, qi, kt, s->dh, S);
    float mx = -INFINITY;
    for (int64_t j = 0; j < S; j++) {
      int64_t t = j - s->P; /* token index, < 0 for the prefix */
      int masked = t >= 0 && ((s->key_pad && s->key_pad[b * s->Tk + t]) ||
                              (s->causal && t > i + off));
      p[j] = masked ? -INFINITY : s->scale * p[j];
      if (p[j] > mx) mx = p[j];
    }
    float *o = s->out + (b * s->Tq + i) * s->D + h * s->dh;
    memset(o, 0, (size_t)s->dh * sizeof(float));
    if (mx == -INFINITY) { /* no visible key: zero probabilities, zero output */
      memset(p, 0, (size_t)S * sizeof(float));
      continue;
    }
    float sum = 0.0f;
    for (int64_t j = 0; j < S; j++) {
      p[j] = p[j] == -INFINITY ? 0.0f : expf(p[j] - mx);
      sum += p[j];
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < S; j++) {
      p[j] *= inv;
      if (p[j] != 0.0f) axpy(o, p[j], val_row(s, b, j, h), s->dh);
    }
  }
}

static void attention_forward_body(void *arg, int64_t u0, int64_t u1, int tid) {
  const attn_args *s = arg;
  float *kt = s->scratch + (int64_t)tid * s->dh * (s->P + s->Tk);
  for (int64_t u = u0; u < u1; u++) attention_forward_unit(s, u / s->H, u % s->H, kt);
}

// one (b, h): dout (Tq, dh) -> dq, dk, dv (and prefix dpk, dpv) +=
static void attention_backward_unit(const attn_args *s, int64_t b, int64_t h, float *vt,
                                    float *dP) {
  int64_t S = s->P + s->Tk;
  transpose_head(s, b, h, 1, vt);
  for (int64_t i = 0; i < s->Tq; i++) {
    const float *p = s->probs + ((b * s->H + h) * s->Tq + i) * S;
    const float *go = s->dout + (b * s->Tq + i) * s->D + h * s->dh;
    const float *qi = s->q + (b * s->Tq + i) * s->D + h * s->dh;
    float *dqi = s->dq ? s->dq + (b * s->Tq + i) * s->D + h * s->dh : NULL;
    row_times_t(dP, go, vt, s->dh, S);
    float sum = 0.0f;
    for (int64_t j = 0; j < S; j++) sum += p[j] * dP[j];
    for (int64_t j = 0; j < S; j++) {
      if (p[j] == 0.0f) continue;
      float dS = p[j] * (dP[j] - sum) * s->scale; /* gradient of the raw q·k product */
      int prefix = j < s->P;
      int64_t row = prefix ? j * s->D + h * s->dh : (b * s->Tk + j - s->P) * s->D + h * s->dh;
      float *dv = prefix ? s->dpv : s->dv, *dk = prefix ? s->dpk : s->dk;
      if (dv) axpy(dv + row, p[j], go, s->dh);
      if (dk) axpy(dk + row, dS, qi, s->dh);
      if (dqi) axpy(dqi, dS, key_row(s, b, j, h), s->dh);
    }
  }
}

static void attention_backward_body(void *arg, int64_t u0, int64_t u1, int tid) {
  const attn_args *s = arg;
  int64_t S = s->P + s->Tk;
  float *vt = s->scratch + (int64_t)tid * (s->dh + 1) * S, *dP = vt + s->dh * S;
  for (int64_t u = u0; u < u1; u++) {
    if (s->per_head) /* prefix gradients are shared by the batch: one thread per head */
      for (int64_t b = 0; b < s->B; b++) attention_backward_unit(s, b, u, vt, dP);
    else
      attention_backward_unit(s, u / s->H, u % s->H, vt, dP);
  }
}

static void attention_backward(ef_node *n) {
  attn_args s = *(attn_args *)n->saved[0];
  s.dout = n->out->grad;
  s.dq = n->in[0]->grad;
  s.dk = n->in[1]->grad;
  s.dv = n->in[2]->grad;
  s.dpk = n->in[3] ? n->in[3]->grad : NULL;
  s.dpv = n->in[4] ? n->in[4]->grad : NULL;
  s.per_head = s.P > 0 && (s.dpk || s.dpv);
  int64_t units = s.per_head ? s.H : s.B * s.H;
  double cost = 4.0 * (double)(s.per_head ? s.B : 1) * (double)(s.Tq * (s.P + s.Tk) * s.dh);
  ef_parallel_for_cost(units, cost, attention_backward_body, &s);
}

ef_tensor *ef_attention(ef_ctx *ctx, ef_tensor *q, ef_tensor *k, ef_tensor *v,
                        const ef_attn_opts *o) {
  if (!q || !k || !v || !o || !ef_ctx_ok(ctx)) return NULL;
  if (q->dtype != EF_F32 || q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
    return ef_fail_shapes(ctx, "attention", "q, k, v must be float [B,T,D]", q, k);
  if (!ef_same_shape(k, v)) return ef_fail_shapes(ctx, "attention", "k and v differ", k, v);
  if (q->shape[0] != k->shape[0] || q->shape[2] != k->shape[2])
    return ef_fail_shapes(ctx, "attention", "q and k disagree on batch or width", q, k);
  int64_t D = q->shape[2];
  if (o->heads <= 0 || D % o->heads)
    return ef_fail_shapes(ctx, "attention", "width not divisible by the head count", q, NULL);
  if (o->key_pad && (o->key_pad->dtype != EF_I32 || o->key_pad->ndim != 2 ||
                     o->key_pad->shape[0] != k->shape[0] || o->key_pad->shape[1] != k->shape[1]))
    return ef_fail_shapes(ctx, "attention", "key_pad must be int32 [B,Tk]", o->key_pad, k);
  if (!o->prefix_k != !o->prefix_v)
    return ef_ctx_fail(ctx, "attention: prefix_k and prefix_v must be given together");
  int64_t P = 0;
  if (o->prefix_k) {
    if (o->prefix_k->ndim != 2 || o->prefix_k->shape[1] != D || !ef_same_shape(o->prefix_k, o->prefix_v))
      return ef_fail_shapes(ctx, "attention", "prefix keys/values must both be [P,D]",
                            o->prefix_k, o->prefix_v);
    P = o->prefix_k->shape[0];
  }
  ef_tensor *in[5] = {q, k, v, o->prefix_k, o->prefix_v};
  ef_tensor *y = ef_op_output(ctx, 3, q->shape, in, 5);
  attn_args *s = ef_ctx_alloc(ctx, sizeof *s);
  if (!y || !s) return NULL;
  memset(s, 0, sizeof *s);
  s->q = q->data;
  s->k = k->data;
  s->v = v->data;
  s->pk = P ? o->prefix_k->data : NULL;
  s->pv = P ? o->prefix_v->data : NULL;
  s->key_pad = o->key_pad ? o->key_pad->idata : NULL;
  s->out = y->data;
  s->B = q->shape[0];
  s->Tq = q->shape[1];
  s->Tk = k->shape[1];
  s->P = P;
  s->D = D;
  s->H = o->heads;
  s->dh = D / o->heads;
  s->scale = o->scale;
  s->causal = o->causal;
  s->probs = ef_ctx_alloc(ctx, (size_t)(s->B * s->H * s->Tq * (P + s->Tk)) * sizeof(float));
  /* one scratch for both passes: per thread [dh + 1][P + Tk] */
  s->scratch = ef_ctx_alloc(ctx, (size_t)ef_num_threads() * (size_t)((s->dh + 1) * (P + s->Tk)) *
                                     sizeof(float));
  if (!s->probs || !s->scratch) return NULL;
  ef_parallel_for_cost(s->B * s->H, 4.0 * (double)(s->Tq * (P + s->Tk) * s->dh),
                       attention_forward_body, s);
  ef_node *nd = ef_record(ctx, "attention", attention_backward, y, in, 5);
  if (nd) {
    s->key_pad = NULL; /* not needed backward: masked probabilities are exactly 0 */
    nd->saved[0] = s;
  }
  return ef_ctx_ok(ctx) ? y : NULL;
}
