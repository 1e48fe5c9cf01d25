/* bench_device: the device runtime's size and speed on the edgelm preset: seeded weights
 * (tests/common/seeded.h, seed 20220207, V from configs/edgelm.ini) exported in memory as fp32
 * and int8 `.efm` files (export/efm_write.h) and loaded through the runtime's reader
 * (rt_efm_open_memory), then batch-1 latency per sentence, greedy and beam 5, 1 and 2 threads:
 * int8 .efm against fp32 .efm against PyTorch fp32 and PyTorch quantize_dynamic int8
 * (bench/decode_peer.py on the same seeded weights and sentences), in one run, as ratios.
 * Sentences: real lines of tests/fixtures/data/kjv-web.src as byte ids (4 + byte), cut to 30
 * tokens with </s>; every hypothesis has exactly 30 tokens + </s> (min_len = max_len_b = 30), so
 * every side runs 31 decoder steps. The tokenizer is not timed (it is the same for both files).
 * fp32 and int8 are timed alternately, repetition by repetition, so load changes hit both.
 *
 * usage: bench_device [--sentences N] [--reps R] [--threads 1|2|both] [--no-peer]
 *                     [--config PRESET] [--write DIR] [--mode greedy|beam5|both]
 *                     [--dtype int8|fp32|both]
 * --mode and --dtype restrict what is timed (to profile one case: perf record bench_device
 * --no-peer --mode greedy --dtype int8 --threads 1).
 * --write DIR writes DIR/<preset>-fp32.efm and DIR/<preset>-int8.efm (for bench/rss_device.sh)
 * and exits after printing the sizes.
 * Never run by the tests; docs/benchmarks.md has measured numbers.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "data/dictionary.h"
#include "export/efm_write.h"
#include "bench/bench_common.h"
#include "model/edgeformer.h"
#include "model/to_runtime.h"
#include "runtime/decode.h"
#include "runtime/efm.h"
#include "runtime/spm.h"
#include "tests/common/seeded.h"

#define SEED 20220207u
#define SRC_TOKENS 30
#define OUT_TOKENS 30
#define MAX_SENT 256
#define SPM_FIXTURE EF_SOURCE_DIR "/tests/fixtures/spm/uni2k_nfkc.model"
#define PEER_OUT_BYTES (1 << 16)

static void loadavg(char *out, size_t len) {
  FILE *f = fopen("/proc/loadavg", "r");
  out[0] = 0;
  if (f) {
    if (fgets(out, (int)len, f)) out[strcspn(out, " ")] = 0; /* the 1-minute average */
    fclose(f);
  }
  if (!out[0]) snprintf(out, len, "?");
}

static int read_file(const char *path, void **buf, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  *buf = malloc(n > 0 ? (size_t)n : 1);
  int ok = n > 0 && *buf && fread(*buf, 1, (size_t)n, f) == (size_t)n;
  fclose(f);
  *len = (size_t)n;
  return ok ? 0 : -1;
}

/* A dictionary of exactly v symbols: the specials, the SentencePiece model's pieces, then
 * fairseq's padding names (madeupwordNNNN) up to v, so the file carries a realistic tokenizer
 * and the model's real vocabulary size. */
