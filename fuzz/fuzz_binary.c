/*
 * libFuzzer target for the binary tensor data extension: the first two bytes give the JSON
 * header's length (as Inference-Header-Content-Length would), the rest is the body; decoded
 * against a model with one input of every dtype, then as a raw body (header length 0) against
 * one-input models, and the BYTES element parser on its own. Every length must be checked against
 * the bytes present (the sanitizer build catches a read past them). Seeds: fuzz/corpus/binary/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

#define ARENA_MAX ((size_t)1 << 20)

#define SPEC(n, t) {.name = n, .dtype = t, .ndim = 2, .shape = {-1, -1}}
/* clang-format off */
static struct mw_tensor_spec all_in[] = {
    SPEC("in_bool", MW_BOOL), SPEC("in_uint8", MW_UINT8), SPEC("in_uint16", MW_UINT16),
    SPEC("in_uint32", MW_UINT32), SPEC("in_uint64", MW_UINT64), SPEC("in_int8", MW_INT8),
    SPEC("in_int16", MW_INT16), SPEC("in_int32", MW_INT32), SPEC("in_int64", MW_INT64),
    SPEC("in_fp32", MW_FP32), SPEC("in_fp64", MW_FP64), SPEC("in_bytes", MW_BYTES),
    SPEC("in_fp16", MW_FP16), SPEC("in_bf16", MW_BF16),
};
static struct mw_tensor_spec one_out[] = {
    {.name = "y", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec iris_in[] = {
    {.name = "x", .dtype = MW_FP32, .ndim = 2, .shape = {-1, 4}},
};
static struct mw_tensor_spec text_in[] = {
    {.name = "text", .dtype = MW_BYTES, .ndim = 1, .shape = {-1}},
};
static struct mw_tensor_spec img_in[] = {
    {.name = "img", .dtype = MW_UINT16, .ndim = 3, .shape = {3, -1, 2}},
};
/* clang-format on */

static struct model all = {
    .name = "all",
    .version = "1",
    .sig = {MW_ARRAY_LEN(all_in), all_in, 1, one_out, NULL},
    .opts = {.max_records = 64},
};
static struct model iris = {
    .name = "iris", .version = "1", .flags = MW_FLAG_BATCH, .sig = {1, iris_in, 1, one_out, NULL}};
static struct model text = {
    .name = "text", .version = "1", .flags = MW_FLAG_BATCH, .sig = {1, text_in, 1, one_out, NULL}};
static struct model img = {.name = "img", .version = "1", .sig = {1, img_in, 1, one_out, NULL}};

/* A refused body: never MWE_NOMEM, since every declared size (shape, binary_data_size) is checked
 * against the bytes present before anything proportional to it is allocated. */
static void check_error(int rc, const struct mw_error *e)
{
    if (rc != MWE_INVALID_JSON && rc != MWE_BAD_REQUEST)
        abort();
    if (e->code != rc || e->msg[0] == '\0')
        abort();
}

/* Every input tensor of a decoded call has a shape matching its element count and data. */
static void check_inputs(const struct model_call *c)
{
    for (size_t i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *t = &c->inputs[i];
        size_t n = 1;
        if (t->data == NULL || t->ndim != c->model->sig.inputs[i].ndim)
            abort();
        for (int32_t d = 0; d < t->ndim; d++)
            n *= (size_t)t->shape[d];
        if (t->dtype == MW_BYTES) {
            const struct mw_bytes *b = t->data;
            volatile uint8_t sink = 0;
            for (size_t k = 0; k < n; k++) /* touch every byte: a bad pointer shows */
                for (size_t j = 0; j < b[k].len; j++)
                    sink ^= b[k].ptr[j];
            (void)sink;
        } else {
            volatile const uint8_t *p = t->data;
            size_t bytes = n * dtype_size(t->dtype);
            if (bytes > 0)
                (void)p[bytes - 1];
        }
    }
}

static void decode_framed(const uint8_t *body, size_t len, size_t hlen)
{
    struct model_call *c = model_call_new(&all, model_call_budget(len));
    struct v2_request req;
    struct mw_error e;
    struct arena meta;
    int rc;

    if (c == NULL)
        abort();
    arena_init(&meta, 0);
    memset(&e, 0, sizeof(e));
    rc = tensor_decode_request(c, &meta, (const char *)body, hlen, body + hlen, len - hlen, 64,
                               &req, &e);
    if (rc != 0)
        check_error(rc, &e);
    else
        check_inputs(c);
    arena_fini(&meta);
    model_call_release(c);
}

static void decode_raw(struct model *m, const uint8_t *body, size_t len)
{
    struct model_call *c = model_call_new(m, model_call_budget(len));
    struct v2_request req;
    struct mw_error e;
    struct arena meta;
    int rc;

    if (c == NULL)
        abort();
    arena_init(&meta, 0);
    memset(&e, 0, sizeof(e));
    rc = tensor_decode_raw(c, &meta, body, len, &req, &e);
    if (rc != 0)
        check_error(rc, &e);
    else
        check_inputs(c);
    arena_fini(&meta);
    model_call_release(c);
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mw_bytes elems[64];
    struct mw_error e;
    struct arena a;
    size_t hlen, body_len;
    uint8_t *body;
    char digits[8];
    struct slice hdr;

    if (size < 2)
        return 0;
    /* the body in a buffer of its exact size, so that a read past it is caught */
    body_len = size - 2;
    body = malloc(body_len > 0 ? body_len : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 2, body_len);
    snprintf(digits, sizeof(digits), "%u", (unsigned)(data[0] | (data[1] << 8)));
    hdr = (struct slice){digits, strlen(digits)};
    memset(&e, 0, sizeof(e));
    if (binary_header_length(hdr, body_len, &hlen, &e) == 0) {
        if (hlen > 0)
            decode_framed(body, body_len, hlen);
        else {
            decode_raw(&iris, body, body_len);
            decode_raw(&text, body, body_len);
            decode_raw(&img, body, body_len);
        }
    }
    /* the BYTES parser alone: count from the first byte */
    arena_init(&a, ARENA_MAX);
    if (binary_read_bytes(body, body_len, data[0] % 64, elems, &a, "fuzz", &e) == 0) {
        size_t total = 0;
        for (size_t i = 0; i < (size_t)(data[0] % 64); i++)
            total += 4 + elems[i].len;
        if (total != body_len)
            abort();
    }
    arena_fini(&a);
    free(body);
    return 0;
}
