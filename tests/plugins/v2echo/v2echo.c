/*
 * v2echo: a model plug-in for the Open Inference Protocol tests only. One input per dtype
 * ("in_bool" ... "in_bf16", each [-1, -1]) and one output per input ("out_bool" ...) that echoes
 * it, shape and data. An in_int32 element of 13 is refused (MW_ERR_INVALID_INPUT), 666 fails the
 * model (MW_ERR_INTERNAL). Built only against the public header (ABI 1.1: FP16, BF16).
 */
#include <string.h>

#include "modelwrap/model.h"

#define SPEC(n, t) {.name = n, .dtype = t, .ndim = 2, .shape = {-1, -1}}

static const struct mw_tensor_spec inputs[] = {
    SPEC("in_bool", MW_BOOL),     SPEC("in_uint8", MW_UINT8),   SPEC("in_uint16", MW_UINT16),
    SPEC("in_uint32", MW_UINT32), SPEC("in_uint64", MW_UINT64), SPEC("in_int8", MW_INT8),
    SPEC("in_int16", MW_INT16),   SPEC("in_int32", MW_INT32),   SPEC("in_int64", MW_INT64),
    SPEC("in_fp32", MW_FP32),     SPEC("in_fp64", MW_FP64),     SPEC("in_bytes", MW_BYTES),
    SPEC("in_fp16", MW_FP16),     SPEC("in_bf16", MW_BF16),
};
static const struct mw_tensor_spec outputs[] = {
    SPEC("out_bool", MW_BOOL),     SPEC("out_uint8", MW_UINT8),   SPEC("out_uint16", MW_UINT16),
    SPEC("out_uint32", MW_UINT32), SPEC("out_uint64", MW_UINT64), SPEC("out_int8", MW_INT8),
    SPEC("out_int16", MW_INT16),   SPEC("out_int32", MW_INT32),   SPEC("out_int64", MW_INT64),
    SPEC("out_fp32", MW_FP32),     SPEC("out_fp64", MW_FP64),     SPEC("out_bytes", MW_BYTES),
    SPEC("out_fp16", MW_FP16),     SPEC("out_bf16", MW_BF16),
};

#define N_TENSORS (sizeof(inputs) / sizeof(inputs[0]))

static int echo_load(const struct mw_host *host, const char *dir, const char *config_json,
                     void **state)
{
    (void)host;
    (void)dir;
    (void)config_json;
    *state = NULL;
    return MW_OK;
}

static size_t elem_size(int32_t dtype)
{
    switch (dtype) {
    case MW_BOOL:
    case MW_UINT8:
    case MW_INT8:
        return 1;
    case MW_UINT16:
    case MW_INT16:
    case MW_FP16:
    case MW_BF16:
        return 2;
    case MW_UINT32:
    case MW_INT32:
    case MW_FP32:
        return 4;
    default:
        return 8;
    }
}

static int echo_run(void *state, const struct mw_host *host, struct mw_call *call,
                    const struct mw_tensor *in, size_t n_in)
{
    (void)state;
    if (n_in != N_TENSORS)
        return MW_ERR_INTERNAL;
    for (size_t i = 0; i < n_in; i++) {
        const struct mw_tensor *t = &in[i];
        size_t count = (size_t)t->shape[0] * (size_t)t->shape[1];
        void *out;

        if (t->dtype == MW_INT32) {
            const int32_t *v = t->data;
            for (size_t k = 0; k < count; k++) {
                if (v[k] == 13) {
                    host->set_error(call, "in_int32: 13 is an unlucky number");
                    return MW_ERR_INVALID_INPUT;
                }
                if (v[k] == 666)
                    return MW_ERR_INTERNAL;
            }
        }
        out = host->output(call, i, t->ndim, t->shape);
        if (out == NULL)
            return MW_ERR_NOMEM;
        if (t->dtype == MW_BYTES) {
            const struct mw_bytes *src = t->data;
            struct mw_bytes *dst = out;
            for (size_t k = 0; k < count; k++) {
                uint8_t *copy = host->alloc(call, src[k].len > 0 ? src[k].len : 1);
                if (copy == NULL)
                    return MW_ERR_NOMEM;
                if (src[k].len > 0)
                    memcpy(copy, src[k].ptr, src[k].len);
                dst[k].ptr = copy;
                dst[k].len = src[k].len;
            }
        } else if (count > 0) {
            memcpy(out, t->data, count * elem_size(t->dtype));
        }
    }
    return MW_OK;
}

static void echo_free(void *state)
{
    (void)state;
}

static const struct mw_model_desc echo_desc = {
    .abi_major = MW_ABI_MAJOR,
    .abi_minor = MW_ABI_MINOR,
    .size = sizeof(struct mw_model_desc),
    .flags = MW_FLAG_THREAD_SAFE,
    .name = "v2echo",
    .version = "1.0.0",
    .n_inputs = N_TENSORS,
    .inputs = inputs,
    .n_outputs = N_TENSORS,
    .outputs = outputs,
    .load = echo_load,
    .run = echo_run,
    .free = echo_free,
};

__attribute__((visibility("default"))) const struct mw_model_desc *mw_model_entry(void)
{
    return &echo_desc;
}
