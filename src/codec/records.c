/*
 * records.c: the records codec of the native API. Decodes {"data":[{...}, ...]} into a call's input
 * tensors against the model's signature, and encodes a completed call's output tensors as
 * {"model":..., "model_version":..., "predictions":[{...}, ...]}.
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

/* Room for a JSON number quoted in an error message. */
#define NUM_CAP 40

/* ---- helpers ------------------------------------------------------------------------------- */

/* mw_clip for a NUL-terminated string (a member name from the signature or the body). */
static const char *clip_str(char dst[MW_CLIP_CAP], const char *s)
{
    return mw_clip(dst, s, s ? strlen(s) : 0);
}

/* The value of a JSON number for an error message ("300", "1.5"). */
static void fmt_json_number(char out[NUM_CAP], const json_t *v)
{
    if (json_is_integer(v))
        snprintf(out, NUM_CAP, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        dtype_format_float(out, json_real_value(v), false);
}

/* FP16 and BF16 are numbers (dtype_is_number) that the codec writes as JSON numbers but does not
 * read: it has no rounding conversion to them (the V2 codec takes only values they hold exactly,
 * docs/v2.md), so a model with such inputs is served by the Open Inference Protocol. */
static bool is_half(int dtype)
{
    return dtype == MW_FP16 || dtype == MW_BF16;
}

/* The element dtypes put_value reads from JSON. */
static bool readable(int dtype)
{
    return (dtype_is_number(dtype) && !is_half(dtype)) || dtype == MW_BOOL || dtype == MW_BYTES;
}

/* See model.h. */
enum rec_kind records_kind(const struct model_sig *sig)
{
    const struct mw_tensor_spec *s;
    size_t i;

    if (sig->n_inputs == 0 || sig->inputs == NULL)
        return REC_NONE;
    s = &sig->inputs[0];
    if (sig->n_inputs == 1 && s->ndim == 2 && s->shape[0] == -1 && dtype_is_number(s->dtype) &&
        !is_half(s->dtype) &&
        s->n_names > 0 && s->names != NULL &&
        (s->shape[1] == -1 || (s->shape[1] > 0 && (uint64_t)s->shape[1] == s->n_names))) {
        for (i = 0; i < s->n_names; i++) {
            if (s->names[i] == NULL)
                return REC_NONE;
        }
        return REC_MATRIX;
    }
    for (i = 0; i < sig->n_inputs; i++) {
        s = &sig->inputs[i];
        if (s->ndim != 1 || s->shape[0] != -1 || !readable(s->dtype) || s->name == NULL)
            return REC_NONE;
    }
    return REC_COLUMNS;
}

/* ---- decoding ------------------------------------------------------------------------------ */

/* Fails with MWE_INVALID_INPUT and "data[row].member: <fmt...>". */
__attribute__((format(printf, 4, 5))) static int
fail_member(struct mw_error *e, size_t row, const char *member, const char *fmt, ...)
{
    char tail[192];
    char name[MW_CLIP_CAP];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tail, sizeof(tail), fmt, ap);
    va_end(ap);
    return mw_fail(e, MWE_INVALID_INPUT, "data[%zu].%s: %s", row, clip_str(name, member), tail);
}

/* Stores an in-range integer into element idx of an integer tensor. */
static void store_int(void *data, size_t idx, int dtype, int64_t sv, uint64_t uv)
{
    switch (dtype) {
    case MW_UINT8:
        ((uint8_t *)data)[idx] = (uint8_t)uv;
        break;
    case MW_UINT16:
        ((uint16_t *)data)[idx] = (uint16_t)uv;
        break;
    case MW_UINT32:
        ((uint32_t *)data)[idx] = (uint32_t)uv;
        break;
    case MW_UINT64:
        ((uint64_t *)data)[idx] = uv;
        break;
    case MW_INT8:
        ((int8_t *)data)[idx] = (int8_t)sv;
        break;
    case MW_INT16:
        ((int16_t *)data)[idx] = (int16_t)sv;
        break;
    case MW_INT32:
        ((int32_t *)data)[idx] = (int32_t)sv;
        break;
    case MW_INT64:
        ((int64_t *)data)[idx] = sv;
        break;
    default:
        break;
    }
}

