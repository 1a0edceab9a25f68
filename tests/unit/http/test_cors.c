/* Unit tests of CORS: parsing MODELWRAP_CORS_ORIGINS (exact origins, "*" only without
 * credentials), origin matching and the preflight answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

static struct slice S(const char *s)
{
    return (struct slice){s, strlen(s)};
}

static void test_disabled(void **state)
{
    struct cors c;
    struct mw_error e = {0};
    (void)state;

    assert_int_equal(cors_init(&c, NULL, false, &e), 0);
    assert_false(c.enabled);
    assert_false(cors_allows(&c, S("https://a.example")));
    cors_fini(&c);
    assert_int_equal(cors_init(&c, "", true, &e), 0);
    assert_false(c.enabled);
    assert_false(cors_allows(&c, S("https://a.example")));
    cors_fini(&c);
    assert_int_equal(cors_init(&c, " , ", false, &e), 0);
    assert_false(c.enabled);
    cors_fini(&c);
}

static void test_exact_origins(void **state)
{
    struct cors c;
    struct mw_error e = {0};
    (void)state;

    assert_int_equal(
        cors_init(&c, "https://app.example.org, http://localhost:3000 https://[::1]:8443", true, &e),
        0);
    assert_true(c.enabled);
    assert_false(c.any);
    assert_true(c.credentials);
    assert_int_equal(c.n, 3);
    assert_true(cors_allows(&c, S("https://app.example.org")));
    assert_true(cors_allows(&c, S("http://localhost:3000")));
    assert_true(cors_allows(&c, S("https://[::1]:8443")));
    assert_false(cors_allows(&c, S("https://app.example.org/")));
    assert_false(cors_allows(&c, S("https://APP.example.org")));
    assert_false(cors_allows(&c, S("http://app.example.org")));
    assert_false(cors_allows(&c, S("https://app.example.org:443")));
    assert_false(cors_allows(&c, S("https://app.example.org.evil.test")));
    assert_false(cors_allows(&c, S("https://app.example.or")));
    assert_false(cors_allows(&c, S("http://localhost:30001")));
    assert_false(cors_allows(&c, S("null")));
    assert_false(cors_allows(&c, S("")));
    assert_false(cors_allows(&c, (struct slice){NULL, 0}));
    /* the comparison is over len bytes only */
    assert_true(cors_allows(&c, (struct slice){"http://localhost:3000/x", 21}));
    cors_fini(&c);
    assert_false(c.enabled);
}

static void test_any(void **state)
{
    struct cors c;
    struct mw_error e = {0};
    (void)state;

    assert_int_equal(cors_init(&c, "*", false, &e), 0);
    assert_true(c.enabled);
    assert_true(c.any);
    assert_true(cors_allows(&c, S("https://whoever.test")));
    assert_false(cors_allows(&c, S("")));
    cors_fini(&c);

    assert_int_equal(cors_init(&c, "*", true, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "MODELWRAP_CORS_CREDENTIALS"));
    assert_false(c.enabled);
    assert_int_equal(cors_init(&c, "*, https://a.example", false, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "cannot be combined"));
    assert_false(c.enabled);
}

static void test_invalid(void **state)
{
    static const char *const bad[] = {
        "a.example",          "https://a.example/",   "https://a.example/path",
        "ftp://a.example",    "https://",             "https://a.example:",
        "https://a.example:0", "https://a.example:65536", "https://a.example:123456",
        "HTTPS://a.example",  "https://A.example",    "null",
        "https://.a.example", "https://a.example.",   "https://a_b.example",
        "https://[]",         "https://[xyz::1]",     "https://a.example?q",
        "https://user@a.example",
    };
    struct cors c;
    struct mw_error e;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        assert_int_equal(cors_init(&c, bad[i], false, &e), MWE_CONFIG);
        assert_non_null(strstr(e.msg, "MODELWRAP_CORS_ORIGINS"));
        assert_false(c.enabled);
        assert_null(c.origins);
    }
    assert_int_equal(cors_init(&c, "https://a.example:65535", false, &e), 0);
    cors_fini(&c);
}

static void test_preflight(void **state)
{
    struct cors c;
    struct mw_error e = {0};
    struct request r;
    bool seen_methods = false;
    bool seen_headers = false;
    bool seen_age = false;
    (void)state;

    assert_int_equal(cors_init(&c, "https://a.example", false, &e), 0);
    memset(&r, 0, sizeof(r));
    arena_init(&r.arena, 0);
    buf_init(&r.resp, 1 << 16);
    assert_int_equal(buf_append(&r.resp, "stale", 5), 0);
    r.content_type = "application/json";
    assert_int_equal(cors_preflight(&c, &r, HTTP_GET | HTTP_HEAD | HTTP_POST), 0);
    assert_int_equal(r.status, 204);
    assert_null(r.content_type);
    assert_int_equal(r.resp.len, 0);
    for (size_t i = 0; i < r.n_headers; i++) {
        if (strcmp(r.headers[i].name, "Access-Control-Allow-Methods") == 0) {
            assert_string_equal(r.headers[i].value, "GET, HEAD, POST");
            seen_methods = true;
        } else if (strcmp(r.headers[i].name, "Access-Control-Allow-Headers") == 0) {
            assert_non_null(strstr(r.headers[i].value, "Authorization"));
            assert_non_null(strstr(r.headers[i].value, "X-API-Key"));
            assert_non_null(strstr(r.headers[i].value, "Content-Type"));
            seen_headers = true;
        } else if (strcmp(r.headers[i].name, "Access-Control-Max-Age") == 0) {
            assert_string_equal(r.headers[i].value, CORS_MAX_AGE);
            seen_age = true;
        }
    }
    assert_true(seen_methods && seen_headers && seen_age);
    /* a full header table is an error, not an overflow */
    r.n_headers = HTTP_MAX_RESP_HEADERS;
    assert_int_equal(cors_preflight(&c, &r, HTTP_GET), MWE_INTERNAL);
    buf_fini(&r.resp);
    arena_fini(&r.arena);
    cors_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disabled), cmocka_unit_test(test_exact_origins),
        cmocka_unit_test(test_any),      cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_preflight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
