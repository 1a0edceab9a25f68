/*
 * The per-model scheduler: worker threads on a bounded FIFO, and a watchdog that answers calls
 * whose deadline passes first with MWE_DEADLINE; whoever wins the CAS on call->state calls `done`.
 * With dynamic batching a worker merges compatible queued calls into one backend run.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model_impl.h"

#define SCHED_MAX_WORKERS 1024
#define WATCH_BATCH 32 /* calls the watchdog answers per pass, outside the lock */

struct worker {
    struct sched *s;
    unsigned idx;
    pthread_t tid;
    struct model_call **mine; /* its `per` slots of s->running */
    int *rc;                  /* `per` results of its current batch */
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
    /* `per` slots per worker (1 without batching, else max_batch_size): the calls it holds
     * (running or collecting a batch); n_running[w] of worker w's slots are in use. */
    struct model_call **running;
    size_t *n_running;
    size_t per;
    int *rcs;                    /* `per` results per worker (struct worker.rc) */
    pthread_cond_t batch_cv;     /* (CLOCK_MONOTONIC) the collecting worker: a call was queued */
    bool collecting;             /* a worker is gathering a batch: the others leave it the queue */
    bool batch_cv_ready;
    bool stopping;               /* refuse new calls; workers leave once the queue is empty */
    bool watch_stop;
    bool watch_idle; /* the watchdog waits without a timeout: wake it for a new deadline */

