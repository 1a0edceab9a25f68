/*
 * badsig: a test plug-in that declares two inputs with the same name ("x") and ignores the host's
 * refusal; the host must refuse the plug-in even though its init returns MW_OK.
 */
#include "modelwrap/model.h"

static int badsig_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    (void)state;
    (void)host;
    (void)call;
    return MW_ERR_INTERNAL;
}

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    const struct mw_model model = {.size = sizeof(model), .name = "badsig", .run = badsig_run};

    MW_PLUGIN_CHECK_IN(host, p);
    (void)host->add_input(p, "x", MW_FP32, 2, (const int64_t[]){-1, 2});
    (void)host->add_input(p, "x", MW_FP32, 2, (const int64_t[]){-1, 3});
    (void)host->add_output(p, "y", MW_FP32, 2, (const int64_t[]){-1, 2});
    return host->set_model(p, &model);
}
