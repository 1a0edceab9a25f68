/*
 * libFuzzer target for the Open Inference Protocol JSON decoder (tensor_decode_request): arbitrary
 * bytes as the request body against a model with one input of every dtype and a batching
 * iris-like model. Decoded calls get outputs (the echo of their inputs) and are encoded; the
 * response's JSON header must parse again and its binary part must add up; decoding never runs
 * out of the decoding budget (model_call_budget of the body's size). Seeds:
 * fuzz/corpus/v2_json/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

#define OUT_MAX ((size_t)8 << 20)

#define SPEC(n, t) {.name = n, .dtype = t, .ndim = 2, .shape = {-1, -1}}
/* clang-format off */
static struct mw_tensor_spec echo_in[] = {
    SPEC("in_bool", MW_BOOL), SPEC("in_uint8", MW_UINT8), SPEC("in_uint16", MW_UINT16),
    SPEC("in_uint32", MW_UINT32), SPEC("in_uint64", MW_UINT64), SPEC("in_int8", MW_INT8),
    SPEC("in_int16", MW_INT16), SPEC("in_int32", MW_INT32), SPEC("in_int64", MW_INT64),
    SPEC("in_fp32", MW_FP32), SPEC("in_fp64", MW_FP64), SPEC("in_bytes", MW_BYTES),
    SPEC("in_fp16", MW_FP16), SPEC("in_bf16", MW_BF16),
};
static struct mw_tensor_spec echo_out[] = {
    SPEC("out_bool", MW_BOOL), SPEC("out_uint8", MW_UINT8), SPEC("out_uint16", MW_UINT16),
    SPEC("out_uint32", MW_UINT32), SPEC("out_uint64", MW_UINT64), SPEC("out_int8", MW_INT8),
    SPEC("out_int16", MW_INT16), SPEC("out_int32", MW_INT32), SPEC("out_int64", MW_INT64),
    SPEC("out_fp32", MW_FP32), SPEC("out_fp64", MW_FP64), SPEC("out_bytes", MW_BYTES),
    SPEC("out_fp16", MW_FP16), SPEC("out_bf16", MW_BF16),
};
static struct mw_tensor_spec iris_in[] = {
    {.name = "features", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}},
};
static struct mw_tensor_spec iris_out[] = {
    {.name = "label", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "probabilities", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 3}},
};
/* clang-format on */

static struct model echo = {
    .name = "echo",
    .version = "1",
    .sig = {MW_ARRAY_LEN(echo_in), echo_in, MW_ARRAY_LEN(echo_out), echo_out, NULL},
    .opts = {.max_records = 64},
};
static struct model iris = {
    .name = "iris",
    .version = "2",
    .flags = MW_FLAG_BATCH,
    .sig = {1, iris_in, 2, iris_out, NULL},
    .opts = {.max_records = 64},
};

/* The echo model's outputs: copies of its inputs (BYTES elements point into the call's arena). */
static void echo_outputs(struct model_call *c)
{
    for (size_t i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *t = &c->inputs[i];
        size_t count = (size_t)t->shape[0] * (size_t)t->shape[1];
        void *dst = model_call_output(c, i, t->ndim, t->shape);
        if (dst == NULL)
            abort();
        if (count > 0)
            memcpy(dst, t->data, count * dtype_size(t->dtype));
    }
}

static void iris_outputs(struct model_call *c)
{
    int64_t n = c->inputs[0].shape[0], s2[2] = {n, 3};
    struct mw_bytes *label = model_call_output(c, 0, 1, &n);
    float *p = model_call_output(c, 1, 2, s2);
    const float *x = c->inputs[0].data;

    if (label == NULL || p == NULL)
        abort();
    for (int64_t r = 0; r < n; r++) {
        label[r] = (struct mw_bytes){(const uint8_t *)(r % 2 ? "setosa" : "\xff\xfe"), r % 2 ? 6 : 2};
        p[r * 3] = x[r * 4];
        p[r * 3 + 1] = x[r * 4 + 1] / (x[r * 4 + 2] - x[r * 4 + 2]); /* inf or nan */
        p[r * 3 + 2] = 0.5f;
    }
}

/* Checks a successful encoding: the header parses and the binary part is what it announces. */
static void check_response(const struct buf *out, size_t header_len, bool binary)
{
    json_error_t jerr;
    json_t *h, *outs, *o, *size;
    size_t total = 0, i;

    if (header_len > out->len || (!binary && header_len != out->len))
        abort();
    h = json_loadb(out->ptr, header_len, JSON_ALLOW_NUL, &jerr);
    if (h == NULL) {
        fprintf(stderr, "response header does not parse: %s\n%.*s\n", jerr.text, (int)header_len,
                out->ptr);
        abort();
    }
    outs = json_object_get(h, "outputs");
    json_array_foreach(outs, i, o) {
        size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
        if (size != NULL)
            total += (size_t)json_integer_value(size);
        else if (!json_is_array(json_object_get(o, "data")))
            abort();
    }
    if (header_len + total != out->len)
        abort();
    json_decref(h);
}

static void check_one(struct model *m, const uint8_t *data, size_t size,
                      void (*outputs)(struct model_call *))
{
    /* the server's decoding budget for a body of this size */
    struct model_call *c = model_call_new(m, model_call_budget(size));
    struct v2_request req;
    struct mw_error e;
    struct arena meta;
    struct buf out;
    size_t header_len = 0;
    bool binary = false;
    json_t *msg;
    int rc;

    if (c == NULL)
        abort();
    arena_init(&meta, 0);
    memset(&e, 0, sizeof(e));
    rc = tensor_decode_request(c, &meta, (const char *)data, size, NULL, 0, m->opts.max_records,
                               &req, &e);
    if (rc != 0) {
        /* never MWE_NOMEM: the data is checked against every declared size before anything
         * proportional to it is allocated, so no body reaches the budget through its inputs */
        if (rc != MWE_INVALID_JSON && rc != MWE_BAD_REQUEST)
            abort();
        if (e.code != rc || e.msg[0] == '\0' || strlen(e.msg) >= sizeof(e.msg))
            abort();
        msg = json_string(e.msg); /* the message goes into a JSON error body */
        if (msg == NULL)
            abort();
        json_decref(msg);
        goto out;
    }
    outputs(c);
    buf_init(&out, OUT_MAX);
    rc = tensor_encode_response(c, &req, &out, &header_len, &binary, &e);
    if (rc == 0)
        check_response(&out, header_len, binary);
    else if (rc != MWE_BAD_REQUEST && rc != MWE_BODY_TOO_LARGE && rc != MWE_NOMEM)
        abort();
    buf_fini(&out);
out:
    arena_fini(&meta);
    model_call_release(c);
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(&echo, data, size, echo_outputs);
    check_one(&iris, data, size, iris_outputs);
    return 0;
}
