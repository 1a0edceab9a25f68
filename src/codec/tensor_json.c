/*
 * The Open Inference Protocol (KServe V2) inference request and response: decodes the JSON
 * request (id, parameters, inputs with JSON or binary data, requested outputs) into a model call's
 * input tensors, checked against the model's signature and converted into its dtypes, and encodes
 * a completed call's outputs as the JSON response, binary outputs appended after it.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "model/model_impl.h"

#define LIST_CAP 160              /* "a, b, c" lists in messages */
#define SHAPE_CAP (MW_MAX_DIMS * 22 + 3)
#define NUM_CAP 40
#define PARAMS_MAX 4096           /* bytes of echoed request parameters */

/* ---- messages -------------------------------------------------------------------------------- */

/* Replaces, in place, control bytes and bytes that are not valid UTF-8 with '?' (jansson's error
 * text quotes the input it stopped at, which may be anything). */
static void sanitize(char *s)
{
    size_t len = strlen(s), i = 0, n;

    while (i < len) {
        n = mw_utf8_len((const unsigned char *)s + i, len - i);
        if (n == 0 || (n == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}

/* "[-1, 4]" */
static const char *shape_text(char out[SHAPE_CAP], const int64_t *shape, int32_t ndim)
{
    size_t used = 1;

    out[0] = '[';
    for (int32_t d = 0; d < ndim && d < MW_MAX_DIMS; d++)
        used += (size_t)snprintf(out + used, SHAPE_CAP - used, "%s%lld", d ? ", " : "",
                                 (long long)shape[d]);
    snprintf(out + used, SHAPE_CAP - used, "]");
    return out;
}

/* "a, b, c" of n names (truncated with "..."). */
static const char *names_text(char out[LIST_CAP], const struct mw_tensor_spec *specs, size_t n)
{
    size_t used = 0;
    int k;

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        k = snprintf(out + used, LIST_CAP - used, "%s%s", i ? ", " : "", specs[i].name);
        if (k < 0 || (size_t)k >= LIST_CAP - used) {
            memcpy(out + LIST_CAP - 4, "...", 4);
            break;
        }
        used += (size_t)k;
    }
    return out;
}

/* ---- numbers --------------------------------------------------------------------------------- */

enum num_kind { NUM_I = 0, NUM_U = 1, NUM_F = 2 };

/* A value of the request's datatype, before it is stored in the model's. */
struct num {
    int kind;
    int64_t i;
    uint64_t u;
    double d;
};

static bool is_sint(int dtype)
{
    return dtype >= MW_INT8 && dtype <= MW_INT64;
}

static bool is_uint(int dtype)
{
    return dtype >= MW_UINT8 && dtype <= MW_UINT64;
}

/* n as an exact double; false when it has none. */
static bool num_as_double(const struct num *n, double *out)
{
    double d;

    switch (n->kind) {
    case NUM_F:
        *out = n->d;
        return true;
    case NUM_I:
        d = (double)n->i;
        if (d >= 9223372036854775808.0 || (int64_t)d != n->i)
            return false;
        *out = d;
        return true;
    default:
        d = (double)n->u;
        if (d >= 18446744073709551616.0 || (uint64_t)d != n->u)
            return false;
        *out = d;
        return true;
    }
}

/* n as an exact signed / unsigned integer in [lo, hi] / [0, uhi]; false otherwise. */
static bool num_as_sint(const struct num *n, int64_t lo, int64_t hi, int64_t *out)
{
    switch (n->kind) {
    case NUM_I:
        if (n->i < lo || n->i > hi)
            return false;
        *out = n->i;
        return true;
    case NUM_U:
        if (n->u > (uint64_t)hi)
            return false;
        *out = (int64_t)n->u;
        return true;
    default:
        if (!(n->d == trunc(n->d)) || n->d < -9223372036854775808.0 ||
            n->d >= 9223372036854775808.0)
            return false;
        if ((int64_t)n->d < lo || (int64_t)n->d > hi)
            return false;
        *out = (int64_t)n->d;
        return true;
    }
}

static bool num_as_uint(const struct num *n, uint64_t uhi, uint64_t *out)
{
    switch (n->kind) {
    case NUM_I:
        if (n->i < 0 || (uint64_t)n->i > uhi)
            return false;
        *out = (uint64_t)n->i;
        return true;
    case NUM_U:
        if (n->u > uhi)
            return false;
        *out = n->u;
        return true;
    default:
        if (!(n->d == trunc(n->d)) || n->d < 0 || n->d >= 18446744073709551616.0)
            return false;
        if ((uint64_t)n->d > uhi)
            return false;
        *out = (uint64_t)n->d;
        return true;
    }
}

/* Stores n as element idx of dst (dtype `to`, host order) when exactly representable. */
static bool store_num(const struct num *n, int to, void *dst, size_t idx)
{
    int64_t lo, sv;
    uint64_t hi, uv;
    double d;
    float f;
    uint16_t h;

    dtype_int_range(to, &lo, &hi);
    if (is_sint(to)) {
        if (!num_as_sint(n, lo, (int64_t)hi, &sv)) /* a signed dtype's hi fits */
            return false;
        switch (to) {
        case MW_INT8:
            ((int8_t *)dst)[idx] = (int8_t)sv;
            break;
        case MW_INT16:
            ((int16_t *)dst)[idx] = (int16_t)sv;
            break;
        case MW_INT32:
            ((int32_t *)dst)[idx] = (int32_t)sv;
            break;
        default:
            ((int64_t *)dst)[idx] = sv;
            break;
        }
        return true;
    }
    if (is_uint(to)) {
        if (!num_as_uint(n, hi, &uv))
            return false;
        switch (to) {
        case MW_UINT8:
            ((uint8_t *)dst)[idx] = (uint8_t)uv;
            break;
        case MW_UINT16:
            ((uint16_t *)dst)[idx] = (uint16_t)uv;
            break;
        case MW_UINT32:
            ((uint32_t *)dst)[idx] = (uint32_t)uv;
            break;
        default:
            ((uint64_t *)dst)[idx] = uv;
            break;
        }
        return true;
    }
    if (!num_as_double(n, &d))
        return false;
    switch (to) {
    case MW_FP64:
        ((double *)dst)[idx] = d;
        return true;
    case MW_FP32:
        f = (float)d;
        if (!isfinite(f) || (double)f != d)
            return false;
        ((float *)dst)[idx] = f;
        return true;
    case MW_FP16:
        if (!dtype_fp16_from_double(d, &h))
            return false;
        ((uint16_t *)dst)[idx] = h;
        return true;
    case MW_BF16:
        if (!dtype_bf16_from_double(d, &h))
            return false;
        ((uint16_t *)dst)[idx] = h;
        return true;
    default:
        return false;
    }
}

/* The value of a JSON number for a message. */
static const char *num_text(char out[NUM_CAP], const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, NUM_CAP, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        dtype_format_float(out, json_number_value(v), false);
    return out;
}

/* ---- decoding -------------------------------------------------------------------------------- */

/* Where the decoder is, for messages: inputs[k] and the element being read. */
struct ictx {
    struct model_call *c;
    size_t k;                        /* position in the request's "inputs" */
    const struct mw_tensor_spec *spec;
    int from;                        /* the request's datatype */
    int to;                          /* the model's */
    void *data;                      /* the destination tensor's data */
    size_t count, n;                 /* elements expected, elements read */
    struct mw_error *e;
};

/* One JSON element into the destination. */
static int put_elem(struct ictx *x, const json_t *v)
{
    char num[NUM_CAP];
    struct num n = {0};
    int64_t lo;
    uint64_t hi;
    double d;
    float f;
    size_t idx = x->n;
    int rc = 0;

    if (x->from == MW_BOOL) {
        if (!json_is_boolean(v)) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data[%zu]: expected a boolean (BOOL), got %s",
                         x->k, idx, mw_json_type_desc(v));
            goto out;
        }
        ((uint8_t *)x->data)[idx] = json_is_true(v) ? 1 : 0;
        goto out;
    }
    if (x->from == MW_BYTES) {
        struct mw_bytes *b = &((struct mw_bytes *)x->data)[idx];
        size_t len;
        char *copy;
        if (!json_is_string(v)) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data[%zu]: expected a string (BYTES), got %s",
                         x->k, idx, mw_json_type_desc(v));
            goto out;
        }
        len = json_string_length(v);
        copy = arena_alloc(&x->c->arena, len > 0 ? len : 1);
        if (copy == NULL) {
            rc = mw_fail(x->e, MWE_NOMEM, "inputs[%zu].data[%zu]: out of memory", x->k, idx);
            goto out;
        }
        memcpy(copy, json_string_value(v), len);
        b->ptr = (const uint8_t *)copy;
        b->len = len;
        goto out;
    }
    dtype_int_range(x->from, &lo, &hi);
    if (is_sint(x->from) || is_uint(x->from)) {
        if (!json_is_integer(v)) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST,
                         "inputs[%zu].data[%zu]: expected an integer (%s), got %s", x->k, idx,
                         dtype_name(x->from),
                         json_is_real(v) ? num_text(num, v) : mw_json_type_desc(v));
            goto out;
        }
        n.kind = NUM_I;
        n.i = json_integer_value(v);
        if ((is_sint(x->from) && (n.i < lo || n.i > (int64_t)hi)) ||
            (is_uint(x->from) && (n.i < 0 || (uint64_t)n.i > hi))) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data[%zu]: %s is out of range for %s",
                         x->k, idx, num_text(num, v), dtype_name(x->from));
            goto out;
        }
    } else {
        if (!json_is_number(v)) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data[%zu]: expected a number (%s), got %s",
                         x->k, idx, dtype_name(x->from), mw_json_type_desc(v));
            goto out;
        }
        d = json_number_value(v);
        if (x->from == MW_FP32) {
            f = (float)d;
            if (!isfinite(f)) {
                rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data[%zu]: %s is out of range for FP32",
                             x->k, idx, num_text(num, v));
                goto out;
            }
            d = (double)f;
        }
        n.kind = NUM_F;
        n.d = d;
    }
    if (!store_num(&n, x->to, x->data, idx))
        rc = mw_fail(x->e, MWE_BAD_REQUEST,
                     "inputs[%zu].data[%zu]: %s is not exactly representable as the model's %s "
                     "(input '%s')",
                     x->k, idx, num_text(num, v), dtype_name(x->to), x->spec->name);
