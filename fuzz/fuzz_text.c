/*
 * libFuzzer target for the shared text rules of src/core/text.c: arbitrary bytes -> mw_utf8_len /
 * mw_utf8_valid (checked against an independent decoder: code point ranges instead of byte
 * ranges), mw_media_type_is (the Content-Type of every request body) and mw_list_next (items are
 * non-empty, inside the list, free of separators). Seed corpus: fuzz/corpus/text/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"

/* RFC 3629 by decoding: the length of the sequence at s, or 0. */
static size_t ref_len(const uint8_t *s, size_t len)
{
    size_t n, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0) {
        n = 2;
        cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        n = 3;
        cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
        return 0; /* overlong */
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool valid = true;
    size_t i = 0;
    char *list;
    const char *p;
    struct slice item;
    struct slice ct = {(const char *)data, size};

    while (i < size) {
        size_t n = mw_utf8_len(data + i, size - i);
        if (n != ref_len(data + i, size - i) || n > size - i)
            abort();
        if (n == 0) {
            valid = false;
            break;
        }
        i += n;
    }
    if (mw_utf8_valid(data, size) != valid)
        abort();

    if (mw_media_type_is(ct, "application/json")) {
        if (size < 16 || strncasecmp((const char *)data, "application/json", 16) != 0)
            abort();
        for (i = 16; i < size && data[i] != ';'; i++)
            if (data[i] != ' ' && data[i] != '\t')
                abort();
    }

    list = malloc(size + 1);
    if (list == NULL)
        return 0;
    memcpy(list, data, size);
    list[size] = '\0';
    p = list;
    while (mw_list_next(&p, &item)) {
        if (item.len == 0 || item.ptr < list || item.ptr + item.len > list + size ||
            p != item.ptr + item.len)
            abort();
        for (i = 0; i < item.len; i++)
            if (item.ptr[i] == ',' || item.ptr[i] == ' ' || item.ptr[i] == '\t' ||
                item.ptr[i] == '\0')
                abort();
    }
    free(list);
    return 0;
}
