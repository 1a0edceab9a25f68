/*
 * The per-model scheduler: worker threads on a bounded FIFO, and a watchdog that answers calls
 * whose deadline passes first with MWE_DEADLINE; whoever wins the CAS on call->state calls `done`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model.h"

#define SCHED_MAX_WORKERS 1024
#define WATCH_BATCH 32 /* calls the watchdog answers per pass, outside the lock */

struct worker {
    struct sched *s;
    unsigned idx;
    pthread_t tid;
};

struct sched {
    struct model *m;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* workers: a call was queued, or stopping */
    pthread_cond_t watch_cv; /* watchdog (CLOCK_MONOTONIC): a call came while idle, or stop */

    /* All below under mu. Queued calls are linked through call->next, oldest first; a timeout is
     * per model, so FIFO order is also deadline order (sched_submit keeps it exact). */
    struct model_call *head, *tail;
    atomic_size_t n_queued; /* written under mu; read without it by sched_pending */
    size_t cap;
    struct model_call **running; /* one slot per worker: the call it runs, or NULL */
    bool stopping;               /* refuse new calls; workers leave once the queue is empty */
    bool watch_stop;
    bool watch_idle; /* the watchdog waits without a timeout: wake it for a new deadline */

    unsigned n_workers; /* threads started */
    struct worker *workers;
    pthread_t watchdog;
    bool watchdog_started;
    bool mu_ready, work_cv_ready, watch_cv_ready;
};

/* Pops the oldest queued call (mu held; the queue is not empty). */
static struct model_call *queue_pop(struct sched *s)
{
    struct model_call *c = s->head;

