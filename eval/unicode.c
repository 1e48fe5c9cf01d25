/* eval/unicode.c: strict UTF-8 and Python's whitespace and lowercasing rules (see
 * unicode.h). It must never read past the given length nor assume NUL termination. */
#include "eval/unicode.h"

#include <stdio.h>

#include <string.h>

#include "eval/unicode_tables.h"

#define CP_CAPITAL_SIGMA 0x3A3u
#define CP_SMALL_SIGMA 0x3C3u
#define CP_FINAL_SIGMA 0x3C2u
#define CP_MAX 0x10FFFFu

int ef_utf8_decode(const char *s, size_t len, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  unsigned c = u[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2, v = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3, v = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4, v = c & 0x07, min = 0x10000;
  else
    return 0;
  if (len < (size_t)n) return 0;
  for (int i = 1; i < n; i++) {
    if ((u[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (u[i] & 0x3F);
  }
  if (v < min || v > CP_MAX || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

int ef_utf8_encode(uint32_t cp, char *out) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) {
    o[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12));
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18));
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

int ef_utf8_check(const char *s, size_t len, size_t *bad_offset) {
  uint32_t cp;
  for (size_t i = 0; i < len;) {
    if ((unsigned char)s[i] < 0x80) {
      i++;
      continue;
    }
    int n = ef_utf8_decode(s + i, len - i, &cp);
    if (!n) {
      if (bad_offset) *bad_offset = i;
      return -1;
    }
    i += (size_t)n;
  }
  return 0;
}

int ef_py_isspace(uint32_t cp) {
  if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
  for (size_t i = 0; i < sizeof space_cps / sizeof space_cps[0]; i++)
    if (space_cps[i] == cp) return 1;
  return 0;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
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

static int is_cased(uint32_t cp) {
  return in_ranges(cased_ranges, sizeof cased_ranges / sizeof cased_ranges[0], cp);
}

static int is_case_ignorable(uint32_t cp) {
  return in_ranges(case_ignorable_ranges,
                   sizeof case_ignorable_ranges / sizeof case_ignorable_ranges[0], cp);
}

/* Index into lower_map, or -1. */
static int lower_index(uint32_t cp) {
  int lo = 0, hi = (int)(sizeof lower_map / sizeof lower_map[0]);
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (cp < lower_map[mid][0])
      hi = mid;
    else if (cp > lower_map[mid][0])
      lo = mid + 1;
    else
      return mid;
  }
  return -1;
}

int ef_utf8_to_cps(const char *s, size_t len, ef_u32s *out) {
  out->len = 0;
  if (ef_u32s_reserve(out, len + 1)) return -1;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int n = ef_utf8_decode(s + i, len - i, &cp);
    if (!n) return -1;
    out->p[out->len++] = cp;
    i += (size_t)n;
  }
  return 0;
}

/* CPython's handle_capital_sigma: final form when a cased letter precedes (skipping
 * case-ignorables) and none follows. cps is the whole string, i the sigma's index. */
static uint32_t sigma_form(const uint32_t *cps, size_t n, size_t i) {
  size_t j = i;
  uint32_t c = 0;
  int found = 0;
  while (j > 0) {
    c = cps[--j];
    if (!is_case_ignorable(c)) {
      found = 1;
      break;
    }
  }
  int final = found && is_cased(c);
  if (final && i + 1 < n) {
    size_t k = i + 1;
    for (; k < n; k++) {
      c = cps[k];
      if (!is_case_ignorable(c)) break;
    }
    final = k == n || !is_cased(c);
  }
  return final ? CP_FINAL_SIGMA : CP_SMALL_SIGMA;
}

int ef_py_lower(const char *s, size_t len, ef_bytes *out) {
  out->len = 0;
  /* Lowercasing can at most grow a code point from 2 to 3 bytes (U+0130 -> i + U+0307). */
  if (ef_bytes_reserve(out, len * 2 + 1)) return -1;
  int has_sigma = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      out->p[out->len++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
      i++;
      continue;
    }
    uint32_t cp;
    int n = ef_utf8_decode(s + i, len - i, &cp);
    if (!n) return -1;
    i += (size_t)n;
    if (cp == CP_CAPITAL_SIGMA) has_sigma = 1;
    int k = lower_index(cp);
    if (k < 0) {
      out->len += (size_t)ef_utf8_encode(cp, out->p + out->len);
      continue;
    }
    out->len += (size_t)ef_utf8_encode(lower_map[k][1], out->p + out->len);
    if (lower_map[k][2]) out->len += (size_t)ef_utf8_encode(lower_map[k][2], out->p + out->len);
  }
  out->p[out->len] = 0;
  if (!has_sigma) return 0;
  /* Rare path: redo with the whole string in code points to apply Final_Sigma. */
  ef_u32s cps = {0};
  if (ef_utf8_to_cps(s, len, &cps)) {
    ef_u32s_free(&cps);
    return -1;
  }
  out->len = 0;
  for (size_t i = 0; i < cps.len; i++) {
    uint32_t cp = cps.p[i];
    if (cp == CP_CAPITAL_SIGMA) {
      out->len += (size_t)ef_utf8_encode(sigma_form(cps.p, cps.len, i), out->p + out->len);
      continue;
    }
    int k = lower_index(cp);
    if (k < 0) {
      out->len += (size_t)ef_utf8_encode(cp, out->p + out->len);
      continue;
    }
    out->len += (size_t)ef_utf8_encode(lower_map[k][1], out->p + out->len);
    if (lower_map[k][2]) out->len += (size_t)ef_utf8_encode(lower_map[k][2], out->p + out->len);
  }
  out->p[out->len] = 0;
  ef_u32s_free(&cps);
  return 0;
}

size_t ef_py_rstrip_len(const char *s, size_t len) {
  while (len > 0) {
    /* find the start of the last code point */
    size_t st = len - 1;
    while (st > 0 && ((unsigned char)s[st] & 0xC0) == 0x80 && len - st < 4) st--;
    uint32_t cp;
    int n = ef_utf8_decode(s + st, len - st, &cp);
    if (n != (int)(len - st) || !ef_py_isspace(cp)) break;
    len = st;
  }
  return len;
}

const char *ef_unicode_version(void) { return EF_UNICODE_VERSION; }

int ef_segment_check(const char *hyp, size_t hyp_len, const char *const *refs,
                     const size_t *ref_lens, int nrefs, int max_refs, char *err, size_t errlen) {
  size_t bad;
  if (nrefs < 1 || nrefs > max_refs)
    return snprintf(err, errlen, "%d references (1 to %d are supported)", nrefs, max_refs), -1;
  if (ef_utf8_check(hyp, hyp_len, &bad))
    return snprintf(err, errlen, "hypothesis is not valid UTF-8 at byte %zu", bad + 1), -1;
  for (int r = 0; r < nrefs; r++)
    if (ef_utf8_check(refs[r], ref_lens[r], &bad))
      return snprintf(err, errlen, "reference %d is not valid UTF-8 at byte %zu", r + 1, bad + 1),
             -1;
  return 0;
}
