/*
 * nosym: a test plug-in that is a valid shared object but exports no mw_model_entry, only a
 * look-alike name; the host must refuse it with the missing symbol's name.
 */
#include "modelwrap/model.h"

/* Exported under the wrong name on purpose: returns NULL. */
const struct mw_model_desc *mw_model_entry_v0(void);
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry_v0(void)
{
    return 0;
}
