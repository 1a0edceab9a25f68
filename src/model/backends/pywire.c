/*
 * pywire: frame headers, the request writer and the reply decoder of the Python worker protocol
 * (docs/python-workers.md). The reply decoder treats its input as hostile: a worker runs model
 * code that may be buggy or malicious.
 */
#include <stdlib.h>
#include <string.h>

#include "model/backends/pywire.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the worker protocol writes tensors in host order, which must be little-endian"
#endif

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void pyw_hdr_encode(uint8_t out[PYW_HDR_LEN], const struct pyw_hdr *h)
{
    put_u32(out, h->magic);
    put_u16(out + 4, h->version);
    put_u16(out + 6, h->type);
    put_u64(out + 8, h->seq);
    put_u32(out + 16, h->off);
    put_u32(out + 20, h->len);
}

int pyw_hdr_decode(const uint8_t *p, size_t n, struct pyw_hdr *h)
{
    int rc = -1;

    if (p == NULL || n < PYW_HDR_LEN)
        goto out;
    h->magic = get_u32(p);
    h->version = (uint16_t)(p[4] | p[5] << 8);
    h->type = (uint16_t)(p[6] | p[7] << 8);
    h->seq = get_u64(p + 8);
    h->off = get_u32(p + 16);
    h->len = get_u32(p + 20);
    if (h->magic != PYW_MAGIC || h->version != PYW_VERSION)
        goto out;
    rc = 0;
out:
    return rc;
}

/* ---- requests -------------------------------------------------------------------------------- */

static size_t align_up(size_t x)
{
    return (x + PYW_ALIGN - 1) / PYW_ALIGN * PYW_ALIGN;
}

/* Elements of t; SIZE_MAX on overflow or a bad shape. */
static size_t tensor_count(const struct mw_tensor *t)
{
    size_t n = 1;

    if (t->ndim < 0 || t->ndim > MW_MAX_DIMS)
        return SIZE_MAX;
    for (int32_t d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return SIZE_MAX;
        if (t->shape[d] > 0 && n > SIZE_MAX / (uint64_t)t->shape[d])
            return SIZE_MAX;
        n *= (size_t)t->shape[d];
    }
    return n;
}

/* Copies len bytes to area at an aligned offset from *pos. -1 when they do not fit. */
static int place(uint8_t *area, size_t cap, size_t *pos, const void *src, size_t len, size_t *at)
{
    size_t start = align_up(*pos);

    if (start > cap || len > cap - start)
        return -1;
    if (len > 0)
        memcpy(area + start, src, len);
    *at = start;
    *pos = start + len;
    return 0;
}

/* One call's item into area at *pos and its descriptor into items. 0, -1 (does not fit),
 * MWE_NOMEM. */
static int encode_item(uint8_t *area, size_t cap, size_t *pos, const struct model_call *c,
                       json_t *items)
{
    json_t *item = NULL, *tens, *shape, *t;
    size_t at, count, len, esize;
    int rc = MWE_NOMEM;

    if (c->model->json_answers && c->body != NULL) {
        if (place(area, cap, pos, c->body, c->body_len, &at) != 0) {
            rc = -1;
            goto out;
        }
        item = json_pack("{s:[I,I]}", "body", (json_int_t)at, (json_int_t)c->body_len);
        if (item == NULL || json_array_append_new(items, item) != 0)
            goto out;
        rc = 0;
        goto out;
    }
    item = json_object();
    tens = json_array();
    if (item == NULL || tens == NULL || json_object_set_new(item, "tensors", tens) != 0) {
        json_decref(tens);
        goto out_free;
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *in = &c->inputs[i];

        count = tensor_count(in);
        esize = dtype_size(in->dtype);
        if (count == SIZE_MAX || esize == 0 || (in->data == NULL && count > 0)) {
            rc = MWE_MODEL_FAILED;
            goto out_free;
        }
        if (in->dtype == MW_BYTES) {
            const struct mw_bytes *b = in->data;
            at = align_up(*pos);
            len = 0;
            for (size_t k = 0; k < count; k++) {
                if (b[k].len > UINT32_MAX || at > cap || 4 > cap - at - len ||
                    b[k].len > cap - at - len - 4) {
                    rc = -1;
                    goto out_free;
                }
                put_u32(area + at + len, (uint32_t)b[k].len);
                if (b[k].len > 0)
                    memcpy(area + at + len + 4, b[k].ptr, b[k].len);
                len += 4 + b[k].len;
            }
            *pos = at + len;
        } else {
            if (count > SIZE_MAX / esize) {
                rc = MWE_MODEL_FAILED;
                goto out_free;
            }
            len = count * esize;
            if (place(area, cap, pos, in->data, len, &at) != 0) {
                rc = -1;
                goto out_free;
            }
        }
        shape = json_array();
        for (int32_t d = 0; shape != NULL && d < in->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)in->shape[d])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        if (shape == NULL)
            goto out_free;
        t = json_pack("{s:s, s:o, s:I, s:I}", "dtype", dtype_name(in->dtype), "shape", shape, "off",
                      (json_int_t)at, "len", (json_int_t)len);
        if (t == NULL || json_array_append_new(tens, t) != 0)
            goto out_free;
    }
    if (json_array_append_new(items, item) != 0) {
        item = NULL;
        goto out;
    }
    rc = 0;
    goto out;

