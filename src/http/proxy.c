/*
 * Client addresses behind gateways: IP address parsing and formatting, the trusted-proxy CIDR
 * list (MODELWRAP_TRUSTED_PROXIES) and the resolution of Forwarded (RFC 7239), X-Forwarded-For and
 * X-Forwarded-Proto into the first untrusted hop. Pure functions over bounded slices, no I/O.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"

/* ---- addresses ------------------------------------------------------------------------------- */

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Stores a 16-byte IPv6 address, as IPv4 when it is IPv4-mapped. */
static void set_v6(struct ipaddr *out, const uint8_t *a16)
{
    memset(out, 0, sizeof(*out));
    if (memcmp(a16, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
        out->family = 4;
        memcpy(out->a, a16 + 12, 4);
    } else {
        out->family = 6;
        memcpy(out->a, a16, 16);
    }
}

/* Parses exactly n bytes as an IPv4 or IPv6 address. Borrowed s; no allocation; any thread. */
bool ipaddr_parse(const char *s, size_t n, struct ipaddr *out)
{
    char buf[IPADDR_TEXT_MAX];
    uint8_t tmp[16];
    bool colon = false;

    if (n == 0 || n >= sizeof(buf))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ':')
            colon = true;
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                   c == '.'))
            return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!colon) {
        if (inet_pton(AF_INET, buf, tmp) != 1)
            return false;
        memset(out, 0, sizeof(*out));
        out->family = 4;
        memcpy(out->a, tmp, 4);
        return true;
    }
    if (inet_pton(AF_INET6, buf, tmp) != 1)
        return false;
    set_v6(out, tmp);
    return true;
}

/* The address of sa (AF_INET or AF_INET6; IPv4-mapped become IPv4). Borrowed sa; any thread. */
bool ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out)
{
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        memset(out, 0, sizeof(*out));
        out->family = 4;
        memcpy(out->a, &in4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        set_v6(out, in6->sin6_addr.s6_addr);
        return true;
    }
    return false;
}

/* Canonical text of a into out (cap >= 2; cut to "" when too small). Any thread. */
void ipaddr_format(const struct ipaddr *a, char *out, size_t cap)
{
    out[0] = '\0';
    if (a->family == 4)
        inet_ntop(AF_INET, a->a, out, (socklen_t)cap);
    else if (a->family == 6)
        inet_ntop(AF_INET6, a->a, out, (socklen_t)cap);
}

/* 127.0.0.0/8 or ::1. Any thread. */
bool ipaddr_is_loopback(const struct ipaddr *a)
{
    static const uint8_t v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (a->family == 4)
        return a->a[0] == 127;
    return a->family == 6 && memcmp(a->a, v6_loopback, 16) == 0;
}

/* ---- the trusted list ------------------------------------------------------------------------ */

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned full = bits / 8;
    unsigned rest = bits % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* Whether host bits beyond the prefix are set. */
static bool host_bits_set(const struct ipaddr *a, unsigned bits)
{
    unsigned len = a->family == 4 ? 4 : 16;
    for (unsigned i = 0; i < len; i++) {
        unsigned lo = i * 8;
        uint8_t mask;
        if (lo + 8 <= bits)
            continue;
        mask = lo >= bits ? 0xffu : (uint8_t)(0xffu >> (bits - lo));
        if (a->a[i] & mask)
            return true;
    }
    return false;
}

/* Parses MODELWRAP_TRUSTED_PROXIES. Owns nothing passed in; pl owns its array (proxy_list_fini).
 * Main thread at start-up. 0 or MWE_CONFIG / MWE_NOMEM with e. */
