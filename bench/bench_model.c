/* bench_model: forward + loss + backward of a model preset (default edgelm) on a batch of
 * about 4096 source + 4096 target tokens, against the PyTorch reference model
 * (bench/model_peer.py, Debian's torch through /usr/bin/python3) on the same batch shape and
 * thread count, in one run. Prints tokens/s (source + target tokens per second, medians), the
 * ratios, and each side's share of the GEMM ceiling measured here: the best dense product of
 * the machine on the model's largest shape (OpenBLAS sgemm, and oneDNN's bf16 matmul where the
 * CPU has bf16 instructions), as achieved GEMM-equivalent GFLOP/s (6 x multiply-adds of the
 * dense products per step, over the step time).
 *
 * --precision fp32|bf16|both (default both where bf16 runs natively, else fp32): edgeformer in
 * fp32 and/or with bf16 products (train --bf16), and the peer in fp32 and/or under
 * torch.autocast("cpu", dtype=torch.bfloat16). Each configuration runs in its own process, so
 * each peak RSS (getrusage of that process) is its own.
 *
 * With --step, a full training step: also gradient scaling, clip_grad_norm (1.0) and an Adam
 * update (the peer adds clip_grad_norm_ and torch.optim.Adam); in bf16 also the once-per-update
 * refresh of the bf16 weight copy.
 *
 * --config takes what `edgeformer train` takes: a preset name or a config file (its [data],
 * [optim] and [train] sections are read and ignored).
 *
 * Usage: bench_model [--config P] [--batch B] [--len T] [--reps N] [--step]
 *                    [--precision fp32|bf16|both] [--threads N] [--no-peer] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autograd/bf16.h"
#include "autograd/blas.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "bench/bench_common.h"
#include "model/edgeformer.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "train/options.h"

typedef struct {
  double median_s, rss_mb, a, b; /* a, b: ceilings (GFLOP/s) in the ceiling child */
  char note[160];
} child_result;

/* Run fn in a child process (so threads, oneDNN and peak RSS are its own) and collect its
 * result through a pipe. */
