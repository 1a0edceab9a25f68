/*
 * Unit tests of src/metrics: per-thread counters summed on scrape, histogram buckets, reason
 * codes, model series, label escaping, many threads (slot reuse and the shared overflow slot) and
 * the process metrics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "http/http.h"
#include "metrics/metrics.h"

static const char *const routes[] = {"root", "v1_predict", "template_health", "template_health"};

/* The value of the sample whose line starts with `series ` (name and labels exactly as written);
 * fails the test when absent. */
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    fail_msg("no sample '%s' in:\n%s", series, text);
    return -1;
}

static bool has_line_prefix(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    const char *p = text;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, prefix, n) == 0)
            return true;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

static char *scrape(struct metrics *m, struct buf *b)
{
    buf_reset(b);
    assert_int_equal(metrics_write(m, b), 0);
    assert_non_null(b->ptr);
    return b->ptr;
}

static struct metrics *new_metrics(void)
{
    struct mw_error e = {0};
    struct metrics *m = metrics_new(routes, MW_ARRAY_LEN(routes), &e);
    assert_non_null(m);
    return m;
}

static void test_requests_by_route_method_class(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    metrics_request(m, 1, HTTP_POST, 200, 1000000);
    metrics_request(m, 1, HTTP_POST, 201, 1000000);
    metrics_request(m, 1, HTTP_POST, 422, 1000000);
    metrics_request(m, 0, HTTP_GET, 200, 1000);
    metrics_request(m, 2, HTTP_GET, 200, 1000);
    metrics_request(m, 3, HTTP_GET, 200, 1000); /* same name as route 2: one series */
    metrics_request(m, METRICS_NO_ROUTE, HTTP_PUT, 404, 1000);
    metrics_request(m, 99, HTTP_OTHER, 0, 1000);            /* out of range: no route */
    metrics_request(m, 0, HTTP_GET | HTTP_POST, 503, 1000); /* several bits: OTHER */
    t = scrape(m, &b);
    assert_true(strstr(t, "# TYPE modelwrap_http_requests_total counter\n") != NULL);
    assert_true(strstr(t, "# HELP modelwrap_http_requests_total ") != NULL);
    assert_int_equal(
        value_of(
            t,
            "modelwrap_http_requests_total{route=\"v1_predict\",method=\"POST\",status=\"2xx\"}"),
        2);
    assert_int_equal(
        value_of(
            t,
            "modelwrap_http_requests_total{route=\"v1_predict\",method=\"POST\",status=\"4xx\"}"),
        1);
    assert_int_equal(value_of(t, "modelwrap_http_requests_total{route=\"template_health\",method="
                                 "\"GET\",status=\"2xx\"}"),
                     2);
    assert_int_equal(
        value_of(t, "modelwrap_http_requests_total{route=\"none\",method=\"PUT\",status=\"4xx\"}"),
        1);
    assert_int_equal(
        value_of(t,
                 "modelwrap_http_requests_total{route=\"none\",method=\"OTHER\",status=\"none\"}"),
        1);
    assert_int_equal(
        value_of(t,
                 "modelwrap_http_requests_total{route=\"root\",method=\"OTHER\",status=\"5xx\"}"),
        1);
    /* Series that never moved are not written. */
    assert_false(
        has_line_prefix(t, "modelwrap_http_requests_total{route=\"root\",method=\"HEAD\""));
    /* One template_health series only. */
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_count{route=\"template_health\"}"), 2);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_count{route=\"v1_predict\"}"), 3);
    buf_fini(&b);
    metrics_free(m);
}

static void test_histogram_buckets_and_sum(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    metrics_request(m, 0, HTTP_GET, 200, 100000);         /* exactly 0.0001: le="0.0001" */
    metrics_request(m, 0, HTTP_GET, 200, 100001);         /* just above: le="0.00025" */
    metrics_request(m, 0, HTTP_GET, 200, 3000000000ull);  /* 3 s: le="5" */
    metrics_request(m, 0, HTTP_GET, 200, 60000000000ull); /* 60 s: only +Inf */
    t = scrape(m, &b);
    assert_true(strstr(t, "# TYPE modelwrap_http_request_duration_seconds histogram\n") != NULL);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"0.0001\"}"),
        1);
    assert_int_equal(
        value_of(t,
                 "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"0.00025\"}"),
        2);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"2.5\"}"),
        2);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"5\"}"), 3);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"10\"}"), 3);
    assert_int_equal(
        value_of(t, "modelwrap_http_request_duration_seconds_bucket{route=\"root\",le=\"+Inf\"}"),
        4);
    assert_int_equal(value_of(t, "modelwrap_http_request_duration_seconds_count{route=\"root\"}"),
                     4);
    /* The sum is exact: nanoseconds written as seconds with nine decimals. */
    assert_non_null(strstr(t, "modelwrap_http_request_duration_seconds_sum{route=\"root\"} "
                              "63.000200001\n"));
    buf_fini(&b);
    metrics_free(m);
}

