/*
 * Unit tests for src/limit/windows.c: the SLA's time windows (scheduled outages, support hours):
 * the syntax and its errors, weekly windows with offsets and across midnight, dated windows, the
 * end of merged outages (Retry-After) and the next occurrence (the SLA document).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "limit/limit.h"

/* Instants (Unix seconds, UTC). */
#define SUN_0200 INT64_C(1795917600) /* 2026-11-29 is a Sunday */
#define SUN_0300 INT64_C(1795921200)
#define SUN_0400 INT64_C(1795924800)
#define SAT_2330 INT64_C(1795908600)
#define MON_0030 INT64_C(1795998600)
#define FRI_1700 INT64_C(1795798800)
#define H INT64_C(3600)

static struct limit_windows ws; /* large: keep it off the stack */

static void parse_ok(const char *text, bool weekly_only)
{
    struct mw_error e = {0};
    int rc = limit_windows_parse(&ws, text, weekly_only, "MODELWRAP_SLA_OUTAGES", &e);
    if (rc != 0)
        fail_msg("'%s' refused: %s", text, e.msg);
}

static void parse_bad(const char *text, bool weekly_only, const char *expect)
{
    struct mw_error e = {0};
    assert_int_equal(limit_windows_parse(&ws, text, weekly_only, "MODELWRAP_X", &e), MWE_CONFIG);
    assert_int_equal(ws.n, 0);
    assert_non_null(strstr(e.msg, "MODELWRAP_X: window "));
    if (!strstr(e.msg, expect))
        fail_msg("'%s': message '%s' lacks '%s'", text, e.msg, expect);
}

static void test_empty(void **state)
{
    (void)state;
    parse_ok(NULL, false);
    assert_int_equal(ws.n, 0);
    parse_ok("", false);
    assert_int_equal(ws.n, 0);
    parse_ok("  \t ", false);
    assert_int_equal(ws.n, 0);
    assert_false(limit_windows_active(&ws, SUN_0300, NULL));
}

static void test_syntax_errors(void **state)
{
    char many[4096];
    size_t i;

    (void)state;
    parse_bad("Sun 02:00-02:00 UTC", false, "empty");
    parse_bad("Sun 2:00-04:00 UTC", false, "HH:MM-HH:MM");
    parse_bad("Sun 02:00-04:60 UTC", false, "HH:MM-HH:MM");
    parse_bad("Sun 02:00-24:01 UTC", false, "HH:MM-HH:MM");
    parse_bad("Sun 24:00-02:00 UTC", false, "HH:MM-HH:MM");
    parse_bad("Sun 02:00-04:00", false, "three parts");
    parse_bad("Sun 02:00-04:00 UTC extra", false, "three parts");
    parse_bad("Sun 02:00-04:00 CET", false, "zone");
    parse_bad("Sun 02:00-04:00 UTC+15:00", false, "zone");
    parse_bad("Sun 02:00-04:00 UTC+1", false, "zone");
    parse_bad("Foo 02:00-04:00 UTC", false, "days");
    parse_bad("Mon- 02:00-04:00 UTC", false, "days");
    parse_bad("Sat, 02:00-04:00 UTC", false, "days");
    parse_bad("Sat,,Sun 02:00-04:00 UTC", false, "days");
    parse_bad("2026-01-10T06:00Z/2026-01-10T02:00Z", false, "not after");
    parse_bad("2026-01-10T02:00Z/2026-01-10T02:00Z", false, "not after");
    parse_bad("2023-02-29T02:00Z/2023-03-01T02:00Z", false, "YYYY-MM-DD");
    parse_bad("2026-13-10T02:00Z/2026-13-10T06:00Z", false, "YYYY-MM-DD");
    parse_bad("2026-01-10T02:00/2026-01-10T06:00Z", false, "YYYY-MM-DD");
    parse_bad("2026-01-10 02:00Z/2026-01-10T06:00Z", false, "YYYY-MM-DD");
    parse_bad("2026-01-10T02:00Z/", false, "YYYY-MM-DD");
    parse_bad("2026-01-10T02:00Z/2026-01-10T06:00Z", true, "only weekly");
    /* The second window is the wrong one, and the message says so. */
    parse_bad("Sun 02:00-04:00 UTC;Mon 99:00-01:00 UTC", false, "window 2 'Mon 99:00-01:00 UTC'");
    parse_bad("Sun 02:00-04:00 UTC;;Mon 01:00-02:00 UTC", false, "window 2 is empty");
    parse_bad("Sun 02:00-04:00 UTC;", false, "window 2 is empty");
    memset(many, 'x', 200);
    many[200] = '\0';
    parse_bad(many, false, "longer than 95");
    for (i = 0; i < 33; i++)
        memcpy(many + i * 20, "Sun 02:00-04:00 UTC;", 20);
    many[33 * 20 - 1] = '\0';
    {
        struct mw_error e = {0};
        assert_int_equal(limit_windows_parse(&ws, many, false, "L", &e), MWE_CONFIG);
        assert_non_null(strstr(e.msg, "more than 32"));
    }
}

