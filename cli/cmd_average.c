/* cli/cmd_average.c: `edgeformer average`, fairseq's scripts/average_checkpoints.py for HDF5
 * checkpoints: the element-wise mean of the parameters of several checkpoints of one model,
 * written as a new checkpoint. Inputs are listed (--inputs) or the newest N numbered
 * checkpoints of a folder (--num-update-checkpoints: checkpoint_<update>.h5,
 * --num-epoch-checkpoints: checkpoint<epoch>.h5). Sums run in float64 in input order and the
 * mean is rounded once to float32. The checkpoint stores each shared tensor once (unique
 * parameters + alias map), so a shared tensor is averaged once and stays shared. Every input is
 * validated against the first one's model (same keys, shapes, alias map) before anything is
 * written; the output is written atomically (temporary file, fsync, rename, folder fsync).
 * It must never write a partial or unvalidated average. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "model/edgeformer.h"
#include "train/checkpoint.h"
#include "train/checkpoint_blob.h"
#include "train/options.h"

#define AVG_MAX_INPUTS 4096
#define AVG_ERR_LEN 1024
#define AVG_PATH_MAX 4096

static void average_usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer average (--inputs CKPT [CKPT ...] | --num-update-checkpoints N |\n"
          "                           --num-epoch-checkpoints N) [--save-dir DIR]\n"
          "                          [--checkpoint-upper-bound K] -o OUT.h5\n"
          "\n"
          "Average the parameters of several checkpoints of the same model (fairseq's\n"
          "scripts/average_checkpoints.py). Sums are float64, the mean is rounded to float32;\n"
          "shared tensors are stored and averaged once. The output keeps the first input's\n"
          "config, training counters and embedded tokenizer, without optimizer state (fine-tune\n"
          "from it with --reset-optimizer true).\n"
          "\n"
          "  --inputs CKPT ...            the checkpoints to average (at least one)\n"
          "  --num-update-checkpoints N   the N checkpoint_<update>.h5 with the highest updates\n"
          "  --num-epoch-checkpoints N    the N checkpoint<epoch>.h5 with the highest epochs\n"
          "  --save-dir DIR               where to look for them (default: --inputs DIR, or the\n"
          "                               folder of --inputs FILE, else .)\n"
          "  --checkpoint-upper-bound K   with the two options above: ignore numbers above K\n"
          "  -o, --output OUT.h5          the averaged checkpoint (written atomically)\n");
}

typedef struct {
  long long num;
  char *path;
} numbered;

static int by_num_desc(const void *a, const void *b) {
  long long x = ((const numbered *)a)->num, y = ((const numbered *)b)->num;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* "<prefix><digits>.h5" exactly: its number, or -1. */
static long long match_num(const char *name, const char *prefix) {
  size_t pl = strlen(prefix), n = strlen(name);
  if (n <= pl + 3 || strncmp(name, prefix, pl) || strcmp(name + n - 3, ".h5")) return -1;
  long long v = 0;
  for (size_t i = pl; i < n - 3; i++) {
    if (name[i] < '0' || name[i] > '9' || v > 100000000000000ll) return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

/* fairseq's last_n_checkpoints: the n files of dir whose names are <prefix><number>.h5 with the
 * highest numbers (<= upper when upper >= 0), newest first. Paths malloc'd into out. */
static int last_n(const char *dir, const char *prefix, int n, long long upper, char **out,
                  int *nout) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "error: %s: cannot open the folder: %s\n", dir, strerror(errno));
    return 1;
  }
  numbered *all = NULL;
  size_t cnt = 0, cap = 0;
  int rc = 1;
  struct dirent *e;
  while ((e = readdir(d))) {
    long long v = match_num(e->d_name, prefix);
    if (v < 0 || (upper >= 0 && v > upper)) continue;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      numbered *q = realloc(all, cap * sizeof *q);
      if (!q) goto oom;
      all = q;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    all[cnt].path = malloc(len);
    if (!all[cnt].path) goto oom;
    snprintf(all[cnt].path, len, "%s/%s", dir, e->d_name);
    all[cnt++].num = v;
  }
  if (cnt < (size_t)n) {
    fprintf(stderr, "error: %s: found %zu %s<N>.h5 checkpoint files but need %d\n", dir, cnt,
            prefix, n);
    goto done;
  }
  qsort(all, cnt, sizeof *all, by_num_desc);
  for (int i = 0; i < n; i++) {
    out[i] = all[i].path;
    all[i].path = NULL;
  }
  *nout = n;
  rc = 0;
  goto done;
oom:
  fprintf(stderr, "error: out of memory\n");
done:
  for (size_t i = 0; i < cnt; i++) free(all[i].path);
  free(all);
  closedir(d);
  return rc;
}