static ef_dict *make_dict(const void *spm_bytes, size_t spm_len, int v, char *err, size_t errlen) {
  rt_spm *spm = NULL;
  if (rt_spm_load_memory(spm_bytes, spm_len, SPM_FIXTURE, &spm, err, errlen)) return NULL;
  ef_dict *d = ef_dict_new();
  for (int i = 0; d && i < rt_spm_vocab_size(spm) && ef_dict_size(d) < v; i++) {
    rt_spm_piece_type k = rt_spm_piece_kind(spm, i);
    if (k == RT_SPM_CONTROL || k == RT_SPM_UNKNOWN || k == RT_SPM_UNUSED) continue;
    const char *p = rt_spm_id_to_piece(spm, i);
    if (ef_dict_add(d, p, strlen(p), 1, 0, err, errlen) < 0) ef_dict_free(d), d = NULL;
  }
  rt_spm_free(spm);
  char sym[32];
  for (int i = 0; d && ef_dict_size(d) < v; i++) {
    snprintf(sym, sizeof sym, "madeupword%04d", i);
    if (ef_dict_add(d, sym, strlen(sym), 1, 0, err, errlen) < 0) ef_dict_free(d), d = NULL;
  }
  if (d && ef_dict_finalize(d, 0, -1, 1, err, errlen)) ef_dict_free(d), d = NULL;
  if (d && ef_dict_size(d) != v) {
    snprintf(err, errlen, "dictionary has %d symbols, want %d", ef_dict_size(d), v);
    ef_dict_free(d), d = NULL;
  }
  return d;
}


static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One pass over the n sentences, batch 1: the median per-sentence wall time (ms), and in *cpu
 * the median process CPU time (ms; with 1 thread this is the latency an idle core would give,
 * whatever the machine's load; with 2 it includes the worker's spinning). */
static double pass_median(rt_decoder *d, int (*src)[SRC_TOKENS], int *len, int n, int beam,
                          double *cpu) {
  rt_search_opts o;
  rt_search_opts_default(&o);
  o.beam = beam;
  o.min_len = OUT_TOKENS;
  o.max_len_b = OUT_TOKENS;
  char err[256];
  double t[MAX_SENT], c[MAX_SENT];
  for (int i = 0; i < n; i++) {
    const int *sp[1] = {src[i]};
    double t0 = bench_now(), c0 = cpu_now();
    if (rt_generate(d, 1, sp, len + i, &o, err, sizeof err)) {
      fprintf(stderr, "error: %s\n", err);
      exit(1);
    }
    t[i] = (bench_now() - t0) * 1e3;
    c[i] = (cpu_now() - c0) * 1e3;
    int c = 0;
    const rt_hypo *h = rt_decoder_hypos(d, 0, &c);
    if (c < 1 || h[0].len != OUT_TOKENS + 1) {
      fprintf(stderr, "error: a hypothesis has %d tokens, expected %d\n", c ? h[0].len : 0,
              OUT_TOKENS + 1);
      exit(1);
    }
  }
  qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
  qsort(c, (size_t)n, sizeof *c, bench_cmp_double);
  if (cpu) *cpu = c[n / 2];
  return t[n / 2];
}

/* The peer's median for (mode, threads) from its output, or NAN. */
static double peer_ms(const char *out, const char *mode, int threads) {
  char key[64];
  snprintf(key, sizeof key, "peer %s threads=%d ", mode, threads);
  const char *p = out ? strstr(out, key) : NULL;
  const char *m = p ? strstr(p, "median_ms=") : NULL;
  return m ? atof(m + 10) : NAN;
}

static char *run_peer(const char *config, int n, int reps, const char *threads, int quantize) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/bench/decode_peer.py --config %s --seed %u --sentences %d "
           "--reps %d --threads %s --modes greedy_b1,beam5_b1%s 2>&1",
           EF_SOURCE_DIR, config, SEED, n, reps, threads, quantize ? " --quantize-dynamic" : "");
  FILE *p = popen(cmd, "r");
  char *out = calloc(PEER_OUT_BYTES, 1);
  if (!p || !out) {
    if (p) pclose(p);
    free(out);
    return NULL;
  }
  size_t used = 0, k;
  while ((k = fread(out + used, 1, PEER_OUT_BYTES - 1 - used, p)) > 0) used += k;
  pclose(p);
  if (!strstr(out, "peer ")) {
    fprintf(stderr, "peer%s unavailable (needs /usr/bin/python3 with torch): %.300s\n",
            quantize ? " (quantize_dynamic)" : "", out);
    free(out);
    return NULL;
  }
  return out;
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_device [--sentences N] [--reps R] [--threads 1|2|both] [--no-peer]\n"
          "                    [--config PRESET] [--write DIR] [--mode greedy|beam5|both]\n"
          "                    [--dtype int8|fp32|both]\n");
}

