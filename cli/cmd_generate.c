/* cli/cmd_generate.c: `edgeformer generate`, fairseq-generate for our checkpoints: the
 * sentences of a prepared split through the runtime decoder, S-/T-/H-/D-/P- lines on stdout
 * (or --results-path), then BLEU (with its sacreBLEU signature), chrF2 and the copy-the-source
 * baseline. Must never print scores of a partial run: any error stops with exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/gen_common.h"
#include "data/dataset.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer generate CHECKPOINT [--data DIR] [--gen-subset test|valid|train]\n"
          "                           [--results-path FILE] [--spm M --src-dict D --tgt-dict D]\n"
          "                           [--beam 5] [--nbest 1] [--lenpen 1] [--max-len-a 0]\n"
          "                           [--max-len-b 200] [--min-len 1] [--no-repeat-ngram-size 0]\n"
          "                           [--unkpen 0] [--temperature 1] [--sampling]\n"
          "                           [--sampling-topk K] [--sampling-topp P] [--seed S]\n"
          "                           [--batch-size 32] [--max-sentences N] [--truncate-source]\n"
          "                           [--threads 1] [--quiet]\n"
          "\n"
          "Generates for every sentence of DIR/SUBSET.h5 (DIR defaults to the checkpoint's\n"
          "[data] data) like fairseq-generate with --post-process sentencepiece:\n"
          "  S-i source, T-i reference, H-i score hypothesis, D-i score detokenised hypothesis,\n"
          "  P-i per-token log-probabilities; scores are in base 2, as fairseq prints them.\n"
          "Then: BLEU (sacreBLEU 13a, exp smoothing) and chrF2 of the detokenised hypotheses,\n"
          "their signatures, and the score of copying the source. Decoding follows fairseq's\n"
          "beam search exactly (docs/generation.md). A source longer than the model's\n"
          "max_source_positions is an error unless --truncate-source.\n");
}

int cmd_generate(int argc, char **argv) {
  gen_cli c;
  int r = gen_cli_parse(argc, argv, &c, usage);
  if (r) return r == 3 ? 0 : r;
  gen_session s;
  if (gen_session_open(&s, &c)) return 1;
  int rc = 1;
  char path[EF_PATH_MAX + 64], err[512];
  ef_dataset ds;
  ef_dataset_init(&ds);
  FILE *out = stdout;
  if (!s.data[0]) { /* e.g. an imported checkpoint: it was never trained on a folder */
    fprintf(stderr,
            "error: %s has no [data] data folder: pass --data DIR (a folder written by "
            "`edgeformer prepare`)\n",
            c.checkpoint);
    goto done;
  }
  snprintf(path, sizeof path, "%s/%s.h5", s.data, c.subset);
  ef_dataset_expect ex = {.src_dict = s.codec.dict[0], .tgt_dict = s.codec.dict[1]};
  if (ef_dataset_read(path, &ex, &ds, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    goto done;
  }
  if (c.results && !(out = fopen(c.results, "w"))) {
    fprintf(stderr, "error: %s: cannot write the results\n", c.results);
    out = stdout;
    goto done;
  }
  ef_gen_result res;
  if (ef_generate_dataset(s.rt, &s.codec, &ds, &c.gen, out, &res, err, sizeof err)) {
    fprintf(stderr, "error: %s: %s\n", path, err);
    goto done;
  }
  if (res.n_truncated)
    fprintf(stderr, "warning: %lld source(s) cut to %d tokens (--truncate-source)\n",
            (long long)res.n_truncated, s.model->cfg.max_source_positions);
  fprintf(stderr,
          "Translated %lld sentences (%lld tokens) in %.1fs (%.2f sentences/s, %.2f tokens/s)\n",
          (long long)res.n_sent, (long long)res.n_tokens, res.seconds,
          (double)res.n_sent / (res.seconds > 0 ? res.seconds : 1e-9),
          (double)res.n_tokens / (res.seconds > 0 ? res.seconds : 1e-9));
  ef_gen_print_scores(out, c.subset, &c.gen, &res);
  if (out != stdout) ef_gen_print_scores(stdout, c.subset, &c.gen, &res);
  rc = 0;
done:
  if (out != stdout && fclose(out)) {
    fprintf(stderr, "error: %s: write failed\n", c.results);
    rc = 1;
  }
  ef_dataset_release(&ds);
  gen_session_close(&s);
  return rc;
}
