/*
 * libFuzzer target for the W3C Trace Context validators (src/api/trace.c): the input up to the
 * first newline is a traceparent, the rest a tracestate. A traceparent is checked against an
 * independent reference; an accepted tracestate must hold only printable ASCII and blanks, fit the
 * bounds and keep being accepted member by member. Seed corpus: fuzz/corpus/traceparent/.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* The traceparent rule written another way: a 55-byte template. */
static bool reference_traceparent(const uint8_t *s, size_t n)
{
    static const char shape[] = "00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx-xx";
    bool trace_nonzero = false, parent_nonzero = false;

    if (n != sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] != 'x') {
            if (s[i] != (uint8_t)shape[i])
                return false;
            continue;
        }
        if (!strchr("0123456789abcdef", s[i]) || s[i] == 0)
            return false;
        if (s[i] != '0' && i >= 3 && i < 35)
            trace_nonzero = true;
        if (s[i] != '0' && i >= 36 && i < 52)
            parent_nonzero = true;
    }
    return trace_nonzero && parent_nonzero;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t tp_len = nl != NULL ? (size_t)(nl - data) : size;
    const uint8_t *st = nl != NULL ? nl + 1 : data + size;
    size_t st_len = size - (size_t)(st - data);
    /* Exact-size heap copies: ASan catches any read past len. */
    char *tp = malloc(tp_len ? tp_len : 1);
    char *ts = malloc(st_len ? st_len : 1);

    if (tp == NULL || ts == NULL)
        abort();
    memcpy(tp, data, tp_len);
    memcpy(ts, st, st_len);
    if (api_traceparent_valid(tp, tp_len) != reference_traceparent((const uint8_t *)tp, tp_len))
        abort();
    if (api_tracestate_valid(ts, st_len)) {
        size_t members = 0, start = 0;
        if (st_len > API_TRACESTATE_MAX)
            abort();
        for (size_t i = 0; i <= st_len; i++) {
            if (i < st_len && ts[i] != ',') {
                unsigned char c = (unsigned char)ts[i];
                if ((c < 0x20 && c != '\t') || c > 0x7e)
                    abort();
                continue;
            }
            /* each member alone is a valid tracestate too */
            if (!api_tracestate_valid(ts + start, i - start))
                abort();
            if (memchr(ts + start, '=', i - start) != NULL)
                members++;
            start = i + 1;
        }
        if (members > API_TRACESTATE_MAX_MEMBERS)
            abort();
    }
    free(tp);
    free(ts);
    return 0;
}
