/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): validation of the `traceparent` and
 * `tracestate` request headers. Valid ones are kept on the request for the operational and audit
 * logs and echoed in the response; invalid ones are ignored (no new trace is invented).
 */
#include <string.h>

#include "api/api.h"

static bool is_lhex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* n lowercase hex digits at s, not all zero when nonzero is set. */
static bool hex_field(const char *s, size_t n, bool nonzero)
{
    bool any = false;
    size_t i;

    for (i = 0; i < n; i++) {
        if (!is_lhex(s[i]))
            return false;
        if (s[i] != '0')
            any = true;
    }
    return any || !nonzero;
}

/* See api.h. Version 00 only: "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>", lowercase,
 * ids not all zero, exactly 55 bytes. Pure function: any thread. */
bool api_traceparent_valid(const char *s, size_t len)
{
    if (s == NULL || len != API_TRACEPARENT_LEN)
        return false;
    return s[0] == '0' && s[1] == '0' && s[2] == '-' && hex_field(s + 3, 32, true) &&
           s[35] == '-' && hex_field(s + 36, 16, true) && s[52] == '-' &&
           hex_field(s + 53, 2, false);
}

static bool is_lcalpha(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_key_char(char c)
{
    return is_lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' || c == '/';
}

/* key = simple-key / tenant-id "@" system-id. */
static bool key_valid(const char *k, size_t n)
{
    const char *at = memchr(k, '@', n);
    size_t i;

    if (at == NULL) {
        /* simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/") */
        if (n < 1 || n > 256 || !is_lcalpha(k[0]))
            return false;
        for (i = 1; i < n; i++)
            if (!is_key_char(k[i]))
                return false;
        return true;
    }
    /* tenant-id = (lcalpha / DIGIT) 0*240(...); system-id = lcalpha 0*13(...) */
    size_t tn = (size_t)(at - k), sn = n - tn - 1;
    if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
        return false;
    if (!is_lcalpha(k[0]) && !(k[0] >= '0' && k[0] <= '9'))
        return false;
    for (i = 1; i < tn; i++)
        if (!is_key_char(k[i]))
            return false;
    if (!is_lcalpha(at[1]))
        return false;
    for (i = 1; i < sn; i++)
        if (!is_key_char(at[1 + i]))
            return false;
    return true;
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E */
static bool value_valid(const char *v, size_t n)
{
    size_t i;

    if (n < 1 || n > 256 || v[n - 1] == ' ')
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* See api.h. At most API_TRACESTATE_MAX bytes and API_TRACESTATE_MAX_MEMBERS members
 * "key=value" separated by commas with optional blanks; empty members allowed; keys unique.
 * Pure function: any thread. */
bool api_tracestate_valid(const char *s, size_t len)
{
    struct {
        const char *p;
        size_t n;
    } keys[API_TRACESTATE_MAX_MEMBERS];
    size_t n_keys = 0, pos = 0, i;

    if (s == NULL || len > API_TRACESTATE_MAX)
        return false;
    while (pos <= len) {
        const char *comma = memchr(s + pos, ',', len - pos);
        size_t end = comma != NULL ? (size_t)(comma - s) : len;
        size_t a = pos, b = end;
        const char *eq;

        while (a < b && is_ows(s[a]))
            a++;
        while (b > a && is_ows(s[b - 1]))
            b--;
        if (a < b) {
            eq = memchr(s + a, '=', b - a);
            if (eq == NULL || n_keys == API_TRACESTATE_MAX_MEMBERS)
                return false;
            size_t kn = (size_t)(eq - (s + a));
            if (!key_valid(s + a, kn) || !value_valid(eq + 1, b - a - kn - 1))
                return false;
            for (i = 0; i < n_keys; i++)
                if (keys[i].n == kn && memcmp(keys[i].p, s + a, kn) == 0)
                    return false; /* a key appears once */
            keys[n_keys].p = s + a;
            keys[n_keys].n = kn;
            n_keys++;
        }
        if (comma == NULL)
            break;
        pos = end + 1;
    }
    return true;
}

/* See api.h. Reads the request's traceparent and tracestate once: valid values are copied into
 * the arena (api_req(r)->traceparent, api_req(r)->tracestate) and, when `echo`, added to the response headers.
 * tracestate is kept only with a valid traceparent (the specification discards it otherwise).
 * Thread: the request's I/O thread. Out of memory leaves the fields NULL. */
void api_trace_read(struct request *r, bool echo)
{
    struct slice tp, ts;

    if (api_req(r)->trace_read)
        return;
    api_req(r)->trace_read = true;
    tp = http_header_get(r, "traceparent");
    if (tp.ptr == NULL || !api_traceparent_valid(tp.ptr, tp.len))
        return;
    api_req(r)->traceparent = arena_strndup(&r->arena, tp.ptr, tp.len);
    if (api_req(r)->traceparent == NULL)
        return;
    ts = http_header_get(r, "tracestate");
    if (ts.ptr != NULL && ts.len > 0 && api_tracestate_valid(ts.ptr, ts.len))
        api_req(r)->tracestate = arena_strndup(&r->arena, ts.ptr, ts.len);
    if (!echo)
        return;
    http_header_add(r, "traceparent", api_req(r)->traceparent);
    if (api_req(r)->tracestate != NULL)
        http_header_add(r, "tracestate", api_req(r)->tracestate);
}
