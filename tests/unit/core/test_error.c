/*
 * Unit tests for src/core/error.c: the error table accessors and mw_fail.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    assert_string_equal(mw_errcode(MWE_IO), "io_error");
    assert_string_equal(mw_strerror(MWE_IO), "Input/output error.");
    /* The first and the last entries of the table, so an off-by-one in indexing shows. A new
     * entry appended to the table becomes the last one here. */
    assert_int_equal(MWE_BAD_REQUEST, MWE_FIRST_ + 1);
    assert_string_equal(mw_errcode(MWE_FIRST_ + 1), "bad_request");
    assert_int_equal(MWE_RATE_LIMIT_UNAVAILABLE, MWE_LAST_ - 1);
    assert_string_equal(mw_errcode(MWE_LAST_ - 1), "rate_limit_unavailable");
    assert_string_equal(mw_strerror(MWE_LAST_ - 1),
                        "The rate-limit store is unavailable; retry later.");
    assert_int_equal(mw_errstatus(MWE_LAST_ - 1), 503);
}

/* The enum names of the table, in order, for the golden comparison. */
static const char *const err_names[] = {
#define MW_X(name, code, status, msg) #name,
    MW_ERROR_MAP(MW_X)
#undef MW_X
};

/* tests/unit/core/error_table.golden holds every entry ever published: "value NAME code status"
 * in table order. Clients key on the code and the status, so an entry may never change, move or
 * go; new entries are appended to the table and to the file. */
static void test_table_is_append_only(void **state)
{
    const char *src = getenv("MW_SOURCE_DIR");
    char path[4096], line[256], name[64], code[64];
    int value, status, want = MWE_FIRST_ + 1, n;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/tests/unit/core/error_table.golden", src ? src : ".");
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        n = sscanf(line, "%d %63s %63s %d", &value, name, code, &status);
        if (n != 4)
            fail_msg("%s: malformed line: %s", path, line);
        if (value != want)
            fail_msg("%s: entry %s has value %d, expected %d (lines in table order, none removed)",
                     path, name, value, want);
        if (value >= MWE_LAST_)
            fail_msg("entry %s (%d) was removed from MW_ERROR_MAP or moved", name, value);
        if (strcmp(err_names[value - (MWE_FIRST_ + 1)], name) != 0)
            fail_msg("MW_ERROR_MAP entry %d is %s, was %s: existing entries never move", value,
                     err_names[value - (MWE_FIRST_ + 1)], name);
        if (strcmp(mw_errcode(value), code) != 0 || mw_errstatus(value) != status)
            fail_msg("MWE_%s is now \"%s\" %d, was \"%s\" %d: codes and statuses never change",
                     name, mw_errcode(value), mw_errstatus(value), code, status);
        want++;
    }
    fclose(f);
    if (want != MWE_LAST_)
        fail_msg("MW_ERROR_MAP has %d entries after the golden list's last (MWE_%s first): append "
                 "them to %s",
                 MWE_LAST_ - want, err_names[want - (MWE_FIRST_ + 1)], path);
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
        cmocka_unit_test(test_table_is_append_only),
        cmocka_unit_test(test_out_of_range_is_internal),
        cmocka_unit_test(test_fail_formats),
        cmocka_unit_test(test_fail_truncates_long),
        cmocka_unit_test(test_fail_truncates_on_utf8_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
