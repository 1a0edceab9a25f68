/*
 * Unit tests for src/core/util.c (slices, randomness, constant-time compare) and
 * src/core/time.c (clocks and ISO 8601 formatting).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_slice_eq(void **state)
{
    const char raw[] = "predictXYZ";
    struct slice s = {raw, 7};
    struct slice empty = {NULL, 0};
    struct slice bogus = {NULL, 3};

    (void)state;
    assert_true(slice_eq(s, "predict"));
    assert_false(slice_eq(s, "predictX"));
    assert_false(slice_eq(s, "predic"));
    assert_false(slice_eq(s, "Predict"));
    assert_false(slice_eq(s, NULL));
    assert_true(slice_eq(empty, ""));
    assert_false(slice_eq(empty, "a"));
    assert_false(slice_eq(bogus, "abc"));
    assert_true(slice_eq(SLICE_LIT("a\0b"), "a") == false);
}

static void test_slice_eq_nocase(void **state)
{
    struct slice s = SLICE_LIT("Content-Type");

    (void)state;
    assert_true(slice_eq_nocase(s, "content-type"));
    assert_true(slice_eq_nocase(s, "CONTENT-TYPE"));
    assert_false(slice_eq_nocase(s, "content_type"));
    assert_false(slice_eq_nocase(s, "content-typ"));
    assert_false(slice_eq_nocase(s, NULL));
    /* Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by the case bit but are not
     * letters. */
    assert_false(slice_eq_nocase(SLICE_LIT("@"), "`"));
    assert_false(slice_eq_nocase(SLICE_LIT("\xc9"), "\xe9"));
}

