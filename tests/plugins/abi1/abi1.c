/*
 * abi1: a test plug-in shaped like one built for ABI 1 (it exports mw_model_entry, not
 * mw_plugin_init); the host must refuse it, naming both majors, without calling it.
 */
#include "modelwrap/model.h"

/* Never called: the host recognises the symbol only by its name. */
__attribute__((visibility("default"))) const void *mw_model_entry(void)
{
    return 0;
}
