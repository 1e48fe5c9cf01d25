/* runtime/forward.c: the EdgeFormer network at inference: the encoder over whole sources and
 * one incremental decoder step over the live hypotheses, with a self-attention K/V cache per
 * decoder layer and cross-attention keys/values computed once per source. Numerics follow the
 * training graph (model/graph.c) operation by operation, so outputs agree with it to float
 * rounding. Must never allocate inside a step once the buffers have grown, and never read a
 * cache row past the current step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/decode_internal.h"

int rt_fbuf_reserve(rt_fbuf *b, size_t n) {
  if (n <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < n) cap *= 2;
  /* 64-byte aligned: the kernels read activations faster from aligned rows */
  float *p = aligned_alloc(64, (cap * sizeof *p + 63) & ~(size_t)63);
  if (!p) return -1;
  free(b->p);
  b->p = p;
  b->cap = cap;
  return 0;
}

int rt_buf_reserve(rt_buf *b, size_t bytes) {
  if (bytes <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < bytes) cap *= 2;
  void *p = malloc(cap);
  if (!p) return -1;
  free(b->p);
  b->p = p;
  b->cap = cap;
  return 0;
}

int rt_buf_grow_keep(rt_buf *b, size_t bytes) {
  if (bytes <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < bytes) cap *= 2;
  void *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static const rt_mat *T(const rt_decoder *d, int i) { return &d->m->tensors[i]; }
static const float *F(const rt_decoder *d, int i) { return i < 0 ? NULL : d->m->tensors[i].f; }

static int linear(rt_decoder *d, const float *x, int M, int w, int b, float *y) {
  return rt_linear(d->k, x, M, T(d, w), F(d, b), y);
}

/* fairseq's sinusoidal row for position pos (sin block, then cos block), float32 as fairseq
 * computes it: angle = pos · f_k with f_k = exp(-k·ln(10000)/(half-1)). */
static void add_positions(const rt_decoder *d, float *x, int pos) {
  int half = d->d / 2;
  for (int k = 0; k < half; k++) {
    float angle = (float)pos * d->freq[k];
    x[k] += sinf(angle);
    x[half + k] += cosf(angle);
  }
}

/* x (n, D): y = LN(x + r) with weight w, bias b (eps 1e-5), written to x. */
RT_HOT static void add_layernorm(float *x, const float *r, int n, int D, const float *w,
                                 const float *b) {
  for (int i = 0; i < n; i++) {
    float *xi = x + (size_t)i * D;
    const float *ri = r + (size_t)i * D;
    double sum = 0.0;
    for (int j = 0; j < D; j++) {
      xi[j] += ri[j];
      sum += xi[j];
    }
    float mean = (float)(sum / (double)D);
    double var = 0.0;
    for (int j = 0; j < D; j++) var += (double)(xi[j] - mean) * (xi[j] - mean);
    float rstd = 1.0f / sqrtf((float)(var / (double)D) + 1e-5f);
    for (int j = 0; j < D; j++) xi[j] = (xi[j] - mean) * rstd * w[j] + b[j];
  }
}

RT_HOT static void activation(const rt_decoder *d, float *h, size_t n) {
  if (d->m->cfg.activation == RT_ACT_GELU) {
    for (size_t i = 0; i < n; i++) h[i] = 0.5f * h[i] * (1.0f + erff(h[i] * (float)M_SQRT1_2));
  } else {
    for (size_t i = 0; i < n; i++) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
  }
}

/* One query row (already scaled) against P prefix keys/values (rows of pk/pv, stride ks) and
 * then nk keys/values (rows of kmat/vmat, stride ks), one softmax over all of them, weighted
 * sum of the values into out [dh]. score: scratch [P + nk]. */
static inline float dot(const float *a, const float *b, int n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int c = 0; c < n; c++) s += a[c] * b[c];
  return s;
}

