/* runtime/kernels.c: the linear layers' dispatch (which ISA path runs), the context (scratch for
 * quantised activations, a small persistent thread pool), the portable C paths and the
 * quantiser. The vector paths live in kernels_x86.c, kernels_neon.c and kernels_wasm.c.
 *
 * Must never depend on anything but libc, libm and pthreads, and must never allocate in
 * rt_linear once the scratch is large enough. docs/kernels.md describes the design.
 */
#include "runtime/kernels.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/kernels_internal.h"

#define RT_MAX_THREADS 64
#define RT_SPLIT_ALIGN 16               /* column chunks start at multiples of this */
#define RT_CHUNKS_PER_THREAD 4          /* chunks per thread: a late thread costs one chunk */
#define RT_MIN_CHUNK_MACS (1 << 15)     /* no chunk smaller than this many multiply-adds */
#define RT_MIN_PARALLEL_QUANT (1 << 15) /* activations quantised by all threads from here */
#define RT_ALIGN_COPY_ROWS 4            /* fp32 x misaligned with at least this many rows: copy */
#define RT_PURE_SPINS 64 /* pause-spins (a few µs) before spinning with sched_yield */
#define RT_SPIN_NS 50000 /* workers spin this long for the next job, then sleep */

/* ---- thread pool ----
 * A job is the output columns split into chunks of `cw` columns (a multiple of RT_SPLIT_ALIGN),
 * or, for int8, first the activation rows in chunks to quantise. The calling thread and the
 * workers claim chunks (a CAS on the job word, see claim_chunks) until none is left, so a worker
 * that is slow to wake (the machine is shared) delays a call by at most the chunk it claimed.
 * Every output element is computed by the same instructions whichever thread runs its chunk,
 * so results never depend on the thread count or on who ran what. */

typedef struct rt_job {
  const float *x;
  int M, K, N;
  const rt_mat *W;
  const float *b;
  float *y;
  int cw, nchunks; /* columns per chunk (rows per chunk for a quantisation job) */
  int quant;       /* 1: quantise x rows into the scratch; 0: the product; 2: fn(arg, chunk) */
  void (*fn)(void *arg, int i);
  void *arg;
} rt_job;

struct rt_kernels {
  rt_isa isa;
  rt_f32_fn f32;
  rt_i8_fn i8;
  rt_quant_fn quant;
  int avxvnni; /* the AVX2 path runs its int8 products with AVX-VNNI */
  /* scratch: quantised activations [rows, ld] and their scales */
  int8_t *xq; /* 64-byte aligned; also holds the aligned copy of a misaligned fp32 x */
  float *xs;
  size_t xq_cap, xs_cap; /* bytes of xq, floats of xs */
  size_t ld;             /* row stride of xq for the current call */
  size_t grows;          /* scratch reallocations so far (tests pin steady state) */
  /* pool: nthreads - 1 workers next to the calling thread */
  int nthreads;
  pthread_t *threads;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* the job word: generation (bits 40..63, bumped once per job) | number of chunks (24..39) |
   * next chunk to claim (0..23). One atomic word, so a claim can never mix two jobs. */
  _Atomic uint64_t work;
  unsigned gen;        /* generation of the job being published (calling thread only) */
  atomic_int finished; /* chunks done */
  atomic_int stop;
  rt_job job;
};

typedef struct {
  rt_kernels *k;
  unsigned gen0; /* job generation when the worker was created */
} rt_worker_arg;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void chunk_run(rt_kernels *k, int c) {
  const rt_job *j = &k->job;
  if (j->quant == 2) {
    j->fn(j->arg, c);
    return;
  }
  if (j->quant) {
    int r0 = c * j->cw, r1 = r0 + j->cw < j->M ? r0 + j->cw : j->M;
    for (int i = r0; i < r1; i++)
      k->quant(j->x + (size_t)i * j->K, j->K, k->xq + (size_t)i * k->ld, k->ld, k->xs + i);
    return;
  }
  int n0 = c * j->cw, n1 = n0 + j->cw < j->N ? n0 + j->cw : j->N;
  if (j->W->dtype == RT_F32)
    k->f32(j->x, j->M, j->K, j->W->f, j->b, j->y, j->N, n0, n1);
  else
    k->i8(k->xq, k->ld, k->xs, j->M, j->K, j->W->q, j->W->scale, j->W->rowsum, j->b, j->y, j->N, n0,
          n1);
}