static void test_outcomes(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    metrics_outcome(m, NULL);
    metrics_outcome(m, "ok");
    metrics_outcome(m, "auth.invalid_key");
    metrics_outcome(m, "auth.invalid_key");
    metrics_outcome(m, "auth.insufficient_scope");
    metrics_outcome(m, "auth.something_new");
    metrics_outcome(m, "limit.rate");
    metrics_outcome(m, "limit.concurrency");
    metrics_outcome(m, "sla.outage");
    metrics_outcome(m, "mystery");
    t = scrape(m, &b);
    assert_int_equal(value_of(t, "modelwrap_auth_failures_total{reason=\"invalid_key\"}"), 2);
    assert_int_equal(value_of(t, "modelwrap_auth_failures_total{reason=\"insufficient_scope\"}"),
                     1);
    assert_int_equal(value_of(t, "modelwrap_auth_failures_total{reason=\"other\"}"), 1);
    /* Every known reason is written, zeros included. */
    assert_int_equal(value_of(t, "modelwrap_auth_failures_total{reason=\"missing\"}"), 0);
    assert_int_equal(value_of(t, "modelwrap_auth_failures_total{reason=\"expired_token\"}"), 0);
    assert_int_equal(value_of(t, "modelwrap_rate_limited_requests_total{reason=\"rate\"}"), 1);
    assert_int_equal(value_of(t, "modelwrap_rate_limited_requests_total{reason=\"concurrency\"}"),
                     1);
    assert_int_equal(
        value_of(t, "modelwrap_rate_limited_requests_total{reason=\"store_unavailable\"}"), 0);
    assert_int_equal(value_of(t, "modelwrap_requests_refused_total{reason=\"sla.outage\"}"), 1);
    assert_int_equal(value_of(t, "modelwrap_requests_refused_total{reason=\"audit.unavailable\"}"),
                     0);
    assert_int_equal(value_of(t, "modelwrap_requests_refused_total{reason=\"other\"}"), 1);
    buf_fini(&b);
    metrics_free(m);
}

static void test_model_series(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char name[32];
    char *t;
    int iris, iris2, other;

    buf_init(&b, 4 << 20);
    iris = metrics_model_series(m, "iris", "1");
    assert_true(iris >= 0);
    assert_int_equal(metrics_model_series(m, "iris", "1"), iris);
    iris2 = metrics_model_series(m, "iris", "2");
    assert_true(iris2 >= 0 && iris2 != iris);
    assert_int_equal(metrics_model_series(m, NULL, "1"), -1);

    metrics_model_call(m, iris, METRICS_RESULT_SUCCESS, true, 0, true, 50000);
    metrics_model_call(m, iris, METRICS_RESULT_SUCCESS, true, 2000000, true, 50000);
    metrics_model_call(m, iris, METRICS_RESULT_DEADLINE, false, 0, false, 0);
    metrics_model_call(m, iris, METRICS_RESULT_REJECTED, false, 0, false, 0);
    metrics_model_call(m, -1, METRICS_RESULT_SUCCESS, true, 0, true, 0);    /* ignored */
    metrics_model_call(m, iris, (enum metrics_result)77, true, 0, true, 0); /* ignored */
    metrics_model_batch(m, iris, 1);
    metrics_model_batch(m, iris, 100);
    metrics_model_batch(m, iris, 1000000);
    metrics_model_batch(m, -1, 5); /* ignored */
    t = scrape(m, &b);
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"iris\",version=\"1\","
                                 "result=\"success\"}"),
                     2);
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"iris\",version=\"1\","
                                 "result=\"deadline\"}"),
                     1);
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"iris\",version=\"1\","
                                 "result=\"rejected\"}"),
                     1);
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"iris\",version=\"1\","
                                 "result=\"error\"}"),
                     0);
    /* A registered series with no calls is written with zeros. */
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"iris\",version=\"2\","
                                 "result=\"success\"}"),
                     0);
    assert_int_equal(
        value_of(t, "modelwrap_model_queue_duration_seconds_count{model=\"iris\",version=\"1\"}"),
        2);
    assert_int_equal(value_of(t, "modelwrap_model_queue_duration_seconds_bucket{model=\"iris\","
                                 "version=\"1\",le=\"0.0001\"}"),
                     1);
    assert_int_equal(value_of(t, "modelwrap_model_queue_duration_seconds_bucket{model=\"iris\","
                                 "version=\"1\",le=\"0.0025\"}"),
                     2);
    assert_int_equal(
        value_of(t, "modelwrap_model_compute_duration_seconds_count{model=\"iris\",version=\"1\"}"),
        2);
    assert_int_equal(
        value_of(t, "modelwrap_model_batch_size_bucket{model=\"iris\",version=\"1\",le=\"1\"}"), 1);
    assert_int_equal(
        value_of(t, "modelwrap_model_batch_size_bucket{model=\"iris\",version=\"1\",le=\"128\"}"),
        2);
    assert_int_equal(
        value_of(t, "modelwrap_model_batch_size_bucket{model=\"iris\",version=\"1\",le=\"+Inf\"}"),
        3);
    assert_int_equal(value_of(t, "modelwrap_model_batch_size_sum{model=\"iris\",version=\"1\"}"),
                     1000101);
    assert_true(strstr(t, "# TYPE modelwrap_model_batch_size histogram\n") != NULL);

    /* The table is bounded. */
    for (int i = 0; i < METRICS_MAX_SERIES + 5; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        other = metrics_model_series(m, name, "1");
        if (i < METRICS_MAX_SERIES - 2)
            assert_true(other >= 0);
        else
            assert_int_equal(other, -1);
    }
    assert_int_equal(metrics_model_series(m, "iris", "1"), iris);
    buf_fini(&b);
    metrics_free(m);
}

