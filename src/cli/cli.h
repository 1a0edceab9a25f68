/*
 * cli: the subcommands that live in the library so tests can reach them (main.c dispatches), and
 * the translation of KServe's command-line conventions into modelwrap's settings.
 */
#ifndef MW_CLI_H
#define MW_CLI_H

#include "config/config.h"
#include "model/model.h"

/*
 * Rewrites, in place, KServe's model-server flags into modelwrap's: --model_name -> --model-name,
 * --model_dir -> --model-dir, --http_port -> --port (each alone or as "--flag=value"). Only these
 * three: any other underscore spelling stays an unknown flag, so a typo is still an error.
 * argv[1..argc) may be changed; nothing is allocated. Main thread, before config_load.
 */
void cli_kserve_args(int argc, char **argv);

/*
 * Opens the models cfg asks for: the one model folder MODELWRAP_MODEL_DIR (served under
 * MODELWRAP_MODEL_NAME when set) or the repository MODELWRAP_MODELS, with defaults and pool (NULL:
 * none) as registry_open takes them. NULL with e on a problem, also when MODELWRAP_MODEL_NAME is set
 * without a model folder or MODELWRAP_DEFAULT_MODEL names another model than the folder's.
 * Main thread.
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

#endif
