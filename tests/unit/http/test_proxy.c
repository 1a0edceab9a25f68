/* Unit tests of client addresses behind gateways: IP parsing, the trusted CIDR list, and the
 * Forwarded / X-Forwarded-For / X-Forwarded-Proto resolution to the first untrusted hop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

static struct ipaddr ip(const char *s)
{
    struct ipaddr a;
    assert_true(ipaddr_parse(s, strlen(s), &a));
    return a;
}

static void text_of(const struct ipaddr *a, char *out)
{
    ipaddr_format(a, out, IPADDR_TEXT_MAX);
}

static void test_ipaddr_parse(void **state)
{
    struct ipaddr a;
    char t[IPADDR_TEXT_MAX];
    static const char *const bad[] = {"",          "1.2.3",      "1.2.3.4.5",     "256.1.1.1",
                                      "1.2.3.4 ",  " 1.2.3.4",   "[::1]",         "fe80::1%eth0",
                                      "1.2.3.4:80", "::g",       "unknown",       "_hidden",
                                      "1..2.3",    "12345::1::", "::ffff:1.2.3.256"};
    (void)state;

    a = ip("192.0.2.7");
    assert_int_equal(a.family, 4);
    text_of(&a, t);
    assert_string_equal(t, "192.0.2.7");
    a = ip("2001:DB8:0:0::1");
    assert_int_equal(a.family, 6);
    text_of(&a, t);
    assert_string_equal(t, "2001:db8::1");
    /* IPv4-mapped IPv6 is the IPv4 address: one client, one identity */
    a = ip("::ffff:10.1.2.3");
    assert_int_equal(a.family, 4);
    text_of(&a, t);
    assert_string_equal(t, "10.1.2.3");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(ipaddr_parse(bad[i], strlen(bad[i]), &a));
    /* exactly n bytes: the tail after n is not read */
    assert_true(ipaddr_parse("10.0.0.1XYZ", 8, &a));
    text_of(&a, t);
    assert_string_equal(t, "10.0.0.1");
    {
        char longer[200];
        memset(longer, '1', sizeof(longer));
        assert_false(ipaddr_parse(longer, sizeof(longer), &a));
    }
    assert_true(ipaddr_is_loopback((a = ip("127.9.9.9"), &a)));
    assert_true(ipaddr_is_loopback((a = ip("::1"), &a)));
    assert_false(ipaddr_is_loopback((a = ip("0.0.0.0"), &a)));
    assert_false(ipaddr_is_loopback((a = ip("::"), &a)));
    assert_false(ipaddr_is_loopback((a = ip("128.0.0.1"), &a)));
}