out_free:
    json_decref(item);
out:
    return rc;
}

int pyw_encode_request(uint8_t *area, size_t cap, struct model_call *const *calls, size_t n,
                       bool batch, size_t *items, size_t *desc_off, size_t *desc_len)
{
    json_t *root = NULL, *list;
    char *text = NULL;
    size_t pos = 0, done = 0, len, *ends = NULL;
    int rc = MWE_NOMEM;

    ends = calloc(n > 0 ? n : 1, sizeof(*ends)); /* where each item's data ends */
    root = json_object();
    list = json_array();
    if (ends == NULL || root == NULL || list == NULL ||
        json_object_set_new(root, "items", list) != 0) {
        json_decref(list);
        goto out;
    }
    for (done = 0; done < n; done++) {
        size_t saved = pos;
        rc = encode_item(area, cap, &pos, calls[done], list);
        if (rc == -1) {
            pos = saved;
            break;
        }
        if (rc != 0)
            goto out;
        ends[done] = pos;
    }
    if (done == 0) {
        rc = MWE_BODY_TOO_LARGE;
        goto out;
    }
    /* Keep room for the descriptor: drop trailing items until it fits. */
    for (;;) {
        if (json_object_set_new(root, "batch", json_boolean(batch && done > 1)) != 0)
            goto out_nomem;
        free(text);
        text = json_dumps(root, JSON_COMPACT);
        if (text == NULL)
            goto out_nomem;
        len = strlen(text);
        if (align_up(pos) <= cap && len <= cap - align_up(pos))
            break;
        if (done == 1) {
            rc = MWE_BODY_TOO_LARGE;
            goto out;
        }
        done--;
        json_array_remove(list, done);
        pos = ends[done - 1];
    }
    pos = align_up(pos);
    memcpy(area + pos, text, len);
    *desc_off = pos;
    *desc_len = len;
    *items = done;
    rc = 0;
    goto out;

out_nomem:
    rc = MWE_NOMEM;
out:
    free(ends);
    free(text);
    json_decref(root);
    return rc;
}

int pyw_encode_bodies(uint8_t *area, size_t cap, struct model_call *const *calls, size_t n,
                      size_t *items, size_t *len)
{
    size_t pos = 1, done = 0;

    if (area == NULL || cap < 2)
        return MWE_BODY_TOO_LARGE;
    area[0] = '[';
    for (; done < n; done++) {
        const struct model_call *c = calls[done];
        /* This body, the comma before it (after the first) and the closing bracket. */
        size_t need = c->body_len + (done > 0 ? 1 : 0) + 1;

        if (!c->model->json_answers || c->body == NULL || c->body_len == 0 || need > cap - pos)
            break;
        if (done > 0)
            area[pos++] = ',';
        memcpy(area + pos, c->body, c->body_len);
        pos += c->body_len;
    }
    if (done < 2)
        return MWE_BODY_TOO_LARGE;
    area[pos++] = ']';
    *items = done;
    *len = pos;
    return 0;
}

/* ---- replies --------------------------------------------------------------------------------- */

/* [off, off + len) of a JSON pair [off, len] or members "off"/"len", inside area_len. */
static bool range_ok(json_int_t off, json_int_t len, size_t area_len)
{
    return off >= 0 && len >= 0 && (uint64_t)off <= area_len &&
           (uint64_t)len <= area_len - (uint64_t)off;
}

