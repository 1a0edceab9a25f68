/*
 * Unit tests for src/audit/record.c: a record built from a struct request holds the identity,
 * route, outcome (reason code, else error code, else ok/aborted), sizes, timing, user agent and
 * trace id, the peer only behind a proxy, the right signature per status, and bounded copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "auth/auth.h"

/* What the api knows of the request under test (the principal and the model), as audit_who. */
static struct principal principal;
static const char *model_name;
static const char *model_version;

static const struct audit_who *who(void)
{
    static struct audit_who w;
    w.principal_kind = principal.kind;
    w.principal_id = principal.id;
    w.client_id = principal.client_id;
    w.key_id = principal.key_id;
    w.model = model_name;
    w.model_version = model_version;
    return &w;
}

static const struct route predict_route = {HTTP_POST, "/api/v1/predict", NULL,
                                           "predict", "v1_predict",      true};

static struct request *new_request(void)
{
    struct request *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    snprintf(r->id, sizeof(r->id), "%s", "0123456789abcdef0000000000000001");
    r->method_str = "POST";
    r->method = HTTP_POST;
    r->path = "/api/v1/predict";
    r->path_len = strlen(r->path);
    snprintf(r->client_addr, sizeof(r->client_addr), "%s", "192.0.2.1");
    snprintf(r->peer_addr, sizeof(r->peer_addr), "%s", "192.0.2.1");
    r->t_start_ns = 1000000000ull;
    r->bytes_in = 120;
    r->bytes_out = 340;
    r->status = 200;
    r->route = &predict_route;
    model_name = "iris";
    model_version = "2";
    memset(&principal, 0, sizeof(principal));
    principal.kind = PRINCIPAL_API_KEY;
    snprintf(principal.id, sizeof(principal.id), "%s", "key-1");
    snprintf(principal.key_id, sizeof(principal.key_id), "%s", "key-1");
    snprintf(principal.name, sizeof(principal.name), "Alice"); /* display only */
    return r;
}

static const char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void test_fill_accepted(void **state)
{
    struct request *r = new_request();
    struct audit_record rec;

    (void)state;
    memset(&rec, 0x5a, sizeof(rec)); /* every field must be written */
    audit_record_fill(&rec, r, who(), true, 3, 1700000000500ull, 1000000000ull + 2500000ull,
                      SLICE_LIT("curl/8.0"), (struct slice){tp, sizeof(tp) - 1});
    assert_int_equal(rec.kind, AUDIT_REQUEST);
    assert_int_equal(rec.sig, AUDIT_SIG_OK);
    assert_int_equal(rec.status, 200);
    assert_int_equal(rec.duration_us, 2500);
    assert_int_equal(rec.time_ms, 1700000000500ull - 2); /* when the request began */
    assert_int_equal(rec.bytes_in, 120);
    assert_int_equal(rec.bytes_out, 340);
    assert_int_equal(rec.records, 3);
    assert_int_equal(rec.principal_kind, PRINCIPAL_API_KEY);
    assert_false(rec.aborted);
    assert_false(rec.truncated);
    assert_string_equal(rec.outcome, "ok");
    assert_string_equal(rec.route, "v1_predict");
    assert_string_equal(rec.scope, "predict");
    assert_string_equal(rec.method, "POST");
    assert_string_equal(rec.request_id, "0123456789abcdef0000000000000001");
    assert_string_equal(rec.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(rec.client, "192.0.2.1");
    assert_string_equal(rec.peer, ""); /* no proxy */
    assert_string_equal(rec.principal_id, "key-1");
    assert_string_equal(rec.client_id, "");
    assert_string_equal(rec.key_id, "key-1");
    assert_string_equal(rec.model, "iris");
    assert_string_equal(rec.model_version, "2");
    assert_string_equal(rec.path, "/api/v1/predict");
    assert_string_equal(rec.user_agent, "curl/8.0");
    assert_int_equal(rec.count, 0);
    assert_int_equal(rec.threshold, 0);
    assert_int_equal(rec.window_s, 0);
    assert_null(strstr(rec.principal_id, "Alice"));
    free(r);
}

static void test_outcomes_and_signatures(void **state)
{
    static const struct {
        int status;
        int err;
        const char *outcome;
        bool completed;
        int sig;
        const char *want;
    } cases[] = {
        {401, MWE_UNAUTHENTICATED, "auth.missing", true, AUDIT_SIG_AUTHN, "auth.missing"},
        {401, MWE_INVALID_TOKEN, NULL, true, AUDIT_SIG_AUTHN, "invalid_token"},
        {403, MWE_INSUFFICIENT_SCOPE, "auth.insufficient_scope", true, AUDIT_SIG_AUTHZ,
         "auth.insufficient_scope"},
        {429, MWE_RATE_LIMITED, "limit.rate", true, AUDIT_SIG_LIMITED, "limit.rate"},
        {404, MWE_NOT_FOUND, NULL, true, AUDIT_SIG_REFUSED, "not_found"},
        {413, MWE_BODY_TOO_LARGE, NULL, true, AUDIT_SIG_REFUSED, "body_too_large"},
        {503, MWE_OVERLOADED, "audit.unavailable", true, AUDIT_SIG_FAILED, "audit.unavailable"},
        {504, MWE_DEADLINE, NULL, true, AUDIT_SIG_FAILED, "deadline_exceeded"},
        {200, 0, NULL, false, AUDIT_SIG_ABORTED, "aborted"},
        {0, 0, NULL, true, AUDIT_SIG_FAILED, "ok"},
        {302, 0, NULL, true, AUDIT_SIG_OK, "ok"},
    };
    struct audit_record rec;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct request *r = new_request();
        r->status = cases[i].status;
        r->err = cases[i].err;
        r->outcome = cases[i].outcome;
        audit_record_fill(&rec, r, who(), cases[i].completed, 0, 1700000000000ull, r->t_start_ns,
                          (struct slice){NULL, 0}, (struct slice){NULL, 0});
        assert_int_equal(rec.sig, cases[i].sig);
        assert_string_equal(rec.outcome, cases[i].want);
        assert_int_equal(rec.aborted, !cases[i].completed);
        if (!cases[i].completed)
            assert_int_equal(rec.bytes_out, 0); /* nothing was delivered */
        assert_string_equal(rec.user_agent, "");
        assert_string_equal(rec.trace_id, "");
        free(r);
    }
}

