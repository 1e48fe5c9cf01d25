/* cli/cmd_tokenize.c: `edgeformer tokenize`, SentencePiece encoding and decoding of stdin to
 * stdout, one line per line, with runtime/spm.h. It must never truncate a line silently nor
 * continue after a bad one: the first problem is reported as one line and the exit is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "runtime/spm.h"

#define TOK_ERR_LEN 512
#define TOK_STDIN "<stdin>"
#define TOK_QUOTE 24 /* bytes of a bad token quoted in a message */
#define TOK_MAX_IDS_PER_LINE (RT_SPM_MAX_INPUT_BYTES / 2) /* decode --ids: ids on one line */

static void usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer tokenize --spm MODEL [--ids] [--decode]\n"
          "\n"
          "Reads lines of UTF-8 text from stdin and writes one line per input line to stdout.\n"
          "  --spm MODEL  SentencePiece model file (.model, from spm_train)\n"
          "  --ids        encode to ids instead of pieces; with --decode, read ids\n"
          "  --decode     read space-separated pieces (or ids with --ids), print text\n"
          "  -h, --help   show this help\n"
          "Output matches spm_encode --output_format=piece|id and spm_decode.\n"
          "A line longer than %u bytes or not valid UTF-8 is an error (exit 1).\n",
          RT_SPM_MAX_INPUT_BYTES);
}

/* The library prefixes messages with the model name; input errors read better without it. */
static const char *strip_model(const char *msg, const char *model) {
  size_t k = strlen(model);
  if (strncmp(msg, model, k) == 0 && msg[k] == ':' && msg[k + 1] == ' ') return msg + k + 2;
  return msg;
}

/* Writes s[0..len) and a newline (s may hold NUL bytes, as its input line may). */
static void put_line(const char *s, size_t len) {
  fwrite(s, 1, len, stdout);
  putchar('\n');
}

/* Parses a line of space-separated ids; returns the count or -1 with a message. */
static int parse_ids(const char *line, size_t len, int **ids, size_t *cap, char *err,
                     size_t errlen) {
  int n = 0;
  for (size_t i = 0; i < len;) {
    if (line[i] == ' ' || line[i] == '\t') {
      i++;
      continue;
    }
    long v = 0;
    size_t j = i, e = i;
    while (e < len && line[e] != ' ' && line[e] != '\t') e++;
    int tl = (int)(e - i < TOK_QUOTE ? e - i : TOK_QUOTE);
    int neg = 0;
    if (line[j] == '-') neg = 1, j++;
    if (j >= len || line[j] < '0' || line[j] > '9') {
      snprintf(err, errlen, "'%.*s' is not an id", tl, line + i);
      return -1;
    }
    while (j < len && line[j] >= '0' && line[j] <= '9') {
      v = v * 10 + (line[j++] - '0');
      if (v > RT_SPM_MAX_PIECES) {
        snprintf(err, errlen, "id '%.*s' is out of range", tl, line + i);
        return -1;
      }
    }
    if (j < len && line[j] != ' ' && line[j] != '\t') {
      snprintf(err, errlen, "'%.*s' is not an id", tl, line + i);
      return -1;
    }
    if ((size_t)n == *cap) {
      size_t nc = *cap ? *cap * 2 : 256;
      if (nc > TOK_MAX_IDS_PER_LINE) {
        snprintf(err, errlen, "more than %d ids on one line", TOK_MAX_IDS_PER_LINE);
        return -1;
      }
      int *p = realloc(*ids, nc * sizeof *p);
      if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      *ids = p;
      *cap = nc;
    }
    (*ids)[n++] = (int)(neg ? -v : v);
    i = j;
  }
  return n;
}

int cmd_tokenize(int argc, char **argv) {
  const char *model = NULL;
  int want_ids = 0, decode = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--spm") && i + 1 < argc) {
      model = argv[++i];
    } else if (!strncmp(argv[i], "--spm=", 6)) {
      model = argv[i] + 6;
    } else if (!strcmp(argv[i], "--ids")) {
      want_ids = 1;
    } else if (!strcmp(argv[i], "--decode")) {
      decode = 1;
    } else {
      fprintf(stderr, "error: tokenize: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!model) {
    fprintf(stderr, "error: tokenize: --spm MODEL is required (see --help)\n");
    return 2;
  }
  char err[TOK_ERR_LEN];
  rt_spm *m = NULL;
  if (rt_spm_load(model, &m, err, sizeof err) != 0) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  char *line = NULL, *text = NULL;
  int *ids = NULL, *parsed = NULL;
  size_t linecap = 0, parsed_cap = 0;
  long lineno = 0;
  int rc = 0;
  ssize_t got;
  while ((got = getline(&line, &linecap, stdin)) >= 0) {
    size_t len = (size_t)got;
    lineno++;
    if (len && line[len - 1] == '\n') len--;
    if (len && line[len - 1] == '\r') len--;
    if (len > RT_SPM_MAX_INPUT_BYTES) {
      fprintf(stderr, "error: %s: line %ld is %zu bytes, longer than the limit of %u\n", TOK_STDIN,
              lineno, len, RT_SPM_MAX_INPUT_BYTES);
      rc = 1;
      break;
    }
    int n;
    if (!decode && want_ids) {
      n = rt_spm_encode_ids_alloc(m, line, len, &ids, err, sizeof err);
      if (n >= 0) {
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
      }
      free(ids);
      ids = NULL;
    } else if (!decode) {
      size_t tl = 0;
      n = rt_spm_encode_pieces_alloc(m, line, len, &text, &tl, err, sizeof err);
      if (n >= 0) put_line(text, tl);
    } else if (want_ids) {
      n = parse_ids(line, len, &parsed, &parsed_cap, err, sizeof err);
      if (n >= 0) n = rt_spm_decode_ids_alloc(m, parsed, n, &text, err, sizeof err);
      if (n >= 0) put_line(text, (size_t)n);
    } else {
      n = rt_spm_decode_pieces_alloc(m, line, len, &text, err, sizeof err);
      if (n >= 0) put_line(text, (size_t)n);
    }
    free(text);
    text = NULL;
    if (n < 0) {
      fprintf(stderr, "error: %s: line %ld: %s\n", TOK_STDIN, lineno, strip_model(err, model));
      rc = 1;
      break;
    }
  }
  if (rc == 0 && ferror(stdin)) {
    fprintf(stderr, "error: %s: read error\n", TOK_STDIN);
    rc = 1;
  }
  if (fflush(stdout) != 0 && rc == 0) {
    fprintf(stderr, "error: <stdout>: write failed\n");
    rc = 1;
  }
  free(line);
  free(parsed);
  rt_spm_free(m);
  return rc;
}