static void test_label_escaping(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;
    int s;

    buf_init(&b, 1 << 20);
    s = metrics_model_series(m, "we\"ird\\na\nme", "v\"1");
    assert_true(s >= 0);
    metrics_model_call(m, s, METRICS_RESULT_ERROR, true, 0, true, 0);
    t = scrape(m, &b);
    assert_int_equal(value_of(t, "modelwrap_model_inferences_total{model=\"we\\\"ird\\\\na\\nme\","
                                 "version=\"v\\\"1\",result=\"error\"}"),
                     1);
    buf_reset(&b);
    assert_int_equal(metrics_family(&b, "x_total", "counter", "a\\b\nc \"q\""), 0);
    assert_string_equal(b.ptr, "# HELP x_total a\\\\b\\nc \"q\"\n# TYPE x_total counter\n");
    buf_reset(&b);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, 0.1), 0);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, 1.0 / 0.0), 0);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, -1.0 / 0.0), 0);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, 0.0 / 0.0), 0);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, 1795801972.35), 0);
    assert_int_equal(metrics_sample_f64(&b, "g", NULL, 0, 0.30000000000000004), 0);
    assert_string_equal(b.ptr, "g 0.1\ng +Inf\ng -Inf\ng NaN\ng 1795801972.35\n"
                               "g 0.30000000000000004\n");
    buf_reset(&b);
    struct metrics_label l[] = {{"a", "1"}, {"b", NULL}};
    assert_int_equal(metrics_sample_u64(&b, "c_total", l, 2, 18446744073709551615ull), 0);
    assert_string_equal(b.ptr, "c_total{a=\"1\",b=\"\"} 18446744073709551615\n");
    buf_fini(&b);
    metrics_free(m);
}

static void test_buffer_limit(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;

    buf_init(&b, 64);
    assert_int_equal(metrics_write(m, &b), MWE_BODY_TOO_LARGE);
    buf_fini(&b);
    metrics_free(m);
}

struct worker_arg {
    struct metrics *m;
    int n;
    pthread_barrier_t *barrier;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;

    if (a->barrier != NULL)
        pthread_barrier_wait(a->barrier);
    for (int i = 0; i < a->n; i++) {
        metrics_request(a->m, 1, HTTP_POST, 200, 1000);
        metrics_outcome(a->m, "limit.rate");
    }
    if (a->barrier != NULL)
        pthread_barrier_wait(a->barrier); /* every thread holds its slot at once */
    return NULL;
}

static void run_threads(struct metrics *m, int threads, int per, bool together)
{
    pthread_t *t = calloc((size_t)threads, sizeof(*t));
    pthread_barrier_t barrier;
    pthread_attr_t attr;
    struct worker_arg a = {m, per, together ? &barrier : NULL};

    assert_non_null(t);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    if (together)
        assert_int_equal(pthread_barrier_init(&barrier, NULL, (unsigned)threads), 0);
    for (int i = 0; i < threads; i++)
        assert_int_equal(pthread_create(&t[i], &attr, worker, &a), 0);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    if (together)
        pthread_barrier_destroy(&barrier);
    pthread_attr_destroy(&attr);
    free(t);
}

