/* cli/cmd_score.c: `edgeformer score`, corpus BLEU / chrF (sacreBLEU-compatible) or mean
 * ROUGE (rouge-score-compatible) of a hypothesis file against one or more reference files,
 * as text or JSON. Files are read whole and split into lines the way Python's text files
 * are (\n, \r\n and \r end a line). It must never score files whose line counts differ nor
 * invalid UTF-8: the first problem is one line `error: FILE: ...` and exit status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "eval/bleu.h"
#include "eval/chrf.h"
#include "eval/gec.h"
#include "eval/rouge.h"
#include "eval/sentsplit.h"
#include "eval/unicode.h"

#define SCORE_MAX_REFS 16
#define SCORE_ERR_LEN 512
#define SCORE_READ_CHUNK ((size_t)1 << 16)
#define SCORE_MAX_FILE_BYTES ((size_t)1 << 32)
#define SCORE_ROUGE_VERSION "0.1.2" /* the rouge-score release eval/rouge.c reproduces */

enum metric { M_BLEU, M_CHRF, M_ROUGE, M_GEC };

typedef struct {
  const char *path;
  char *buf;
  size_t *start, *len; /* per line */
  size_t n;
} text_file;

static void usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer score [--metric bleu|chrf|rouge|gec] [--src FILE] --hyp FILE\n"
          "                        --ref FILE [--ref FILE2 ...]\n"
          "                        [--json] [--lowercase] [--no-stem] [--sent-sep STR]\n"
          "                        [--split-sentences] [sacreBLEU options below]\n"
          "\n"
          "Scores line i of --hyp against line i of every --ref (all files must have the same\n"
          "number of lines; empty lines are valid segments).\n"
          "  --metric M     bleu (default): corpus BLEU as sacreBLEU %s\n"
          "                 chrf: corpus chrF2 (chrF++ with --chrf-word-order 2) as its CHRF()\n"
          "                 rouge: ROUGE-1/2/L/Lsum as rouge-score %s, mean over lines\n"
          "                 gec: edit P/R/F0.5 against one --ref, edits taken from --src\n"
          "  --src FILE     gec: the uncorrected source, one sentence per line\n"
          "  --hyp FILE     system output, one segment per line (UTF-8)\n"
          "  --ref FILE     reference, one segment per line; repeat for more references\n"
          "                 (up to %d)\n"
          "  --json         print one JSON object with every number instead of text\n"
          "  --lowercase    bleu/chrf: lowercase hypotheses and references first\n"
          "  --no-stem      rouge: do not apply the Porter stemmer (default: stem)\n"
          "  --sent-sep STR rouge: STR separates sentences for ROUGE-Lsum (like '<n>')\n"
          "  --split-sentences rouge: split texts into sentences for ROUGE-Lsum with a\n"
          "                 rule-based splitter (rouge-score's split_summaries, which uses NLTK)\n"
          "sacreBLEU's options, same names and meanings (defaults in brackets):\n"
          "  -tok, --tokenize T      bleu: none, 13a, intl, char or zh [13a]\n"
          "  -s, --smooth-method M   bleu: exp, floor, add-k or none [exp]\n"
          "  -sv, --smooth-value X   bleu: floor's value [0.1] or add-k's k [1]\n"
          "  --max-ngram-order N     bleu: highest n-gram order, 1 to %d [4]\n"
          "  --force                 bleu: no warning when hypotheses look tokenized\n"
          "  --chrf-beta B           chrf: recall weight [2]\n"
          "  -cc, --chrf-char-order N  chrf: character n-gram order [6]\n"
          "  -cw, --chrf-word-order N  chrf: word n-gram order [0]; 2 = chrF++\n"
          "  --chrf-whitespace       chrf: keep whitespace in character n-grams\n"
          "  --chrf-eps-smoothing    chrf: epsilon smoothing (chrF++.py, NLTK, Moses) instead of\n"
          "                          the effective order\n"
          "  --chrf-lowercase        chrf: same as --lowercase\n"
          "  -sl, --sentence-level   bleu/chrf: one score per line, as `sacrebleu -sl` (effective\n"
          "                          order on for BLEU)\n"
          "  -w, --width N           decimals of the score [2; sacreBLEU's command line: 1]\n"
          "  -h, --help     show this help\n"
          "See docs/metrics.md for the exact definitions.\n",
          EF_SACREBLEU_VERSION, SCORE_ROUGE_VERSION, SCORE_MAX_REFS, EF_BLEU_ORDER_CAP);
}

