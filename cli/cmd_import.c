/* cli/cmd_import.c: `edgeformer import --fairseq CKPT.pt --dict dict.src.txt [--spm spm.model]
 * -o OUT.h5`: the command line of convert/fairseq_import.c. It only parses options and prints
 * the outcome; it must never do the conversion work itself. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "convert/fairseq_import.h"

#define IMPORT_ERR_BYTES 2048

static void import_usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer import --fairseq CHECKPOINT.pt --dict dict.src.txt [--spm spm.model]\n"
          "                         (-o OUT.h5 | --check)\n"
          "\n"
          "Import a fairseq checkpoint (EdgeLM's transformer_edge, a universal transformer or a\n"
          "plain transformer, saved by torch.save) as an edgeformer HDF5 checkpoint that\n"
          "`edgeformer train --restore-file OUT.h5 --reset-optimizer true` fine-tunes and\n"
          "`edgeformer generate` uses. Checks every key and shape, that every duplicate key\n"
          "(shared layers, tied embeddings) is bit-identical to its canonical key, and that the\n"
          "vocabulary size matches the dictionary. The pickle in the file is read by a safe\n"
          "interpreter that never executes anything (docs/import.md).\n"
          "\n"
          "  --fairseq FILE   the fairseq checkpoint (zip or legacy torch.save format)\n"
          "  --dict FILE      the fairseq dictionary the model was trained with (dict.src.txt)\n"
          "  --spm FILE       its SentencePiece model: dictionary symbols are checked against it\n"
          "  -o, --output F   the HDF5 checkpoint to write (atomically); the dictionary and the\n"
          "                   SentencePiece model are stored in it, so translate, generate and\n"
          "                   export need nothing else (docs/import.md)\n"
          "  --check          check only, write nothing\n"
          "\n"
          "example (docs/finetune.md):\n"
          "  edgeformer import --fairseq edgeformer_lora32_pretrain_checkpoint_250k.pt \\\n"
          "      --dict dict.src.txt --spm spm2k-fy22.model -o edgelm.h5\n");
}

int cmd_import(int argc, char **argv) {
  ef_import_opts o = {0};
  int check = 0;
  o.log = stdout;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      import_usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--check")) {
      check = 1;
      continue;
    }
    const char **dst = !strcmp(a, "--fairseq")                      ? &o.checkpoint
                       : !strcmp(a, "--dict")                       ? &o.dict
                       : !strcmp(a, "--spm")                        ? &o.spm
                       : !strcmp(a, "-o") || !strcmp(a, "--output") ? &o.output
                                                                    : NULL;
    if (!dst) {
      fprintf(stderr, "error: import: unknown option '%s' (see `edgeformer import --help`)\n", a);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "error: import: %s needs a value\n", a);
      return 2;
    }
    *dst = argv[++i];
  }
  if (!o.checkpoint || !o.dict || (!o.output && !check)) {
    fprintf(stderr, "error: import: --fairseq, --dict and -o (or --check) are required (see "
                    "`edgeformer import --help`)\n");
    return 2;
  }
  if (check) o.output = NULL;
  char err[IMPORT_ERR_BYTES];
  if (ef_fairseq_import(&o, NULL, err, sizeof err)) {
    fflush(stdout);
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  return 0;
}