/* Decodes v as an element of an integer dtype into data[idx]. */
static int put_int(void *data, size_t idx, int dtype, const json_t *v, size_t row,
                   const char *member, struct mw_error *e)
{
    int64_t lo;
    uint64_t hi;
    int64_t sv = 0;
    uint64_t uv = 0;
    bool ok = false;
    char got[NUM_CAP];
    int rc = 0;

    if (!dtype_int_range(dtype, &lo, &hi)) {
        rc = mw_fail(e, MWE_INTERNAL, "data[%zu]: unsupported input type", row);
        goto out_done;
    }
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        ok = x < 0 ? (int64_t)x >= lo : (uint64_t)x <= hi;
        sv = (int64_t)x;
        uv = (uint64_t)sv;
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        /* (double)hi + 1.0 is exact for 8..32 bits and rounds to 2^63 / 2^64 for 64 bits, so
         * d < it is the exact upper bound for an integral d. */
        if (isfinite(d) && d == floor(d) && d >= (double)lo && d < (double)hi + 1.0) {
            ok = true;
            if (d < 0) {
                sv = (int64_t)d;
                uv = (uint64_t)sv;
            } else {
                uv = (uint64_t)d;
                sv = (int64_t)uv;
            }
        }
    } else {
        rc =
            fail_member(e, row, member, "expected an integer in [%" PRId64 ", %" PRIu64 "], got %s",
                        lo, hi, mw_json_type_desc(v));
        goto out_done;
    }
    if (!ok) {
        fmt_json_number(got, v);
        rc = fail_member(e, row, member,
                         "expected an integer in [%" PRId64 ", %" PRIu64 "], got %s", lo, hi, got);
        goto out_done;
    }
    store_int(data, idx, dtype, sv, uv);
out_done:
    return rc;
}

/* Decodes v as an element of an FP32 / FP64 tensor into data[idx]; JSON integers are accepted. */
static int put_float(void *data, size_t idx, int dtype, const json_t *v, size_t row,
                     const char *member, struct mw_error *e)
{
    char got[NUM_CAP];
    double d;
    int rc = 0;

    if (!json_is_number(v)) {
        rc = fail_member(e, row, member, "expected a number, got %s", mw_json_type_desc(v));
        goto out_done;
    }
    d = json_number_value(v);
    if (!isfinite(d)) {
        fmt_json_number(got, v);
        rc = fail_member(e, row, member, "expected a finite number, got %s", got);
        goto out_done;
    }
    if (dtype == MW_FP64) {
        ((double *)data)[idx] = d;
        goto out_done;
    }
    if (fabs(d) > (double)FLT_MAX) {
        fmt_json_number(got, v);
        rc = fail_member(e, row, member, "expected a number within FP32 range, got %s", got);
        goto out_done;
    }
    ((float *)data)[idx] = (float)d;
out_done:
    return rc;
}

/* Decodes v (a JSON string, may hold NUL bytes) as a BYTES element: a copy in arena a. */
static int put_bytes(struct mw_bytes *b, const json_t *v, struct arena *a, size_t row,
                     const char *member, struct mw_error *e)
{
    size_t len;
    uint8_t *copy;
    int rc = 0;

    if (!json_is_string(v)) {
        rc = fail_member(e, row, member, "expected a string, got %s", mw_json_type_desc(v));
        goto out_done;
    }
    len = json_string_length(v);
    copy = len < SIZE_MAX ? arena_alloc(a, len + 1) : NULL;
    if (copy == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "data[%zu]: out of memory", row);
        goto out_done;
    }
    memcpy(copy, json_string_value(v), len);
    copy[len] = 0;
    b->ptr = copy;
    b->len = len;
out_done:
    return rc;
}