static inline void axpy(float *y, float a, const float *x, int n) {
#pragma omp simd
  for (int c = 0; c < n; c++) y[c] += a * x[c];
}

static inline void attend(const float *q, const float *pk, const float *pv, int P,
                          const float *kmat, const float *vmat, size_t ks, int nk, int dh,
                          float *score, float *out) {
  float mx = -INFINITY;
  for (int j = 0; j < P; j++) {
    score[j] = dot(q, pk + (size_t)j * ks, dh);
    if (score[j] > mx) mx = score[j];
  }
  for (int j = 0; j < nk; j++) {
    float s = dot(q, kmat + (size_t)j * ks, dh);
    score[P + j] = s;
    if (s > mx) mx = s;
  }
  float sum = 0.0f;
  for (int j = 0; j < P + nk; j++) {
    score[j] = expf(score[j] - mx);
    sum += score[j];
  }
  float inv = 1.0f / sum;
  for (int c = 0; c < dh; c++) out[c] = 0.0f;
  for (int j = 0; j < P; j++) axpy(out, score[j] * inv, pv + (size_t)j * ks, dh);
  for (int j = 0; j < nk; j++) axpy(out, score[P + j] * inv, vmat + (size_t)j * ks, dh);
}

/* Attention of many query rows, one head per work item (rt_kernels_parallel): the encoder
 * (queries of every sentence over the sentence's keys, with Prefix-LA rows), the decoder's
 * self-attention (each row over its cache) or its cross-attention (each row over its source). */
enum { ATT_ENCODER, ATT_SELF, ATT_CROSS };
typedef struct {
  const rt_decoder *d;
  int mode;
  const float *q, *k, *v, *pk, *pv; /* encoder: k/v [rows, D]; cross: the layer's xk/xv */
  int P;
  float *out;     /* [rows, D] */
  int R, nk;      /* decoder rows; self: keys per row (step + 1) */
  size_t cs;      /* self: floats per row of the cache */
  size_t sstride; /* floats of score scratch per head */
} attn_job;

RT_HOT static void attn_head(void *arg, int h) {
  const attn_job *j = arg;
  const rt_decoder *d = j->d;
  int D = d->d, dh = d->dh, o = h * dh;
  const int *off = d->src_off.p, *len = d->src_len.p, *row_sent = d->row_sent.p;
  float *score = d->escore.p + (size_t)h * j->sstride, qh[RT_MAX_HEAD_DIM];
  float qscale = 1.0f / sqrtf((float)dh);
  int nq = j->mode == ATT_ENCODER ? off[d->n_src - 1] + len[d->n_src - 1] : j->R;
  for (int r = 0, i = 0; r < nq; r++) {
    const float *qr = j->q + (size_t)r * D + o;
    for (int c = 0; c < dh; c++) qh[c] = qr[c] * qscale;
    const float *kk, *vv;
    int nk, P = 0;
    if (j->mode == ATT_ENCODER) {
      while (r >= off[i] + len[i]) i++; /* the sentence of query row r */
      kk = j->k + (size_t)off[i] * D + o;
      vv = j->v + (size_t)off[i] * D + o;
      nk = len[i];
      P = j->P;
    } else if (j->mode == ATT_SELF) {
      kk = j->k + (size_t)r * j->cs + o;
      vv = j->v + (size_t)r * j->cs + o;
      nk = j->nk;
    } else {
      int s = row_sent[r];
      kk = j->k + (size_t)off[s] * D + o;
      vv = j->v + (size_t)off[s] * D + o;
      nk = len[s];
    }
    attend(qh, P ? j->pk + o : NULL, P ? j->pv + o : NULL, P, kk, vv, (size_t)D, nk, dh, score,
           j->out + (size_t)r * D + o);
  }
}

