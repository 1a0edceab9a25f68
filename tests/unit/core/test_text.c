/*
 * Unit tests for src/core/text.c: UTF-8 validity, media-type matching and separated lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static size_t len_of(const char *s, size_t n)
{
    return mw_utf8_len((const unsigned char *)s, n);
}

static void test_utf8_len(void **state)
{
    (void)state;
    assert_int_equal(len_of("a", 1), 1);
    assert_int_equal(len_of("\0", 1), 1);
    assert_int_equal(len_of("", 0), 0);
    assert_int_equal(len_of("\xC3\xA9", 2), 2);             /* é */
    assert_int_equal(len_of("\xE2\x82\xAC", 3), 3);         /* € */
    assert_int_equal(len_of("\xF0\x9F\x98\x80", 4), 4);     /* U+1F600 */
    assert_int_equal(len_of("\xF4\x8F\xBF\xBF", 4), 4);     /* U+10FFFF */
    assert_int_equal(len_of("\xED\x9F\xBF", 3), 3);         /* U+D7FF, last before surrogates */
    /* invalid: stray continuation, overlong forms, surrogates, past U+10FFFF, truncated */
    assert_int_equal(len_of("\x80", 1), 0);
    assert_int_equal(len_of("\xC0\xAF", 2), 0);
    assert_int_equal(len_of("\xC1\xBF", 2), 0);
    assert_int_equal(len_of("\xE0\x9F\xBF", 3), 0);
    assert_int_equal(len_of("\xF0\x8F\xBF\xBF", 4), 0);
    assert_int_equal(len_of("\xED\xA0\x80", 3), 0);
    assert_int_equal(len_of("\xF4\x90\x80\x80", 4), 0);
    assert_int_equal(len_of("\xF5\x80\x80\x80", 4), 0);
    assert_int_equal(len_of("\xFF", 1), 0);
    assert_int_equal(len_of("\xE2\x82\xAC", 2), 0);
    assert_int_equal(len_of("\xC3" "a", 2), 0);
    assert_int_equal(len_of("\xE2\x82" "a", 3), 0);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(mw_utf8_valid("", 0));
    assert_true(mw_utf8_valid("plain ascii", 11));
    assert_true(mw_utf8_valid("caf\xC3\xA9 \xE2\x82\xAC", 9));
    assert_true(mw_utf8_valid("a\0b", 3));
    assert_false(mw_utf8_valid("caf\xC3", 4));
    assert_false(mw_utf8_valid("\xED\xA0\x80", 3));
    assert_false(mw_utf8_valid("ok\xFE", 3));
}

static bool ct_is(const char *ct, const char *want)
{
    struct slice s = {ct, ct ? strlen(ct) : 0};
    return mw_media_type_is(s, want);
}

static void test_media_type_is(void **state)
{
    (void)state;
    assert_true(ct_is("application/json", "application/json"));
    assert_true(ct_is("Application/JSON", "application/json"));
    assert_true(ct_is("application/json; charset=utf-8", "application/json"));
    assert_true(ct_is("application/json;charset=utf-8", "application/json"));
    assert_true(ct_is("application/json \t", "application/json"));
    assert_true(ct_is("application/json \t; x=y", "application/json"));
    assert_true(ct_is("application/octet-stream", "application/octet-stream"));
    assert_false(ct_is("application/jsonx", "application/json"));
    assert_false(ct_is("application/json-patch+json", "application/json"));
    assert_false(ct_is("application/jso", "application/json"));
    assert_false(ct_is("text/json", "application/json"));
    assert_false(ct_is("application/json x", "application/json"));
    assert_false(ct_is("", "application/json"));
    assert_false(ct_is(NULL, "application/json"));
    assert_false(ct_is("application/octet-stream", "application/json"));
}

static void test_list_next(void **state)
{
    const char *p = " predict,read\tadmin,, metrics ,";
    const char *want[] = {"predict", "read", "admin", "metrics"};
    struct slice item;
    size_t n = 0;

    (void)state;
    while (mw_list_next(&p, &item)) {
        assert_true(n < MW_ARRAY_LEN(want));
        assert_true(slice_eq(item, want[n]));
        n++;
    }
    assert_int_equal(n, 4);
    assert_int_equal(*p, '\0');
    assert_false(mw_list_next(&p, &item));

    p = "";
    assert_false(mw_list_next(&p, &item));
    p = " ,\t, ";
    assert_false(mw_list_next(&p, &item));
    p = NULL;
    assert_false(mw_list_next(&p, &item));
    p = "one";
    assert_true(mw_list_next(&p, &item));
    assert_true(slice_eq(item, "one"));
    assert_false(mw_list_next(&p, &item));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_len),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_media_type_is),
        cmocka_unit_test(test_list_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