/* Decodes v as element idx of a tensor of the given dtype. BYTES elements are copied into a. */
static int put_value(void *data, size_t idx, int dtype, const json_t *v, struct arena *a,
                     size_t row, const char *member, struct mw_error *e)
{
    int rc = 0;

    switch (dtype) {
    case MW_FP32:
    case MW_FP64:
        rc = put_float(data, idx, dtype, v, row, member, e);
        break;
    case MW_BOOL:
        if (json_is_boolean(v))
            ((uint8_t *)data)[idx] = json_is_true(v) ? 1 : 0;
        else
            rc = fail_member(e, row, member, "expected a boolean, got %s", mw_json_type_desc(v));
        break;
    case MW_BYTES:
        rc = put_bytes(&((struct mw_bytes *)data)[idx], v, a, row, member, e);
        break;
    default:
        rc = put_int(data, idx, dtype, v, row, member, e);
        break;
    }
    return rc;
}

/* True when the key of iterator it equals name. */
static bool key_is(void *it, const char *name)
{
    size_t len = json_object_iter_key_len(it);
    return len == strlen(name) && memcmp(json_object_iter_key(it), name, len) == 0;
}

/* Checks record row has exactly the members names[0..n) (or the inputs' names when names is
 * NULL): missing ones first, in signature order, then the first unknown one. */
static int check_members(const json_t *rec, size_t row, const struct model_sig *sig,
                         const char *const *names, size_t n, struct mw_error *e)
{
    char buf[MW_CLIP_CAP];
    size_t i, present = 0;
    void *it;
    int rc = 0;

    for (i = 0; i < n; i++) {
        const char *name = names ? names[i] : sig->inputs[i].name;
        if (json_object_get(rec, name) != NULL) {
            present++;
            continue;
        }
        if (names == NULL && sig->optional != NULL && sig->optional[i])
            continue;
        rc = mw_fail(e, MWE_INVALID_INPUT, "data[%zu]: missing member '%s'", row,
                     clip_str(buf, name));
        goto out_done;
    }
    if (json_object_size(rec) == present)
        goto out_done;
    for (it = json_object_iter((json_t *)rec); it != NULL;
         it = json_object_iter_next((json_t *)rec, it)) {
        bool known = false;
        for (i = 0; i < n && !known; i++)
            known = key_is(it, names ? names[i] : sig->inputs[i].name);
        if (!known) {
            rc = mw_fail(e, MWE_INVALID_INPUT, "data[%zu]: unknown member '%s'", row,
                         mw_clip(buf, json_object_iter_key(it), json_object_iter_key_len(it)));
            goto out_done;
        }
    }
out_done:
    return rc;
}

/* Sets t up as a fresh tensor of spec's name and dtype, shape {d0[, d1]}, zeroed data. */
static int alloc_input(struct model_call *c, struct mw_tensor *t, const struct mw_tensor_spec *s,
                       size_t rows, size_t cols, int32_t ndim, struct mw_error *e)
{
    size_t esize = dtype_size(s->dtype);
    char buf[MW_CLIP_CAP];
    int rc = 0;

    if (esize == 0) {
        rc = mw_fail(e, MWE_INTERNAL, "input '%s': unsupported type", clip_str(buf, s->name));
        goto out_done;
    }
    if (cols != 0 && rows > SIZE_MAX / cols / esize) {
        rc = mw_fail(e, MWE_NOMEM, "data: %zu records are too many", rows);
        goto out_done;
    }
    memset(t, 0, sizeof(*t));
    t->name = s->name;
    t->dtype = s->dtype;
    t->ndim = ndim;
    t->shape[0] = (int64_t)rows;
    if (ndim == 2)
        t->shape[1] = (int64_t)cols;
    t->data = arena_calloc(&c->arena, rows * cols, esize);
    if (t->data == NULL)
        rc = mw_fail(e, MWE_NOMEM, "data: out of memory for %zu records", rows);
out_done:
    return rc;
}