static int ffn_block(rt_decoder *d, int f, const float *x, int M, int hidden, rt_fbuf *h,
                     float *out) {
  const rt_ffn *p = &d->m->ffn[f];
  if (rt_fbuf_reserve(h, (size_t)M * hidden)) return -1;
  if (linear(d, x, M, p->fc1_w, p->fc1_b, h->p)) return -1;
  activation(d, h->p, (size_t)M * hidden);
  return linear(d, h->p, M, p->fc2_w, p->fc2_b, out);
}

/* y += linear_v(linear_u(x)) (Adapter-LA), h: scratch. */
static int lora_add(rt_decoder *d, const rt_lora *l, const float *x, int M, float *y, float *tmp,
                    rt_fbuf *h) {
  int r = d->m->cfg.lora_rank;
  if (rt_fbuf_reserve(h, (size_t)M * r)) return -1;
  if (linear(d, x, M, l->u_w, l->u_b, h->p) || linear(d, h->p, M, l->v_w, l->v_b, tmp)) return -1;
  for (size_t i = 0; i < (size_t)M * d->d; i++) y[i] += tmp[i];
  return 0;
}

int rt_encode(rt_decoder *d, int n, const int *const *src, const int *src_len) {
  const rt_model *m = d->m;
  const rt_config *c = &m->cfg;
  int D = d->d, P = c->layer_adaptation == RT_LA_PREFIX ? c->prefix_length : 0;
  size_t rows = 0;
  int maxS = 0;
  if (rt_buf_reserve(&d->src_off, (size_t)n * sizeof(int)) ||
      rt_buf_reserve(&d->src_len, (size_t)n * sizeof(int)))
    return -1;
  int *off = d->src_off.p, *len = d->src_len.p;
  for (int i = 0; i < n; i++) {
    off[i] = (int)rows;
    len[i] = src_len[i];
    rows += (size_t)src_len[i];
    if (src_len[i] > maxS) maxS = src_len[i];
  }
  d->n_src = n;
  size_t rd = rows * (size_t)D;
  if (rt_fbuf_reserve(&d->ex, rd) || rt_fbuf_reserve(&d->eq, rd) || rt_fbuf_reserve(&d->ek, rd) ||
      rt_fbuf_reserve(&d->ev, rd) || rt_fbuf_reserve(&d->ea, rd) || rt_fbuf_reserve(&d->et, rd) ||
      rt_fbuf_reserve(&d->escore, (size_t)d->H * (maxS + P)))
    return -1;
  if (rt_kernels_reserve(d->k, (int)rows, c->encoder_ffn_dim > D ? c->encoder_ffn_dim : D))
    return -1;
  float *x = d->ex.p, *q = d->eq.p, *k = d->ek.p, *v = d->ev.p, *a = d->ea.p, *t = d->et.p;
  /* embeddings: √d·E[tok] + positions (first real token at position 2) */
  const rt_mat *E = T(d, m->embed);
  float scale = sqrtf((float)D);
  for (int i = 0; i < n; i++)
    for (int s = 0; s < src_len[i]; s++) {
      float *xr = x + (size_t)(off[i] + s) * D;
      int tok = src[i][s];
      if (E->dtype == RT_I8) {
        const int8_t *e = E->q + (size_t)tok * D;
        float es = E->scale[tok];
        for (int j = 0; j < D; j++) xr[j] = scale * (es * (float)e[j]);
      } else {
        const float *e = E->f + (size_t)tok * D;
        for (int j = 0; j < D; j++) xr[j] = scale * e[j];
      }
      add_positions(d, xr, RT_PAD + 1 + s);
    }
  for (int l = 0; l < c->encoder_layers; l++) {
    const rt_enc_layer *L = &m->enc[l];
    const rt_attn *A = &m->attn[L->attn];
    if (L->la_bias >= 0) {
      const float *b = F(d, L->la_bias);
      for (size_t r = 0; r < rows; r++)
        for (int j = 0; j < D; j++) x[r * D + j] += b[j];
    }
    if (linear(d, x, (int)rows, A->q_w, A->q_b, q) || linear(d, x, (int)rows, A->k_w, A->k_b, k) ||
        linear(d, x, (int)rows, A->v_w, A->v_b, v))
      return -1;
    if (L->lora_q.u_w >= 0 &&
        (lora_add(d, &L->lora_q, x, (int)rows, q, t, &d->eh) ||
         lora_add(d, &L->lora_v, x, (int)rows, v, t, &d->eh)))
      return -1;
    attn_job aj = {.d = d, .mode = ATT_ENCODER, .q = q, .k = k, .v = v, .P = P,
                   .pk = P ? F(d, L->prefix_k) : NULL, .pv = P ? F(d, L->prefix_v) : NULL,
                   .out = a, .sstride = d->escore.cap / (size_t)d->H};
    rt_kernels_parallel(d->k, d->H, attn_head, &aj);
    if (linear(d, a, (int)rows, A->o_w, A->o_b, t)) return -1;
    add_layernorm(x, t, (int)rows, D, F(d, L->ln_attn.w), F(d, L->ln_attn.b));
    if (ffn_block(d, L->ffn, x, (int)rows, c->encoder_ffn_dim, &d->eh, t)) return -1;
    add_layernorm(x, t, (int)rows, D, F(d, L->ln_ffn.w), F(d, L->ln_ffn.b));
  }
  /* cross-attention keys and values of every decoder layer, once per source */
  for (int j = 0; j < d->L; j++) {
    const rt_attn *A = &m->attn[m->dec[j].cross_attn];
    if (rt_fbuf_reserve(&d->xk[j], rd) || rt_fbuf_reserve(&d->xv[j], rd)) return -1;
    if (linear(d, x, (int)rows, A->k_w, A->k_b, d->xk[j].p) ||
        linear(d, x, (int)rows, A->v_w, A->v_b, d->xv[j].p))
      return -1;
  }
  return 0;
}