static void test_threads_sum(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    run_threads(m, 8, 10000, true);
    t = scrape(m, &b);
    assert_int_equal(
        value_of(
            t,
            "modelwrap_http_requests_total{route=\"v1_predict\",method=\"POST\",status=\"2xx\"}"),
        80000);
    /* Threads come and go (a reload restarts model workers): their slots are reused and the
     * totals never go back. */
    for (int round = 0; round < 50; round++)
        run_threads(m, 4, 10, false);
    t = scrape(m, &b);
    assert_int_equal(
        value_of(
            t,
            "modelwrap_http_requests_total{route=\"v1_predict\",method=\"POST\",status=\"2xx\"}"),
        82000);
    assert_int_equal(value_of(t, "modelwrap_rate_limited_requests_total{reason=\"rate\"}"), 82000);
    buf_fini(&b);
    metrics_free(m);
}

static void test_more_threads_than_slots(void **state)
{
    struct metrics *m = new_metrics();
    struct buf b;
    char *t;
    int threads = METRICS_MAX_SLOTS + 40;

    buf_init(&b, 1 << 20);
    /* All alive at once: the last ones share the overflow slot, and nothing is lost. */
    run_threads(m, threads, 100, true);
    t = scrape(m, &b);
    assert_int_equal(
        value_of(
            t,
            "modelwrap_http_requests_total{route=\"v1_predict\",method=\"POST\",status=\"2xx\"}"),
        threads * 100);
    buf_fini(&b);
    metrics_free(m);
}

static void *record_into(void *p)
{
    metrics_request(p, 0, HTTP_GET, 200, 1);
    return NULL;
}

static void test_objects_come_and_go(void **state)
{
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    /* This thread records into one object, frees it, then records into another: its stale
     * handle must not be used. */
    for (int i = 0; i < 3; i++) {
        struct metrics *m = new_metrics();
        pthread_t th;
        metrics_request(m, 0, HTTP_GET, 200, 1);
        metrics_request(m, 0, HTTP_GET, 200, 1);
        assert_int_equal(pthread_create(&th, NULL, record_into, m), 0);
        pthread_join(th, NULL);
        t = scrape(m, &b);
        assert_int_equal(
            value_of(t,
                     "modelwrap_http_requests_total{route=\"root\",method=\"GET\",status=\"2xx\"}"),
            3);
        metrics_free(m);
    }
    /* Two objects alive at once, used in turn by one thread. */
    struct metrics *a = new_metrics(), *c = new_metrics();
    metrics_request(a, 0, HTTP_GET, 200, 1);
    metrics_request(c, 0, HTTP_GET, 200, 1);
    metrics_request(a, 0, HTTP_GET, 200, 1);
    t = scrape(a, &b);
    assert_int_equal(
        value_of(t, "modelwrap_http_requests_total{route=\"root\",method=\"GET\",status=\"2xx\"}"),
        2);
    t = scrape(c, &b);
    assert_int_equal(
        value_of(t, "modelwrap_http_requests_total{route=\"root\",method=\"GET\",status=\"2xx\"}"),
        1);
    metrics_free(a);
    metrics_free(c);
    buf_fini(&b);
}

static void test_process(void **state)
{
    struct buf b;
    char *t;

    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_write_process(&b), 0);
    t = b.ptr;
    assert_non_null(t);
    assert_true(strstr(t, "# TYPE modelwrap_process_cpu_seconds_total counter\n") != NULL);
    assert_true(value_of(t, "modelwrap_process_resident_memory_bytes") > 1024 * 1024);
    assert_true(value_of(t, "modelwrap_process_virtual_memory_bytes") > 1024 * 1024);
    assert_true(value_of(t, "modelwrap_process_open_fds") >= 3);
    assert_true(value_of(t, "modelwrap_process_max_fds") >= 64);
    assert_true(value_of(t, "modelwrap_process_threads") >= 1);
    assert_true(value_of(t, "modelwrap_process_cpu_seconds_total") >= 0);
    double start = value_of(t, "modelwrap_process_start_time_seconds");
    double now = (double)time_real_ms() / 1000.0;
    assert_true(start > now - 3600 && start <= now + 2);
    buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_by_route_method_class),
        cmocka_unit_test(test_histogram_buckets_and_sum),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_model_series),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_buffer_limit),
        cmocka_unit_test(test_threads_sum),
        cmocka_unit_test(test_more_threads_than_slots),
        cmocka_unit_test(test_objects_come_and_go),
        cmocka_unit_test(test_process),
    };
    log_set_level(LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
