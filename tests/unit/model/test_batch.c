/*
 * Unit tests for dynamic batching (src/model/batch.c and the batching worker of sched.c): merging
 * and splitting (numbers and BYTES), compatibility, batch sizes bounded by max_batch_size and
 * preferred sizes, errors isolated per request, deadlines and queue limits, model.json options,
 * and batched results identical to unbatched ones for the testkit plug-in and the XGBoost iris model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/model_impl.h"

#define GATE_VALUE (-7.0f) /* a call whose x[0][0] is this blocks until the test opens the gate */
#define BAD_VALUE 13.0f    /* a row holding this is invalid input */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---- the fake backend: x FP32 [-1, 2], s BYTES [-1] -> y = 3x + 1, t = "<s>!" -------------- */

static atomic_int runs, max_rows_seen, gate_open;
static pthread_mutex_t sizes_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t sizes[4096];
static int n_sizes;

static int run_rows(struct model *m, struct model_call *c)
{
    const struct mw_tensor *x = &c->inputs[0], *sv = &c->inputs[1];
    const float *in = x->data;
    const struct mw_bytes *sin = sv->data;
    int64_t rows = x->shape[0];
    int prev;
    float *y;
    struct mw_bytes *t;

    (void)m;
    atomic_fetch_add(&runs, 1);
    prev = atomic_load(&max_rows_seen);
    while (rows > prev && !atomic_compare_exchange_weak(&max_rows_seen, &prev, (int)rows))
        ;
    pthread_mutex_lock(&sizes_mu);
    if (n_sizes < (int)(sizeof(sizes) / sizeof(sizes[0])))
        sizes[n_sizes++] = rows;
    pthread_mutex_unlock(&sizes_mu);
    if (rows > 0 && in[0] == GATE_VALUE)
        while (!atomic_load(&gate_open))
            sleep_ms(1);
    for (int64_t i = 0; i < rows * 2; i++) {
        if (in[i] == BAD_VALUE) {
            model_call_set_error(c, "x[%lld]: 13 is not allowed", (long long)(i / 2));
            return MWE_INVALID_INPUT;
        }
    }
    y = model_call_output(c, 0, 2, (int64_t[]){rows, 2});
    t = model_call_output(c, 1, 1, (int64_t[]){rows});
    if (y == NULL || t == NULL)
        return MWE_NOMEM;
    for (int64_t i = 0; i < rows * 2; i++)
        y[i] = 3.0f * in[i] + 1.0f;
    for (int64_t i = 0; i < rows; i++) {
        uint8_t *p = arena_alloc(&c->arena, sin[i].len + 1);

        if (p == NULL)
            return MWE_NOMEM;
        memcpy(p, sin[i].ptr, sin[i].len);
        p[sin[i].len] = '!';
        t[i] = (struct mw_bytes){p, sin[i].len + 1};
    }
    return 0;
}

static const struct backend_ops ops_rows = {"rows", NULL, run_rows, NULL};

static void reset_counters(void)
{
    atomic_store(&runs, 0);
    atomic_store(&max_rows_seen, 0);
    atomic_store(&gate_open, 0);
    pthread_mutex_lock(&sizes_mu);
    n_sizes = 0;
    pthread_mutex_unlock(&sizes_mu);
}

/* A fake model; workers 0 makes no scheduler. batch: {max, delay_us, preferred...} or NULL. */
static struct model *make_model(unsigned workers, unsigned queue_size, unsigned timeout_ms,
                                const struct batch_opts *batch, uint32_t flags)
{
    struct model *m = calloc(1, sizeof(*m));
    struct mw_error e = {0};
    json_t *sig = json_loads(
        "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2]},"
        "              {\"name\": \"s\", \"datatype\": \"BYTES\", \"shape\": [-1]}],"
        " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1, 2]},"
        "               {\"name\": \"t\", \"datatype\": \"BYTES\", \"shape\": [-1]}]}",
        0, NULL);

    assert_non_null(m);
    assert_non_null(sig);
    m->name = strdup("rows");
    m->version = strdup("1");
    m->dir = strdup(".");
    m->platform = strdup("test");
    m->description = strdup("");
    m->ops = &ops_rows;
    m->flags = flags;
    m->opts = (struct model_opts){.workers = workers,
                                  .queue_size = queue_size,
                                  .timeout_ms = timeout_ms,
                                  .max_records = 100};
    if (batch != NULL)
        m->batch = *batch;
    assert_int_equal(model_sig_from_json(&m->sig, sig, &e), 0);
    json_decref(sig);
    assert_int_equal(pthread_mutex_init(&m->run_lock, NULL), 0);
    if (workers > 0) {
        m->sched = sched_new(m, &e);
        if (m->sched == NULL)
            fail_msg("sched_new: %s", e.msg);
    }
    atomic_init(&m->ready, true);
    reset_counters();
    return m;
}

