/*
 * libFuzzer target for a request body's whole path, in production's order and with its calls:
 * the body arrives in chunks into a struct buf bounded by max_body_bytes (too large: 413, as
 * http.c answers), then the V1 predict path (mw_json_limits_check, jansson with duplicates refused,
 * the decoding budget of the body's size, records_decode, records_encode) and the V2 infer path
 * (Inference-Header-Content-Length through binary_header_length when framed, mw_json_limits_check
 * on the JSON part, tensor_decode_request or tensor_decode_raw, tensor_encode_response). The
 * settings are config_load's defaults except a 32 KiB body limit, so that the limit is reached.
 * Input: byte 0 picks the chunk size (bit 0: a framed V2 body; then the header value runs to the
 * first '\n'), the rest is the body. A refusal must carry the status production gives; an encoded
 * answer must parse again. Seeds: fuzz/corpus/body_chain/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "codec/codec.h"
#include "model/model_impl.h"

#define BODY_MAX ((size_t)32 << 10)
#define OUT_MAX ((size_t)8 << 20)

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
};
static struct mw_tensor_spec text_in[] = {
    {.name = "text", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "weight", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec text_out[] = {
    {.name = "text", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
    {.name = "weight", .dtype = MW_FP64, .ndim = 1, .shape = {-1}},
};
/* clang-format on */

static struct model iris = {
    .name = "iris",
    .version = "1",
    .flags = MW_FLAG_BATCH,
    .sig = {.n_inputs = 1, .inputs = iris_in, .n_outputs = 2, .outputs = iris_out},
    .opts = {.max_records = 64},
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
};
static struct model text = {
    .name = "text",
    .version = "2",
    .sig = {.n_inputs = 2, .inputs = text_in, .n_outputs = 2, .outputs = text_out},
    .opts = {.max_records = 64},
    .run_lock = PTHREAD_MUTEX_INITIALIZER,
};

static struct config cfg;

/* Outputs derived from the inputs: iris from its features, text echoes its inputs. */
static void outputs(struct model_call *c)
{
    if (c->model == &iris) {
        int64_t n = c->inputs[0].shape[0], s2[2] = {n, 3};
        int64_t *label = model_call_output(c, 0, 1, &n);
        float *p = model_call_output(c, 1, 2, s2);
        const float *x = c->inputs[0].data;
        if (label == NULL || p == NULL)
            abort();
        for (int64_t r = 0; r < n; r++) {
            label[r] = r;
            p[r * 3] = x[r * 4];
            p[r * 3 + 1] = x[r * 4 + 1] / (x[r * 4 + 2] - x[r * 4 + 2]); /* inf or nan */
            p[r * 3 + 2] = x[r * 4 + 3];
        }
        return;
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *t = &c->inputs[i];
        size_t count = 1;
        for (int32_t d = 0; d < t->ndim; d++)
            count *= (size_t)t->shape[d];
        void *dst = model_call_output(c, i, t->ndim, t->shape);
        if (dst == NULL)
            abort();
        if (count > 0)
            memcpy(dst, t->data, count * dtype_size(t->dtype));
    }
}

/* api_h_predict's path after the route, Content-Type and readiness checks. */
static void v1_predict(struct model *m, const struct buf *b)
{
    const char *body = b->ptr ? b->ptr : "";
    struct mw_error e = {0};
    json_error_t jerr;
    struct model_call *c;
    struct buf out;
    json_t *root, *again;
    int rc;

    if (mw_json_limits_check(body, b->len, &cfg, &e) != 0)
        return; /* 400 invalid_json */
    root = json_loadb(body, b->len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return; /* 400 invalid_json */
    c = model_call_new(m, model_call_budget(b->len));
    if (c == NULL)
        abort();
    rc = records_decode(c, root, m->opts.max_records, &e);
    json_decref(root);
    if (rc != 0) {
        if ((rc != MWE_INVALID_INPUT && rc != MWE_BAD_REQUEST) || e.code != rc ||
            e.msg[0] == '\0')
            abort();
        goto out;
    }
    outputs(c);
    buf_init(&out, OUT_MAX);
    rc = records_encode(c, &out);
    if (rc == 0) {
        again = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, &jerr);
        if (again == NULL)
            abort();
        json_decref(again);
    } else if (rc != MWE_BODY_TOO_LARGE && rc != MWE_NOMEM) {
        abort();
    }
    buf_fini(&out);
out:
    model_call_release(c);
}

