/*
 * testkit: a model plug-in for the test suites only. y = 2 * x on FP32 [-1, 2], with behaviour
 * chosen by the input values (13: invalid input, 666: internal error, 777: forgets its output,
 * 42: 2 s slower, 55: waits until host->is_cancelled and fails, 99: logs the request id and the
 * deadline, and answers y = [has a deadline, 1]) and by config ("delay_ms", "fail_load"). The
 * columns of x are named "a" and "b" so that the native records API can feed it. Built only
 * against the public header.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "modelwrap/model.h"

#define MAX_DELAY_MS 60000.0
#define SLOW_EXTRA_MS 2000L
#define CANCEL_POLL_MS 10L
#define CANCEL_MAX_POLLS 6000 /* a minute: a call without a deadline still ends */

struct testkit {
    long delay_ms; /* slept at every call */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void testkit_free(void *state)
{
    free(state);
}

static int testkit_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    const struct testkit *t = state;
    struct mw_tensor_info in = {.size = sizeof(in)};
    const float *x;
    float *y;
    int64_t n;
    bool has13 = false, has42 = false, has55 = false, has99 = false, has666 = false,
         has777 = false;

    if (host->input(call, 0, &in) != MW_OK || in.dtype != MW_FP32 || in.ndim != 2 ||
        in.shape[1] != 2 || in.shape[0] < 0 || in.shape[0] > INT64_MAX / 2) {
        host->set_error(call, "x: expected an FP32 tensor of shape [-1, 2]");
        return MW_ERR_INVALID_INPUT;
    }
    n = in.shape[0] * 2;
    x = in.data;
    for (int64_t i = 0; i < n; i++) {
        has13 |= x[i] == 13.0f;
        has42 |= x[i] == 42.0f;
        has55 |= x[i] == 55.0f;
        has99 |= x[i] == 99.0f;
        has666 |= x[i] == 666.0f;
        has777 |= x[i] == 777.0f;
    }
    if (t->delay_ms > 0 || has42)
        sleep_ms(t->delay_ms + (has42 ? SLOW_EXTRA_MS : 0));
    if (has13) {
        host->set_error(call, "unlucky number");
        return MW_ERR_INVALID_INPUT;
    }
    if (has55) {
        for (int i = 0; i < CANCEL_MAX_POLLS && !host->is_cancelled(call); i++)
            sleep_ms(CANCEL_POLL_MS);
        host->log(call, MW_LOG_WARN, "testkit: cancelled=%d, giving up on request %s",
                  (int)host->is_cancelled(call), host->request_id(call));
        return MW_ERR_INTERNAL;
    }
    if (has666)
        return MW_ERR_INTERNAL;
    if (has777)
        return MW_OK; /* without allocating y: the host must notice */

    y = host->output(call, 0, 2, in.shape);
    if (y == NULL)
        return MW_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        y[i] = 2.0f * x[i];
    if (has99) {
        host->log(call, MW_LOG_INFO, "testkit: request %s, deadline %s", host->request_id(call),
                  host->deadline_ns(call) != 0 ? "set" : "none");
        y[0] = host->deadline_ns(call) != 0 ? 1.0f : 0.0f;
        y[1] = 1.0f;
    }
    return MW_OK;
}

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    static const char *const columns[] = {"a", "b"};
    static const int64_t shape[] = {-1, 2};
    struct mw_model model = {.size = sizeof(model),
                             .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
                             .name = "testkit",
                             .version = "2.0.0",
                             .run = testkit_run,
                             .free = testkit_free};
    struct testkit *t;
    double delay = 0;
    bool fail_load = false;
    int rc;

    MW_PLUGIN_CHECK_IN(host, p);
    rc = host->config_bool(p, "fail_load", &fail_load);
    if (rc == MW_ERR_TYPE)
        return host->fail(p, "config.fail_load: expected true or false");
    if (fail_load)
        return host->fail(p, "config.fail_load is true: refusing to load");
    rc = host->config_number(p, "delay_ms", &delay);
    if (rc == MW_ERR_TYPE || delay < 0 || delay > MAX_DELAY_MS || delay != (double)(long)delay)
        return host->fail(p, "config.delay_ms: expected an integer from 0 to 60000");

    if (host->add_input(p, "x", MW_FP32, 2, shape) != MW_OK ||
        host->set_names(p, 2, columns) != MW_OK ||
        host->add_output(p, "y", MW_FP32, 2, shape) != MW_OK)
        return MW_ERR_INTERNAL; /* the host has set the message */
    t = malloc(sizeof(*t));
    if (t == NULL)
        return host->fail(p, "out of memory");
    t->delay_ms = (long)delay;
    model.state = t;
    rc = host->set_model(p, &model);
    if (rc != MW_OK)
        free(t);
    return rc;
}
