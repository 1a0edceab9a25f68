/*
 * cli: the subcommands that live in the library (compliance, sbom, audit report, init,
 * test-model) so that tests and fuzzers reach them, and the translation of KServe's
 * command-line conventions into modelwrap's settings; src/cli/main.c dispatches to them.
 * `modelwrap init KIND NAME` writes a model folder from the scaffolds embedded at build time.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "model/model.h"

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

/*
 * Rewrites, in place, KServe's model-server flags into modelwrap's: --model_name -> --model-name,
 * --model_dir -> --model-dir, --http_port -> --port (each alone or as "--flag=value"). Only these
 * three: any other underscore spelling stays an unknown flag, so a typo is still an error.
 * argv[1..argc) may be changed; nothing is allocated. Main thread, before config_load.
 */
void cli_kserve_args(int argc, char **argv);

/* The model settings of cfg (workers, queue, timeout, records) as the registry takes them. */
void cli_model_defaults(const struct config *cfg, struct model_opts *o);

/*
 * Opens the models cfg asks for: the one model folder MODELWRAP_MODEL_DIR (served under
 * MODELWRAP_MODEL_NAME when set) or the repository MODELWRAP_MODELS, with defaults and pool (NULL:
 * none) as registry_open takes them. NULL with e on a problem, also when MODELWRAP_MODEL_NAME is
 * set without a model folder or MODELWRAP_DEFAULT_MODEL names another model than the folder's. Main
 * thread.
 */
struct registry *cli_open_models(const struct config *cfg, const struct model_opts *defaults,
                                 struct model_pool *pool, struct mw_error *e);

/*
 * `modelwrap test-model DIR [--reference FILE]`: loads the model folder DIR with its backend, runs
 * every input of its reference.json (or FILE) and compares the outputs with the expected ones
 * within the file's tolerance (docs/deploy.md, "Model tests"). Prints each mismatch and a summary
 * on stdout, problems with the folder or the file on stderr. Returns the exit status: 0 when
 * everything matched, 1 on any mismatch, 2 when the model or the file cannot be used.
 */
int cli_test_model(int argc, char **argv, int first);

#endif /* MW_CLI_H */