/* api_h_v2_infer's path after the route, Content-Type and readiness checks. */
static void v2_infer(struct model *m, const struct buf *b, const char *ihcl, size_t ihcl_len)
{
    const char *body = b->ptr ? b->ptr : "";
    size_t len = b->len, hlen = len, header_len = 0;
    bool framed = ihcl != NULL, binary = false;
    struct mw_error e = {0};
    struct v2_request req;
    struct model_call *c;
    struct arena meta;
    struct buf out;
    json_error_t jerr;
    json_t *again;
    int rc;

    if (framed && binary_header_length((struct slice){ihcl, ihcl_len}, len, &hlen, &e) != 0) {
        if (e.code != MWE_BAD_REQUEST || e.msg[0] == '\0')
            abort();
        return; /* 400 */
    }
    if (hlen > len)
        abort();
    if (!(framed && hlen == 0) && mw_json_limits_check(body, hlen, &cfg, &e) != 0)
        return; /* 400 invalid_json */
    c = model_call_new(m, model_call_budget(len));
    if (c == NULL)
        abort();
    arena_init(&meta, 0);
    memset(&req, 0, sizeof(req));
    if (framed && hlen == 0)
        rc = tensor_decode_raw(c, &meta, (const uint8_t *)body, len, &req, &e);
    else
        rc = tensor_decode_request(c, &meta, body, hlen, (const uint8_t *)body + hlen, len - hlen,
                                   m->opts.max_records, &req, &e);
    if (rc != 0) {
        if ((rc != MWE_INVALID_JSON && rc != MWE_BAD_REQUEST && rc != MWE_INVALID_INPUT) ||
            e.code != rc || e.msg[0] == '\0')
            abort();
        goto out;
    }
    outputs(c);
    buf_init(&out, OUT_MAX);
    rc = tensor_encode_response(c, &req, &out, &header_len, &binary, &e);
    if (rc == 0) {
        again = json_loadb(out.ptr, header_len, JSON_ALLOW_NUL, &jerr);
        if (again == NULL || header_len > out.len || (!binary && header_len != out.len))
            abort();
        json_decref(again);
    } else if (rc != MWE_BAD_REQUEST && rc != MWE_BODY_TOO_LARGE && rc != MWE_NOMEM) {
        abort();
    }
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
    static bool configured;
    const char *ihcl = NULL;
    size_t ihcl_len = 0, chunk, at;
    struct buf body;
    int rc = 0;

    if (!configured) {
        char *argv[] = {"modelwrap", NULL};
        char *envp[] = {"MODELWRAP_ENV_FILE=/dev/null", NULL};
        struct mw_error e;
        if (config_load(&cfg, 1, argv, 1, envp, &e) != 0) {
            fprintf(stderr, "config_load: %s\n", e.msg);
            abort();
        }
        cfg.max_body_bytes = BODY_MAX;
        configured = true;
    }
    if (size < 1)
        return 0;
    chunk = 1 + (data[0] >> 1) * 64;
    data++;
    size--;
    if (data[-1] & 1) {
        const uint8_t *nl = memchr(data, '\n', size < 32 ? size : 32);
        if (nl == NULL)
            return 0;
        ihcl = (const char *)data;
        ihcl_len = (size_t)(nl - data);
        size -= ihcl_len + 1;
        data = nl + 1;
    }
    /* the transport's upload loop: libmicrohttpd hands the body over in pieces */
    buf_init(&body, cfg.max_body_bytes);
    for (at = 0; at < size && rc == 0; at += chunk)
        rc = buf_append(&body, data + at, size - at < chunk ? size - at : chunk);
    if (rc != 0) {
        if (rc != MWE_BODY_TOO_LARGE || size <= cfg.max_body_bytes)
            abort();
        goto out; /* 413 body_too_large */
    }
    if (size > cfg.max_body_bytes || body.len != size)
        abort();
    if (ihcl == NULL) {
        v1_predict(&iris, &body);
        v1_predict(&text, &body);
    }
    v2_infer(&iris, &body, ihcl, ihcl_len);
    v2_infer(&text, &body, ihcl, ihcl_len);
out:
    buf_fini(&body);
    return 0;
}
