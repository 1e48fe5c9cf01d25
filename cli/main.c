/* edgeformer: the command-line entry point. Dispatches to the subcommands of
 * cli/commands.h; it must never do a command's work itself. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static const ef_command commands[] = {EF_COMMANDS};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *f) {
  fprintf(f, "usage: edgeformer <command> [options]\n\ncommands:\n");
  for (int i = 0; i < n_commands; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nRun `edgeformer <command> --help` for a command's options.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < n_commands; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "error: unknown command '%s' (run `edgeformer --help`)\n", argv[1]);
  return 2;
}
