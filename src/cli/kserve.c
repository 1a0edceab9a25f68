/*
 * KServe's model-server conventions (--model_name, --model_dir, --http_port, as a
 * ClusterServingRuntime passes them) mapped onto modelwrap's settings, and the choice between a
 * repository and a single model folder.
 */
#include <string.h>

#include "cli/cli.h"

/* KServe's spelling -> modelwrap's flag. */
static const struct {
    const char *kserve;
    const char *ours;
} renames[] = {
    {"--model_name", "--model-name"},
    {"--model_dir", "--model-dir"},
    {"--http_port", "--port"},
};

void cli_kserve_args(int argc, char **argv)
{
    for (int i = 1; i < argc && argv[i] != NULL; i++) {
        char *a = argv[i];
        for (size_t k = 0; k < MW_ARRAY_LEN(renames); k++) {
            size_t kl = strlen(renames[k].kserve), ol = strlen(renames[k].ours);
            if (strncmp(a, renames[k].kserve, kl) != 0 || (a[kl] != '\0' && a[kl] != '='))
                continue;
            /* ours is never longer than KServe's spelling: the rewrite fits where it is */
            memcpy(a, renames[k].ours, ol);
            memmove(a + ol, a + kl, strlen(a + kl) + 1);
            break;
        }
    }
}

void cli_model_defaults(const struct config *cfg, struct model_opts *o)
{
    o->workers = cfg->model_workers;
    o->queue_size = cfg->model_queue_size;
    o->timeout_ms = cfg->model_timeout_ms;
    o->max_records = cfg->max_records;
}

struct registry *cli_open_models(const struct config *cfg, const struct model_opts *defaults,
                                 struct model_pool *pool, struct mw_error *e)
{
    struct repo_opts o = {cfg->models_dir, cfg->default_model, defaults, pool};

    if (cfg->model_dir == NULL) {
        if (cfg->model_name != NULL) {
            mw_fail(
                e, MWE_CONFIG,
                "MODELWRAP_MODEL_NAME: names the model of MODELWRAP_MODEL_DIR, which is not set");
            return NULL;
        }
        return registry_open(&o, e);
    }
    if (cfg->model_name != NULL && cfg->default_model != NULL &&
        strcmp(cfg->model_name, cfg->default_model) != 0) {
        mw_fail(e, MWE_CONFIG,
                "MODELWRAP_DEFAULT_MODEL: '%.64s' but MODELWRAP_MODEL_DIR serves one model, "
                "'%.64s' (MODELWRAP_MODEL_NAME): leave MODELWRAP_DEFAULT_MODEL unset",
                cfg->default_model, cfg->model_name);
        return NULL;
    }
    o.dir = cfg->model_dir;
    return registry_open_folder(&o, cfg->model_name, e);
}
