/*
 * libFuzzer target for the strict Content-Length parser (http_parse_content_length): the input,
 * cut at its first NUL as libmicrohttpd hands header values over, must be accepted exactly when
 * it is one or more ASCII digits whose value is at most UINT64_MAX - 6, and then with that value
 * (checked against a second, independent decimal conversion). Seeds: fuzz/corpus/content_length/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a wrong verdict
 * aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size + 1);
    uint64_t got = 12345, want = 0;
    bool bad = true, ok, digits = true, fits = true;
    size_t n;

    if (v == NULL)
        abort();
    memcpy(v, data, size);
    v[size] = '\0';
    n = strlen(v);
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)v[i] - '0';
        if (d > 9) {
            digits = false;
            break;
        }
        if (want > (UINT64_MAX - 6 - d) / 10)
            fits = false;
        else
            want = want * 10 + d;
    }
    ok = http_parse_content_length(v, &got, &bad);
    if (n > 0 && digits && fits) {
        if (!ok || bad || got != want)
            abort();
    } else if (ok || !bad || got != 12345) {
        abort();
    }
    /* an absent header is neither a value nor malformed */
    bad = true;
    if (http_parse_content_length(NULL, &got, &bad) || bad)
        abort();
    free(v);
    return 0;
}
