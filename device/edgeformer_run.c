/* device/edgeformer_run.c: `edgeformer-run MODEL.efm [--beam N] [--lenpen X] [--max-len-a A]
 * [--max-len-b B] [--no-repeat-ngram-size N] [--threads N]`: the on-device translator. Reads lines of UTF-8 text on stdin
 * and writes one translation per line on stdout (flushed per line, so it can sit behind a pipe
 * interactively). Linked only against ef_runtime (libc, libm, pthreads) through the public API
 * runtime/edgeformer_rt.h: it must never include anything of the training side.
 * A line that cannot be translated (invalid UTF-8, longer than the model's max positions) is an
 * error naming the line; the exit status is then 1.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/edgeformer_rt.h"

static void usage(FILE *f) {
  fprintf(f, "usage: edgeformer-run MODEL.efm [--beam N] [--lenpen X] [--max-len-a A]\n"
             "                      [--max-len-b B] [--no-repeat-ngram-size N] [--threads N]\n"
             "\n"
             "Translates stdin to stdout, one line per line, with a model written by\n"
             "`edgeformer export` (docs/device.md).\n"
             "  --beam N       beam size, 1 = greedy (default 5)\n"
             "  --lenpen X     length penalty (default 1)\n"
             "  --max-len-a A  at most A * source tokens + B output tokens (default 0)\n"
             "  --max-len-b B  (default 200)\n"
             "  --no-repeat-ngram-size N  never repeat an n-gram of N tokens (default 0 = off)\n"
             "  --threads N    threads for the matrix products (default 1)\n");
}

/* Parses argv[i + 1] as a number; 0, or -1 with a message. */
static int number(int argc, char **argv, int i, double lo, double hi, double *v) {
  if (i + 1 >= argc) {
    fprintf(stderr, "error: %s needs a value\n", argv[i]);
    return -1;
  }
  char *end;
  *v = strtod(argv[i + 1], &end);
  if (end == argv[i + 1] || *end || !(*v >= lo && *v <= hi)) {
    fprintf(stderr, "error: %s %s: expected a number in [%g, %g]\n", argv[i], argv[i + 1], lo, hi);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  ef_rt_options o;
  ef_rt_options_default(&o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    double v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--beam")) {
      if (number(argc, argv, i++, 1, 256, &v) || v != (int)v) return 2;
      o.beam = (int)v;
    } else if (!strcmp(a, "--lenpen")) {
      if (number(argc, argv, i++, -100, 100, &v)) return 2;
      o.lenpen = (float)v;
    } else if (!strcmp(a, "--max-len-a")) {
      if (number(argc, argv, i++, 0, 1e6, &v)) return 2;
      o.max_len_a = v;
    } else if (!strcmp(a, "--max-len-b")) {
      if (number(argc, argv, i++, 0, 1e6, &v) || v != (int)v) return 2;
      o.max_len_b = (int)v;
    } else if (!strcmp(a, "--no-repeat-ngram-size")) {
      if (number(argc, argv, i++, 0, 1e6, &v) || v != (int)v) return 2;
      o.no_repeat_ngram_size = (int)v;
    } else if (!strcmp(a, "--threads")) {
      if (number(argc, argv, i++, 1, 64, &v) || v != (int)v) return 2;
      o.threads = (int)v;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "error: unknown option '%s' (run edgeformer-run --help)\n", a);
      return 2;
    } else if (!path) {
      path = a;
    } else {
      fprintf(stderr, "error: unexpected argument '%s' (one model)\n", a);
      return 2;
    }
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  char err[1024];
  ef_rt_model *m = NULL;
  if (ef_rt_load(path, &m, err, sizeof err) != EF_RT_OK) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  long long lineno = 0;
  int rc = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (n > 0 && line[n - 1] == '\r') line[--n] = 0;
    if (memchr(line, 0, (size_t)n)) {
      fprintf(stderr, "error: stdin:%lld: the line holds a NUL byte\n", lineno);
      rc = 1;
      break;
    }
    char *out = NULL;
    ef_rt_status s = ef_rt_translate(m, line, &o, &out, err, sizeof err);
    if (s != EF_RT_OK) {
      fprintf(stderr, "error: stdin:%lld: %s\n", lineno, err);
      rc = 1;
      break;
    }
    fputs(out, stdout);
    putchar('\n');
    fflush(stdout);
    free(out);
  }
  if (ferror(stdin)) {
    fprintf(stderr, "error: stdin: read error\n");
    rc = 1;
  }
  free(line);
  ef_rt_free(m);
  return rc;
}
