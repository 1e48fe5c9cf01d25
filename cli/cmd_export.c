/* cli/cmd_export.c: `edgeformer export CHECKPOINT -o MODEL.efm [--dtype int8|fp32] [--dict FILE]
 * [--spm FILE]`: writes the device model file. The work is in export/; this file parses the
 * arguments and prints the result line. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "export/export.h"
#include "runtime/efm.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: edgeformer export CHECKPOINT -o MODEL.efm [--dtype int8|fp32] [--dict FILE]\n"
          "                         [--spm FILE]\n"
          "       edgeformer export --verify MODEL.efm\n"
          "\n"
          "Writes a training checkpoint as an .efm file for edgeformer-run and the C API\n"
          "(docs/efm.md, docs/device.md): the model (linear-layer weights int8 with one scale per\n"
          "row by default, or all fp32), the SentencePiece model and the dictionary.\n"
          "  -o, --output FILE  the .efm file to write (replaced atomically)\n"
          "  --dtype int8|fp32  weight format (default int8)\n"
          "  --dict FILE        fairseq dictionary (default: dict.<source_lang>.txt in the\n"
          "                     checkpoint's [data] data folder)\n"
          "  --spm FILE         SentencePiece model (default: spm.model in that folder)\n"
          "  --verify FILE      only load FILE with the device runtime's reader and summarise it\n"
          "The written file is always read back with the device runtime's reader.\n");
}

/* Loads path with the runtime's reader (CRC, every offset, rt_model_check, tokenizer) and prints
 * one summary line. */
static int verify(const char *path) {
  char err[1024];
  rt_efm *f = NULL;
  if (rt_efm_open(path, &f, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  const rt_model *m = rt_efm_model(f);
  int n_i8 = 0;
  for (int t = 0; t < m->n_tensors; t++) n_i8 += m->tensors[t].dtype == RT_I8;
  const rt_config *c = &m->cfg;
  printf("verified %s: %llu bytes, %d+%d layers, d=%d, V=%d, %d tensors (%d int8), %d attention "
         "and %d FFN blocks, SentencePiece vocabulary %d\n",
         path, (unsigned long long)rt_efm_file_size(f), c->encoder_layers, c->decoder_layers,
         c->embed_dim, c->vocab_size, m->n_tensors, n_i8, m->n_attn, m->n_ffn,
         rt_spm_vocab_size(rt_efm_spm(f)));
  rt_efm_close(f);
  return 0;
}

int cmd_export(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--verify")) return verify(argv[2]);
  ef_export_opts o = {0};
  o.dtype = EF_EFM_INT8;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    int has_value = i + 1 < argc;
    if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_value) {
      o.out = argv[++i];
    } else if (!strcmp(a, "--dict") && has_value) {
      o.dict = argv[++i];
    } else if (!strcmp(a, "--spm") && has_value) {
      o.spm = argv[++i];
    } else if (!strcmp(a, "--dtype") && has_value) {
      const char *v = argv[++i];
      if (!strcmp(v, "int8"))
        o.dtype = EF_EFM_INT8;
      else if (!strcmp(v, "fp32"))
        o.dtype = EF_EFM_FP32;
      else {
        fprintf(stderr, "error: --dtype %s: expected int8 or fp32\n", v);
        return 2;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "error: unknown option '%s'%s (run `edgeformer export --help`)\n", a,
              has_value ? "" : " or missing value");
      return 2;
    } else if (!o.checkpoint) {
      o.checkpoint = a;
    } else {
      fprintf(stderr, "error: unexpected argument '%s' (one checkpoint per export)\n", a);
      return 2;
    }
  }
  if (!o.checkpoint || !o.out) {
    if (argc < 2)
      usage(stderr);
    else
      fprintf(stderr, "error: %s (run `edgeformer export --help`)\n",
              o.checkpoint ? "-o MODEL.efm is required" : "no checkpoint given");
    return 2;
  }
  char err[1536];
  ef_export_result r;
  if (ef_export_checkpoint(&o, &r, err, sizeof err)) {
    fprintf(stderr, "error: %s\n", err);
    return 1;
  }
  printf("wrote %s: %llu bytes (%s; %d tensors, %d int8; %lld weights; dict %s, spm %s)\n", o.out,
         (unsigned long long)r.stats.file_bytes, o.dtype == EF_EFM_INT8 ? "int8" : "fp32",
         r.stats.n_tensors, r.stats.n_int8, (long long)r.stats.n_values, r.dict, r.spm);
  if (r.dict_not_in_spm)
    printf("note: %d dictionary symbols are not SentencePiece pieces (e.g. madeupword padding): "
           "no text maps to them\n",
           r.dict_not_in_spm);
  return verify(o.out);
}
