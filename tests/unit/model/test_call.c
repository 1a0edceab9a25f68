/*
 * Unit tests for src/model/call.c with fake backends defined here: calls and their arrays,
 * reference counting, output allocation against the signature and the arena bound, status
 * mapping of run(), the missing-output check, serialisation of non-thread-safe models, and
 * inline submission.
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

/* ---- fake backends --------------------------------------------------------------------------- */

/* y = 2 * x, x FP32 [n, 2]; also fills the BYTES output "tag" with n pointers to "ok". */
static int run_double(struct model *m, struct model_call *c)
{
    const struct mw_tensor *x = &c->inputs[0];
    int64_t shape[2] = {x->shape[0], 2};
    float *y = model_call_output(c, 0, 2, shape);
    struct mw_bytes *tag = model_call_output(c, 1, 1, shape);
    const float *in = x->data;

    (void)m;
    if (y == NULL || tag == NULL)
        return MWE_NOMEM;
    for (int64_t i = 0; i < shape[0] * 2; i++)
        y[i] = 2.0f * in[i];
    for (int64_t i = 0; i < shape[0]; i++)
        tag[i] = (struct mw_bytes){(const uint8_t *)"ok", 2};
    return 0;
}

static int run_fail(struct model *m, struct model_call *c)
{
    (void)m;
    (void)c;
    return MWE_MODEL_FAILED;
}

static int run_invalid(struct model *m, struct model_call *c)
{
    (void)m;
    model_call_set_error(c, "x[%d]: expected %s", 3, "a finite number");
    return MWE_INVALID_INPUT;
}

static int run_weird(struct model *m, struct model_call *c)
{
    int64_t shape[2] = {1, 2};
    (void)m;
    model_call_output(c, 0, 2, shape);
    model_call_output(c, 1, 1, shape);
    return 42; /* not a status a backend may return */
}

/* Allocates "y" but forgets "tag". */
static int run_forget(struct model *m, struct model_call *c)
{
    int64_t shape[2] = {1, 2};
    (void)m;
    return model_call_output(c, 0, 2, shape) != NULL ? 0 : MWE_NOMEM;
}

/* Counts how many runs overlap. */
static atomic_int inside, max_inside;

static int run_overlap(struct model *m, struct model_call *c)
{
    int now = atomic_fetch_add(&inside, 1) + 1;
    int seen = atomic_load(&max_inside);
    struct timespec ts = {0, 20 * 1000 * 1000};

    while (now > seen && !atomic_compare_exchange_weak(&max_inside, &seen, now))
        ;
    nanosleep(&ts, NULL);
    atomic_fetch_sub(&inside, 1);
    return run_double(m, c);
}

static const struct backend_ops ops_double = {"double", NULL, run_double, NULL};
static const struct backend_ops ops_fail = {"fail", NULL, run_fail, NULL};
static const struct backend_ops ops_invalid = {"invalid", NULL, run_invalid, NULL};
static const struct backend_ops ops_weird = {"weird", NULL, run_weird, NULL};
static const struct backend_ops ops_forget = {"forget", NULL, run_forget, NULL};
static const struct backend_ops ops_overlap = {"overlap", NULL, run_overlap, NULL};

static const char *const sig_text =
    "{\"inputs\": [{\"name\": \"x\", \"datatype\": \"FP32\", \"shape\": [-1, 2]}],"
    " \"outputs\": [{\"name\": \"y\", \"datatype\": \"FP32\", \"shape\": [-1, 2]},"
    "  {\"name\": \"tag\", \"datatype\": \"BYTES\", \"shape\": [-1]}]}";

/* A model built by hand (no model.json), inline (no scheduler). Free with model_free. */
static struct model *make_model(const struct backend_ops *ops, uint32_t flags)
{
    struct model *m = calloc(1, sizeof(*m));
    struct mw_error e = {0};
    json_t *sig = json_loads(sig_text, 0, NULL);

    assert_non_null(m);
    assert_non_null(sig);
    m->name = strdup("t");
    m->version = strdup("1");
    m->dir = strdup(".");
    m->platform = strdup("test");
    m->description = strdup("");
    m->ops = ops;
    m->flags = flags;
    m->opts = (struct model_opts){0, 16, 1000, 100};
    assert_int_equal(model_sig_from_json(&m->sig, sig, &e), 0);
    json_decref(sig);
    assert_int_equal(pthread_mutex_init(&m->run_lock, NULL), 0);
    atomic_init(&m->ready, true);
    return m;
}

/* A call with input x = [[1,2],[3,4],...] of n rows. */
static struct model_call *make_call(struct model *m, int64_t n)
{
    struct model_call *c = model_call_new(m, 0);
    float *x;

