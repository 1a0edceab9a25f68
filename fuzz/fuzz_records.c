/*
 * libFuzzer target for the records codec: arbitrary bytes -> jansson -> records_decode against an
 * iris-shaped model and a 1-D model of every dtype; decoded calls get outputs and are encoded, and
 * the encoded JSON must parse again. Seed corpus: fuzz/corpus/records/.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

#define MAX_RECORDS 64
#define OUT_MAX ((size_t)4 << 20)

/* clang-format off */
static const char *const iris_names[] = {"sepal_length", "sepal_width", "petal_length",
                                         "petal_width"};
static const char *const iris_labels[] = {"setosa", "versicolor", "virginica"};

static struct mw_tensor_spec iris_in[] = {
    {.name = "input", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}, .n_names = 4,
     .names = iris_names},
};
static struct mw_tensor_spec iris_out[] = {
    {.name = "label", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},
    {.name = "probabilities", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}, .n_labels = 3,
     .labels = iris_labels},
    {.name = "raw", .dtype = MW_FP64, .ndim = 3, .shape = {-1, 2, 2}},
};

/* Every dtype as a 1-D input; the outputs echo the inputs. */
#define MIXED_SPECS                                                                                \
    {.name = "age", .dtype = MW_UINT8, .ndim = 1, .shape = {-1}},                                  \
    {.name = "name", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},                                 \
    {.name = "member", .dtype = MW_BOOL, .ndim = 1, .shape = {-1}},                                \
    {.name = "score", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},                                 \
    {.name = "ratio", .dtype = MW_FP32, .ndim = 1, .shape = {-1}},                                 \
    {.name = "i8", .dtype = MW_INT8, .ndim = 1, .shape = {-1}},                                    \
    {.name = "i16", .dtype = MW_INT16, .ndim = 1, .shape = {-1}},                                  \
    {.name = "i32", .dtype = MW_INT32, .ndim = 1, .shape = {-1}},                                  \
    {.name = "i64", .dtype = MW_INT64, .ndim = 1, .shape = {-1}},                                  \
    {.name = "u16", .dtype = MW_UINT16, .ndim = 1, .shape = {-1}},                                 \
    {.name = "u32", .dtype = MW_UINT32, .ndim = 1, .shape = {-1}},                                 \
    {.name = "u64", .dtype = MW_UINT64, .ndim = 1, .shape = {-1}}

static struct mw_tensor_spec mixed_in[] = {MIXED_SPECS};
static struct mw_tensor_spec mixed_out[] = {MIXED_SPECS};
/* clang-format on */

static struct model iris = {
    .name = "iris",
    .version = "1",
    .sig = {.n_inputs = 1, .inputs = iris_in, .n_outputs = 3, .outputs = iris_out},
    .opts = {.max_records = MAX_RECORDS},
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
};
static struct model mixed = {
    .name = "mixed",
    .version = "2\"b",
    .sig = {.n_inputs = MW_ARRAY_LEN(mixed_in),
            .inputs = mixed_in,
            .n_outputs = MW_ARRAY_LEN(mixed_out),
            .outputs = mixed_out},
    .opts = {.max_records = MAX_RECORDS},
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Outputs of the iris model derived from its decoded features, including non-finite values. */
static int iris_outputs(struct model_call *c)
{
    const float *x = c->inputs[0].data;
    int64_t n = c->inputs[0].shape[0];
    int64_t s1[1] = {n}, s2[2] = {n, 3}, s3[3] = {n, 2, 2};
    int64_t *label = model_call_output(c, 0, 1, s1);
    float *p = model_call_output(c, 1, 2, s2);
    double *raw = model_call_output(c, 2, 3, s3);
    int64_t r;
    int k;

    if (label == NULL || p == NULL || raw == NULL)
        return -1;
    for (r = 0; r < n; r++) {
        const float *f = x + r * 4;
        label[r] = (int64_t)r - 1;
        p[r * 3 + 0] = f[0] * 1e30f * f[1];  /* may overflow to +-inf */
        p[r * 3 + 1] = f[1] / (f[2] - f[2]); /* inf or nan */
        p[r * 3 + 2] = f[3];
        for (k = 0; k < 4; k++)
            raw[r * 4 + k] = (double)f[k] / 3.0;
    }
    return 0;
}

/* Outputs of the mixed model: copies of its inputs. */
static int mixed_outputs(struct model_call *c)
{
    size_t i;

    for (i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *t = &c->inputs[i];
        void *dst = model_call_output(c, i, t->ndim, t->shape);
        if (dst == NULL)
            return -1;
        memcpy(dst, t->data, (size_t)t->shape[0] * dtype_size(t->dtype));
    }
    return 0;
}

static void check_one(struct model *m, const json_t *body, size_t size,
                      int (*outputs)(struct model_call *))
{
    /* the server's decoding budget for a body of this size */
    struct model_call *c = model_call_new(m, model_call_budget(size));
    struct mw_error e;
    struct buf out;
    json_t *parsed, *msg;
    json_error_t jerr;
    int rc;

    if (c == NULL)
        abort();
    memset(&e, 0, sizeof(e));
    rc = records_decode(c, body, MAX_RECORDS, &e);
    if (rc != 0) {
        /* never MWE_NOMEM: records are checked before records x fields is allocated */
        if (rc != MWE_INVALID_INPUT && rc != MWE_BAD_REQUEST)
            abort();
        if (e.code != rc || e.msg[0] == '\0' || strlen(e.msg) >= sizeof(e.msg))
            abort();
        /* the message goes into a JSON error body: it must be valid UTF-8 */
        msg = json_string(e.msg);
        if (msg == NULL)
            abort();
        json_decref(msg);
        goto out_release;
    }
    if (outputs(c) != 0)
        abort();
    buf_init(&out, OUT_MAX);
    rc = records_encode(c, &out);
    if (rc == 0) {
        parsed = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
        if (parsed == NULL) {
            fprintf(stderr, "encoded JSON does not parse: %s\n%s\n", jerr.text, out.ptr);
            abort();
        }
        if (json_array_size(json_object_get(parsed, "predictions")) !=
            (size_t)c->inputs[0].shape[0])
            abort();
        json_decref(parsed);
    } else if (rc != MWE_BODY_TOO_LARGE && rc != MWE_NOMEM) {
        abort();
    }
    buf_fini(&out);
out_release:
    model_call_release(c);
}

/* libFuzzer entry point: data is borrowed for the duration of the call; never fails (returns 0);
 * any broken invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);

    if (body == NULL)
        goto out_done;
    check_one(&iris, body, size, iris_outputs);
    check_one(&mixed, body, size, mixed_outputs);
    json_decref(body);
out_done:
    return 0;
}
