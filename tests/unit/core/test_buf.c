/*
 * Unit tests for src/core/buf.c: bounded growth, printf appends and the JSON string escaper
 * (checked against jansson's own parser).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/core.h"

static void test_append_grows(void **state)
{
    struct buf b;
    char chunk[100];
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_null(b.ptr);
    for (i = 0; i < 1000; i++) {
        memset(chunk, 'a' + (int)(i % 26), sizeof(chunk));
        assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
        assert_true(b.cap >= b.len + 1);
    }
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.ptr[b.len], '\0');
    for (i = 0; i < 1000; i++)
        assert_int_equal(b.ptr[i * 100 + 99], 'a' + (int)(i % 26));
    buf_fini(&b);
    assert_null(b.ptr);
    assert_int_equal(b.len, 0);
}

static void test_append_empty_gives_string(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, NULL, 0), 0);
    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");
    buf_fini(&b);
}

static void test_max_is_hard(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(buf_append(&b, "x", 1), MWE_BODY_TOO_LARGE);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.ptr, "0123456789");
    assert_true(b.cap <= 11); /* never allocates past what max can use */
    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.ptr, "");
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    assert_int_equal(buf_append(&b, "01234567", 8), MWE_BODY_TOO_LARGE);
    assert_string_equal(b.ptr, "abc");
    /* A length that would overflow len + n. */
    assert_int_equal(buf_append(&b, "x", SIZE_MAX), MWE_BODY_TOO_LARGE);
    assert_string_equal(b.ptr, "abc");
    buf_fini(&b);

    buf_init(&b, 0);
    assert_int_equal(buf_append(&b, "x", 1), MWE_BODY_TOO_LARGE);
    assert_int_equal(b.len, 0);
    buf_fini(&b);
}

static void test_appendf(void **state)
{
    struct buf b;
    char *big;
    size_t i;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_appendf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.ptr, "42-x");
    assert_int_equal(b.len, 4);
    big = malloc(5001);
    assert_non_null(big);
    memset(big, 'z', 5000);
    big[5000] = '\0';
    /* Longer than the current capacity: must grow, not truncate. */
    assert_int_equal(buf_appendf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 4 + 5002);
    assert_int_equal(b.ptr[4], '[');
    assert_int_equal(b.ptr[b.len - 1], ']');
    assert_int_equal(b.ptr[b.len], '\0');
    for (i = 5; i < 5005; i++)
        assert_int_equal(b.ptr[i], 'z');
    free(big);
    buf_fini(&b);
}

static void test_appendf_respects_max(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_appendf(&b, "%s", "abcd"), 0);
    /* Fits the allocation (cap 9) but not max: rejected, contents untouched. */
    assert_int_equal(buf_appendf(&b, "%s", "efghi"), MWE_BODY_TOO_LARGE);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.ptr, "abcd");
    assert_int_equal(buf_appendf(&b, "%s", "efgh"), 0);
    assert_string_equal(b.ptr, "abcdefgh");
    assert_int_equal(buf_appendf(&b, "%c", 'i'), MWE_BODY_TOO_LARGE);
    assert_string_equal(b.ptr, "abcdefgh");
    buf_fini(&b);

    /* Max larger than the first allocation: the slow path enforces it too. */
    buf_init(&b, 100);
    assert_int_equal(buf_appendf(&b, "%0101d", 7), MWE_BODY_TOO_LARGE);
    assert_true(b.ptr == NULL || b.ptr[0] == '\0');
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_appendf(&b, "%0100d", 7), 0);
    assert_int_equal(b.len, 100);
    assert_int_equal(b.ptr[99], '7');
    buf_fini(&b);
}

static const char *escape(struct buf *b, const char *s, size_t len)
{
    buf_reset(b);
    assert_int_equal(buf_append_json_escaped(b, s, len), 0);
    return b->ptr;
}

