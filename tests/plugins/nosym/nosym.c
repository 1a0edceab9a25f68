/*
 * nosym: a test plug-in that is a valid shared object but exports no mw_plugin_init, only a
 * look-alike name; the host must refuse it with the missing symbol's name.
 */
#include "modelwrap/model.h"

/* Exported under the wrong name on purpose. */
__attribute__((visibility("default"))) int mw_plugin_init_v0(const struct mw_host *host,
                                                             struct mw_plugin *p)
{
    (void)host;
    (void)p;
    return MW_ERR_INTERNAL;
}