static void test_proxy_list(void **state)
{
    struct proxy_list pl;
    struct mw_error e = {0};
    struct ipaddr a;
    (void)state;

    assert_int_equal(proxy_list_parse("10.0.0.0/8, 192.168.1.7 ::1\tfd00::/8,", &pl, &e), 0);
    assert_int_equal(pl.n, 4);
    assert_true(proxy_list_has(&pl, (a = ip("10.200.3.4"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("11.0.0.1"), &a)));
    assert_true(proxy_list_has(&pl, (a = ip("192.168.1.7"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("192.168.1.8"), &a)));
    assert_true(proxy_list_has(&pl, (a = ip("::1"), &a)));
    assert_true(proxy_list_has(&pl, (a = ip("fd12:3456::1"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("fe80::1"), &a)));
    assert_true(proxy_list_has(&pl, (a = ip("::ffff:10.0.0.9"), &a)));
    proxy_list_fini(&pl);

    /* prefix lengths that are not a multiple of 8 */
    assert_int_equal(proxy_list_parse("172.16.0.0/12 2001:db8:8000::/33", &pl, &e), 0);
    assert_true(proxy_list_has(&pl, (a = ip("172.31.255.255"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("172.32.0.0"), &a)));
    assert_true(proxy_list_has(&pl, (a = ip("2001:db8:ffff::1"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("2001:db8:7fff::1"), &a)));
    proxy_list_fini(&pl);

    assert_int_equal(proxy_list_parse("0.0.0.0/0", &pl, &e), 0);
    assert_true(proxy_list_has(&pl, (a = ip("203.0.113.1"), &a)));
    assert_false(proxy_list_has(&pl, (a = ip("2001:db8::1"), &a))); /* families stay apart */
    proxy_list_fini(&pl);

    assert_int_equal(proxy_list_parse(NULL, &pl, &e), 0);
    assert_int_equal(pl.n, 0);
    assert_int_equal(proxy_list_parse(" , ", &pl, &e), 0);
    assert_int_equal(pl.n, 0);
    assert_false(proxy_list_has(&pl, (a = ip("10.0.0.1"), &a)));

    assert_int_equal(proxy_list_parse("10.0.0.1/8", &pl, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "host bits"));
    assert_int_equal(pl.n, 0);
    assert_int_equal(proxy_list_parse("10.0.0.0/8, 10.0.0.0/33", &pl, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "10.0.0.0/33"));
    assert_null(pl.v);
    assert_int_equal(proxy_list_parse("::/129", &pl, &e), MWE_CONFIG);
    assert_int_equal(proxy_list_parse("10.0.0.0/", &pl, &e), MWE_CONFIG);
    assert_int_equal(proxy_list_parse("10.0.0.0/8x", &pl, &e), MWE_CONFIG);
    assert_int_equal(proxy_list_parse("gateway.local", &pl, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "MODELWRAP_TRUSTED_PROXIES: 'gateway.local'"));
}

/* A request from peer with the given headers (NULL: absent); returns the client's text. */
struct resolved {
    char client[IPADDR_TEXT_MAX];
    int proto;
};

static struct resolved resolve_mode(int mode, const char *trusted, const char *peer,
                                    const char *const *fwd, const char *const *xff,
                                    const char *const *xfp)
{
    struct proxy_list pl;
    struct proxy_headers h;
    struct mw_error e = {0};
    struct ipaddr p = ip(peer);
    struct ipaddr client;
    struct resolved out;

    memset(&h, 0, sizeof(h));
    assert_int_equal(proxy_list_parse(trusted, &pl, &e), 0);
    for (; fwd && *fwd; fwd++)
        proxy_headers_add(&h, "forwarded", 9, *fwd, strlen(*fwd));
    for (; xff && *xff; xff++)
        proxy_headers_add(&h, "X-Forwarded-For", 15, *xff, strlen(*xff));
    for (; xfp && *xfp; xfp++)
        proxy_headers_add(&h, "x-forwarded-PROTO", 17, *xfp, strlen(*xfp));
    proxy_resolve(&pl, &p, &h, mode, &client, &out.proto);
    text_of(&client, out.client);
    proxy_list_fini(&pl);
    return out;
}

/* X-Forwarded-For mode when there is no Forwarded header, else Forwarded mode. */
static struct resolved resolve_lines(const char *trusted, const char *peer, const char *const *fwd,
                                     const char *const *xff, const char *const *xfp)
{
    return resolve_mode(fwd ? PROXY_HEADER_FORWARDED : PROXY_HEADER_XFF, trusted, peer, fwd, xff,
                        xfp);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static struct resolved xff(const char *value)
{
    return resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L(value), NULL);
}

static void test_xff(void **state)
{
    struct resolved r;
    (void)state;

    assert_string_equal(xff("203.0.113.5").client, "203.0.113.5");
    /* the client may send any chain: only hops through trusted proxies count */
    assert_string_equal(xff("198.51.100.1, 203.0.113.5, 10.0.0.2").client, "203.0.113.5");
    assert_string_equal(xff("10.0.0.3, 10.0.0.2").client, "10.0.0.3"); /* all trusted */
    assert_string_equal(xff("unknown, 203.0.113.5").client, "203.0.113.5");
    assert_string_equal(xff("203.0.113.5, unknown").client, "10.0.0.1");
    assert_string_equal(xff("203.0.113.5, garbage!!, 10.0.0.2").client, "10.0.0.2");
    assert_string_equal(xff("203.0.113.5:1234").client, "203.0.113.5");
    assert_string_equal(xff("[2001:db8::1]:443").client, "2001:db8::1");
    assert_string_equal(xff("[2001:db8::1]").client, "2001:db8::1");
    assert_string_equal(xff("2001:db8::1").client, "2001:db8::1");
    assert_string_equal(xff("[1.2.3.4]").client, "10.0.0.1"); /* brackets are for IPv6 */
    assert_string_equal(xff("203.0.113.5:99999999").client, "10.0.0.1");
    assert_string_equal(xff(" 203.0.113.5 , , ").client, "203.0.113.5"); /* empty elements */
    assert_string_equal(xff("").client, "10.0.0.1");
    assert_string_equal(xff(",,,").client, "10.0.0.1");
    /* several header lines are one list, in order */
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("198.51.100.1", "203.0.113.5, 10.9.9.9"),
                      NULL);
    assert_string_equal(r.client, "203.0.113.5");
    /* no forwarding header: the peer */
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, NULL, NULL);
    assert_string_equal(r.client, "10.0.0.1");
    assert_int_equal(r.proto, PROXY_PROTO_UNKNOWN);
}

static void test_xfp(void **state)
{
    struct resolved r;
    (void)state;

    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5"), L("https"));
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5"), L("HTTP"));
    assert_int_equal(r.proto, PROXY_PROTO_HTTP);
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5"), L("gopher"));
    assert_int_equal(r.proto, PROXY_PROTO_UNKNOWN);
    /* as many entries as X-Forwarded-For: the entry of the client's hop */
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5, 10.0.0.2"),
                      L("https, http"));
    assert_string_equal(r.client, "203.0.113.5");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    /* otherwise the last entry (set by the nearest proxy) */
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5, 10.0.0.2"), L("https"));
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, L("203.0.113.5"), L("http, https"));
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    /* X-Forwarded-Proto alone keeps the peer as the client */
    r = resolve_lines("10.0.0.0/8", "10.0.0.1", NULL, NULL, L("https"));
    assert_string_equal(r.client, "10.0.0.1");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
}

static struct resolved fwd(const char *value)
{
    return resolve_lines("10.0.0.0/8", "10.0.0.1", L(value), NULL, NULL);
}

static void test_forwarded(void **state)
{
    struct resolved r;
    (void)state;

    /* RFC 7239's examples */
    r = fwd("for=192.0.2.60;proto=http;by=203.0.113.43");
    assert_string_equal(r.client, "192.0.2.60");
    assert_int_equal(r.proto, PROXY_PROTO_HTTP);
    r = fwd("For=\"[2001:db8:cafe::17]:4711\"");
    assert_string_equal(r.client, "2001:db8:cafe::17");
    r = fwd("for=192.0.2.43, for=198.51.100.17;proto=https");
    assert_string_equal(r.client, "198.51.100.17");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = fwd("for=192.0.2.43;proto=https, for=10.0.0.5;proto=http");
    assert_string_equal(r.client, "192.0.2.43");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = fwd("for=\"_gazonk\"");
    assert_string_equal(r.client, "10.0.0.1");
    r = fwd("for=unknown, for=203.0.113.1");
    assert_string_equal(r.client, "203.0.113.1");
    r = fwd(" ; for = 203.0.113.1"); /* blanks around '=' are not allowed */
    assert_string_equal(r.client, "10.0.0.1");
    r = fwd("proto=https"); /* no for=: the chain stops at the peer */
    assert_string_equal(r.client, "10.0.0.1");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = fwd("for=203.0.113.1;for=198.51.100.2"); /* a repeated parameter is ambiguous */
    assert_string_equal(r.client, "10.0.0.1");
    r = fwd("for=\"203.0.\\113.1\""); /* quoted-pair */
    assert_string_equal(r.client, "203.0.113.1");
    /* a client's malformed element cannot swallow the element its proxy appended */
    r = fwd("for=\"198.51.100.9, for=203.0.113.9");
    assert_string_equal(r.client, "203.0.113.9");
    r = fwd("for=\"1.2.3.4\"junk, for=203.0.113.9;proto=https");
    assert_string_equal(r.client, "203.0.113.9");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    /* only the configured header counts: a client cannot smuggle in the other one */
    r = resolve_mode(PROXY_HEADER_FORWARDED, "10.0.0.0/8", "10.0.0.1", L("for=192.0.2.1"),
                     L("198.51.100.1"), L("https"));
    assert_string_equal(r.client, "192.0.2.1");
    assert_int_equal(r.proto, PROXY_PROTO_UNKNOWN);
    r = resolve_mode(PROXY_HEADER_XFF, "10.0.0.0/8", "10.0.0.1", L("for=192.0.2.1"),
                     L("198.51.100.1"), L("https"));
    assert_string_equal(r.client, "198.51.100.1");
    assert_int_equal(r.proto, PROXY_PROTO_HTTPS);
    r = resolve_mode(PROXY_HEADER_XFF, "10.0.0.0/8", "10.0.0.1", L("for=192.0.2.1"), NULL, NULL);
    assert_string_equal(r.client, "10.0.0.1");
    r = resolve_mode(PROXY_HEADER_FORWARDED, "10.0.0.0/8", "10.0.0.1", NULL, L("198.51.100.1"),
                     L("https"));
    assert_string_equal(r.client, "10.0.0.1");
    assert_int_equal(r.proto, PROXY_PROTO_UNKNOWN);
}

static void test_long_chains(void **state)
{
    struct proxy_headers h;
    char line[64];
    char *chain;
    size_t used = 0;
    struct resolved r;
    (void)state;

    /* more header lines than are kept: the last ones count */
    memset(&h, 0, sizeof(h));
    for (int i = 0; i < PROXY_MAX_LINES + 5; i++)
        proxy_headers_add(&h, "X-Forwarded-For", 15, "x", 1);
    proxy_headers_add(&h, "X-Forwarded-For", 15, "last", 4);
    assert_int_equal(h.n_xff, PROXY_MAX_LINES);
    assert_memory_equal(h.xff[PROXY_MAX_LINES - 1].ptr, "last", 4);
    proxy_headers_add(&h, "Other", 5, "v", 1);
    proxy_headers_add(&h, "X-Forwarded-For", 15, NULL, 0);
    assert_int_equal(h.n_forwarded, 0);
    assert_int_equal(h.n_xfp, 0);

    /* 300 hops, every one trusted but the first: only the last PROXY_MAX_HOPS are examined */
    chain = malloc(300 * 20);
    assert_non_null(chain);
    used = (size_t)snprintf(chain, 32, "203.0.113.1");
    for (int i = 0; i < 299; i++) {
        snprintf(line, sizeof(line), ", 10.0.%d.%d", i / 250, i % 250 + 1);
        memcpy(chain + used, line, strlen(line) + 1);
        used += strlen(line);
    }
    r = xff(chain);
    assert_int_equal(strncmp(r.client, "10.0.", 5), 0);
    free(chain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipaddr_parse), cmocka_unit_test(test_proxy_list),
        cmocka_unit_test(test_xff),          cmocka_unit_test(test_xfp),
        cmocka_unit_test(test_forwarded),    cmocka_unit_test(test_long_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
