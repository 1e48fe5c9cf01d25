/* bench/bench_common.c: see bench_common.h. */
#include "bench/bench_common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int bench_kjv_sources(int *src, int width, int *len, int n) {
  FILE *f = fopen(EF_SOURCE_DIR "/tests/fixtures/data/kjv-web.src", "r");
  if (!f) return 0;
  char line[4096];
  int k = 0;
  while (k < n && fgets(line, sizeof line, f)) {
    size_t l = strcspn(line, "\n");
    if (l < (size_t)(width - 1)) continue;
    int *row = src + (size_t)k * width;
    for (int i = 0; i < width - 1; i++) row[i] = 4 + (unsigned char)line[i];
    row[width - 1] = 2;
    len[k++] = width;
  }
  fclose(f);
  return k;
}
