/*
 * @NAME@: a modelwrap model plug-in (ABI 2), built against the public header only (include/ here
 * is a copy of the one the modelwrap that wrote this folder was built with). It scores each record
 * with a linear function: score = 0.5 * x1 - 0.25 * x2 + 2 * x3 + bias, where bias is model.json's
 * "config": {"bias": ...} (default 1). Replace run() with your model; mw_plugin_init reads what
 * your model needs (host->model_dir, host->config_*), declares the signature and registers it.
 * Build (from this folder):  cc -std=c11 -O2 -Wall -shared -fPIC -Iinclude -o model.so model.c
 */
#include <stdlib.h>

#include "modelwrap/model.h"

struct model {
    float weights[3];
    float bias;
};

/* The host validated the input against the signature: one FP32 [n, 3] tensor. */
static int model_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    const struct model *m = state;
    struct mw_tensor_info in = {.size = sizeof(in)};
    const float *x;
    float *score;
    int64_t n;

    if (host->input(call, 0, &in) != MW_OK) {
        host->set_error(call, "expected one input tensor");
        return MW_ERR_INVALID_INPUT;
    }
    x = in.data;
    n = in.shape[0];
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

/* The one exported symbol: modelwrap calls it once after dlopen(), with its table of services. */
__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    static const char *const feature_names[] = {"x1", "x2", "x3"};
    struct mw_model desc = {
        .size = sizeof(desc),
        .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
        .name = "@NAME@",
        .version = "1",
        .run = model_run,
        .free = model_free,
    };
    struct model *m;
    double bias = 1.0;

    MW_PLUGIN_CHECK_IN(host, p);
    if (host->config_number(p, "bias", &bias) == MW_ERR_TYPE)
        return host->fail(p, "config.bias: expected a number");
    /* Dimension 0 is the batch: one row per record of the request. */
    if (host->add_input(p, "features", MW_FP32, 2, (const int64_t[]){-1, 3}) != MW_OK ||
        host->set_names(p, 3, feature_names) != MW_OK ||
        host->add_output(p, "score", MW_FP32, 1, (const int64_t[]){-1}) != MW_OK)
        return MW_ERR_INTERNAL; /* the host has set the message */
    m = malloc(sizeof(*m));
    if (m == NULL)
        return host->fail(p, "out of memory");
    *m = (struct model){.weights = {0.5f, -0.25f, 2.0f}, .bias = (float)bias};
    desc.state = m;
    if (host->set_model(p, &desc) != MW_OK) {
        free(m);
        return MW_ERR_INTERNAL;
    }
    host->log(NULL, MW_LOG_INFO, "linear scorer loaded (bias %g)", bias);
    return MW_OK;
}
