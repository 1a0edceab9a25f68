/*
 * badabi: a test plug-in that checks in with ABI major 3, which this host does not speak.
 * Everything else it would declare is valid, so the host must refuse it for the major alone.
 */
#include "modelwrap/model.h"

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    int rc = host->check_in(p, MW_ABI_MAJOR + 1, 0, (uint32_t)sizeof(*host));

    if (rc != MW_OK)
        return rc;
    /* Reached only by a host that wrongly accepted the major. */
    return host->add_input(p, "x", MW_FP32, 2, (const int64_t[]){-1, 2});
}