out:
    return rc;
}

/* Walks data (nested arrays of any depth up to MW_MAX_DIMS, row-major) into the destination. */
static int walk(struct ictx *x, const json_t *arr, int depth)
{
    const json_t *v;
    size_t i;
    int rc = 0;

    if (depth > MW_MAX_DIMS) {
        rc = mw_fail(x->e, MWE_BAD_REQUEST, "inputs[%zu].data: nested more than %d levels deep",
                     x->k, MW_MAX_DIMS);
        goto out;
    }
    json_array_foreach(arr, i, v) {
        if (json_is_array(v)) {
            rc = walk(x, v, depth + 1);
            if (rc != 0)
                goto out;
            continue;
        }
        if (x->n >= x->count) {
            rc = mw_fail(x->e, MWE_BAD_REQUEST,
                         "inputs[%zu].data: more than the %zu elements its shape holds", x->k,
                         x->count);
            goto out;
        }
        rc = put_elem(x, v);
        if (rc != 0)
            goto out;
        x->n++;
    }
out:
    return rc;
}

/* "[1][0]": the index path idx[0..depth) of a nested data entry. */
static const char *path_text(char out[SHAPE_CAP], const size_t *idx, int depth)
{
    size_t used = 0;

    out[0] = '\0';
    for (int d = 0; d < depth && used < SHAPE_CAP - 1; d++)
        used += (size_t)snprintf(out + used, SHAPE_CAP - used, "[%zu]", idx[d]);
    return out;
}