/* See model.h. Thread context: the request's thread, before c is submitted. Ownership: body is
 * borrowed; the tensors live in c->arena and BYTES elements are copies, so body may be freed after.
 * Errors: MWE_BAD_REQUEST (body not an object), MWE_INVALID_INPUT (e->msg names the place and the
 * expectation; the first error stops decoding), MWE_NOMEM (the call's arena is full). */
int records_decode(struct model_call *c, const json_t *body, unsigned max_records,
                   struct mw_error *e)
{
    const struct model_sig *sig;
    const struct mw_tensor_spec *spec = NULL;
    const char *const *names = NULL;
    enum rec_kind kind;
    const json_t *data;
    char nbuf[MW_CLIP_CAP];
    void *it;
    size_t n, r, j, nfields;
    int rc = 0;

    if (!json_is_object(body)) {
        rc = mw_fail(e, MWE_BAD_REQUEST, "body: expected a JSON object");
        goto out_done;
    }
    sig = &c->model->sig;
    kind = records_kind(sig);
    if (kind == REC_NONE || c->n_inputs != sig->n_inputs || c->inputs == NULL) {
        const char *mname = clip_str(nbuf, c->model->name);
        rc = mw_fail(e, MWE_INVALID_INPUT,
                     "model '%s' does not take records; use /v2/models/%s/infer", mname, mname);
        goto out_done;
    }
    for (it = json_object_iter((json_t *)body); it != NULL;
         it = json_object_iter_next((json_t *)body, it)) {
        if (!key_is(it, "data")) {
            rc = mw_fail(e, MWE_INVALID_INPUT, "unknown member '%s' (expected: data)",
                         mw_clip(nbuf, json_object_iter_key(it), json_object_iter_key_len(it)));
            goto out_done;
        }
    }
    data = json_object_get(body, "data");
    if (!json_is_array(data)) {
        rc = mw_fail(e, MWE_INVALID_INPUT, "data: expected an array of records");
        goto out_done;
    }
    n = json_array_size(data);
    if (n == 0) {
        rc = mw_fail(e, MWE_INVALID_INPUT, "data: expected at least 1 record");
        goto out_done;
    }
    if (n > max_records) {
        rc = mw_fail(e, MWE_INVALID_INPUT, "data: %zu records, at most %u allowed", n, max_records);
        goto out_done;
    }

    if (kind == REC_MATRIX) {
        spec = &sig->inputs[0];
        names = spec->names;
        nfields = spec->n_names;
    } else {
        nfields = sig->n_inputs;
    }
    /* Every record is checked for its members before the tensors are allocated, so the
     * allocation (records x fields) is bounded by the members the body actually carries, not by
     * the signature's width times a count of empty records (decoding budget, docs/security.md). */
    for (r = 0; r < n; r++) {
        const json_t *rec = json_array_get(data, r);

        if (!json_is_object(rec)) {
            rc = mw_fail(e, MWE_INVALID_INPUT, "data[%zu]: expected an object, got %s", r,
                         mw_json_type_desc(rec));
            goto out_done;
        }
        rc = check_members(rec, r, sig, names, nfields, e);
        if (rc != 0)
            goto out_done;
    }
    if (kind == REC_MATRIX) {
        rc = alloc_input(c, &c->inputs[0], spec, n, nfields, 2, e);
    } else {
        for (j = 0; j < nfields && rc == 0; j++)
            rc = alloc_input(c, &c->inputs[j], &sig->inputs[j], n, 1, 1, e);
    }
    if (rc != 0)
        goto out_done;

    for (r = 0; r < n; r++) {
        const json_t *rec = json_array_get(data, r);

        for (j = 0; j < nfields; j++) {
            const char *name = names ? names[j] : sig->inputs[j].name;
            const json_t *v = json_object_get(rec, name);
            /* An optional member that is null or missing keeps its zeroed element. */
            if (kind == REC_COLUMNS && sig->optional != NULL && sig->optional[j] &&
                (v == NULL || json_is_null(v)))
                continue;
            if (kind == REC_MATRIX)
                rc = put_value(c->inputs[0].data, r * nfields + j, spec->dtype, v, &c->arena, r,
                               name, e);
            else
                rc =
                    put_value(c->inputs[j].data, r, sig->inputs[j].dtype, v, &c->arena, r, name, e);
            if (rc != 0)
                goto out_done;
        }
    }
out_done:
    return rc;
}

