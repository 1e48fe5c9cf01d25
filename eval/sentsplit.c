/* eval/sentsplit.c: the rule-based sentence splitter (see sentsplit.h). */
#include "eval/sentsplit.h"

#include <string.h>

#include "eval/unicode.h"

/* Lowercased abbreviations (without their final period) after which a period does not end a
 * sentence: titles, Latin, months, common English ones; never an English word ("sat", "no",
 * "mar", "sun" are left out). Single letters are initials (handled in abbrev_before). */
static const char *const abbrevs[] = {
    "mr",   "mrs",  "ms",   "dr",  "prof", "sr",   "jr",  "st",   "mt",     "ft",   "gen",
    "gov",  "sen",  "rep",  "rev", "hon",  "capt", "col", "lt",   "sgt",    "cpl",  "adm",
    "vs",   "etc",  "e.g",  "i.e", "cf",   "al",   "viz", "ca",   "approx", "nos",  "vol",
    "fig",  "figs", "pp",   "ch",  "sec",  "eds",  "inc", "ltd",  "co",     "corp", "dept",
    "univ", "assn", "bros", "jan", "feb",  "apr",  "aug", "sept", "oct",    "nov",  "u.s",
    "u.k",  "u.n",  "a.m",  "p.m", "ph.d", "b.a",  "m.a", "ave",  "blvd"};

static int is_ws(uint32_t cp) { return ef_py_isspace(cp); }

static int is_closer(unsigned char c) {
  return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}';
}

/* U+201D, U+2019, U+00BB (closing quotes) at s[i]: their byte length, else 0. */
static int closer_len(const char *s, size_t i, size_t len) {
  if (i < len && is_closer((unsigned char)s[i])) return 1;
  uint32_t cp;
  int m = i < len ? ef_utf8_decode(s + i, len - i, &cp) : 0;
  return m && (cp == 0x201D || cp == 0x2019 || cp == 0xBB) ? m : 0;
}

/* ASCII lowercase letter (other scripts count as not lowercase: a boundary). */
static int is_lower_start(const char *s, size_t i) { return s[i] >= 'a' && s[i] <= 'z'; }

/* Is the word ending just before the period at p (s[ws..p)) an abbreviation (listed, or
 * letters joined by periods) or an initial? */
static int abbrev_before(const char *s, size_t ws, size_t p) {
  size_t n = p - ws;
  while (n && (s[ws] == '(' || s[ws] == '"' || s[ws] == '\'' || s[ws] == '[')) ws++, n--;
  if (n == 1 && ((s[ws] >= 'A' && s[ws] <= 'Z') || (s[ws] >= 'a' && s[ws] <= 'z')))
    return 1;          /* initial: "J. Smith" */
  int dotted = n >= 3; /* "U.S.A", "e.g": single letters joined by periods */
  for (size_t i = 0; i < n && dotted; i++) {
    char c = s[ws + i];
    int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    dotted = i % 2 == 0 ? letter : c == '.';
  }
  if (dotted) return 1;
  char low[16];
  if (n == 0 || n >= sizeof low) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[ws + i];
    low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  low[n] = 0;
  for (size_t k = 0; k < sizeof abbrevs / sizeof *abbrevs; k++)
    if (!strcmp(low, abbrevs[k])) return 1;
  return 0;
}

size_t ef_split_sentences(const char *s, size_t len, char *out) {
  size_t o = 0, word = 0; /* word: start of the current word */
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    uint32_t cp = c;
    int m = 1;
    if (c >= 0x80 && !(m = ef_utf8_decode(s + i, len - i, &cp))) m = 1;
    if (is_ws(cp)) {
      out[o++] = ' ';
      for (int k = 1; k < m; k++) out[o++] = ' ';
      i += (size_t)m;
      word = i;
      continue;
    }
    if (c != '.' && c != '!' && c != '?') {
      memcpy(out + o, s + i, (size_t)m);
      o += (size_t)m, i += (size_t)m;
      continue;
    }
    /* a run of terminators, then closing quotes / brackets */
    size_t st = i, dots = 0;
    while (i < len && (s[i] == '.' || s[i] == '!' || s[i] == '?')) dots += s[i] == '.', i++;
    size_t nterm = i - st;
    int cl;
    while ((cl = closer_len(s, i, len))) i += (size_t)cl;
    memcpy(out + o, s + st, i - st);
    o += i - st;
    if (i >= len) break;
    uint32_t nx;
    int nm = ef_utf8_decode(s + i, len - i, &nx);
    if (!nm || !is_ws(nx)) continue; /* "3.14", "U.S.A", "a.b" */
    size_t j = i;                    /* the next word */
    while (j < len) {
      int k = ef_utf8_decode(s + j, len - j, &nx);
      if (!k || !is_ws(nx)) break;
      j += (size_t)k;
    }
    if (j >= len) continue; /* trailing whitespace: nothing after */
    int ellipsis = dots >= 2;
    int abbrev = nterm == 1 && s[st] == '.' && abbrev_before(s, word, st);
    if ((abbrev || ellipsis) && is_lower_start(s, j)) continue;
    if (abbrev) continue;
    out[o++] = '\n'; /* the boundary replaces the whitespace run */
    i = j;
    word = j;
  }
  return o;
}
