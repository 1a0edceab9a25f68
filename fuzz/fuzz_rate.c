/*
 * libFuzzer target for rate_parse, the throughput syntax of MODELWRAP_RATE_LIMIT, the API key
 * file's "rate" and `modelwrap keys --rate` ("100/s", "2.5/m", "50000/hour"): the input, cut at
 * its first NUL, either is refused with MWE_CONFIG and leaves the output alone, or gives a
 * positive finite number of requests per second that the same number per second parses back to.
 * Seeds: fuzz/corpus/rate/.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char again[64];
    double r = -1.0, back = -1.0;
    int rc;

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    rc = rate_parse(s, &r);
    if (rc != 0) {
        if (rc != MWE_CONFIG || r != -1.0)
            abort();
    } else {
        if (!isfinite(r) || r <= 0.0)
            abort();
        /* per second, printed in full precision, is the same rate (a subnormal one is left
         * out: strtod reports those as out of range) */
        if (!isnormal(r))
            goto out;
        snprintf(again, sizeof(again), "%.17g/s", r);
        if (rate_parse(again, &back) != 0 || back != r)
            abort();
    }
out:
    free(s);
    return 0;
}
