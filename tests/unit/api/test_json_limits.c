/* Unit tests of the JSON limits checked before parsing: nesting depth and value count, strings
 * and escapes skipped, never reading past the given length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

static int check(const char *text, unsigned depth, unsigned elements, struct mw_error *e)
{
    struct config cfg;
    size_t n = strlen(text);
    char *copy = malloc(n ? n : 1); /* exact size, no NUL: a read past n is an ASan report */
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, n);
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_json_depth = depth;
    cfg.max_json_elements = elements;
    memset(e, 0, sizeof(*e));
    rc = mw_json_limits_check(copy, n, &cfg, e);
    free(copy);
    return rc;
}

/* The smallest element limit that passes (the exact count for valid JSON). */
static unsigned count(const char *text)
{
    struct mw_error e;
    for (unsigned k = 0; k < 10000; k++)
        if (check(text, 1000, k, &e) == 0)
            return k;
    fail_msg("no limit passes");
    return 0;
}

static void test_depth(void **state)
{
    struct mw_error e;
    (void)state;

    assert_int_equal(check("[[[[1]]]]", 4, 100, &e), 0);
    assert_int_equal(check("[[[[1]]]]", 3, 100, &e), MWE_INVALID_JSON);
    assert_int_equal(e.code, MWE_INVALID_JSON);
    assert_non_null(strstr(e.msg, "deeper than 3"));
    assert_int_equal(check("{\"a\":{\"b\":{\"c\":[]}}}", 4, 100, &e), 0);
    assert_int_equal(check("{\"a\":{\"b\":{\"c\":[]}}}", 3, 100, &e), MWE_INVALID_JSON);
    /* siblings do not add up */
    assert_int_equal(check("[[1],[2],[3],[[4]]]", 3, 100, &e), 0);
    /* brackets inside strings are text */
    assert_int_equal(check("[\"[[[[[[{{{{\"]", 1, 100, &e), 0);
    assert_int_equal(check("[\"\\\"[[[[[\"]", 1, 100, &e), 0);
    assert_int_equal(check("[\"\\\\\",[[1]]]", 2, 100, &e), MWE_INVALID_JSON);
    /* stray closers never underflow */
    assert_int_equal(check("]]]]}}}}[[1]]", 2, 100, &e), 0);
}

static void test_elements(void **state)
{
    struct mw_error e;
    (void)state;

    assert_int_equal(count(""), 0);
    assert_int_equal(count("   "), 0);
    assert_int_equal(count("1"), 1);
    assert_int_equal(count("\"a,b,c\""), 1);
    assert_int_equal(count("[]"), 1);
    assert_int_equal(count("{}"), 1);
    assert_int_equal(count("[1]"), 2);
    assert_int_equal(count("[1,2,3]"), 4);
    assert_int_equal(count(" [ 1 , 2 , 3 ] "), 4);
    assert_int_equal(count("[[],{},[]]"), 4);
    assert_int_equal(count("{\"a\":1,\"b\":[1,2]}"), 5);
    assert_int_equal(count("{\"data\":[{\"x\":1,\"y\":2},{\"x\":3,\"y\":4}]}"), 8);
    assert_int_equal(count("[\"a,b\", \"c\\\",d\"]"), 3);
    assert_int_equal(check("[1,2,3]", 10, 3, &e), MWE_INVALID_JSON);
    assert_non_null(strstr(e.msg, "more than 3 values"));
}

static void test_large(void **state)
{
    struct mw_error e;
    struct config cfg;
    size_t n = 2 * 1000000 + 1;
    char *big = malloc(n);
    (void)state;

    assert_non_null(big);
    big[0] = '[';
    for (size_t i = 1; i < n; i += 2) {
        big[i] = '0';
        big[i + 1] = i + 2 < n ? ',' : ']';
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_json_depth = 32;
    cfg.max_json_elements = 1000001;
    assert_int_equal(mw_json_limits_check(big, n, &cfg, &e), 0);
    cfg.max_json_elements = 1000000;
    assert_int_equal(mw_json_limits_check(big, n, &cfg, &e), MWE_INVALID_JSON);
    /* 100000 nested arrays stop at the depth limit */
    memset(big, '[', 100000);
    assert_int_equal(mw_json_limits_check(big, 100000, &cfg, &e), MWE_INVALID_JSON);
    assert_non_null(strstr(e.msg, "deeper"));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_elements),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
