/* eval/porter.c: NLTK's Porter stemmer, NLTK_EXTENSIONS mode (see porter.h). Each step is
 * an ordered rule list where the first matching suffix decides, even when its condition
 * fails; that "first match wins" is what the tables below encode. It must never allocate. */
#include "eval/porter.h"

#include <string.h>

#define PORTER_MAX_WORD 256 /* longer words are returned unchanged */

typedef struct {
  char w[PORTER_MAX_WORD + 8];
  size_t n;
} word_t;

static int is_cons(const char *w, size_t i) {
  char c = w[i];
  if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') return 0;
  if (c == 'y') return i == 0 ? 1 : !is_cons(w, i - 1);
  return 1;
}

/* Number of "vc" in the consonant/vowel pattern of w[0..n). */
static int measure(const char *w, size_t n) {
  int m = 0;
  for (size_t i = 0; i + 1 < n; i++)
    if (!is_cons(w, i) && is_cons(w, i + 1)) m++;
  return m;
}

static int has_vowel(const char *w, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_cons(w, i)) return 1;
  return 0;
}

static int ends_double_cons(const char *w, size_t n) {
  return n >= 2 && w[n - 1] == w[n - 2] && is_cons(w, n - 1);
}

static int ends_cvc(const char *w, size_t n) {
  if (n >= 3 && is_cons(w, n - 3) && !is_cons(w, n - 2) && is_cons(w, n - 1) && w[n - 1] != 'w' &&
      w[n - 1] != 'x' && w[n - 1] != 'y')
    return 1;
  return n == 2 && !is_cons(w, 0) && is_cons(w, 1);
}

static int ends(const word_t *w, const char *suf) {
  size_t k = strlen(suf);
  return w->n >= k && !memcmp(w->w + w->n - k, suf, k);
}

static void set_suffix(word_t *w, size_t cut, const char *rep) {
  size_t k = strlen(rep);
  w->n -= cut;
  memcpy(w->w + w->n, rep, k);
  w->n += k;
}

enum cond { C_NONE, C_M0, C_M1, C_ION, C_LOGI, C_Y };

typedef struct {
  const char *suf, *rep;
  enum cond cond;
} rule;

static int cond_ok(enum cond c, const word_t *w, size_t stem_n) {
  switch (c) {
  case C_NONE:
    return 1;
  case C_M0:
    return measure(w->w, stem_n) > 0;
  case C_M1:
    return measure(w->w, stem_n) > 1;
  case C_ION:
    return measure(w->w, stem_n) > 1 && stem_n > 0 &&
           (w->w[stem_n - 1] == 's' || w->w[stem_n - 1] == 't');
  case C_LOGI:
    return measure(w->w, w->n - 3) > 0; /* NLTK tests word[:-3] */
  case C_Y:
    return stem_n > 1 && is_cons(w->w, stem_n - 1);
  }
  return 0;
}

static void apply_rules(word_t *w, const rule *r, size_t nr) {
  for (size_t i = 0; i < nr; i++) {
    if (!ends(w, r[i].suf)) continue;
    size_t stem_n = w->n - strlen(r[i].suf);
    if (cond_ok(r[i].cond, w, stem_n)) set_suffix(w, strlen(r[i].suf), r[i].rep);
    return;
  }
}

#define NRULES(a) (sizeof(a) / sizeof((a)[0]))

static void step1a(word_t *w) {
  static const rule r[] = {
      {"sses", "ss", C_NONE}, {"ies", "i", C_NONE}, {"ss", "ss", C_NONE}, {"s", "", C_NONE}};
  if (ends(w, "ies") && w->n == 4) {
    set_suffix(w, 3, "ie");
    return;
  }
  apply_rules(w, r, NRULES(r));
}

static void step1b(word_t *w) {
  if (ends(w, "ied")) {
    set_suffix(w, 3, w->n == 4 ? "ie" : "i");
    return;
  }
  if (ends(w, "eed")) {
    if (measure(w->w, w->n - 3) > 0) set_suffix(w, 3, "ee");
    return;
  }
  size_t cut = 0;
  if (ends(w, "ed") && has_vowel(w->w, w->n - 2))
    cut = 2;
  else if (ends(w, "ing") && has_vowel(w->w, w->n - 3))
    cut = 3;
  if (!cut) return;
  w->n -= cut; /* the intermediate stem */
  static const rule r[] = {{"at", "ate", C_NONE}, {"bl", "ble", C_NONE}, {"iz", "ize", C_NONE}};
  for (size_t i = 0; i < NRULES(r); i++)
    if (ends(w, r[i].suf)) {
      set_suffix(w, 2, r[i].rep);
      return;
    }
  if (ends_double_cons(w->w, w->n)) {
    char last = w->w[w->n - 1];
    if (last != 'l' && last != 's' && last != 'z') w->n -= 1;
    return;
  }
  if (measure(w->w, w->n) == 1 && ends_cvc(w->w, w->n)) set_suffix(w, 0, "e");
}