static void test_json_escape_cases(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 16);
    assert_string_equal(escape(&b, "", 0), "");
    assert_string_equal(escape(&b, "plain text", 10), "plain text");
    assert_string_equal(escape(&b, "a\"b\\c", 5), "a\\\"b\\\\c");
    assert_string_equal(escape(&b, "\n\r\t", 3), "\\n\\r\\t");
    assert_string_equal(escape(&b, "\x01\x1f\b\f", 4), "\\u0001\\u001f\\u0008\\u000c");
    assert_string_equal(escape(&b, "a\0b", 3), "a\\u0000b");
    /* DEL, the C1 controls (NEL too) and the line/paragraph separators are escaped: valid raw in
     * JSON, but line breaks to some collectors. */
    assert_string_equal(escape(&b, "\x7f", 1), "\\u007f");
    assert_string_equal(escape(&b, "a\xc2\x85z\xc2\x80\xc2\x9f", 8), "a\\u0085z\\u0080\\u009f");
    assert_string_equal(escape(&b, "\xe2\x80\xa8\xe2\x80\xa9", 6), "\\u2028\\u2029");
    assert_string_equal(escape(&b, "\xc2\xa0\xe2\x80\xa7", 5), "\xc2\xa0\xe2\x80\xa7");
    /* Valid UTF-8 (2, 3, 4 bytes) passes through. */
    assert_string_equal(escape(&b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(escape(&b, "\xf4\x8f\xbf\xbf", 4), "\xf4\x8f\xbf\xbf"); /* U+10FFFF */
    /* Invalid: each bad byte becomes U+FFFD. */
    assert_string_equal(escape(&b, "\xff", 1), "\\ufffd");
    assert_string_equal(escape(&b, "a\x80z", 3), "a\\ufffdz");
    assert_string_equal(escape(&b, "\xc0\x80", 2), "\\ufffd\\ufffd");            /* overlong NUL */
    assert_string_equal(escape(&b, "\xe0\x80\xaf", 3), "\\ufffd\\ufffd\\ufffd"); /* overlong */
    assert_string_equal(escape(&b, "\xed\xa0\x80", 3), "\\ufffd\\ufffd\\ufffd"); /* surrogate */
    assert_string_equal(escape(&b, "\xf4\x90\x80\x80", 4),
                        "\\ufffd\\ufffd\\ufffd\\ufffd");              /* past U+10FFFF */
    assert_string_equal(escape(&b, "\xe2\x82", 2), "\\ufffd\\ufffd"); /* cut short */
    assert_string_equal(escape(&b, "\xe2\x82x", 3), "\\ufffd\\ufffdx");
    assert_string_equal(escape(&b, "\xc3\xa9\xc3", 3), "\xc3\xa9\\ufffd");
    buf_fini(&b);
}

static void test_json_escape_appends_and_is_atomic(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 12);
    assert_int_equal(buf_append(&b, "\"", 1), 0);
    assert_int_equal(buf_append_json_escaped(&b, "ab", 2), 0);
    assert_string_equal(b.ptr, "\"ab");
    /* "x\n" escapes to 3 bytes plus 6 for \ufffd: 3 + 9 = 12 fits; one more byte does not. */
    assert_int_equal(buf_append_json_escaped(&b, "x\n\xff", 3), 0);
    assert_string_equal(b.ptr, "\"abx\\n\\ufffd");
    buf_reset(&b);
    assert_int_equal(buf_append(&b, "keep", 4), 0);
    assert_int_equal(buf_append_json_escaped(&b, "abc\"\"\"\"", 7), MWE_BODY_TOO_LARGE);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.ptr, "keep");
    buf_fini(&b);
}

