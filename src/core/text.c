/*
 * text: the byte-level text rules every module shares: UTF-8 validity (RFC 3629), media-type
 * matching (RFC 9110) and the separated lists of the settings.
 */
#include <string.h>
#include <strings.h>

#include "core/core.h"

/* See core.h. */
size_t mw_utf8_len(const unsigned char *s, size_t len)
{
    unsigned char c;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t n;

    if (len == 0)
        return 0;
    c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

/* See core.h. */
bool mw_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;

    while (i < len) {
        size_t n = mw_utf8_len(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* See core.h. */
bool mw_media_type_is(struct slice ct, const char *want)
{
    size_t n = strlen(want);

    if (ct.ptr == NULL || ct.len < n || strncasecmp(ct.ptr, want, n) != 0)
        return false;
    for (size_t i = n; i < ct.len; i++) {
        if (ct.ptr[i] == ';')
            return true;
        if (ct.ptr[i] != ' ' && ct.ptr[i] != '\t')
            return false;
    }
    return true;
}

static bool is_list_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* See core.h. */
bool mw_list_next(const char **p, struct slice *item)
{
    const char *s = *p;
    const char *start;

    if (s == NULL)
        return false;
    while (*s != '\0' && is_list_sep(*s))
        s++;
    if (*s == '\0') {
        *p = s;
        return false;
    }
    start = s;
    while (*s != '\0' && !is_list_sep(*s))
        s++;
    item->ptr = start;
    item->len = (size_t)(s - start);
    *p = s;
    return true;
}
