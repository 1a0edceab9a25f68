/*
 * Unit tests for src/core/error.c: the error table accessors and mw_fail.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_known_errors(void **state)
{
    (void)state;
    assert_string_equal(mw_errcode(MWE_BAD_REQUEST), "bad_request");
    assert_int_equal(mw_errstatus(MWE_BAD_REQUEST), 400);
    assert_string_equal(mw_errcode(MWE_INVALID_JSON), "invalid_json");
    assert_string_equal(mw_strerror(MWE_INVALID_JSON), "The request body is not valid JSON.");
    assert_int_equal(mw_errstatus(MWE_INVALID_INPUT), 422);
    assert_int_equal(mw_errstatus(MWE_UNAUTHENTICATED), 401);
    assert_int_equal(mw_errstatus(MWE_INSUFFICIENT_SCOPE), 403);
    assert_int_equal(mw_errstatus(MWE_MODEL_NOT_FOUND), 404);
    assert_int_equal(mw_errstatus(MWE_METHOD_NOT_ALLOWED), 405);
    assert_int_equal(mw_errstatus(MWE_BODY_TOO_LARGE), 413);
    assert_int_equal(mw_errstatus(MWE_RATE_LIMITED), 429);
    assert_string_equal(mw_errcode(MWE_RATE_LIMITED), "rate_limited");
    assert_int_equal(mw_errstatus(MWE_HEADERS_TOO_LARGE), 431);
    assert_int_equal(mw_errstatus(MWE_OVERLOADED), 503);
    assert_string_equal(mw_errcode(MWE_DEADLINE), "deadline_exceeded");
    assert_int_equal(mw_errstatus(MWE_DEADLINE), 504);
    /* The last entry of the table, so an off-by-one in indexing shows. */
    assert_string_equal(mw_errcode(MWE_IO), "io_error");
    assert_string_equal(mw_strerror(MWE_IO), "Input/output error.");
}

static void test_every_entry_sane_and_unique(void **state)
{
    int a;
    int b;

    (void)state;
    for (a = MWE_FIRST_ + 1; a < MWE_LAST_; a++) {
        assert_true(a < 0);
        assert_true(strlen(mw_errcode(a)) > 0);
        assert_true(strlen(mw_strerror(a)) > 0);
        assert_in_range(mw_errstatus(a), 400, 599);
        for (b = a + 1; b < MWE_LAST_; b++)
            assert_string_not_equal(mw_errcode(a), mw_errcode(b));
    }
}

static void test_out_of_range_is_internal(void **state)
{
    const int bad[] = {0, 1, -1, MWE_FIRST_, MWE_LAST_, INT_MIN, INT_MAX, -22};
    size_t i;

    (void)state;
    for (i = 0; i < MW_ARRAY_LEN(bad); i++) {
        assert_string_equal(mw_errcode(bad[i]), "internal_error");
        assert_string_equal(mw_strerror(bad[i]), mw_strerror(MWE_INTERNAL));
        assert_int_equal(mw_errstatus(bad[i]), 500);
    }
}

static void test_fail_formats(void **state)
{
    struct mw_error e;

    (void)state;
    memset(&e, 'x', sizeof(e));
    assert_int_equal(
        mw_fail(&e, MWE_INVALID_INPUT, "records[%d].%s: expected %s", 3, "petal_width", "number"),
        MWE_INVALID_INPUT);
    assert_int_equal(e.code, MWE_INVALID_INPUT);
    assert_string_equal(e.msg, "records[3].petal_width: expected number");
    /* NULL e: still returns the code. */
    assert_int_equal(mw_fail(NULL, MWE_IO, "%s", "ignored"), MWE_IO);
}

static void test_fail_truncates_long(void **state)
{
    struct mw_error e;
    char big[1000];

    (void)state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mw_fail(&e, MWE_BAD_REQUEST, "%s", big);
    assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
    assert_int_equal(e.msg[0], 'a');
}

static void test_fail_truncates_on_utf8_boundary(void **state)
{
    struct mw_error e;
    char big[300];
    size_t n = sizeof(e.msg) - 2; /* "é" (2 bytes) straddles the last usable byte */
    size_t len;

    (void)state;
    memset(big, 'a', n);
    memcpy(big + n, "\xc3\xa9zz", 4);
    big[n + 4] = '\0';
    mw_fail(&e, MWE_BAD_REQUEST, "%s", big);
    len = strlen(e.msg);
    assert_int_equal(len, n);
    assert_int_equal(e.msg[len - 1], 'a');

    /* A 4-byte character cut after 3 bytes is removed whole. */
    n = sizeof(e.msg) - 4;
    memset(big, 'b', n);
    memcpy(big + n, "\xf0\x9f\x98\x80", 4);
    big[n + 4] = '\0';
    mw_fail(&e, MWE_BAD_REQUEST, "%s", big);
    assert_int_equal(strlen(e.msg), n);

    /* One that fits exactly is kept. */
    n = sizeof(e.msg) - 5;
    memset(big, 'c', n);
    memcpy(big + n, "\xf0\x9f\x98\x80zz", 6);
    big[n + 6] = '\0';
    mw_fail(&e, MWE_BAD_REQUEST, "%s", big);
    assert_int_equal(strlen(e.msg), n + 4);
    assert_memory_equal(e.msg + n, "\xf0\x9f\x98\x80", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_errors),
        cmocka_unit_test(test_every_entry_sane_and_unique),
        cmocka_unit_test(test_out_of_range_is_internal),
        cmocka_unit_test(test_fail_formats),
        cmocka_unit_test(test_fail_truncates_long),
        cmocka_unit_test(test_fail_truncates_on_utf8_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