static void text_free(text_file *t) {
  free(t->buf);
  free(t->start);
  free(t->len);
}

/* Reads path whole, splits it into lines and checks UTF-8. Prints the error itself. */
static int text_load(text_file *t, const char *path) {
  memset(t, 0, sizeof *t);
  t->path = path;
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "error: %s: cannot open: %s\n", path, strerror(errno));
    return -1;
  }
  size_t len = 0, cap = 0;
  for (;;) {
    if (cap - len < SCORE_READ_CHUNK) {
      size_t nc = cap ? cap * 2 : SCORE_READ_CHUNK * 2;
      char *p = nc <= SCORE_MAX_FILE_BYTES + 1 ? realloc(t->buf, nc) : NULL;
      if (!p) {
        fprintf(stderr, "error: %s: too large to read (limit %zu bytes)\n", path,
                (size_t)SCORE_MAX_FILE_BYTES);
        fclose(f);
        return -1;
      }
      t->buf = p;
      cap = nc;
    }
    size_t got = fread(t->buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    fprintf(stderr, "error: %s: cannot read: %s\n", path, strerror(errno));
    fclose(f);
    return -1;
  }
  fclose(f);
  size_t nl = 0;
  for (size_t i = 0; i < len; i++) nl += t->buf[i] == '\n' || t->buf[i] == '\r';
  t->start = malloc((nl + 1) * sizeof *t->start);
  t->len = malloc((nl + 1) * sizeof *t->len);
  if (!t->start || !t->len) {
    fprintf(stderr, "error: %s: out of memory\n", path);
    return -1;
  }
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && t->buf[e] != '\n' && t->buf[e] != '\r') e++;
    size_t bad;
    if (ef_utf8_check(t->buf + i, e - i, &bad)) {
      fprintf(stderr, "error: %s: line %zu: invalid UTF-8 at byte %zu of the line\n", path,
              t->n + 1, bad + 1);
      return -1;
    }
    t->start[t->n] = i;
    t->len[t->n++] = e - i;
    if (e < len && t->buf[e] == '\r' && e + 1 < len && t->buf[e + 1] == '\n') e++;
    i = e + 1;
  }
  return 0;
}

/* --split-sentences: `sep` points here instead of at a separator string. */
static const char SPLIT_RULES[] = "";

/* Replaces every occurrence of sep in s[0..len) by '\n' into out; returns the new length. */
static size_t replace_sep(const char *s, size_t len, const char *sep, char *out) {
  size_t k = strlen(sep), o = 0;
  for (size_t i = 0; i < len;) {
    if (k && i + k <= len && !memcmp(s + i, sep, k)) {
      out[o++] = '\n';
      i += k;
    } else {
      out[o++] = s[i++];
    }
  }
  return o;
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      printf("\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      printf("\\u%04x", *s);
    else
      putchar(*s);
  }
  putchar('"');
}

/* sacreBLEU's BLEU and chrF options (docs/metrics.md "Options"), with the same names. */
typedef struct {
  ef_bleu_opts bo;
  ef_chrf_opts co;
  int sentence; /* --sentence-level: one line per segment, as `sacrebleu -sl` */
  int width;    /* --width: decimals of the score (default 2) */
  int force;    /* --force: no warning about tokenized-looking hypotheses */
  const char *bleu_flag, *chrf_flag; /* the first metric-specific option seen, for errors */
} sb_opts;

