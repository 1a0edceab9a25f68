/*
 * Unit tests of the brute-force table (src/auth/guard.c): blocking after the limit within the
 * window, expiry of blocks and windows, IPv6 /64 grouping, bounded memory under many addresses;
 * and of the lock-free snapshots (src/auth/snap.c) under concurrent readers and a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth_int.h"

#define S 1000000000ull

static struct auth_lockout *new_guard(unsigned limit, unsigned window, unsigned block)
{
    struct auth_lockout *g = aligned_alloc(64, (sizeof(*g) + 63) & ~(size_t)63);
    assert_non_null(g);
    auth_lockout_init(g, limit, window, block);
    return g;
}

static void free_guard(struct auth_lockout *g)
{
    auth_lockout_fini(g);
    free(g);
}

static void test_blocks_after_limit(void **state)
{
    struct auth_lockout *g = new_guard(3, 60, 300);
    uint64_t t = 1000 * S;
    unsigned retry = 0;
    (void)state;

    assert_false(auth_lockout_blocked(g, "192.0.2.1", t, &retry));
    assert_false(auth_lockout_fail(g, "192.0.2.1", t));
    assert_false(auth_lockout_fail(g, "192.0.2.1", t + S));
    assert_false(auth_lockout_blocked(g, "192.0.2.1", t + S, &retry));
    assert_true(auth_lockout_fail(g, "192.0.2.1", t + 2 * S)); /* the third failure blocks */
    assert_true(auth_lockout_blocked(g, "192.0.2.1", t + 2 * S, &retry));
    assert_int_equal(retry, 300);
    assert_true(auth_lockout_blocked(g, "192.0.2.1", t + 102 * S + 1, &retry));
    assert_int_equal(retry, 200);
    /* Another address is not affected. */
    assert_false(auth_lockout_blocked(g, "192.0.2.2", t + 3 * S, &retry));
    /* The block ends. */
    assert_false(auth_lockout_blocked(g, "192.0.2.1", t + 302 * S, &retry));
    free_guard(g);
}

static void test_window_resets(void **state)
{
    struct auth_lockout *g = new_guard(3, 10, 60);
    uint64_t t = 5000 * S;
    unsigned retry = 0;
    (void)state;

    assert_false(auth_lockout_fail(g, "198.51.100.7", t));
    assert_false(auth_lockout_fail(g, "198.51.100.7", t + 5 * S));
    /* The window (10 s from the first failure) passed: counting starts again. */
    assert_false(auth_lockout_fail(g, "198.51.100.7", t + 11 * S));
    assert_false(auth_lockout_fail(g, "198.51.100.7", t + 12 * S));
    assert_false(auth_lockout_blocked(g, "198.51.100.7", t + 12 * S, &retry));
    assert_true(auth_lockout_fail(g, "198.51.100.7", t + 13 * S));
    free_guard(g);
}

static void test_ipv6_per_64(void **state)
{
    struct auth_lockout *g = new_guard(2, 60, 60);
    uint64_t t = 100 * S;
    unsigned retry = 0;
    (void)state;

    assert_false(auth_lockout_fail(g, "2001:db8:1:2::1", t));
    assert_true(auth_lockout_fail(g, "2001:db8:1:2:ffff::9", t)); /* same /64 */
    assert_true(auth_lockout_blocked(g, "2001:db8:1:2:abcd::1", t, &retry));
    assert_false(auth_lockout_blocked(g, "2001:db8:1:3::1", t, &retry));
    free_guard(g);
}

static void test_disabled(void **state)
{
    struct auth_lockout *g = new_guard(0, 60, 60);
    unsigned retry = 0;
    (void)state;
    for (int i = 0; i < 100; i++)
        assert_false(auth_lockout_fail(g, "192.0.2.9", S));
    assert_false(auth_lockout_blocked(g, "192.0.2.9", S, &retry));
    free_guard(g);
}

static void test_bounded_under_many_addresses(void **state)
{
    struct auth_lockout *g = new_guard(2, 60, 600);
    uint64_t t = 10 * S;
    unsigned retry = 0;
    char addr[64];
    (void)state;

    /* Block one address, then flood the table with 100000 others: the table stays its size and
     * the blocked entry, preferred over unblocked ones when evicting, is kept. */
    auth_lockout_fail(g, "203.0.113.5", t);
    assert_true(auth_lockout_fail(g, "203.0.113.5", t));
    for (int i = 0; i < 100000; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        auth_lockout_fail(g, addr, t + 1);
    }
    assert_true(auth_lockout_blocked(g, "203.0.113.5", t + 2, &retry));
    free_guard(g);
}

/* ---- snapshots ------------------------------------------------------------------------------- */

struct obj {
    uint64_t magic;
    uint64_t value;
};

static atomic_int freed;

static void free_obj(void *p)
{
    struct obj *o = p;
    o->magic = 0xdeaddeaddeaddeadull; /* a reader seeing this read freed memory */
    atomic_fetch_add(&freed, 1);
    free(o);
}

static struct obj *new_obj(uint64_t v)
{
    struct obj *o = malloc(sizeof(*o));
    assert_non_null(o);
    o->magic = 0x600d600d600d600dull;
    o->value = v;
    return o;
}

struct reader_arg {
    struct snap *s;
    atomic_bool *stop;
    atomic_long reads;
    long bad;
    uint64_t last;
};

static void *reader(void *p)
{
    struct reader_arg *ra = p;
    while (!atomic_load(ra->stop)) {
        struct snap_ref ref;
        struct obj *o = snap_acquire(ra->s, &ref);
        if (!o || o->magic != 0x600d600d600d600dull || o->value < ra->last)
            ra->bad++;
        else
            ra->last = o->value; /* values only grow */
        snap_release(&ref);
        atomic_fetch_add_explicit(&ra->reads, 1, memory_order_relaxed);
    }
    return NULL;
}

static void test_snap_concurrent(void **state)
{
    struct snap *s = malloc(sizeof(*s));
    struct reader_arg args[4];
    pthread_t th[4];
    atomic_bool stop = false;
    (void)state;

    assert_non_null(s);
    atomic_store(&freed, 0);
    snap_init(s, new_obj(0), free_obj);
    for (int i = 0; i < 4; i++) {
        args[i].s = s;
        args[i].stop = &stop;
        atomic_init(&args[i].reads, 0);
        args[i].bad = 0;
        args[i].last = 0;
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    /* Publish while the readers read: at least 2000 times, and until each has read 1000 times. */
    uint64_t v = 0;
    for (;;) {
        bool busy = true;
        for (int i = 0; i < 4; i++)
            busy = busy && atomic_load(&args[i].reads) >= 1000;
        if (v >= 2000 && busy)
            break;
        snap_publish(s, new_obj(++v));
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
        assert_true(atomic_load(&args[i].reads) >= 1000);
    }
    assert_int_equal(atomic_load(&freed), v); /* every retired object, none twice */
    {
        struct snap_ref ref;
        struct obj *o = snap_acquire(s, &ref);
        assert_int_equal(o->value, v);
        snap_release(&ref);
    }
    snap_fini(s);
    assert_int_equal(atomic_load(&freed), v + 1);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_after_limit),
        cmocka_unit_test(test_window_resets),
        cmocka_unit_test(test_ipv6_per_64),
        cmocka_unit_test(test_disabled),
        cmocka_unit_test(test_bounded_under_many_addresses),
        cmocka_unit_test(test_snap_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
