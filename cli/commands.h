/* The subcommands of `edgeformer`. Each lives in cli/cmd_<name>.c and is listed in
 * EF_COMMANDS below; main.c dispatches on argv[1]. A command returns the process exit
 * status: 0 on success, 1 on a user-facing error (after printing one line to stderr),
 * 2 on a usage error. */
#ifndef EF_CLI_COMMANDS_H
#define EF_CLI_COMMANDS_H

typedef struct ef_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} ef_command;

int cmd_average(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_translate(int argc, char **argv);

#define EF_COMMANDS                                                                    \
  {"average", "average the parameters of several checkpoints (fairseq average_checkpoints)", \
   cmd_average},                                                                       \
  {"demo", "fit a small Transformer block with the autograd engine, print the loss",    \
   cmd_demo},                                                                          \
  {"export", "write a checkpoint as an .efm device model (int8 or fp32, tokenizer inside)",   \
   cmd_export},                                                                        \
  {"generate", "beam search over a prepared split, fairseq-generate lines, BLEU and chrF",  \
   cmd_generate},                                                                      \
  {"import", "import a fairseq checkpoint (EdgeLM .pt) as an HDF5 checkpoint",               \
   cmd_import},                                                                        \
  {"info", "sharing table, unique parameters and multiply-adds of a model config",          \
   cmd_info},                                                                          \
  {"prepare", "binarise aligned text into HDF5 datasets (like fairseq-preprocess)",       \
   cmd_prepare},                                                                       \
  {"score", "BLEU/chrF (sacreBLEU-compatible) or ROUGE of a hypothesis file vs references", \
   cmd_score},                                                                         \
  {"tokenize", "SentencePiece-encode (or --decode) stdin to stdout, one line per line",   \
   cmd_tokenize},                                                                      \
  {"train", "train or fine-tune a model (fairseq-train habits, HDF5 checkpoints)",         \
   cmd_train},                                                                         \
  {"translate", "translate stdin lines to stdout with a checkpoint (beam search)",          \
   cmd_translate},

#endif
