/*
 * JSON request limits, checked before parsing: nesting depth and element count in one pass over
 * the raw bytes, without allocating, so that a hostile body (deep nesting, millions of tiny
 * values) is refused for the price of a byte scan instead of jansson's recursion and allocations.
 */
#include "api/api.h"

/* See api.h. Strings are skipped (escapes included); a value starts at '[', '{' or the first
 * byte of a scalar after '[', '{' (non-empty), ',' or the top level. Counting "1 + commas +
 * non-empty containers" gives the exact number of values of valid JSON, and an upper bound the
 * parser will refuse anyway for invalid JSON. */
int mw_json_limits_check(const char *p, size_t n, const struct config *cfg, struct mw_error *e)
{
    unsigned long long elements = 0;
    unsigned depth = 0;
    bool in_string = false;
    bool escaped = false;
    bool opened = false; /* just after '[' or '{': is the container empty? */
    bool any = false;    /* a non-blank byte was seen (the top-level value) */

    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (!any) {
            any = true;
            elements = 1;
        }
        if (opened) {
            opened = false;
            if (c != ']' && c != '}')
                elements++;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            if (++depth > cfg->max_json_depth)
                return mw_fail(e, MWE_INVALID_JSON,
                               "The JSON body nests deeper than %u levels (MODELWRAP_MAX_JSON_DEPTH).",
                               cfg->max_json_depth);
            opened = true;
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        case ',':
            elements++;
            break;
        default:
            break;
        }
        if (elements > cfg->max_json_elements)
            return mw_fail(e, MWE_INVALID_JSON,
                           "The JSON body holds more than %u values (MODELWRAP_MAX_JSON_ELEMENTS).",
                           cfg->max_json_elements);
    }
    return 0;
}