/* Random bytes, escaped and quoted, must always be a JSON string that decodes. */
static void test_json_escape_random_is_valid_json(void **state)
{
    struct buf b;
    unsigned char in[64];
    json_t *j;
    json_error_t err;
    unsigned seed = 12345;
    size_t round;
    size_t i;
    size_t n;

    (void)state;
    buf_init(&b, 1 << 16);
    for (round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof(in);
        for (i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            /* Bias towards bytes that matter: controls, quotes, and UTF-8 lead/continuation. */
            in[i] = (unsigned char)(seed >> 16);
            if ((seed & 3) == 0)
                in[i] = (unsigned char)(0x80 | (in[i] & 0x3f));
        }
        buf_reset(&b);
        assert_int_equal(buf_append(&b, "\"", 1), 0);
        assert_int_equal(buf_append_json_escaped(&b, (const char *)in, n), 0);
        assert_int_equal(buf_append(&b, "\"", 1), 0);
        j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
        if (j == NULL)
            fail_msg("round %zu: %s: %s", round, err.text, b.ptr);
        assert_true(json_is_string(j));
        json_decref(j);
    }
    buf_fini(&b);
}

/* Valid UTF-8 with escapes round-trips exactly through jansson. */
static void test_json_escape_roundtrip(void **state)
{
    const char in[] = "line1\nline2\t\"q\" \\ caf\xc3\xa9 \xf0\x9f\x98\x80 \x01 end";
    struct buf b;
    json_t *j;

    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(buf_append(&b, "\"", 1), 0);
    assert_int_equal(buf_append_json_escaped(&b, in, sizeof(in) - 1), 0);
    assert_int_equal(buf_append(&b, "\"", 1), 0);
    j = json_loadb(b.ptr, b.len, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(j), in);
    json_decref(j);
    buf_fini(&b);
}

/* fmt_u64 / fmt_i64 / buf_append_u64 / buf_append_i64 against printf at the edges (every power of
 * ten and its neighbours, the extremes) and on random values. */
static void check_u64(uint64_t v)
{
    char want[32], got[32];
    size_t n = fmt_u64(got, v);

    snprintf(want, sizeof(want), "%" PRIu64, v);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void check_i64(int64_t v)
{
    char want[32], got[32];
    size_t n = fmt_i64(got, v);

    snprintf(want, sizeof(want), "%" PRId64, v);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void test_integers(void **state)
{
    struct buf b;
    uint64_t p = 1;
    uint64_t x = UINT64_C(0x9e3779b97f4a7c15);

    (void)state;
    for (int i = 0; i < 20; i++) {
        check_u64(p - 1);
        check_u64(p);
        check_u64(p + 1);
        check_i64((int64_t)(p - 1));
        check_i64(-(int64_t)(p - 1));
        if (p <= UINT64_MAX / 10)
            p *= 10;
    }
    check_u64(UINT64_MAX);
    check_i64(INT64_MAX);
    check_i64(INT64_MIN);
    check_i64(-1);
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        check_u64(x >> (i % 64));
        check_i64((int64_t)x >> (i % 64));
    }
    buf_init(&b, 64);
    assert_int_equal(buf_append_str(&b, "n="), 0);
    assert_int_equal(buf_append_u64(&b, 18446744073709551615u), 0);
    assert_int_equal(buf_append_str(&b, ","), 0);
    assert_int_equal(buf_append_i64(&b, -42), 0);
    assert_string_equal(b.ptr, "n=18446744073709551615,-42");
    buf_fini(&b);
    buf_init(&b, 3); /* max is hard for these too */
    assert_int_equal(buf_append_u64(&b, 1234), MWE_BODY_TOO_LARGE);
    assert_int_equal(buf_append_i64(&b, -12), 0);
    assert_string_equal(b.ptr, "-12");
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows),
        cmocka_unit_test(test_append_empty_gives_string),
        cmocka_unit_test(test_max_is_hard),
        cmocka_unit_test(test_appendf),
        cmocka_unit_test(test_appendf_respects_max),
        cmocka_unit_test(test_json_escape_cases),
        cmocka_unit_test(test_json_escape_appends_and_is_atomic),
        cmocka_unit_test(test_json_escape_random_is_valid_json),
        cmocka_unit_test(test_json_escape_roundtrip),
        cmocka_unit_test(test_integers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
