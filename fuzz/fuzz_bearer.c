/*
 * libFuzzer target for the Authorization header split (auth_parse_authorization): arbitrary bytes
 * as the header value, passed as a slice exactly as long as the input. The result is either no
 * credential (empty value), a bad header, or a bearer token that is a non-empty slice of the value
 * without blanks, after "Bearer" (any case) and blanks, with only blanks after it; the other
 * credential fields are never touched. Seeds: fuzz/corpus/bearer/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_int.h"

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *h = (const char *)data;
    static const char key[] = "mw_untouched";
    struct auth_creds c;
    size_t start, end, i;

    memset(&c, 0, sizeof(c));
    c.api_key = (struct slice){key, sizeof(key) - 1};
    c.in_query = true;
    auth_parse_authorization((struct slice){size ? h : NULL, size}, &c);
    if (c.api_key.ptr != key || c.api_key.len != sizeof(key) - 1 || !c.in_query ||
        c.transport != NULL)
        abort();
    if (size == 0) {
        if (c.bad_header || c.bearer.len != 0)
            abort();
        return 0;
    }
    if (c.bad_header) {
        if (c.bearer.len != 0)
            abort();
        return 0;
    }
    /* a token: the value is "Bearer" (any case), blanks, the token, optional blanks */
    if (c.bearer.len == 0 || size < 8 || strncasecmp(h, "bearer", 6) != 0 || !blank(h[6]))
        abort();
    start = (size_t)(c.bearer.ptr - h);
    end = start + c.bearer.len;
    if (c.bearer.ptr < h + 7 || end > size)
        abort();
    for (i = 6; i < start; i++)
        if (!blank(h[i]))
            abort();
    for (i = start; i < end; i++)
        if (blank(h[i]))
            abort();
    for (i = end; i < size; i++)
        if (!blank(h[i]))
            abort();
    return 0;
}