/* Averages paths[0..n) into out. Prints the error; 0 or 1. */
static int average(char **paths, int n, const char *out) {
  char err[AVG_ERR_LEN];
  ef_model *m = NULL;
  ef_train_options *to = malloc(sizeof *to); /* large (paths) */
  char *config = NULL;
  double *sum = NULL;
  ef_ckpt_blob blobs[EF_CKPT_MAX_BLOBS];
  int nblobs = 0, rc = 1;
  if (!to) goto oom;
  if (ef_ckpt_load_model(paths[0], &m, to, err, sizeof err) ||
      ef_ckpt_read_config(paths[0], &config, err, sizeof err))
    goto fail;
  ef_params *p = m->params;
  /* the first input's counters (fairseq keeps the first file's state); its moments are read
   * only to get there and never written */
  ef_train_state st;
  ef_ckpt_state_init(&st, 0);
  if (ef_params_alloc_states(p, EF_CKPT_N_MOMENTS, err, sizeof err)) goto fail;
  if (ef_ckpt_load(paths[0], p, &st, NULL, 0, err, sizeof err) &&
      ef_ckpt_load(paths[0], p, &st, NULL, EF_CKPT_RESET_OPTIMIZER, err, sizeof err))
    goto fail;
  if (ef_ckpt_read_blobs(paths[0], blobs, &nblobs, err, sizeof err)) goto fail;
  int64_t len = ef_params_flat_len(p);
  sum = calloc((size_t)len, sizeof *sum);
  if (!sum) goto oom;
  float *data = ef_params_data(p);
  for (int k = 0; k < n; k++) {
    /* validated against the first input's model: keys, shapes, alias map, finite values */
    if (k && ef_ckpt_load(paths[k], p, NULL, NULL, EF_CKPT_PARAMS_ONLY, err, sizeof err)) {
      fprintf(stderr, "error: %s (not the model of %s?)\n", err, paths[0]);
      goto done;
    }
    for (int64_t i = 0; i < len; i++) sum[i] += (double)data[i];
  }
  for (int64_t i = 0; i < len; i++) data[i] = (float)(sum[i] / (double)n);
  if (ef_ckpt_save_blobs(out, p, config, &st, 0, blobs, nblobs, err, sizeof err)) goto fail;
  printf("average: %d checkpoints (%s ... %s), %d unique parameters (%lld values) -> %s\n", n,
         paths[0], paths[n - 1], ef_params_count(p), (long long)ef_params_numel(p), out);
  rc = 0;
  goto done;
oom:
  fprintf(stderr, "error: out of memory\n");
  goto done;
fail:
  fprintf(stderr, "error: %s\n", err);
done:
  ef_ckpt_blobs_free(blobs, nblobs);
  free(sum);
  free(config);
  ef_model_free(m);
  free(to);
  return rc;
}

static int int_opt(const char *flag, const char *v, long long lo, long long *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > AVG_MAX_INPUTS * 1000000ll) {
    fprintf(stderr, "error: average: %s %s: expected an integer >= %lld\n", flag, v, lo);
    return 1;
  }
  *out = x;
  return 0;
}

int cmd_average(int argc, char **argv) {
  char *inputs[AVG_MAX_INPUTS];
  int ninputs = 0, owned = 0, rc = 2;
  long long n_update = 0, n_epoch = 0, upper = -1;
  const char *out = NULL, *save_dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      average_usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--inputs")) {
      while (i + 1 < argc && strncmp(argv[i + 1], "-", 1)) {
        if (ninputs == AVG_MAX_INPUTS) {
          fprintf(stderr, "error: average: more than %d --inputs\n", AVG_MAX_INPUTS);
          return 2;
        }
        inputs[ninputs++] = argv[++i];
      }
      if (!ninputs) {
        fprintf(stderr, "error: average: --inputs needs at least one checkpoint\n");
        return 2;
      }
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "error: average: %s needs a value (see `edgeformer average --help`)\n", a);
      return 2;
    }
    const char *v = argv[++i];
    if (!strcmp(a, "-o") || !strcmp(a, "--output"))
      out = v;
    else if (!strcmp(a, "--save-dir"))
      save_dir = v;
    else if (!strcmp(a, "--num-update-checkpoints")) {
      if (int_opt(a, v, 1, &n_update)) return 2;
    } else if (!strcmp(a, "--num-epoch-checkpoints")) {
      if (int_opt(a, v, 1, &n_epoch)) return 2;
    } else if (!strcmp(a, "--checkpoint-upper-bound")) {
      if (int_opt(a, v, 0, &upper)) return 2;
    } else {
      fprintf(stderr, "error: average: unknown option '%s' (see `edgeformer average --help`)\n", a);
      return 2;
    }
  }
  if (!out || (!ninputs && !n_update && !n_epoch) || (n_update && n_epoch)) {
    fprintf(stderr, "error: average: -o OUT.h5 and one of --inputs, --num-update-checkpoints or "
                    "--num-epoch-checkpoints are required (see `edgeformer average --help`)\n");
    return 2;
  }
  if ((n_update || n_epoch) && ninputs > 1) {
    fprintf(stderr, "error: average: --inputs names one folder's checkpoint when "
                    "--num-*-checkpoints is given (or use --save-dir)\n");
    return 2;
  }
  if (upper >= 0 && !n_update && !n_epoch) {
    fprintf(stderr, "error: average: --checkpoint-upper-bound needs --num-update-checkpoints or "
                    "--num-epoch-checkpoints\n");
    return 2;
  }
  if (n_update || n_epoch) {
    char dir[AVG_PATH_MAX] = ".";
    if (save_dir) {
      snprintf(dir, sizeof dir, "%s", save_dir);
    } else if (ninputs) { /* fairseq: --inputs names the folder; or a file in it */
      struct stat sb;
      snprintf(dir, sizeof dir, "%s", inputs[0]);
      char *slash = strrchr(dir, '/');
      if (!stat(dir, &sb) && S_ISDIR(sb.st_mode))
        ;
      else if (slash)
        *slash = 0;
      else
        snprintf(dir, sizeof dir, ".");
    }
    ninputs = 0;
    if (last_n(dir, n_update ? "checkpoint_" : "checkpoint", (int)(n_update ? n_update : n_epoch),
               upper, inputs, &ninputs))
      return 1;
    owned = 1;
  }
  rc = average(inputs, ninputs, out);
  if (owned)
    for (int i = 0; i < ninputs; i++) free(inputs[i]);
  return rc;
}
