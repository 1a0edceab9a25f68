/*
 * testkit: a model plug-in for the test suites only. y = 2 * x on FP32 [-1, 2], with behaviour
 * chosen by the input values (13: invalid input, 666: internal error, 777: forgets its output,
 * 42: 2 s slower) and by config ("delay_ms", "fail_load"). The columns of x are named "a" and "b"
 * so that the native records API can feed it. Built only against the public header.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modelwrap/model.h"

#define MAX_DELAY_MS 60000L
#define SLOW_EXTRA_MS 2000L

static const char *const xy_names[] = {"a", "b"};

static const struct mw_tensor_spec inputs[] = {
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}, .n_names = 2, .names = xy_names},
};
static const struct mw_tensor_spec outputs[] = {
    {.name = "y", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 2}},
};

struct testkit {
    long delay_ms; /* slept at every call */
};

/* ---- config: the few members of the flat JSON object the host passes ------------------------ */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* p is at '"'; returns the byte after the closing quote, or NULL when the text ends first. */
static const char *skip_string(const char *p)
{
    for (p++; *p != '"'; p++) {
        if (*p == '\0' || (*p == '\\' && *++p == '\0'))
            return NULL;
    }
    return p + 1;
}

/* Skips one value (nested ones too, up to 64 levels); NULL when malformed. */
static const char *skip_value(const char *p)
{
    int depth = 0;

    do {
        p = skip_ws(p);
        if (*p == '"') {
            p = skip_string(p);
            if (p == NULL)
                return NULL;
        } else if (*p == '{' || *p == '[') {
            if (++depth > 64)
                return NULL;
            p++;
        } else if (*p == '}' || *p == ']') {
            if (--depth < 0)
                return NULL;
            p++;
        } else if (*p == ',' || *p == ':') {
            if (depth == 0)
                return NULL;
            p++;
        } else if (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.') {
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.')
                p++;
        } else {
            return NULL;
        }
    } while (depth > 0);
    return p;
}

/* Finds top-level member `key` of a JSON object: 1 and its value's text in *val and *len, 0 when
 * it is absent, -1 when the text is not an object. */
static int config_member(const char *json, const char *key, const char **val, size_t *len)
{
    const char *p = skip_ws(json), *k, *end;

    if (*p != '{')
        return -1;
    p = skip_ws(p + 1);
    if (*p == '}')
        return 0;
    for (;;) {
        if (*p != '"')
            return -1;
        k = p + 1;
        p = skip_string(p);
        if (p == NULL)
            return -1;
        end = p - 1;
        p = skip_ws(p);
        if (*p != ':')
            return -1;
        *val = skip_ws(p + 1);
        p = skip_value(*val);
        if (p == NULL)
            return -1;
        if ((size_t)(end - k) == strlen(key) && memcmp(k, key, (size_t)(end - k)) == 0) {
            *len = (size_t)(p - *val);
            return 1;
        }
        p = skip_ws(p);
        if (*p == '}')
            return 0;
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1);
    }
}

/* ---- entry points -------------------------------------------------------------------------- */

static int fail(const struct mw_host *host, const char *msg)
{
    host->log(NULL, MW_LOG_ERROR, msg);
    return MW_ERR_INTERNAL;
}

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

static int testkit_load(const struct mw_host *host, const char *dir, const char *config_json,
                        void **state)
{
    struct testkit *t;
    const char *val;
    char *end;
    size_t len;
    long delay = 0;
    int found;

    found = config_member(config_json, "fail_load", &val, &len);
    if (found < 0)
        return fail(host, "config is not a JSON object");
    if (found == 1 && len == 4 && memcmp(val, "true", 4) == 0)
        return fail(host, "config.fail_load is true: refusing to load");
    if (found == 1 && !(len == 5 && memcmp(val, "false", 5) == 0))
        return fail(host, "config.fail_load: expected true or false");

    found = config_member(config_json, "delay_ms", &val, &len);
    if (found == 1) {
        errno = 0;
        delay = strtol(val, &end, 10);
        if (end != val + len || errno != 0 || delay < 0 || delay > MAX_DELAY_MS)
            return fail(host, "config.delay_ms: expected an integer from 0 to 60000");
    }

    t = malloc(sizeof(*t));
    if (t == NULL)
        return MW_ERR_NOMEM;
    t->delay_ms = delay;
    *state = t;
    return MW_OK;
}

static int testkit_run(void *state, const struct mw_host *host, struct mw_call *call,
                       const struct mw_tensor *in, size_t n_in)
{
    const struct testkit *t = state;
    const float *x;
    float *y;
    int64_t n;
    bool has13 = false, has42 = false, has666 = false, has777 = false;

    if (n_in != 1 || in[0].dtype != MW_FP32 || in[0].ndim != 2 || in[0].shape[1] != 2 ||
        in[0].shape[0] < 0 || in[0].shape[0] > INT64_MAX / 2) {
        host->set_error(call, "x: expected an FP32 tensor of shape [-1, 2]");
        return MW_ERR_INVALID_INPUT;
    }
    n = in[0].shape[0] * 2;
    x = in[0].data;
    for (int64_t i = 0; i < n; i++) {
        has13 |= x[i] == 13.0f;
        has42 |= x[i] == 42.0f;
        has666 |= x[i] == 666.0f;
        has777 |= x[i] == 777.0f;
    }
    if (t->delay_ms > 0 || has42)
        sleep_ms(t->delay_ms + (has42 ? SLOW_EXTRA_MS : 0));
    if (has13) {
        host->set_error(call, "unlucky number");
        return MW_ERR_INVALID_INPUT;
    }
    if (has666)
        return MW_ERR_INTERNAL;
    if (has777)
        return MW_OK; /* without allocating y: the host must notice */

    y = host->output(call, 0, 2, in[0].shape);
    if (y == NULL)
        return MW_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        y[i] = 2.0f * x[i];
    return MW_OK;
}

static const struct mw_model_desc testkit_desc = {
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE | MW_FLAG_BATCH,
    .name = "testkit",
    .version = "1.0.0",
    .n_inputs = 1,
    .inputs = inputs,
    .n_outputs = 1,
    .outputs = outputs,
    .load = testkit_load,
    .run = testkit_run,
    .free = testkit_free,
};

/* The exported entry (MW_ENTRY_SYMBOL): returns the static descriptor; called once by the host
 * after dlopen(), never fails. */
__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &testkit_desc;
}