static void test_random(void **state)
{
    unsigned char a[32];
    unsigned char b[32];
    static unsigned char big[100000];
    size_t counts[256] = {0};
    size_t i;

    (void)state;
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(mw_random(a, sizeof(a)), 0);
    assert_int_equal(mw_random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(mw_random(NULL, 0), 0);
    assert_int_equal(mw_random(big, sizeof(big)), 0);
    for (i = 0; i < sizeof(big); i++)
        counts[big[i]]++;
    /* Expected about 390 of each value; a broken fill (zeros, short read) is far outside. */
    for (i = 0; i < 256; i++)
        assert_in_range(counts[i], 200, 600);
}

static void test_ct_equal(void **state)
{
    unsigned char a[64];
    unsigned char b[64];

    (void)state;
    memset(a, 0x5a, sizeof(a));
    memset(b, 0x5a, sizeof(b));
    assert_true(mw_ct_equal(a, b, sizeof(a)));
    assert_true(mw_ct_equal(a, b, 0));
    b[0] ^= 1;
    assert_false(mw_ct_equal(a, b, sizeof(a)));
    b[0] ^= 1;
    b[63] ^= 0x80;
    assert_false(mw_ct_equal(a, b, sizeof(a)));
    assert_true(mw_ct_equal(a, b, 63));
}

static void test_iso8601(void **state)
{
    char out[32];

    (void)state;
    time_iso8601_ms(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    time_iso8601_ms(UINT64_C(1700000000123), out);
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
    time_iso8601_ms(UINT64_C(951782400007), out);
    assert_string_equal(out, "2000-02-29T00:00:00.007Z");
    time_iso8601_ms(UINT64_C(253402300799999), out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    assert_int_equal(strlen(out), 24);
    /* Past year 9999: the fixed width cannot hold it, so the epoch is written. */
    time_iso8601_ms(UINT64_C(253402300800000), out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    time_iso8601_ms(UINT64_MAX, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    /* The per-thread cache of the last second: same second, other milliseconds; the next second;
     * back to an earlier one; the epoch fallback in between must not poison it. */
    time_iso8601_ms(UINT64_C(1700000000000), out);
    assert_string_equal(out, "2023-11-14T22:13:20.000Z");
    time_iso8601_ms(UINT64_C(1700000000999), out);
    assert_string_equal(out, "2023-11-14T22:13:20.999Z");
    time_iso8601_ms(UINT64_C(1700000001050), out);
    assert_string_equal(out, "2023-11-14T22:13:21.050Z");
    time_iso8601_ms(UINT64_MAX, out);
    time_iso8601_ms(UINT64_C(1700000001051), out);
    assert_string_equal(out, "2023-11-14T22:13:21.051Z");
    time_iso8601_ms(UINT64_C(1699999999001), out);
    assert_string_equal(out, "2023-11-14T22:13:19.001Z");
}

static void test_clocks(void **state)
{
    uint64_t m1;
    uint64_t m2;
    uint64_t r;
    char out[32];

    (void)state;
    m1 = time_mono_ns();
    m2 = time_mono_ns();
    assert_true(m1 > 0);
    assert_true(m2 >= m1);
    r = time_real_ms();
    assert_true(r > UINT64_C(1600000000000)); /* after September 2020 */
    time_iso8601_ms(r, out);
    assert_int_equal(strlen(out), 24);
    assert_int_equal(out[23], 'Z');
    assert_int_equal(out[10], 'T');
}

static void test_rate_parse(void **state)
{
    double r = 0;
    (void)state;
    assert_int_equal(rate_parse("100/s", &r), 0);
    assert_true(r == 100.0);
    assert_int_equal(rate_parse("6000/m", &r), 0);
    assert_true(r == 100.0);
    assert_int_equal(rate_parse("2.5/second", &r), 0);
    assert_true(r == 2.5);
    assert_int_equal(rate_parse("3600/hour", &r), 0);
    assert_true(r == 1.0);
    assert_int_equal(rate_parse("86400/d", &r), 0);
    assert_true(r == 1.0);
    const char *bad[] = {"",       "/s",    "100",     "100/",   "100/x",  "0/s",
                         "-1/s",   "nan/s", "inf/s",   "1e13/s", "100/s ", " 100/s",
                         "100 /s", "100/S", "1e999/s", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(rate_parse(bad[i], &r), MWE_CONFIG);
    assert_int_equal(rate_parse(NULL, &r), MWE_CONFIG);
}

static void test_clip(void **state)
{
    char out[MW_CLIP_CAP];
    char long_text[200];
    (void)state;
    assert_string_equal(mw_clip(out, "name", 4), "name");
    assert_string_equal(mw_clip(out, NULL, 5), "");
    assert_string_equal(mw_clip(out, "a\nb\x7f", 4), "a?b?");
    memset(long_text, 'x', sizeof(long_text));
    mw_clip(out, long_text, sizeof(long_text));
    assert_int_equal(strlen(out), MW_CLIP_MAX + 3);
    assert_memory_equal(out + MW_CLIP_MAX, "...", 4);
    /* A two-byte sequence straddling the cut is dropped whole. */
    memset(long_text, 'x', sizeof(long_text));
    long_text[MW_CLIP_MAX - 1] = (char)0xC3;
    long_text[MW_CLIP_MAX] = (char)0xA9;
    mw_clip(out, long_text, sizeof(long_text));
    assert_int_equal(strlen(out), MW_CLIP_MAX - 1 + 3);
}

static void test_path_redact(void **state)
{
    char b[256];
    const char *key = "mw_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"; /* 46 characters */

    (void)state;
    snprintf(b, sizeof(b), "/api/v1/models/%s", key);
    assert_true(mw_path_has_secret(b, strlen(b)));
    assert_int_equal(mw_path_redact(b), strlen("/api/v1/models/mw_<redacted>"));
    assert_string_equal(b, "/api/v1/models/mw_<redacted>");
    snprintf(b, sizeof(b), "/%s/predict/%s", key, key);
    mw_path_redact(b);
    assert_string_equal(b, "/mw_<redacted>/predict/mw_<redacted>");
    snprintf(b, sizeof(b), "/v2/models/eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl/ready");
    assert_true(mw_path_has_secret(b, strlen(b)));
    mw_path_redact(b);
    assert_string_equal(b, "/v2/models/<redacted>/ready");
    /* model names and ordinary paths are left alone */
    for (size_t i = 0; i < 5; i++) {
        static const char *const keep[] = {"/api/v1/models/mw_model", "/api/v1/models/iris",
                                           "/mw_0123456789abcdef_x", "/eyJ.short", "/"};
        assert_false(mw_path_has_secret(keep[i], strlen(keep[i])));
        snprintf(b, sizeof(b), "%s", keep[i]);
        mw_path_redact(b);
        assert_string_equal(b, keep[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_eq),    cmocka_unit_test(test_slice_eq_nocase),
        cmocka_unit_test(test_random),      cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_iso8601),     cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_rate_parse),  cmocka_unit_test(test_clip),
        cmocka_unit_test(test_path_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
