/* data/dictionary.c: fairseq dictionaries: load/save dict.txt, count tokens, finalize with
 * threshold / nwords / padding, encode lines, hash lookup. The rules are in dictionary.h.
 * It must never change the id of a symbol once it is in a finalized dictionary, and never
 * accept a dict.txt that fairseq would reject (duplicates, malformed lines). */
#include "data/dictionary.h"

#include "data/text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EF_DICT_INITIAL_CAP 64    /* symbols allocated by ef_dict_new */
#define EF_DICT_INITIAL_POOL 1024 /* string-pool bytes allocated by ef_dict_new */
#define EF_DICT_MADEUP_FORMAT "madeupword%04d"
#define EF_DICT_MADEUP_BYTES 32 /* buffer for one madeupword name */

struct ef_dict {
  int n, cap;     /* symbols in use / allocated */
  int64_t *off;   /* [cap] offset of each symbol in pool */
  int64_t *count; /* [cap] */
  uint32_t *len;  /* [cap] bytes of each symbol */
  uint8_t *dup;   /* [cap] 1 when the symbol was re-added with the overwrite flag */
  char *pool;     /* NUL-terminated symbols back to back */
  size_t pool_len, pool_cap;
  int32_t *table;   /* open addressing, -1 = empty; holds the id answering each symbol */
  size_t table_cap; /* power of two, kept >= 2 * n */
};

