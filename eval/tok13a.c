/* eval/tok13a.c: sacreBLEU's 13a tokenizer (see tok13a.h). Regexes are emulated on bytes:
 * every class they use is ASCII, and a multi-byte UTF-8 sequence can neither match a class
 * member nor be split by a match, so byte scanning gives the code-point result. It must
 * never allocate per call once its buffers are large enough. */
#include "eval/tok13a.h"

#include <string.h>

#include "eval/unicode.h"

/* Worst-case growth of one pass: every byte becomes 3 (" c "), plus the two pad spaces. */
#define TOK13A_GROWTH 3
#define TOK13A_PAD 2
#define TOK13A_LATER_GROWTH 8 /* three passes that can each double */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* regex 1: [\{-\~\[-\` -\&\(-\+\:-\@\/] */
static int is_punct13a(unsigned char c) {
  return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
         (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

/* Python str.replace(pat, rep): left to right, non-overlapping. */
static size_t replace_all(const char *s, size_t n, const char *pat, const char *rep, char *o) {
  size_t pl = strlen(pat), rl = strlen(rep), k = 0;
  for (size_t i = 0; i < n;) {
    if (i + pl <= n && !memcmp(s + i, pat, pl)) {
      memcpy(o + k, rep, rl);
      k += rl;
      i += pl;
    } else {
      o[k++] = s[i++];
    }
  }
  return k;
}

/* regex 2: ([^0-9])([\.,]) -> "\1 \2 " */
static size_t split_after_nondigit(const char *a, size_t n, char *b) {
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)a[i];
    if (i + 1 < n && !is_digit(c) && (a[i + 1] == '.' || a[i + 1] == ',')) {
      b[k++] = (char)c;
      b[k++] = ' ';
      b[k++] = a[i + 1];
      b[k++] = ' ';
      i += 2;
    } else {
      b[k++] = a[i++];
    }
  }
  return k;
}

/* regex 3: ([\.,])([^0-9]) -> " \1 \2" */
static size_t split_before_nondigit(const char *a, size_t n, char *b) {
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    if ((a[i] == '.' || a[i] == ',') && i + 1 < n && !is_digit((unsigned char)a[i + 1])) {
      b[k++] = ' ';
      b[k++] = a[i];
      b[k++] = ' ';
      b[k++] = a[i + 1];
      i += 2;
    } else {
      b[k++] = a[i++];
    }
  }
  return k;
}

/* regex 4: ([0-9])(-) -> "\1 \2 " */
static size_t split_digit_dash(const char *a, size_t n, char *b) {
  size_t k = 0;
  for (size_t i = 0; i < n;) {
    if (is_digit((unsigned char)a[i]) && i + 1 < n && a[i + 1] == '-') {
      b[k++] = a[i];
      b[k++] = ' ';
      b[k++] = '-';
      b[k++] = ' ';
      i += 2;
    } else {
      b[k++] = a[i++];
    }
  }
  return k;
}

/* ' '.join(a[0..n).split()) into out (Python whitespace). */
static int split_join(const char *a, size_t n, ef_bytes *out) {
  out->len = 0;
  if (ef_bytes_reserve(out, n + 1)) return -1;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    int m = ef_utf8_decode(a + i, n - i, &cp);
    if (!m) return -1; /* cannot happen on valid input */
    if (ef_py_isspace(cp)) {
      i += (size_t)m;
      continue;
    }
    size_t st = i;
    while (i < n) {
      m = ef_utf8_decode(a + i, n - i, &cp);
      if (!m) return -1;
      if (ef_py_isspace(cp)) break;
      i += (size_t)m;
    }
    if (out->len) out->p[out->len++] = ' ';
    memcpy(out->p + out->len, a + st, i - st);
    out->len += i - st;
  }
  out->p[out->len] = 0;
  return 0;
}

int ef_tok_split_join(const char *s, size_t len, ef_bytes *out) { return split_join(s, len, out); }

/* TokenizerRegexp on s[0..len) (which may alias t->a): regex 1 into b, regexes 2-4, then
 * split/join into out. */
static int tokre(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  char *a = t->a.p, *b = t->b.p;
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_punct13a(c)) {
      b[k++] = ' ';
      b[k++] = (char)c;
      b[k++] = ' ';
    } else {
      b[k++] = (char)c;
    }
  }
  size_t n = split_after_nondigit(b, k, a);
  n = split_before_nondigit(a, n, b);
  n = split_digit_dash(b, n, a);
  return split_join(a, n, out);
}

static int reserve(ef_tok13a *t, size_t len) {
  /* Regex 1 at most triples the padded line; regexes 2-4 each at most double it. */
  size_t cap = (len * TOK13A_GROWTH + TOK13A_PAD) * TOK13A_LATER_GROWTH + 1;
  return ef_bytes_reserve(&t->a, cap) || ef_bytes_reserve(&t->b, cap) ? -1 : 0;
}

int ef_tokre_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  if (reserve(t, len)) return -1;
  return tokre(t, s, len, out);
}

int ef_tok13a_run(ef_tok13a *t, const char *s, size_t len, ef_bytes *out) {
  if (reserve(t, len)) return -1;
  char *a = t->a.p, *b = t->b.p;
  size_t n;
  n = replace_all(s, len, "<skipped>", "", a);
  n = replace_all(a, n, "-\n", "", b);
  n = replace_all(b, n, "\n", " ", a);
  if (memchr(a, '&', n)) {
    n = replace_all(a, n, "&quot;", "\"", b);
    n = replace_all(b, n, "&amp;", "&", a);
    n = replace_all(a, n, "&lt;", "<", b);
    n = replace_all(b, n, "&gt;", ">", a);
  }
  /* f' {line} ' into b, then the regexes read it from there (they write a and b anew) */
  memmove(b + 1, a, n);
  b[0] = ' ';
  b[n + 1] = ' ';
  memcpy(a, b, n + 2);
  return tokre(t, a, n + 2, out);
}

void ef_tok13a_free(ef_tok13a *t) {
  ef_bytes_free(&t->a);
  ef_bytes_free(&t->b);
  ef_bytes_free(&t->c);
  ef_u32s_free(&t->ua);
  ef_u32s_free(&t->ub);
}