static int in_child(int (*fn)(void *, child_result *), void *arg, child_result *out) {
  int fd[2];
  if (pipe(fd)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fd[0]);
    child_result r;
    memset(&r, 0, sizeof r);
    int rc = fn(arg, &r);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.rss_mb = (double)ru.ru_maxrss / 1024.0;
    if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r) rc = 1;
    fflush(stdout);
    _exit(rc);
  }
  close(fd[1]);
  ssize_t got = read(fd[0], out, sizeof *out);
  close(fd[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return got == (ssize_t)sizeof *out && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

typedef struct {
  const ef_model_config *cfg;
  int B, T, reps, step, bf16, threads;
} run_args;

/* Best GFLOP/s of 5 runs of the largest product (tokens x d -> ffn): sgemm, and bf16. */
static int ceilings(void *p, child_result *r) {
  const run_args *a = p;
  ef_set_num_threads(a->threads);
  int M = a->B * a->T, N = a->cfg->encoder_ffn_dim, K = a->cfg->embed_dim;
  float *A = calloc((size_t)M * K, 4), *Bm = calloc((size_t)N * K, 4),
        *C = calloc((size_t)M * N, 4);
  ef_bf16 *A16 = calloc((size_t)M * K, 2), *B16 = calloc((size_t)N * K, 2);
  for (int64_t i = 0; i < (int64_t)M * K; i++) A[i] = 0.001f * (float)(i % 97);
  for (int64_t i = 0; i < (int64_t)N * K; i++) Bm[i] = 0.001f * (float)(i % 89);
  ef_bf16_from_f32(A16, A, (int64_t)M * K);
  ef_bf16_from_f32(B16, Bm, (int64_t)N * K);
  for (int r5 = 0; r5 < 6; r5++) {
    double t0 = bench_now();
    ef_sgemm(0, 1, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C, N);
    double g = 2.0 * M * N * K / (bench_now() - t0) / 1e9;
    if (r5 && g > r->a) r->a = g;
    if (ef_bf16_supported()) {
      t0 = bench_now();
      ef_bf16_gemm(0, 1, M, N, K, A16, B16, 0.0f, C);
      g = 2.0 * M * N * K / (bench_now() - t0) / 1e9;
      if (r5 && g > r->b) r->b = g;
    }
  }
  snprintf(r->note, sizeof r->note, "openblas %s, bf16 %s", ef_blas_corename(), ef_bf16_describe());
  free(A), free(Bm), free(C), free(A16), free(B16);
  return 0;
}

/* The timed loop of one configuration (in its own process). */
static int run_edgeformer(void *p, child_result *res) {
  const run_args *a = p;
  int B = a->B, T = a->T, reps = a->reps, step = a->step;
  char err[EF_CONFIG_ERR_LEN];
  ef_set_num_threads(a->threads);
  ef_model_config cfg = *a->cfg;
  ef_model *m = NULL;
  if (ef_model_new(&cfg, &m, err, sizeof err)) return fprintf(stderr, "error: %s\n", err), 1;
  ef_model_init(m, 1);
  ef_adam adam;
  ef_adam_config ac = ef_adam_default_config();
  ac.beta2 = 0.98;
  if (step && ef_adam_init(&adam, m->params, &ac, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  if (a->bf16 && ef_params_enable_bf16(m->params, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  /* batch: real-looking lengths (some padding), ids in the vocabulary */
  int32_t *src = malloc((size_t)B * T * 4), *prev = malloc((size_t)B * T * 4),
          *tgt = malloc((size_t)B * T * 4);
  uint64_t s = 88172645463325252ull;
  for (int b = 0; b < B; b++) {
    int len = T - (b % 4); /* up to 3 pad tokens */
    for (int i = 0; i < T; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      int tok = 4 + (int)(s % (uint64_t)(cfg.vocab_size - 4));
      int pad_left = T - len;
      src[b * T + i] = i < pad_left ? EF_PAD : (i == T - 1 ? EF_EOS : tok);
      tgt[b * T + i] = i < len - 1 ? tok : (i == len - 1 ? EF_EOS : EF_PAD);
    }
    for (int i = 0; i < T; i++)
      prev[b * T + i] = i == 0 ? EF_EOS : (i < len ? tgt[b * T + i - 1] : EF_PAD);
  }
  ef_ctx *c = ef_ctx_new(256u << 20, 16384);
  ef_ctx_set_bf16(c, a->bf16);
  double *times = malloc((size_t)reps * sizeof(double));
  for (int r = -1; r < reps; r++) {
    double t0 = bench_now();
    if (a->bf16) ef_params_sync_bf16(m->params); /* once per update, as the trainer does */
    ef_ctx_reset(c);
    ef_ctx_set_training(c, 1);
    ef_ctx_set_rng(c, 1, (uint64_t)(r + 2));
    ef_params_zero_grad(m->params);
    int64_t shape[2] = {B, T};
    ef_batch_tensors bt = {ef_tensor_wrap(c, EF_I32, 2, shape, src, NULL),
                           ef_tensor_wrap(c, EF_I32, 2, shape, prev, NULL),
                           ef_tensor_wrap(c, EF_I32, 2, shape, tgt, NULL)};
    ef_model_out out;
    if (ef_model_forward(c, m, &bt, cfg.label_smoothing, &out) || ef_backward(c, out.loss))
      return fprintf(stderr, "error: %s\n", ef_ctx_error(c)), 1;
    if (step) {
      double norm;
      ef_grad_scale(m->params, 1.0f / (float)(B * T));
      ef_clip_grad_norm(m->params, 1.0, &norm);
      if (ef_adam_step(&adam, 1e-4, err, sizeof err)) return fprintf(stderr, "error: %s\n", err), 1;
    }
    if (r >= 0) times[r] = bench_now() - t0;
  }
  qsort(times, (size_t)reps, sizeof *times, bench_cmp_double);
  res->median_s = times[reps / 2];
  free(times), free(src), free(prev), free(tgt);
  ef_ctx_free(c);
  ef_model_free(m);
  return 0;
}

/* "model name" of /proc/cpuinfo, and whether the CPU lists avx512_bf16 / amx_bf16. */
static void cpu_name(char *out, size_t cap) {
  snprintf(out, cap, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
      char *v = strchr(line, ':') + 2;
      v[strcspn(v, "\n")] = 0;
      snprintf(out, cap, "%s", v);
      break;
    }
  if (f) fclose(f);
}

/* The PyTorch peer: tokens/s, median ms and peak RSS, or 0 tokens/s when unavailable. */
static double run_peer(const char *path, int B, int T, int threads, int reps, int step,
                       int autocast, double *ms, double *rss) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "/usr/bin/python3 %s/bench/model_peer.py --config %s --tokens %d --src-len %d "
           "--tgt-len %d --threads %d --runs %d%s --autocast %s 2>&1",
           EF_SOURCE_DIR, path, B * T, T, T, threads, reps, step ? " --step" : "",
           autocast ? "bf16" : "none");
  fflush(stdout);
  FILE *p = popen(cmd, "r");
  char line[1024];
  double tps = 0.0;
  while (p && fgets(line, sizeof line, p)) {
    char *q = strstr(line, "tokens_per_s=");
    if (!strncmp(line, "peer ", 5) && q) {
      tps = atof(q + 13);
      char *m = strstr(line, "median_ms="), *rs = strstr(line, "peak_rss_mb=");
      if (m) *ms = atof(m + 10);
      if (rs) *rss = atof(rs + 12);
    } else if (line[0] == '#') {
      fputs(line, stdout);
    }
  }
  if (p) pclose(p);
  return tps;
}

int main(int argc, char **argv) {
  const char *preset = "edgelm", *prec = NULL;
  int B = 128, T = 32, reps = 5, peer = 1, step = 0, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc)
      preset = argv[++i];
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      B = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--len") && i + 1 < argc)
      T = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
      prec = argv[++i];
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer"))
      peer = 0;
    else if (!strcmp(argv[i], "--step"))
      step = 1;
    else
      return fprintf(stderr, "usage: bench_model [--config P] [--batch B] [--len T] [--reps N] "
                             "[--step] [--precision fp32|bf16|both] [--threads N] [--no-peer]\n"),
             2;
  }
  if (B < 1 || T < 2 || reps < 1)
    return fprintf(stderr, "error: --batch, --reps >= 1 and --len >= 2 expected\n"), 2;
  char err[EF_CONFIG_ERR_LEN], path[1024];
  ef_model_config cfg;
  ef_train_options topt;
  ef_model_config_default(&cfg);
  ef_train_options_default(&topt);
  ef_config_table t[2] = {{ef_model_keys, ef_model_n_keys, &cfg},
                          {ef_train_keys, ef_train_n_keys, &topt}};
  ef_model *probe = NULL;
  if (ef_config_resolve(preset, path, sizeof path, err, sizeof err) ||
      ef_config_load(t, 2, path, err, sizeof err) || ef_model_new(&cfg, &probe, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  double flops = 6.0 * ef_model_macs(probe, T, T) * B, tokens = 2.0 * B * T;
  ef_model_free(probe);
  /* the pool's default size, read without starting it: children must fork from a parent
   * without threads */
  const char *env = getenv("EF_NUM_THREADS");
  if (threads < 1) threads = env && atoi(env) > 0 ? atoi(env) : (int)sysconf(_SC_NPROCESSORS_ONLN);
  run_args ra = {&cfg, B, T, reps, step, 0, threads};
  child_result ceil_r;
  if (in_child(ceilings, &ra, &ceil_r)) return fprintf(stderr, "error: ceiling run failed\n"), 1;
  int have_bf16 = ceil_r.b > 0;
  if (!prec) prec = have_bf16 ? "both" : "fp32";
  int want[2] = {!strcmp(prec, "fp32") || !strcmp(prec, "both"),
                 !strcmp(prec, "bf16") || !strcmp(prec, "both")};
  if (!want[0] && !want[1]) return fprintf(stderr, "error: --precision fp32, bf16 or both\n"), 2;
  if (want[1] && !have_bf16) {
    printf("bf16: unavailable on this CPU (%s): fp32 only\n", ceil_r.note);
    want[1] = 0, want[0] = 1;
  }
  double ceil = ceil_r.a > ceil_r.b ? ceil_r.a : ceil_r.b;
  char cpu[256];
  cpu_name(cpu, sizeof cpu);
  printf("cpu: %s\n", cpu);
  printf("model %s: batch %d x (%d source + %d target) tokens, threads %d, %s; %s\n", preset, B, T,
         T, threads, step ? "training step" : "forward+backward", ceil_r.note);
  printf("ceiling (%dx%dx%d): sgemm %.1f GFLOP/s, bf16 %s%.1f GFLOP/s -> %.1f\n", B * T,
         cfg.encoder_ffn_dim, cfg.embed_dim, ceil_r.a, have_bf16 ? "" : "(n/a) ", ceil_r.b, ceil);
  static const char *names[2] = {"edgeformer fp32", "edgeformer bf16"};
  static const char *pnames[2] = {"pytorch fp32", "pytorch bf16 autocast"};
  double tps[2] = {0, 0}, ptps[2] = {0, 0};
  printf("%-22s %10s %10s %10s %8s %9s\n", "", "median ms", "tokens/s", "GFLOP/s", "ceiling",
         "RSS MB");
  for (int v = 0; v < 2; v++) {
    if (!want[v]) continue;
    ra.bf16 = v;
    child_result r;
    if (in_child(run_edgeformer, &ra, &r))
      return fprintf(stderr, "error: %s run failed\n", names[v]), 1;
    tps[v] = tokens / r.median_s;
    printf("%-22s %10.1f %10.0f %10.1f %8.2f %9.0f\n", names[v], 1e3 * r.median_s, tps[v],
           flops / r.median_s / 1e9, flops / r.median_s / 1e9 / ceil, r.rss_mb);
  }
  for (int v = 0; peer && v < 2; v++) {
    if (!want[v]) continue;
    double ms = 0, rss = 0;
    ptps[v] = run_peer(path, B, T, threads, reps, step, v, &ms, &rss);
    if (ptps[v] > 0)
      printf("%-22s %10.1f %10.0f %10.1f %8.2f %9.0f\n", pnames[v], ms, ptps[v],
             flops / (ms / 1e3) / 1e9, flops / (ms / 1e3) / 1e9 / ceil, rss);
    else
      printf("%-22s unavailable (needs python3-torch and bench/model_peer.py)\n", pnames[v]);
  }
  for (int v = 0; v < 2; v++)
    for (int w = 0; w < 2; w++)
      if (tps[v] > 0 && ptps[w] > 0)
        printf("ratio %s / %s tokens/s: %.2f\n", names[v], pnames[w], tps[v] / ptps[w]);
  if (tps[0] > 0 && tps[1] > 0)
    printf("ratio edgeformer bf16 / fp32 tokens/s: %.2f\n", tps[1] / tps[0]);
  return 0;
}
