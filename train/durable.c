/* train/durable.c: temporary names, fsync of files and folders, atomic rename and link-or-copy
 * publication (see durable.h). It must never leave a temporary file behind on a failure path,
 * nor replace a target with anything but a complete, fsync'ed file. */
#define _POSIX_C_SOURCE 200809L
#include "train/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EF_DURABLE_PID_DIGITS 24        /* room for the tag, a pid and the NUL */
#define EF_DURABLE_COPY_CHUNK (1 << 20) /* bytes per read/write when copying */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

char *ef_durable_tmp_path(const char *target) {
  size_t n = strlen(target) + sizeof EF_DURABLE_TMP_TAG + EF_DURABLE_PID_DIGITS;
  char *tmp = malloc(n);
  if (tmp) snprintf(tmp, n, "%s%s%ld", target, EF_DURABLE_TMP_TAG, (long)getpid());
  return tmp;
}

static int sync_fd_path(const char *path, int flags, const char *what, char *err, size_t errlen) {
  int fd = open(path, flags);
  if (fd < 0) {
    set_err(err, errlen, "%s: cannot open %s to sync it: %s", path, what, strerror(errno));
    return 1;
  }
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc) {
    set_err(err, errlen, "%s: cannot sync %s: %s", path, what, strerror(e));
    return 1;
  }
  return 0;
}

/* Writes all n bytes to fd; 0, or -1 with errno set. */
static int write_full(int fd, const void *buf, size_t n) {
  const char *b = buf;
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return -1;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

int ef_durable_write(const char *target, const void *buf, size_t n, char *err, size_t errlen) {
  char *tmp = ef_durable_tmp_path(target);
  if (!tmp) {
    set_err(err, errlen, "%s: out of memory", target);
    return 1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = 1;
  const char *step = "create";
  if (fd >= 0) {
    step = "write";
    if (write_full(fd, buf, n) == 0) step = fsync(fd) == 0 ? NULL : "sync";
    int e = errno;
    if (close(fd) != 0 && !step)
      step = "close";
    else
      errno = e;
  }
  if (step) {
    set_err(err, errlen, "%s: cannot %s the temporary file %s: %s; the previous file is untouched",
            target, step, tmp, strerror(errno));
    if (fd >= 0) remove(tmp);
  } else {
    rc = ef_durable_commit(tmp, target, err, errlen);
  }
  free(tmp);
  return rc;
}

int ef_durable_sync_parent(const char *path, char *err, size_t errlen) {
  const char *slash = strrchr(path, '/');
  if (!slash) return sync_fd_path(".", O_RDONLY | O_DIRECTORY, "the folder", err, errlen);
  size_t n = slash == path ? 1 : (size_t)(slash - path); /* "/x" -> "/" */
  char *dir = malloc(n + 1);
  if (!dir) {
    set_err(err, errlen, "%s: out of memory", path);
    return 1;
  }
  memcpy(dir, path, n);
  dir[n] = 0;
  int rc = sync_fd_path(dir, O_RDONLY | O_DIRECTORY, "the folder", err, errlen);
  free(dir);
  return rc;
}

int ef_durable_commit(const char *tmp, const char *target, char *err, size_t errlen) {
  if (rename(tmp, target)) {
    set_err(err, errlen, "%s: cannot rename the temporary file %s into place: %s", target, tmp,
            strerror(errno));
    remove(tmp);
    return 1;
  }
  char sub[256] = "";
  if (ef_durable_sync_parent(target, sub, sizeof sub)) {
    set_err(err, errlen, "%s: written, but the folder could not be synced (%s)", target, sub);
    return 1;
  }
  return 0;
}

/* Copy src to dst (created, must not exist) and fsync it. */
static int copy_file(const char *src, const char *dst, char *err, size_t errlen) {
  int in = open(src, O_RDONLY), out = -1, rc = 1;
  char *buf = malloc(EF_DURABLE_COPY_CHUNK);
  if (in < 0 || !buf) {
    set_err(err, errlen, "%s: cannot read for copying: %s", src,
            buf ? strerror(errno) : "out of memory");
    goto out;
  }
  out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (out < 0) {
    set_err(err, errlen, "%s: cannot create: %s", dst, strerror(errno));
    goto out;
  }
  for (;;) {
    ssize_t n = read(in, buf, EF_DURABLE_COPY_CHUNK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      set_err(err, errlen, "%s: read failed: %s", src, strerror(errno));
      goto out;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        set_err(err, errlen, "%s: write failed: %s", dst, w < 0 ? strerror(errno) : "no progress");
        goto out;
      }
      done += w;
    }
  }
  if (fsync(out)) {
    set_err(err, errlen, "%s: cannot sync the file: %s", dst, strerror(errno));
    goto out;
  }
  rc = 0;
out:
  if (out >= 0 && close(out) && !rc) {
    set_err(err, errlen, "%s: close failed: %s", dst, strerror(errno));
    rc = 1;
  }
  if (in >= 0) close(in);
  free(buf);
  if (rc && out >= 0) remove(dst);
  return rc;
}

int ef_durable_publish(const char *src, const char *target, char *err, size_t errlen) {
  char *tmp = ef_durable_tmp_path(target);
  if (!tmp) {
    set_err(err, errlen, "%s: out of memory", target);
    return 1;
  }
  remove(tmp); /* a leftover of this very pid (an earlier crash) would make link() fail */
  int rc = 1;
  if (link(src, tmp) != 0) {
    /* No hard links here (EPERM, EXDEV, ...): fall back to a full copy. */
    if (copy_file(src, tmp, err, errlen)) goto out;
  }
  if (rename(tmp, target)) {
    set_err(err, errlen, "%s: cannot rename %s into place: %s", target, tmp, strerror(errno));
    remove(tmp);
    goto out;
  }
  /* rename() between two names of one inode (target already was a link to src) succeeds
   * without doing anything, leaving tmp behind. */
  if (access(tmp, F_OK) == 0) remove(tmp);
  rc = 0;
out:
  free(tmp);
  return rc;
}
