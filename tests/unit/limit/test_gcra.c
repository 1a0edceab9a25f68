/*
 * Unit tests for src/limit/gcra.c: the GCRA arithmetic (burst, steady rate, the values behind the
 * RateLimit-* and Retry-After headers, clamping) and the consumer key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "limit/limit.h"

#define S UINT64_C(1000000000)
#define T0 (1000 * S) /* an arbitrary monotonic "now" */

static void test_init(void **state)
{
    struct gcra g;

    (void)state;
    limit_gcra_init(&g, 100, 100);
    assert_int_equal(g.interval_ns, 10000000);
    assert_int_equal(g.span_ns, 100 * 10000000ull);
    assert_int_equal(g.burst, 100);
    limit_gcra_init(&g, 2.5, 0); /* burst 0 is taken as 1 */
    assert_int_equal(g.interval_ns, 400000000);
    assert_int_equal(g.burst, 1);
    assert_int_equal(g.span_ns, 400000000);
    limit_gcra_init(&g, 1.0 / 86400, 3); /* 1/day */
    assert_int_equal(g.interval_ns, 86400 * S);
    assert_int_equal(g.span_ns, 3 * 86400 * S);
    /* A rate above 1e9/s cannot go below one nanosecond per request. */
    limit_gcra_init(&g, 1e12, 5);
    assert_int_equal(g.interval_ns, 1);
    assert_int_equal(g.span_ns, 5);
    /* Absurd spans are clamped instead of overflowing. */
    limit_gcra_init(&g, 1e-12, 1000000);
    assert_true(g.span_ns <= (UINT64_C(1) << 61));
    assert_true(g.interval_ns <= g.span_ns);
    limit_gcra_init(&g, 0, 1);
    assert_true(g.interval_ns >= 1);
}

static void test_burst_then_rate(void **state)
{
    struct gcra g;
    struct limit_decision d;
    uint64_t tat = 0;
    int i;

    (void)state;
    limit_gcra_init(&g, 10, 5); /* 100 ms per request, 5 at once */
    for (i = 0; i < 5; i++) {
        assert_true(limit_gcra_decide(&g, &tat, T0, &d));
        assert_true(d.allowed);
        assert_int_equal(d.limit, 5);
        assert_int_equal(d.remaining, 4 - i);
        assert_int_equal(d.reset_ns, (uint64_t)(i + 1) * 100000000u);
        assert_int_equal(d.retry_ns, 0);
    }
    /* The sixth at the same instant is refused: retry in exactly one interval. */
    assert_false(limit_gcra_decide(&g, &tat, T0, &d));
    assert_false(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_int_equal(d.retry_ns, 100000000u);
    assert_int_equal(d.reset_ns, 500000000u);
    assert_int_equal(tat, T0 + 500000000u); /* a refusal does not move the arrival time */
    /* 1 ns too early is still refused; on time is allowed. */
    assert_false(limit_gcra_decide(&g, &tat, T0 + 99999999u, &d));
    assert_int_equal(d.retry_ns, 1);
    assert_true(limit_gcra_decide(&g, &tat, T0 + 100000000u, &d));
    assert_int_equal(d.remaining, 0);
    /* After idling for the whole span the bucket is full again. */
    assert_true(limit_gcra_decide(&g, &tat, T0 + 10 * S, &d));
    assert_int_equal(d.remaining, 4);
}

static void test_steady_rate_counts(void **state)
{
    struct gcra g;
    struct limit_decision d;
    uint64_t tat = 0;
    unsigned allowed = 0;
    uint64_t t;

    (void)state;
    /* Offered 3x the limit (every 1/30 s) for 10 s: burst + rate * 10 s are accepted. */
    limit_gcra_init(&g, 10, 4);
    for (t = 0; t < 10 * S; t += S / 30)
        allowed += limit_gcra_decide(&g, &tat, T0 + t, &d);
    assert_in_range(allowed, 4 + 100 - 1, 4 + 100 + 1);
}

static void test_key(void **state)
{
    char out[LIMIT_KEY_MAX];
    char small[8];
    char a[200];
    size_t n;

    (void)state;
    n = limit_key_build(out, sizeof(out), 'j', "alice", "cli");
    assert_int_equal(n, strlen("j:5:alicecli"));
    assert_string_equal(out, "j:5:alicecli");
    /* The length prefix keeps ("ab","c") and ("a","bc") apart. */
    limit_key_build(out, sizeof(out), 'j', "ab", "c");
    assert_string_equal(out, "j:2:abc");
    limit_key_build(out, sizeof(out), 'j', "a", "bc");
    assert_string_equal(out, "j:1:abc");
    n = limit_key_build(out, sizeof(out), 'a', "127.0.0.1", NULL);
    assert_string_equal(out, "a:9:127.0.0.1");
    assert_int_equal(n, 13);
    n = limit_key_build(out, sizeof(out), 'k', NULL, NULL);
    assert_string_equal(out, "k:0:");
    /* Too long for the buffer: 0 and an empty string, never an overflow. */
    assert_int_equal(limit_key_build(small, sizeof(small), 'k', "abcd", NULL), 0);
    assert_string_equal(small, "");
    assert_int_equal(limit_key_build(small, sizeof(small), 'k', "ab", "c"), 7);
    assert_string_equal(small, "k:2:abc");
    assert_int_equal(limit_key_build(small, sizeof(small), 'k', "ab", "cd"), 0);
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    assert_true(limit_key_build(out, sizeof(out), 'j', a, a) == 0);
    assert_int_equal(limit_key_build(out, 0, 'k', "a", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_burst_then_rate),
        cmocka_unit_test(test_steady_rate_counts),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
