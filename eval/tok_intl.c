/* eval/tok_intl.c: the intl, zh and char BLEU tokenizers (see tok_intl.h). The regexes of
 * intl are emulated on code points with Python's re.sub semantics (left to right,
 * non-overlapping, a match consumes both of its characters). It must never allocate per call
 * once its buffers are large enough. */
#include "eval/tok_intl.h"

#include <string.h>

#include "eval/unicode.h"

#include "eval/tok_tables.h"

#define INTL_GROWTH 3 /* a pass turns one code point into at most three */

static int in_table(const uint32_t (*r)[2], size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < r[mid][0])
      hi = mid;
    else if (cp > r[mid][1])
      lo = mid + 1;
    else
      return 1;
  }
  return 0;
}

#define TABLE(t) (t), sizeof(t) / sizeof((t)[0])

int ef_intl_is_number(uint32_t cp) { return in_table(TABLE(intl_n), cp); }
int ef_intl_is_punct(uint32_t cp) { return in_table(TABLE(intl_p), cp); }
int ef_intl_is_symbol(uint32_t cp) { return in_table(TABLE(intl_s), cp); }
int ef_zh_is_chinese(uint32_t cp) { return in_table(TABLE(zh_chars), cp); }

/* Code points -> UTF-8, then ' '.join(split()). */
static int cps_to_tokens(ef_tok13a *t, const uint32_t *c, size_t n, ef_bytes *out) {
  if (ef_bytes_reserve(&t->a, n * 4 + 1)) return -1;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += (size_t)ef_utf8_encode(c[i], t->a.p + k);
  return ef_tok_split_join(t->a.p, k, out);
}

int ef_tok_intl_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  if (ef_utf8_to_cps(s, len, &t->ua)) return -1;
  size_t n = t->ua.len, cap = n * INTL_GROWTH * INTL_GROWTH * INTL_GROWTH + 1;
  if (ef_u32s_reserve(&t->ua, cap) || ef_u32s_reserve(&t->ub, cap)) return -1;
  uint32_t *a = t->ua.p, *b = t->ub.p;
  size_t k = 0;
  /* (\P{N})(\p{P}) -> "\1 \2 " */
  for (size_t i = 0; i < n;) {
    if (i + 1 < n && !ef_intl_is_number(a[i]) && ef_intl_is_punct(a[i + 1])) {
      b[k++] = a[i], b[k++] = ' ', b[k++] = a[i + 1], b[k++] = ' ';
      i += 2;
    } else {
      b[k++] = a[i++];
    }
  }
  n = k, k = 0;
  /* (\p{P})(\P{N}) -> " \1 \2" */
  for (size_t i = 0; i < n;) {
    if (i + 1 < n && ef_intl_is_punct(b[i]) && !ef_intl_is_number(b[i + 1])) {
      a[k++] = ' ', a[k++] = b[i], a[k++] = ' ', a[k++] = b[i + 1];
      i += 2;
    } else {
      a[k++] = b[i++];
    }
  }
  n = k, k = 0;
  /* (\p{S}) -> " \1 " */
  for (size_t i = 0; i < n; i++) {
    if (ef_intl_is_symbol(a[i]))
      b[k++] = ' ', b[k++] = a[i], b[k++] = ' ';
    else
      b[k++] = a[i];
  }
  return cps_to_tokens(t, b, k, out);
}

int ef_tok_zh_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  if (ef_utf8_to_cps(s, len, &t->ua)) return -1;
  size_t st = 0, n = t->ua.len;
  uint32_t *a = t->ua.p;
  while (st < n && ef_py_isspace(a[st])) st++; /* line.strip() */
  while (n > st && ef_py_isspace(a[n - 1])) n--;
  if (ef_u32s_reserve(&t->ub, (n - st) * INTL_GROWTH + 1)) return -1;
  uint32_t *b = t->ub.p;
  size_t k = 0;
  for (size_t i = st; i < n; i++) {
    if (ef_zh_is_chinese(a[i]))
      b[k++] = ' ', b[k++] = a[i], b[k++] = ' ';
    else
      b[k++] = a[i];
  }
  if (ef_bytes_reserve(&t->c, k * 4 + 1)) return -1;
  size_t m = 0;
  for (size_t i = 0; i < k; i++) m += (size_t)ef_utf8_encode(b[i], t->c.p + m);
  return ef_tokre_run(t, t->c.p, m, out);
}

int ef_tok_char_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  (void)t;
  /* " ".join(line): every code point a token; whitespace ones vanish in the split. */
  out->len = 0;
  if (ef_bytes_reserve(out, len * 2 + 1)) return -1;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int m = ef_utf8_decode(s + i, len - i, &cp);
    if (!m) return -1;
    if (!ef_py_isspace(cp)) {
      if (out->len) out->p[out->len++] = ' ';
      memcpy(out->p + out->len, s + i, (size_t)m);
      out->len += (size_t)m;
    }
    i += (size_t)m;
  }
  out->p[out->len] = 0;
  return 0;
}
