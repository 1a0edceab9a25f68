/* minimal: the smallest useful modelwrap plug-in (ABI 2). y = scale * x on FP64 [-1], with
 * "scale" from model.json's "config" (default 2). Build: cc -shared -fPIC -I include minimal.c */
#include <stdlib.h>

#include "modelwrap/model.h"

static int run(void *state, const struct mw_host *host, struct mw_call *call)
{
    struct mw_tensor_info x = {.size = sizeof(x)};
    double *y, scale = *(const double *)state;

    if (host->input(call, 0, &x) != MW_OK)
        return MW_ERR_INTERNAL;
    y = host->output(call, 0, 1, x.shape);
    if (y == NULL)
        return MW_ERR_NOMEM;
    for (size_t i = 0; i < x.count; i++)
        y[i] = scale * ((const double *)x.data)[i];
    return MW_OK;
}

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    const int64_t shape[] = {-1};
    struct mw_model model = {.size = sizeof(model), .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
                             .name = "minimal", .version = "1.0", .run = run, .free = free};
    double *scale;

    MW_PLUGIN_CHECK_IN(host, p);
    if (host->add_input(p, "x", MW_FP64, 1, shape) || host->add_output(p, "y", MW_FP64, 1, shape))
        return MW_ERR_INTERNAL;
    scale = malloc(sizeof(*scale));
    if (scale == NULL)
        return host->fail(p, "out of memory");
    *scale = 2.0;
    if (host->config_number(p, "scale", scale) == MW_ERR_TYPE) {
        free(scale);
        return host->fail(p, "config.scale: expected a number");
    }
    model.state = scale;
    if (host->set_model(p, &model) != MW_OK) {
        free(scale);
        return MW_ERR_INTERNAL;
    }
    return MW_OK;
}
