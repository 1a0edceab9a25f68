/*
 * The pool of live models: released models are freed on its reaper thread (stopping a scheduler
 * joins threads and may wait for a running call: never on an I/O thread), and every live model's
 * scheduler stops at shutdown.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model_int.h"
#include "model/repo_int.h"

/* ---- the pool -------------------------------------------------------------------------------- */

struct model_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* the reaper: a model to free, or stop */
    pthread_cond_t idle_cv; /* model_pool_flush: the reaper finished one */
    struct model *live;     /* every linked model not yet retired, through pool_prev/next */
    size_t n_live;
    struct model *dead_head, *dead_tail;
    size_t busy; /* models the reaper is freeing right now */
    bool stop;
    pthread_t reaper;
};

static void *reaper_main(void *arg)
{
    struct model_pool *p = arg;
    struct model *m;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->dead_head == NULL && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->dead_head == NULL)
            break;
        m = p->dead_head;
        p->dead_head = m->dead_next;
        if (p->dead_head == NULL)
            p->dead_tail = NULL;
        m->dead_next = NULL;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        log_msg(LOG_DEBUG, "model freed", "model", m->name, "version", m->version, NULL);
        model_free(m); /* stops its scheduler: may wait for a call still running */
        pthread_mutex_lock(&p->mu);
        p->busy--;
        pthread_cond_broadcast(&p->idle_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/*
 * A pool with its reaper thread (which blocks every signal). NULL with e (MWE_NOMEM /
 * MWE_INTERNAL) when it cannot start. Main thread.
 */
struct model_pool *model_pool_new(struct mw_error *e)
{
    struct model_pool *p = calloc(1, sizeof(*p));
    sigset_t all, old;
    int err;

    if (p == NULL) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        p = NULL;
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->idle_cv, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&p->reaper, NULL, reaper_main, p);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        mw_fail(e, MWE_INTERNAL, "cannot start the model reaper thread: %s", strerror(err));
        pthread_cond_destroy(&p->idle_cv);
        pthread_cond_destroy(&p->work_cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        p = NULL;
        goto out;
    }
    pthread_setname_np(p->reaper, "mw-reaper");
out:
    return p;
}

/* Adds a freshly loaded m (not yet shared) to p's live list. Thread running the reload. */
void model_pool_link(struct model_pool *p, struct model *m)
{
    pthread_mutex_lock(&p->mu);
    m->pool = p;
    m->pool_prev = NULL;
    m->pool_next = p->live;
    if (p->live != NULL)
        p->live->pool_prev = m;
    p->live = m;
    p->n_live++;
    pthread_mutex_unlock(&p->mu);
}

/* Unlinks m from its pool's live list (pool lock held). */
static void unlink_locked(struct model_pool *p, struct model *m)
{
    if (m->pool_prev != NULL)
        m->pool_prev->pool_next = m->pool_next;
    else
        p->live = m->pool_next;
    if (m->pool_next != NULL)
        m->pool_next->pool_prev = m->pool_prev;
    m->pool_prev = m->pool_next = NULL;
    m->pool = NULL;
    p->n_live--;
}

/* m's last reference is gone: it leaves the live list and waits for the reaper. Any thread;
 * never blocks beyond the pool lock. */
void model_pool_retire(struct model *m)
{
    struct model_pool *p = m->pool;

    pthread_mutex_lock(&p->mu);
    unlink_locked(p, m);
    m->dead_next = NULL;
    if (p->dead_tail != NULL)
        p->dead_tail->dead_next = m;
    else
        p->dead_head = m;
    p->dead_tail = m;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

/* model_free of a model still in the live list (a failed build, a test). Any thread. */
void model_pool_unlink(struct model *m)
{
    struct model_pool *p = m->pool;

    pthread_mutex_lock(&p->mu);
    unlink_locked(p, m);
    pthread_mutex_unlock(&p->mu);
}

/* See model.h. Takes a reference on each live model (skipping those whose count already reached
 * zero: the reaper stops them), then shuts them down outside the lock. Main thread. */
void model_pool_shutdown(struct model_pool *p)
{
    struct model **list = NULL, *m;
    size_t n = 0;
    int refs;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    list = calloc(p->n_live + 1, sizeof(*list));
    for (m = p->live; list != NULL && m != NULL; m = m->pool_next) {
        refs = atomic_load(&m->refs);
        while (refs > 0 && !atomic_compare_exchange_weak(&m->refs, &refs, refs + 1))
            ;
        if (refs > 0)
            list[n++] = m;
    }
    pthread_mutex_unlock(&p->mu);
    if (list == NULL) {
        log_msg(LOG_ERROR, "out of memory stopping the models", NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        model_shutdown(list[i]);
        model_release(list[i]);
    }
    free(list);
}

/* Waits until every model queued for the reaper so far has been freed. Any thread but the
 * reaper. */
void model_pool_flush(struct model_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->dead_head != NULL || p->busy > 0)
        pthread_cond_wait(&p->idle_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* Models linked and not yet retired. Any thread. */
size_t model_pool_live(struct model_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->n_live;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* See model.h. Main thread at exit, once no other thread releases models. */
void model_pool_free(struct model_pool *p)
{
    struct model *m, *next;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->reaper, NULL);
    for (m = p->live; m != NULL; m = next) {
        next = m->pool_next;
        m->pool = NULL;
        m->pool_prev = m->pool_next = NULL;
    }
    if (p->n_live > 0)
        log_kv(LOG_WARN, "models still referenced when the pool stopped", "#count",
               (long long)p->n_live, NULL);
    pthread_cond_destroy(&p->idle_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