static void step1c(word_t *w) {
  static const rule r[] = {{"y", "i", C_Y}};
  apply_rules(w, r, NRULES(r));
}

static void step2(word_t *w) {
  static const rule r[] = {
      {"ational", "ate", C_M0}, {"tional", "tion", C_M0}, {"enci", "ence", C_M0},
      {"anci", "ance", C_M0},   {"izer", "ize", C_M0},    {"bli", "ble", C_M0},
      {"alli", "al", C_M0},     {"entli", "ent", C_M0},   {"eli", "e", C_M0},
      {"ousli", "ous", C_M0},   {"ization", "ize", C_M0}, {"ation", "ate", C_M0},
      {"ator", "ate", C_M0},    {"alism", "al", C_M0},    {"iveness", "ive", C_M0},
      {"fulness", "ful", C_M0}, {"ousness", "ous", C_M0}, {"aliti", "al", C_M0},
      {"iviti", "ive", C_M0},   {"biliti", "ble", C_M0},  {"fulli", "ful", C_M0},
      {"logi", "log", C_LOGI}};
  /* NLTK extension: "alli" -> "al" then step 2 again */
  while (ends(w, "alli") && measure(w->w, w->n - 4) > 0) set_suffix(w, 4, "al");
  apply_rules(w, r, NRULES(r));
}

static void step3(word_t *w) {
  static const rule r[] = {{"icate", "ic", C_M0}, {"ative", "", C_M0},  {"alize", "al", C_M0},
                           {"iciti", "ic", C_M0}, {"ical", "ic", C_M0}, {"ful", "", C_M0},
                           {"ness", "", C_M0}};
  apply_rules(w, r, NRULES(r));
}

static void step4(word_t *w) {
  static const rule r[] = {
      {"al", "", C_M1},    {"ance", "", C_M1}, {"ence", "", C_M1}, {"er", "", C_M1},
      {"ic", "", C_M1},    {"able", "", C_M1}, {"ible", "", C_M1}, {"ant", "", C_M1},
      {"ement", "", C_M1}, {"ment", "", C_M1}, {"ent", "", C_M1},  {"ion", "", C_ION},
      {"ou", "", C_M1},    {"ism", "", C_M1},  {"ate", "", C_M1},  {"iti", "", C_M1},
      {"ous", "", C_M1},   {"ive", "", C_M1},  {"ize", "", C_M1}};
  apply_rules(w, r, NRULES(r));
}

static void step5(word_t *w) {
  if (ends(w, "e")) {
    int m = measure(w->w, w->n - 1);
    if (m > 1 || (m == 1 && !ends_cvc(w->w, w->n - 1))) w->n -= 1;
  }
  if (ends(w, "ll") && measure(w->w, w->n - 1) > 1) w->n -= 1;
}

/* NLTK's irregular forms (its "pool"). */
static const char *const irregular[][2] = {
    {"sky", "sky"},        {"skies", "sky"},       {"dying", "die"},        {"lying", "lie"},
    {"tying", "tie"},      {"news", "news"},       {"innings", "inning"},   {"inning", "inning"},
    {"outings", "outing"}, {"outing", "outing"},   {"cannings", "canning"}, {"canning", "canning"},
    {"howe", "howe"},      {"proceed", "proceed"}, {"exceed", "exceed"},    {"succeed", "succeed"}};

size_t ef_porter_stem(const char *word, size_t len, char *out) {
  for (size_t i = 0; i < NRULES(irregular); i++)
    if (strlen(irregular[i][0]) == len && !memcmp(word, irregular[i][0], len)) {
      size_t k = strlen(irregular[i][1]);
      memcpy(out, irregular[i][1], k);
      return k;
    }
  if (len <= 2 || len > PORTER_MAX_WORD) {
    memcpy(out, word, len);
    return len;
  }
  word_t w;
  memcpy(w.w, word, len);
  w.n = len;
  step1a(&w);
  step1b(&w);
  step1c(&w);
  step2(&w);
  step3(&w);
  step4(&w);
  step5(&w);
  memcpy(out, w.w, w.n);
  return w.n;
}