/* The nested form from dimension d down: arr holds exactly t->shape[d] entries, arrays above the
 * last dimension and scalars at it. idx[0..d) is arr's place, for the messages. */
static int check_nested(size_t k, const json_t *arr, const struct mw_tensor *t, int32_t d,
                        size_t *idx, struct mw_error *e)
{
    char pt[SHAPE_CAP], st[SHAPE_CAP];
    const json_t *v;
    size_t i;
    int rc = 0;

    if (json_array_size(arr) != (uint64_t)t->shape[d]) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].data%s: %zu entries, but dimension %d of shape %s is %lld "
                     "(nested data must follow the shape exactly; or send it flat)",
                     k, path_text(pt, idx, (int)d), json_array_size(arr), (int)d,
                     shape_text(st, t->shape, t->ndim), (long long)t->shape[d]);
        goto out;
    }
    json_array_foreach(arr, i, v) {
        idx[d] = i;
        if (d + 1 < t->ndim) {
            if (!json_is_array(v)) {
                rc = mw_fail(e, MWE_BAD_REQUEST,
                             "inputs[%zu].data%s: expected an array (dimension %d of shape %s), "
                             "got %s: ragged data",
                             k, path_text(pt, idx, (int)d + 1), (int)d + 1,
                             shape_text(st, t->shape, t->ndim), mw_json_type_desc(v));
                goto out;
            }
            rc = check_nested(k, v, t, d + 1, idx, e);
            if (rc != 0)
                goto out;
        } else if (json_is_array(v)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].data%s: nested deeper than the %d dimensions of shape %s", k,
                         path_text(pt, idx, (int)d + 1), (int)t->ndim,
                         shape_text(st, t->shape, t->ndim));
            goto out;
        }
    }
out:
    return rc;
}

/*
 * Checks, before anything proportional to the shape is allocated, that "data" carries exactly
 * the count elements of t's shape in one of the two forms the protocol allows: flat (count
 * scalars) or nested exactly as the shape. Ragged or over-nested data is refused even when its
 * flattened count matches. Allocates nothing; costs one pass over JSON the body already carries.
 */
static int check_data_form(size_t k, const json_t *data, const struct mw_tensor *t, size_t count,
                           struct mw_error *e)
{
    char st[SHAPE_CAP];
    size_t idx[MW_MAX_DIMS] = {0};
    const json_t *v;
    size_t i;
    int rc = 0;

    if (t->ndim >= 2 && json_array_size(data) > 0 && json_is_array(json_array_get(data, 0))) {
        rc = check_nested(k, data, t, 0, idx, e);
        goto out;
    }
    json_array_foreach(data, i, v) {
        if (json_is_array(v)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].data[%zu]: an array inside flat data (ragged or "
                         "over-nested data is refused: send it flat, or nested exactly as "
                         "shape %s)",
                         k, i, shape_text(st, t->shape, t->ndim));
            goto out;
        }
    }
    if (json_array_size(data) != count)
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].data: %zu elements, but shape %s holds %zu",
                     k, json_array_size(data), shape_text(st, t->shape, t->ndim), count);
out:
    return rc;
}

/* A "parameters" value must be a string, a number or a boolean (the protocol's $parameter). */
static int check_params(const json_t *params, const char *where, struct mw_error *e)
{
    char kb[MW_CLIP_CAP];
    const char *key;
    const json_t *v;
    int rc = 0;

    if (params == NULL)
        goto out;
    if (!json_is_object(params)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "%s: expected an object, got %s", where,
                     mw_json_type_desc(params));
        goto out;
    }
    json_object_foreach((json_t *)params, key, v) {
        if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "%s.%s: expected a string, number or boolean, got %s",
                         where, mw_clip(kb, key, strlen(key)), mw_json_type_desc(v));
            goto out;
        }
    }
out:
    return rc;
}

/* Whether the request's datatype `from` may feed the model's `to` (JSON data or binary). */
static bool convertible(int from, int to, bool binary)
{
    if (binary)
        return dtype_lossless(from, to);
    if (from == MW_FP16 || from == MW_BF16)
        return false;
    return from == to || (dtype_is_number(from) && dtype_is_number(to));
}

/* "FP32, FP16, BF16": what a request may declare for a model dtype. */
static const char *accepted_for(char out[LIST_CAP], int to, bool binary)
{
    size_t used = 0;

    out[0] = '\0';
    for (int t = MW_BOOL; t <= MW_BF16; t++) {
        if (t == to || (t != to && convertible(t, to, binary)))
            used += (size_t)snprintf(out + used, LIST_CAP - used, "%s%s", used ? ", " : "",
                                     dtype_name(t));
        if (used >= LIST_CAP - 1)
            break;
    }
    return out;
}

