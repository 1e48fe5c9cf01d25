/* train/checkpoint_files.c: the checkpoint folder: checkpoint_<update>.h5, checkpoint_last.h5
 * and checkpoint_best.h5 written once and linked (ef_ckpt_save_set), and rotation of the
 * numbered files (ef_ckpt_rotate). It must never delete or replace anything but numbered
 * checkpoints in rotation, and never replace a name with an incomplete file. */
#define _POSIX_C_SOURCE 200809L
#include "train/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/durable.h"

#define EF_CKPT_NAME_BYTES 64 /* "checkpoint_<int64>.h5" and the fixed names */
#define EF_CKPT_N_NAMES 3

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", dir, name);
  return s;
}

int ef_ckpt_save_set(const char *dir, unsigned which, const ef_params *p,
                     const char *config_ini_text, const ef_train_state *st, int with_optimizer,
                     char *err, size_t errlen) {
  if (!dir || !st || !(which & (EF_CKPT_SAVE_UPDATE | EF_CKPT_SAVE_LAST | EF_CKPT_SAVE_BEST))) {
    set_err(err, errlen, "checkpoint save: a folder, a state and at least one name are needed");
    return 1;
  }
  char names[EF_CKPT_N_NAMES][EF_CKPT_NAME_BYTES];
  int n = 0;
  if (which & EF_CKPT_SAVE_UPDATE)
    snprintf(names[n++], EF_CKPT_NAME_BYTES, EF_CKPT_UPDATE_FMT, (long long)st->num_updates);
  if (which & EF_CKPT_SAVE_LAST) snprintf(names[n++], EF_CKPT_NAME_BYTES, EF_CKPT_LAST_NAME);
  if (which & EF_CKPT_SAVE_BEST) snprintf(names[n++], EF_CKPT_NAME_BYTES, EF_CKPT_BEST_NAME);
  char *paths[EF_CKPT_N_NAMES] = {0};
  int rc = 1;
  for (int i = 0; i < n; i++)
    if (!(paths[i] = join(dir, names[i]))) {
      set_err(err, errlen, "%s: out of memory", dir);
      goto out;
    }
  /* Written once (atomic and synced, folder included) ... */
  if (ef_ckpt_save(paths[0], p, config_ini_text, st, with_optimizer, err, errlen)) goto out;
  /* ... then every other name replaced atomically by a link to it; one folder sync at the end
   * makes all the renames durable. */
  for (int i = 1; i < n; i++)
    if (ef_durable_publish(paths[0], paths[i], err, errlen)) goto out;
  if (n > 1 && ef_durable_sync_parent(paths[0], err, errlen)) goto out;
  rc = 0;
out:
  for (int i = 0; i < n; i++) free(paths[i]);
  return rc;
}

/* The update number of "checkpoint_<digits>.h5", or -1 for any other name. */
static long long update_of(const char *name) {
  static const char prefix[] = "checkpoint_", suffix[] = ".h5";
  size_t n = strlen(name), lp = sizeof prefix - 1, ls = sizeof suffix - 1;
  if (n <= lp + ls || strncmp(name, prefix, lp) || strcmp(name + n - ls, suffix)) return -1;
  long long v = 0;
  for (size_t i = lp; i < n - ls; i++) {
    if (!isdigit((unsigned char)name[i]) || i - lp >= 18) return -1; /* no overflow */
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

typedef struct {
  long long update;
  char *name;
} numbered;

static int newest_first(const void *a, const void *b) {
  long long x = ((const numbered *)a)->update, y = ((const numbered *)b)->update;
  return x < y ? 1 : x > y ? -1 : strcmp(((const numbered *)a)->name, ((const numbered *)b)->name);
}

int ef_ckpt_rotate(const char *dir, int keep_last, int *n_removed, char *err, size_t errlen) {
  if (n_removed) *n_removed = 0;
  if (keep_last <= 0) return 0;
  DIR *d = opendir(dir);
  if (!d) {
    set_err(err, errlen, "%s: cannot list the checkpoint folder: %s", dir, strerror(errno));
    return 1;
  }
  numbered *v = NULL;
  size_t n = 0, cap = 0;
  int rc = 1;
  struct dirent *e;
  while ((e = readdir(d))) {
    long long u = update_of(e->d_name);
    if (u < 0) continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      numbered *nv = realloc(v, nc * sizeof *nv);
      if (!nv) goto oom;
      v = nv;
      cap = nc;
    }
    if (!(v[n].name = strdup(e->d_name))) goto oom;
    v[n++].update = u;
  }
  qsort(v, n, sizeof *v, newest_first);
  rc = 0;
  for (size_t i = (size_t)keep_last; i < n && !rc; i++) {
    char *path = join(dir, v[i].name);
    if (!path) goto oom;
    if (unlink(path) && errno != ENOENT) {
      set_err(err, errlen, "%s: cannot remove an old checkpoint: %s", path, strerror(errno));
      rc = 1;
    } else if (n_removed) {
      (*n_removed)++;
    }
    free(path);
  }
  goto out;
oom:
  set_err(err, errlen, "%s: out of memory listing checkpoints", dir);
  rc = 1;
out:
  closedir(d);
  for (size_t i = 0; i < n; i++) free(v[i].name);
  free(v);
  return rc;
}
