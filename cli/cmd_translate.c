/* cli/cmd_translate.c: `edgeformer translate`, fairseq-interactive without the chatter: lines
 * of text on stdin, the best hypothesis (detokenised) per line on stdout, in order, one line out
 * per line in. It must never drop or reorder a line: a bad line stops with exit 1 naming it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/gen_common.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer translate CHECKPOINT [--data DIR | --spm M --src-dict D --tgt-dict D]\n"
          "                            [--beam 5] [--lenpen 1] [--max-len-a 0] [--max-len-b 200]\n"
          "                            [--nbest N] [--batch-size 32] [--truncate-source] ...\n"
          "\n"
          "Reads UTF-8 lines from stdin, writes one line per input line to stdout: the best\n"
          "hypothesis, SentencePiece-detokenised (with --nbest N > 1: N lines per input, the\n"
          "hypotheses joined by a tab on one line). Every [generate] option of\n"
          "`edgeformer generate --help` applies. Lines are decoded --batch-size at a time.\n");
}

static int flush_batch(gen_session *s, const gen_cli *c, rt_decoder *dec, int n,
                       const int **src, const int *slen, long first_line, ef_codec_buf *cb) {
  char err[512];
  rt_search_opts so;
  ef_gen_search_opts(&c->gen, &so);
  if (rt_generate(dec, n, src, slen, &so, err, sizeof err)) {
    fprintf(stderr, "error: lines %ld..%ld: %s\n", first_line, first_line + n - 1, err);
    return 1;
  }
  for (int i = 0; i < n; i++) {
    int cnt;
    const rt_hypo *h = rt_decoder_hypos(dec, i, &cnt);
    for (int k = 0; k < cnt; k++) {
      int l = h[k].tokens ? ef_codec_decode(&s->codec, 1, h[k].tokens, h[k].len, cb, err, sizeof err) : 0;
      if (l < 0) {
        fprintf(stderr, "error: line %ld: %s\n", first_line + i, err);
        return 1;
      }
      fputs(k ? "\t" : "", stdout);
      fwrite(h[k].tokens ? cb->text : "", 1, (size_t)l, stdout);
    }
    fputc('\n', stdout);
  }
  fflush(stdout);
  return 0;
}

int cmd_translate(int argc, char **argv) {
  gen_cli c;
  int r = gen_cli_parse(argc, argv, &c, usage);
  if (r) return r == 3 ? 0 : r;
  gen_session s;
  if (gen_session_open(&s, &c)) return 1;
  int rc = 1, bs = c.gen.batch_size, maxS = s.model->cfg.max_source_positions, n = 0;
  long lineno = 0, first = 1;
  char err[512], *line = NULL;
  size_t cap = 0;
  rt_kernels *k = rt_kernels_new(rt_isa_detect());
  rt_decoder *dec = NULL;
  ef_codec_buf cb = {0};
  int **ids = calloc((size_t)bs, sizeof *ids);
  int *slen = calloc((size_t)bs, sizeof *slen);
  if (!k || !ids || !slen) {
    fprintf(stderr, "error: out of memory\n");
    goto done;
  }
  if (c.gen.threads > 1) rt_kernels_set_threads(k, c.gen.threads);
  if (rt_decoder_new(s.rt, k, &dec, err, sizeof err)) {
    fprintf(stderr, "error: %s: %s\n", c.checkpoint, err);
    goto done;
  }
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    lineno++;
    if (len && line[len - 1] == '\n') len--;
    if (len && line[len - 1] == '\r') len--;
    int m = ef_codec_encode(&s.codec, line, (size_t)len, &cb, NULL, err, sizeof err);
    if (m < 0) {
      fprintf(stderr, "error: <stdin>:%ld: %s\n", lineno, err);
      goto done;
    }
    if (m > maxS) {
      if (!c.gen.truncate_source) {
        fprintf(stderr, "error: <stdin>:%ld: %d tokens, the model allows %d (use "
                "--truncate-source to cut long lines)\n", lineno, m, maxS);
        goto done;
      }
      cb.ids[maxS - 1] = EF_DICT_EOS;
      m = maxS;
    }
    int *p = realloc(ids[n], (size_t)m * sizeof *p);
    if (!p) {
      fprintf(stderr, "error: out of memory\n");
      goto done;
    }
    memcpy(p, cb.ids, (size_t)m * sizeof *p);
    ids[n] = p;
    slen[n++] = m;
    if (n == bs) {
      if (flush_batch(&s, &c, dec, n, (const int **)ids, slen, first, &cb)) goto done;
      first = lineno + 1;
      n = 0;
    }
  }
  if (n && flush_batch(&s, &c, dec, n, (const int **)ids, slen, first, &cb)) goto done;
  rc = 0;
done:
  for (int i = 0; ids && i < bs; i++) free(ids[i]);
  free(ids);
  free(slen);
  free(line);
  ef_codec_buf_free(&cb);
  rt_decoder_free(dec);
  rt_kernels_free(k);
  gen_session_close(&s);
  return rc;
}
