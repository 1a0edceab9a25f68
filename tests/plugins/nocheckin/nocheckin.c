/*
 * nocheckin: a test plug-in that declares an input without checking in first, then returns the
 * host's refusal; the host must name the call and the missing check-in in the start-up error.
 */
#include "modelwrap/model.h"

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    return host->add_input(p, "x", MW_FP32, 1, (const int64_t[]){-1});
}