    unsigned n_workers; /* threads started */
    struct worker *workers;
    pthread_t watchdog;
    bool watchdog_started;
    bool mu_ready, work_cv_ready, watch_cv_ready;
    bool joined; /* sched_join ran: the threads are gone (sched_shutdown, then sched_free) */
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

/* Sleeps on cv (a CLOCK_MONOTONIC condition variable) until `until` (a time_mono_ns value), a
 * signal, or a spurious wake-up. mu held. */
static void wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t until)
{
    struct timespec ts;
    uint64_t now, wait_ns;

    now = time_mono_ns();
    if (until <= now || clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        goto out;
    wait_ns = until - now + (uint64_t)ts.tv_nsec;
    ts.tv_sec += (time_t)(wait_ns / UINT64_C(1000000000));
    ts.tv_nsec = (long)(wait_ns % UINT64_C(1000000000));
    pthread_cond_timedwait(cv, mu, &ts);
out:
    return;
}

/* Removes c (whose predecessor in the queue is prev, NULL at the head) from the queue. mu held. */
static void queue_unlink(struct sched *s, struct model_call *prev, struct model_call *c)
{
    if (prev == NULL)
        s->head = c->next;
    else
        prev->next = c->next;
    if (s->tail == c)
        s->tail = prev;
    c->next = NULL;
    atomic_store_explicit(&s->n_queued,
                          atomic_load_explicit(&s->n_queued, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

/* rows is one of preferred_batch_size. */
static bool is_preferred(const struct batch_opts *o, int64_t rows)
{
    bool yes = false;

    for (unsigned i = 0; i < o->n_preferred && !yes; i++)
        yes = (int64_t)o->preferred[i] == rows;
    return yes;
}

/*
 * Dynamic batching: worker w holds one running call in mine[0]; moves compatible queued calls
 * whose deadline has not passed into its slots (each CAS'd to CALL_RUNNING, so the watchdog can
 * still answer it) until the rows reach max_batch_size or a preferred size, its slots are full,
 * the scheduler stops, or max_queue_delay_us has passed since mine[0] was queued; waits on
 * batch_cv for more calls meanwhile. mu held (released while waiting).
 */
static void collect_batch(struct sched *s, struct worker *w)
{
    const struct batch_opts *o = &s->m->batch;
    struct model_call *c, *prev, *next;
    int64_t rows = batch_rows_of(w->mine[0]), r;
    uint64_t now, window_end;
    size_t n = s->n_running[w->idx];
    int expect;

    if (rows < 0 || rows >= (int64_t)o->max)
        goto out;
    window_end = w->mine[0]->t_queued_ns + (uint64_t)o->delay_us * UINT64_C(1000);
    s->collecting = true;
    for (;;) {
        now = time_mono_ns();
        prev = NULL;
        for (c = s->head; c != NULL && n < s->per && rows < (int64_t)o->max; c = next) {
            next = c->next;
            r = batch_rows_of(c);
            expect = CALL_QUEUED;
            if (c->deadline_ns > now && r >= 0 && rows + r <= (int64_t)o->max &&
                batch_compatible(w->mine[0], c) &&
                atomic_compare_exchange_strong(&c->state, &expect, CALL_RUNNING)) {
                queue_unlink(s, prev, c);
                c->t_started_ns = now;
                w->mine[n++] = c;
                s->n_running[w->idx] = n;
                rows += r;
                continue; /* prev stays: c left the queue */
            }
            prev = c;
        }
        if (rows >= (int64_t)o->max || is_preferred(o, rows) || n >= s->per || s->stopping)
            break;
        if (time_mono_ns() >= window_end)
            break;
        wait_until(&s->batch_cv, &s->mu, window_end);
    }
    s->collecting = false;
    if (s->head != NULL)
        pthread_cond_broadcast(&s->work_cv);
out:
    return;
}

/*
 * Runs worker w's held calls (mine[0..n), all taken to CALL_RUNNING by w) and stores each one's
 * result in w->rc. One call runs alone; several run as one merged backend call whose outputs are
 * split back; when merging fails or the merged run reports MWE_INVALID_INPUT, each call still
 * running runs alone so that only a faulty request fails. mu not held.
 */
static void run_held(struct sched *s, struct worker *w, size_t n)
{
    struct model_call *merged = NULL;
    int64_t off = 0;
    int rc;

    if (n == 1) {
        w->rc[0] = model_call_exec(w->mine[0]);
        goto out;
    }
    if (s->m->run_many != NULL) {
        /* The backend batches itself (Python template models merge records, not tensors). */
        s->m->run_many(s->m, w->mine, n, w->rc);
        goto out;
    }
    merged = batch_merge(w->mine, n);
    rc = merged != NULL ? model_call_exec(merged) : MWE_INVALID_INPUT;
    if (rc == MWE_INVALID_INPUT) {
        for (size_t k = 0; k < n; k++)
            w->rc[k] = atomic_load(&w->mine[k]->state) == CALL_RUNNING
                           ? model_call_exec(w->mine[k])
                           : MWE_DEADLINE;
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        if (rc != 0) {
            w->rc[k] = rc;
            continue;
        }
        w->rc[k] = batch_split(merged, w->mine[k], off);
        off += batch_rows_of(w->mine[k]);
    }
out:
    model_call_release(merged);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sched *s = w->s;
    struct model_call *c;
    uint64_t now, rows;
    size_t n, kept;
    int expect;
    bool won;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while ((s->head == NULL || s->collecting) && !s->stopping)
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
        w->mine[0] = c;
        s->n_running[w->idx] = 1;
        if (s->m->batch.max > 0 && !atomic_load_explicit(&s->m->batch_off, memory_order_relaxed))
            collect_batch(s, w);

        /* Calls the watchdog answered while the batch was gathered are not merged. The others
         * learn (before anyone can answer them) whether they run batched, and the first one
         * carries the merged rows for the batch-size metric. */
        n = s->n_running[w->idx];
        kept = 0;
        rows = 0;
        for (size_t k = 0; k < n; k++) {
            /* The state only leaves CALL_RUNNING under mu, which we hold. Releasing under mu only
             * frees memory (a call's last reference runs no callback). */
            if (atomic_load(&w->mine[k]->state) != CALL_RUNNING) {
                model_call_release(w->mine[k]);
                continue;
            }
            w->mine[kept++] = w->mine[k];
        }
        n = kept;
        s->n_running[w->idx] = n;
        for (size_t k = 0; k < n; k++)
            if (batch_rows_of(w->mine[k]) > 0)
                rows += (uint64_t)batch_rows_of(w->mine[k]);
        for (size_t k = 0; k < n; k++) {
            w->mine[k]->batched = n > 1;
            w->mine[k]->batch_rows = k == 0 ? rows : 0;
        }
        pthread_mutex_unlock(&s->mu);

        if (n > 0)
            run_held(s, w, n);

        pthread_mutex_lock(&s->mu);
        s->n_running[w->idx] = 0;
        for (size_t k = 0; k < n; k++) {
            expect = CALL_RUNNING;
            /* rc 1 marks "answered by the watchdog": its late result is dropped with the call */
            if (!atomic_compare_exchange_strong(&w->mine[k]->state, &expect, CALL_DONE))
                w->rc[k] = 1;
        }
        pthread_mutex_unlock(&s->mu);
        for (size_t k = 0; k < n; k++) {
            c = w->mine[k];
            if (w->rc[k] != 1) {
                c->status = w->rc[k];
                c->t_done_ns = time_mono_ns();
                c->done(c, c->done_ctx);
            }
            model_call_release(c);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Sleeps on watch_cv until `next` (a time_mono_ns value; UINT64_MAX: until signalled). mu held. */
static void watch_sleep(struct sched *s, uint64_t next)
{
    if (next == UINT64_MAX) {
        s->watch_idle = true;
        pthread_cond_wait(&s->watch_cv, &s->mu);
        s->watch_idle = false;
        goto out;
    }
    wait_until(&s->watch_cv, &s->mu, next);
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
            for (size_t k = 0; k < s->n_running[i] && n_fire < WATCH_BATCH; k++) {
                c = s->running[(size_t)i * s->per + k];
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
 * watchdog still answers deadlines). Once: later calls do nothing. */
static void sched_join(struct sched *s)
{
    if (s->joined)
        return;
    s->joined = true;
    if (s->mu_ready) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        if (s->work_cv_ready)
            pthread_cond_broadcast(&s->work_cv);
        if (s->batch_cv_ready)
            pthread_cond_broadcast(&s->batch_cv);
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
}

/* sched_join, then frees s. */
static void sched_stop(struct sched *s)
{
    sched_join(s);
    if (s->watch_cv_ready)
        pthread_cond_destroy(&s->watch_cv);
    if (s->batch_cv_ready)
        pthread_cond_destroy(&s->batch_cv);
    if (s->work_cv_ready)
        pthread_cond_destroy(&s->work_cv);
    if (s->mu_ready)
        pthread_mutex_destroy(&s->mu);
    free(s->running);
    free(s->n_running);
    free(s->rcs);
    free(s->workers);
    free(s);
}

/* Dynamic batching needs a model whose every input and output has the batch as dimension 0
 * (MW_FLAG_BATCH) and options within bounds. 0 or MWE_CONFIG with e. */
static int check_batching(const struct model *m, struct mw_error *e)
{
    const struct batch_opts *o = &m->batch;
    int rc = 0;

    if ((m->flags & MW_FLAG_BATCH) == 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: \"dynamic_batching\" needs a model that accepts a batch (MW_FLAG_BATCH)",
                     m->name);
        goto out;
    }
    if (o->max > BATCH_MAX_ROWS || o->delay_us > BATCH_MAX_DELAY_US ||
        o->n_preferred > BATCH_MAX_PREFERRED) {
        rc = mw_fail(e, MWE_CONFIG, "%s: \"dynamic_batching\": options out of range", m->name);
        goto out;
    }
    for (unsigned i = 0; i < o->n_preferred; i++) {
        if (o->preferred[i] == 0 || o->preferred[i] > o->max) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: \"dynamic_batching\": preferred_batch_size %u is not 1 to "
                         "max_batch_size (%u)",
                         m->name, o->preferred[i], o->max);
            goto out;
        }
    }
    for (size_t i = 0; i < m->sig.n_inputs + m->sig.n_outputs; i++) {
        const struct mw_tensor_spec *sp = i < m->sig.n_inputs
                                              ? &m->sig.inputs[i]
                                              : &m->sig.outputs[i - m->sig.n_inputs];

        if (sp->ndim < 1 || sp->shape[0] != -1) {
            rc = mw_fail(e, MWE_CONFIG,
                         "%s: \"dynamic_batching\": %s's dimension 0 must be the batch (-1)",
                         m->name, sp->name);
            goto out;
        }
    }
out:
    return rc;
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
    if (m->batch.max > 0 && check_batching(m, e) != 0)
        goto out;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto out_nomem;
    s->m = m;
    s->cap = m->opts.queue_size;
    atomic_init(&s->n_queued, 0);
    s->per = m->batch.max > 0 ? m->batch.max : 1;
    s->running = calloc((size_t)want * s->per, sizeof(*s->running));
    s->rcs = calloc((size_t)want * s->per, sizeof(*s->rcs));
    s->n_running = calloc(want, sizeof(*s->n_running));
    s->workers = calloc(want, sizeof(*s->workers));
    if (s->running == NULL || s->rcs == NULL || s->n_running == NULL || s->workers == NULL)
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
    if (err == 0) {
        s->watch_cv_ready = true;
        err = pthread_cond_init(&s->batch_cv, &ca);
        s->batch_cv_ready = err == 0;
    }
    pthread_condattr_destroy(&ca);
    if (err != 0)
        goto out_nomem;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = 0;
    for (unsigned i = 0; i < want && err == 0; i++) {
        s->workers[i].s = s;
        s->workers[i].idx = i;
        s->workers[i].mine = &s->running[(size_t)i * s->per];
        s->workers[i].rc = &s->rcs[(size_t)i * s->per];
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
 * Stops s for good without freeing it: refuses new calls (MWE_SHUTTING_DOWN), lets the workers
 * drain the queue as sched_free does and joins every thread; s stays valid (submissions keep
 * being refused) until sched_free. Idempotent. NULL-safe. Main thread, holding a reference to the
 * model so that sched_free cannot run meanwhile.
 */
void sched_shutdown(struct sched *s)
{
    if (s != NULL)
        sched_join(s);
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
    if (s->collecting)
        pthread_cond_signal(&s->batch_cv); /* the gathering worker takes it, or leaves it */
    else
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
