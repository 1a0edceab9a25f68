/* Unit tests of the response helpers: the one error body shape and response headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http/http.h"

static void req_init(struct request *r, const char *id)
{
    memset(r, 0, sizeof(*r));
    arena_init(&r->arena, 0);
    buf_init(&r->resp, 1 << 20);
    snprintf(r->id, sizeof(r->id), "%s", id);
}

static void req_fini(struct request *r)
{
    buf_fini(&r->resp);
    arena_fini(&r->arena);
}

static void test_error_body(void **state)
{
    struct request r;
    json_error_t jerr;
    req_init(&r, "rid-\"1\"");
    buf_append(&r.resp, "junk", 4);
    http_set_error(&r, MWE_BODY_TOO_LARGE, "too \"big\"\n");
    assert_int_equal(r.status, 413);
    assert_int_equal(r.err, MWE_BODY_TOO_LARGE);
    assert_string_equal(r.content_type, "application/json");
    json_t *j = json_loadb(r.resp.ptr, r.resp.len, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "too \"big\"\n");
    assert_string_equal(json_string_value(json_object_get(j, "code")), "body_too_large");
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "rid-\"1\"");
    json_decref(j);

    /* Default message from the error table. */
    http_set_error(&r, MWE_NOT_FOUND, NULL);
    j = json_loadb(r.resp.ptr, r.resp.len, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "error")), mw_strerror(MWE_NOT_FOUND));
    assert_int_equal(r.status, 404);
    json_decref(j);
    req_fini(&r);
}

static void test_headers(void **state)
{
    struct request r;
    char value[8] = "abc";
    req_init(&r, "x");
    assert_int_equal(http_header_add(&r, "Allow", value), 0);
    value[0] = 'z'; /* the header keeps its own copy */
    assert_string_equal(r.headers[0].value, "abc");
    for (size_t i = 1; i < HTTP_MAX_RESP_HEADERS; i++)
        assert_int_equal(http_header_add(&r, "X-N", "1"), 0);
    assert_int_equal(http_header_add(&r, "X-Over", "1"), MWE_INTERNAL);
    assert_int_equal(r.n_headers, HTTP_MAX_RESP_HEADERS);
    req_fini(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