/* Checks inputs[k].shape against spec; fills t's shape and *count (no overflow). */
static int decode_shape(struct model_call *c, size_t k, const json_t *shape,
                        const struct mw_tensor_spec *spec, unsigned max_batch, struct mw_tensor *t,
                        size_t *count, struct mw_error *e)
{
    char st[SHAPE_CAP];
    bool batch = (c->model->flags & MW_FLAG_BATCH) != 0;
    size_t n = 1;
    json_int_t dim;
    int rc = 0;

    if (!json_is_array(shape)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].shape: expected an array of integers, got %s",
                     k, shape != NULL ? mw_json_type_desc(shape) : "nothing");
        goto out;
    }
    if (json_array_size(shape) != (size_t)spec->ndim) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].shape: %zu dimensions, but the model's input '%s' has %d: %s", k,
                     json_array_size(shape), spec->name, (int)spec->ndim,
                     shape_text(st, spec->shape, spec->ndim));
        goto out;
    }
    t->ndim = spec->ndim;
    for (int32_t d = 0; d < spec->ndim; d++) {
        const json_t *v = json_array_get(shape, (size_t)d);
        dim = json_is_integer(v) ? json_integer_value(v) : -1;
        if (dim < 0) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].shape[%d]: expected a non-negative integer", k, (int)d);
            goto out;
        }
        if (spec->shape[d] != -1 && dim != spec->shape[d]) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].shape[%d]: expected %lld (the model's input '%s' is %s), "
                         "got %lld",
                         k, (int)d, (long long)spec->shape[d], spec->name,
                         shape_text(st, spec->shape, spec->ndim), (long long)dim);
            goto out;
        }
        if (batch && d == 0 && (dim < 1 || (uint64_t)dim > max_batch)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].shape[0]: a batch of %lld; the model takes 1 to %u", k,
                         (long long)dim, max_batch);
            goto out;
        }
        if (dim > 0 && n > SIZE_MAX / 16 / (uint64_t)dim) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].shape: too many elements", k);
            goto out;
        }
        n *= (size_t)dim;
        t->shape[d] = dim;
    }
    *count = n;
out:
    return rc;
}

/* Finds a signature tensor by the len bytes at name. */
static size_t find_spec(const struct mw_tensor_spec *specs, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(specs[i].name) == len && memcmp(specs[i].name, name, len) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* One element of "inputs". *bin_pos advances over its binary data. */
static int decode_input(struct model_call *c, size_t k, const json_t *in, const uint8_t *bin,
                        size_t bin_len, size_t *bin_pos, unsigned max_batch, bool *given,
                        struct mw_error *e)
{
    const struct model_sig *sig = &c->model->sig;
    const json_t *name, *dt, *params, *bds, *data;
    const struct mw_tensor_spec *spec;
    char nb[MW_CLIP_CAP], list[LIST_CAP], where[48], st[SHAPE_CAP];
    struct ictx x = {0};
    struct mw_tensor *t;
    size_t idx, count = 0, esize, size = 0;
    json_int_t bsize;
    int from, rc = 0;

    if (!json_is_object(in)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu]: expected an object, got %s", k,
                     mw_json_type_desc(in));
        goto out;
    }
    name = json_object_get(in, "name");
    if (!json_is_string(name)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].name: expected a string", k);
        goto out;
    }
    idx = find_spec(sig->inputs, sig->n_inputs, json_string_value(name), json_string_length(name));
    if (idx == SIZE_MAX) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].name: the model has no input '%s' (its inputs: %s)",
                     k, mw_clip(nb, json_string_value(name), json_string_length(name)),
                     names_text(list, sig->inputs, sig->n_inputs));
        goto out;
    }
    spec = &sig->inputs[idx];
    if (given[idx]) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs[%zu].name: input '%s' is given twice", k,
                     spec->name);
        goto out;
    }
    given[idx] = true;
    t = &c->inputs[idx];

    params = json_object_get(in, "parameters");
    snprintf(where, sizeof(where), "inputs[%zu].parameters", k);
    rc = check_params(params, where, e);
    if (rc != 0)
        goto out;
    bds = json_object_get(params, "binary_data_size");
    if (bds != NULL && (!json_is_integer(bds) || json_integer_value(bds) < 0)) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].parameters.binary_data_size: expected a non-negative integer", k);
        goto out;
    }

    dt = json_object_get(in, "datatype");
    from = json_is_string(dt) ? dtype_parse(json_string_value(dt), json_string_length(dt))
                              : MW_DTYPE_INVALID;
    if (from == MW_DTYPE_INVALID) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].datatype: %s%s%s (accepted: BOOL, UINT8, UINT16, UINT32, UINT64, "
                     "INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES)",
                     k, json_is_string(dt) ? "unknown datatype '" : "expected a string",
                     json_is_string(dt) ? mw_clip(nb, json_string_value(dt), json_string_length(dt))
                                        : "",
                     json_is_string(dt) ? "'" : "");
        goto out;
    }
    if (bds == NULL && (from == MW_FP16 || from == MW_BF16)) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].datatype: %s data cannot be sent as JSON: send it as binary data "
                     "(parameters.binary_data_size, the binary tensor data extension)",
                     k, dtype_name(from));
        goto out;
    }
    if (!convertible(from, spec->dtype, bds != NULL)) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].datatype: %s cannot be converted to the model's %s for input '%s' "
                     "(accepted%s: %s)",
                     k, dtype_name(from), dtype_name(spec->dtype), spec->name,
                     bds != NULL ? " as binary data" : "",
                     accepted_for(list, spec->dtype, bds != NULL));
        goto out;
    }
    rc = decode_shape(c, k, json_object_get(in, "shape"), spec, max_batch, t, &count, e);
    if (rc != 0)
        goto out;

    /* The data is checked against the shape before the tensor is allocated: a shape alone, however
     * large, costs nothing (decoding budget, docs/security.md). */
    data = json_object_get(in, "data");
    if (bds != NULL) {
        bsize = json_integer_value(bds);
        if (data != NULL) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu]: has both \"data\" and parameters.binary_data_size", k);
            goto out;
        }
        if ((uint64_t)bsize > bin_len - *bin_pos) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].parameters.binary_data_size: %lld bytes, but only %zu bytes "
                         "of binary data are left in the body",
                         k, (long long)bsize, bin_len - *bin_pos);
            goto out;
        }
        size = (size_t)bsize;
        if (from == MW_BYTES && count > size / 4) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].parameters.binary_data_size: %zu bytes cannot hold the %zu "
                         "BYTES elements of shape %s (4 bytes of length each at least)",
                         k, size, count, shape_text(st, t->shape, t->ndim));
            goto out;
        }
        if (from != MW_BYTES && size != count * dtype_size(from)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].parameters.binary_data_size: %zu bytes, but %zu %s "
                         "elements take %zu",
                         k, size, count, dtype_name(from), count * dtype_size(from));
            goto out;
        }
    } else {
        if (!json_is_array(data)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs[%zu].data: expected an array (or parameters.binary_data_size for "
                         "binary data), got %s",
                         k, data != NULL ? mw_json_type_desc(data) : "nothing");
            goto out;
        }
        rc = check_data_form(k, data, t, count, e);
        if (rc != 0)
            goto out;
    }

    esize = dtype_size(spec->dtype);
    t->data = arena_calloc(&c->arena, count > 0 ? count : 1, esize);
    if (t->data == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "inputs[%zu]: out of memory for %zu elements", k, count);
        goto out;
    }
    if (bds != NULL) {
        if (from == MW_BYTES) {
            snprintf(where, sizeof(where), "inputs[%zu]", k);
            rc = binary_read_bytes(bin + *bin_pos, size, count, t->data, &c->arena, where, e);
            if (rc != 0)
                goto out;
        } else {
            binary_convert(bin + *bin_pos, from, t->data, spec->dtype, count);
        }
        *bin_pos += size;
        goto out;
    }
    x.c = c;
    x.k = k;
    x.spec = spec;
    x.from = from;
    x.to = spec->dtype;
    x.data = t->data;
    x.count = count;
    x.e = e;
    rc = walk(&x, data, 1);
    if (rc == 0 && x.n != count)
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "inputs[%zu].data: %zu elements, but shape %s holds %zu", k, x.n,
                     shape_text(st, t->shape, t->ndim), count);
