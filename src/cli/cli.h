/*
 * Subcommands of the command line that live in the library (so that tests can link them):
 * `modelwrap init KIND NAME` and the model folders it writes.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

#include <stddef.h>

/* One file of a scaffold: written to NAME/path for `modelwrap init kind NAME`. The bytes are
 * embedded at build time from scaffold/<kind>/<path> (scripts/embed-files.cmake); "@NAME@" in
 * them is replaced by the model's name. Static, read-only. */
struct scaffold_file {
    const char *kind;
    const char *path;
    const unsigned char *data;
    size_t len;
};

extern const struct scaffold_file scaffold_files[];
extern const size_t scaffold_n_files;

/* `modelwrap init KIND NAME [--dir PARENT]`: writes the model folder PARENT/NAME (PARENT
 * defaults to the current directory) from the scaffold of KIND (python, sklearn, plugin) and
 * prints the next steps on stdout. Refuses a NAME that is not a safe folder and model name and
 * a folder that already exists; on a failure part-way it removes what it wrote. argv[first] is
 * KIND. Returns the process exit status: 0, or 2 with a message on stderr. Main thread. */
int cli_init(int argc, char **argv, int first);

#endif