int rt_decoder_reserve(rt_decoder *d, int R, int steps) {
  const rt_config *c = &d->m->cfg;
  int D = d->d;
  if (R > d->rows_cap || steps > d->steps_cap) {
    int rc = R > d->rows_cap ? R : d->rows_cap, sc = steps > d->steps_cap ? steps : d->steps_cap;
    size_t n = (size_t)rc * sc * D;
    for (int j = 0; j < d->L; j++) {
      /* caches are rebuilt by the caller after growing: only done before step 0 */
      if (rt_fbuf_reserve(&d->sk[j], n) || rt_fbuf_reserve(&d->sv[j], n)) return -1;
    }
    if (rt_fbuf_reserve(&d->row_tmp, (size_t)sc * D) ||
        rt_buf_reserve(&d->reorder, (size_t)6 * rc * sizeof(int)))
      return -1;
    d->rows_cap = rc;
    d->steps_cap = sc;
  }
  size_t rd = (size_t)R * D;
  int wide = c->decoder_ffn_dim > D ? c->decoder_ffn_dim : D;
  if (rt_fbuf_reserve(&d->y, rd) || rt_fbuf_reserve(&d->q, rd) || rt_fbuf_reserve(&d->kk, rd) ||
      rt_fbuf_reserve(&d->vv, rd) || rt_fbuf_reserve(&d->a, rd) || rt_fbuf_reserve(&d->t, rd) ||
      rt_fbuf_reserve(&d->h, (size_t)R * c->decoder_ffn_dim) ||
      rt_fbuf_reserve(&d->logits, (size_t)R * c->vocab_size) ||
      rt_buf_reserve(&d->row_sent, (size_t)R * sizeof(int)))
    return -1;
  /* scores of one query: the longest of the self-attention prefix and any source */
  size_t sc = (size_t)d->steps_cap;
  const int *len = d->src_len.p;
  for (int i = 0; i < d->n_src; i++)
    if ((size_t)len[i] > sc) sc = (size_t)len[i];
  if (rt_fbuf_reserve(&d->escore, (size_t)d->H * sc)) return -1;
  return rt_kernels_reserve(d->k, R, wide);
}