out:
    return rc;
}

/* Copies the len bytes at s into meta as a NUL-terminated string. */
static const char *meta_dup(struct arena *meta, const char *s, size_t len)
{
    char *p = arena_alloc(meta, len + 1);

    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return buf_append(data, buffer, size) == 0 ? 0 : -1;
}

/* The request's "parameters": checked; binary_data_output read; the rest kept for the echo. */
static int decode_params(const json_t *root, struct arena *meta, bool *binary_output,
                         struct v2_request *req, struct mw_error *e)
{
    const json_t *params = json_object_get(root, "parameters"), *bo;
    json_t *echo = NULL;
    struct buf b;
    int rc;

    *binary_output = false;
    buf_init(&b, PARAMS_MAX);
    rc = check_params(params, "parameters", e);
    if (rc != 0 || params == NULL)
        goto out;
    bo = json_object_get(params, "binary_data_output");
    if (bo != NULL && !json_is_boolean(bo)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "parameters.binary_data_output: expected a boolean");
        goto out;
    }
    *binary_output = json_is_true(bo);
    echo = json_copy((json_t *)params);
    if (echo == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "parameters: out of memory");
        goto out;
    }
    json_object_del(echo, "binary_data_output");
    if (json_object_size(echo) == 0)
        goto out;
    if (json_dump_callback(echo, dump_cb, &b, JSON_COMPACT) != 0) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "parameters: larger than %d bytes", PARAMS_MAX);
        goto out;
    }
    req->parameters = meta_dup(meta, b.ptr, b.len);
    if (req->parameters == NULL)
        rc = mw_fail(e, MWE_NOMEM, "parameters: out of memory");
out:
    json_decref(echo);
    buf_fini(&b);
    return rc;
}

/* A requested output that JSON cannot carry (FP16/BF16) is an error before the model runs. */
static int check_json_output(const struct mw_tensor_spec *spec, bool binary, const char *where,
                             struct mw_error *e)
{
    if (binary || (spec->dtype != MW_FP16 && spec->dtype != MW_BF16))
        return 0;
    return mw_fail(e, MWE_BAD_REQUEST,
                   "%s: output '%s' is %s, which JSON cannot carry: ask for it as binary data "
                   "(\"parameters\": {\"binary_data\": true} on the output, or "
                   "\"binary_data_output\": true on the request)",
                   where, spec->name, dtype_name(spec->dtype));
}