/* A call of `rows` rows: x[i] = {base + i, -(base + i)}, s[i] = "r<base + i>". */
static struct model_call *make_call(struct model *m, float base, int64_t rows)
{
    struct model_call *c = model_call_new(m, 0);
    float *x;
    struct mw_bytes *s;

    assert_non_null(c);
    x = arena_calloc(&c->arena, (size_t)rows * 2 + 1, sizeof(float));
    s = arena_calloc(&c->arena, (size_t)rows + 1, sizeof(*s));
    assert_non_null(x);
    assert_non_null(s);
    for (int64_t i = 0; i < rows; i++) {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "r%g", (double)(base + (float)i));

        x[2 * i] = base + (float)i;
        x[2 * i + 1] = -(base + (float)i);
        s[i].ptr = (const uint8_t *)arena_strndup(&c->arena, tmp, (size_t)n);
        s[i].len = (size_t)n;
        assert_non_null(s[i].ptr);
    }
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = rows;
    c->inputs[0].shape[1] = 2;
    c->inputs[0].data = x;
    c->inputs[1].ndim = 1;
    c->inputs[1].shape[0] = rows;
    c->inputs[1].data = s;
    return c;
}

/* Checks c's outputs are what run_rows gives for make_call(base, rows) (c->inputs are read). */
static void check_outputs(const struct model_call *c, int64_t rows)
{
    const float *x = c->inputs[0].data, *y = c->outputs[0].data;
    const struct mw_bytes *s = c->inputs[1].data, *t = c->outputs[1].data;

    assert_int_equal(c->outputs[0].ndim, 2);
    assert_int_equal(c->outputs[0].shape[0], rows);
    assert_int_equal(c->outputs[0].shape[1], 2);
    assert_int_equal(c->outputs[1].shape[0], rows);
    for (int64_t i = 0; i < rows * 2; i++)
        assert_true(y[i] == 3.0f * x[i] + 1.0f);
    for (int64_t i = 0; i < rows; i++) {
        assert_int_equal(t[i].len, s[i].len + 1);
        assert_memory_equal(t[i].ptr, s[i].ptr, s[i].len);
        assert_int_equal(t[i].ptr[s[i].len], '!');
        /* The bytes live in c's own arena, not in the merged call's. */
        assert_ptr_not_equal(t[i].ptr, s[i].ptr);
    }
}

/* ---- done tracking --------------------------------------------------------------------------- */

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done_total;

struct rec {
    atomic_int count;
    int status;
    char errmsg[256];
};

