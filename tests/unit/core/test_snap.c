/*
 * Unit tests for src/core/snap.c: hazard-pointer snapshots with deferred reclamation. Reader
 * threads acquire, check and release objects while writer threads publish new ones; every object
 * a reader holds must stay intact (freed objects are poisoned, and the sanitizer builds turn a use
 * after free into a failure), and every object but the current one must be freed once the readers
 * are done, without a writer ever waiting for them.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

#define MAGIC 0x5eed5eed5eed5eedull

struct obj {
    uint64_t magic;
    uint64_t serial;
    uint64_t check; /* serial * 3 + 1 */
};

static atomic_long n_new, n_freed;

static struct obj *obj_new(uint64_t serial)
{
    struct obj *o = malloc(sizeof(*o));

    assert_non_null(o);
    o->magic = MAGIC;
    o->serial = serial;
    o->check = serial * 3 + 1;
    atomic_fetch_add(&n_new, 1);
    return o;
}

static void obj_free(void *p)
{
    struct obj *o = p;

    memset(o, 0xdd, sizeof(*o));
    free(o);
    atomic_fetch_add(&n_freed, 1);
}

static void reset(void)
{
    atomic_store(&n_new, 0);
    atomic_store(&n_freed, 0);
}

/* A held object survives any number of publishes and is freed by its reader's release. */
static void test_held_object_freed_by_last_release(void **state)
{
    static struct snap s;
    struct snap_ref ref;
    struct obj *held;

    (void)state;
    reset();
    snap_init(&s, obj_new(0), obj_free);
    held = snap_acquire(&s, &ref);
    assert_int_equal(held->serial, 0);
    for (uint64_t i = 1; i <= 5; i++)
        snap_publish(&s, obj_new(i));
    /* 1..4 were held by nobody: freed at once; 0 waits for the reader */
    assert_int_equal(atomic_load(&n_freed), 4);
    assert_int_equal(snap_retired(&s), 1);
    assert_int_equal(held->magic, MAGIC);
    assert_int_equal(held->serial, 0);
    assert_int_equal(((struct obj *)snap_current(&s))->serial, 5);
    snap_release(&ref);
    assert_int_equal(atomic_load(&n_freed), 5);
    assert_int_equal(snap_retired(&s), 0);
    snap_fini(&s);
    assert_int_equal(atomic_load(&n_freed), 6);
    assert_int_equal(atomic_load(&n_new), 6);
}

/* A thread holding a reference may publish on the same snap (the old scheme would wait for
 * itself); publishing NULL retires the object too. */
static void test_publish_while_holding(void **state)
{
    static struct snap s;
    struct snap_ref ref;
    struct obj *held;

    (void)state;
    reset();
    snap_init(&s, obj_new(7), obj_free);
    held = snap_acquire(&s, &ref);
    snap_publish(&s, NULL);
    assert_int_equal(atomic_load(&n_freed), 0);
    assert_int_equal(held->serial, 7);
    snap_release(&ref);
    assert_int_equal(atomic_load(&n_freed), 1);
    assert_null(snap_acquire(&s, &ref));
    snap_release(&ref);
    snap_fini(&s);
    assert_int_equal(atomic_load(&n_freed), 1);
}

/* Retired objects still held when the snap goes away are freed by snap_fini. */
static void test_fini_frees_retired(void **state)
{
    static struct snap s;
    struct snap_ref ref;

    (void)state;
    reset();
    snap_init(&s, obj_new(1), obj_free);
    (void)snap_acquire(&s, &ref);
    snap_publish(&s, obj_new(2));
    assert_int_equal(snap_retired(&s), 1);
    /* the reader is gone without releasing (a test shortcut): fini owns everything */
    atomic_store(&s.slots[ref.slot].hp, NULL);
    snap_fini(&s);
    assert_int_equal(atomic_load(&n_freed), 2);
}

#define READERS 4
#define WRITERS 2
#define PUBLISHES 20000

struct shared {
    struct snap s;
    atomic_bool stop;
    atomic_ullong serial;
};

struct reader {
    struct shared *sh;
    long reads;
    long bad;
    uint64_t last_serial_seen;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct snap_ref ref;

    while (!atomic_load(&rd->sh->stop)) {
        struct obj *o = snap_acquire(&rd->sh->s, &ref);

        if (o == NULL || o->magic != MAGIC || o->check != o->serial * 3 + 1)
            rd->bad++;
        else if (o->serial > rd->last_serial_seen)
            rd->last_serial_seen = o->serial;
        /* hold it a little while writers publish: the object must not change under us */
        for (int k = 0; k < 50 && o != NULL; k++)
            if (o->magic != MAGIC || o->check != o->serial * 3 + 1)
                rd->bad++;
        snap_release(&ref);
        rd->reads++;
    }
    return NULL;
}

static void *writer_main(void *arg)
{
    struct shared *sh = arg;

    for (int i = 0; i < PUBLISHES; i++)
        snap_publish(&sh->s, obj_new(atomic_fetch_add(&sh->serial, 1) + 1));
    return NULL;
}

/* Concurrent acquire / release / publish / reclaim on one snap. */
static void test_concurrent_readers_and_writers(void **state)
{
    static struct shared sh;
    struct reader rd[READERS];
    pthread_t rt[READERS], wt[WRITERS];

    (void)state;
    reset();
    snap_init(&sh.s, obj_new(0), obj_free);
    atomic_init(&sh.stop, false);
    atomic_init(&sh.serial, 0);
    for (int i = 0; i < READERS; i++) {
        rd[i] = (struct reader){&sh, 0, 0, 0};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &rd[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &sh), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(wt[i], NULL);
    atomic_store(&sh.stop, true);
    for (int i = 0; i < READERS; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(rd[i].bad, 0);
        assert_true(rd[i].reads > 0);
    }
    /* every reader released: nothing retired is left, everything but the current is freed */
    assert_int_equal(snap_retired(&sh.s), 0);
    assert_int_equal(atomic_load(&n_new), 1 + WRITERS * PUBLISHES);
    assert_int_equal(atomic_load(&n_freed), WRITERS * PUBLISHES);
    snap_fini(&sh.s);
    assert_int_equal(atomic_load(&n_freed), 1 + WRITERS * PUBLISHES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_object_freed_by_last_release),
        cmocka_unit_test(test_publish_while_holding),
        cmocka_unit_test(test_fini_frees_retired),
        cmocka_unit_test(test_concurrent_readers_and_writers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
