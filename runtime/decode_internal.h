/* runtime/decode_internal.h: the decoder's state, shared by forward.c (the network: encoder and
 * one incremental decoder step) and search.c (beam search and sampling). Not a public header. */
#ifndef EF_RUNTIME_DECODE_INTERNAL_H
#define EF_RUNTIME_DECODE_INTERNAL_H

#include <stdint.h>

#include "runtime/decode.h"

#define RT_MAX_HEAD_DIM 1024 /* d / heads; checked by rt_decoder_new */

/* The decoder's own hot loops (attention, LayerNorm, softmax, candidate scans) are compiled for
 * several x86 levels and picked when the program loads (GCC's target_clones): runtime/ is built
 * without -march so that one binary runs on any x86-64 (the linear kernels dispatch by
 * themselves, runtime/kernels.h). Elsewhere (aarch64, clang) they are compiled once. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RT_HOT __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RT_HOT
#endif

/* One growable float buffer. */
typedef struct {
  float *p;
  size_t cap; /* floats */
} rt_fbuf;

/* A growable array of any element type (ints, hypotheses, ...). */
typedef struct {
  void *p;
  size_t cap; /* bytes */
} rt_buf;

struct rt_decoder {
  const rt_model *m;
  rt_kernels *k;
  int own_k;
  int d, H, dh, L; /* L = decoder layers */
  float *freq;     /* [d/2] sinusoid frequencies, fairseq's float32 values */

  /* encoder (all sentences of a call concatenated: rows = Σ src_len) */
  rt_fbuf ex, eq, ek, ev, ea, et, eh, escore;
  int n_src;
  rt_buf src_off, src_len; /* int [n] */
  rt_fbuf *xk, *xv;        /* [L] cross-attention keys/values [rows, d] */

  /* decoder: R rows (hypotheses), self-attention caches [row][step][d] per layer */
  int rows_cap, steps_cap;
  rt_fbuf *sk, *sv;
  rt_fbuf row_tmp; /* one row's cache [steps][d]: rt_decoder_reorder's cycle buffer */
  rt_buf reorder;  /* int [4 * rows_cap]: rt_decoder_reorder's schedule */
  rt_fbuf y, q, kk, vv, a, t, h, logits;
  rt_buf row_sent; /* int [R]: the sentence whose cross K/V row r attends to */

  /* search state (search.c) */
  rt_buf tokens, scores, cand, fin, hypos, work;
  int n_sent, nbest;
};

/* grow helpers: 0 or -1 (out of memory); contents are not preserved unless noted */
int rt_fbuf_reserve(rt_fbuf *b, size_t n);
int rt_buf_reserve(rt_buf *b, size_t bytes);
int rt_buf_grow_keep(rt_buf *b, size_t bytes); /* preserves contents */

/* Encode n sentences; afterwards the cross-attention K/V of every decoder layer are ready.
 * Sources were validated by the caller. 0 or -1 (out of memory). */
int rt_encode(rt_decoder *d, int n, const int *const *src, const int *src_len);
/* Make room for R rows and `steps` decoding steps. 0 or -1. */
int rt_decoder_reserve(rt_decoder *d, int R, int steps);
/* One incremental step for R rows: tokens[r] is row r's input token at position step + 2,
 * row_sent (set by the caller) maps rows to sentences. Writes log-probabilities of
 * logits / temperature to d->logits [R, V]. 0 or -1. */
int rt_decoder_step(rt_decoder *d, int R, const int *tokens, int step, float temperature);
/* Reorder the self-attention caches: new row r <- old row from[r] (R new rows, from[r] <
 * rows_cap), first `steps` positions. In place: rows with from[r] == r are not touched, and one
 * row of scratch breaks cycles, so the caches need no second copy. 0 or -1. */
int rt_decoder_reorder(rt_decoder *d, int R, const int *from, int steps);

#endif
