/*
 * Unit tests for src/limit/table.c: the local limiter's bounded table: per-key buckets, idle
 * entries reused, eviction when full of active consumers, and exact counts under concurrent use.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "limit/limit.h"

#define S UINT64_C(1000000000)
#define T0 (1000 * S)

static void take(struct limit_table *t, const char *key, const struct gcra *g, uint64_t now,
                 struct limit_decision *d)
{
    limit_table_take(t, key, strlen(key), g, now, d);
}

static void test_capacity(void **state)
{
    struct mw_error e = {0};
    struct limit_table *t;

    (void)state;
    t = limit_table_new(100, &e);
    assert_non_null(t);
    assert_int_equal(limit_table_capacity(t), 128); /* 16 sets of 8 */
    limit_table_free(t);
    t = limit_table_new(1, &e);
    assert_non_null(t);
    assert_int_equal(limit_table_capacity(t), 8);
    limit_table_free(t);
    limit_table_free(NULL);
}

static void test_per_key(void **state)
{
    struct mw_error e = {0};
    struct limit_table *t = limit_table_new(1024, &e);
    struct limit_decision d;
    struct gcra g;
    uint64_t allowed, limited, evicted;
    int i;

    (void)state;
    assert_non_null(t);
    limit_gcra_init(&g, 1, 3);
    for (i = 0; i < 3; i++) {
        take(t, "k:1:a", &g, T0, &d);
        assert_true(d.allowed);
        assert_int_equal(d.source, LIMIT_SRC_LOCAL);
        assert_int_equal(d.remaining, 2 - i);
    }
    take(t, "k:1:a", &g, T0, &d);
    assert_false(d.allowed);
    assert_int_equal(d.retry_ns, S);
    /* Another consumer has its own bucket. */
    take(t, "k:1:b", &g, T0, &d);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 2);
    /* Keys differ by every byte, not a prefix. */
    limit_table_take(t, "k:1:a\0x", 7, &g, T0, &d);
    assert_true(d.allowed);
    assert_int_equal(limit_table_active(t, T0), 3);
    /* A second later "a" has one request again; three seconds later everyone is idle. */
    take(t, "k:1:a", &g, T0 + S, &d);
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_int_equal(limit_table_active(t, T0 + 10 * S), 0);
    limit_table_counters(t, &allowed, &limited, &evicted);
    assert_int_equal(allowed, 6);
    assert_int_equal(limited, 1);
    assert_int_equal(evicted, 0);
    limit_table_free(t);
}

static void test_bounded_and_eviction(void **state)
{
    struct mw_error e = {0};
    struct limit_table *t = limit_table_new(64, &e);
    struct limit_decision d;
    struct gcra g;
    char key[32];
    uint64_t evicted;
    int i;

    (void)state;
    assert_non_null(t);
    limit_gcra_init(&g, 1000, 1); /* each bucket is idle again 1 ms after its request */
    /* 100000 consumers, one every 2 ms: all fit because idle ones make room; nothing evicted. */
    for (i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "a:%d", i);
        take(t, key, &g, T0 + (uint64_t)i * 2000000u, &d);
        assert_true(d.allowed);
    }
    limit_table_counters(t, NULL, NULL, &evicted);
    assert_int_equal(evicted, 0);
    assert_true(limit_table_active(t, T0 + UINT64_C(200000) * 1000000u) <= 1);
    /* 1000 consumers at the same instant into 64 slots: memory stays put, the excess evicts. */
    for (i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "b:%d", i);
        take(t, key, &g, 2 * T0, &d);
        assert_true(d.allowed);
    }
    assert_int_equal(limit_table_active(t, 2 * T0), 64);
    limit_table_counters(t, NULL, NULL, &evicted);
    assert_true(evicted >= 1000 - 64);
    limit_table_free(t);
}

struct worker_arg {
    struct limit_table *t;
    const struct gcra *g;
    unsigned allowed;
};

static void *worker(void *p)
{
    struct worker_arg *w = p;
    struct limit_decision d;
    int i;

    for (i = 0; i < 20000; i++) {
        limit_table_take(w->t, "k:6:shared", 10, w->g, T0, &d);
        w->allowed += d.allowed;
        /* And traffic on other keys in other shards at the same time. */
        char other[16];
        snprintf(other, sizeof(other), "o:%d", i % 997);
        limit_table_take(w->t, other, strlen(other), w->g, T0, &d);
    }
    return NULL;
}

static void test_threads_exact(void **state)
{
    struct mw_error e = {0};
    struct limit_table *t = limit_table_new(4096, &e);
    struct worker_arg args[4];
    pthread_t th[4];
    struct gcra g;
    unsigned total = 0;
    int i;

    (void)state;
    assert_non_null(t);
    limit_gcra_init(&g, 1, 777);
    for (i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){t, &g, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += args[i].allowed;
    }
    /* 80000 attempts at one instant: exactly the burst gets through, whatever the interleaving. */
    assert_int_equal(total, 777);
    limit_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_per_key),
        cmocka_unit_test(test_bounded_and_eviction),
        cmocka_unit_test(test_threads_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