    assert_non_null(c);
    x = arena_calloc(&c->arena, (size_t)n * 2, sizeof(float));
    assert_non_null(x);
    for (int64_t i = 0; i < n * 2; i++)
        x[i] = (float)(i + 1);
    c->inputs[0].ndim = 2;
    c->inputs[0].shape[0] = n;
    c->inputs[0].shape[1] = 2;
    c->inputs[0].data = x;
    return c;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_new_and_refcount(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c;

    (void)state;
    c = model_call_new(m, 0);
    assert_non_null(c);
    assert_ptr_equal(c->model, m);
    assert_int_equal(c->n_inputs, 1);
    assert_int_equal(c->n_outputs, 2);
    assert_string_equal(c->inputs[0].name, "x");
    assert_int_equal(c->inputs[0].dtype, MW_FP32);
    assert_int_equal(c->inputs[0].ndim, 0);
    assert_null(c->inputs[0].data);
    assert_string_equal(c->outputs[1].name, "tag");
    assert_int_equal(c->outputs[1].dtype, MW_BYTES);
    assert_null(c->outputs[0].data);
    assert_null(c->outputs[1].data);
    assert_int_equal(atomic_load(&c->refs), 1);
    assert_int_equal(atomic_load(&c->state), CALL_QUEUED);
    assert_int_equal(c->status, 0);
    assert_string_equal(c->errmsg, "");
    model_call_retain(c);
    model_call_retain(c);
    assert_int_equal(atomic_load(&c->refs), 3);
    model_call_release(c);
    model_call_release(c);
    assert_int_equal(atomic_load(&c->refs), 1);
    model_call_release(c); /* frees: the sanitizer build reports a leak or a double free */
    model_call_release(NULL);

    /* The arrays come from the arena and count against its bound. */
    assert_null(model_call_new(m, 16));
    assert_null(model_call_new(NULL, 0));
    model_free(m);
}

static void test_output_checks(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c = model_call_new(m, 0);
    int64_t ok[2] = {3, 2}, wrong_fixed[2] = {3, 3}, negative[2] = {-1, 2};
    int64_t huge[2] = {INT64_MAX, 2}, big[2] = {INT64_C(1) << 61, 2};
    float *y;

    (void)state;
    assert_non_null(c);
    assert_null(model_call_output(c, 2, 2, ok)); /* no output 2 */
    assert_null(model_call_output(c, 0, 1, ok)); /* ndim differs from the spec */
    assert_null(model_call_output(c, 0, 3, ok));
    assert_null(model_call_output(c, 0, 2, NULL));
    assert_null(model_call_output(c, 0, 2, wrong_fixed)); /* fixed dimension is 2 */
    assert_null(model_call_output(c, 0, 2, negative));
    assert_null(model_call_output(c, 0, 2, huge)); /* count overflows */
    assert_null(model_call_output(c, 0, 2, big));  /* bytes overflow */
    assert_null(model_call_output(NULL, 0, 2, ok));
    assert_null(c->outputs[0].data); /* nothing recorded by failures */

    y = model_call_output(c, 0, 2, ok);
    assert_non_null(y);
    assert_ptr_equal(c->outputs[0].data, y);
    assert_int_equal(c->outputs[0].ndim, 2);
    assert_int_equal(c->outputs[0].shape[0], 3);
    assert_int_equal(c->outputs[0].shape[1], 2);
    assert_int_equal(c->outputs[0].dtype, MW_FP32);
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == 0.0f);
    assert_null(model_call_output(c, 0, 2, ok)); /* each output once */

    /* BYTES: zeroed struct mw_bytes; a variable dimension may be 0. */
    int64_t zero[1] = {0};
    assert_non_null(model_call_output(c, 1, 1, zero));
    assert_int_equal(c->outputs[1].shape[0], 0);
    model_call_release(c);

    c = model_call_new(m, 0);
    int64_t four[1] = {4};
    struct mw_bytes *b = model_call_output(c, 1, 1, four);
    assert_non_null(b);
    for (int i = 0; i < 4; i++) {
        assert_null(b[i].ptr);
        assert_int_equal(b[i].len, 0);
    }
    model_call_release(c);
    model_free(m);
}

static void test_output_arena_bound(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c = model_call_new(m, 4096);
    int64_t rows_big[2] = {1000, 2}; /* 8000 bytes */
    int64_t rows_ok[2] = {100, 2};   /* 800 bytes */

    (void)state;
    assert_non_null(c);
    assert_null(model_call_output(c, 0, 2, rows_big));
    assert_null(c->outputs[0].data);
    assert_non_null(model_call_output(c, 0, 2, rows_ok));
    assert_true(c->arena.total <= 4096);
    model_call_release(c);
    model_free(m);
}

