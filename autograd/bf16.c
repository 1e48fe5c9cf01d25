/* bf16.c: bf16 products through oneDNN's matmul primitive, split over our worker pool. Must
 * never let oneDNN start OpenMP threads of its own (each call runs single-threaded inside a
 * pool thread), and never take this path on a CPU that would emulate bf16. */
#include "autograd/bf16.h"

#include "autograd/parallel.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds a product runs on the caller's thread alone. */
#define EF_BF16_SPLIT_MACS (1 << 21)
/* Blocks handed to threads are multiples of this many rows/columns. */
#define EF_BF16_SPLIT_ALIGN 32
/* Conversions below this many elements run on the caller's thread. */
#define EF_BF16_CONVERT_SERIAL (1 << 16)

static inline ef_bf16 to_bf16(float f) {
  union {
    float f;
    uint32_t u;
  } v = {f};
  if ((v.u & 0x7fffffffu) > 0x7f800000u) return (ef_bf16)((v.u >> 16) | 0x40u); /* quiet NaN */
  v.u += 0x7fffu + ((v.u >> 16) & 1u);
  return (ef_bf16)(v.u >> 16);
}

typedef struct {
  ef_bf16 *dst;
  const float *src;
} convert_args;

static void convert_body(void *p, int64_t b, int64_t e, int tid) {
  const convert_args *a = p;
  ef_bf16 *restrict d = a->dst;
  const float *restrict s = a->src;
#pragma omp simd
  for (int64_t i = b; i < e; i++) d[i] = to_bf16(s[i]);
}

void ef_bf16_from_f32(ef_bf16 *dst, const float *src, int64_t n) {
  convert_args a = {dst, src};
  if (n < EF_BF16_CONVERT_SERIAL)
    convert_body(&a, 0, n, 0);
  else
    ef_parallel_for(n, convert_body, &a);
}

#ifdef EF_HAVE_DNNL
#include <dnnl.h>

/* libgomp's: oneDNN here is built on OpenMP; 1 keeps each call on its pool thread. */
extern void omp_set_num_threads(int n);

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int supported;
static const char *why = "not initialised";
static dnnl_engine_t engine;
static dnnl_primitive_t prims[2][2][2]; /* [trans_a][trans_b][beta] */
static dnnl_primitive_t prim_bias;      /* A·Bᵀ + bias */
static dnnl_stream_t streams[EF_MAX_THREADS];
static __thread int omp_single;

/* AVX512_BF16: CPUID leaf 7 subleaf 1, EAX bit 5. AMX-BF16: leaf 7 subleaf 0, EDX bit 22. */
static int cpu_bf16(const char **name) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
  if (a < 7) return 0;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
  unsigned max_sub = a, amx = (d >> 22) & 1u;
  unsigned avx512bf16 = 0;
  if (max_sub >= 1) {
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
    avx512bf16 = (a >> 5) & 1u;
  }
  *name = amx ? "amx_bf16" : "avx512_bf16";
  return (int)(amx | avx512bf16);
#else
  (void)name;
  return 0;
#endif
}

/* prims[ta][tb][beta], or with_bias: prim_bias (ta 0, tb 1, beta 0). */
static int make_primitive(int ta, int tb, int beta, int with_bias) {
  const dnnl_dim_t R = DNNL_RUNTIME_DIM_VAL;
  dnnl_dims_t d = {R, R}, bd = {1, R};
  dnnl_memory_desc_t a, b, c, bias;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_desc_t pd = NULL;
  int ok = 0;
  if (dnnl_memory_desc_init_by_tag(&a, 2, d, dnnl_bf16, ta ? dnnl_ba : dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&b, 2, d, dnnl_bf16, tb ? dnnl_ba : dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&c, 2, d, dnnl_f32, dnnl_ab) ||
      dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab))
    return 0;
  dnnl_matmul_desc_t md;
  if (dnnl_matmul_desc_init(&md, &a, &b, with_bias ? &bias : NULL, &c) ||
      dnnl_primitive_attr_create(&attr))
    return 0;
  if (beta && (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, 1.0f) ||
               dnnl_primitive_attr_set_post_ops(attr, po)))
    goto out;
  if (dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL)) goto out;
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  /* Only the JIT gemm runs bf16 natively with run-time shapes; "ref" would be a slow loop. */
  if (!impl || strncmp(impl, "gemm:jit", 8) != 0) {
    why = "oneDNN offers no native bf16 matmul for run-time shapes on this CPU";
    goto out;
  }
  if (dnnl_primitive_create(with_bias ? &prim_bias : &prims[ta][tb][beta], pd)) goto out;
  ok = 1;
out:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (po) dnnl_post_ops_destroy(po);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return ok;
}

static void init(void) {
  const char *isa = NULL;
  if (!cpu_bf16(&isa)) {
    why = "cpu has no bf16 dot-product instructions (AVX512_BF16 or AMX-BF16)";
    return;
  }
  if (dnnl_engine_create(&engine, dnnl_cpu, 0)) {
    why = "oneDNN could not create a CPU engine";
    return;
  }
  why = "oneDNN could not create a bf16 matmul";
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int beta = 0; beta < 2; beta++)
        if (!make_primitive(ta, tb, beta, 0)) return;
  if (!make_primitive(0, 1, 0, 1)) return;
  supported = 1;
  why = isa;
}

int ef_bf16_supported(void) {
  pthread_once(&init_once, init);
  return supported;
}

const char *ef_bf16_describe(void) {
  pthread_once(&init_once, init);
  return why;
}

typedef struct {
  int ta, tb, M, N, K, beta, split_rows;
  const ef_bf16 *A, *B;
  float *C;
  const float *bias; /* with ta 0, tb 1, beta 0 only */
} job_t;

/* One single-threaded product: C block [m, n] (leading dimension ldc) from A and B blocks
 * given by their strides. */
static void run(const job_t *j, int tid, int m, int n, const ef_bf16 *A, const dnnl_dims_t as,
                const ef_bf16 *B, const dnnl_dims_t bs, float *C, int ldc, const float *bias) {
  if (!omp_single) {
    omp_set_num_threads(1);
    omp_single = 1;
  }
  if (!streams[tid] && dnnl_stream_create(&streams[tid], engine, dnnl_stream_default_flags)) {
    fprintf(stderr, "fatal: oneDNN could not create a stream\n");
    abort();
  }
  dnnl_dims_t ad = {m, j->K}, bd = {j->K, n}, cd = {m, n}, cs = {ldc, 1}, vd = {1, n};
  dnnl_memory_desc_t amd, bmd, cmd, vmd;
  dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mv = NULL;
  dnnl_status_t s = dnnl_memory_desc_init_by_strides(&amd, 2, ad, dnnl_bf16, as);
  if (!s) s = dnnl_memory_desc_init_by_strides(&bmd, 2, bd, dnnl_bf16, bs);
  if (!s) s = dnnl_memory_desc_init_by_strides(&cmd, 2, cd, dnnl_f32, cs);
  if (!s) s = dnnl_memory_create(&ma, &amd, engine, (void *)A);
  if (!s) s = dnnl_memory_create(&mb, &bmd, engine, (void *)B);
  if (!s) s = dnnl_memory_create(&mc, &cmd, engine, C);
  if (!s && bias) s = dnnl_memory_desc_init_by_tag(&vmd, 2, vd, dnnl_f32, dnnl_ab);
  if (!s && bias) s = dnnl_memory_create(&mv, &vmd, engine, (void *)bias);
  if (!s) {
    dnnl_exec_arg_t args[4] = {
        {DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_BIAS, mv}};
    s = dnnl_primitive_execute(bias ? prim_bias : prims[j->ta][j->tb][j->beta], streams[tid],
                               bias ? 4 : 3, args);
    if (!s) s = dnnl_stream_wait(streams[tid]);
  }
  if (mv) dnnl_memory_destroy(mv);
  if (ma) dnnl_memory_destroy(ma);
  if (mb) dnnl_memory_destroy(mb);
  if (mc) dnnl_memory_destroy(mc);
  if (s) { /* shapes were checked by the caller: only an allocation failure gets here */
    fprintf(stderr, "fatal: oneDNN bf16 matmul failed (status %d, %dx%dx%d)\n", (int)s, m, n, j->K);
    abort();
  }
}

