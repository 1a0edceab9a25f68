/*
 * Unit tests for src/model/sched.c (through model_call_submit) with a fake backend that sleeps as
 * many milliseconds as its first input element: inline and worker runs, `done` exactly once,
 * deadlines of queued and running calls (late results dropped without leaks), a full queue,
 * draining on sched_free, and many threads submitting at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "model/model_impl.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- the fake backend: y = 2 * x after sleeping x[0] milliseconds ---------------------------- */

static atomic_int runs_started, runs_finished;

static int run_sleepy(struct model *m, struct model_call *c)
{
    const struct mw_tensor *x = &c->inputs[0];
    const float *in = x->data;
    float *y;

    (void)m;
    atomic_fetch_add(&runs_started, 1);
    if (x->shape[0] > 0 && in[0] > 0)
        sleep_ms((long)in[0]);
    y = model_call_output(c, 0, 1, x->shape);
    if (y != NULL)
        for (int64_t i = 0; i < x->shape[0]; i++)
            y[i] = 2.0f * in[i];
    atomic_fetch_add(&runs_finished, 1);
    return y != NULL ? 0 : MWE_NOMEM;
}

static const struct backend_ops ops_sleepy = {"sleepy", NULL, run_sleepy, NULL};

static struct model *make_model(unsigned workers, unsigned queue_size, unsigned timeout_ms)
{
    struct model *m = calloc(1, sizeof(*m));
    struct mw_error e = {0};
    json_t *sig =
        json_loads("{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1]}],"
                   " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1]}]}",
                   0, NULL);

    assert_non_null(m);
    assert_non_null(sig);
    m->name = strdup("sleepy");
    m->version = strdup("1");
    m->dir = strdup(".");
    m->platform = strdup("test");
    m->description = strdup("");
    m->ops = &ops_sleepy;
    m->flags = MW_FLAG_THREAD_SAFE;
    m->opts = (struct model_opts){workers, queue_size, timeout_ms, 100};
    assert_int_equal(model_sig_from_json(&m->sig, sig, &e), 0);
    json_decref(sig);
    assert_int_equal(pthread_mutex_init(&m->run_lock, NULL), 0);
    if (workers > 0) {
        m->sched = sched_new(m, &e);
        if (m->sched == NULL)
            fail_msg("sched_new: %s", e.msg);
    }
    atomic_init(&m->ready, true);
    atomic_store(&runs_started, 0);
    atomic_store(&runs_finished, 0);
    return m;
}

/* A call with x = {first, 1, 2, ...} of n elements. */
static struct model_call *make_call(struct model *m, float first, int64_t n)
{
    struct model_call *c = model_call_new(m, 0);
    float *x;

    assert_non_null(c);
    x = arena_calloc(&c->arena, (size_t)n, sizeof(float));
    assert_non_null(x);
    x[0] = first;
    for (int64_t i = 1; i < n; i++)
        x[i] = (float)i;
    c->inputs[0].ndim = 1;
    c->inputs[0].shape[0] = n;
    c->inputs[0].data = x;
    return c;
}

/* ---- done tracking --------------------------------------------------------------------------- */

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done_total;

struct rec {
    atomic_int count;
    int status;
    uint64_t at_ns;
    float y1; /* y[1] when the call succeeded */
    /* optional: submit this call to this scheduler from inside done */
    struct sched *probe_sched;
    struct model_call *probe;
    int probe_rc;
};

static void on_done(struct model_call *c, void *ctx)
{
    struct rec *r = ctx;

    r->status = c->status;
    r->at_ns = time_mono_ns();
    if (c->status == 0 && c->outputs[0].shape[0] > 1)
        r->y1 = ((const float *)c->outputs[0].data)[1];
    if (r->probe_sched != NULL)
        r->probe_rc = sched_submit(r->probe_sched, r->probe);
    atomic_fetch_add(&r->count, 1);
    pthread_mutex_lock(&done_mu);
    done_total++;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

static void reset_done(void)
{
    pthread_mutex_lock(&done_mu);
    done_total = 0;
    pthread_mutex_unlock(&done_mu);
}

/* Waits until `n` dones in total (at most timeout_ms); returns how many there were. */
static int wait_done(int n, int timeout_ms)
{
    struct timespec ts;
    int got;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&done_mu);
    while (done_total < n && pthread_cond_timedwait(&done_cv, &done_mu, &ts) == 0)
        ;
    got = done_total;
    pthread_mutex_unlock(&done_mu);
    return got;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_inline_without_workers(void **state)
{
    struct model *m = make_model(0, 8, 1000);
    struct model_call *c = make_call(m, 0, 3);
    struct rec r = {0};

    (void)state;
    reset_done();
    assert_null(m->sched);
    assert_int_equal(model_call_submit(c, on_done, &r), 0);
    assert_int_equal(atomic_load(&r.count), 0);
    assert_int_equal(c->status, 0);
    assert_true(((const float *)c->outputs[0].data)[2] == 4.0f);
    model_call_release(c);
    model_free(m);
}

static void test_worker_run(void **state)
{
    struct model *m = make_model(2, 8, 5000);
    struct model_call *c = make_call(m, 0, 2);
    struct rec r = {0};

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(c, on_done, &r), 1);
    assert_int_equal(wait_done(1, 5000), 1);
    assert_int_equal(r.status, 0);
    assert_true(r.y1 == 2.0f);
    assert_true(c->t_queued_ns <= c->t_started_ns);
    assert_true(c->t_started_ns <= c->t_done_ns);
    assert_int_equal(atomic_load(&c->state), CALL_DONE);
    sleep_ms(50);
    assert_int_equal(atomic_load(&r.count), 1);
    assert_int_equal(sched_pending(m->sched), 0);
    model_call_release(c);
    model_free(m);
    assert_int_equal(atomic_load(&r.count), 1);
}

