/*
 * util: small helpers with no better home: slice comparison, kernel randomness and constant-time
 * comparison for secrets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/core.h"

/* True when a holds exactly the bytes of cstr. a is borrowed; a NULL cstr never matches.
 * Thread-safe. */
bool slice_eq(struct slice a, const char *cstr)
{
    return cstr != NULL && a.len == strlen(cstr) &&
           (a.len == 0 || (a.ptr != NULL && memcmp(a.ptr, cstr, a.len) == 0));
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Like slice_eq but ASCII letters compare without case (locale-independent; other bytes exactly).
 * Thread-safe. */
bool slice_eq_nocase(struct slice a, const char *cstr)
{
    bool eq = cstr != NULL && a.len == strlen(cstr) && (a.len == 0 || a.ptr != NULL);
    size_t i;

    for (i = 0; eq && i < a.len; i++)
        eq = ascii_lower((unsigned char)a.ptr[i]) == ascii_lower((unsigned char)cstr[i]);
    return eq;
}

/* Fills out (n bytes, caller-owned) from getrandom(2), retrying short reads and EINTR. Returns 0
 * or MWE_IO when the kernel refuses. Thread-safe; may block only before the pool is initialised. */
int mw_random(void *out, size_t n)
{
    unsigned char *p = out;
    size_t done = 0;
    ssize_t r;
    int rc = 0;

    while (done < n) {
        r = getrandom(p + done, n - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = MWE_IO;
            goto out;
        }
        if (r == 0) {
            rc = MWE_IO;
            goto out;
        }
        done += (size_t)r;
    }
out:
    return rc;
}

/* True when the n bytes at a and b are equal. Always reads all n bytes of both, so the time taken
 * does not depend on where they differ. Both borrowed; n == 0 is equal. Thread-safe. */
bool mw_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *pa = a;
    const volatile unsigned char *pb = b;
    volatile unsigned char acc = 0;
    size_t i;

    for (i = 0; i < n; i++)
        acc = (unsigned char)(acc | (pa[i] ^ pb[i]));
    return acc == 0;
}

int rate_parse(const char *s, double *per_sec)
{
    static const struct {
        const char *name;
        double seconds;
    } units[] = {{"s", 1},       {"sec", 1},     {"second", 1}, {"m", 60},     {"min", 60},
                 {"minute", 60}, {"h", 3600},    {"hour", 3600}, {"d", 86400}, {"day", 86400}};
    char *end = NULL;
    double n;

    if (!s || !(*s >= '0' && *s <= '9'))
        return MWE_CONFIG;
    errno = 0;
    n = strtod(s, &end);
    if (errno != 0 || end == s || *end != '/' || !(n > 0) || n > 1e12)
        return MWE_CONFIG;
    for (size_t i = 0; i < MW_ARRAY_LEN(units); i++) {
        if (strcmp(end + 1, units[i].name) == 0) {
            *per_sec = n / units[i].seconds;
            return 0;
        }
    }
    return MWE_CONFIG;
}

const char *mw_clip(char dst[MW_CLIP_CAP], const char *s, size_t len)
{
    size_t n = s ? len : 0, i;
    bool cut = false;

    if (n > MW_CLIP_MAX) {
        n = MW_CLIP_MAX;
        /* back off to the first byte of the sequence the cut falls in */
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    if (cut) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = '\0';
    return dst;
}

static bool is_base62(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* The marker for the n-byte path segment at p, or NULL when it is not credential-shaped. */
static const char *secret_marker(const char *p, size_t n)
{
    const size_t plen = sizeof(MW_KEY_PREFIX) - 1;
    size_t dots = 0, i;

    if (n >= plen + MW_REDACT_KEY_MIN && memcmp(p, MW_KEY_PREFIX, plen) == 0) {
        for (i = plen; i < n && is_base62((unsigned char)p[i]); i++)
            ;
        if (i == n)
            return MW_KEY_PREFIX "<redacted>";
    }
    if (n >= MW_REDACT_JWT_MIN && memcmp(p, "eyJ", 3) == 0) {
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '.')
                dots++;
            else if (!is_base62(c) && c != '-' && c != '_' && c != '=')
                break;
        }
        if (i == n && dots == 2)
            return "<redacted>";
    }
    return NULL;
}

/* See core.h. */
bool mw_path_has_secret(const char *path, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; path != NULL && i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (secret_marker(path + start, i - start) != NULL)
                return true;
            start = i + 1;
        }
    }
    return false;
}

/* See core.h. */
size_t mw_path_redact(char *s)
{
    size_t len = strlen(s), start = 0, out = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        const char *m = secret_marker(s + start, i - start);
        size_t n = m != NULL ? strlen(m) : i - start;
        memmove(s + out, m != NULL ? m : s + start, n);
        out += n;
        if (i < len)
            s[out++] = '/';
        start = i + 1;
    }
    s[out] = '\0';
    return out;
}
