/*
 * libFuzzer target for model.json (model_json_parse: what model_load reads before the backend
 * runs: name, version, backend, options, dynamic batching, signature). The first byte picks the
 * flat layout (folder "iris") or the versioned one (model "iris" version "3"); the rest is the
 * file. A refusal is MWE_CONFIG (or MWE_NOMEM) with a message; no
 * input leaks (LeakSanitizer) or runs a backend. Seeds: fuzz/corpus/model_json/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mw_error e;
    bool versioned;
    int rc;

    if (size < 1 || size - 1 > MODEL_JSON_MAX)
        return 0;
    versioned = data[0] & 1;
    memset(&e, 0, sizeof(e));
    rc = model_json_parse((const char *)data + 1, size - 1,
                          versioned ? "/srv/models/iris/3" : "/srv/models/iris",
                          versioned ? "iris" : NULL, versioned ? "3" : NULL, &e);
    if (rc != 0 && ((rc != MWE_CONFIG && rc != MWE_NOMEM) || e.code != rc || e.msg[0] == '\0' ||
                    strlen(e.msg) >= sizeof(e.msg)))
        abort();
    return 0;
}
