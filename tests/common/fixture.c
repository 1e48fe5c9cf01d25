/* fixture.c: the text fixture reader for tests (see fixture.h). Test-only code: failures
 * abort the running Check test with a message, never the process. */
#include "tests/common/fixture.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef EF_FIXTURES
#error "EF_FIXTURES must be defined by the build"
#endif

void fx_load(fx_file *fx, const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", EF_FIXTURES, rel);
  FILE *f = fopen(path, "r");
  if (!f) ck_abort_msg("fixture %s: cannot open", path);
  memset(fx, 0, sizeof *fx);
  fx->t = calloc(FX_MAX_TENSORS, sizeof *fx->t);
  char kind[8];
  while (fx->n < FX_MAX_TENSORS) {
    fx_tensor *t = &fx->t[fx->n];
    if (fscanf(f, "%159s %7s %d", t->name, kind, &t->ndim) != 3) break;
    if (t->ndim < 1 || t->ndim > 4) ck_abort_msg("fixture %s: %s: bad ndim", path, t->name);
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
      if (fscanf(f, "%lld", (long long *)&t->shape[d]) != 1 || t->shape[d] < 0)
        ck_abort_msg("fixture %s: %s: bad shape", path, t->name);
      t->numel *= t->shape[d];
    }
    t->is_int = !strcmp(kind, "i32");
    if (t->is_int) {
      t->i = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *t->i);
      for (int64_t k = 0; k < t->numel; k++)
        if (fscanf(f, "%d", &t->i[k]) != 1) ck_abort_msg("fixture %s: %s: short", path, t->name);
    } else {
      t->f = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *t->f);
      for (int64_t k = 0; k < t->numel; k++)
        if (fscanf(f, "%f", &t->f[k]) != 1) ck_abort_msg("fixture %s: %s: short", path, t->name);
    }
    fx->n++;
  }
  fclose(f);
  if (fx->n == 0) ck_abort_msg("fixture %s: no tensors", path);
}

void fx_free(fx_file *fx) {
  for (int k = 0; k < fx->n; k++) {
    free(fx->t[k].f);
    free(fx->t[k].i);
  }
  free(fx->t);
  fx->t = NULL;
  fx->n = 0;
}

static void read_exact(FILE *f, void *buf, size_t n, const char *path) {
  if (fread(buf, 1, n, f) != n) ck_abort_msg("fixture %s: truncated", path);
}

void fx_load_efx(fx_file *fx, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) ck_abort_msg("fixture %s: cannot open", path);
  memset(fx, 0, sizeof *fx);
  fx->t = calloc(FX_MAX_TENSORS, sizeof *fx->t);
  char magic[4];
  uint32_t count;
  read_exact(f, magic, 4, path);
  if (memcmp(magic, "EFX1", 4)) ck_abort_msg("fixture %s: not an EFX1 file", path);
  read_exact(f, &count, 4, path);
  if (count > FX_MAX_TENSORS) ck_abort_msg("fixture %s: %u tensors (max %d)", path, count, FX_MAX_TENSORS);
  for (uint32_t k = 0; k < count; k++) {
    fx_tensor *t = &fx->t[fx->n];
    uint16_t len;
    uint8_t dtype, ndim;
    read_exact(f, &len, 2, path);
    if (len >= sizeof t->name) ck_abort_msg("fixture %s: name too long", path);
    read_exact(f, t->name, len, path);
    t->name[len] = 0;
    read_exact(f, &dtype, 1, path);
    read_exact(f, &ndim, 1, path);
    if (ndim > 4 || dtype > 1) ck_abort_msg("fixture %s: %s: bad header", path, t->name);
    t->ndim = ndim ? ndim : 1;
    t->shape[0] = 1;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
      read_exact(f, &t->shape[d], 8, path);
      if (t->shape[d] < 0 || t->shape[d] > (1 << 30)) ck_abort_msg("fixture %s: bad dim", path);
      t->numel *= t->shape[d];
    }
    t->is_int = dtype == 1;
    void *buf = malloc((size_t)(t->numel ? t->numel : 1) * 4);
    read_exact(f, buf, (size_t)t->numel * 4, path);
    if (t->is_int) t->i = buf;
    else t->f = buf;
    fx->n++;
  }
  fclose(f);
}

fx_tensor *fx_get(fx_file *fx, const char *name) {
  for (int k = 0; k < fx->n; k++)
    if (!strcmp(fx->t[k].name, name)) return &fx->t[k];
  return NULL;
}

fx_tensor *fx_need(fx_file *fx, const char *name) {
  fx_tensor *t = fx_get(fx, name);
  if (!t) ck_abort_msg("fixture has no tensor '%s'", name);
  return t;
}

double fx_err(const float *a, const float *b, int64_t n, double atol, double rtol, int64_t *worst) {
  double e = 0.0;
  if (worst) *worst = -1;
  for (int64_t k = 0; k < n; k++) {
    double d = fabs((double)a[k] - (double)b[k]) / (atol + rtol * fabs((double)b[k]));
    if (!(d <= e)) { /* also catches NaN */
      e = isnan(d) ? INFINITY : d;
      if (worst) *worst = k;
    }
  }
  return e;
}

void fx_assert_close(const char *what, const float *a, const float *expected, int64_t n,
                     double atol, double rtol) {
  int64_t w;
  double e = fx_err(a, expected, n, atol, rtol, &w);
  ck_assert_msg(e <= 1.0, "%s: element %lld is %.9g, expected %.9g (atol %g, rtol %g)", what,
                (long long)w, w >= 0 ? a[w] : 0.0, w >= 0 ? expected[w] : 0.0, atol, rtol);
}