/* rows of x [R, V] <- log_softmax(x / temperature), as torch: (x - max) - log Σ exp(x - max) */
RT_HOT static void log_softmax_rows(float *lg, int R, int V, float temperature) {
  for (int r = 0; r < R; r++) {
    float *x = lg + (size_t)r * V;
    if (temperature != 1.0f)
      for (int v = 0; v < V; v++) x[v] /= temperature;
    float mx = -INFINITY;
    for (int v = 0; v < V; v++)
      if (x[v] > mx) mx = x[v];
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += (double)expf(x[v] - mx);
    float ls = (float)log(sum);
    for (int v = 0; v < V; v++) x[v] = (x[v] - mx) - ls;
  }
}

int rt_decoder_step(rt_decoder *d, int R, const int *tokens, int step, float temperature) {
  const rt_model *m = d->m;
  const rt_config *c = &m->cfg;
  int D = d->d, V = c->vocab_size;
  size_t cs = (size_t)d->steps_cap * D; /* one row's cache */
  float *y = d->y.p, *q = d->q.p, *kk = d->kk.p, *vv = d->vv.p, *a = d->a.p, *t = d->t.p;
  const rt_mat *E = T(d, m->embed);
  float scale = sqrtf((float)D);
  for (int r = 0; r < R; r++) {
    float *yr = y + (size_t)r * D;
    int tok = tokens[r];
    if (E->dtype == RT_I8) {
      const int8_t *e = E->q + (size_t)tok * D;
      float es = E->scale[tok];
      for (int j = 0; j < D; j++) yr[j] = scale * (es * (float)e[j]);
    } else {
      const float *e = E->f + (size_t)tok * D;
      for (int j = 0; j < D; j++) yr[j] = scale * e[j];
    }
    add_positions(d, yr, step + RT_PAD + 1);
  }
  for (int l = 0; l < d->L; l++) {
    const rt_dec_layer *L = &m->dec[l];
    const rt_attn *S = &m->attn[L->self_attn], *X = &m->attn[L->cross_attn];
    /* causal self-attention over the cache (positions 0..step) */
    if (linear(d, y, R, S->q_w, S->q_b, q) || linear(d, y, R, S->k_w, S->k_b, kk) ||
        linear(d, y, R, S->v_w, S->v_b, vv))
      return -1;
    for (int r = 0; r < R; r++) {
      memcpy(d->sk[l].p + r * cs + (size_t)step * D, kk + (size_t)r * D, (size_t)D * sizeof(float));
      memcpy(d->sv[l].p + r * cs + (size_t)step * D, vv + (size_t)r * D, (size_t)D * sizeof(float));
    }
    attn_job sj = {.d = d, .mode = ATT_SELF, .q = q, .k = d->sk[l].p, .v = d->sv[l].p, .out = a,
                   .R = R, .nk = step + 1, .cs = cs, .sstride = d->escore.cap / (size_t)d->H};
    rt_kernels_parallel(d->k, d->H, attn_head, &sj);
    if (linear(d, a, R, S->o_w, S->o_b, t)) return -1;
    add_layernorm(y, t, R, D, F(d, L->ln_self.w), F(d, L->ln_self.b));
    if (c->decoder_layout == RT_DEC_INTERLEAVED) {
      if (ffn_block(d, L->ffn, y, R, c->decoder_ffn_dim, &d->h, t)) return -1;
      add_layernorm(y, t, R, D, F(d, L->ln_final.w), F(d, L->ln_final.b));
    }
    /* cross-attention over the row's source */
    if (linear(d, y, R, X->q_w, X->q_b, q)) return -1;
    attn_job xj = {.d = d, .mode = ATT_CROSS, .q = q, .k = d->xk[l].p, .v = d->xv[l].p, .out = a,
                   .R = R, .sstride = d->escore.cap / (size_t)d->H};
    rt_kernels_parallel(d->k, d->H, attn_head, &xj);
    if (linear(d, a, R, X->o_w, X->o_b, t)) return -1;
    add_layernorm(y, t, R, D, F(d, L->ln_cross.w), F(d, L->ln_cross.b));
    if (ffn_block(d, L->ffn, y, R, c->decoder_ffn_dim, &d->h, t)) return -1;
    add_layernorm(y, t, R, D, F(d, L->ln_final.w), F(d, L->ln_final.b));
  }
  /* tied output projection, then log-softmax of logits / temperature */
  float *lg = d->logits.p;
  if (rt_linear(d->k, y, R, E, NULL, lg)) return -1;
  log_softmax_rows(lg, R, V, temperature);
  return 0;
}