/* The response's outputs: the requested ones (in request order) or all of them. */
static int decode_outputs(struct model_call *c, const json_t *root, struct arena *meta,
                          bool binary_output, struct v2_request *req, struct mw_error *e)
{
    const struct model_sig *sig = &c->model->sig;
    const json_t *outs = json_object_get(root, "outputs"), *o, *name, *params, *bd;
    char nb[MW_CLIP_CAP], list[LIST_CAP], where[48];
    bool *seen = NULL;
    size_t n, idx;
    int rc = 0;

    if (outs != NULL && !json_is_array(outs)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "outputs: expected an array, got %s",
                     mw_json_type_desc(outs));
        goto out;
    }
    n = outs != NULL && json_array_size(outs) > 0 ? json_array_size(outs) : sig->n_outputs;
    if (n > sig->n_outputs) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "outputs: %zu requested, but the model has %zu outputs",
                     n, sig->n_outputs);
        goto out;
    }
    req->outputs = arena_calloc(meta, n, sizeof(*req->outputs));
    seen = arena_calloc(meta, sig->n_outputs, sizeof(*seen));
    if (req->outputs == NULL || seen == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "outputs: out of memory");
        goto out;
    }
    if (outs == NULL || json_array_size(outs) == 0) {
        for (size_t i = 0; i < n; i++) {
            req->outputs[i].index = i;
            req->outputs[i].binary = binary_output;
            rc = check_json_output(&sig->outputs[i], binary_output, "outputs", e);
            if (rc != 0)
                goto out;
        }
        req->n_outputs = n;
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        o = json_array_get(outs, k);
        name = json_object_get(o, "name");
        if (!json_is_object(o) || !json_is_string(name)) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "outputs[%zu]: expected an object with a \"name\"", k);
            goto out;
        }
        idx = find_spec(sig->outputs, sig->n_outputs, json_string_value(name),
                        json_string_length(name));
        if (idx == SIZE_MAX) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "outputs[%zu].name: the model has no output '%s' (its outputs: %s)", k,
                         mw_clip(nb, json_string_value(name), json_string_length(name)),
                         names_text(list, sig->outputs, sig->n_outputs));
            goto out;
        }
        if (seen[idx]) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "outputs[%zu].name: output '%s' is requested twice",
                         k, sig->outputs[idx].name);
            goto out;
        }
        seen[idx] = true;
        params = json_object_get(o, "parameters");
        snprintf(where, sizeof(where), "outputs[%zu].parameters", k);
        rc = check_params(params, where, e);
        if (rc != 0)
            goto out;
        if (json_object_get(params, "classification") != NULL) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "outputs[%zu].parameters.classification: the classification extension is "
                         "not supported",
                         k);
            goto out;
        }
        bd = json_object_get(params, "binary_data");
        if (bd != NULL && !json_is_boolean(bd)) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "outputs[%zu].parameters.binary_data: expected a boolean", k);
            goto out;
        }
        req->outputs[k].index = idx;
        req->outputs[k].binary = bd != NULL ? json_is_true(bd) : binary_output;
        snprintf(where, sizeof(where), "outputs[%zu]", k);
        rc = check_json_output(&sig->outputs[idx], req->outputs[k].binary, where, e);
        if (rc != 0)
            goto out;
        req->n_outputs++;
    }
out:
    return rc;
}

/* The batch dimension is shared by every input of a batching model. */
static int check_batch(const struct model_call *c, struct mw_error *e)
{
    int rc = 0;

    if ((c->model->flags & MW_FLAG_BATCH) == 0)
        goto out;
    for (size_t i = 1; i < c->n_inputs; i++) {
        if (c->inputs[i].shape[0] != c->inputs[0].shape[0]) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "inputs: input '%s' has a batch of %lld but input '%s' has %lld: the "
                         "model batches every input alike",
                         c->inputs[i].name, (long long)c->inputs[i].shape[0], c->inputs[0].name,
                         (long long)c->inputs[0].shape[0]);
            goto out;
        }
    }
out:
    return rc;
}

/*
 * See model.h. Thread: the request's, before c is submitted. Ownership: json and bin are
 * borrowed (everything kept is copied into c's arena or meta).
 */
int tensor_decode_request(struct model_call *c, struct arena *meta, const char *json,
                          size_t json_len, const uint8_t *bin, size_t bin_len, unsigned max_batch,
                          struct v2_request *req, struct mw_error *e)
{
    const struct model_sig *sig = &c->model->sig;
    const json_t *id, *inputs;
    json_error_t jerr;
    json_t *root;
    bool *given = NULL, binary_output = false;
    size_t bin_pos = 0;
    int rc = 0;

    memset(req, 0, sizeof(*req));
    root = json_loadb(json != NULL ? json : "", json_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                      &jerr);
    if (root == NULL) {
        sanitize(jerr.text);
        rc = mw_fail(e, MWE_INVALID_JSON, "Invalid JSON at line %d, column %d: %s", jerr.line,
                     jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "The inference request must be a JSON object, not %s.",
                     mw_json_type_desc(root));
        goto out;
    }
    id = json_object_get(root, "id");
    if (id != NULL) {
        if (!json_is_string(id)) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "id: expected a string, got %s",
                         mw_json_type_desc(id));
            goto out;
        }
        req->id = meta_dup(meta, json_string_value(id), json_string_length(id));
        req->id_len = json_string_length(id);
        req->has_id = true;
        if (req->id == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "id: out of memory");
            goto out;
        }
    }
    rc = decode_params(root, meta, &binary_output, req, e);
    if (rc != 0)
        goto out;
    inputs = json_object_get(root, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "inputs: expected a non-empty array, got %s",
                     inputs != NULL ? mw_json_type_desc(inputs) : "nothing");
        goto out;
    }
    given = arena_calloc(meta, sig->n_inputs, sizeof(*given));
    if (given == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "inputs: out of memory");
        goto out;
    }
    for (size_t k = 0; k < json_array_size(inputs); k++) {
        if (k >= sig->n_inputs) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "inputs: %zu inputs given, but the model has %zu",
                         json_array_size(inputs), sig->n_inputs);
            goto out;
        }
        rc = decode_input(c, k, json_array_get(inputs, k), bin, bin_len, &bin_pos, max_batch,
                          given, e);
        if (rc != 0)
            goto out;
    }
    for (size_t i = 0; i < sig->n_inputs; i++) {
        if (!given[i]) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "inputs: the model's input '%s' is missing",
                         sig->inputs[i].name);
            goto out;
        }
    }
    if (bin_pos != bin_len) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "The body has %zu bytes of binary data after the JSON header, but the inputs' "
                     "binary_data_size add up to %zu",
                     bin_len, bin_pos);
        goto out;
    }
    rc = check_batch(c, e);
    if (rc == 0)
        rc = decode_outputs(c, root, meta, binary_output, req, e);