static void on_done(struct model_call *c, void *ctx)
{
    struct rec *r = ctx;

    r->status = c->status;
    memcpy(r->errmsg, c->errmsg, sizeof(r->errmsg));
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

/* Polls until `runs` reaches n (a run started). */
static void wait_runs(int n)
{
    for (int i = 0; i < 10000 && atomic_load(&runs) < n; i++)
        sleep_ms(1);
    assert_true(atomic_load(&runs) >= n);
}

/* Submits a gate call (it blocks the only worker) and waits until it runs. */
static struct model_call *block_worker(struct model *m, struct rec *r)
{
    struct model_call *g = make_call(m, GATE_VALUE, 1);

    assert_int_equal(model_call_submit(g, on_done, r), 1);
    wait_runs(1);
    return g;
}

/* ---- batch.c directly ------------------------------------------------------------------------ */

static void test_merge_split(void **state)
{
    struct model *m = make_model(0, 16, 1000, NULL, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    const int64_t rows[] = {1, 3, 2};
    struct model_call *calls[3], *merged, *alone;
    const float *mx;
    const struct mw_bytes *ms;
    int64_t off = 0;

    (void)state;
    for (int k = 0; k < 3; k++)
        calls[k] = make_call(m, (float)(10 * k), rows[k]);
    merged = batch_merge(calls, 3);
    assert_non_null(merged);
    assert_int_equal(merged->inputs[0].shape[0], 6);
    assert_int_equal(merged->inputs[0].shape[1], 2);
    assert_int_equal(merged->inputs[1].shape[0], 6);
    mx = merged->inputs[0].data;
    ms = merged->inputs[1].data;
    for (int k = 0; k < 3; k++) {
        const float *x = calls[k]->inputs[0].data;
        const struct mw_bytes *s = calls[k]->inputs[1].data;

        assert_memory_equal(mx + off * 2, x, (size_t)rows[k] * 2 * sizeof(float));
        for (int64_t i = 0; i < rows[k]; i++)
            assert_ptr_equal(ms[off + i].ptr, s[i].ptr); /* BYTES point into the parts */
        off += rows[k];
    }
    assert_int_equal(model_call_exec(merged), 0);
    off = 0;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(batch_split(merged, calls[k], off), 0);
        off += rows[k];
    }
    model_call_release(merged); /* the split outputs must not depend on it */
    for (int k = 0; k < 3; k++) {
        alone = make_call(m, (float)(10 * k), rows[k]);
        assert_int_equal(model_call_run(alone), 0);
        check_outputs(calls[k], rows[k]);
        assert_memory_equal(calls[k]->outputs[0].data, alone->outputs[0].data,
                            (size_t)rows[k] * 2 * sizeof(float));
        model_call_release(alone);
        model_call_release(calls[k]);
    }
    model_free(m);
}

static void test_compatible_and_rows(void **state)
{
    struct model *m = make_model(0, 16, 1000, NULL, MW_FLAG_BATCH);
    struct model *m2 = make_model(0, 16, 1000, NULL, MW_FLAG_BATCH);
    struct model_call *a = make_call(m, 1, 2), *b = make_call(m, 5, 4), *o = make_call(m2, 1, 2);
    struct model_call *pair[2] = {a, b};

    (void)state;
    assert_int_equal(batch_rows_of(a), 2);
    assert_true(batch_compatible(a, b));
    assert_false(batch_compatible(a, o)); /* another model */
    b->inputs[0].shape[1] = 3;            /* a non-batch dimension differs */
    assert_false(batch_compatible(a, b));
    assert_null(batch_merge(pair, 2));
    b->inputs[0].shape[1] = 2;
    b->inputs[1].shape[0] = 3; /* the inputs' batch dimensions disagree */
    assert_int_equal(batch_rows_of(b), -1);
    assert_false(batch_compatible(a, b));
    b->inputs[1].shape[0] = 4;
    b->inputs[0].ndim = 0; /* no batch dimension at all */
    assert_int_equal(batch_rows_of(b), -1);
    b->inputs[0].ndim = 2;
    assert_null(batch_merge(pair, 0));
    assert_null(batch_merge(NULL, 1));
    model_call_release(a);
    model_call_release(b);
    model_call_release(o);
    model_free(m);
    model_free(m2);
}

static void test_split_errors(void **state)
{
    struct model *m = make_model(0, 16, 1000, NULL, MW_FLAG_BATCH);
    struct model_call *calls[2], *merged, *small;

    (void)state;
    calls[0] = make_call(m, 1, 2);
    calls[1] = make_call(m, 3, 3);
    merged = batch_merge(calls, 2);
    assert_non_null(merged);
    /* Before the run: no outputs to split. */
    assert_int_equal(batch_split(merged, calls[0], 0), MWE_MODEL_FAILED);
    assert_int_equal(model_call_exec(merged), 0);
    /* Rows past the merged outputs' end. */
    assert_int_equal(batch_split(merged, calls[1], 3), MWE_MODEL_FAILED);
    /* A call whose arena bound cannot hold its share of the outputs. */
    small = model_call_new(m, 1024);
    assert_non_null(small);
    small->inputs[0] = calls[1]->inputs[0];
    small->inputs[1] = calls[1]->inputs[1];
    small->arena.max = small->arena.total; /* nothing more fits */
    assert_int_equal(batch_split(merged, small, 2), MWE_NOMEM);
    assert_int_equal(batch_split(merged, calls[1], 2), 0);
    check_outputs(calls[1], 3);
    model_call_release(small);
    model_call_release(merged);
    model_call_release(calls[0]);
    model_call_release(calls[1]);
    model_free(m);
}

/* ---- the batching scheduler ------------------------------------------------------------------ */

/* 20 one-row calls queued behind a blocked worker run as batches of 16 and 4 (max_batch_size). */
static void test_batches_bounded_by_max(void **state)
{
    struct batch_opts b = {.max = 16, .delay_us = 0};
    struct model *m = make_model(1, 64, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec recs[21] = {0};
    struct model_call *calls[21];

    (void)state;
    reset_done();
    calls[0] = block_worker(m, &recs[0]);
    for (int k = 1; k <= 20; k++) {
        calls[k] = make_call(m, (float)(100 * k), 1);
        assert_int_equal(model_call_submit(calls[k], on_done, &recs[k]), 1);
    }
    atomic_store(&gate_open, 1);
    assert_int_equal(wait_done(21, 10000), 21);
    assert_int_equal(atomic_load(&runs), 3);
    assert_int_equal(n_sizes, 3);
    assert_int_equal(sizes[0], 1);
    assert_int_equal(sizes[1], 16);
    assert_int_equal(sizes[2], 4);
    assert_int_equal(atomic_load(&max_rows_seen), 16);
    for (int k = 0; k <= 20; k++) {
        assert_int_equal(atomic_load(&recs[k].count), 1);
        assert_int_equal(recs[k].status, 0);
        check_outputs(calls[k], 1);
    }
    /* The metric fields: the batch's first call carries its rows, the others nothing. */
    assert_false(calls[0]->batched);
    assert_true(calls[1]->batched);
    assert_int_equal(calls[1]->batch_rows, 16);
    assert_int_equal(calls[2]->batch_rows, 0);
    assert_int_equal(calls[17]->batch_rows, 4);
    for (int k = 0; k <= 20; k++)
        model_call_release(calls[k]);
    model_free(m);
}

/* Calls of varying rows never pass max_batch_size together; a call larger than it runs alone. */
static void test_varying_rows_and_oversized(void **state)
{
    struct batch_opts b = {.max = 8, .delay_us = 0};
    struct model *m = make_model(1, 64, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    const int64_t rows[] = {3, 4, 2, 12, 5, 1, 1, 6};
    struct rec recs[9] = {0};
    struct model_call *calls[9];
    int64_t total = 0;

    (void)state;
    reset_done();
    calls[0] = block_worker(m, &recs[0]);
    for (int k = 1; k <= 8; k++) {
        calls[k] = make_call(m, (float)(50 * k), rows[k - 1]);
        assert_int_equal(model_call_submit(calls[k], on_done, &recs[k]), 1);
    }
    atomic_store(&gate_open, 1);
    assert_int_equal(wait_done(9, 10000), 9);
    for (int i = 0; i < n_sizes; i++) {
        total += sizes[i];
        if (sizes[i] > 8)
            assert_int_equal(sizes[i], 12); /* only the oversized call, alone */
    }
    assert_int_equal(total, 1 + 3 + 4 + 2 + 12 + 5 + 1 + 1 + 6);
    assert_true(atomic_load(&runs) < 9); /* something was merged */
    for (int k = 0; k <= 8; k++) {
        assert_int_equal(recs[k].status, 0);
        check_outputs(calls[k], k == 0 ? 1 : rows[k - 1]);
        model_call_release(calls[k]);
    }
    model_free(m);
}

/* A preferred size dispatches at once even with a long max_queue_delay_us. */
static void test_preferred_size(void **state)
{
    struct batch_opts b = {.max = 8, .delay_us = 1000000, .n_preferred = 1, .preferred = {3}};
    struct model *m = make_model(1, 64, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec recs[4] = {0};
    struct model_call *calls[4];

    (void)state;
    reset_done();
    calls[0] = make_call(m, 1, 1);
    calls[1] = make_call(m, 2, 2);
    /* Both queued before the worker looks: 3 rows, the preferred size. */
    assert_int_equal(model_call_submit(calls[0], on_done, &recs[0]), 1);
    assert_int_equal(model_call_submit(calls[1], on_done, &recs[1]), 1);
    assert_int_equal(wait_done(2, 900), 2);
    assert_int_equal(atomic_load(&max_rows_seen), 3);
    check_outputs(calls[0], 1);
    check_outputs(calls[1], 2);
    model_call_release(calls[0]);
    model_call_release(calls[1]);
    model_free(m);
}

/* A lone call waits for company for max_queue_delay_us, then runs alone. */
static void test_single_call_waits_at_most_delay(void **state)
{
    struct batch_opts b = {.max = 8, .delay_us = 30000};
    struct model *m = make_model(1, 64, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec r = {0};
    struct model_call *c = make_call(m, 4, 2);

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(c, on_done, &r), 1);
    assert_int_equal(wait_done(1, 10000), 1);
    assert_int_equal(r.status, 0);
    assert_int_equal(atomic_load(&runs), 1);
    assert_int_equal(atomic_load(&max_rows_seen), 2);
    assert_false(c->batched);
    /* It did wait for the window (a lower bound: always true, whatever the machine's load). */
    assert_true(c->t_done_ns - c->t_queued_ns >= UINT64_C(30000000));
    check_outputs(c, 2);
    model_call_release(c);
    model_free(m);
}

/* One invalid request in a merged batch fails alone; the others get their results. */
static void test_errors_isolated(void **state)
{
    struct batch_opts b = {.max = 32, .delay_us = 0};
    struct model *m = make_model(1, 64, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec recs[7] = {0};
    struct model_call *calls[7];

    (void)state;
    reset_done();
    calls[0] = block_worker(m, &recs[0]);
    for (int k = 1; k <= 6; k++) {
        calls[k] = make_call(m, (float)(20 * k), 2);
        if (k == 4)
            ((float *)calls[k]->inputs[0].data)[3] = BAD_VALUE;
        assert_int_equal(model_call_submit(calls[k], on_done, &recs[k]), 1);
    }
    atomic_store(&gate_open, 1);
    assert_int_equal(wait_done(7, 10000), 7);
    /* gate, the merged run of 12 rows that failed, then the 6 calls alone */
    assert_int_equal(atomic_load(&runs), 1 + 1 + 6);
    assert_int_equal(atomic_load(&max_rows_seen), 12);
    for (int k = 0; k <= 6; k++) {
        assert_int_equal(atomic_load(&recs[k].count), 1);
        if (k == 4) {
            assert_int_equal(recs[k].status, MWE_INVALID_INPUT);
            assert_string_equal(recs[k].errmsg, "x[1]: 13 is not allowed");
        } else {
            assert_int_equal(recs[k].status, 0);
            check_outputs(calls[k], k == 0 ? 1 : 2);
        }
        model_call_release(calls[k]);
    }
    model_free(m);
}

/* Deadlines with batching on: calls that expire in the queue are answered once and never run; a
 * running batch whose deadline passes is answered MWE_DEADLINE once per call. */
static void test_deadlines(void **state)
{
    struct batch_opts b = {.max = 16, .delay_us = 0};
    struct model *m = make_model(1, 64, 100, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec recs[6] = {0};
    struct model_call *calls[6];

    (void)state;
    reset_done();
    calls[0] = block_worker(m, &recs[0]);
    for (int k = 1; k <= 5; k++) {
        calls[k] = make_call(m, (float)k, 1);
        assert_int_equal(model_call_submit(calls[k], on_done, &recs[k]), 1);
    }
    /* All six expire while the gate holds the worker. */
    assert_int_equal(wait_done(6, 10000), 6);
    atomic_store(&gate_open, 1);
    for (int k = 0; k <= 5; k++)
        assert_int_equal(recs[k].status, MWE_DEADLINE);
    /* Nothing else runs: the queued ones were not merged nor started. */
    sleep_ms(50);
    assert_int_equal(atomic_load(&runs), 1);
    for (int k = 0; k <= 5; k++) {
        assert_int_equal(atomic_load(&recs[k].count), 1);
        model_call_release(calls[k]);
    }
    model_free(m);
}

/* A call whose deadline passes while the worker waits for a batch is answered and not run. */
static void test_deadline_while_gathering(void **state)
{
    struct batch_opts b = {.max = 16, .delay_us = 300000};
    struct model *m = make_model(1, 64, 50, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec r = {0};
    struct model_call *c = make_call(m, 1, 1);

    (void)state;
    reset_done();
    assert_int_equal(model_call_submit(c, on_done, &r), 1);
    assert_int_equal(wait_done(1, 10000), 1);
    assert_int_equal(r.status, MWE_DEADLINE);
    /* Past the window: the worker dropped it without running it. */
    sleep_ms(400);
    assert_int_equal(atomic_load(&runs), 0);
    assert_int_equal(atomic_load(&r.count), 1);
    model_call_release(c);
    model_free(m);
}

/* The queue limit holds with batching on; the queued calls then run as one batch. */
static void test_queue_limit(void **state)
{
    struct batch_opts b = {.max = 16, .delay_us = 0};
    struct model *m = make_model(1, 4, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct rec recs[6] = {0};
    struct model_call *calls[6];

    (void)state;
    reset_done();
    calls[0] = block_worker(m, &recs[0]);
    for (int k = 1; k <= 5; k++) {
        calls[k] = make_call(m, (float)k, 1);
        assert_int_equal(model_call_submit(calls[k], on_done, &recs[k]), k <= 4 ? 1
                                                                              : MWE_OVERLOADED);
    }
    assert_int_equal(sched_pending(m->sched), 4);
    atomic_store(&gate_open, 1);
    assert_int_equal(wait_done(5, 10000), 5);
    assert_int_equal(atomic_load(&runs), 2);
    assert_int_equal(atomic_load(&max_rows_seen), 4);
    assert_int_equal(atomic_load(&recs[5].count), 0);
    for (int k = 0; k <= 5; k++)
        model_call_release(calls[k]);
    model_free(m);
}

struct submitter {
    struct model *m;
    int id;
    int n;
    int failures;
};

static void *submit_many(void *arg)
{
    struct submitter *sb = arg;

    for (int i = 0; i < sb->n; i++) {
        int64_t rows = 1 + (sb->id + i) % 5;
        struct model_call *c = make_call(sb->m, (float)(1000 * sb->id + 10 * i), rows);
        struct rec r = {0};

        if (model_call_submit(c, on_done, &r) != 1) {
            sb->failures++;
            model_call_release(c);
            continue;
        }
        while (atomic_load(&r.count) == 0)
            sleep_ms(1);
        if (r.status != 0 || c->outputs[0].shape[0] != rows ||
            ((const float *)c->outputs[0].data)[0] !=
                3.0f * ((const float *)c->inputs[0].data)[0] + 1.0f)
            sb->failures++;
        model_call_release(c);
    }
    return NULL;
}

/* Many threads submitting calls of varying rows: every result right, no batch past max. */
static void test_many_threads(void **state)
{
    struct batch_opts b = {.max = 10, .delay_us = 2000};
    struct model *m = make_model(2, 256, 30000, &b, MW_FLAG_BATCH | MW_FLAG_THREAD_SAFE);
    struct submitter sb[8];
    pthread_t tid[8];

    (void)state;
    for (int t = 0; t < 8; t++) {
        sb[t] = (struct submitter){m, t, 40, 0};
        assert_int_equal(pthread_create(&tid[t], NULL, submit_many, &sb[t]), 0);
    }
    for (int t = 0; t < 8; t++) {
        pthread_join(tid[t], NULL);
        assert_int_equal(sb[t].failures, 0);
    }
    assert_true(atomic_load(&max_rows_seen) <= 10);
    assert_true(atomic_load(&runs) <= 8 * 40);
    model_free(m);
}

static void test_sched_new_rejects(void **state)
{
    struct batch_opts b = {.max = 8, .delay_us = 0};
    struct model *m = make_model(0, 16, 1000, &b, MW_FLAG_THREAD_SAFE); /* no MW_FLAG_BATCH */
    struct mw_error e = {0};

    (void)state;
    m->opts.workers = 1;
    assert_null(sched_new(m, &e));
    assert_int_equal(e.code, MWE_CONFIG);
    assert_non_null(strstr(e.msg, "MW_FLAG_BATCH"));
    m->flags |= MW_FLAG_BATCH;
    m->batch.n_preferred = 1;
    m->batch.preferred[0] = 9; /* past max */
    memset(&e, 0, sizeof(e));
    assert_null(sched_new(m, &e));
    assert_non_null(strstr(e.msg, "preferred_batch_size"));
    m->batch.n_preferred = 0;
    m->batch.max = BATCH_MAX_ROWS + 1;
    assert_null(sched_new(m, &e));
    m->opts.workers = 0;
    model_free(m);
}

/* ---- real models through model.json ----------------------------------------------------------- */

static const struct model_opts OPTS = {
    .workers = 0, .queue_size = 1024, .timeout_ms = 30000, .max_records = 1000};

static char tmp_root[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof(tmp_root), "/tmp/mw-test-batch-XXXXXX");
    return mkdtemp(tmp_root) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmp_root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes <tmp>/<name>/model.json with `json` (and a symbolic link to `link` named after its last
 * path segment, when not NULL) and loads it; e gets the error. */
static struct model *load_json_with(const char *name, const char *json, const char *link,
                                    struct mw_error *e)
{
    char dir[256], path[300];
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/%s", tmp_root, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    if (link != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, strrchr(link, '/') + 1);
        assert_int_equal(symlink(link, path), 0);
    }
    snprintf(path, sizeof(path), "%s/model.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(json, f) >= 0);
    assert_int_equal(fclose(f), 0);
    memset(e, 0, sizeof(*e));
    return model_load(dir, &OPTS, e);
}

static struct model *load_json(const char *name, const char *json, struct mw_error *e)
{
    return load_json_with(name, json, NULL, e);
}

static void testkit_so(char *out, size_t size)
{
    const char *build = getenv("MW_BUILD_DIR");
    char *abs;

    assert_non_null(build);
    snprintf(out, size, "%s/plugins/testkit.so", build);
    abs = realpath(out, NULL);
    if (abs == NULL)
        fail_msg("%s is missing: build the plug-in targets first", out);
    snprintf(out, size, "%s", abs);
    free(abs);
}

static void expect_load_error(const char *name, const char *extra, const char *frag)
{
    char so[PATH_MAX], json[PATH_MAX + 512];
    struct mw_error e;
    struct model *m;

    testkit_so(so, sizeof(so));
    snprintf(json, sizeof(json), "{\"backend\": \"plugin\", \"file\": \"%s\"%s}", so, extra);
    m = load_json(name, json, &e);
    if (m != NULL)
        model_free(m);
    assert_null(m);
    assert_int_equal(e.code, MWE_CONFIG);
    if (strstr(e.msg, frag) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", e.msg, frag);
}

static void test_model_json_errors(void **state)
{
    (void)state;
    expect_load_error("e1", ", \"dynamic_batching\": {\"max_batch_size\": 8}", "\"workers\"");
    expect_load_error("e2", ", \"workers\": 1, \"dynamic_batching\": []", "expected an object");
    expect_load_error("e3", ", \"workers\": 1, \"dynamic_batching\": {}", "max_batch_size");
    expect_load_error("e4", ", \"workers\": 1, \"dynamic_batching\": {\"max_batch_size\": 0}",
                      "max_batch_size");
    expect_load_error("e5",
                      ", \"workers\": 1, \"dynamic_batching\": {\"max_batch_size\": 8, "
                      "\"max_queue_delay_us\": -1}",
                      "max_queue_delay_us");
    expect_load_error("e6",
                      ", \"workers\": 1, \"dynamic_batching\": {\"max_batch_size\": 8, "
                      "\"preferred_batch_size\": [4, 2]}",
                      "preferred_batch_size");
    expect_load_error("e7",
                      ", \"workers\": 1, \"dynamic_batching\": {\"max_batch_size\": 8, "
                      "\"preferred_batch_size\": [16]}",
                      "preferred_batch_size");
    expect_load_error("e8",
                      ", \"workers\": 1, \"dynamic_batching\": {\"max_batch_size\": 8, "
                      "\"max_delay\": 5}",
                      "unknown member");
}

struct model_pair {
    struct model *plain, *batched;
    size_t n_in_cols;
};

struct cmp_thread {
    struct model_pair *p;
    int id;
    int mismatches;
};

static void done_flag(struct model_call *c, void *ctx)
{
    (void)c;
    atomic_store((atomic_int *)ctx, 1);
}

/* Runs rows of x (rows x cols FP32) on m through the scheduler; returns the completed call. */
static struct model_call *run_on(struct model *m, const float *x, int64_t rows, size_t cols)
{
    struct model_call *c = model_call_new(m, 0);
    atomic_int flag;
    float *d;
    int rc;

    if (c == NULL)
        return NULL;
    atomic_init(&flag, 0);
    d = arena_calloc(&c->arena, (size_t)rows * cols, sizeof(float));
    if (d == NULL)
        goto out_fail;
    memcpy(d, x, (size_t)rows * cols * sizeof(float));
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = rows;
    c->inputs[0].shape[1] = (int64_t)cols;
    c->inputs[0].data = d;
    rc = model_call_submit(c, done_flag, &flag);
    if (rc == 1) {
        while (!atomic_load(&flag))
            sleep_ms(1);
    } else if (rc < 0) {
        goto out_fail;
    }
    if (c->status != 0)
        goto out_fail;
    return c;
out_fail:
    model_call_release(c);
    return NULL;
}

/* True when every output of a and b is the same, byte for byte (BYTES by content). */
static bool same_outputs(const struct model_call *a, const struct model_call *b)
{
    for (size_t o = 0; o < a->n_outputs; o++) {
        const struct mw_tensor *x = &a->outputs[o], *y = &b->outputs[o];
        size_t n = 1;

        if (x->ndim != y->ndim || memcmp(x->shape, y->shape, sizeof(x->shape)) != 0)
            return false;
        for (int32_t d = 0; d < x->ndim; d++)
            n *= (size_t)x->shape[d];
        if (x->dtype == MW_BYTES) {
            for (size_t i = 0; i < n; i++) {
                const struct mw_bytes *p = (const struct mw_bytes *)x->data + i;
                const struct mw_bytes *q = (const struct mw_bytes *)y->data + i;

                if (p->len != q->len || memcmp(p->ptr, q->ptr, p->len) != 0)
                    return false;
            }
        } else if (memcmp(x->data, y->data, n * dtype_size(x->dtype)) != 0) {
            return false;
        }
    }
    return true;
}

static void *compare_many(void *arg)
{
    struct cmp_thread *t = arg;
    size_t cols = t->p->n_in_cols;
    float x[7 * 8];

    for (int i = 0; i < 30; i++) {
        int64_t rows = 1 + (t->id * 3 + i) % 7;
        struct model_call *a, *b;

        for (size_t k = 0; k < (size_t)rows * cols; k++)
            x[k] = (float)((t->id * 131 + i * 17 + (int)k * 7) % 80) / 10.0f;
        a = run_on(t->p->plain, x, rows, cols);
        b = run_on(t->p->batched, x, rows, cols);
        if (a == NULL || b == NULL || !same_outputs(a, b))
            t->mismatches++;
        model_call_release(a);
        model_call_release(b);
    }
    return NULL;
}

/* 40 calls submitted at once to the batched model (so that the worker merges them: the window is
 * long) give the same outputs as the same inputs run alone on the plain model; some ran merged. */
static void compare_burst(struct model_pair *p)
{
    enum { N = 40 };
    struct model_call *calls[N];
    atomic_int flags[N];
    size_t cols = p->n_in_cols;
    int merged = 0;

    for (int i = 0; i < N; i++) {
        int64_t rows = 1 + i % 7;
        float *d;

        calls[i] = model_call_new(p->batched, 0);
        assert_non_null(calls[i]);
        d = arena_calloc(&calls[i]->arena, (size_t)rows * cols, sizeof(float));
        assert_non_null(d);
        for (size_t k = 0; k < (size_t)rows * cols; k++)
            d[k] = (float)((i * 37 + (int)k * 11) % 75) / 10.0f;
        calls[i]->inputs[0] = (struct mw_tensor){.name = p->batched->sig.inputs[0].name,
                                                 .dtype = MW_FP32,
                                                 .ndim = 2,
                                                 .shape = {rows, (int64_t)cols},
                                                 .data = d};
        atomic_init(&flags[i], 0);
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(model_call_submit(calls[i], done_flag, &flags[i]), 1);
    for (int i = 0; i < N; i++) {
        struct model_call *alone;

        while (!atomic_load(&flags[i]))
            sleep_ms(1);
        assert_int_equal(calls[i]->status, 0);
        merged += calls[i]->batched;
        alone = run_on(p->plain, calls[i]->inputs[0].data, calls[i]->inputs[0].shape[0], cols);
        assert_non_null(alone);
        assert_true(same_outputs(alone, calls[i]));
        model_call_release(alone);
        model_call_release(calls[i]);
    }
    assert_true(merged > 0);
}

static void compare_concurrently(struct model_pair *p)
{
    struct cmp_thread t[16];
    pthread_t tid[16];

    for (int i = 0; i < 16; i++) {
        t[i] = (struct cmp_thread){p, i, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, compare_many, &t[i]), 0);
    }
    for (int i = 0; i < 16; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(t[i].mismatches, 0);
    }
}

static void test_testkit_batched_equals_unbatched(void **state)
{
    char so[PATH_MAX], json[PATH_MAX + 512];
    struct mw_error e;
    struct model_pair p = {.n_in_cols = 2};
    const float bad[] = {1, 2, 13, 4};
    struct model_call *c;

    (void)state;
    testkit_so(so, sizeof(so));
    snprintf(json, sizeof(json), "{\"backend\": \"plugin\", \"file\": \"%s\"}", so);
    p.plain = load_json("tk_plain", json, &e);
    assert_non_null(p.plain);
    snprintf(json, sizeof(json),
             "{\"backend\": \"plugin\", \"file\": \"%s\", \"workers\": 2, \"dynamic_batching\": "
             "{\"max_batch_size\": 16, \"max_queue_delay_us\": 100000, "
             "\"preferred_batch_size\": [8, 16]}}",
             so);
    p.batched = load_json("tk_batched", json, &e);
    if (p.batched == NULL)
        fail_msg("%s", e.msg);
    assert_int_equal(p.batched->batch.max, 16);
    assert_int_equal(p.batched->batch.delay_us, 100000);
    assert_int_equal(p.batched->batch.n_preferred, 2);
    compare_burst(&p);
    compare_concurrently(&p);
    /* testkit's invalid input (13) still fails its own request with batching on. */
    c = model_call_new(p.batched, 0);
    assert_non_null(c);
    c->inputs[0] = (struct mw_tensor){.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {2, 2},
                                      .data = (void *)bad};
    {
        atomic_int flag;

        atomic_init(&flag, 0);
        assert_int_equal(model_call_submit(c, done_flag, &flag), 1);
        while (!atomic_load(&flag))
            sleep_ms(1);
    }
    assert_int_equal(c->status, MWE_INVALID_INPUT);
    model_call_release(c);
    model_free(p.plain);
    model_free(p.batched);
}

static void test_iris_batched_equals_unbatched(void **state)
{
    const char *src = getenv("MW_SOURCE_DIR");
    char path[PATH_MAX], ubj[PATH_MAX];
    json_t *root;
    char *text;
    struct mw_error e;
    struct model_pair p = {.n_in_cols = 4};

    (void)state;
    snprintf(path, sizeof(path), "%s/models/iris/model.json", src && *src ? src : ".");
    root = json_load_file(path, 0, NULL);
    assert_non_null(root);
    snprintf(path, sizeof(path), "%s/models/iris/iris.ubj", src && *src ? src : ".");
    assert_non_null(realpath(path, ubj));
    json_object_del(root, "name");
    text = json_dumps(root, 0);
    assert_non_null(text);
    p.plain = load_json_with("iris_plain", text, ubj, &e);
    if (p.plain == NULL)
        fail_msg("%s", e.msg);
    free(text);
    json_object_set_new(root, "workers", json_integer(2));
    json_object_set_new(root, "dynamic_batching",
                        json_pack("{s:i, s:i}", "max_batch_size", 32, "max_queue_delay_us", 50000));
    text = json_dumps(root, 0);
    assert_non_null(text);
    p.batched = load_json_with("iris_batched", text, ubj, &e);
    if (p.batched == NULL)
        fail_msg("%s", e.msg);
    free(text);
    json_decref(root);
    assert_true((p.batched->flags & MW_FLAG_BATCH) != 0);
    compare_burst(&p);
    compare_concurrently(&p);
    model_free(p.plain);
    model_free(p.batched);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_split),
        cmocka_unit_test(test_compatible_and_rows),
        cmocka_unit_test(test_split_errors),
        cmocka_unit_test(test_batches_bounded_by_max),
        cmocka_unit_test(test_varying_rows_and_oversized),
        cmocka_unit_test(test_preferred_size),
        cmocka_unit_test(test_single_call_waits_at_most_delay),
        cmocka_unit_test(test_errors_isolated),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_deadline_while_gathering),
        cmocka_unit_test(test_queue_limit),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_sched_new_rejects),
        cmocka_unit_test(test_model_json_errors),
        cmocka_unit_test(test_testkit_batched_equals_unbatched),
        cmocka_unit_test(test_iris_batched_equals_unbatched),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
