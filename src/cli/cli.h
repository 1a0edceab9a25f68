/*
 * cli: the subcommands that live in the library (compliance, sbom, audit report, init) so that
 * tests and fuzzers reach them; src/cli/main.c dispatches to them. `modelwrap init KIND NAME`
 * writes a model folder from the scaffolds embedded at build time.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Removes "--NAME VALUE" / "--NAME=VALUE" from argv[first..argc) (in place, order kept) and
 * returns VALUE (borrowed from argv), or NULL when absent; *argc shrinks. A "--NAME" without a
 * value sets *missing. Main thread. */
const char *cli_take_option(int *argc, char **argv, int first, const char *name, bool *missing);

/* `modelwrap compliance [--format text|json] [--flag value ...]`: exit status 0 when every
 * applicable item is met, 1 when one is not, 2 for a bad configuration. */
int cli_compliance(int argc, char **argv, int first, char **envp);
/* `modelwrap sbom [--check TRACKER.json] [--release NAME] [--flag value ...]`: 0, 1 when
 * --check finds an open vulnerability, 2 on errors. */
int cli_sbom(int argc, char **argv, int first, char **envp);
/* `modelwrap audit report [--since DURATION] [--until DATE] [--format text|json|csv]
 * [--business-hours SPEC] [--timezone TZ] [--large-bytes N] [--large-records N] FILE...`
 * (defaults: the MODELWRAP_AUDIT_* settings of the environment and .env): 0, or 2 on errors. */
int cli_audit(int argc, char **argv, int first, char **envp);


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

#endif /* MW_CLI_H */