int main(int argc, char **argv) {
  int n = 24, reps = 3, peer = 1, tmin = 1, tmax = 2;
  const char *preset = "edgelm", *write_dir = NULL, *only = "both", *dtypes = "both";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sentences") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer"))
      peer = 0;
    else if (!strcmp(argv[i], "--config") && i + 1 < argc)
      preset = argv[++i];
    else if (!strcmp(argv[i], "--write") && i + 1 < argc)
      write_dir = argv[++i];
    else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "--dtype") && i + 1 < argc)
      dtypes = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      const char *t = argv[++i];
      if (!strcmp(t, "both"))
        tmin = 1, tmax = 2;
      else
        tmin = tmax = atoi(t);
    } else
      return usage(), 2;
  }
  if (n < 1 || n > MAX_SENT || reps < 1 || tmin < 1 || tmax > 2 ||
      (strcmp(only, "both") && strcmp(only, "greedy") && strcmp(only, "beam5")) ||
      (strcmp(dtypes, "both") && strcmp(dtypes, "int8") && strcmp(dtypes, "fp32")))
    return usage(), 2;

  /* the seeded model, its runtime view, and both files */
  char err[512], path[1024], load0[32], load1[32];
  loadavg(load0, sizeof load0);
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
  void *spm = NULL;
  size_t spm_len = 0;
  if (read_file(SPM_FIXTURE, &spm, &spm_len))
    return fprintf(stderr, "error: %s: cannot read\n", SPM_FIXTURE), 1;
  ef_dict *dict = make_dict(spm, spm_len, cfg.vocab_size, err, sizeof err);
  if (!dict) return fprintf(stderr, "error: %s\n", err), 1;
  static const char *dtype_name[2] = {"fp32", "int8"};
  uint8_t *bytes[2];
  size_t nbytes[2];
  rt_efm *efm[2];
  ef_efm_stats st[2];
  for (int q = 0; q < 2; q++) {
    if (ef_efm_serialize(rm, q ? EF_EFM_INT8 : EF_EFM_FP32, spm, spm_len, dict, &bytes[q],
                         &nbytes[q], &st[q], err, sizeof err) ||
        rt_efm_open_memory(bytes[q], nbytes[q], dtype_name[q], &efm[q], err, sizeof err))
      return fprintf(stderr, "error: %s\n", err), 1;
  }
  printf("bench_device: %s preset (%d+%d layers, d %d, V %d), seeded weights (seed %u)\n", preset,
         cfg.encoder_layers, cfg.decoder_layers, cfg.embed_dim, cfg.vocab_size, SEED);
  printf("size fp32 %zu bytes (%.2f MB) | int8 %zu bytes (%.2f MB) | %.2fx smaller | %lld weights, "
         "%d of %d tensors int8\n",
         nbytes[0], nbytes[0] / 1e6, nbytes[1], nbytes[1] / 1e6,
         (double)nbytes[0] / (double)nbytes[1], (long long)st[1].n_values, st[1].n_int8,
         st[1].n_tensors);
  if (write_dir) {
    for (int q = 0; q < 2; q++) {
      char out[1024];
      snprintf(out, sizeof out, "%s/%s-%s.efm", write_dir, preset, dtype_name[q]);
      FILE *f = fopen(out, "wb");
      if (!f || fwrite(bytes[q], 1, nbytes[q], f) != nbytes[q] || fclose(f))
        return fprintf(stderr, "error: %s: cannot write\n", out), 1;
      printf("wrote %s\n", out);
    }
    return 0;
  }

  static int src[MAX_SENT][SRC_TOKENS];
  int len[MAX_SENT];
  int got = bench_kjv_sources(&src[0][0], SRC_TOKENS, len, n);
  if (got < n) return fprintf(stderr, "error: only %d source lines\n", got), 1;

  /* the peers first, one after the other, so they never share the CPU with us */
  char *torch32 = NULL, *torch8 = NULL;
  const char *th_arg = tmin == tmax ? (tmin == 1 ? "1" : "2") : "both";
  if (peer) {
    torch32 = run_peer(path, n, reps, th_arg, 0);
    torch8 = run_peer(path, n, reps, th_arg, 1);
  }
  printf("batch 1, %d sentences of %d source tokens, %d output tokens + </s>; per cell the best of "
         "%d medians (ms per sentence); fp32 and int8 .efm timed alternately; cpu = process CPU "
         "time per sentence (ms)\n",
         n, SRC_TOKENS, OUT_TOKENS, reps);
  printf("%-9s %3s %-12s %9s %9s %9s %9s | %9s %9s %9s | %8s %8s %9s\n", "mode", "thr", "isa",
         "int8", "fp32", "torch32", "torch-q8", "fp32/int8", "t32/int8", "tq8/int8", "cpu int8",
         "cpu fp32", "fp32/int8");
  static const struct {
    const char *mode;
    int beam;
  } modes[] = {{"greedy_b1", 1}, {"beam5_b1", 5}};
  for (int th = tmin; th <= tmax; th++) {
    rt_kernels *k = rt_kernels_new(rt_isa_detect());
    if (!k || rt_kernels_set_threads(k, th)) return fprintf(stderr, "error: threads\n"), 1;
    rt_decoder *d[2];
    for (int q = 0; q < 2; q++) {
      if (rt_decoder_new(rt_efm_model(efm[q]), k, &d[q], err, sizeof err))
        return fprintf(stderr, "error: %s\n", err), 1;
      if (!strcmp(dtypes, "both") || !strcmp(dtypes, dtype_name[q])) /* warm-up: grow buffers */
        pass_median(d[q], src, len, n < 4 ? n : 4, 5, NULL);
    }
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
      if (strcmp(only, "both") && strncmp(modes[i].mode, only, strlen(only))) continue;
      double best[2] = {INFINITY, INFINITY}, cpu[2] = {INFINITY, INFINITY};
      for (int rep = 0; rep < reps; rep++)
        for (int q = 0; q < 2; q++) {
          if (strcmp(dtypes, "both") && strcmp(dtypes, dtype_name[q])) continue;
          double c, ms = pass_median(d[q], src, len, n, modes[i].beam, &c);
          if (ms < best[q]) best[q] = ms;
          if (c < cpu[q]) cpu[q] = c;
        }
      double p32 = peer_ms(torch32, modes[i].mode, th), p8 = peer_ms(torch8, modes[i].mode, th);
      printf("%-9s %3d %-12s %9.2f %9.2f %9.2f %9.2f | %8.2fx %8.2fx %8.2fx | %8.2f %8.2f %8.2fx\n",
             modes[i].mode, th, rt_kernels_name(k), best[1], best[0], p32, p8, best[0] / best[1],
             p32 / best[1], p8 / best[1], cpu[1], cpu[0], cpu[0] / cpu[1]);
      fflush(stdout);
    }
    for (int q = 0; q < 2; q++) rt_decoder_free(d[q]);
    rt_kernels_free(k);
  }
  loadavg(load1, sizeof load1);
  printf("load average (1 min) %s at the start, %s at the end, on %ld CPUs\n", load0, load1,
         sysconf(_SC_NPROCESSORS_ONLN));
  free(torch32);
  free(torch8);
  for (int q = 0; q < 2; q++) rt_efm_close(efm[q]), free(bytes[q]);
  ef_dict_free(dict);
  free(spm);
  rt_model_free(rm);
  ef_model_free(m);
  return 0;
}
