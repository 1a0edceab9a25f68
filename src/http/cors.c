/*
 * CORS: the allowed origins (MODELWRAP_CORS_ORIGINS, exact matches, or "*" without credentials)
 * and the preflight answer. Nothing is allowed unless configured. The transport (http.c) adds the
 * per-response headers (Access-Control-Allow-Origin, Vary) for requests whose origin is allowed.
 */
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* scheme "://" host [":" port], lower case, nothing after: what browsers send in Origin. */
static bool origin_valid(const char *s, size_t n)
{
    size_t i;
    size_t host_start;

    if (n > 7 && memcmp(s, "http://", 7) == 0)
        i = 7;
    else if (n > 8 && memcmp(s, "https://", 8) == 0)
        i = 8;
    else
        return false;
    host_start = i;
    if (s[i] == '[') {
        const char *close = memchr(s + i, ']', n - i);
        if (!close || close == s + i + 1)
            return false;
        for (const char *p = s + i + 1; p < close; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == ':' || *p == '.'))
                return false;
        i = (size_t)(close - s) + 1;
    } else {
        while (i < n && is_host_char(s[i]))
            i++;
        if (i == host_start || s[host_start] == '.' || s[host_start] == '-' || s[i - 1] == '.')
            return false;
    }
    if (i == n)
        return true;
    if (s[i] != ':' || n - i - 1 == 0 || n - i - 1 > 5)
        return false;
    unsigned port = 0;
    for (i++; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        port = port * 10 + (unsigned)(s[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

/* Parses the settings into c (owns its copies; cors_fini frees). Main thread at start-up. 0, or
 * MWE_CONFIG / MWE_NOMEM with e; c is then disabled. */
int cors_init(struct cors *c, const char *spec, bool credentials, struct mw_error *e)
{
    const char *p = spec;
    size_t total = 0;
    size_t used = 0;
    int rc = 0;

    memset(c, 0, sizeof(*c));
    c->credentials = credentials;
    if (spec == NULL || spec[0] == '\0')
        goto out;
    total = strlen(spec);
    c->storage = malloc(total + 1);
    c->origins = calloc(CORS_MAX_ORIGINS, sizeof(*c->origins));
    if (!c->storage || !c->origins) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out_fail;
    }
    for (;;) {
        struct slice item;
        const char *start;
        size_t len;

        if (!mw_list_next(&p, &item))
            break;
        start = item.ptr;
        len = item.len;
        if (len == 1 && start[0] == '*') {
            c->any = true;
            continue;
        }
        if (!origin_valid(start, len)) {
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_CORS_ORIGINS: '%.*s' is not an origin (accepted: * or "
                         "scheme://host[:port] in lower case, e.g. https://app.example.org)",
                         (int)(len > 64 ? 64 : len), start);
            goto out_fail;
        }
        if (c->n == CORS_MAX_ORIGINS) {
            rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_CORS_ORIGINS: more than %d origins",
                         CORS_MAX_ORIGINS);
            goto out_fail;
        }
        memcpy(c->storage + used, start, len);
        c->origins[c->n++] = (struct slice){c->storage + used, len};
        used += len;
    }
    if (c->any && c->n > 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_CORS_ORIGINS: '*' allows every origin and cannot be combined with "
                     "a list of origins");
        goto out_fail;
    }
    if (c->any && credentials) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_CORS_ORIGINS: '*' cannot be used with MODELWRAP_CORS_CREDENTIALS "
                     "(list the origins instead)");
        goto out_fail;
    }
    c->enabled = c->any || c->n > 0;
    goto out;
out_fail:
    cors_fini(c);
out:
    return rc;
}

/* Frees c's copies; c is then disabled. */
void cors_fini(struct cors *c)
{
    free(c->storage);
    free(c->origins);
    memset(c, 0, sizeof(*c));
}

/* Exact comparison with each configured origin. Borrowed; any thread; no allocation. */
bool cors_allows(const struct cors *c, struct slice origin)
{
    if (!c->enabled || origin.ptr == NULL || origin.len == 0)
        return false;
    if (c->any)
        return true;
    for (size_t i = 0; i < c->n; i++)
        if (c->origins[i].len == origin.len &&
            memcmp(c->origins[i].ptr, origin.ptr, origin.len) == 0)
            return true;
    return false;
}

/* See http_int.h. I/O thread (r's). */
int cors_preflight(const struct cors *c, struct request *r, unsigned allowed_methods)
{
    char methods[96];
    int rc;

    (void)c;
    http_methods_str(allowed_methods, methods, sizeof(methods));
    buf_reset(&r->resp);
    r->status = 204;
    r->err = 0;
    r->content_type = NULL;
    rc = http_header_add(r, "Access-Control-Allow-Methods", methods);
    if (rc == 0)
        rc = http_header_add(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
    if (rc == 0)
        rc = http_header_add(r, "Access-Control-Max-Age", CORS_MAX_AGE);
    if (rc == 0)
        rc = http_header_add(r, "Vary", "Access-Control-Request-Method, "
                                        "Access-Control-Request-Headers");
    return rc;
}