int proxy_list_parse(const char *spec, struct proxy_list *pl, struct mw_error *e)
{
    size_t cap = 0;
    const char *p = spec;
    int rc = 0;

    pl->v = NULL;
    pl->n = 0;
    if (spec == NULL)
        goto out;
    for (;;) {
        struct slice item;
        const char *start;
        const char *slash;
        size_t len;
        struct cidr c;
        unsigned bits;
        unsigned max_bits;

        if (!mw_list_next(&p, &item))
            break;
        start = item.ptr;
        len = item.len;
        slash = memchr(start, '/', len);
        if (!ipaddr_parse(start, slash ? (size_t)(slash - start) : len, &c.net)) {
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_TRUSTED_PROXIES: '%.*s' is not an IP address or CIDR "
                         "(accepted: 10.0.0.0/8, 192.0.2.7, fd00::/8, ::1)",
                         (int)(len > 64 ? 64 : len), start);
            goto out_fail;
        }
        max_bits = c.net.family == 4 ? 32 : 128;
        bits = max_bits;
        if (slash) {
            const char *d = slash + 1;
            size_t dl = len - (size_t)(d - start);
            bits = 0;
            if (dl == 0 || dl > 3)
                bits = 999;
            for (size_t i = 0; i < dl && bits != 999; i++) {
                if (d[i] < '0' || d[i] > '9')
                    bits = 999;
                else
                    bits = bits * 10 + (unsigned)(d[i] - '0');
            }
            if (bits > max_bits) {
                rc = mw_fail(e, MWE_CONFIG,
                             "MODELWRAP_TRUSTED_PROXIES: '%.*s' has a bad prefix length "
                             "(accepted: 0-%u)",
                             (int)(len > 64 ? 64 : len), start, max_bits);
                goto out_fail;
            }
        }
        if (host_bits_set(&c.net, bits)) {
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_TRUSTED_PROXIES: '%.*s' has host bits set beyond /%u "
                         "(write the network address)",
                         (int)(len > 64 ? 64 : len), start, bits);
            goto out_fail;
        }
        c.bits = (uint8_t)bits;
        if (pl->n == PROXY_LIST_MAX) {
            rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_TRUSTED_PROXIES: more than %d entries",
                         PROXY_LIST_MAX);
            goto out_fail;
        }
        if (pl->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct cidr *nv = realloc(pl->v, ncap * sizeof(*nv));
            if (!nv) {
                rc = mw_fail(e, MWE_NOMEM, "out of memory");
                goto out_fail;
            }
            pl->v = nv;
            cap = ncap;
        }
        pl->v[pl->n++] = c;
    }
    goto out;
out_fail:
    proxy_list_fini(pl);
out:
    return rc;
}

/* Frees pl's array; pl is then empty. */
void proxy_list_fini(struct proxy_list *pl)
{
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}

/* Linear scan: lists are short (a few gateways). Borrowed; any thread; no allocation. */
bool proxy_list_has(const struct proxy_list *pl, const struct ipaddr *a)
{
    for (size_t i = 0; i < pl->n; i++) {
        const struct cidr *c = &pl->v[i];
        if (c->net.family == a->family && prefix_match(a->a, c->net.a, c->bits))
            return true;
    }
    return false;
}

/* ---- the forwarding headers ------------------------------------------------------------------ */

static bool name_is(const char *name, size_t len, const char *want)
{
    size_t wl = strlen(want);
    return len == wl && strncasecmp(name, want, wl) == 0;
}

static void lines_add(struct slice *lines, size_t *n, const char *v, size_t len)
{
    if (*n == PROXY_MAX_LINES) {
        memmove(lines, lines + 1, (PROXY_MAX_LINES - 1) * sizeof(*lines));
        (*n)--;
    }
    lines[(*n)++] = (struct slice){v, len};
}

/* Keeps the header line when it is one of the forwarding headers. Borrowed value (must outlive
 * h); any thread. */