static void test_refused_before_routing(void **state)
{
    struct request *r = new_request();
    struct audit_record rec;

    (void)state;
    r->route = NULL;
    r->status = 404;
    r->err = MWE_NOT_FOUND;
    model_name = NULL;
    model_version = NULL;
    memset(&principal, 0, sizeof(principal));
    audit_record_fill(&rec, r, who(), true, 0, 1700000000000ull, r->t_start_ns, (struct slice){NULL, 0},
                      (struct slice){NULL, 0});
    assert_null(rec.route);
    assert_null(rec.scope);
    assert_string_equal(rec.model, "");
    assert_string_equal(rec.principal_id, "");
    assert_int_equal(rec.principal_kind, PRINCIPAL_NONE);
    free(r);
}

static void test_proxy_and_truncation(void **state)
{
    struct request *r = new_request();
    struct audit_record rec;
    char *long_path = malloc(5000);
    char ua[2000];

    (void)state;
    /* behind a trusted proxy: client_addr is the forwarded client, peer_addr the proxy */
    snprintf(r->client_addr, sizeof(r->client_addr), "%s", "198.51.100.23");
    snprintf(r->peer_addr, sizeof(r->peer_addr), "%s", "10.0.0.5");
    memset(long_path, 'a', 4999);
    long_path[0] = '/';
    memcpy(long_path + AUDIT_PATH_MAX - 2, "\xE2\x82\xAC", 3); /* a euro across the cut */
    long_path[4999] = '\0';
    r->path = long_path;
    r->path_len = 4999;
    memset(ua, 'u', sizeof(ua));
    audit_record_fill(&rec, r, who(), true, 0, 1700000000000ull, r->t_start_ns,
                      (struct slice){ua, sizeof(ua)}, (struct slice){tp, 20});
    assert_string_equal(rec.client, "198.51.100.23");
    assert_string_equal(rec.peer, "10.0.0.5");
    assert_true(rec.truncated);
    assert_int_equal(strlen(rec.path), AUDIT_PATH_MAX - 2); /* the euro did not fit whole */
    assert_int_equal(strlen(rec.user_agent), AUDIT_UA_MAX - 1);
    assert_string_equal(rec.trace_id, ""); /* a cut traceparent is invalid */
    /* the path is bounded by path_len, not by a NUL */
    r->path = "/abcdef";
    r->path_len = 3;
    audit_record_fill(&rec, r, who(), true, 0, 1700000000000ull, r->t_start_ns, (struct slice){NULL, 0},
                      (struct slice){NULL, 0});
    assert_string_equal(rec.path, "/ab");
    assert_false(rec.truncated);
    free(long_path);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fill_accepted),
        cmocka_unit_test(test_outcomes_and_signatures),
        cmocka_unit_test(test_refused_before_routing),
        cmocka_unit_test(test_proxy_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