static void test_deadline_queued_and_running(void **state)
{
    struct model *m = make_model(1, 8, 150);
    struct model_call *a = make_call(m, 700, 2); /* runs 700 ms: expires while running */
    struct model_call *b = make_call(m, 0, 2);   /* waits behind a: expires while queued */
    struct rec ra = {0}, rb = {0};
    uint64_t t0 = time_mono_ns();

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(a, on_done, &ra), 1);
    assert_int_equal(model_call_submit(b, on_done, &rb), 1);
    assert_int_equal(wait_done(2, 5000), 2);
    assert_int_equal(ra.status, MWE_DEADLINE);
    assert_int_equal(rb.status, MWE_DEADLINE);
    /* Both were answered at their deadline, long before a's run ended. */
    assert_true(ra.at_ns - t0 >= UINT64_C(140000000));
    assert_true(ra.at_ns - t0 < UINT64_C(600000000));
    assert_true(rb.at_ns - t0 < UINT64_C(600000000));
    assert_int_equal(atomic_load(&a->state), CALL_EXPIRED);
    assert_int_equal(atomic_load(&b->state), CALL_EXPIRED);
    assert_int_equal(atomic_load(&runs_finished), 0);
    /* The requester gives a up while the model still runs it: the worker's reference keeps the
     * call alive and the late result is dropped with it (a leak or use-after-free shows under the
     * sanitizer build). */
    model_call_release(a);
    model_call_release(b);
    model_free(m);                                   /* joins the worker once a's run returns */
    assert_int_equal(atomic_load(&runs_started), 1); /* b never ran */
    assert_int_equal(atomic_load(&runs_finished), 1);
    assert_int_equal(atomic_load(&ra.count), 1);
    assert_int_equal(atomic_load(&rb.count), 1);
}

static void test_running_deadline_keeps_status(void **state)
{
    struct model *m = make_model(1, 8, 100);
    struct model_call *a = make_call(m, 300, 2);
    struct rec ra = {0};

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(a, on_done, &ra), 1);
    assert_int_equal(wait_done(1, 5000), 1);
    assert_int_equal(ra.status, MWE_DEADLINE);
    /* Let the run finish: its result must not overwrite the answer already given. On a loaded
     * machine the worker may find the deadline passed before it starts the run and never run it:
     * wait until the scheduler dropped its reference either way (bounded). */
    for (int i = 0; i < 1000 && atomic_load(&a->refs) > 1; i++)
        sleep_ms(10);
    assert_int_equal(atomic_load(&a->refs), 1);
    assert_int_equal(a->status, MWE_DEADLINE);
    assert_int_equal(atomic_load(&a->state), CALL_EXPIRED);
    assert_int_equal(atomic_load(&ra.count), 1);
    model_free(m);
    model_call_release(a);
}

static void test_queue_full(void **state)
{
    struct model *m = make_model(1, 2, 5000);
    struct model_call *a = make_call(m, 300, 2), *b = make_call(m, 0, 2), *c = make_call(m, 0, 2);
    struct model_call *d = make_call(m, 0, 2);
    struct rec ra = {0}, rb = {0}, rc = {0}, rd = {0};

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(a, on_done, &ra), 1);
    while (atomic_load(&runs_started) == 0)
        sleep_ms(1);
    assert_int_equal(sched_pending(m->sched), 0);
    assert_int_equal(model_call_submit(b, on_done, &rb), 1);
    assert_int_equal(model_call_submit(c, on_done, &rc), 1);
    assert_int_equal(sched_pending(m->sched), 2);
    assert_int_equal(model_call_submit(d, on_done, &rd), MWE_OVERLOADED);
    assert_int_equal(atomic_load(&d->refs), 1); /* the scheduler kept no reference */
    assert_int_equal(wait_done(3, 5000), 3);
    assert_int_equal(ra.status, 0);
    assert_int_equal(rb.status, 0);
    assert_int_equal(rc.status, 0);
    assert_int_equal(sched_pending(m->sched), 0);
    /* room again */
    assert_int_equal(model_call_submit(d, on_done, &rd), 1);
    assert_int_equal(wait_done(4, 5000), 4);
    assert_int_equal(rd.status, 0);
    assert_int_equal(atomic_load(&rd.count), 1);
    model_free(m);
    model_call_release(a);
    model_call_release(b);
    model_call_release(c);
    model_call_release(d);
}

