/* runtime/spm_normalize.c: SentencePiece's text normaliser: the precompiled charsmap (a
 * darts-clone double-array trie whose values point into a blob of NUL-terminated replacement
 * strings), user-defined symbols passed through untouched, and the whitespace options
 * (remove_extra_whitespaces, add_dummy_prefix, treat_whitespace_as_suffix, U+2581 escaping).
 * It must never index the charsmap without a bounds check: a corrupt trie gives an error.
 */
#include "runtime/spm_internal.h"

#include <string.h>

/* darts-clone unit fields (see darts.h DoubleArrayUnit). */
static inline int unit_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t unit_value(uint32_t u) { return u & 0x7fffffffu; }
static inline uint32_t unit_label(uint32_t u) { return u & (0x80000000u | 0xffu); }
static inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }

/* Longest charsmap rule matching a prefix of s (among the first SPM_NORM_MAX_TRIE_RESULTS
 * matches, as sentencepiece). Returns the matched length (0 = none) and the value in *value;
 * -1 on a corrupt trie. */
static long charsmap_match(const spm_normalizer *nz, const unsigned char *s, size_t len,
                           uint32_t *value) {
  const uint32_t *a = nz->units;
  size_t n = nz->nunits, pos = 0, best = 0, found = 0;
  pos ^= unit_offset(a[0]);
  for (size_t i = 0; i < len; i++) {
    pos ^= s[i];
    if (pos >= n) return -1;
    uint32_t u = a[pos];
    if (unit_label(u) != s[i]) break;
    pos ^= unit_offset(u);
    if (unit_has_leaf(u)) {
      if (pos >= n) return -1;
      if (found < SPM_NORM_MAX_TRIE_RESULTS && i + 1 > best) {
        best = i + 1;
        *value = unit_value(a[pos]);
      }
      found++;
    }
  }
  return (long)best;
}

/* The normalised form of the prefix of s: sets *out and *outlen to the replacement and returns
 * the number of input bytes consumed (>= 1), or -1 on a corrupt charsmap. */
static long normalize_prefix(const rt_spm *m, const spm_normalizer *nz, const char *s, size_t len,
                             const char **out, size_t *outlen) {
  if (nz == &m->norm) { /* the denormaliser does not know user-defined symbols */
    size_t ul = spm_user_prefix(m, s, len);
    if (ul) {
      *out = s;
      *outlen = ul;
      return (long)ul;
    }
  }
  if (nz->units) {
    uint32_t v = 0;
    long k = charsmap_match(nz, (const unsigned char *)s, len, &v);
    if (k < 0) return -1;
    if (k > 0) {
      if (v >= nz->strings_len) return -1;
      *out = nz->strings + v;
      *outlen = strlen(*out); /* bounded: the blob ends with a NUL (checked at load) */
      return k;
    }
  }
  size_t cl = spm_char_len((unsigned char)s[0]);
  if (cl > len) cl = len;
  *out = s;
  *outlen = cl;
  return (long)cl;
}

static int add_space(const spm_normalizer *nz, spm_buf *b) {
  if (spm_buf_reserve(b, SPM_SPACE_LEN)) return -1;
  if (nz->escape_whitespaces) {
    memcpy(b->p + b->len, SPM_SPACE, SPM_SPACE_LEN);
    b->len += SPM_SPACE_LEN;
  } else {
    b->p[b->len++] = ' ';
  }
  return 0;
}

int spm_normalize(const rt_spm *m, const spm_normalizer *nz, const char *text, size_t len,
                  spm_buf *b, char *err, size_t errlen) {
  const char *rep;
  size_t replen;
  long k;
  size_t start = b->len;
  if (len == 0) return 0;
  if (spm_buf_reserve(b, len * 3 + 16)) goto oom;
  if (nz->remove_extra_whitespaces) { /* leading whitespace */
    while (len > 0) {
      k = normalize_prefix(m, nz, text, len, &rep, &replen);
      if (k < 0) goto corrupt;
      if (!(replen == 1 && rep[0] == ' ')) break;
      text += k;
      len -= (size_t)k;
    }
  }
  if (len == 0) return 0;
  if (!nz->treat_whitespace_as_suffix && nz->add_dummy_prefix && add_space(nz, b)) goto oom;
  int prev_space = nz->remove_extra_whitespaces;
  while (len > 0) {
    k = normalize_prefix(m, nz, text, len, &rep, &replen);
    if (k < 0) goto corrupt;
    if (prev_space)
      while (replen > 0 && rep[0] == ' ') rep++, replen--;
    if (replen > 0) {
      if (spm_buf_reserve(b, replen * SPM_SPACE_LEN)) goto oom;
      for (size_t i = 0; i < replen; i++) {
        if (rep[i] == ' ' && nz->escape_whitespaces) {
          memcpy(b->p + b->len, SPM_SPACE, SPM_SPACE_LEN);
          b->len += SPM_SPACE_LEN;
        } else {
          b->p[b->len++] = rep[i];
        }
      }
      prev_space = rep[replen - 1] == ' ';
    }
    text += k;
    len -= (size_t)k;
    if (!nz->remove_extra_whitespaces) prev_space = 0;
  }
  if (nz->remove_extra_whitespaces) { /* trailing whitespace */
    const char *sp = nz->escape_whitespaces ? SPM_SPACE : " ";
    size_t sl = nz->escape_whitespaces ? SPM_SPACE_LEN : 1;
    while (b->len - start >= sl && memcmp(b->p + b->len - sl, sp, sl) == 0) b->len -= sl;
  }
  if (nz->treat_whitespace_as_suffix && nz->add_dummy_prefix && add_space(nz, b)) goto oom;
  return 0;
oom:
  spm_errf(m, err, errlen, "out of memory while normalising");
  return -1;
corrupt:
  spm_errf(m, err, errlen, "precompiled_charsmap is corrupt (trie index out of range)");
  return -1;
}
