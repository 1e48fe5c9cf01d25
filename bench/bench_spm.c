/* bench/bench_spm.c: encode throughput of our SentencePiece tokenizer (runtime/spm.h) against
 * Python sentencepiece's C++ core (bench/spm_peer.py, one batched call) on the same lines, in
 * the same run. Prints lines/s and MB/s for both and the ratio ours/peer (> 1 = we are faster).
 * It must never be part of the tests: it measures, it does not check.
 * Usage: bench_spm [--model M] [--text T] [--repeat R] [--runs N] [--threads K] [--no-peer]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/spm.h"

#define BENCH_DEFAULT_REPEAT 10
#define BENCH_DEFAULT_RUNS 5
#define BENCH_MAX_IDS (1 << 20)
#define BENCH_PYTHON "/usr/bin/python3"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const char *model = EF_SOURCE_DIR "/tests/fixtures/spm/uni8k_nfkc.model";
  const char *text = EF_SOURCE_DIR "/tests/fixtures/spm/lines.txt";
  int repeat = BENCH_DEFAULT_REPEAT, runs = BENCH_DEFAULT_RUNS, threads = 1, peer = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--model") && i + 1 < argc)
      model = argv[++i];
    else if (!strcmp(argv[i], "--text") && i + 1 < argc)
      text = argv[++i];
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
      repeat = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer"))
      peer = 0;
    else {
      fprintf(stderr, "usage: bench_spm [--model M] [--text T] [--repeat R] [--runs N] "
                      "[--threads K (peer)] [--no-peer]\n");
      return 2;
    }
  }
  char err[512];
  rt_spm *m = NULL;
  if (rt_spm_load(model, &m, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  FILE *f = fopen(text, "rb");
  if (!f) {
    fprintf(stderr, "error: %s: cannot open\n", text);
    return 1;
  }
  char *line = NULL, **lines = NULL;
  size_t cap = 0, n = 0, ncap = 0, bytes = 0, *lens = NULL;
  ssize_t got;
  while ((got = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)got;
    if (len && line[len - 1] == '\n') len--;
    if (n == ncap) {
      ncap = ncap ? 2 * ncap : 1024;
      lines = realloc(lines, ncap * sizeof *lines);
      lens = realloc(lens, ncap * sizeof *lens);
    }
    lines[n] = malloc(len + 1);
    memcpy(lines[n], line, len);
    lens[n++] = len;
    bytes += len;
  }
  free(line);
  fclose(f);
  int *ids = malloc(sizeof(int) * BENCH_MAX_IDS);
  double best = 1e30;
  long long total_ids = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now();
    total_ids = 0;
    for (int k = 0; k < repeat; k++)
      for (size_t i = 0; i < n; i++) {
        int c = rt_spm_encode_ids(m, lines[i], lens[i], ids, BENCH_MAX_IDS, err, sizeof err);
        if (c < 0) {
          fprintf(stderr, "error: %s line %zu: %s\n", text, i + 1, err);
          return 1;
        }
        total_ids += c;
      }
    double t = now() - t0;
    if (t < best) best = t;
  }
  double nl = (double)n * repeat, nb = (double)bytes * repeat;
  printf("model %s\ntext %s x%d: %.0f lines, %.2f MB, %lld ids\n", model, text, repeat, nl,
         nb / 1e6, total_ids);
  printf("ours  %10.0f lines/s %8.2f MB/s (best of %d, 1 thread)\n", nl / best, nb / 1e6 / best,
         runs);
  if (peer) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/bench/spm_peer.py '%s' '%s' %d %d %d", BENCH_PYTHON,
             EF_SOURCE_DIR, model, text, repeat, runs, threads);
    FILE *p = popen(cmd, "r");
    double ps = 0;
    long long pl = 0, pb = 0;
    int pt = 0;
    if (!p ||
        fscanf(p, "peer lines=%lld bytes=%lld seconds=%lf threads=%d", &pl, &pb, &ps, &pt) != 4) {
      fprintf(stderr, "peer: could not run %s (needs python3-sentencepiece)\n", cmd);
    } else {
      printf("peer  %10.0f lines/s %8.2f MB/s (python sentencepiece %d thread%s, batched)\n",
             (double)pl / ps, (double)pb / 1e6 / ps, pt, pt == 1 ? "" : "s");
      printf("ratio ours/peer %.2f\n", ps / best * (nl / (double)pl));
    }
    if (p) pclose(p);
  }
  for (size_t i = 0; i < n; i++) free(lines[i]);
  free(lines);
  free(lens);
  free(ids);
  rt_spm_free(m);
  return 0;
}