static const char *const special_names[EF_DICT_NSPECIAL] = {"<s>", "<pad>", "</s>", "<unk>"};

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
                                                          ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static uint64_t hash_bytes(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static const char *sym_at(const ef_dict *d, int id) { return d->pool + d->off[id]; }

/* Slot holding sym, or the empty slot where it would go. */
static size_t find_slot(const ef_dict *d, const char *sym, size_t len) {
  size_t mask = d->table_cap - 1, i = (size_t)hash_bytes(sym, len) & mask;
  for (;;) {
    int32_t id = d->table[i];
    if (id < 0) return i;
    if (d->len[id] == len && !memcmp(sym_at(d, id), sym, len)) return i;
    i = (i + 1) & mask;
  }
}

static int rehash(ef_dict *d, size_t new_cap) {
  int32_t *t = malloc(new_cap * sizeof *t);
  if (!t) return -1;
  free(d->table);
  d->table = t;
  d->table_cap = new_cap;
  for (size_t i = 0; i < new_cap; i++) t[i] = -1;
  /* Later ids win, as in fairseq where `indices[word] = idx` overwrites. */
  for (int id = 0; id < d->n; id++) d->table[find_slot(d, sym_at(d, id), d->len[id])] = id;
  return 0;
}

ef_dict *ef_dict_new(void) {
  ef_dict *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->cap = EF_DICT_INITIAL_CAP;
  d->off = malloc(d->cap * sizeof *d->off);
  d->count = malloc(d->cap * sizeof *d->count);
  d->len = malloc(d->cap * sizeof *d->len);
  d->dup = malloc(d->cap * sizeof *d->dup);
  d->pool_cap = EF_DICT_INITIAL_POOL;
  d->pool = malloc(d->pool_cap);
  if (!d->off || !d->count || !d->len || !d->dup || !d->pool ||
      rehash(d, 2 * EF_DICT_INITIAL_CAP)) {
    ef_dict_free(d);
    return NULL;
  }
  for (int i = 0; i < EF_DICT_NSPECIAL; i++)
    if (ef_dict_add(d, special_names[i], strlen(special_names[i]), 1, 0, NULL, 0) != i) {
      ef_dict_free(d);
      return NULL;
    }
  return d;
}

void ef_dict_free(ef_dict *d) {
  if (!d) return;
  free(d->off);
  free(d->count);
  free(d->len);
  free(d->dup);
  free(d->pool);
  free(d->table);
  free(d);
}

int ef_dict_size(const ef_dict *d) { return d->n; }

const char *ef_dict_symbol(const ef_dict *d, int id) {
  return id >= 0 && id < d->n ? sym_at(d, id) : NULL;
}

int64_t ef_dict_count(const ef_dict *d, int id) { return id >= 0 && id < d->n ? d->count[id] : 0; }

int ef_dict_index(const ef_dict *d, const char *sym, size_t len) {
  int32_t id = d->table[find_slot(d, sym, len)];
  return id >= 0 ? id : EF_DICT_UNK;
}

int ef_dict_contains(const ef_dict *d, const char *sym, size_t len) {
  return d->table[find_slot(d, sym, len)] >= 0;
}

/* Append a new entry without touching the table. */
static int append_symbol(ef_dict *d, const char *sym, size_t len, int64_t n) {
  if (d->n == d->cap) {
    int cap = d->cap * 2;
    int64_t *off = realloc(d->off, cap * sizeof *off);
    if (off) d->off = off;
    int64_t *count = realloc(d->count, cap * sizeof *count);
    if (count) d->count = count;
    uint32_t *l = realloc(d->len, cap * sizeof *l);
    if (l) d->len = l;
    uint8_t *dup = realloc(d->dup, cap * sizeof *dup);
    if (dup) d->dup = dup;
    if (!off || !count || !l || !dup) return -1;
    d->cap = cap;
  }
  if (d->pool_len + len + 1 > d->pool_cap) {
    size_t cap = d->pool_cap * 2;
    while (cap < d->pool_len + len + 1) cap *= 2;
    char *p = realloc(d->pool, cap);
    if (!p) return -1;
    d->pool = p;
    d->pool_cap = cap;
  }
  memcpy(d->pool + d->pool_len, sym, len);
  d->pool[d->pool_len + len] = '\0';
  d->off[d->n] = (int64_t)d->pool_len;
  d->len[d->n] = (uint32_t)len;
  d->count[d->n] = n;
  d->dup[d->n] = 0;
  d->pool_len += len + 1;
  return d->n++;
}

int ef_dict_add(ef_dict *d, const char *sym, size_t len, int64_t n, int overwrite, char *err,
                size_t errlen) {
  if (len == 0 || len > EF_DICT_MAX_SYMBOL_BYTES || memchr(sym, '\0', len) ||
      memchr(sym, '\n', len)) {
    set_err(err, errlen,
            "invalid symbol of %zu bytes (empty, longer than %d, or holding a NUL "
            "or newline)",
            len, EF_DICT_MAX_SYMBOL_BYTES);
    return -1;
  }
  size_t slot = find_slot(d, sym, len);
  if (d->table[slot] >= 0 && !overwrite) {
    d->count[d->table[slot]] += n;
    return d->table[slot];
  }
  if (d->n >= EF_DICT_MAX_SYMBOLS) {
    set_err(err, errlen, "dictionary is larger than %d symbols", EF_DICT_MAX_SYMBOLS);
    return -1;
  }
  if ((size_t)(d->n + 1) * 2 > d->table_cap) {
    if (rehash(d, d->table_cap * 2)) {
      set_err(err, errlen, "out of memory growing the symbol table");
      return -1;
    }
    slot = find_slot(d, sym, len);
  }
  int id = append_symbol(d, sym, len, n);
  if (id < 0) {
    set_err(err, errlen, "out of memory adding symbol %d", d->n);
    return -1;
  }
  d->dup[id] = d->table[slot] >= 0;
  d->table[slot] = id;
  return id;
}

/* Python's str.isspace() over UTF-8: returns the byte length of a whitespace character at s,
 * or 0. */
static size_t space_len(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  if (c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f)) return 1;
  if (c == 0xc2 && avail >= 2 && (s[1] == 0x85 || s[1] == 0xa0)) return 2;
  if (avail < 3) return 0;
  if (c == 0xe1 && s[1] == 0x9a && s[2] == 0x80) return 3; /* U+1680 */
  if (c == 0xe2 && s[1] == 0x80 && (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf) &&
      s[2] >= 0x80)
    return 3;                                              /* U+2000-200A, 2028, 2029, 202F */
  if (c == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) return 3; /* U+205F */
  if (c == 0xe3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
  return 0;
}

size_t ef_dict_next_token(const char *line, size_t len, size_t *pos, size_t *start) {
  const unsigned char *s = (const unsigned char *)line;
  size_t i = *pos, w;
  while (i < len && (w = space_len(s + i, len - i)) > 0) i += w;
  *start = i;
  while (i < len && space_len(s + i, len - i) == 0) i++;
  *pos = i;
  return i - *start;
}

int ef_dict_count_tokens(const char *line, size_t len) {
  size_t pos = 0, start;
  int n = 0;
  while (ef_dict_next_token(line, len, &pos, &start) > 0) n++;
  return n;
}

int ef_dict_count_line(ef_dict *d, const char *line, size_t len, char *err, size_t errlen) {
  size_t pos = 0, start, n;
  while ((n = ef_dict_next_token(line, len, &pos, &start)) > 0)
    if (ef_dict_add(d, line + start, n, 1, 0, err, errlen) < 0) return 1;
  d->count[EF_DICT_EOS] += 1;
  return 0;
}

int ef_dict_encode_line(const ef_dict *d, const char *line, size_t len, int32_t *ids, int cap,
                        int *n_unk, char *err, size_t errlen) {
  size_t pos = 0, start, n;
  int k = 0, unk = 0;
  while ((n = ef_dict_next_token(line, len, &pos, &start)) > 0) {
    if (k + 1 >= cap) {
      set_err(err, errlen, "line has more than %d tokens", cap - 1);
      return -1;
    }
    int id = ef_dict_index(d, line + start, n);
    if (id == EF_DICT_UNK && !(n == 5 && !memcmp(line + start, "<unk>", 5))) unk++;
    ids[k++] = id;
  }
  if (k >= cap) {
    set_err(err, errlen, "line has more than %d tokens", cap - 1);
    return -1;
  }
  ids[k++] = EF_DICT_EOS;
  if (n_unk) *n_unk = unk;
  return k;
}

/* ---- finalize ---------------------------------------------------------------------------- */

typedef struct {
  const ef_dict *d;
  int id;
} sym_ref;

static int cmp_by_symbol_then_count(const void *a, const void *b) {
  const sym_ref *x = a, *y = b;
  int c = strcmp(sym_at(x->d, x->id), sym_at(y->d, y->id));
  if (c) return c;
  int64_t cx = x->d->count[x->id], cy = y->d->count[y->id];
  return (cx > cy) - (cx < cy);
}

static int cmp_by_count_desc(const void *a, const void *b) {
  const sym_ref *x = a, *y = b;
  int64_t cx = x->d->count[x->id], cy = y->d->count[y->id];
  if (cx != cy) return cx < cy ? 1 : -1;
  return strcmp(sym_at(x->d, x->id), sym_at(y->d, y->id)); /* stable on the symbol order */
}

int ef_dict_finalize(ef_dict *d, int64_t threshold, int64_t nwords, int padding_factor, char *err,
                     size_t errlen) {
  if (nwords <= 0) nwords = d->n;
  int m = d->n - EF_DICT_NSPECIAL;
  sym_ref *refs = malloc((m > 0 ? m : 1) * sizeof *refs);
  ef_dict *nd = ef_dict_new();
  if (!refs || !nd) {
    free(refs);
    ef_dict_free(nd);
    set_err(err, errlen, "out of memory finalizing a dictionary of %d symbols", d->n);
    return 1;
  }
  for (int i = 0; i < m; i++) refs[i] = (sym_ref){d, EF_DICT_NSPECIAL + i};
  /* fairseq: Counter(dict(sorted(zip(symbols, counts)))): a symbol present twice (overwrite)
   * keeps one entry, the one sorting last (largest count). */
  qsort(refs, m, sizeof *refs, cmp_by_symbol_then_count);
  int u = 0;
  for (int i = 0; i < m; i++) {
    if (u > 0 && !strcmp(sym_at(d, refs[u - 1].id), sym_at(d, refs[i].id)))
      refs[u - 1] = refs[i];
    else
      refs[u++] = refs[i];
  }
  /* Counter.most_common: count descending, ties in insertion (= symbol) order. */
  qsort(refs, u, sizeof *refs, cmp_by_count_desc);
  int64_t keep = nwords - EF_DICT_NSPECIAL;
  int rc = 0;
  for (int i = 0; i < EF_DICT_NSPECIAL; i++) nd->count[i] = d->count[i];
  for (int i = 0; i < u && i < keep && !rc; i++) {
    if (d->count[refs[i].id] < threshold) break;
    /* overwrite=1: a tail entry equal to a special becomes a new id, as in fairseq. */
    if (ef_dict_add(nd, sym_at(d, refs[i].id), d->len[refs[i].id], d->count[refs[i].id], 1, err,
                    errlen) < 0)
      rc = 1;
  }
  free(refs);
  for (int i = 0; !rc && padding_factor > 1 && nd->n % padding_factor != 0; i++) {
    char name[EF_DICT_MADEUP_BYTES];
    int len = snprintf(name, sizeof name, EF_DICT_MADEUP_FORMAT, i);
    if (ef_dict_contains(nd, name, (size_t)len)) continue; /* fairseq would loop forever here */
    if (ef_dict_add(nd, name, (size_t)len, 0, 0, err, errlen) < 0) rc = 1;
  }
  if (rc) {
    ef_dict_free(nd);
    return 1;
  }
  ef_dict tmp = *d;
  *d = *nd;
  *nd = tmp;
  ef_dict_free(nd);
  return 0;
}

/* ---- load / save ------------------------------------------------------------------------- */

static int is_py_space_byte(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Python int() on a field: optional surrounding whitespace, sign, decimal digits. */
static int parse_count(const char *s, size_t len, int64_t *out) {
  size_t i = 0;
  while (i < len && is_py_space_byte((unsigned char)s[i])) i++;
  int neg = 0;
  if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i >= len || s[i] < '0' || s[i] > '9') return -1;
  int64_t v = 0;
  for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
    if (v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (s[i] - '0');
  }
  while (i < len && is_py_space_byte((unsigned char)s[i])) i++;
  if (i != len) return -1;
  *out = neg ? -v : v;
  return 0;
}

int ef_dict_load_memory(const char *buf, size_t len, const char *name, ef_dict **out, char *err,
                        size_t errlen) {
  *out = NULL;
  if (!name) name = "dict";
  if (len > EF_DICT_MAX_FILE_BYTES) {
    set_err(err, errlen, "%s: file is larger than %zu bytes", name, EF_DICT_MAX_FILE_BYTES);
    return 1;
  }
  if (!ef_text_utf8_valid(buf, len)) {
    set_err(err, errlen, "%s: not valid UTF-8 (fairseq reads dictionaries as UTF-8)", name);
    return 1;
  }
  ef_dict *d = ef_dict_new();
  if (!d) {
    set_err(err, errlen, "%s: out of memory", name);
    return 1;
  }
  size_t pos = 0;
  long long lineno = 0;
  char msg[256];
  while (pos < len) {
    size_t start = pos, end = pos;
    while (end < len && buf[end] != '\n' && buf[end] != '\r') end++;
    pos = end;
    if (pos < len) pos += (buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] == '\n') ? 2 : 1;
    lineno++;
    while (end > start && is_py_space_byte((unsigned char)buf[end - 1])) end--; /* rstrip */
    const char *sp = NULL;
    for (size_t i = end; i > start; i--)
      if (buf[i - 1] == ' ') {
        sp = buf + i - 1;
        break;
      }
    int64_t count = 0;
    int overwrite = 0;
    const char *word = buf + start;
    size_t wlen = sp ? (size_t)(sp - word) : 0;
    int ok = sp != NULL;
    if (ok && (size_t)(buf + end - (sp + 1)) == strlen(EF_DICT_OVERWRITE_FLAG) &&
        !memcmp(sp + 1, EF_DICT_OVERWRITE_FLAG, strlen(EF_DICT_OVERWRITE_FLAG))) {
      overwrite = 1;
      const char *sp2 = NULL;
      for (const char *q = sp; q > word; q--)
        if (q[-1] == ' ') {
          sp2 = q - 1;
          break;
        }
      ok = sp2 != NULL;
      if (ok) {
        ok = !parse_count(sp2 + 1, (size_t)(sp - sp2 - 1), &count);
        wlen = (size_t)(sp2 - word);
      }
    } else if (ok) {
      ok = !parse_count(sp + 1, (size_t)(buf + end - sp - 1), &count);
    }
    if (!ok) {
      set_err(err, errlen, "%s:%lld: expected '<symbol> <count> [#fairseq:overwrite]'", name,
              lineno);
      ef_dict_free(d);
      return 1;
    }
    if (!overwrite && ef_dict_contains(d, word, wlen)) {
      snprintf(msg, sizeof msg, "%.*s", wlen > 64 ? 64 : (int)wlen, word);
      set_err(err, errlen,
              "%s:%lld: duplicate symbol '%s' (add ' #fairseq:overwrite' to the line to allow it)",
              name, lineno, msg);
      ef_dict_free(d);
      return 1;
    }
    if (ef_dict_add(d, word, wlen, count, overwrite, msg, sizeof msg) < 0) {
      set_err(err, errlen, "%s:%lld: %s", name, lineno, msg);
      ef_dict_free(d);
      return 1;
    }
  }
  *out = d;
  return 0;
}

