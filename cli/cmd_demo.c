#include <stdio.h>
#include "cli/commands.h"
int cmd_demo(int argc, char **argv) { puts("demo: engine not built yet"); return 0; }
