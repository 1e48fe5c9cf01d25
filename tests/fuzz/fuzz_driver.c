/* tests/fuzz/fuzz_driver.c: a main() for the fuzz targets without libFuzzer, so ctest (gcc,
 * optionally ASan+UBSan) replays the committed crash-candidate corpus tests/fuzz/corpus_spm/
 * through LLVMFuzzerTestOneInput. Arguments are files or directories (every regular file in a
 * directory, sorted by name, is one input). Exits 1 when an argument cannot be read or names no
 * input at all; a broken invariant inside the target aborts.
 * It must never skip an input silently: every file is run or the driver fails.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INPUT_BYTES (64u << 20) /* larger inputs are refused, not cut */
#define MAX_PATH_BYTES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "error: %s: cannot open\n", path);
    return 1;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > MAX_INPUT_BYTES) {
    fprintf(stderr, "error: %s: cannot size it or larger than %u bytes\n", path, MAX_INPUT_BYTES);
    fclose(f);
    return 1;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1); /* exactly n bytes: ASan sees any read past the input */
  if (!buf || fread(buf, 1, n, f) != n) {
    fprintf(stderr, "error: %s: cannot read %zu bytes\n", path, n);
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, n);
  free(buf);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir; *count is increased by the number run. */
static int run_dir(const char *dir, int *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "error: %s: cannot open directory\n", dir);
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(names, cap * sizeof *names);
      if (!grown) abort();
      names = grown;
    }
    names[n] = strdup(e->d_name);
    if (!names[n++]) abort();
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char path[MAX_PATH_BYTES];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc |= run_file(path);
      ++*count;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int rc = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "error: %s: no such file or directory\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      rc |= run_dir(argv[i], &count);
    } else {
      rc |= run_file(argv[i]);
      count++;
    }
  }
  if (count == 0) {
    fprintf(stderr, "error: fuzz_driver: no inputs given (pass files or directories)\n");
    return 1;
  }
  printf("%s: %d inputs, no crash\n", argv[0], count);
  return rc;
}