int ef_dict_load(const char *path, ef_dict **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return 1;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      if (cap > EF_DICT_MAX_FILE_BYTES + 1) cap = EF_DICT_MAX_FILE_BYTES + 1;
      if (len == cap) {
        set_err(err, errlen, "%s: file is larger than %zu bytes", path, EF_DICT_MAX_FILE_BYTES);
        rc = 1;
        break;
      }
      char *nb = realloc(buf, cap);
      if (!nb) {
        set_err(err, errlen, "%s: out of memory reading %zu bytes", path, cap);
        rc = 1;
        break;
      }
      buf = nb;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) {
      if (ferror(f)) {
        set_err(err, errlen, "%s: read error", path);
        rc = 1;
      }
      break;
    }
  }
  fclose(f);
  if (!rc) rc = ef_dict_load_memory(buf ? buf : "", len, path, out, err, errlen);
  free(buf);
  return rc;
}

char *ef_dict_serialize(const ef_dict *d, size_t *len) {
  size_t cap = 1;
  for (int i = EF_DICT_NSPECIAL; i < d->n; i++)
    cap += d->len[i] + 24 + sizeof EF_DICT_OVERWRITE_FLAG;
  char *out = malloc(cap);
  if (!out) return NULL;
  size_t k = 0;
  for (int i = EF_DICT_NSPECIAL; i < d->n; i++) {
    int dup = d->dup[i];
    k += (size_t)snprintf(out + k, cap - k, "%s %lld%s\n", sym_at(d, i), (long long)d->count[i],
                          dup ? " " EF_DICT_OVERWRITE_FLAG : "");
  }
  *len = k;
  return out;
}

int ef_dict_checksum(const ef_dict *d, char hex[EF_SHA256_HEX_LEN + 1]) {
  size_t len;
  char *s = ef_dict_serialize(d, &len);
  if (!s) return 1;
  ef_sha256_hex(s, len, hex);
  free(s);
  return 0;
}

int ef_dict_save(const ef_dict *d, const char *path, char *err, size_t errlen) {
  size_t len;
  char *s = ef_dict_serialize(d, &len);
  if (!s) {
    set_err(err, errlen, "%s: out of memory serializing the dictionary", path);
    return 1;
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 32);
  if (!tmp) {
    free(s);
    set_err(err, errlen, "%s: out of memory", path);
    return 1;
  }
  snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  int rc = 0;
  if (!f) {
    set_err(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
    rc = 1;
  } else {
    int bad = fwrite(s, 1, len, f) != len;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
      set_err(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
      rc = 1;
    } else if (rename(tmp, path)) {
      set_err(err, errlen, "%s: cannot rename the temporary file into place: %s", path,
              strerror(errno));
      rc = 1;
    }
    if (rc) remove(tmp);
  }
  free(tmp);
  free(s);
  return rc;
}