/* ---- encoding ------------------------------------------------------------------------------ */

static int put_lit(struct buf *out, const char *s)
{
    return buf_append(out, s, strlen(s));
}

/* Appends s as a quoted, escaped JSON string. */
static int put_string(struct buf *out, const char *s, size_t len)
{
    int rc = buf_append(out, "\"", 1);
    if (rc == 0)
        rc = buf_append_json_escaped(out, s ? s : "", s ? len : 0);
    if (rc == 0)
        rc = buf_append(out, "\"", 1);
    return rc;
}

/* Appends element idx of t as a JSON value. */
static int put_scalar(struct buf *out, const struct mw_tensor *t, size_t idx)
{
    char num[DTYPE_NUM_CAP];

    if (t->dtype == MW_BYTES) {
        const struct mw_bytes *b = &((const struct mw_bytes *)t->data)[idx];
        return put_string(out, (const char *)b->ptr, b->len);
    }
    return dtype_format_number(num, t->dtype, t->data, idx) ? put_lit(out, num)
                                                             : MWE_MODEL_FAILED;
}

/* Appends the sub-array of t at dimension dim starting at element idx (row-major), where stride
 * is the number of elements one step along dim covers. */
static int put_nested(struct buf *out, const struct mw_tensor *t, int32_t dim, size_t idx,
                      size_t stride)
{
    size_t k, count = (size_t)t->shape[dim];
    size_t sub = count ? stride / count : 0;
    int rc = buf_append(out, "[", 1);

    for (k = 0; k < count && rc == 0; k++) {
        if (k > 0)
            rc = buf_append(out, ",", 1);
        if (rc == 0) {
            if (dim == t->ndim - 1)
                rc = put_scalar(out, t, idx + k);
            else
                rc = put_nested(out, t, dim + 1, idx + k * sub, sub);
        }
    }
    if (rc == 0)
        rc = buf_append(out, "]", 1);
    return rc;
}

/* Elements in one row (dimension 0 index) of t; output_ok has checked it cannot overflow. */
static size_t row_elems(const struct mw_tensor *t)
{
    size_t elems = 1;
    int32_t d;

    for (d = 1; d < t->ndim; d++)
        elems *= (size_t)t->shape[d];
    return elems;
}

/* True when output t has n rows, a sane shape, a name, data, valid BYTES elements and, when its
 * spec has labels and t is 2-D, one label per column. */
static bool output_ok(const struct mw_tensor *t, const struct mw_tensor_spec *spec, int64_t n)
{
    size_t elems = 1, i;
    int32_t d;

    if (t->ndim < 1 || t->ndim > MW_MAX_DIMS || t->shape[0] != n ||
        !(readable(t->dtype) || is_half(t->dtype)) ||
        (t->name == NULL && (spec == NULL || spec->name == NULL)))
        return false;
    for (d = 1; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return false;
        if (t->shape[d] > 0 && elems > SIZE_MAX / (uint64_t)t->shape[d])
            return false;
        elems *= (size_t)t->shape[d];
    }
    if (elems != 0 && (uint64_t)n > SIZE_MAX / elems)
        return false;
    elems *= (size_t)n;
    if (t->data == NULL && elems != 0)
        return false;
    if (spec != NULL && t->ndim == 2 && spec->n_labels > 0) {
        if (spec->labels == NULL || (uint64_t)t->shape[1] != spec->n_labels)
            return false;
        for (i = 0; i < spec->n_labels; i++) {
            if (spec->labels[i] == NULL)
                return false;
        }
    }
    if (t->dtype == MW_BYTES) {
        const struct mw_bytes *b = t->data;
        for (i = 0; i < elems; i++) {
            if (b[i].ptr == NULL && b[i].len != 0)
                return false;
        }
    }
    return true;
}

