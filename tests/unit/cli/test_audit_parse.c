/*
 * The access review's record parsers against the server's own encoders: records with every
 * character the CEF escapes touch ('\', '=', '|', line ends, spaces) go through
 * audit_encode_cef / audit_encode_json and must come back field for field; plus the CEF shapes
 * that are not records and the timestamp parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "cli/cli_int.h"

static struct arec_parser ap;

static int setup(void **state)
{
    (void)state;
    return arec_parser_init(&ap);
}

static int teardown(void **state)
{
    (void)state;
    arec_parser_fini(&ap);
    return 0;
}

static void same(struct slice s, const char *want)
{
    if (want == NULL || want[0] == '\0') {
        assert_true(s.ptr == NULL || s.len == 0);
        return;
    }
    assert_non_null(s.ptr);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)s.len, s.ptr, want);
}

static void roundtrip(const struct audit_record *rec)
{
    struct buf b;
    struct arec r;
    int fmt;

    for (fmt = 0; fmt < 2; fmt++) {
        buf_init(&b, 1 << 20);
        assert_int_equal(fmt == 0 ? audit_encode_json(&b, rec, "host-1")
                                  : audit_encode_cef(&b, rec, "host-1"),
                         0);
        /* The encoders end the record with a line end; the reader gets the line without it. */
        while (b.len > 0 && (b.ptr[b.len - 1] == '\n'))
            b.len--;
        assert_int_equal(arec_parse_line(&ap, b.ptr, b.len, &r), 0);
        assert_int_equal(r.type, rec->kind == AUDIT_EVENT ? AREC_EVENT : AREC_REQUEST);
        assert_int_equal(r.time_ms, (int64_t)rec->time_ms);
        assert_int_equal(r.signature, rec->sig);
        assert_int_equal(r.status, rec->status);
        assert_int_equal(r.bytes_in, rec->bytes_in);
        assert_int_equal(r.records, rec->records);
        same(r.client, rec->client);
        same(r.principal_id, rec->principal_id);
        same(r.key_id, rec->key_id);
        same(r.client_id, rec->client_id);
        same(r.model, rec->model);
        same(r.outcome, rec->outcome);
        same(r.route, rec->route);
        same(r.scope, rec->scope);
        same(r.principal_kind, rec->principal_kind == PRINCIPAL_API_KEY ? "api-key"
                               : rec->principal_kind == PRINCIPAL_JWT   ? "jwt"
                                                                        : "none");
        if (rec->kind == AUDIT_EVENT)
            assert_int_equal(r.count, rec->count);
        buf_fini(&b);
    }
}

