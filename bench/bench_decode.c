/* bench_decode: generation speed of the runtime decoder against PyTorch with incremental
 * decoding (bench/decode_peer.py: same seeded edgelm weights, same sentences, same thread
 * count), in one run, as ratios. Modes: batch-1 latency per sentence, greedy and beam 5, with
 * exactly 30 output tokens (min_len = max_len = 30, so both sides run 31 decoder steps); and
 * batched throughput (beam 5, batch 16). Sources: real lines of
 * tests/fixtures/data/kjv-web.src as byte ids (4 + byte), cut to 30 tokens.
 *
 * usage: bench_decode [--sentences N] [--threads 1|2|both] [--no-peer] [--config edgelm]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_common.h"
#include "model/edgeformer.h"
#include "model/to_runtime.h"
#include "runtime/decode.h"
#include "tests/common/seeded.h"

#define SEED 20220207u
#define SRC_TOKENS 30
#define OUT_TOKENS 30
#define MAX_SENT 256



typedef struct {
  double median_ms, sent_per_s;
} result;

/* per-sentence latency (batch 1) or throughput (batch > 1) */
static result run(rt_decoder *d, int (*src)[SRC_TOKENS], int *len, int n, int beam, int batch) {
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = beam;
  o.min_len = OUT_TOKENS;
  o.max_len_b = OUT_TOKENS;
  char err[256];
  double *t = malloc(sizeof(double) * (size_t)n);
  double t_all = bench_now();
  int calls = 0;
  for (int i = 0; i < n; i += batch) {
    int nb = n - i < batch ? n - i : batch;
    const int *sp[MAX_SENT];
    for (int j = 0; j < nb; j++) sp[j] = src[i + j];
    double t0 = bench_now();
    if (rt_generate(d, nb, sp, len + i, &o, err, sizeof err)) {
      fprintf(stderr, "error: %s\n", err);
      exit(1);
    }
    t[calls++] = (bench_now() - t0) * 1e3 / nb;
  }
  t_all = bench_now() - t_all;
  qsort(t, (size_t)calls, sizeof *t, bench_cmp_double);
  result r = {t[calls / 2], n / t_all};
  free(t);
  return r;
}

/* The peer's line for (mode, threads): "peer <mode> threads=<t> median_ms=<x> sent_per_s=<y>" */
static int peer_lookup(const char *out, const char *mode, int threads, result *r) {
  char key[64];
  snprintf(key, sizeof key, "peer %s threads=%d ", mode, threads);
  const char *p = strstr(out, key);
  if (!p) return -1;
  const char *m = strstr(p, "median_ms="), *s = strstr(p, "sent_per_s=");
  if (!m || !s) return -1;
  r->median_ms = atof(m + 10);
  r->sent_per_s = atof(s + 11);
  return 0;
}

int main(int argc, char **argv) {
  int n = 24, peer = 1, tmin = 1, tmax = 2;
  const char *preset = "edgelm";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sentences") && i + 1 < argc) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer")) peer = 0;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc) preset = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      const char *t = argv[++i];
      if (!strcmp(t, "both")) tmin = 1, tmax = 2;
      else tmin = tmax = atoi(t);
    } else {
      fprintf(stderr, "usage: bench_decode [--sentences N] [--threads 1|2|both] [--no-peer] [--config PRESET]\n");
      return 2;
    }
  }
  if (n < 1 || n > MAX_SENT || tmin < 1 || tmax > 2) return fprintf(stderr, "error: bad arguments\n"), 2;
  char err[512], path[1024];
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  if (ef_config_resolve(preset, path, sizeof path, err, sizeof err) ||
      ef_config_load(&t, 1, path, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  ef_model *m = NULL;
  rt_model *rm = NULL;
  if (ef_model_new(&cfg, &m, err, sizeof err) || fx_seeded_fill(m, SEED) ||
      ef_model_to_runtime(m, &rm, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  static int src[MAX_SENT][SRC_TOKENS];
  int len[MAX_SENT];
  int got = bench_kjv_sources(&src[0][0], SRC_TOKENS, len, n);
  if (got < n) return fprintf(stderr, "error: only %d source lines of >= %d bytes\n", got, SRC_TOKENS - 1), 1;

  char *peer_out = NULL;
  if (peer) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/decode_peer.py --config %s --seed %u --sentences %d "
             "--threads %s 2>&1",
             EF_SOURCE_DIR, path, SEED, n, tmin == tmax ? (tmin == 1 ? "1" : "2") : "both");
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, used = 0;
    peer_out = calloc(cap, 1);
    if (p && peer_out) {
      size_t k;
      while ((k = fread(peer_out + used, 1, cap - 1 - used, p)) > 0) used += k;
      pclose(p);
    }
    if (!strstr(peer_out, "peer ")) {
      fprintf(stderr, "peer unavailable (needs /usr/bin/python3 with torch): %.300s\n", peer_out);
      peer = 0;
    }
  }
  printf("bench_decode: %s preset, seeded weights, %d sentences of %d source tokens, %d output "
         "tokens (+ </s>)\n", preset, n, SRC_TOKENS, OUT_TOKENS);
  static const struct {
    const char *mode;
    int beam, batch;
  } modes[] = {{"greedy_b1", 1, 1}, {"beam5_b1", 5, 1}, {"beam5_batch16", 5, 16}};
  for (int th = tmin; th <= tmax; th++) {
    rt_kernels *k = rt_kernels_new(rt_isa_detect());
    rt_kernels_set_threads(k, th);
    rt_decoder *d = NULL;
    if (rt_decoder_new(rm, k, &d, err, sizeof err)) return fprintf(stderr, "error: %s\n", err), 1;
    run(d, src, len, n < 4 ? n : 4, 5, 1); /* warm-up: grow every buffer once */
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
      result best = {INFINITY, 0};
      for (int rep = 0; rep < 3; rep++) { /* best of 3 medians: the machine is shared */
        result r = run(d, src, len, n, modes[i].beam, modes[i].batch);
        if (r.median_ms < best.median_ms) best = r;
      }
      printf("ours %-14s threads=%d isa=%s median_ms=%.2f sent_per_s=%.1f", modes[i].mode, th,
             rt_isa_name(rt_kernels_isa(k)), best.median_ms, best.sent_per_s);
      result pr;
      if (peer && !peer_lookup(peer_out, modes[i].mode, th, &pr))
        printf(" | peer median_ms=%.2f sent_per_s=%.1f | speedup %.2fx", pr.median_ms,
               pr.sent_per_s, modes[i].batch == 1 ? pr.median_ms / best.median_ms
                                                  : best.sent_per_s / pr.sent_per_s);
      printf("\n");
      fflush(stdout);
    }
    rt_decoder_free(d);
    rt_kernels_free(k);
  }
  free(peer_out);
  rt_model_free(rm);
  ef_model_free(m);
  return 0;
}
