/* bench_kernels: the runtime's linear layer (runtime/kernels.h) on EdgeLM's shapes, fp32 and
 * int8, 1 and 2 threads, against single-threaded OpenBLAS sgemm on the same (M, N, K) in the
 * same run (the peer; OpenBLAS is only linked by this benchmark, never by runtime/).
 *
 * The peer is cblas_sgemm, or cblas_sgemv when M = 1 (OpenBLAS's sgemm is 10x slower than its
 * sgemv there). Every variant of one shape is timed in turn inside each repetition (so a burst of
 * load from another process hits all of them alike); each timing repeats the call for about 0.5 ms.
 * Prints medians: GFLOP/s for fp32 and GOP/s for int8 (2·M·N·K per call, activation
 * quantisation included in the int8 time) and the ratios to OpenBLAS.
 *
 * Usage: bench_kernels [--best] [repetitions [M ...]]   (default 15 repetitions, M = 1 5 30 150;
 * EF_RUNTIME_ISA=portable|avx2|avx512|avx512vnni caps the ISA; the one used is printed) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "autograd/blas.h"
#include "runtime/kernels.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* (N, K) of EdgeLM's linear layers: attention projections, FFN, LoRA-style adapters, the
 * output projection (V = 2048, same shape as fc1) */
static const struct {
  int N, K;
  const char *what;
} SHAPES[] = {{512, 512, "q/k/v/out"},    {2048, 512, "fc1, output proj"}, {512, 2048, "fc2"},
              {128, 512, "adapter down"}, {512, 128, "adapter up"},        {32, 512, "lora down"},
              {512, 32, "lora up"}};
static int MS[16] = {1, 5, 30, 150}, NM = 4;
#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void *amalloc(size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, 64, n) != 0) {
    fprintf(stderr, "error: bench_kernels: out of memory\n");
    exit(1);
  }
  return p;
}

enum { V_F32_1, V_F32_2, V_I8_1, V_I8_2, V_BLAS, NV };
static const char *VNAME[NV] = {"f32 1T", "f32 2T", "i8 1T", "i8 2T", "BLAS 1T"};

typedef struct {
  rt_kernels *k1, *k2;
  const float *x, *b;
  float *y;
  rt_mat Wf, Wq;
  int M, N, K;
} bench;

static void run(const bench *s, int v) {
  switch (v) {
  case V_F32_1:
    rt_linear(s->k1, s->x, s->M, &s->Wf, s->b, s->y);
    break;
  case V_F32_2:
    rt_linear(s->k2, s->x, s->M, &s->Wf, s->b, s->y);
    break;
  case V_I8_1:
    rt_linear(s->k1, s->x, s->M, &s->Wq, s->b, s->y);
    break;
  case V_I8_2:
    rt_linear(s->k2, s->x, s->M, &s->Wq, s->b, s->y);
    break;
  case V_BLAS: /* M = 1: OpenBLAS's own GEMV (its sgemm is far slower there), as a caller would */
    if (s->M == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, s->N, s->K, 1.0f, s->Wf.f, s->K, s->x, 1, 0.0f, s->y,
                  1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->M, s->N, s->K, 1.0f, s->x, s->K,
                  s->Wf.f, s->K, 0.0f, s->y, s->N);
    break;
  }
}

