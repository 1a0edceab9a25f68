/*
 * @NAME@: a modelwrap model plug-in, built against the public header only (include/ here is a
 * copy of the one the modelwrap that wrote this folder was built with). It scores each record
 * with a fixed linear function: score = 0.5 * x1 - 0.25 * x2 + 2 * x3 + 1. Replace run() with
 * your model; load() reads whatever your model needs from this folder.
 * Build (from this folder):  cc -std=c11 -O2 -Wall -shared -fPIC -Iinclude -o model.so model.c
 */
#include <stdlib.h>

#include "modelwrap/model.h"

static const char *const feature_names[] = {"x1", "x2", "x3"};

/* Dimension 0 is the batch: one row per record of the request. */
static const struct mw_tensor_spec inputs[] = {
    {.name = "features", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}, .n_names = 3,
     .names = feature_names},
};
static const struct mw_tensor_spec outputs[] = {
    {.name = "score", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},
};

struct model {
    float weights[3];
    float bias;
};

static int model_load(const struct mw_host *host, const char *dir, const char *config_json,
                      void **state)
{
    struct model *m = malloc(sizeof(*m));
    (void)dir;
    (void)config_json;
    if (m == NULL)
        return MW_ERR_NOMEM;
    *m = (struct model){.weights = {0.5f, -0.25f, 2.0f}, .bias = 1.0f};
    host->log(NULL, MW_LOG_INFO, "linear scorer loaded");
    *state = m;
    return MW_OK;
}

/* The host validated the inputs against the signature: one FP32 [n, 3] tensor. */
static int model_run(void *state, const struct mw_host *host, struct mw_call *call,
                     const struct mw_tensor *in, size_t n_in)
{
    const struct model *m = state;
    const float *x = in[0].data;
    int64_t n = in[0].shape[0];
    float *score;

    if (n_in != 1) {
        host->set_error(call, "expected one input tensor");
        return MW_ERR_INVALID_INPUT;
    }
    score = host->output(call, 0, 1, &n);
    if (score == NULL)
        return MW_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        const float *row = x + i * 3;
        score[i] = m->bias + m->weights[0] * row[0] + m->weights[1] * row[1] +
                   m->weights[2] * row[2];
    }
    return MW_OK;
}

static void model_free(void *state)
{
    free(state);
}

static const struct mw_model_desc desc = {
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
    .name = "@NAME@",
    .version = "1",
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .load = model_load,
    .run = model_run,
    .free = model_free,
};

/* The one exported symbol: modelwrap calls it once after dlopen(). */
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &desc;
}
