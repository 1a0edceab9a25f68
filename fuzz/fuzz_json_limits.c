/*
 * libFuzzer target for mw_json_limits_check, the byte scan every JSON body meets before jansson:
 * the first two bytes pick a depth limit (1-16) and an element limit (1-256), the rest is the
 * body, checked against those limits and against the defaults (32, 1000000). Whenever jansson
 * parses the body as production does, the scan's verdict must be exact: it passes if and only if
 * the parsed tree nests at most the depth limit and holds at most the element limit (containers,
 * scalars and object member values, keys not counted). Seeds: fuzz/corpus/json_limits/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* Depth (a container is one level) and values of a parsed tree. */
static void measure(const json_t *v, unsigned level, unsigned *depth, unsigned long long *count)
{
    const char *key;
    json_t *item;
    size_t i;

    (*count)++;
    if (!json_is_array(v) && !json_is_object(v))
        return;
    if (level + 1 > *depth)
        *depth = level + 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
            measure(item, level + 1, depth, count);
    } else {
        json_object_foreach((json_t *)v, key, item)
            measure(item, level + 1, depth, count);
    }
}

static void check(const char *body, size_t len, const json_t *tree, unsigned max_depth,
                  unsigned max_elements)
{
    struct config cfg;
    struct mw_error e;
    unsigned depth = 0;
    unsigned long long count = 0;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    cfg.max_json_depth = max_depth;
    cfg.max_json_elements = max_elements;
    memset(&e, 0, sizeof(e));
    rc = mw_json_limits_check(body, len, &cfg, &e);
    if (rc != 0 && (rc != MWE_INVALID_JSON || e.code != rc || e.msg[0] == '\0'))
        abort();
    if (tree == NULL)
        return;
    measure(tree, 0, &depth, &count);
    if ((rc == 0) != (depth <= max_depth && count <= max_elements))
        abort();
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a wrong verdict
 * aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    const char *body;
    json_t *tree;
    size_t len;

    if (size < 2)
        return 0;
    body = (const char *)data + 2;
    len = size - 2;
    /* the parse of api_h_predict and the V2 decoder: objects and arrays only, no duplicates */
    tree = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    check(body, len, tree, 1u + data[0] % 16u, 1u + data[1]);
    check(body, len, tree, 32, 1000000);
    json_decref(tree);
    return 0;
}
