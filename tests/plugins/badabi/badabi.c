/*
 * badabi: a test plug-in whose descriptor claims ABI major 2, which this host does not speak.
 * Everything else is valid, so the host must refuse it for the major version alone.
 */
#include "modelwrap/model.h"

static const struct mw_tensor_spec specs[] = {
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}},
};

static int badabi_load(const struct mw_host *host, const char *dir, const char *config_json,
                       void **state)
{
    *state = 0;
    return MW_OK;
}

static int badabi_run(void *state, const struct mw_host *host, struct mw_call *call,
                      const struct mw_tensor *in, size_t n_in)
{
    return MW_ERR_INTERNAL;
}

static void badabi_free(void *state)
{
}

static const struct mw_model_desc badabi_desc = {
    .abi_major = MW_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
    .name = "badabi",
    .version = "2.0.0",
    .n_inputs = 1,
    .inputs = specs,
    .n_outputs = 1,
    .outputs = specs,
    .load = badabi_load,
    .run = badabi_run,
    .free = badabi_free,
};

/* Exported entry: returns the descriptor with the wrong major; never fails. */
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &badabi_desc;
}
