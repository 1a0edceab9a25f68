#include "cli/cli.h"
int cli_sbom(int argc, char **argv, int first, char **envp) { (void)argc; (void)argv; (void)first; (void)envp; return 2; }
