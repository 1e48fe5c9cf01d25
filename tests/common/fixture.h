/* fixture.h: reader for the text fixtures written by tests/reference/ scripts (see
 * tests/reference/op_fixtures.py for the format), plus comparison helpers for tests. */
#ifndef EF_TESTS_FIXTURE_H
#define EF_TESTS_FIXTURE_H

#include <stdint.h>

#define FX_MAX_TENSORS 4096

typedef struct {
  char name[160];
  int is_int;
  int ndim;
  int64_t shape[4];
  int64_t numel;
  float *f;
  int32_t *i;
} fx_tensor;

typedef struct {
  fx_tensor *t; /* FX_MAX_TENSORS entries, allocated by the loaders */
  int n;
} fx_file;

/* Loads EF_FIXTURES/<rel>; aborts the test (ck_abort) with a message on any error. */
void fx_load(fx_file *fx, const char *rel);
/* Loads a binary .efx fixture (tests/reference/efx.py: "EFX1", uint32 count, per tensor
 * uint16 name length, name, uint8 dtype 0=f32 1=i32, uint8 ndim, int64 dims, raw data). */
void fx_load_efx(fx_file *fx, const char *path);
void fx_free(fx_file *fx);
/* The tensor called name, or NULL (fx_need aborts instead). */
fx_tensor *fx_get(fx_file *fx, const char *name);
fx_tensor *fx_need(fx_file *fx, const char *name);
/* Max over elements of |a-b| / (atol + rtol·|b|); <= 1 means within tolerance. Reports the
 * worst element through *worst (may be NULL). */
double fx_err(const float *a, const float *b, int64_t n, double atol, double rtol, int64_t *worst);
/* ck_assert that a matches expected within tolerance, naming what in the failure. */
void fx_assert_close(const char *what, const float *a, const float *expected, int64_t n,
                     double atol, double rtol);

#endif
