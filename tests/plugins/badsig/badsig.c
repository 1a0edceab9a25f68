/*
 * badsig: a test plug-in whose descriptor declares two inputs with the same name ("x"); the host
 * must refuse it while checking the signature, before calling load().
 */
#include "modelwrap/model.h"

static const struct mw_tensor_spec inputs[] = {
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}},
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}},
};
static const struct mw_tensor_spec outputs[] = {
    {.name = "y", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}},
};

static int badsig_load(const struct mw_host *host, const char *dir, const char *config_json,
                       void **state)
{
    *state = 0;
    return MW_OK;
}

static int badsig_run(void *state, const struct mw_host *host, struct mw_call *call,
                      const struct mw_tensor *in, size_t n_in)
{
    return MW_ERR_INTERNAL;
}

static void badsig_free(void *state)
{
}

static const struct mw_model_desc badsig_desc = {
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
    .name = "badsig",
    .version = "1.0.0",
    .n_inputs = 2,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .load = badsig_load,
    .run = badsig_run,
    .free = badsig_free,
};

/* Exported entry: returns the descriptor with duplicate input names; never fails. */
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &badsig_desc;
}