static void test_free_drains_queue(void **state)
{
    struct model *m = make_model(1, 8, 5000);
    struct model_call *a = make_call(m, 200, 2), *b = make_call(m, 0, 2), *c = make_call(m, 0, 2);
    struct model_call *late = make_call(m, 0, 2);
    struct rec ra = {0}, rb = {0}, rc = {0};

    (void)state;
    reset_done();
    /* a's done (after sched_free began) tries to queue one more call. */
    ra.probe_sched = m->sched;
    ra.probe = late;
    ra.probe_rc = 12345;
    late->deadline_ns = time_mono_ns() + UINT64_C(1000000000);
    assert_int_equal(model_call_submit(a, on_done, &ra), 1);
    assert_int_equal(model_call_submit(b, on_done, &rb), 1);
    assert_int_equal(model_call_submit(c, on_done, &rc), 1);
    while (atomic_load(&runs_started) == 0)
        sleep_ms(1);
    model_free(m); /* returns once the queue is drained */
    assert_int_equal(done_total, 3);
    assert_int_equal(atomic_load(&runs_finished), 3);
    assert_int_equal(ra.status, 0);
    assert_int_equal(rb.status, 0);
    assert_int_equal(rc.status, 0);
    assert_true(rb.y1 == 2.0f);
    assert_int_equal(ra.probe_rc, MWE_SHUTTING_DOWN);
    assert_int_equal(atomic_load(&late->refs), 1);
    model_call_release(a);
    model_call_release(b);
    model_call_release(c);
    model_call_release(late);
}

#define SUBMITTERS 8
#define PER_THREAD 250

struct submitter {
    struct model *m;
    struct model_call *calls[PER_THREAD];
    struct rec recs[PER_THREAD];
    int refused;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        s->calls[i] = model_call_new(s->m, 0);
        float *x = arena_calloc(&s->calls[i]->arena, 2, sizeof(float));
        x[0] = 0;
        x[1] = (float)i;
        s->calls[i]->inputs[0].ndim = 1;
        s->calls[i]->inputs[0].shape[0] = 2;
        s->calls[i]->inputs[0].data = x;
        if (model_call_submit(s->calls[i], on_done, &s->recs[i]) != 1)
            s->refused++;
    }
    return NULL;
}

static void test_many_threads(void **state)
{
    struct model *m = make_model(4, SUBMITTERS * PER_THREAD, 30000);
    struct submitter *subs = calloc(SUBMITTERS, sizeof(*subs));
    pthread_t t[SUBMITTERS];

    (void)state;
    assert_non_null(subs);
    reset_done();
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i].m = m;
        assert_int_equal(pthread_create(&t[i], NULL, submit_many, &subs[i]), 0);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(wait_done(SUBMITTERS * PER_THREAD, 30000), SUBMITTERS * PER_THREAD);
    for (int i = 0; i < SUBMITTERS; i++) {
        assert_int_equal(subs[i].refused, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            assert_int_equal(atomic_load(&subs[i].recs[j].count), 1);
            assert_int_equal(subs[i].recs[j].status, 0);
            assert_true(subs[i].recs[j].y1 == 2.0f * (float)j);
        }
    }
    model_free(m);
    for (int i = 0; i < SUBMITTERS; i++)
        for (int j = 0; j < PER_THREAD; j++)
            model_call_release(subs[i].calls[j]);
    free(subs);
}

/* Deadlines racing completions: still exactly one done per call. */
static void test_deadline_race_exactly_once(void **state)
{
    enum { N = 400 };
    struct model *m = make_model(2, N, 3);
    struct model_call **calls = calloc(N, sizeof(*calls));
    struct rec *recs = calloc(N, sizeof(*recs));
    int expired = 0;

    (void)state;
    assert_non_null(calls);
    assert_non_null(recs);
    reset_done();
    for (int i = 0; i < N; i++) {
        calls[i] = make_call(m, (float)(i % 4), 2);
        assert_int_equal(model_call_submit(calls[i], on_done, &recs[i]), 1);
    }
    assert_int_equal(wait_done(N, 30000), N);
    model_free(m);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&recs[i].count), 1);
        assert_true(recs[i].status == 0 || recs[i].status == MWE_DEADLINE);
        expired += recs[i].status == MWE_DEADLINE;
        model_call_release(calls[i]);
    }
    assert_true(expired > 0);
    free(calls);
    free(recs);
}