int main(int argc, char **argv) {
  /* --best: report the best timing instead of the median (on a shared machine, the best shows
   * what 2 threads do when the second core happens to be free) */
  int best = 0;
  if (argc > 1 && !strcmp(argv[1], "--best")) best = 1, argc--, argv++;
  int reps = argc > 1 ? atoi(argv[1]) : 15;
  if (reps < 1) reps = 1;
  if (argc > 2) {
    NM = 0;
    for (int a = 2; a < argc && NM < 16; a++)
      if (atoi(argv[a]) >= 1 && atoi(argv[a]) <= 150) MS[NM++] = atoi(argv[a]);
  }
  ef_blas_init(); /* OpenBLAS's AVX-512 kernels on this CPU, single-threaded */
  openblas_set_num_threads(1);
  rt_isa isa = rt_isa_detect();
  bench s = {0};
  s.k1 = rt_kernels_new(isa);
  s.k2 = rt_kernels_new(isa);
  if (!s.k1 || !s.k2 || rt_kernels_set_threads(s.k2, 2) != 0) {
    fprintf(stderr, "error: bench_kernels: cannot create kernel contexts\n");
    return 1;
  }
  printf("bench_kernels: ISA %s, OpenBLAS %s (1 thread), %s of %d\n", rt_kernels_name(s.k1),
         openblas_get_corename(), best ? "best" : "medians", reps);
  printf("%-17s %5s %5s %4s | %8s %8s %8s %8s %8s | %6s %6s %6s %6s\n", "layer", "N", "K", "M",
         VNAME[0], VNAME[1], VNAME[2], VNAME[3], VNAME[4], "f32/bl", "i8/bl", "f32 2/1", "i8 2/1");

  int maxN = 2048, maxK = 2048, maxM = 150;
  /* 64-byte aligned, as tensors in a .efm file and the decoder's buffers are */
  float *x = amalloc((size_t)maxM * maxK * sizeof *x),
        *w = amalloc((size_t)maxN * maxK * sizeof *w);
  float *b = amalloc((size_t)maxN * sizeof *b), *y = amalloc((size_t)maxM * maxN * sizeof *y);
  int8_t *q = amalloc((size_t)maxN * maxK);
  float *ws = malloc((size_t)maxN * sizeof *ws);
  int32_t *rs = malloc((size_t)maxN * sizeof *rs);
  for (size_t i = 0; i < (size_t)maxM * maxK; i++)
    x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  for (size_t i = 0; i < (size_t)maxN * maxK; i++)
    w[i] = 0.02f * ((float)((i * 7919) % 101) - 50.0f) / 50.0f;
  for (int i = 0; i < maxN; i++) b[i] = 0.01f * (float)(i % 7);
  rt_kernels_reserve(s.k1, maxM, maxK);
  rt_kernels_reserve(s.k2, maxM, maxK);
  double *t = malloc((size_t)reps * NV * sizeof *t);

  for (int si = 0; si < LEN(SHAPES); si++) {
    int N = SHAPES[si].N, K = SHAPES[si].K;
    rt_quantize_rows(w, N, K, q, ws, rs);
    s.Wf = (rt_mat){.rows = N, .cols = K, .dtype = RT_F32, .f = w};
    s.Wq = (rt_mat){.rows = N, .cols = K, .dtype = RT_I8, .q = q, .scale = ws, .rowsum = rs};
    s.x = x, s.b = b, s.y = y, s.N = N, s.K = K;
    for (int mi = 0; mi < NM; mi++) {
      s.M = MS[mi];
      double ops = 2.0 * s.M * N * K;
      int calls[NV];
      for (int v = 0; v < NV; v++) { /* calibrate: calls per timing of ~2 ms */
        run(&s, v);
        double t0 = now();
        int c = 0;
        do run(&s, v), c++;
        while (now() - t0 < 5e-4);
        calls[v] = c; /* ~0.5 ms per timing: short enough that most fall inside one time slice */
      }
      for (int r = 0; r < reps; r++)
        for (int v = 0; v < NV; v++) {
          double t0 = now();
          for (int c = 0; c < calls[v]; c++) run(&s, v);
          t[v * reps + r] = ops * calls[v] / (now() - t0) / 1e9;
        }
      double med[NV];
      for (int v = 0; v < NV; v++) {
        med[v] = median(t + v * reps, reps); /* sorts */
        if (best) med[v] = t[v * reps + reps - 1];
      }
      printf("%-17s %5d %5d %4d | %8.1f %8.1f %8.1f %8.1f %8.1f | %6.2f %6.2f %6.2f %6.2f\n",
             SHAPES[si].what, N, K, s.M, med[0], med[1], med[2], med[3], med[4],
             med[V_F32_1] / med[V_BLAS], med[V_I8_1] / med[V_BLAS], med[V_F32_2] / med[V_F32_1],
             med[V_I8_2] / med[V_I8_1]);
      fflush(stdout);
    }
  }
  rt_kernels_free(s.k1);
  rt_kernels_free(s.k2);
  free(x), free(w), free(b), free(y), free(q), free(ws), free(rs), free(t);
  return 0;
}