out:
    json_decref(root);
    return rc;
}

/* See model.h. Thread: the request's, before c is submitted; body is borrowed. */
int tensor_decode_raw(struct model_call *c, struct arena *meta, const uint8_t *body, size_t len,
                      struct v2_request *req, struct mw_error *e)
{
    const struct model_sig *sig = &c->model->sig;
    const struct mw_tensor_spec *spec;
    char st[SHAPE_CAP];
    struct mw_tensor *t;
    int32_t var = -1;
    size_t fixed = 1, esize, count;
    bool batch = (c->model->flags & MW_FLAG_BATCH) != 0;
    int rc = 0;

    memset(req, 0, sizeof(*req));
    if (sig->n_inputs != 1) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "Inference-Header-Content-Length: 0 (raw binary data) needs a model with one "
                     "input; '%s' has %zu",
                     c->model->name, sig->n_inputs);
        goto out;
    }
    spec = &sig->inputs[0];
    t = &c->inputs[0];
    t->ndim = spec->ndim;
    for (int32_t d = 0; d < spec->ndim; d++) {
        t->shape[d] = spec->shape[d];
        if (batch && d == 0) {
            t->shape[0] = 1;
            continue;
        }
        if (spec->shape[d] == -1) {
            if (var >= 0 || spec->dtype == MW_BYTES) {
                if (spec->dtype == MW_BYTES) {
                    t->shape[d] = 1;
                    continue;
                }
                rc = mw_fail(e, MWE_BAD_REQUEST,
                             "raw binary data: the input '%s' is %s, more than one variable "
                             "dimension to deduce from the body's size",
                             spec->name, shape_text(st, spec->shape, spec->ndim));
                goto out;
            }
            var = d;
            continue;
        }
        if ((uint64_t)spec->shape[d] > SIZE_MAX / 16 / fixed) {
            rc = mw_fail(e, MWE_BAD_REQUEST, "raw binary data: the input's shape is too large");
            goto out;
        }
        fixed *= (size_t)spec->shape[d];
    }
    if (spec->dtype == MW_BYTES) {
        struct mw_bytes *b;
        uint8_t *copy;
        if (fixed != 1) {
            rc = mw_fail(e, MWE_BAD_REQUEST,
                         "raw binary data: a BYTES input must hold one element, but '%s' is %s",
                         spec->name, shape_text(st, spec->shape, spec->ndim));
            goto out;
        }
        b = arena_calloc(&c->arena, 1, sizeof(*b));
        copy = arena_alloc(&c->arena, len > 0 ? len : 1);
        if (b == NULL || copy == NULL) {
            rc = mw_fail(e, MWE_NOMEM, "raw binary data: out of memory");
            goto out;
        }
        if (len > 0)
            memcpy(copy, body, len);
        b->ptr = copy;
        b->len = len;
        t->data = b;
        goto out_outputs;
    }
    esize = dtype_size(spec->dtype);
    if (len % (fixed * esize) != 0 || (var < 0 && len != fixed * esize)) {
        rc = mw_fail(e, MWE_BAD_REQUEST,
                     "raw binary data: %zu bytes do not make the input '%s' (%s %s, %zu bytes per "
                     "%s)",
                     len, spec->name, dtype_name(spec->dtype),
                     shape_text(st, spec->shape, spec->ndim), fixed * esize,
                     var < 0 ? "request" : "step of the variable dimension");
        goto out;
    }
    count = len / esize;
    if (var >= 0)
        t->shape[var] = (int64_t)(len / (fixed * esize));
    t->data = arena_calloc(&c->arena, count > 0 ? count : 1, esize);
    if (t->data == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "raw binary data: out of memory");
        goto out;
    }
    binary_convert(body, spec->dtype, t->data, spec->dtype, count);
out_outputs:
    req->outputs = arena_calloc(meta, sig->n_outputs, sizeof(*req->outputs));
    if (req->outputs == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "raw binary data: out of memory");
        goto out;
    }
    for (size_t i = 0; i < sig->n_outputs; i++) {
        req->outputs[i].index = i;
        req->outputs[i].binary = true;
    }
    req->n_outputs = sig->n_outputs;
out:
    return rc;
}

/* ---- encoding -------------------------------------------------------------------------------- */

static int put_lit(struct buf *out, const char *s)
{
    return buf_append(out, s, strlen(s));
}

static int put_str(struct buf *out, const char *s, size_t len)
{
    int rc = buf_append(out, "\"", 1);

    if (rc == 0)
        rc = buf_append_json_escaped(out, s, len);
    if (rc == 0)
        rc = buf_append(out, "\"", 1);
    return rc;
}

