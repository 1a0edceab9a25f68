/*
 * oldhost: a test plug-in as if built against an older ABI 2 header, whose struct mw_host ended
 * before request_id and whose struct mw_tensor_info and struct mw_model had fewer members. It
 * declares those shorter layouts itself (checked below to be prefixes of the current ones), checks
 * in with their size, and passes its shorter sized structs to the host, which must neither write
 * past them (a canary follows the tensor info) nor read past them (no free() member: the host must
 * not call one). y = x + 1 on FP32 [-1]; any breach makes run() fail.
 */
#include <string.h>

#include "modelwrap/model.h"

struct old_tensor_info {
    uint32_t size;
    int32_t dtype;
    int32_t ndim;
    const int64_t *shape;
    const void *data;
};

struct old_model {
    uint32_t size;
    uint32_t flags;
    const char *name;
    const char *version;
    void *state;
    int (*run)(void *state, const struct mw_host *host, struct mw_call *call);
};

/* The old table: the current one up to and including is_cancelled's predecessor, deadline_ns. */
#define OLD_HOST_SIZE (offsetof(struct mw_host, deadline_ns) + sizeof(void (*)(void)))

_Static_assert(offsetof(struct old_tensor_info, data) == offsetof(struct mw_tensor_info, data),
               "the old tensor info must be a prefix of the current one");
_Static_assert(offsetof(struct old_model, run) == offsetof(struct mw_model, run),
               "the old model must be a prefix of the current one");

#define CANARY 0x5a5a5a5a5a5a5a5aULL

static int old_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    struct {
        struct old_tensor_info info;
        uint64_t canary[4];
    } x;
    float *y;
    size_t count = 1;

    (void)state;
    memset(&x, 0, sizeof(x));
    x.info.size = sizeof(x.info);
    for (size_t i = 0; i < 4; i++)
        x.canary[i] = CANARY;
    if (host->input(call, 0, (struct mw_tensor_info *)(void *)&x.info) != MW_OK)
        return MW_ERR_INTERNAL;
    for (size_t i = 0; i < 4; i++) {
        if (x.canary[i] != CANARY) {
            host->set_error(call, "the host wrote past the tensor info's size");
            return MW_ERR_INTERNAL;
        }
    }
    for (int32_t d = 0; d < x.info.ndim; d++)
        count *= (size_t)x.info.shape[d];
    y = host->output(call, 0, x.info.ndim, x.info.shape);
    if (y == NULL)
        return MW_ERR_NOMEM;
    for (size_t i = 0; i < count; i++)
        y[i] = ((const float *)x.info.data)[i] + 1.0f;
    /* A member the old header did not have is used only when the host has it. */
    if (MW_HOST_HAS(host, is_cancelled) && host->is_cancelled(call))
        return MW_ERR_INTERNAL;
    return MW_OK;
}

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    static const struct old_model model = {.size = sizeof(model),
                                           .flags = MW_FLAG_THREAD_SAFE,
                                           .name = "oldhost",
                                           .version = "2.0-old",
                                           .run = old_run};
    int rc = host->check_in(p, MW_ABI_MAJOR, 0, (uint32_t)OLD_HOST_SIZE);

    if (rc != MW_OK)
        return rc;
    if (host->add_input(p, "x", MW_FP32, 1, (const int64_t[]){-1}) != MW_OK ||
        host->add_output(p, "y", MW_FP32, 1, (const int64_t[]){-1}) != MW_OK)
        return MW_ERR_INTERNAL;
    return host->set_model(p, (const struct mw_model *)(const void *)&model);
}
