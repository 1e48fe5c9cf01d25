/* data/text.c: line-aligned text files and TSVs read into memory for `edgeformer prepare`
 * (rules in text.h). It must never split a line anywhere but at `\n`, and never pass on a line
 * that is not valid UTF-8. */
#include "data/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EF_TEXT_INITIAL_BYTES 65536
#define EF_TEXT_INITIAL_LINES 1024

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

void ef_text_init(ef_text *t) { memset(t, 0, sizeof *t); }

void ef_text_release(ef_text *t) {
  free(t->buf);
  free(t->off);
  ef_text_init(t);
}

int ef_text_append(ef_text *t, const char *s, size_t len) {
  if (t->n >= EF_TEXT_MAX_LINES || t->len + len > EF_TEXT_MAX_FILE_BYTES) return 1;
  if (t->n + 2 > t->cap_n) {
    int64_t cap = t->cap_n ? t->cap_n * 2 : EF_TEXT_INITIAL_LINES;
    int64_t *o = realloc(t->off, (size_t)cap * sizeof *o);
    if (!o) return 1;
    if (!t->off) o[0] = 0;
    t->off = o;
    t->cap_n = cap;
  }
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : EF_TEXT_INITIAL_BYTES;
    while (cap < t->len + len + 1) cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b) return 1;
    t->buf = b;
    t->cap = cap;
  }
  memcpy(t->buf + t->len, s, len);
  t->len += len;
  t->buf[t->len] = '\0'; /* so the last line is also a C string */
  t->off[++t->n] = (int64_t)t->len;
  return 0;
}

int ef_text_utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || len - i < (size_t)n + 1) return 0;
    uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1fu : n == 2 ? c & 0x0fu : c & 0x07u;
    for (int k = 1; k <= n; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (s[i + k] & 0x3fu);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += (size_t)n + 1;
  }
  return 1;
}

/* Calls fn on every line of path (checked), with its 1-based number. */
typedef int (*line_fn)(void *ctx, const char *s, size_t len, int64_t lineno, char *err,
                       size_t errlen);

static int for_each_line(const char *path, line_fn fn, void *ctx, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  char *line = NULL;
  size_t cap = 0, total = 0;
  ssize_t got;
  int64_t lineno = 0;
  int rc = 0;
  errno = 0;
  while ((got = getline(&line, &cap, f)) >= 0) {
    size_t len = (size_t)got;
    lineno++;
    total += len;
    if (total > EF_TEXT_MAX_FILE_BYTES || lineno > EF_TEXT_MAX_LINES) {
      set_err(err, errlen, "%s: larger than %zu bytes or %lld lines", path, EF_TEXT_MAX_FILE_BYTES,
              (long long)EF_TEXT_MAX_LINES);
      rc = 1;
      break;
    }
    if (len > 0 && line[len - 1] == '\n') len--;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (memchr(line, '\0', len)) {
      set_err(err, errlen, "%s:%lld: line holds a NUL byte (binary file?)", path,
              (long long)lineno);
      rc = 1;
      break;
    }
    if (!ef_text_utf8_valid(line, len)) {
      set_err(err, errlen, "%s:%lld: not valid UTF-8", path, (long long)lineno);
      rc = 1;
      break;
    }
    if ((rc = fn(ctx, line, len, lineno, err, errlen)) != 0) break;
  }
  if (!rc && ferror(f)) {
    set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
    rc = 1;
  }
  free(line);
  fclose(f);
  return rc;
}

typedef struct {
  const char *path;
  ef_text *a, *b;
} read_ctx;

static int add_line(void *ctx, const char *s, size_t len, int64_t lineno, char *err,
                    size_t errlen) {
  read_ctx *c = ctx;
  if (ef_text_append(c->a, s, len)) {
    set_err(err, errlen, "%s:%lld: out of memory", c->path, (long long)lineno);
    return 1;
  }
  return 0;
}

static int add_tsv_line(void *ctx, const char *s, size_t len, int64_t lineno, char *err,
                        size_t errlen) {
  read_ctx *c = ctx;
  const char *tab = memchr(s, '\t', len);
  int tabs = 0;
  for (size_t i = 0; i < len; i++) tabs += s[i] == '\t';
  if (tabs != 1) {
    set_err(err, errlen, "%s:%lld: expected 2 tab-separated fields (source, target), found %d",
            c->path, (long long)lineno, tabs + 1);
    return 1;
  }
  size_t ns = (size_t)(tab - s);
  if (ef_text_append(c->a, s, ns) || ef_text_append(c->b, tab + 1, len - ns - 1)) {
    set_err(err, errlen, "%s:%lld: out of memory", c->path, (long long)lineno);
    return 1;
  }
  return 0;
}

int ef_text_read(const char *path, ef_text *t, char *err, size_t errlen) {
  ef_text_init(t);
  read_ctx c = {path, t, NULL};
  int rc = for_each_line(path, add_line, &c, err, errlen);
  if (!rc && !t->off && ef_text_append(t, "", 0) == 0) { /* empty file: zero lines */
    t->n = 0;
    t->len = 0;
  }
  if (rc) ef_text_release(t);
  return rc;
}

int ef_text_read_tsv(const char *path, ef_text *src, ef_text *tgt, char *err, size_t errlen) {
  ef_text_init(src);
  ef_text_init(tgt);
  read_ctx c = {path, src, tgt};
  int rc = for_each_line(path, add_tsv_line, &c, err, errlen);
  if (!rc && !src->off) {
    rc = ef_text_append(src, "", 0) || ef_text_append(tgt, "", 0);
    src->n = tgt->n = 0;
    src->len = tgt->len = 0;
  }
  if (rc) {
    ef_text_release(src);
    ef_text_release(tgt);
  }
  return rc;
}
