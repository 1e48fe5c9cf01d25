/* cli/cmd_prepare.c: `edgeformer prepare`, the command line of data/prepare.c (fairseq-preprocess
 * flags). It only parses options and prints the outcome; it must never do the data work itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "data/prepare.h"

#define PREPARE_ERR_BYTES 2048

static void prepare_usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer prepare [options]\n"
          "\n"
          "Binarise aligned text into HDF5 datasets (train.h5, valid.h5, test.h5), like\n"
          "fairseq-preprocess, with optional SentencePiece tokenisation.\n"
          "\n"
          "input (per split, text prefixes or TSV files; valid/test take comma lists):\n"
          "  -s, --source-lang LANG   source suffix (default src): reads PREFIX.LANG\n"
          "  -t, --target-lang LANG   target suffix (default tgt)\n"
          "  --trainpref PREFIX       training text PREFIX.SRC / PREFIX.TGT\n"
          "  --validpref PREFIX[,P2]  validation text (valid.h5, valid1.h5, ...)\n"
          "  --testpref PREFIX[,P2]   test text (test.h5, test1.h5, ...)\n"
          "  --train-tsv FILE         training pairs as source<TAB>target lines\n"
          "  --valid-tsv FILE[,F2]    validation pairs as TSV\n"
          "  --test-tsv FILE[,F2]     test pairs as TSV\n"
          "tokenisation (default: the input is already tokenised, tokens split on whitespace):\n"
          "  --spm MODEL              tokenise with this SentencePiece model\n"
          "  --spm-train VOCAB_SIZE   first learn a model on the training text with spm_train\n"
          "  --spm-type unigram|bpe   model type for --spm-train (default unigram)\n"
          "  --spm-train-bin PATH     the spm_train program (default: spm_train from PATH)\n"
          "dictionaries:\n"
          "  --srcdict FILE           reuse this source dictionary (fine-tuning)\n"
          "  --tgtdict FILE           reuse this target dictionary\n"
          "  --joined-dictionary      one dictionary for both sides\n"
          "  --thresholdsrc N         drop source symbols seen fewer than N times (default 0)\n"
          "  --thresholdtgt N         same for the target\n"
          "  --nwordssrc N            keep at most N source symbols, specials included (-1 all)\n"
          "  --nwordstgt N            same for the target\n"
          "  --padding-factor N       pad dictionary sizes to a multiple of N (default 8)\n"
          "  --dict-only              write the dictionaries only\n"
          "output:\n"
          "  --destdir DIR            output folder (default data-bin)\n"
          "  --keep-empty             keep pairs with an empty side (default: drop and count)\n"
          "  --workers N              accepted for fairseq compatibility, ignored\n"
          "\n"
          "example:\n"
          "  edgeformer prepare -s kjv -t web --trainpref work/data/kjv-web/train \\\n"
          "      --validpref work/data/kjv-web/valid --spm-train 2000 --joined-dictionary \\\n"
          "      --destdir work/bin/kjv-web\n");
}

static int parse_i64(const char *flag, const char *v, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end) {
    fprintf(stderr, "error: prepare: %s expects an integer, not '%s'\n", flag, v);
    return 1;
  }
  *out = x;
  return 0;
}

int cmd_prepare(int argc, char **argv) {
  ef_prepare_opts o;
  ef_prepare_opts_default(&o);
  for (int i = 1; i < argc; i++) {
    char *a = argv[i], *val = NULL, flag[64];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      prepare_usage(stdout);
      return 0;
    }
    char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    size_t flen = eq ? (size_t)(eq - a) : strlen(a);
    if (flen >= sizeof flag) flen = sizeof flag - 1;
    memcpy(flag, a, flen);
    flag[flen] = '\0';
    if (eq) val = eq + 1;
    /* Boolean flags. */
    int *boolean = !strcmp(flag, "--joined-dictionary") ? &o.joined_dictionary
                   : !strcmp(flag, "--dict-only")       ? &o.dict_only
                   : !strcmp(flag, "--keep-empty")      ? &o.keep_empty
                                                        : NULL;
    if (boolean) {
      if (val) {
        fprintf(stderr, "error: prepare: %s takes no value\n", flag);
        return 2;
      }
      *boolean = 1;
      continue;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "error: prepare: %s needs a value (see `edgeformer prepare --help`)\n",
                flag);
        return 2;
      }
      val = argv[++i];
    }
    const char **str = !strcmp(flag, "-s") || !strcmp(flag, "--source-lang")   ? &o.source_lang
                       : !strcmp(flag, "-t") || !strcmp(flag, "--target-lang") ? &o.target_lang
                       : !strcmp(flag, "--trainpref")                          ? &o.trainpref
                       : !strcmp(flag, "--validpref")                          ? &o.validpref
                       : !strcmp(flag, "--testpref")                           ? &o.testpref
                       : !strcmp(flag, "--train-tsv")                          ? &o.train_tsv
                       : !strcmp(flag, "--valid-tsv")                          ? &o.valid_tsv
                       : !strcmp(flag, "--test-tsv")                           ? &o.test_tsv
                       : !strcmp(flag, "--srcdict")                            ? &o.srcdict
                       : !strcmp(flag, "--tgtdict")                            ? &o.tgtdict
                       : !strcmp(flag, "--destdir")                            ? &o.destdir
                       : !strcmp(flag, "--spm")                                ? &o.spm_model
                       : !strcmp(flag, "--spm-type")                           ? &o.spm_type
                       : !strcmp(flag, "--spm-train-bin")                      ? &o.spm_train_bin
                                                                               : NULL;
    if (str) {
      *str = val;
      continue;
    }
    int64_t *num = !strcmp(flag, "--thresholdsrc")   ? &o.thresholdsrc
                   : !strcmp(flag, "--thresholdtgt") ? &o.thresholdtgt
                   : !strcmp(flag, "--nwordssrc")    ? &o.nwordssrc
                   : !strcmp(flag, "--nwordstgt")    ? &o.nwordstgt
                   : !strcmp(flag, "--spm-train")    ? &o.spm_train_vocab
                                                     : NULL;
    int64_t v;
    if (num) {
      if (parse_i64(flag, val, num)) return 2;
      if (num == &o.spm_train_vocab && o.spm_train_vocab < 1) {
        fprintf(stderr, "error: prepare: --spm-train expects a vocabulary size >= 1\n");
        return 2;
      }
      continue;
    }
    if (!strcmp(flag, "--padding-factor")) {
      if (parse_i64(flag, val, &v)) return 2;
      if (v < 1 || v > 1 << 16) {
        fprintf(stderr, "error: prepare: --padding-factor must be in 1..65536\n");
        return 2;
      }
      o.padding_factor = (int)v;
      continue;
    }
    if (!strcmp(flag, "--workers")) {
      if (parse_i64(flag, val, &v)) return 2;
      continue;
    }
    fprintf(stderr, "error: prepare: unknown option '%s' (see `edgeformer prepare --help`)\n", a);
    return 2;
  }
  char err[PREPARE_ERR_BYTES];
  if (ef_prepare_run(&o, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  return 0;
}