    s->head = c->next;
    if (s->head == NULL)
        s->tail = NULL;
    c->next = NULL;
    atomic_store_explicit(&s->n_queued,
                          atomic_load_explicit(&s->n_queued, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    return c;
}

/* Publishes MWE_DEADLINE and calls done: only after winning the CAS to CALL_EXPIRED, mu not held.
 */
static void answer_expired(struct sched *s, struct model_call *c, uint64_t now, bool was_running)
{
    c->status = MWE_DEADLINE;
    c->t_done_ns = now;
    log_msg(was_running ? LOG_WARN : LOG_DEBUG, "model call deadline exceeded", "model", s->m->name,
            "while", was_running ? "running" : "queued", NULL);
    c->done(c, c->done_ctx);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sched *s = w->s;
    struct model_call *c;
    uint64_t now;
    int expect, rc;
    bool won;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->work_cv, &s->mu);
        if (s->head == NULL)
            break;
        c = queue_pop(s);
        now = time_mono_ns();
        expect = CALL_QUEUED;
        if (now >= c->deadline_ns) {
            /* Too late to start: answer now rather than run it. */
            won = atomic_compare_exchange_strong(&c->state, &expect, CALL_EXPIRED);
            pthread_mutex_unlock(&s->mu);
            if (won)
                answer_expired(s, c, now, false);
            model_call_release(c);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (!atomic_compare_exchange_strong(&c->state, &expect, CALL_RUNNING)) {
            /* Someone answered it already (cannot happen while only we and the watchdog move
             * queued calls under mu; kept for safety). */
            pthread_mutex_unlock(&s->mu);
            model_call_release(c);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        c->t_started_ns = now;
        s->running[w->idx] = c;
        pthread_mutex_unlock(&s->mu);

        rc = model_call_exec(c);

        pthread_mutex_lock(&s->mu);
        s->running[w->idx] = NULL;
        expect = CALL_RUNNING;
        won = atomic_compare_exchange_strong(&c->state, &expect, CALL_DONE);
        pthread_mutex_unlock(&s->mu);
        if (won) {
            c->status = rc;
            c->t_done_ns = time_mono_ns();
            c->done(c, c->done_ctx);
        }
        /* else the watchdog answered MWE_DEADLINE: the late result is dropped with the call. */
        model_call_release(c);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Sleeps on watch_cv until `next` (a time_mono_ns value; UINT64_MAX: until signalled). mu held. */
static void watch_sleep(struct sched *s, uint64_t next)
{
    struct timespec ts;
    uint64_t now, wait_ns;

    if (next == UINT64_MAX) {
        s->watch_idle = true;
        pthread_cond_wait(&s->watch_cv, &s->mu);
        s->watch_idle = false;
        goto out;
    }
    now = time_mono_ns();
    if (next <= now)
        goto out;
    wait_ns = next - now;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        goto out;
    wait_ns += (uint64_t)ts.tv_nsec;
    ts.tv_sec += (time_t)(wait_ns / UINT64_C(1000000000));
    ts.tv_nsec = (long)(wait_ns % UINT64_C(1000000000));
    pthread_cond_timedwait(&s->watch_cv, &s->mu, &ts);
out:
    return;
}

static void *watchdog_main(void *arg)
{
    struct sched *s = arg;
    struct model_call *fire[WATCH_BATCH];
    bool fire_running[WATCH_BATCH];
    struct model_call *c;
    size_t n_fire;
    uint64_t now, next;
    int expect;

    pthread_mutex_lock(&s->mu);
    while (!s->watch_stop) {
        now = time_mono_ns();
        next = UINT64_MAX;
        n_fire = 0;
        /* Queued calls: the expired ones are at the head. The scheduler's reference moves to us. */
        while (s->head != NULL && n_fire < WATCH_BATCH) {
            c = s->head;
            if (c->deadline_ns > now) {
                next = c->deadline_ns;
                break;
            }
            c = queue_pop(s);
            expect = CALL_QUEUED;
            if (atomic_compare_exchange_strong(&c->state, &expect, CALL_EXPIRED)) {
                fire_running[n_fire] = false;
                fire[n_fire++] = c;
            } else {
                /* Not ours to answer (kept for safety); still drop the scheduler's reference. */
                pthread_mutex_unlock(&s->mu);
                model_call_release(c);
                pthread_mutex_lock(&s->mu);
            }
        }
        /* Running calls: the worker keeps its reference; we take one for the answer. */
        for (unsigned i = 0; i < s->n_workers && n_fire < WATCH_BATCH; i++) {
            c = s->running[i];
            if (c == NULL || atomic_load(&c->state) != CALL_RUNNING)
                continue;
            if (c->deadline_ns > now) {
                if (c->deadline_ns < next)
                    next = c->deadline_ns;
                continue;
            }
            expect = CALL_RUNNING;
            if (atomic_compare_exchange_strong(&c->state, &expect, CALL_EXPIRED)) {
                model_call_retain(c);
                fire_running[n_fire] = true;
                fire[n_fire++] = c;
            }
        }
        if (n_fire > 0) {
            pthread_mutex_unlock(&s->mu);
            for (size_t i = 0; i < n_fire; i++) {
                answer_expired(s, fire[i], now, fire_running[i]);
                model_call_release(fire[i]);
            }
            pthread_mutex_lock(&s->mu);
            continue;
        }
        watch_sleep(s, next);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Stops and joins whatever threads run (workers first, so that they drain the queue while the
 * watchdog still answers deadlines), then frees s. */
static void sched_stop(struct sched *s)
{
    if (s->mu_ready) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        if (s->work_cv_ready)
            pthread_cond_broadcast(&s->work_cv);
        pthread_mutex_unlock(&s->mu);
    }
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i].tid, NULL);
    if (s->watchdog_started) {
        pthread_mutex_lock(&s->mu);
        s->watch_stop = true;
        pthread_cond_signal(&s->watch_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->watchdog, NULL);
    }
    if (s->watch_cv_ready)
        pthread_cond_destroy(&s->watch_cv);
    if (s->work_cv_ready)
        pthread_cond_destroy(&s->work_cv);
    if (s->mu_ready)
        pthread_mutex_destroy(&s->mu);
    free(s->running);
    free(s->workers);
    free(s);
}

static void name_thread(pthread_t tid, const char *prefix, const char *model)
{
    char name[16];

    snprintf(name, sizeof(name), "%s%s", prefix, model);
    pthread_setname_np(tid, name);
}

/*
 * Starts m->opts.workers worker threads and the watchdog for m (borrowed; it must outlive the
 * scheduler). The threads block every signal: signals belong to the main thread. Returns NULL with
 * e (MWE_CONFIG for bad options, MWE_NOMEM, MWE_INTERNAL when a thread cannot start) with nothing
 * left running. Main thread, at load time.
 */
struct sched *sched_new(struct model *m, struct mw_error *e)
{
    struct sched *s = NULL;
    pthread_condattr_t ca;
    sigset_t all, old;
    unsigned want = m->opts.workers;
    int err;

    if (want == 0 || want > SCHED_MAX_WORKERS) {
        mw_fail(e, MWE_CONFIG, "%s: workers must be 1 to %d for a scheduler, not %u", m->name,
                SCHED_MAX_WORKERS, want);
        goto out;
    }
    if (m->opts.queue_size == 0 || m->opts.timeout_ms == 0) {
        mw_fail(e, MWE_CONFIG, "%s: queue_size and timeout_ms must be at least 1", m->name);
        goto out;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out_nomem;
    s->m = m;
    s->cap = m->opts.queue_size;
    atomic_init(&s->n_queued, 0);
    s->running = calloc(want, sizeof(*s->running));
    s->workers = calloc(want, sizeof(*s->workers));
    if (s->running == NULL || s->workers == NULL)
        goto out_nomem;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        goto out_nomem;
    s->mu_ready = true;
    if (pthread_cond_init(&s->work_cv, NULL) != 0)
        goto out_nomem;
    s->work_cv_ready = true;
    if (pthread_condattr_init(&ca) != 0)
        goto out_nomem;
    err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (err == 0)
        err = pthread_cond_init(&s->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (err != 0)
        goto out_nomem;
    s->watch_cv_ready = true;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = 0;
    for (unsigned i = 0; i < want && err == 0; i++) {
        s->workers[i].s = s;
        s->workers[i].idx = i;
        err = pthread_create(&s->workers[i].tid, NULL, worker_main, &s->workers[i]);
        if (err == 0) {
            s->n_workers++;
            name_thread(s->workers[i].tid, "mw-", m->name);
        }
    }
    if (err == 0) {
        err = pthread_create(&s->watchdog, NULL, watchdog_main, s);
        if (err == 0) {
            s->watchdog_started = true;
            name_thread(s->watchdog, "mw!", m->name);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        mw_fail(e, MWE_INTERNAL, "%s: cannot start the scheduler's threads: %s", m->name,
                strerror(err));
        goto out_stop;
    }
    goto out;

out_nomem:
    mw_fail(e, MWE_NOMEM, "%s: out of memory starting the scheduler", m->name);
out_stop:
    if (s != NULL)
        sched_stop(s);
    s = NULL;
out:
    return s;
}

/*
 * Refuses new calls (MWE_SHUTTING_DOWN), lets the workers drain the queue (running each call whose
 * deadline has not passed, answering the others with MWE_DEADLINE), joins the workers and the
 * watchdog and frees s. Blocks until running calls return. NULL-safe. Main thread; no other thread
 * may submit to s after this returns.
 */
void sched_free(struct sched *s)
{
    if (s != NULL)
        sched_stop(s);
}

/*
 * Queues c (state CALL_QUEUED, deadline_ns, done and done_ctx already set: see model_call_submit)
 * and takes the scheduler's reference on it. A deadline earlier than the last queued call's is
 * raised to it (they differ by the time between two clock reads), so the queue stays in deadline
 * order. Returns 0, MWE_OVERLOADED when queue_size calls already wait, MWE_SHUTTING_DOWN once
 * sched_free has begun. Any thread.
 */
int sched_submit(struct sched *s, struct model_call *c)
{
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        rc = MWE_SHUTTING_DOWN;
        goto out_unlock;
    }
    if (atomic_load_explicit(&s->n_queued, memory_order_relaxed) >= s->cap) {
        rc = MWE_OVERLOADED;
        goto out_unlock;
    }
    model_call_retain(c);
    atomic_store(&c->state, CALL_QUEUED);
    c->next = NULL;
    if (s->tail != NULL) {
        if (c->deadline_ns < s->tail->deadline_ns)
            c->deadline_ns = s->tail->deadline_ns;
        s->tail->next = c;
    } else {
        s->head = c;
    }
    s->tail = c;
    atomic_store_explicit(&s->n_queued,
                          atomic_load_explicit(&s->n_queued, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    pthread_cond_signal(&s->work_cv);
    if (s->watch_idle)
        pthread_cond_signal(&s->watch_cv);
out_unlock:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/*
 * Calls waiting in the queue (accepted, not yet started), e.g. for a queue-depth gauge. A snapshot:
 * it may change as soon as it is read. Any thread; takes no lock.
 */
size_t sched_pending(const struct sched *s)
{
    return s != NULL ? atomic_load_explicit(&s->n_queued, memory_order_relaxed) : 0;
}