#define WORK_GEN(v) ((unsigned)((v) >> 40))
#define WORK_NCH(v) ((int)(((v) >> 24) & 0xffff))
#define WORK_NEXT(v) ((int)((v)&0xffffff))

/* Claim and run chunks of job generation `gen` until none is left. A claim is a CAS on the job
 * word that checks the generation, so a thread still finishing an old job can never take a
 * chunk of the next one; the job struct is read only after a successful claim (and the caller
 * does not rewrite it until every claimed chunk is finished). */
static void claim_chunks(rt_kernels *k, unsigned gen) {
  uint64_t v = atomic_load_explicit(&k->work, memory_order_acquire);
  for (;;) {
    if (WORK_GEN(v) != gen || WORK_NEXT(v) >= WORK_NCH(v)) return;
    if (!atomic_compare_exchange_weak_explicit(&k->work, &v, v + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue; /* v now holds the current word */
    chunk_run(k, WORK_NEXT(v));
    atomic_fetch_add_explicit(&k->finished, 1, memory_order_acq_rel);
    v = atomic_load_explicit(&k->work, memory_order_acquire);
  }
}

static void *worker_main(void *arg) {
  rt_worker_arg a = *(rt_worker_arg *)arg;
  free(arg);
  rt_kernels *k = a.k;
  unsigned seen = a.gen0;
  for (;;) {
    /* spin a little (decoder calls come back to back), then sleep on the condvar */
    double t0 = now_ns();
    int spins = 0;
    while (WORK_GEN(atomic_load_explicit(&k->work, memory_order_acquire)) == seen &&
           !atomic_load_explicit(&k->stop, memory_order_acquire)) {
      /* After a short pure spin, yield: when the machine is oversubscribed this worker may
       * share a core with the calling thread, which it must not keep off the CPU (without the
       * yield a 1 µs product took the whole 50 µs spin on a loaded machine). */
      if (++spins < RT_PURE_SPINS)
        cpu_relax();
      else
        sched_yield();
      if (spins % 16 == 0 && now_ns() - t0 > RT_SPIN_NS) {
        pthread_mutex_lock(&k->mu);
        while (WORK_GEN(atomic_load_explicit(&k->work, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&k->stop, memory_order_acquire))
          pthread_cond_wait(&k->cv, &k->mu);
        pthread_mutex_unlock(&k->mu);
        break;
      }
    }
    if (atomic_load_explicit(&k->stop, memory_order_acquire)) return NULL;
    seen = WORK_GEN(atomic_load_explicit(&k->work, memory_order_acquire));
    claim_chunks(k, seen);
  }
}

static void pool_stop(rt_kernels *k) {
  if (!k->threads) return;
  pthread_mutex_lock(&k->mu);
  atomic_store_explicit(&k->stop, 1, memory_order_release);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
  for (int t = 0; t < k->nthreads - 1; t++) pthread_join(k->threads[t], NULL);
  free(k->threads);
  k->threads = NULL;
  k->nthreads = 1;
  atomic_store(&k->stop, 0);
}

/* Run k->job on the calling thread and the workers; returns when every chunk is done. */
static void pool_run(rt_kernels *k) {
  if (k->job.nchunks <= 1 || k->nthreads <= 1) {
    for (int c = 0; c < k->job.nchunks; c++) chunk_run(k, c);
    return;
  }
  atomic_store_explicit(&k->finished, 0, memory_order_relaxed);
  k->gen = (k->gen + 1) & 0xffffff;
  uint64_t w = ((uint64_t)k->gen << 40) | ((uint64_t)k->job.nchunks << 24);
  pthread_mutex_lock(&k->mu);
  atomic_store_explicit(&k->work, w, memory_order_release); /* publishes job and finished = 0 */
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
  claim_chunks(k, k->gen);
  int spins = 0;
  while (atomic_load_explicit(&k->finished, memory_order_acquire) < k->job.nchunks) {
    if (++spins < RT_PURE_SPINS)
      cpu_relax();
    else
      sched_yield(); /* the worker holding a chunk may be waiting for this core */
  }
}

int rt_kernels_set_threads(rt_kernels *k, int n) {
  if (!k || n < 1) return -1;
  if (n > RT_MAX_THREADS) n = RT_MAX_THREADS;
  if (n == k->nthreads) return 0;
  pool_stop(k);
  if (n == 1) return 0;
  k->threads = calloc((size_t)n - 1, sizeof *k->threads);
  if (!k->threads) return -1;
  k->gen = 0;
  atomic_store(&k->work, 0);
  for (int t = 0; t < n - 1; t++) {
    rt_worker_arg *a = malloc(sizeof *a);
    if (a) *a = (rt_worker_arg){k, 0};
    if (!a || pthread_create(&k->threads[t], NULL, worker_main, a) != 0) {
      free(a);
      k->nthreads = t + 1; /* join the ones started */
      pool_stop(k);
      return -1;
    }
  }
  k->nthreads = n;
  return 0;
}

int rt_kernels_threads(const rt_kernels *k) { return k ? k->nthreads : 0; }

/* ---- ISA detection and the context ---- */

static int isa_supported(rt_isa isa) {
  if (isa == RT_ISA_PORTABLE) return 1;
#ifdef RT_HAVE_X86
  if (isa == RT_ISA_AVX2 || isa == RT_ISA_AVX512 || isa == RT_ISA_AVX512_VNNI)
    return rt_x86_supports((int)isa);
#endif
#ifdef RT_HAVE_NEON
  if (isa == RT_ISA_NEON) return 1;
#endif
#ifdef RT_HAVE_WASM_SIMD
  if (isa == RT_ISA_SIMD128) return 1;
#endif
  return 0;
}

/* isa, or the best supported ISA below it */
static rt_isa isa_clamp(rt_isa isa) {
  if ((int)isa < 0 || (int)isa > (int)RT_ISA_SIMD128) isa = RT_ISA_SIMD128;
  while (isa != RT_ISA_PORTABLE && !isa_supported(isa)) isa = (rt_isa)((int)isa - 1);
  return isa;
}

const char *rt_isa_name(rt_isa isa) {
  switch (isa) {
  case RT_ISA_PORTABLE:
    return "portable";
  case RT_ISA_AVX2:
    return "avx2";
  case RT_ISA_AVX512:
    return "avx512";
  case RT_ISA_AVX512_VNNI:
    return "avx512vnni";
  case RT_ISA_NEON:
    return "neon";
  case RT_ISA_SIMD128:
    return "simd128";
  }
  return "unknown";
}

rt_isa rt_isa_detect(void) {
  rt_isa best = isa_clamp(RT_ISA_SIMD128);
  const char *env = getenv("EF_RUNTIME_ISA");
  if (env && *env) {
    for (int i = RT_ISA_PORTABLE; i <= RT_ISA_SIMD128; i++)
      if (!strcmp(env, rt_isa_name((rt_isa)i))) return isa_clamp((rt_isa)i);
  }
  return best;
}

rt_kernels *rt_kernels_new(rt_isa isa) {
  rt_kernels *k = calloc(1, sizeof *k);
  if (!k) return NULL;
  k->isa = isa_clamp(isa);
  k->f32 = rt_f32_portable;
  k->i8 = rt_i8_portable;
  k->quant = rt_quant_portable;
  switch (k->isa) {
#ifdef RT_HAVE_X86
  case RT_ISA_AVX2:
    k->f32 = rt_f32_avx2, k->i8 = rt_i8_avx2, k->quant = rt_quant_avx2;
    /* AVX-VNNI CPUs (no AVX-512) get 256-bit vpdpbusd for int8; EF_RUNTIME_NO_AVXVNNI=1 keeps
     * the vpmaddubsw kernel (tests run both) */
    if (rt_x86_has_avxvnni() && !getenv("EF_RUNTIME_NO_AVXVNNI"))
      k->i8 = rt_i8_avxvnni, k->quant = rt_quant_avx2_u8, k->avxvnni = 1;
    break;
  case RT_ISA_AVX512:
    k->f32 = rt_f32_avx512, k->i8 = rt_i8_avx512, k->quant = rt_quant_avx512;
    break;
  case RT_ISA_AVX512_VNNI:
    k->f32 = rt_f32_avx512, k->i8 = rt_i8_avx512vnni, k->quant = rt_quant_avx512_u8;
    break;
#endif
#ifdef RT_HAVE_NEON
  case RT_ISA_NEON:
    k->f32 = rt_f32_neon, k->i8 = rt_i8_neon, k->quant = rt_quant_neon;
    break;
#endif
#ifdef RT_HAVE_WASM_SIMD
  case RT_ISA_SIMD128:
    k->f32 = rt_f32_simd128, k->i8 = rt_i8_simd128, k->quant = rt_quant_simd128;
    break;
#endif
  default:
    break;
  }
  k->nthreads = 1;
  pthread_mutex_init(&k->mu, NULL);
  pthread_cond_init(&k->cv, NULL);
  atomic_init(&k->work, 0);
  atomic_init(&k->finished, 0);
  atomic_init(&k->stop, 0);
  return k;
}

void rt_kernels_free(rt_kernels *k) {
  if (!k) return;
  pool_stop(k);
  pthread_mutex_destroy(&k->mu);
  pthread_cond_destroy(&k->cv);
  free(k->xq);
  free(k->xs);
  free(k);
}

rt_isa rt_kernels_isa(const rt_kernels *k) { return k->isa; }

const char *rt_kernels_name(const rt_kernels *k) {
  return k->avxvnni ? "avx2+avxvnni" : rt_isa_name(k->isa);
}

size_t rt_kernels_scratch_grows(const rt_kernels *k) { return k->grows; }

static size_t padded_cols(int cols) {
  return ((size_t)(cols > 0 ? cols : 1) + RT_KPAD - 1) / RT_KPAD * RT_KPAD;
}

int rt_kernels_reserve(rt_kernels *k, int max_rows, int max_cols) {
  if (max_rows < 1) max_rows = 1;
  /* room for the int8 rows or for an aligned fp32 copy of x (rt_linear); pages never written
   * cost no resident memory */
  size_t need_q = (size_t)max_rows * padded_cols(max_cols) * sizeof(float);
  size_t need_s = (size_t)max_rows;
  if (need_q > k->xq_cap) {
    /* 64-byte aligned so that each padded row starts on a cache line */
    void *p = NULL;
    if (posix_memalign(&p, 64, need_q) != 0) return -1;
    free(k->xq);
    k->xq = p;
    k->xq_cap = need_q;
    k->grows++;
  }
  if (need_s > k->xs_cap) {
    float *p = realloc(k->xs, need_s * sizeof *p);
    if (!p) return -1;
    k->xs = p;
    k->xs_cap = need_s;
    k->grows++;
  }
  return 0;
}

/* ---- quantisation ---- */

/* One row; returns Σ q. The arithmetic is rt_quant1 / rt_quant_scale / rt_quant_inv
 * (kernels_internal.h), shared with the vector quantisers of the activations. */
static int32_t quantize_row(const float *w, int cols, int8_t *q, float *scale) {
  float m = 0.0f;
  for (int c = 0; c < cols; c++) {
    float a = fabsf(w[c]);
    m = a > m ? a : m; /* NaN never wins */
  }
  float s = rt_quant_scale(m), inv = rt_quant_inv(m);
  int32_t sum = 0;
  for (int c = 0; c < cols; c++) {
    q[c] = rt_quant1(w[c], inv);
    sum += q[c];
  }
  *scale = s;
  return sum;
}

void rt_quant_portable(const float *x, int K, int8_t *q, size_t ld, float *scale) {
  quantize_row(x, K, q, scale);
  memset(q + K, 0, ld - (size_t)K);
}

void rt_quantize_rows(const float *w, int rows, int cols, int8_t *q, float *scale,
                      int32_t *rowsum) {
  for (int r = 0; r < rows; r++) {
    int32_t s = quantize_row(w + (size_t)r * cols, cols, q + (size_t)r * cols, scale + r);
    if (rowsum) rowsum[r] = s;
  }
}

/* ---- portable C paths ---- */

void rt_f32_portable(const float *x, int M, int K, const float *W, const float *b, float *y, int N,
                     int n0, int n1) {
  for (int n = n0; n < n1; n++) {
    const float *w = W + (size_t)n * K;
    for (int i = 0; i < M; i++) {
      const float *xi = x + (size_t)i * K;
      float s[8] = {0};
      int k = 0;
      for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; l++) s[l] += xi[k + l] * w[k + l];
      for (int l = 0; k < K; k++, l++) s[l] += xi[k] * w[k];
      float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
      y[(size_t)i * N + n] = b ? t + b[n] : t;
    }
  }
}

void rt_i8_portable(const int8_t *xq, size_t ldq, const float *xs, int M, int K, const int8_t *Wq,
                    const float *ws, const int32_t *rowsum, const float *b, float *y, int N, int n0,
                    int n1) {
  for (int n = n0; n < n1; n++) {
    const int8_t *w = Wq + (size_t)n * K;
    for (int i = 0; i < M; i++) {
      const int8_t *xi = xq + (size_t)i * ldq;
      int32_t d = 0;
      for (int k = 0; k < K; k++) d += (int32_t)xi[k] * (int32_t)w[k];
      y[(size_t)i * N + n] = rt_i8_out(d, xs[i], ws[n], b, n);
    }
  }
}

/* ---- any loop ---- */

void rt_kernels_parallel(rt_kernels *k, int n, void (*fn)(void *arg, int i), void *arg) {
  if (n <= 0) return;
  if (n > 0xffff) { /* the job word counts chunks in 16 bits */
    for (int i = 0; i < n; i++) fn(arg, i);
    return;
  }
  k->job = (rt_job){.nchunks = n, .quant = 2, .fn = fn, .arg = arg};
  pool_run(k);
}

/* ---- the linear layer ---- */

int rt_linear(rt_kernels *k, const float *x, int M, const rt_mat *W, const float *b, float *y) {
  int N = W->rows, K = W->cols;
  if (W->dtype != RT_F32 && W->dtype != RT_I8) return -1;
  if (W->dtype == RT_I8 && K > RT_MAX_DIM) return -1; /* int32 dot products could overflow */
  if (M <= 0 || N <= 0) return 0;
  if (K <= 0) {
    for (int i = 0; i < M; i++)
      for (int n = 0; n < N; n++) y[(size_t)i * N + n] = b ? b[n] : 0.0f;
    return 0;
  }
  if (W->dtype == RT_F32 && k->isa != RT_ISA_PORTABLE && ((uintptr_t)x & 63) != 0 && K % 16 == 0 &&
      M >= RT_ALIGN_COPY_ROWS) {
    /* vector loads of a misaligned x straddle cache lines (~30% slower GEMM on AVX-512); a
     * copy costs M·K against M·N·K multiply-adds */
    if (rt_kernels_reserve(k, M, K) < 0) return -1;
    memcpy(k->xq, x, (size_t)M * K * sizeof *x);
    x = (const float *)(void *)k->xq;
  }
  if (W->dtype == RT_I8) {
    if (rt_kernels_reserve(k, M, K) < 0) return -1;
    k->ld = padded_cols(K);
    /* quantise the rows, spread over the threads when there are many */
    int nq = 1;
    if (k->nthreads > 1 && (double)M * K >= RT_MIN_PARALLEL_QUANT) nq = k->nthreads * 2;
    if (nq > M) nq = M;
    int rw = (M + nq - 1) / nq;
    k->job = (rt_job){x, M, K, N, W, b, y, rw, (M + rw - 1) / rw, 1};
    pool_run(k);
  }
  /* chunks: about RT_CHUNKS_PER_THREAD per thread, none below RT_MIN_CHUNK_MACS */
  int nch = 1;
  if (k->nthreads > 1) {
    double macs = (double)M * N * K;
    int by_work = (int)(macs / RT_MIN_CHUNK_MACS),
        by_cols = (N + RT_SPLIT_ALIGN - 1) / RT_SPLIT_ALIGN;
    nch = k->nthreads * RT_CHUNKS_PER_THREAD;
    if (nch > by_work) nch = by_work;
    if (nch > by_cols) nch = by_cols;
    if (nch < 1) nch = 1;
  }
  int cw = (N + nch - 1) / nch;
  cw = (cw + RT_SPLIT_ALIGN - 1) / RT_SPLIT_ALIGN * RT_SPLIT_ALIGN;
  k->job = (rt_job){x, M, K, N, W, b, y, cw, (N + cw - 1) / cw, 0};
  pool_run(k);
  return 0;
}