static void fill(struct audit_record *rec, unsigned seed)
{
    static const char alphabet[] = "ab=\\| \n\rZ9.-_:/%\"";
    char s[5][40];

    memset(rec, 0, sizeof(*rec));
    for (int k = 0; k < 5; k++) {
        size_t n = 1 + (seed * 7u + (unsigned)k * 13u) % 30u;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[k][i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        s[k][n] = '\0';
    }
    rec->kind = seed % 3 == 0 ? AUDIT_EVENT : AUDIT_REQUEST;
    rec->sig = rec->kind == AUDIT_EVENT ? 220 : 100 + (int)(seed % 6);
    rec->time_ms = 1796083200000ull + seed % 100000000u;
    rec->status = rec->sig == 100 ? 200 : 401;
    rec->principal_kind = seed % 2 ? PRINCIPAL_API_KEY : PRINCIPAL_JWT;
    rec->outcome = "auth.invalid_key";
    rec->route = "v1_predict";
    rec->scope = "predict";
    rec->bytes_in = seed % 1000000u;
    rec->records = seed % 5000u;
    rec->count = 1 + seed % 9u;
    snprintf(rec->method, sizeof(rec->method), "POST");
    snprintf(rec->request_id, sizeof(rec->request_id), "%08x", seed);
    snprintf(rec->client, sizeof(rec->client), "10.0.%u.%u", seed % 256u, (seed >> 8) % 256u);
    snprintf(rec->principal_id, sizeof(rec->principal_id), "%s", s[0]);
    snprintf(rec->key_id, sizeof(rec->key_id), "%s", s[1]);
    snprintf(rec->client_id, sizeof(rec->client_id), "%s", s[2]);
    snprintf(rec->model, sizeof(rec->model), "%s", s[3]);
    snprintf(rec->path, sizeof(rec->path), "/%s", s[4]);
    snprintf(rec->user_agent, sizeof(rec->user_agent), "ua %s", s[4]);
}

static void test_roundtrip_with_the_encoders(void **state)
{
    struct audit_record rec;
    (void)state;
    for (unsigned seed = 1; seed <= 3000; seed++) {
        fill(&rec, seed);
        roundtrip(&rec);
    }
}

static void test_cef_shapes(void **state)
{
    static const char *const bad[] = {
        "CEF:0|modelwrap|modelwrap|0.1.0|100|Request served|1", /* no extension */
        "CEF:0|modelwrap|modelwrap|0.1.0|100|Request served|1|",
        "CEF:0|modelwrap|modelwrap|0.1.0|x100|Request served|1|rt=1",
        "CEF:0|modelwrap|modelwrap|100|Request served|1|rt=1", /* 6 header fields */
        "CEF:0|modelwrap|modelwrap|0.1.0|100|Request served|1|src=1.2.3.4", /* no rt */
        "CEF:0|modelwrap|modelwrap|0.1.0|100|Request served|1| rt=1",
        "CEF:0|modelwrap|modelwrap|0.1.0|100|Request served|1|rt=abc",
        "CEF:0|modelwrap|modelwrap|0.1.0|100\\|Request served|1|rt=1",
        "{\"type\":\"request\",\"time\":\"yesterday\"}",
        "{\"type\":\"other\",\"time\":\"2026-12-01T00:00:00Z\"}",
        "[1,2]",
        "just a line",
    };
    struct arec r;
    const char *ok = "<110>1 2026-12-01T00:00:00Z h modelwrap 1 security - "
                     "CEF:0|modelwrap|modelwrap|0.1.0|210|After \\| hours|5|rt=1796083200000 "
                     "suser=a b\\=c msg=two words\\\\ and\\nmore cnt=4 unknownKey=x=y cs1=jwt";
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (arec_parse_line(&ap, bad[i], strlen(bad[i]), &r) == 0)
            fail_msg("accepted: %s", bad[i]);
    assert_int_equal(arec_parse_line(&ap, ok, strlen(ok), &r), 0);
    assert_int_equal(r.type, AREC_EVENT);
    assert_int_equal(r.signature, 210);
    assert_int_equal(r.time_ms, 1796083200000);
    same(r.name, "After | hours");
    same(r.principal_id, "a b=c");
    same(r.message, "two words\\ and\nmore");
    assert_int_equal(r.count, 4);
    same(r.principal_kind, "jwt");
    /* A length that ends inside the line is honoured: nothing past it is read. */
    assert_int_equal(arec_parse_line(&ap, ok, strlen(ok) - strlen(" cs1=jwt"), &r), 0);
    same(r.principal_kind, NULL);
}

static void test_time(void **state)
{
    int64_t ms = 0;
    (void)state;
    assert_true(arec_parse_time("1970-01-01T00:00:00Z", 20, &ms));
    assert_int_equal(ms, 0);
    assert_true(arec_parse_time("2026-12-01T00:00:00.250Z", 24, &ms));
    assert_int_equal(ms, 1796083200250);
    assert_true(arec_parse_time("2024-02-29T23:59:59.999Z", 24, &ms));
    assert_int_equal(ms, 1709251199999);
    assert_false(arec_parse_time("2026-12-01 00:00:00Z", 20, &ms));
    assert_false(arec_parse_time("2026-13-01T00:00:00Z", 20, &ms));
    assert_false(arec_parse_time("2026-12-01T00:00:00.25Z", 23, &ms));
    assert_false(arec_parse_time("2026-12-01T00:00:00+01:00", 25, &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_with_the_encoders),
        cmocka_unit_test(test_cef_shapes),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