static void test_run_ok(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c = make_call(m, 3);
    const float *y;
    const struct mw_bytes *tag;

    (void)state;
    assert_int_equal(model_call_run(c), 0);
    assert_int_equal(c->status, 0);
    y = c->outputs[0].data;
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == 2.0f * (float)(i + 1));
    tag = c->outputs[1].data;
    assert_int_equal(tag[2].len, 2);
    assert_memory_equal(tag[2].ptr, "ok", 2);
    assert_true(c->t_started_ns > 0);
    assert_true(c->t_done_ns >= c->t_started_ns);
    model_call_release(c);
    model_free(m);
}

static void test_run_statuses(void **state)
{
    struct model *m;
    struct model_call *c;

    (void)state;
    /* failure passes through */
    m = make_model(&ops_fail, 0);
    c = make_call(m, 1);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    assert_int_equal(c->status, MWE_MODEL_FAILED);
    model_call_release(c);
    model_free(m);

    /* invalid input keeps the backend's message */
    m = make_model(&ops_invalid, 0);
    c = make_call(m, 1);
    assert_int_equal(model_call_run(c), MWE_INVALID_INPUT);
    assert_int_equal(c->status, MWE_INVALID_INPUT);
    assert_string_equal(c->errmsg, "x[3]: expected a finite number");
    model_call_release(c);
    model_free(m);

    /* an unexpected return value is a model failure */
    m = make_model(&ops_weird, 0);
    c = make_call(m, 1);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    assert_int_equal(c->status, MWE_MODEL_FAILED);
    model_call_release(c);
    model_free(m);

    /* success without every output is a model failure */
    m = make_model(&ops_forget, 0);
    c = make_call(m, 1);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    assert_non_null(c->outputs[0].data);
    assert_null(c->outputs[1].data);
    model_call_release(c);
    model_free(m);

    /* a backend without run */
    static const struct backend_ops ops_none = {"none", NULL, NULL, NULL};
    m = make_model(&ops_none, 0);
    c = make_call(m, 1);
    assert_int_equal(model_call_run(c), MWE_MODEL_FAILED);
    model_call_release(c);
    model_free(m);
}

static void test_set_error_truncates(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c = model_call_new(m, 0);
    char big[600];

    (void)state;
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    model_call_set_error(c, "%s", big);
    assert_int_equal(strlen(c->errmsg), sizeof(c->errmsg) - 1);
    model_call_set_error(c, "short %d", 1);
    assert_string_equal(c->errmsg, "short 1");
    model_call_release(c);
    model_free(m);
}

struct runner {
    struct model *m;
    int rc;
};

static void *run_thread(void *arg)
{
    struct runner *r = arg;
    struct model_call *c = make_call(r->m, 2);

    r->rc = model_call_run(c);
    if (r->rc == 0 && ((const float *)c->outputs[0].data)[3] != 8.0f)
        r->rc = -1;
    model_call_release(c);
    return NULL;
}

/* Runs `n` calls on n threads at once and returns how many overlapped at most. */
static int max_overlap(uint32_t flags)
{
    struct model *m = make_model(&ops_overlap, flags);
    struct runner r[6];
    pthread_t t[6];

    atomic_store(&inside, 0);
    atomic_store(&max_inside, 0);
    for (int i = 0; i < 6; i++) {
        r[i] = (struct runner){m, 1};
        assert_int_equal(pthread_create(&t[i], NULL, run_thread, &r[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
    }
    model_free(m);
    return atomic_load(&max_inside);
}

static void test_serialised_unless_thread_safe(void **state)
{
    (void)state;
    assert_int_equal(max_overlap(0), 1);
    assert_true(max_overlap(MW_FLAG_THREAD_SAFE) > 1);
}

static int done_calls;

static void count_done(struct model_call *c, void *ctx)
{
    (void)c;
    (void)ctx;
    done_calls++;
}

static void test_submit_inline(void **state)
{
    struct model *m = make_model(&ops_double, 0);
    struct model_call *c = make_call(m, 2);

    (void)state;
    assert_null(m->sched);
    done_calls = 0;
    assert_int_equal(model_call_submit(c, count_done, NULL), 0);
    assert_int_equal(done_calls, 0); /* inline: the caller has the result, no callback */
    assert_int_equal(c->status, 0);
    assert_true(((const float *)c->outputs[0].data)[0] == 2.0f);
    model_call_release(c);
    model_free(m);

    m = make_model(&ops_fail, 0);
    c = make_call(m, 2);
    assert_int_equal(model_call_submit(c, count_done, NULL), MWE_MODEL_FAILED);
    assert_int_equal(done_calls, 0);
    model_call_release(c);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_and_refcount),
        cmocka_unit_test(test_output_checks),
        cmocka_unit_test(test_output_arena_bound),
        cmocka_unit_test(test_run_ok),
        cmocka_unit_test(test_run_statuses),
        cmocka_unit_test(test_set_error_truncates),
        cmocka_unit_test(test_serialised_unless_thread_safe),
        cmocka_unit_test(test_submit_inline),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