/* Appends element i of t as a JSON value. */
static int put_value(struct buf *out, const struct mw_tensor *t, size_t i, struct mw_error *e)
{
    char num[DTYPE_NUM_CAP];
    const struct mw_bytes *b;

    if (t->dtype != MW_BYTES)
        return dtype_format_number(num, t->dtype, t->data, i) ? put_lit(out, num)
                                                               : MWE_MODEL_FAILED;
    b = &((const struct mw_bytes *)t->data)[i];
    if (b->ptr == NULL && b->len > 0)
        return MWE_MODEL_FAILED;
    if (!mw_utf8_valid(b->ptr, b->len))
        return mw_fail(e, MWE_BAD_REQUEST,
                       "Output '%s' holds bytes that are not UTF-8 text, which JSON cannot "
                       "carry: ask for it as binary data (\"parameters\": {\"binary_data\": "
                       "true})",
                       t->name);
    return put_str(out, (const char *)b->ptr, b->len);
}

/* Elements of an output tensor; SIZE_MAX when its shape is unusable. */
static size_t out_count(const struct mw_tensor *t)
{
    size_t n = 1;

    if (t->ndim < 1 || t->ndim > MW_MAX_DIMS)
        return SIZE_MAX;
    for (int32_t d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || (t->shape[d] > 0 && n > SIZE_MAX / 16 / (uint64_t)t->shape[d]))
            return SIZE_MAX;
        n *= (size_t)t->shape[d];
    }
    if (n > 0 && t->data == NULL)
        return SIZE_MAX;
    return n;
}

static int encode(const struct model_call *c, const struct v2_request *req, struct buf *out,
                  size_t *header_len, bool *binary, struct mw_error *e)
{
    const struct model *m = c->model;
    size_t start = out->len, count, size;
    bool any_binary = false;
    int rc;

    rc = put_lit(out, "{\"model_name\":");
    if (rc == 0)
        rc = put_str(out, m->name, strlen(m->name));
    if (rc == 0)
        rc = put_lit(out, ",\"model_version\":");
    if (rc == 0)
        rc = put_str(out, m->version, strlen(m->version));
    if (rc == 0 && req->has_id) {
        rc = put_lit(out, ",\"id\":");
        if (rc == 0)
            rc = put_str(out, req->id, req->id_len);
    }
    if (rc == 0 && req->parameters != NULL) {
        rc = put_lit(out, ",\"parameters\":");
        if (rc == 0)
            rc = put_lit(out, req->parameters);
    }
    if (rc == 0)
        rc = put_lit(out, ",\"outputs\":[");
    for (size_t k = 0; rc == 0 && k < req->n_outputs; k++) {
        const struct mw_tensor *t;
        if (req->outputs[k].index >= c->n_outputs) {
            rc = MWE_MODEL_FAILED;
            break;
        }
        t = &c->outputs[req->outputs[k].index];
        count = out_count(t);
        if (count == SIZE_MAX || t->name == NULL) {
            rc = MWE_MODEL_FAILED;
            break;
        }
        rc = put_lit(out, k ? ",{\"name\":" : "{\"name\":");
        if (rc == 0)
            rc = put_str(out, t->name, strlen(t->name));
        if (rc == 0)
            rc = buf_appendf(out, ",\"datatype\":\"%s\",\"shape\":[", dtype_name(t->dtype));
        for (int32_t d = 0; rc == 0 && d < t->ndim; d++)
            rc = buf_appendf(out, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        if (rc == 0)
            rc = put_lit(out, "]");
        if (rc == 0 && req->outputs[k].binary) {
            size = binary_size(t, count);
            if (size == SIZE_MAX) {
                rc = MWE_MODEL_FAILED;
                break;
            }
            rc = buf_appendf(out, ",\"parameters\":{\"binary_data_size\":%zu}}", size);
            any_binary = true;
            continue;
        }
        if (rc == 0)
            rc = put_lit(out, ",\"data\":[");
        for (size_t i = 0; rc == 0 && i < count; i++) {
            if (i > 0)
                rc = buf_append(out, ",", 1);
            if (rc == 0)
                rc = put_value(out, t, i, e);
        }
        if (rc == 0)
            rc = put_lit(out, "]}");
    }
    if (rc == 0)
        rc = put_lit(out, "]}");
    if (rc != 0)
        goto out;
    *header_len = out->len - start;
    for (size_t k = 0; rc == 0 && k < req->n_outputs; k++) {
        const struct mw_tensor *t = &c->outputs[req->outputs[k].index];
        if (req->outputs[k].binary)
            rc = binary_write(out, t, out_count(t));
    }
    *binary = any_binary;
out:
    return rc;
}

/*
 * See model.h. Thread: any holding a reference to c, after it completed with status 0. On error
 * out is rolled back and, except for MWE_BAD_REQUEST, e holds a generic message.
 */
int tensor_encode_response(const struct model_call *c, const struct v2_request *req,
                           struct buf *out, size_t *header_len, bool *binary, struct mw_error *e)
{
    size_t start = out->len;
    int rc;

    *header_len = 0;
    *binary = false;
    rc = encode(c, req, out, header_len, binary, e);
    if (rc != 0) {
        if (rc == MWE_MODEL_FAILED)
            mw_fail(e, rc, "The model's outputs do not match its signature.");
        else if (rc != MWE_BAD_REQUEST)
            mw_fail(e, rc, "The response is too large.");
        if (out->ptr != NULL) {
            out->len = start;
            out->ptr[start] = '\0';
        }
    }
    return rc;
}