/* ---- dynamic batching ---- */

/* make_model with batching: max rows per run, max_queue_delay_us. */
static struct model *make_batching_model(unsigned workers, unsigned queue_size,
                                         unsigned timeout_ms, unsigned max, unsigned delay_us)
{
    struct model *m = make_model(0, queue_size, timeout_ms);
    struct mw_error e = {0};

    m->opts.workers = workers;
    m->flags |= MW_FLAG_BATCH;
    m->batch = (struct batch_opts){.max = max, .delay_us = delay_us};
    m->sched = sched_new(m, &e);
    if (m->sched == NULL)
        fail_msg("sched_new: %s", e.msg);
    return m;
}

/* Deadlines racing completions of merged batches (calls expire while queued, while a worker
 * gathers a batch and while the batch runs): still exactly one done per call, and every call that
 * succeeded got its own rows back. */
static void test_batching_deadline_race_exactly_once(void **state)
{
    enum { N = 400 };
    struct model *m = make_batching_model(2, N, 3, 8, 1000);
    struct model_call **calls = calloc(N, sizeof(*calls));
    struct rec *recs = calloc(N, sizeof(*recs));
    int expired = 0, ok = 0;

    (void)state;
    assert_non_null(calls);
    assert_non_null(recs);
    reset_done();
    for (int i = 0; i < N; i++) {
        /* The merged run sleeps its first call's x[0] ms: 0 to 6, whichever call leads. */
        calls[i] = make_call(m, (float)(i % 7), 2);
        assert_int_equal(model_call_submit(calls[i], on_done, &recs[i]), 1);
    }
    assert_int_equal(wait_done(N, 30000), N);
    model_free(m);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&recs[i].count), 1);
        assert_true(recs[i].status == 0 || recs[i].status == MWE_DEADLINE);
        expired += recs[i].status == MWE_DEADLINE;
        if (recs[i].status == 0) {
            ok++;
            assert_true(recs[i].y1 == 2.0f); /* y = 2x, x[1] = 1: its own row, not another's */
            assert_int_equal(calls[i]->outputs[0].shape[0], 2);
        }
        model_call_release(calls[i]);
    }
    assert_true(expired > 0);
    assert_int_equal(ok + expired, N);
    free(calls);
    free(recs);
}

/* A batching scheduler drains its queue at sched_free, in batches, answering every call once. */
static void test_batching_free_drains_queue(void **state)
{
    enum { N = 50 };
    struct model *m = make_batching_model(1, N, 30000, 16, 100000);
    struct model_call *calls[N];
    struct rec recs[N];

    (void)state;
    memset(recs, 0, sizeof(recs));
    reset_done();
    for (int i = 0; i < N; i++) {
        calls[i] = make_call(m, 0, 3);
        assert_int_equal(model_call_submit(calls[i], on_done, &recs[i]), 1);
    }
    model_free(m); /* stops at once: the worker must not wait out the 100 ms window per batch */
    assert_int_equal(wait_done(N, 1), N);
    assert_true(atomic_load(&runs_started) < N); /* merged: fewer runs than calls */
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&recs[i].count), 1);
        assert_int_equal(recs[i].status, 0);
        assert_true(recs[i].y1 == 2.0f);
        model_call_release(calls[i]);
    }
}

static void test_sched_new_rejects_bad_options(void **state)
{
    struct model *m = make_model(0, 8, 1000);
    struct mw_error e = {0};

    (void)state;
    assert_null(sched_new(m, &e));
    assert_int_equal(e.code, MWE_CONFIG);
    assert_non_null(strstr(e.msg, "workers must be 1 to"));
    m->opts.workers = 1;
    m->opts.queue_size = 0;
    assert_null(sched_new(m, &e));
    assert_string_equal(e.msg, "sleepy: queue_size and timeout_ms must be at least 1");
    m->opts.queue_size = 4;
    m->opts.timeout_ms = 0;
    assert_null(sched_new(m, &e));
    m->opts.timeout_ms = 10;
    struct sched *s = sched_new(m, &e);
    assert_non_null(s);
    assert_int_equal(sched_pending(s), 0);
    sched_free(s);
    sched_free(NULL);
    assert_int_equal(sched_pending(NULL), 0);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inline_without_workers),
        cmocka_unit_test(test_worker_run),
        cmocka_unit_test(test_deadline_queued_and_running),
        cmocka_unit_test(test_running_deadline_keeps_status),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_free_drains_queue),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_deadline_race_exactly_once),
        cmocka_unit_test(test_sched_new_rejects_bad_options),
        cmocka_unit_test(test_batching_deadline_race_exactly_once),
        cmocka_unit_test(test_batching_free_drains_queue),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
