/*
 * Unit tests of the credential extraction (src/auth/creds.c: X-API-Key or the template's `token`
 * header, `Authorization: Bearer <token>`, credentials in the query string) and of the principal
 * of a verified client certificate (auth_cert_principal, src/auth/decide.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"

static struct slice S(const char *s)
{
    return (struct slice){s, s ? strlen(s) : 0};
}

static void assert_slice(struct slice got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    assert_memory_equal(got.ptr, want, got.len);
}

static void test_api_key_headers(void **state)
{
    struct auth_creds c;
    (void)state;

    memset(&c, 0, sizeof(c));
    auth_creds_from_headers(&c, S("  mw_key \t"), S("other"), S(NULL));
    assert_slice(c.api_key, "mw_key");
    assert_false(c.bad_header);
    assert_int_equal(c.bearer.len, 0);

    /* a blank X-API-Key falls back to the template's `token` header */
    memset(&c, 0, sizeof(c));
    auth_creds_from_headers(&c, S(" "), S(" tok "), S(NULL));
    assert_slice(c.api_key, "tok");
}

static void test_bearer(void **state)
{
    static const struct {
        const char *h;
        const char *token; /* NULL: bad_header */
    } cases[] = {
        {"Bearer abc.def.ghi", "abc.def.ghi"},
        {"bearer \t abc  ", "abc"},
        {"BEARER x", "x"},
        {"Bearer", NULL},
        {"Bearer ", NULL},
        {"Bearer    ", NULL},
        {"Bearerabc", NULL},
        {"Basic dXNlcjpwdw==", NULL},
        {"Bearer a b", NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct auth_creds c;
        memset(&c, 0, sizeof(c));
        auth_creds_from_headers(&c, S(NULL), S(NULL), S(cases[i].h));
        if (cases[i].token) {
            assert_false(c.bad_header);
            assert_slice(c.bearer, cases[i].token);
        } else {
            assert_true(c.bad_header);
            assert_int_equal(c.bearer.len, 0);
        }
    }
}

static void test_query(void **state)
{
    (void)state;
    assert_true(auth_query_is_credential(S("API_KEY"), S("x")));
    assert_true(auth_query_is_credential(S("access_token"), S("")));
    assert_true(auth_query_is_credential(S("q"), S("mw_0123456789")));
    assert_false(auth_query_is_credential(S("q"), S("mw_")));
    assert_false(auth_query_is_credential(S("page"), S("2")));
}

static void test_cert_principal(void **state)
{
    struct principal p;
    struct auth_cert cert = {"CN=alice,O=Example", "alice", "alice.example.org",
                             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};
    (void)state;

    auth_cert_principal(NULL, &cert, &p);
    assert_int_equal(p.kind, PRINCIPAL_MTLS);
    assert_string_equal(p.id, "CN=alice,O=Example");
    assert_string_equal(p.name, "alice");
    assert_string_equal(p.client_id, "alice.example.org");
    assert_string_equal(p.key_id, "x509:00112233445566778899aabbccddeeff");
    assert_int_equal(p.scopes, 0); /* no context: no scopes */

    /* the display name falls back to the SAN, then to the subject */
    cert.cn = "";
    auth_cert_principal(NULL, &cert, &p);
    assert_string_equal(p.name, "alice.example.org");
    cert.san = "";
    auth_cert_principal(NULL, &cert, &p);
    assert_string_equal(p.name, "CN=alice,O=Example");
    assert_string_equal(p.client_id, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_key_headers),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_cert_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
