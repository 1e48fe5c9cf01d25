/* clip.c: gradient norm, scaling and clipping (see clip.h). Must never allocate and never
 * let the thread count change a result. */
#include "optim/clip.h"

#include <math.h>

#include "autograd/parallel.h"

/* Independent double accumulators inside a part (a fixed interleave, for speed). */
#define EF_NORM_LANES 8
/* Rough flops per float, for ef_parallel_for_cost. */
#define EF_NORM_COST 2.0
#define EF_SCALE_COST 1.0
/* Floats per work item when scaling. */
#define EF_SCALE_CHUNK 8192

typedef struct {
  const float *g;
  int64_t n;
  double part[EF_GRAD_NORM_PARTS];
} norm_args;

static void norm_body(void *arg, int64_t begin, int64_t end, int tid) {
  norm_args *a = arg;
  for (int64_t k = begin; k < end; k++) {
    /* Part k covers [lo, hi): equal contiguous ranges, a function of n only. */
    int64_t lo = a->n * k / EF_GRAD_NORM_PARTS, hi = a->n * (k + 1) / EF_GRAD_NORM_PARTS;
    double acc[EF_NORM_LANES] = {0};
    int64_t i = lo;
    for (; i + EF_NORM_LANES <= hi; i += EF_NORM_LANES)
      for (int l = 0; l < EF_NORM_LANES; l++) {
        double x = a->g[i + l];
        acc[l] += x * x;
      }
    for (; i < hi; i++) {
      double x = a->g[i];
      acc[0] += x * x;
    }
    double s = 0;
    for (int l = 0; l < EF_NORM_LANES; l++) s += acc[l];
    a->part[k] = s;
  }
  (void)tid;
}

double ef_grad_norm(ef_params *p) {
  norm_args a = {.g = ef_params_grad(p), .n = ef_params_flat_len(p)};
  if (!a.g || a.n == 0) return 0.0;
  ef_parallel_for_cost(EF_GRAD_NORM_PARTS, EF_NORM_COST * (double)a.n / EF_GRAD_NORM_PARTS,
                       norm_body, &a);
  double s = 0;
  for (int k = 0; k < EF_GRAD_NORM_PARTS; k++) s += a.part[k];
  return sqrt(s);
}

typedef struct {
  float *g;
  int64_t n;
  float factor;
} scale_args;

static void scale_body(void *arg, int64_t begin, int64_t end, int tid) {
  const scale_args *a = arg;
  int64_t lo = begin * EF_SCALE_CHUNK, hi = end * EF_SCALE_CHUNK;
  if (hi > a->n) hi = a->n;
  float *restrict g = a->g;
  const float f = a->factor;
#pragma omp simd
  for (int64_t i = lo; i < hi; i++) g[i] *= f;
  (void)tid;
}

void ef_grad_scale(ef_params *p, float factor) {
  scale_args a = {.g = ef_params_grad(p), .n = ef_params_flat_len(p), .factor = factor};
  if (!a.g || a.n == 0) return;
  ef_parallel_for_cost((a.n + EF_SCALE_CHUNK - 1) / EF_SCALE_CHUNK, EF_SCALE_COST * EF_SCALE_CHUNK,
                       scale_body, &a);
}

ef_clip_status ef_clip_grad_norm(ef_params *p, double max_norm, double *norm) {
  double n = ef_grad_norm(p);
  if (norm) *norm = n;
  if (!isfinite(n)) return EF_CLIP_NONFINITE;
  if (max_norm > 0) {
    /* torch: total_norm is a float32 tensor; max_norm / (total_norm + 1e-6) in float32. */
    float coef = (float)max_norm / ((float)n + (float)EF_CLIP_NORM_EPS);
    if (coef < 1.0f) ef_grad_scale(p, coef);
  }
  return EF_CLIP_OK;
}
