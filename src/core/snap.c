/*
 * Snapshots: an immutable object that readers use without a lock and a writer replaces
 * atomically. Hazard pointers with deferred reclamation; core.h states the protocol and its
 * memory orders.
 */
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* Slot indices are per thread and shared by every snap: thread t uses slots[t] of each. */
static atomic_bool slot_used[SNAP_SLOTS];
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static _Thread_local int my_slot = -1; /* -1: not claimed yet; -2: none was free */

/* The thread exits: its index goes back to the free ones (its slots are empty by then). */
static void slot_release(void *v)
{
    int i = (int)(intptr_t)v - 1;

    if (i >= 0 && i < SNAP_SLOTS) {
        atomic_store(&slot_used[i], false);
        my_slot = -1;
    }
}

static void slot_key_create(void)
{
    pthread_key_create(&slot_key, slot_release);
}

/* This thread's slot index, claimed on first use; -1 when every index is taken. */
static int thread_slot(void)
{
    if (my_slot >= 0)
        return my_slot;
    if (my_slot == -2)
        return -1;
    pthread_once(&slot_once, slot_key_create);
    for (int i = 0; i < SNAP_SLOTS; i++) {
        bool expected = false;
        if (!atomic_load_explicit(&slot_used[i], memory_order_relaxed) &&
            atomic_compare_exchange_strong(&slot_used[i], &expected, true)) {
            if (pthread_setspecific(slot_key, (void *)(intptr_t)(i + 1)) != 0) {
                atomic_store(&slot_used[i], false);
                break;
            }
            my_slot = i;
            return i;
        }
    }
    my_slot = -2;
    return -1;
}

void snap_init(struct snap *s, void *initial, void (*free_fn)(void *))
{
    atomic_init(&s->cur, initial);
    s->free_fn = free_fn;
    pthread_mutex_init(&s->wlock, NULL);
    atomic_init(&s->overflow, 0);
    atomic_init(&s->n_retired, 0);
    atomic_init(&s->recheck, false);
    for (size_t i = 0; i < SNAP_RETIRED; i++)
        s->retired[i] = NULL;
    for (size_t i = 0; i < SNAP_SLOTS; i++)
        atomic_init(&s->slots[i].hp, NULL);
}

void snap_fini(struct snap *s)
{
    void *cur = atomic_exchange(&s->cur, NULL);
    size_t n = atomic_load(&s->n_retired);

    if (s->free_fn != NULL) {
        if (cur != NULL)
            s->free_fn(cur);
        for (size_t i = 0; i < n; i++)
            s->free_fn(s->retired[i]);
    }
    atomic_store(&s->n_retired, 0);
    pthread_mutex_destroy(&s->wlock);
}

void *snap_acquire(struct snap *s, struct snap_ref *ref)
{
    int i = thread_slot();
    void *p;

    ref->s = s;
    ref->slot = i;
    if (i < 0) {
        /* More threads than slots: count this reader; no reclaim frees anything meanwhile. */
        atomic_fetch_add(&s->overflow, 1);
        return atomic_load(&s->cur);
    }
    /* Announce p, then check it is still current: a publish that swapped it out before the
     * announcement became visible is seen here, one after it sees the announcement. */
    do {
        p = atomic_load(&s->cur);
        atomic_store(&s->slots[i].hp, p);
    } while (atomic_load(&s->cur) != p);
    return p;
}

/* Moves the retired objects no reader holds into dead[] and returns how many. wlock held. */
static size_t collect(struct snap *s, void **dead)
{
    size_t n = atomic_load(&s->n_retired), kept = 0, n_dead = 0;

    atomic_store(&s->recheck, false);
    if (n == 0 || atomic_load(&s->overflow) > 0)
        return 0;
    for (size_t k = 0; k < n; k++) {
        void *p = s->retired[k];
        bool held = false;

        for (size_t i = 0; i < SNAP_SLOTS && !held; i++)
            held = atomic_load(&s->slots[i].hp) == p;
        if (held)
            s->retired[kept++] = p;
        else
            dead[n_dead++] = p;
    }
    atomic_store(&s->n_retired, kept);
    return n_dead;
}

/* Frees what collect returned, outside the lock (a free may be slow: a registry's last release). */
static void free_dead(struct snap *s, void **dead, size_t n)
{
    for (size_t k = 0; k < n; k++)
        s->free_fn(dead[k]);
}

void snap_reclaim(struct snap *s)
{
    void *dead[SNAP_RETIRED];
    size_t n;

    /* A release that finds the lock busy sets recheck and leaves: whoever holds the lock (this
     * loop, or a publish) looks again after unlocking, so the last reader's object is freed. */
    do {
        if (pthread_mutex_trylock(&s->wlock) != 0)
            return;
        n = collect(s, dead);
        pthread_mutex_unlock(&s->wlock);
        free_dead(s, dead, n);
    } while (atomic_load(&s->recheck) && atomic_load(&s->n_retired) > 0);
}

void snap_release(struct snap_ref *ref)
{
    struct snap *s = ref->s;

    if (ref->slot < 0)
        atomic_fetch_sub(&s->overflow, 1);
    else
        atomic_store(&s->slots[ref->slot].hp, NULL);
    if (atomic_load(&s->n_retired) > 0) {
        atomic_store(&s->recheck, true);
        snap_reclaim(s);
    }
}

void snap_publish(struct snap *s, void *next)
{
    void *dead[SNAP_RETIRED];
    size_t n = 0;
    void *old;

    pthread_mutex_lock(&s->wlock);
    old = atomic_exchange(&s->cur, next);
    if (old != NULL && s->free_fn != NULL) {
        /* Room for old: only readers holding SNAP_RETIRED older objects keep it full. */
        while (atomic_load(&s->n_retired) == SNAP_RETIRED) {
            n = collect(s, dead);
            if (n == 0) {
                pthread_mutex_unlock(&s->wlock);
                sched_yield();
                pthread_mutex_lock(&s->wlock);
            } else {
                pthread_mutex_unlock(&s->wlock);
                free_dead(s, dead, n);
                pthread_mutex_lock(&s->wlock);
            }
        }
        s->retired[atomic_load(&s->n_retired)] = old;
        atomic_fetch_add(&s->n_retired, 1);
    }
    n = s->free_fn != NULL ? collect(s, dead) : 0;
    pthread_mutex_unlock(&s->wlock);
    free_dead(s, dead, n);
    if (atomic_load(&s->recheck) && atomic_load(&s->n_retired) > 0)
        snap_reclaim(s);
}

void *snap_current(struct snap *s)
{
    return atomic_load(&s->cur);
}

size_t snap_retired(struct snap *s)
{
    return atomic_load(&s->n_retired);
}