#define SB_MAX_WIDTH 30
#define SB_TOKENIZED_WARN 100 /* sacreBLEU warns from 100 hypotheses ending in " ." */

static void sb_defaults(sb_opts *o) {
  memset(o, 0, sizeof *o);
  o->width = 2;
}

/* Integer option value in [lo, hi]; -1 (message printed) otherwise. */
static int int_arg(const char *flag, const char *v, int lo, int hi, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) {
    fprintf(stderr, "error: %s %s: expected an integer from %d to %d\n", flag, v, lo, hi);
    return -1;
  }
  *out = (int)x;
  return 0;
}

static int is_flag(const char *a, const char *name, const char *alias) {
  return !strcmp(a, name) || (alias && !strcmp(a, alias));
}

/* One sacreBLEU option at argv[*i]: 1 consumed (with its value), 0 not one of them, -1 error
 * (printed; exit status 2). */
static int sb_parse(int argc, char **argv, int *i, sb_opts *o) {
  const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  static const char *const valued[] = {
      "--tokenize",        "-tok",        "--smooth-method",   "-s",  "--smooth-value",    "-sv",
      "--max-ngram-order", "--chrf-beta", "--chrf-char-order", "-cc", "--chrf-word-order", "-cw",
      "--width",           "-w"};
  int needs = 0;
  for (size_t k = 0; k < sizeof valued / sizeof *valued; k++) needs |= !strcmp(a, valued[k]);
  if (needs && !v) {
    fprintf(stderr, "error: %s needs a value (run `edgeformer score --help`)\n", a);
    return -1;
  }
  if (is_flag(a, "--sentence-level", "-sl")) {
    o->sentence = 1;
    return 1;
  }
  if (is_flag(a, "--force", NULL)) {
    o->force = 1;
    o->bleu_flag = o->bleu_flag ? o->bleu_flag : a;
    return 1;
  }
  if (is_flag(a, "--width", "-w")) {
    ++*i;
    return int_arg(a, v, 0, SB_MAX_WIDTH, &o->width) ? -1 : 1;
  }
  if (is_flag(a, "--chrf-whitespace", NULL) || is_flag(a, "--chrf-eps-smoothing", NULL) ||
      is_flag(a, "--chrf-lowercase", NULL)) {
    if (!strcmp(a, "--chrf-whitespace"))
      o->co.whitespace = 1;
    else if (!strcmp(a, "--chrf-eps-smoothing"))
      o->co.eps_smoothing = 1;
    else
      o->co.lowercase = 1;
    o->chrf_flag = o->chrf_flag ? o->chrf_flag : a;
    return 1;
  }
  int x;
  if (is_flag(a, "--chrf-beta", NULL) || is_flag(a, "--chrf-char-order", "-cc") ||
      is_flag(a, "--chrf-word-order", "-cw")) {
    ++*i;
    int beta = !strcmp(a, "--chrf-beta");
    if (int_arg(a, v, 0, beta ? EF_CHRF_MAX_BETA : EF_CHRF_MAX_ORDERS, &x)) return -1;
    if (beta)
      o->co.beta = x, o->co.beta_zero = x == 0;
    else if (!strcmp(a, "--chrf-word-order") || !strcmp(a, "-cw"))
      o->co.word_order = x;
    else
      o->co.char_order = x, o->co.no_chars = x == 0;
    o->chrf_flag = o->chrf_flag ? o->chrf_flag : a;
    return 1;
  }
  if (is_flag(a, "--tokenize", "-tok")) {
    ++*i;
    if ((o->bo.tokenize = ef_bleu_tok_from_name(v)) < 0) {
      fprintf(stderr, "error: %s %s: expected none, 13a, intl, char or zh\n", a, v);
      return -1;
    }
  } else if (is_flag(a, "--smooth-method", "-s")) {
    ++*i;
    if ((o->bo.smooth_method = ef_bleu_smooth_from_name(v)) < 0) {
      fprintf(stderr, "error: %s %s: expected exp, floor, add-k or none\n", a, v);
      return -1;
    }
  } else if (is_flag(a, "--smooth-value", "-sv")) {
    ++*i;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0.0) || d > 1e9) {
      fprintf(stderr, "error: %s %s: expected a number from 0 to 1e9\n", a, v);
      return -1;
    }
    o->bo.smooth_value = d;
    o->bo.has_smooth_value = 1;
  } else if (is_flag(a, "--max-ngram-order", NULL)) {
    ++*i;
    if (int_arg(a, v, 1, EF_BLEU_ORDER_CAP, &o->bo.max_ngram_order)) return -1;
  } else {
    return 0;
  }
  o->bleu_flag = o->bleu_flag ? o->bleu_flag : a;
  return 1;
}