void proxy_headers_add(struct proxy_headers *h, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    if (value == NULL)
        return;
    if (name_is(name, name_len, "Forwarded"))
        lines_add(h->forwarded, &h->n_forwarded, value, value_len);
    else if (name_is(name, name_len, "X-Forwarded-For"))
        lines_add(h->xff, &h->n_xff, value, value_len);
    else if (name_is(name, name_len, "X-Forwarded-Proto"))
        lines_add(h->xfp, &h->n_xfp, value, value_len);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static struct slice trim(const char *s, size_t n)
{
    while (n > 0 && is_ows(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    return (struct slice){s, n};
}

static bool all_digits(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* One node: "192.0.2.1", "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443".
 * "unknown", obfuscated identifiers ("_abc") and anything else are not addresses. */
static bool node_parse(struct slice node, struct ipaddr *out)
{
    const char *s;
    size_t n;
    size_t colons = 0;

    node = trim(node.ptr, node.len);
    s = node.ptr;
    n = node.len;
    if (n == 0)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        size_t after;
        if (!close)
            return false;
        if (!ipaddr_parse(s + 1, (size_t)(close - s - 1), out) ||
            memchr(s + 1, ':', (size_t)(close - s - 1)) == NULL)
            return false;
        after = n - (size_t)(close - s) - 1;
        if (after == 0)
            return true;
        return close[1] == ':' && all_digits(close + 2, after - 1, 5);
    }
    for (size_t i = 0; i < n; i++)
        colons += s[i] == ':';
    if (colons == 1) {
        const char *colon = memchr(s, ':', n);
        size_t hl = (size_t)(colon - s);
        struct ipaddr a;
        if (!all_digits(colon + 1, n - hl - 1, 5) || !ipaddr_parse(s, hl, &a) || a.family != 4)
            return false;
        *out = a;
        return true;
    }
    return ipaddr_parse(s, n, out);
}

static int proto_parse(struct slice v)
{
    v = trim(v.ptr, v.len);
    if (v.len == 5 && strncasecmp(v.ptr, "https", 5) == 0)
        return PROXY_PROTO_HTTPS;
    if (v.len == 4 && strncasecmp(v.ptr, "http", 4) == 0)
        return PROXY_PROTO_HTTP;
    return PROXY_PROTO_UNKNOWN;
}

struct hop {
    bool ok; /* ip is an address */
    int8_t proto;
    struct ipaddr ip;
};

/* The last PROXY_MAX_HOPS hops of a chain, oldest first once unrolled. */
struct hops {
    struct hop ring[PROXY_MAX_HOPS];
    size_t total;
};

static void hops_push(struct hops *h, const struct hop *hop)
{
    h->ring[h->total % PROXY_MAX_HOPS] = *hop;
    h->total++;
}

static size_t hops_count(const struct hops *h)
{
    return h->total < PROXY_MAX_HOPS ? h->total : PROXY_MAX_HOPS;
}

/* The i-th of the kept hops, 0 = the oldest kept. */
static const struct hop *hops_at(const struct hops *h, size_t i)
{
    return &h->ring[(h->total - hops_count(h) + i) % PROXY_MAX_HOPS];
}

/* Calls fn for each non-empty comma-separated item of every line, in order, trimmed. */
static void for_each_item(const struct slice *lines, size_t n_lines,
                          void (*fn)(struct slice item, void *ctx), void *ctx)
{
    for (size_t l = 0; l < n_lines; l++) {
        const char *p = lines[l].ptr;
        size_t left = lines[l].len;
        for (;;) {
            const char *comma = memchr(p, ',', left);
            size_t len = comma ? (size_t)(comma - p) : left;
            struct slice item = trim(p, len);
            if (item.len > 0) /* empty list elements are ignored (RFC 9110 5.6.1) */
                fn(item, ctx);
            if (!comma)
                break;
            p = comma + 1;
            left -= len + 1;
        }
    }
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * One Forwarded element (between commas): pairs "name=value" separated by ';', a value a token or
 * a quoted string. Elements are split at every comma first (no valid for= or proto= value holds
 * one), so that a client's malformed element cannot swallow the one its proxy appended.
 */
static void forwarded_element(struct slice el, void *ctx)
{
    struct hops *h = ctx;
    struct hop hop = {false, PROXY_PROTO_UNKNOWN, {0, {0}}};
    bool have_for = false;
    bool bad = false;
    size_t i = 0;

    while (i < el.len && !bad) {
        size_t name_start;
        size_t name_len;
        char val[64];
        size_t vlen = 0;
        bool too_long = false;

        while (i < el.len && (is_ows(el.ptr[i]) || el.ptr[i] == ';'))
            i++;
        if (i == el.len)
            break;
        name_start = i;
        while (i < el.len && is_tchar(el.ptr[i]) && el.ptr[i] != '=')
            i++;
        name_len = i - name_start;
        if (name_len == 0 || i == el.len || el.ptr[i] != '=') {
            bad = true;
            break;
        }
        i++;
        if (i < el.len && el.ptr[i] == '"') {
            bool closed = false;
            for (i++; i < el.len; i++) {
                char c = el.ptr[i];
                if (c == '"') {
                    closed = true;
                    i++;
                    break;
                }
                if (c == '\\') {
                    if (i + 1 == el.len)
                        break;
                    c = el.ptr[++i];
                }
                if (vlen < sizeof(val))
                    val[vlen++] = c;
                else
                    too_long = true;
            }
            if (!closed) {
                bad = true;
                break;
            }
        } else {
            while (i < el.len && is_tchar(el.ptr[i])) {
                if (vlen < sizeof(val))
                    val[vlen++] = el.ptr[i];
                else
                    too_long = true;
                i++;
            }
        }
        while (i < el.len && is_ows(el.ptr[i]))
            i++;
        if (i < el.len && el.ptr[i] != ';') {
            bad = true;
            break;
        }
        if (name_is(el.ptr + name_start, name_len, "for")) {
            if (have_for) {
                bad = true; /* a repeated parameter makes the element ambiguous */
                break;
            }
            have_for = true;
            hop.ok = !too_long && node_parse((struct slice){val, vlen}, &hop.ip);
        } else if (name_is(el.ptr + name_start, name_len, "proto")) {
            hop.proto = (int8_t)(too_long ? PROXY_PROTO_UNKNOWN
                                          : proto_parse((struct slice){val, vlen}));
        }
    }
    if (bad || !have_for)
        hop.ok = false;
    hops_push(h, &hop);
}

static void xff_item(struct slice item, void *ctx)
{
    struct hop hop = {false, PROXY_PROTO_UNKNOWN, {0, {0}}};
    hop.ok = node_parse(item, &hop.ip);
    hops_push(ctx, &hop);
}

static void xfp_item(struct slice item, void *ctx)
{
    struct hop hop = {false, PROXY_PROTO_UNKNOWN, {0, {0}}};
    hop.proto = (int8_t)proto_parse(item);
    hops_push(ctx, &hop);
}

/* See http_int.h. Borrowed everything; no allocation (about 3 KiB of stack); any thread. */
void proxy_resolve(const struct proxy_list *pl, const struct ipaddr *peer,
                   const struct proxy_headers *h, int mode, struct ipaddr *client, int *proto)
{
    struct hops chain;
    struct hops protos;
    bool forwarded = mode == PROXY_HEADER_FORWARDED;
    size_t n;
    size_t stop = 0;

    *client = *peer;
    *proto = PROXY_PROTO_UNKNOWN;
    chain.total = 0;
    protos.total = 0;
    if (forwarded)
        for_each_item(h->forwarded, h->n_forwarded, forwarded_element, &chain);
    else
        for_each_item(h->xff, h->n_xff, xff_item, &chain);
    if (!forwarded)
        for_each_item(h->xfp, h->n_xfp, xfp_item, &protos);

    n = hops_count(&chain);
    for (size_t k = n; k > 0; k--) {
        const struct hop *hop = hops_at(&chain, k - 1);
        stop = k - 1;
        if (!hop->ok)
            break;
        *client = hop->ip;
        if (!proxy_list_has(pl, &hop->ip))
            break;
    }
    if (forwarded) {
        if (n > 0)
            *proto = hops_at(&chain, stop)->proto;
    } else if (protos.total > 0) {
        if (n > 0 && protos.total == chain.total)
            *proto = hops_at(&protos, stop)->proto;
        else
            *proto = hops_at(&protos, hops_count(&protos) - 1)->proto;
    }
}