/* Appends output t's value for row r: a scalar (1-D), an object keyed by the spec's labels (2-D
 * with labels) or nested arrays. */
static int put_output_row(struct buf *out, const struct mw_tensor *t,
                          const struct mw_tensor_spec *spec, size_t r)
{
    size_t stride = row_elems(t), base = r * stride, k;
    int rc;

    if (t->ndim == 1) {
        rc = put_scalar(out, t, r);
    } else if (t->ndim == 2 && spec != NULL && spec->n_labels > 0) {
        rc = buf_append(out, "{", 1);
        for (k = 0; k < spec->n_labels && rc == 0; k++) {
            if (k > 0)
                rc = buf_append(out, ",", 1);
            if (rc == 0)
                rc = put_string(out, spec->labels[k], strlen(spec->labels[k]));
            if (rc == 0)
                rc = buf_append(out, ":", 1);
            if (rc == 0)
                rc = put_scalar(out, t, base + k);
        }
        if (rc == 0)
            rc = buf_append(out, "}", 1);
    } else {
        rc = put_nested(out, t, 1, base, stride);
    }
    return rc;
}

/* Writes the whole response into out; records_encode rolls it back on failure. */
static int encode(const struct model_call *c, struct buf *out)
{
    const struct model *m = c->model;
    const struct model_sig *sig = &m->sig;
    const struct mw_tensor_spec *spec;
    const char *name;
    size_t i, r, n = 0;
    int rc = 0;

    if (c->n_outputs == 0 || c->outputs == NULL || c->outputs[0].shape[0] < 0) {
        rc = MWE_MODEL_FAILED;
        goto out_done;
    }
    n = (size_t)c->outputs[0].shape[0];
    for (i = 0; i < c->n_outputs; i++) {
        spec = i < sig->n_outputs ? &sig->outputs[i] : NULL;
        if (!output_ok(&c->outputs[i], spec, (int64_t)n)) {
            rc = MWE_MODEL_FAILED;
            goto out_done;
        }
    }

    rc = put_lit(out, "{\"model\":");
    if (rc == 0)
        rc = put_string(out, m->name, m->name ? strlen(m->name) : 0);
    if (rc == 0)
        rc = put_lit(out, ",\"model_version\":");
    if (rc == 0)
        rc = put_string(out, m->version, m->version ? strlen(m->version) : 0);
    if (rc == 0)
        rc = put_lit(out, ",\"predictions\":[");
    for (r = 0; r < n && rc == 0; r++) {
        rc = put_lit(out, r > 0 ? ",{" : "{");
        for (i = 0; i < c->n_outputs && rc == 0; i++) {
            spec = i < sig->n_outputs ? &sig->outputs[i] : NULL;
            name = c->outputs[i].name ? c->outputs[i].name : spec->name;
            if (i > 0)
                rc = buf_append(out, ",", 1);
            if (rc == 0)
                rc = put_string(out, name, strlen(name));
            if (rc == 0)
                rc = buf_append(out, ":", 1);
            if (rc == 0)
                rc = put_output_row(out, &c->outputs[i], spec, r);
        }
        if (rc == 0)
            rc = buf_append(out, "}", 1);
    }
    if (rc == 0)
        rc = put_lit(out, "]}");
out_done:
    return rc;
}

/* See model.h. Appends the predictions of a completed call to out (bounded by out->max). Thread
 * context: any thread that holds a reference to c. Errors: MWE_MODEL_FAILED when the outputs do not
 * agree on the number of rows or do not match the signature's labels, MWE_NOMEM or
 * MWE_BODY_TOO_LARGE from the buffer; on any error out is left as it was. */
int records_encode(const struct model_call *c, struct buf *out)
{
    size_t start = out->len;
    int rc = encode(c, out);

    if (rc != 0 && out->ptr != NULL) {
        out->len = start;
        out->ptr[start] = '\0';
    }
    return rc;
}