/* The references of line i. */
static void line_refs(text_file *refs, int nrefs, size_t i, const char **rs, size_t *rl) {
  for (int r = 0; r < nrefs; r++) {
    rs[r] = refs[r].buf + refs[r].start[i];
    rl[r] = refs[r].len[i];
  }
}

/* sacreBLEU's "That's 100 lines that end in a tokenized period ('.')" warning. */
static void warn_tokenized(const text_file *hyp) {
  size_t n = 0;
  for (size_t i = 0; i < hyp->n; i++) {
    const char *s = hyp->buf + hyp->start[i];
    size_t l = ef_py_rstrip_len(s, hyp->len[i]);
    n += l >= 2 && s[l - 2] == ' ' && s[l - 1] == '.';
  }
  if (n >= SB_TOKENIZED_WARN)
    fprintf(stderr,
            "warning: %s: %zu lines end in a tokenized period (' .'): it looks like you "
            "forgot to detokenize, which may hurt your score (--force silences this)\n",
            hyp->path, n);
}

static int run_bleu(text_file *hyp, text_file *refs, int nrefs, sb_opts *so, int json) {
  ef_bleu_opts o = so->bo;
  o.effective_order = so->sentence; /* sacreBLEU -sl turns effective order on */
  ef_bleu *b = ef_bleu_new(&o);
  if (!b) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  if (!so->force && !so->sentence) warn_tokenized(hyp); /* -sl scores one line at a time */
  char line[EF_BLEU_LINE_MAX], sig[EF_BLEU_LINE_MAX];
  ef_bleu_signature(&o, nrefs, sig, sizeof sig);
  ef_bleu_stats corpus = {0}, seg;
  ef_bleu_score s;
  char err[SCORE_ERR_LEN];
  for (size_t i = 0; i < hyp->n; i++) {
    const char *rs[SCORE_MAX_REFS];
    size_t rl[SCORE_MAX_REFS];
    line_refs(refs, nrefs, i, rs, rl);
    if (ef_bleu_segment(b, hyp->buf + hyp->start[i], hyp->len[i], rs, rl, nrefs, &seg, err,
                        sizeof err)) {
      fprintf(stderr, "error: %s: line %zu: %s\n", hyp->path, i + 1, err);
      ef_bleu_free(b);
      return 1;
    }
    ef_bleu_stats_add(&corpus, &seg);
    if (!so->sentence) continue;
    ef_bleu_compute_opts(&seg, &o, &s);
    ef_bleu_format_width(&s, so->width, json ? NULL : sig, line, sizeof line);
    if (!json) {
      puts(line);
      continue;
    }
    printf("{\"name\": \"BLEU\", \"score\": %.17g, \"line\": ", s.score);
    json_str(line);
    printf(", \"signature\": ");
    json_str(sig);
    printf("}\n");
  }
  ef_bleu_free(b);
  if (so->sentence) return 0;
  ef_bleu_compute_opts(&corpus, &o, &s);
  ef_bleu_format_width(&s, so->width, NULL, line, sizeof line);
  if (!json) {
    printf("%s\nsignature: %s\n", line, sig);
    return 0;
  }
  int order = s.order;
  printf("{\"name\": \"BLEU\", \"score\": %.17g, \"line\": ", s.score);
  json_str(line);
  printf(", \"signature\": ");
  json_str(sig);
  printf(", \"precisions\": [");
  for (int n = 0; n < order; n++) printf("%s%.17g", n ? ", " : "", s.precisions[n]);
  printf("], \"bp\": %.17g, \"ratio\": %.17g, \"hyp_len\": %lld, \"ref_len\": %lld, \"counts\": [",
         s.bp, s.ratio, (long long)corpus.hyp_len, (long long)corpus.ref_len);
  for (int n = 0; n < order; n++) printf("%s%lld", n ? ", " : "", (long long)corpus.correct[n]);
  printf("], \"totals\": [");
  for (int n = 0; n < order; n++) printf("%s%lld", n ? ", " : "", (long long)corpus.total[n]);
  printf("], \"nrefs\": %d, \"lines\": %zu}\n", nrefs, hyp->n);
  return 0;
}