/* The schedule of an in-place gather new[r] = old[from[r]], r < R: pairs (dst, src) in the
 * order to copy, src = -1 meaning the cycle buffer and dst = -1 "save src into it". A row is
 * overwritten only after every row that reads its old content has been written; what is left
 * then are cycles (each remaining row is read by exactly one remaining row), each broken by
 * saving one row. scratch: 2 * rows_cap ints (reader counts of the old rows, then done flags);
 * ops: room for 2 * R pairs (each row written once, at most one save per two cycle rows).
 * Returns the number of pairs. */
static int reorder_schedule(int R, const int *from, int *scratch, int *ops) {
  int n = 0, maxrow = R;
  for (int r = 0; r < R; r++)
    if (from[r] + 1 > maxrow) maxrow = from[r] + 1;
  int *cnt = scratch, *done = scratch + maxrow; /* cnt[i]: unwritten rows reading old row i */
  for (int i = 0; i < maxrow; i++) cnt[i] = 0;
  for (int r = 0; r < R; r++)
    if (from[r] != r) cnt[from[r]]++;
  for (int r = 0; r < R; r++) done[r] = from[r] == r;
  for (int r0 = 0; r0 < R; r0++) {
    int r = r0;
    /* write r, then follow the chain of rows it frees */
    while (r >= 0 && r < R && !done[r] && cnt[r] == 0) {
      int s = from[r];
      ops[2 * n] = r, ops[2 * n + 1] = s, n++;
      done[r] = 1;
      r = --cnt[s] == 0 ? s : -1;
    }
  }
  for (int r0 = 0; r0 < R; r0++) {
    if (done[r0]) continue;
    ops[2 * n] = -1, ops[2 * n + 1] = r0, n++;
    int r = r0;
    while (from[r] != r0) {
      ops[2 * n] = r, ops[2 * n + 1] = from[r], n++;
      done[r] = 1;
      r = from[r];
    }
    ops[2 * n] = r, ops[2 * n + 1] = -1, n++;
    done[r] = 1;
  }
  return n;
}

int rt_decoder_reorder(rt_decoder *d, int R, const int *from, int steps) {
  size_t cs = (size_t)d->steps_cap * d->d, n = (size_t)steps * d->d * sizeof(float);
  int identity = 1;
  for (int r = 0; r < R; r++)
    if (from[r] != r) identity = 0;
  if (identity) return 0;
  int *scratch = d->reorder.p, *ops = scratch + 2 * d->rows_cap;
  int nops = reorder_schedule(R, from, scratch, ops);
  float *tmp = d->row_tmp.p;
  for (int l = 0; l < d->L; l++)
    for (int kv = 0; kv < 2; kv++) {
      float *c = kv ? d->sv[l].p : d->sk[l].p;
      for (int i = 0; i < nops; i++) {
        int dst = ops[2 * i], src = ops[2 * i + 1];
        memcpy(dst < 0 ? tmp : c + (size_t)dst * cs, src < 0 ? tmp : c + (size_t)src * cs, n);
      }
    }
  return 0;
}