/* The JSON answer at [off, off + len) of the area (already checked to be inside it) into c:
 * copied, then parsed to prove it is JSON. The copy comes first because the worker shares the
 * area and may rewrite it at any moment: what was checked must be what the client gets.
 * 0, MWE_MODEL_FAILED, MWE_NOMEM. */
static int take_json_at(struct model_call *c, const uint8_t *area, size_t off, size_t len)
{
    json_t *check;
    json_error_t jerr;
    char *copy;

    if (len == 0)
        return MWE_MODEL_FAILED;
    copy = arena_alloc(&c->arena, len + 1);
    if (copy == NULL)
        return MWE_NOMEM;
    memcpy(copy, area + off, len);
    copy[len] = '\0';
    check = json_loadb(copy, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (check == NULL)
        return MWE_MODEL_FAILED;
    json_decref(check);
    c->answer = copy;
    c->answer_len = len;
    return 0;
}

/* The JSON answer of item {"json":[off,len]} into c. 0, MWE_MODEL_FAILED, MWE_NOMEM. */
static int take_json(struct model_call *c, const json_t *pair, const uint8_t *area, size_t area_len)
{
    json_int_t off, len;

    if (!json_is_array(pair) || json_array_size(pair) != 2 ||
        !json_is_integer(json_array_get(pair, 0)) || !json_is_integer(json_array_get(pair, 1)))
        return MWE_MODEL_FAILED;
    off = json_integer_value(json_array_get(pair, 0));
    len = json_integer_value(json_array_get(pair, 1));
    if (!range_ok(off, len, area_len))
        return MWE_MODEL_FAILED;
    return take_json_at(c, area, (size_t)off, (size_t)len);
}

int pyw_decode_answer(const uint8_t *area, size_t area_len, size_t off, size_t len,
                      struct model_call *c)
{
    if (area == NULL || c == NULL || !c->model->json_answers || c->body == NULL ||
        c->answer != NULL || off > area_len || len > area_len - off)
        return MWE_MODEL_FAILED;
    return take_json_at(c, area, off, len);
}

int pyw_decode_answers(const uint8_t *area, size_t area_len, size_t off, size_t len,
                       struct model_call *const *calls, size_t n, int *rc)
{
    const uint8_t *t;
    size_t pos;
    int ret = -1;

    for (size_t i = 0; i < n; i++)
        rc[i] = MWE_MODEL_FAILED;
    if (area == NULL || n == 0 || off > area_len || len > area_len - off || len < 4 ||
        (len - 4) / 4 < n)
        goto out;
    t = area + off;
    if (get_u32(t) != n)
        goto out;
    /* One pass, each length read once: the worker may rewrite the area while this reads it
     * (take_json_at copies each answer before it checks it). */
    pos = 4 + 4 * n;
    for (size_t i = 0; i < n; i++) {
        size_t ln = get_u32(t + 4 + 4 * i);
        if (!calls[i]->model->json_answers || calls[i]->body == NULL ||
            calls[i]->answer != NULL || ln == 0 || ln > len - pos)
            goto out;
        rc[i] = take_json_at(calls[i], area, off + pos, ln);
        if (rc[i] == MWE_MODEL_FAILED)
            goto out;
        pos += ln;
    }
    if (pos != len)
        goto out;
    ret = 0;
out:
    if (ret != 0)
        for (size_t i = 0; i < n; i++)
            rc[i] = MWE_MODEL_FAILED;
    return ret;
}

/* One output tensor {"dtype","shape","off","len"} into output idx of c. */
static int take_tensor(struct model_call *c, size_t idx, const json_t *t, const uint8_t *area,
                       size_t area_len)
{
    const struct mw_tensor_spec *spec = &c->model->sig.outputs[idx];
    const json_t *dt = json_object_get(t, "dtype"), *shape = json_object_get(t, "shape");
    const json_t *joff = json_object_get(t, "off"), *jlen = json_object_get(t, "len");
    int64_t dims[MW_MAX_DIMS] = {0};
    size_t count = 1, esize, ndim, pos;
    json_int_t off, len;
    void *data;
    int rc = MWE_MODEL_FAILED;

    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_integer(joff) ||
        !json_is_integer(jlen))
        goto out;
    if (dtype_parse(json_string_value(dt), json_string_length(dt)) != spec->dtype)
        goto out;
    ndim = json_array_size(shape);
    if (ndim != (size_t)spec->ndim || ndim < 1 || ndim > MW_MAX_DIMS)
        goto out;
    for (size_t d = 0; d < ndim; d++) {
        const json_t *v = json_array_get(shape, d);
        json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;

        if (x < 0 || x > INT32_MAX || (spec->shape[d] != -1 && x != spec->shape[d]))
            goto out;
        dims[d] = x;
        if (x > 0 && count > SIZE_MAX / (uint64_t)x)
            goto out;
        count *= (size_t)x;
    }
    off = json_integer_value(joff);
    len = json_integer_value(jlen);
    if (!range_ok(off, len, area_len))
        goto out;
    esize = dtype_size(spec->dtype);
    if (spec->dtype != MW_BYTES && (count > SIZE_MAX / esize || (size_t)len != count * esize))
        goto out;
    if (spec->dtype == MW_BYTES && count > (size_t)len / 4)
        goto out;
    data = model_call_output(c, idx, (int32_t)ndim, dims);
    if (data == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    if (spec->dtype != MW_BYTES) {
        if (len > 0)
            memcpy(data, area + off, (size_t)len);
        rc = 0;
        goto out;
    }
    pos = 0;
    for (size_t k = 0; k < count; k++) {
        struct mw_bytes *b = &((struct mw_bytes *)data)[k];
        uint32_t n;
        uint8_t *copy;

        if ((size_t)len - pos < 4)
            goto out;
        n = get_u32(area + off + pos);
        pos += 4;
        if (n > (size_t)len - pos)
            goto out;
        copy = arena_alloc(&c->arena, (size_t)n + 1);
        if (copy == NULL) {
            rc = MWE_NOMEM;
            goto out;
        }
        memcpy(copy, area + off + pos, n);
        copy[n] = 0;
        b->ptr = copy;
        b->len = n;
        pos += n;
    }
    rc = pos == (size_t)len ? 0 : MWE_MODEL_FAILED;
out:
    return rc;
}

/* One item of the reply into c. */
static int take_item(struct model_call *c, size_t index, const json_t *item, const uint8_t *area,
                     size_t area_len, pyw_error_fn on_error, void *ctx)
{
    const json_t *err = json_object_get(item, "error"), *js = json_object_get(item, "json");
    const json_t *tens = json_object_get(item, "tensors");
    const struct model *m = c->model;
    int rc = MWE_MODEL_FAILED;

    if (!json_is_object(item))
        goto out;
    if (err != NULL) {
        if (on_error != NULL && json_is_string(err))
            on_error(ctx, index, json_string_value(err), json_string_length(err));
        goto out;
    }
    if (js != NULL) {
        if (m->json_answers && c->body != NULL)
            rc = take_json(c, js, area, area_len);
        goto out;
    }
    if (!json_is_array(tens) || json_array_size(tens) != m->sig.n_outputs ||
        c->n_outputs != m->sig.n_outputs || (m->json_answers && c->body != NULL))
        goto out;
    for (size_t i = 0; i < m->sig.n_outputs; i++) {
        if (c->outputs[i].data != NULL)
            goto out;
        rc = take_tensor(c, i, json_array_get(tens, i), area, area_len);
        if (rc != 0)
            goto out;
    }
    rc = 0;
out:
    return rc;
}

int pyw_decode_reply(const uint8_t *area, size_t area_len, size_t desc_off, size_t desc_len,
                     struct model_call *const *calls, size_t n, int *rc, struct pyw_reply *info,
                     pyw_error_fn on_error, void *ctx)
{
    json_t *root = NULL;
    const json_t *items;
    json_error_t jerr;
    int ret = -1;

    info->unbatchable = false;
    info->recycle = false;
    for (size_t i = 0; i < n; i++)
        rc[i] = MWE_MODEL_FAILED;
    if (area == NULL || desc_len == 0 || desc_len > PYW_DESC_MAX || desc_off > area_len ||
        desc_len > area_len - desc_off)
        goto out;
    root = json_loadb((const char *)area + desc_off, desc_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root))
        goto out;
    info->unbatchable = json_is_true(json_object_get(root, "unbatchable"));
    info->recycle = json_is_true(json_object_get(root, "recycle"));
    items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) != n)
        goto out;
    for (size_t i = 0; i < n; i++)
        rc[i] = take_item(calls[i], i, json_array_get(items, i), area, area_len, on_error, ctx);
    ret = 0;
out:
    json_decref(root);
    return ret;
}
