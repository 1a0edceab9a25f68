/*
 * Snapshots: an immutable object (a key set, a JWKS) that readers use without a lock and a writer
 * replaces atomically. Hazard pointers with a synchronous writer: each reading thread owns a slot
 * (claimed on first use, given back when the thread exits) where it publishes the pointer it uses.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

/* Slot indices are per thread and shared by every snap: thread t uses slots[t] of each. */
static atomic_bool slot_used[SNAP_SLOTS];
static pthread_key_t slot_key;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;
static _Thread_local int my_slot = -1; /* -1: not claimed yet; -2: none was free */

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

/* Prepares s (caller-owned memory) holding initial, which s now owns. Any thread, before use. */
void snap_init(struct snap *s, void *initial, void (*free_fn)(void *))
{
    atomic_init(&s->cur, initial);
    s->free_fn = free_fn;
    pthread_mutex_init(&s->wlock, NULL);
    atomic_init(&s->overflow, 0);
    for (size_t i = 0; i < SNAP_SLOTS; i++)
        atomic_init(&s->slots[i].hp, NULL);
}

/* Frees the current object and the lock. No reader or writer may be active. */
void snap_fini(struct snap *s)
{
    void *cur = atomic_exchange(&s->cur, NULL);
    if (cur && s->free_fn)
        s->free_fn(cur);
    pthread_mutex_destroy(&s->wlock);
}

/* Returns the current object, protected until snap_release(ref). The object is valid and
 * unchanged until then. Lock-free; any thread; one reference per snap per thread at a time. */
void *snap_acquire(struct snap *s, struct snap_ref *ref)
{
    int i = thread_slot();
    void *p;

    ref->s = s;
    ref->slot = i;
    if (i < 0) {
        /* More threads than slots: count this reader; the writer waits for the count to drop. */
        atomic_fetch_add(&s->overflow, 1);
        return atomic_load(&s->cur);
    }
    do {
        p = atomic_load(&s->cur);
        atomic_store(&s->slots[i].hp, p);
    } while (atomic_load(&s->cur) != p);
    return p;
}

/* Ends the protection of snap_acquire. */
void snap_release(struct snap_ref *ref)
{
    if (ref->slot < 0)
        atomic_fetch_sub_explicit(&ref->s->overflow, 1, memory_order_release);
    else
        atomic_store_explicit(&ref->s->slots[ref->slot].hp, NULL, memory_order_release);
}

/* Makes next current (s owns it), then waits until no reader holds the previous object and frees
 * it. Writers are serialised; readers are never blocked. Any thread but one holding a reference
 * on s (it would wait for itself). */
void snap_publish(struct snap *s, void *next)
{
    void *old;

    pthread_mutex_lock(&s->wlock);
    old = atomic_exchange(&s->cur, next);
    if (old) {
        for (size_t i = 0; i < SNAP_SLOTS; i++)
            while (atomic_load(&s->slots[i].hp) == old)
                sched_yield();
        while (atomic_load(&s->overflow) > 0)
            sched_yield();
        if (s->free_fn)
            s->free_fn(old);
    }
    pthread_mutex_unlock(&s->wlock);
}