/* Rows [lo, hi) of C, or columns [lo, hi) of C. */
static void run_block(const job_t *j, int tid, int lo, int hi) {
  int64_t M = j->M, N = j->N, K = j->K;
  dnnl_dims_t as, bs;
  as[0] = j->ta ? 1 : K, as[1] = j->ta ? M : 1;
  bs[0] = j->tb ? 1 : N, bs[1] = j->tb ? K : 1;
  if (j->split_rows)
    run(j, tid, hi - lo, j->N, j->A + (j->ta ? lo : (int64_t)lo * K), as, j->B, bs,
        j->C + (int64_t)lo * N, j->N, j->bias);
  else
    run(j, tid, j->M, hi - lo, j->A, as, j->B + (j->tb ? (int64_t)lo * K : lo), bs, j->C + lo, j->N,
        j->bias ? j->bias + lo : NULL);
}

static void block_body(void *p, int64_t b0, int64_t b1, int tid) {
  const job_t *j = p;
  int total = j->split_rows ? j->M : j->N;
  int lo = (int)b0 * EF_BF16_SPLIT_ALIGN, hi = (int)b1 * EF_BF16_SPLIT_ALIGN;
  if (hi > total) hi = total;
  if (lo < hi) run_block(j, tid, lo, hi);
}

static void gemm(int trans_a, int trans_b, int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B,
                 float beta, float *C, const float *bias) {
  if (M == 0 || N == 0) return;
  if (!ef_bf16_supported()) {
    fprintf(stderr, "fatal: ef_bf16_gemm called without bf16 support (%s)\n", why);
    abort();
  }
  if (K == 0) {
    for (int64_t i = 0; i < (int64_t)M; i++)
      for (int64_t c = 0; c < N; c++)
        C[i * N + c] = (beta != 0.0f ? C[i * N + c] : 0.0f) + (bias ? bias[c] : 0.0f);
    return;
  }
  job_t j = {!!trans_a, !!trans_b, M, N, K, beta != 0.0f, M >= N, A, B, C, bias};
  int nt = ef_num_threads();
  if (nt == 1 || (double)M * (double)N * (double)K < (double)EF_BF16_SPLIT_MACS) {
    run_block(&j, 0, 0, j.split_rows ? M : N);
    return;
  }
  int split = j.split_rows ? M : N;
  ef_parallel_for((split + EF_BF16_SPLIT_ALIGN - 1) / EF_BF16_SPLIT_ALIGN, block_body, &j);
}

void ef_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B,
                  float beta, float *C) {
  gemm(trans_a, trans_b, M, N, K, A, B, beta, C, NULL);
}

void ef_bf16_gemm_bias(int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B, const float *bias,
                       float *C) {
  gemm(0, 1, M, N, K, A, B, 0.0f, C, bias);
}

#else /* built without oneDNN */

int ef_bf16_supported(void) { return 0; }
const char *ef_bf16_describe(void) { return "built without oneDNN"; }
void ef_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B,
                  float beta, float *C) {
  fprintf(stderr, "fatal: ef_bf16_gemm called in a build without oneDNN\n");
  abort();
}
void ef_bf16_gemm_bias(int M, int N, int K, const ef_bf16 *A, const ef_bf16 *B, const float *bias,
                       float *C) {
  fprintf(stderr, "fatal: ef_bf16_gemm_bias called in a build without oneDNN\n");
  abort();
}

#endif
