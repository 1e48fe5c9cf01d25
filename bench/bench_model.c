/* bench_model: forward + loss + backward of a model preset (default edgelm) on a batch of
 * about 4096 source + 4096 target tokens, against the PyTorch reference model
 * (bench/model_peer.py, Debian's torch through /usr/bin/python3) on the same batch shape and
 * thread count, in one run. Prints tokens/s (source + target tokens per second, medians), the
 * ratio, and each side's share of the sgemm ceiling measured here (achieved GEMM-equivalent
 * GFLOP/s: 6 x multiply-adds of the dense products per step, over the step time).
 *
 * With --step, a full training step: also gradient scaling, clip_grad_norm (1.0) and an Adam
 * update (the peer adds clip_grad_norm_ and torch.optim.Adam). Peak RSS of each process is
 * reported (getrusage; the peer's from its own process).
 *
 * Usage: bench_model [--config PRESET] [--batch B] [--len T] [--reps N] [--step] [--no-peer] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "autograd/blas.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "model/edgeformer.h"
#include "optim/adam.h"
#include "optim/clip.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* sgemm ceiling on the model's largest shape (tokens x d -> ffn). */
static double sgemm_ceiling(int M, int N, int K) {
  float *A = calloc((size_t)M * K, 4), *B = calloc((size_t)N * K, 4), *C = calloc((size_t)M * N, 4);
  for (int64_t i = 0; i < (int64_t)M * K; i++) A[i] = 0.001f * (float)(i % 97);
  for (int64_t i = 0; i < (int64_t)N * K; i++) B[i] = 0.001f * (float)(i % 89);
  double best = 0.0;
  for (int r = 0; r < 5; r++) {
    double t0 = now();
    ef_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
    double g = 2.0 * M * N * K / (now() - t0);
    if (g > best) best = g;
  }
  free(A), free(B), free(C);
  return best;
}

int main(int argc, char **argv) {
  const char *preset = "edgelm";
  int B = 128, T = 32, reps = 5, peer = 1, step = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) preset = argv[++i];
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--len") && i + 1 < argc) T = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-peer")) peer = 0;
    else if (!strcmp(argv[i], "--step")) step = 1;
    else return fprintf(stderr, "usage: bench_model [--config P] [--batch B] [--len T] [--reps N] [--no-peer]\n"), 2;
  }
  char err[EF_CONFIG_ERR_LEN], path[1024];
  ef_model_config cfg;
  ef_model_config_default(&cfg);
  ef_config_table t = {ef_model_keys, ef_model_n_keys, &cfg};
  ef_model *m = NULL;
  if (ef_config_resolve(preset, path, sizeof path, err, sizeof err) ||
      ef_config_load(&t, 1, path, err, sizeof err) || ef_model_new(&cfg, &m, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  ef_model_init(m, 1);
  ef_adam adam;
  ef_adam_config ac = ef_adam_default_config();
  ac.beta2 = 0.98;
  if (step && ef_adam_init(&adam, m->params, &ac, err, sizeof err))
    return fprintf(stderr, "error: %s\n", err), 1;
  /* batch: real-looking lengths (some padding), ids in the vocabulary */
  int32_t *src = malloc((size_t)B * T * 4), *prev = malloc((size_t)B * T * 4), *tgt = malloc((size_t)B * T * 4);
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
    for (int i = 0; i < T; i++) prev[b * T + i] = i == 0 ? EF_EOS : (i < len ? tgt[b * T + i - 1] : EF_PAD);
  }
  ef_ctx *c = ef_ctx_new(256u << 20, 16384);
  double *times = malloc((size_t)reps * sizeof(double));
  for (int r = -1; r < reps; r++) {
    double t0 = now();
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
    if (r >= 0) times[r] = now() - t0;
  }
  qsort(times, (size_t)reps, sizeof *times, cmp);
  double med = times[reps / 2], tokens = 2.0 * B * T;
  /* dense work: 3 x (teacher-forced MACs, counted per token pair) x 2 flops */
  double flops = 6.0 * ef_model_macs(m, T, T) * B;
  double ceil = sgemm_ceiling(B * T, cfg.encoder_ffn_dim, cfg.embed_dim);
  printf("model %s: batch %d x (%d source + %d target) tokens, threads %d, openblas %s\n", preset,
         B, T, T, ef_num_threads(), ef_blas_corename());
  printf("sgemm ceiling: %.1f GFLOP/s\n", ceil / 1e9);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss_mb = (double)ru.ru_maxrss / 1024.0;
  printf("edgeformer: median %.1f ms/%s  %.0f tokens/s  %.1f GFLOP/s (%.2f of ceiling)  peak RSS %.0f MB\n",
         1e3 * med, step ? "training step" : "forward+backward", tokens / med, flops / med / 1e9,
         flops / med / ceil, rss_mb);
  if (peer) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/model_peer.py --config %s --tokens %d --src-len %d "
             "--tgt-len %d --threads %d --runs %d%s 2>&1",
             EF_SOURCE_DIR, path, B * T, T, T, ef_num_threads(), reps, step ? " --step" : "");
    FILE *p = popen(cmd, "r");
    char line[1024];
    double peer_tps = 0.0, peer_ms = 0.0, peer_rss = 0.0;
    while (p && fgets(line, sizeof line, p)) {
      char *q = strstr(line, "tokens_per_s=");
      if (!strncmp(line, "peer ", 5) && q) {
        peer_tps = atof(q + 13);
        char *ms = strstr(line, "median_ms="), *rs = strstr(line, "peak_rss_mb=");
        if (ms) peer_ms = atof(ms + 10);
        if (rs) peer_rss = atof(rs + 12);
      } else {
        fputs(line, stdout);
      }
    }
    if (p) pclose(p);
    if (peer_tps > 0) {
      printf("pytorch:    median %.1f ms  %.0f tokens/s  %.1f GFLOP/s (%.2f of ceiling)  peak RSS %.0f MB\n",
             peer_ms, peer_tps, flops / (peer_ms / 1e3) / 1e9, flops / (peer_ms / 1e3) / ceil,
             peer_rss);
      printf("ratio edgeformer/pytorch tokens/s: %.2f   peak RSS ratio: %.2f\n",
             (tokens / med) / peer_tps, rss_mb / peer_rss);
    } else {
      printf("pytorch peer unavailable (needs python3-torch and bench/model_peer.py)\n");
    }
  }
  free(times), free(src), free(prev), free(tgt);
  ef_ctx_free(c);
  ef_model_free(m);
  return 0;
}