static void test_weekly(void **state)
{
    int64_t until = 0;
    int64_t start = 0;
    int64_t end = 0;

    (void)state;
    parse_ok(" Sun 02:00-04:00 UTC ", false);
    assert_int_equal(ws.n, 1);
    assert_string_equal(ws.w[0].text, "Sun 02:00-04:00 UTC");
    assert_true(ws.w[0].weekly);
    assert_true(limit_windows_active(&ws, SUN_0300, &until));
    assert_int_equal(until, SUN_0400);
    assert_true(limit_windows_active(&ws, SUN_0200, &until)); /* the start is inside */
    assert_int_equal(until, SUN_0400);
    assert_false(limit_windows_active(&ws, SUN_0400, &until)); /* the end is not */
    assert_false(limit_windows_active(&ws, SUN_0300 + 24 * H, NULL));
    assert_true(limit_windows_active(&ws, SUN_0300 + 7 * 24 * H, NULL)); /* next week */
    assert_true(limit_windows_active(&ws, SUN_0300 - 7 * 24 * H, NULL));
    /* The next occurrence, from the Friday before and from inside it. */
    assert_true(limit_window_next(&ws.w[0], FRI_1700, &start, &end));
    assert_int_equal(start, SUN_0200);
    assert_int_equal(end, SUN_0400);
    assert_true(limit_window_next(&ws.w[0], SUN_0300, &start, &end));
    assert_int_equal(start, SUN_0200);
    assert_int_equal(end, SUN_0400);
    assert_true(limit_window_next(&ws.w[0], SUN_0400, &start, &end));
    assert_int_equal(start, SUN_0200 + 7 * 24 * H);

    /* Across midnight: Saturday 23:00 to Sunday 01:00. */
    parse_ok("sat 23:00-01:00 utc", false);
    assert_true(limit_windows_active(&ws, SAT_2330, &until));
    assert_int_equal(until, SAT_2330 + 5400);
    assert_true(limit_windows_active(&ws, SAT_2330 + 3000, &until)); /* Sunday 00:20 */
    assert_int_equal(until, SAT_2330 + 5400);
    assert_false(limit_windows_active(&ws, SAT_2330 + 5400, NULL));

    /* An offset: 03:00-05:00 at UTC+01:00 is 02:00-04:00 UTC. */
    parse_ok("Sun 03:00-05:00 UTC+01:00", false);
    assert_int_equal(ws.w[0].offset_s, 3600);
    assert_true(limit_windows_active(&ws, SUN_0300, &until));
    assert_int_equal(until, SUN_0400);
    assert_false(limit_windows_active(&ws, SUN_0400, NULL));
    /* Sunday 22:00-24:00 at UTC-05:00 is Monday 03:00-05:00 UTC. */
    parse_ok("Sun 22:00-24:00 UTC-05:00", false);
    assert_false(limit_windows_active(&ws, MON_0030, NULL));
    assert_true(limit_windows_active(&ws, MON_0030 + 9000, &until));
    assert_int_equal(until, MON_0030 + 9000 + 2 * H);

    /* Day lists and wrapping ranges. */
    parse_ok("Fri-Mon 00:00-24:00 UTC", false);
    assert_int_equal(ws.w[0].days, (1 << 4) | (1 << 5) | (1 << 6) | (1 << 0));
    assert_true(limit_windows_active(&ws, SAT_2330, NULL));
    assert_true(limit_windows_active(&ws, MON_0030, NULL));
    assert_false(limit_windows_active(&ws, MON_0030 + 24 * H, NULL)); /* Tuesday */
    parse_ok("Sat,Sun 10:00-11:00 UTC", false);
    assert_int_equal(ws.w[0].days, (1 << 5) | (1 << 6));
    parse_ok("Mon-Fri 09:00-17:00 UTC", true);
    assert_true(limit_windows_active(&ws, FRI_1700 - 1, NULL));
    assert_false(limit_windows_active(&ws, FRI_1700, NULL));
    assert_false(limit_windows_active(&ws, SUN_0300 + 9 * H, NULL));
}

static void test_dated_and_merged(void **state)
{
    int64_t until = 0;
    int64_t start = 0;
    int64_t end = 0;

    (void)state;
    parse_ok("2026-01-10T02:00Z/2026-01-10T06:00Z", false);
    assert_false(ws.w[0].weekly);
    assert_int_equal(ws.w[0].from_s, INT64_C(1768010400));
    assert_int_equal(ws.w[0].to_s, INT64_C(1768024800));
    assert_true(limit_windows_active(&ws, INT64_C(1768010400), &until));
    assert_int_equal(until, INT64_C(1768024800));
    assert_false(limit_windows_active(&ws, INT64_C(1768024800), NULL));
    assert_false(limit_windows_active(&ws, INT64_C(1768010399), NULL));
    assert_true(limit_window_next(&ws.w[0], INT64_C(1700000000), &start, &end));
    assert_int_equal(start, INT64_C(1768010400));
    assert_false(limit_window_next(&ws.w[0], INT64_C(1768024800), &start, &end));
    parse_ok("2024-02-29T12:00:30z/2024-02-29T13:00Z", false);
    assert_int_equal(ws.w[0].from_s, INT64_C(1709208030));

    /* Touching and overlapping windows: Retry-After is the end of the whole outage. */
    parse_ok("Sun 02:00-04:00 UTC; Sun 04:00-05:00 UTC;2026-11-29T04:30Z/2026-11-29T06:00Z", false);
    assert_int_equal(ws.n, 3);
    assert_true(limit_windows_active(&ws, SUN_0300, &until));
    assert_int_equal(until, SUN_0400 + 2 * H);
    /* Windows that do not touch are not merged. */
    parse_ok("Sun 02:00-04:00 UTC;Sun 04:01-05:00 UTC", false);
    assert_true(limit_windows_active(&ws, SUN_0300, &until));
    assert_int_equal(until, SUN_0400);
    /* Always on: the merge stops instead of looping forever. */
    parse_ok("daily 00:00-24:00 UTC", false);
    assert_true(limit_windows_active(&ws, SUN_0300, &until));
    assert_true(until > SUN_0300 + 24 * H && until <= SUN_0300 + 9 * 24 * H);
    /* Extreme times do not overflow. */
    assert_true(limit_windows_active(&ws, INT64_MAX, &until));
    assert_true(limit_windows_active(&ws, INT64_MIN, &until));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_weekly),
        cmocka_unit_test(test_dated_and_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
