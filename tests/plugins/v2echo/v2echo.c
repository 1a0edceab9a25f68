/*
 * v2echo: a model plug-in for the Open Inference Protocol tests only. One input per dtype
 * ("in_bool" ... "in_bf16", each [-1, -1]) and one output per input ("out_bool" ...) that echoes
 * it, shape and data. An in_int32 element of 13 is refused (MW_ERR_INVALID_INPUT), 666 fails the
 * model (MW_ERR_INTERNAL). Built only against the public header.
 */
#include <string.h>

#include "modelwrap/model.h"

static const struct {
    const char *in, *out;
    int32_t dtype;
} tensors[] = {
    {"in_bool", "out_bool", MW_BOOL},       {"in_uint8", "out_uint8", MW_UINT8},
    {"in_uint16", "out_uint16", MW_UINT16}, {"in_uint32", "out_uint32", MW_UINT32},
    {"in_uint64", "out_uint64", MW_UINT64}, {"in_int8", "out_int8", MW_INT8},
    {"in_int16", "out_int16", MW_INT16},    {"in_int32", "out_int32", MW_INT32},
    {"in_int64", "out_int64", MW_INT64},    {"in_fp32", "out_fp32", MW_FP32},
    {"in_fp64", "out_fp64", MW_FP64},       {"in_bytes", "out_bytes", MW_BYTES},
    {"in_fp16", "out_fp16", MW_FP16},       {"in_bf16", "out_bf16", MW_BF16},
};

#define N_TENSORS (sizeof(tensors) / sizeof(tensors[0]))

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

static int echo_run(void *state, const struct mw_host *host, struct mw_call *call)
{
    (void)state;
    for (size_t i = 0; i < N_TENSORS; i++) {
        struct mw_tensor_info info = {.size = sizeof(info)};
        const struct mw_tensor_info *t = &info;
        size_t count;
        void *out;

        if (host->input(call, i, &info) != MW_OK)
            return MW_ERR_INTERNAL;
        count = t->count;

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

__attribute__((visibility("default"))) int mw_plugin_init(const struct mw_host *host,
                                                          struct mw_plugin *p)
{
    static const int64_t shape[] = {-1, -1};
    const struct mw_model model = {
        .size = sizeof(model), .flags = MW_FLAG_THREAD_SAFE, .name = "v2echo", .version = "2.0.0",
        .run = echo_run};

    MW_PLUGIN_CHECK_IN(host, p);
    for (size_t i = 0; i < N_TENSORS; i++) {
        if (host->add_input(p, tensors[i].in, tensors[i].dtype, 2, shape) != MW_OK)
            return MW_ERR_INTERNAL;
    }
    for (size_t i = 0; i < N_TENSORS; i++) {
        if (host->add_output(p, tensors[i].out, tensors[i].dtype, 2, shape) != MW_OK)
            return MW_ERR_INTERNAL;
    }
    return host->set_model(p, &model);
}
