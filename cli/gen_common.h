/* cli/gen_common.h: what `generate` and `translate` share: their command line (a checkpoint,
 * path options, and every [generate] key as `--key value`; boolean keys may stand alone like
 * fairseq's `--quiet`), and opening a checkpoint as a runtime model plus its text codec. */
#ifndef EF_CLI_GEN_COMMON_H
#define EF_CLI_GEN_COMMON_H

#include "eval/codec.h"
#include "eval/generate.h"
#include "model/edgeformer.h"
#include "train/options.h"

typedef struct {
  const char *checkpoint, *data, *subset, *spm, *src_dict, *tgt_dict, *results;
  ef_gen_opts gen;
} gen_cli;

/* Parse argv[1..]; 0 ok, 1 error (printed), 2 usage error (printed), 3 help requested. */
int gen_cli_parse(int argc, char **argv, gen_cli *c, void (*usage)(FILE *));

typedef struct {
  ef_model *model;
  rt_model *rt;
  ef_codec codec;
  ef_train_options to;
  char data[EF_PATH_MAX];
} gen_session;

/* Load the checkpoint, build the runtime model, open the codec (spm + dictionaries from
 * --spm/--src-dict/--tgt-dict or the data folder). Prints the error; 0 or 1. */
int gen_session_open(gen_session *s, const gen_cli *c);
void gen_session_close(gen_session *s);

#endif
