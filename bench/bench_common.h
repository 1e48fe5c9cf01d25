/* bench/bench_common.h: what the generation benchmarks (bench_decode, bench_device) share: the
 * clock, a comparator for medians, and their input: real KJV lines as byte ids. */
#ifndef EF_BENCH_COMMON_H
#define EF_BENCH_COMMON_H

/* Monotonic wall-clock seconds. */
double bench_now(void);
/* qsort comparator of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* The first n lines of tests/fixtures/data/kjv-web.src with at least width - 1 bytes, as
 * fairseq sources of exactly `width` ids: byte b -> 4 + b for the first width - 1 bytes, then
 * </s>. src holds n·width ints (row-major), len[i] = width. Returns the number of rows filled
 * (less than n when the file is missing or too short). */
int bench_kjv_sources(int *src, int width, int *len, int n);

#endif