static int run_chrf(text_file *hyp, text_file *refs, int nrefs, sb_opts *so, int json) {
  ef_chrf_opts o = so->co;
  ef_chrf *c = ef_chrf_new(&o);
  if (!c) {
    fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  char line[EF_BLEU_LINE_MAX], sig[EF_BLEU_LINE_MAX], name[EF_BLEU_LINE_MAX];
  ef_chrf_signature(&o, nrefs, sig, sizeof sig);
  ef_chrf_format_opts(0.0, &o, 0, NULL, name, sizeof name);
  *strchr(name, ' ') = 0; /* "chrF2++" */
  ef_chrf_stats corpus, seg;
  memset(&corpus, 0, sizeof corpus);
  char err[SCORE_ERR_LEN];
  for (size_t i = 0; i < hyp->n; i++) {
    const char *rs[SCORE_MAX_REFS];
    size_t rl[SCORE_MAX_REFS];
    line_refs(refs, nrefs, i, rs, rl);
    /* the sacrebleu command line rstrips every line it reads (matters with --chrf-whitespace) */
    for (int r = 0; r < nrefs; r++) rl[r] = ef_py_rstrip_len(rs[r], rl[r]);
    const char *h = hyp->buf + hyp->start[i];
    if (ef_chrf_segment(c, h, ef_py_rstrip_len(h, hyp->len[i]), rs, rl, nrefs, &seg, err,
                        sizeof err)) {
      fprintf(stderr, "error: %s: line %zu: %s\n", hyp->path, i + 1, err);
      ef_chrf_free(c);
      return 1;
    }
    ef_chrf_stats_add(&corpus, &seg);
    if (!so->sentence) continue;
    double score = ef_chrf_compute_opts(&seg, &o);
    ef_chrf_format_opts(score, &o, so->width, json ? NULL : sig, line, sizeof line);
    if (!json) {
      puts(line);
      continue;
    }
    printf("{\"name\": ");
    json_str(name);
    printf(", \"score\": %.17g, \"line\": ", score);
    json_str(line);
    printf(", \"signature\": ");
    json_str(sig);
    printf("}\n");
  }
  ef_chrf_free(c);
  if (so->sentence) return 0;
  double score = ef_chrf_compute_opts(&corpus, &o);
  ef_chrf_format_opts(score, &o, so->width, NULL, line, sizeof line);
  if (!json) {
    printf("%s\nsignature: %s\n", line, sig);
    return 0;
  }
  printf("{\"name\": ");
  json_str(name);
  printf(", \"score\": %.17g, \"line\": ", score);
  json_str(line);
  printf(", \"signature\": ");
  json_str(sig);
  printf(", \"stats\": [");
  for (int k = 0; k < ef_chrf_nstats(&o); k++)
    printf("%s%lld", k ? ", " : "", (long long)corpus.v[k]);
  printf("], \"nrefs\": %d, \"lines\": %zu}\n", nrefs, hyp->n);
  return 0;
}

static int run_rouge(text_file *hyp, text_file *refs, int nrefs, int stem, const char *sep,
                     int json) {
  ef_rouge *r = ef_rouge_new(stem);
  double sum[EF_ROUGE_NTYPES][3] = {{0}};
  char err[SCORE_ERR_LEN];
  char *scratch[SCORE_MAX_REFS + 1] = {0};
  int rc = 1;
  if (!r) goto oom;
  for (size_t i = 0; i < hyp->n; i++) {
    const char *rs[SCORE_MAX_REFS];
    size_t rl[SCORE_MAX_REFS];
    const char *h = hyp->buf + hyp->start[i];
    size_t hl = hyp->len[i];
    for (int k = 0; k < nrefs; k++) {
      rs[k] = refs[k].buf + refs[k].start[i];
      rl[k] = refs[k].len[i];
    }
    if (sep) { /* sentence separators (or the splitter's boundaries) become newlines */
      for (int k = 0; k <= nrefs; k++) {
        size_t n = k < nrefs ? rl[k] : hl;
        free(scratch[k]);
        scratch[k] = malloc(n + 1);
        if (!scratch[k]) goto oom;
        const char *in = k < nrefs ? rs[k] : h;
        size_t out = sep == SPLIT_RULES ? ef_split_sentences(in, n, scratch[k])
                                        : replace_sep(in, n, sep, scratch[k]);
        if (k < nrefs)
          rl[k] = out, rs[k] = scratch[k];
        else
          hl = out, h = scratch[k];
      }
    }
    ef_rouge_score s;
    if (ef_rouge_score_pair(r, h, hl, rs, rl, nrefs, &s, err, sizeof err)) {
      fprintf(stderr, "error: %s: line %zu: %s\n", hyp->path, i + 1, err);
      goto done;
    }
    for (int t = 0; t < EF_ROUGE_NTYPES; t++) {
      sum[t][0] += s.s[t].p;
      sum[t][1] += s.s[t].r;
      sum[t][2] += s.s[t].f;
    }
  }
  double n = hyp->n ? (double)hyp->n : 1.0;
  char sig[EF_BLEU_LINE_MAX];
  snprintf(sig, sizeof sig, "nrefs:%d|stem:%s|split:%s|agg:mean|version:rouge-score-%s", nrefs,
           stem ? "yes" : "no",
           sep == SPLIT_RULES ? "rules"
           : sep              ? "sep"
                              : "newline",
           SCORE_ROUGE_VERSION);
  if (!json) {
    for (int t = 0; t < EF_ROUGE_NTYPES; t++)
      printf("%-9s P = %.2f R = %.2f F = %.2f\n", ef_rouge_type_name(t), 100 * sum[t][0] / n,
             100 * sum[t][1] / n, 100 * sum[t][2] / n);
    printf("signature: %s\n", sig);
  } else {
    printf("{\"name\": \"ROUGE\", ");
    for (int t = 0; t < EF_ROUGE_NTYPES; t++)
      printf("\"%s\": {\"precision\": %.17g, \"recall\": %.17g, \"fmeasure\": %.17g}, ",
             ef_rouge_type_name(t), sum[t][0] / n, sum[t][1] / n, sum[t][2] / n);
    printf("\"signature\": ");
    json_str(sig);
    printf(", \"nrefs\": %d, \"lines\": %zu}\n", nrefs, hyp->n);
  }
  rc = 0;
  goto done;
oom:
  fprintf(stderr, "error: out of memory\n");
done:
  for (int k = 0; k <= SCORE_MAX_REFS; k++) free(scratch[k]);
  ef_rouge_free(r);
  return rc;
}

/* GEC (eval/gec.h): edits of src->hyp against edits of src->ref, counted over the corpus. */
static int run_gec(text_file *src, text_file *hyp, text_file *ref, int json) {
  ef_gec_stats st = {0, 0, 0};
  char err[SCORE_ERR_LEN];
  for (size_t i = 0; i < hyp->n; i++)
    if (ef_gec_segment(src->buf + src->start[i], src->len[i], hyp->buf + hyp->start[i], hyp->len[i],
                       ref->buf + ref->start[i], ref->len[i], &st, err, sizeof err)) {
      fprintf(stderr, "error: %s: line %zu: %s\n", hyp->path, i + 1, err);
      return 1;
    }
  ef_gec_score s = ef_gec_compute(&st);
  const char *sig = "tok:whitespace|align:levenshtein|merge:adjacent|beta:0.5";
  if (!json)
    printf("GEC P = %.2f R = %.2f F0.5 = %.2f (tp = %lld fp = %lld fn = %lld)\nsignature: %s\n",
           100 * s.p, 100 * s.r, 100 * s.f05, (long long)st.tp, (long long)st.fp, (long long)st.fn,
           sig);
  else
    printf("{\"name\": \"GEC\", \"precision\": %.17g, \"recall\": %.17g, \"f0.5\": %.17g, "
           "\"tp\": %lld, \"fp\": %lld, \"fn\": %lld, \"signature\": \"%s\", \"lines\": %zu}\n",
           s.p, s.r, s.f05, (long long)st.tp, (long long)st.fp, (long long)st.fn, sig, hyp->n);
  return 0;
}

int cmd_score(int argc, char **argv) {
  const char *hyp_path = NULL, *ref_paths[SCORE_MAX_REFS], *sep = NULL, *src_path = NULL;
  int nrefs = 0, json = 0, lowercase = 0, stem = 1;
  enum metric m = M_BLEU;
  sb_opts so;
  sb_defaults(&so);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int has_val = i + 1 < argc;
    int sb = sb_parse(argc, argv, &i, &so);
    if (sb < 0) return 2;
    if (sb) continue;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = 1;
    } else if (!strcmp(a, "--lowercase") || !strcmp(a, "-lc")) {
      lowercase = 1;
    } else if (!strcmp(a, "--no-stem")) {
      stem = 0;
    } else if (!strcmp(a, "--metric") && has_val) {
      const char *v = argv[++i];
      if (!strcmp(v, "bleu"))
        m = M_BLEU;
      else if (!strcmp(v, "chrf"))
        m = M_CHRF;
      else if (!strcmp(v, "rouge"))
        m = M_ROUGE;
      else if (!strcmp(v, "gec"))
        m = M_GEC;
      else {
        fprintf(stderr, "error: --metric %s: expected bleu, chrf, rouge or gec\n", v);
        return 2;
      }
    } else if (!strcmp(a, "--src") && has_val) {
      src_path = argv[++i];
    } else if (!strcmp(a, "--hyp") && has_val) {
      hyp_path = argv[++i];
    } else if (!strcmp(a, "--ref") && has_val) {
      if (nrefs == SCORE_MAX_REFS) {
        fprintf(stderr, "error: more than %d --ref files\n", SCORE_MAX_REFS);
        return 2;
      }
      ref_paths[nrefs++] = argv[++i];
    } else if (!strcmp(a, "--split-sentences")) {
      if (sep && sep != SPLIT_RULES) {
        fprintf(stderr, "error: --split-sentences and --sent-sep exclude each other\n");
        return 2;
      }
      sep = SPLIT_RULES;
    } else if (!strcmp(a, "--sent-sep") && has_val) {
      if (sep == SPLIT_RULES) {
        fprintf(stderr, "error: --split-sentences and --sent-sep exclude each other\n");
        return 2;
      }
      sep = argv[++i];
      if (!*sep) {
        fprintf(stderr, "error: --sent-sep needs a non-empty string\n");
        return 2;
      }
    } else if (!has_val && (!strcmp(a, "--metric") || !strcmp(a, "--hyp") || !strcmp(a, "--ref") ||
                            !strcmp(a, "--sent-sep") || !strcmp(a, "--src"))) {
      fprintf(stderr, "error: %s needs a value (run `edgeformer score --help`)\n", a);
      return 2;
    } else {
      fprintf(stderr, "error: unknown argument '%s' (run `edgeformer score --help`)\n", a);
      return 2;
    }
  }
  if (!hyp_path || !nrefs) {
    fprintf(stderr, "error: score needs --hyp FILE and at least one --ref FILE\n");
    usage(stderr);
    return 2;
  }
  if (m == M_ROUGE && lowercase) {
    fprintf(stderr, "error: --lowercase is for bleu and chrf (ROUGE always lowercases)\n");
    return 2;
  }
  if (m != M_ROUGE && (!stem || sep)) {
    fprintf(stderr, "error: --no-stem, --sent-sep and --split-sentences are for --metric rouge\n");
    return 2;
  }
  if (m != M_BLEU && so.bleu_flag) {
    fprintf(stderr, "error: %s is a BLEU option (--metric bleu)\n", so.bleu_flag);
    return 2;
  }
  if (m != M_CHRF && so.chrf_flag) {
    fprintf(stderr, "error: %s is a chrF option (--metric chrf)\n", so.chrf_flag);
    return 2;
  }
  if (so.sentence && m != M_BLEU && m != M_CHRF) {
    fprintf(stderr, "error: --sentence-level is for --metric bleu and chrf\n");
    return 2;
  }
  so.bo.lowercase = lowercase;
  so.co.lowercase |= lowercase;
  if (ef_chrf_char_order(&so.co) + so.co.word_order < 1 ||
      ef_chrf_char_order(&so.co) + so.co.word_order > EF_CHRF_MAX_ORDERS) {
    fprintf(stderr, "error: --chrf-char-order + --chrf-word-order must be 1 to %d\n",
            EF_CHRF_MAX_ORDERS);
    return 2;
  }
  if ((m == M_GEC) != (src_path != NULL) || (m == M_GEC && (nrefs != 1 || lowercase))) {
    fprintf(stderr, "error: --metric gec needs --src FILE and exactly one --ref (and --src is "
                    "only for gec)\n");
    return 2;
  }
  text_file hyp, refs[SCORE_MAX_REFS], src = {0};
  int loaded = 0, rc = 1;
  if (text_load(&hyp, hyp_path)) {
    text_free(&hyp);
    return 1;
  }
  for (; loaded < nrefs; loaded++) {
    if (text_load(&refs[loaded], ref_paths[loaded])) {
      text_free(&refs[loaded]);
      goto done;
    }
    if (refs[loaded].n != hyp.n) {
      fprintf(stderr, "error: %s: %zu lines, but the hypothesis file %s has %zu\n",
              ref_paths[loaded], refs[loaded].n, hyp_path, hyp.n);
      loaded++;
      goto done;
    }
  }
  if (hyp.n == 0) {
    fprintf(stderr, "error: %s: no lines to score\n", hyp_path);
    goto done;
  }
  if (m == M_GEC) {
    int bad = text_load(&src, src_path);
    if (!bad && src.n != hyp.n)
      fprintf(stderr, "error: %s: %zu lines, but the hypothesis file %s has %zu\n", src_path, src.n,
              hyp_path, hyp.n);
    else if (!bad)
      rc = run_gec(&src, &hyp, &refs[0], json);
    text_free(&src);
    goto done;
  }
  if (m == M_BLEU)
    rc = run_bleu(&hyp, refs, nrefs, &so, json);
  else if (m == M_CHRF)
    rc = run_chrf(&hyp, refs, nrefs, &so, json);
  else
    rc = run_rouge(&hyp, refs, nrefs, stem, sep, json);
done:
  for (int k = 0; k < loaded; k++) text_free(&refs[k]);
  text_free(&hyp);
  return rc;
}
