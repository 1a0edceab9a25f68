/*
 * Dynamic batching helpers: merge the inputs of several calls of one MW_FLAG_BATCH model
 * along dimension 0 into one internal call, and split that call's outputs back into each original
 * call. The scheduler (sched.c) decides which calls to merge; docs/batching.md.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

/* Elements of one batch row of t (the product of dims 1..ndim); SIZE_MAX on overflow or bad dims. */
static size_t row_elems(const struct mw_tensor *t)
{
    size_t n = SIZE_MAX, count = 1;

    if (t->ndim < 1 || t->ndim > MW_MAX_DIMS)
        goto out;
    for (int32_t d = 1; d < t->ndim; d++) {
        if (t->shape[d] < 0 ||
            (t->shape[d] != 0 && count > (SIZE_MAX / 4) / (size_t)t->shape[d]))
            goto out;
        count *= (size_t)t->shape[d];
    }
    n = count;
out:
    return n;
}

/*
 * Rows of c: inputs[0].shape[0], or -1 when c cannot be batched (no inputs, an input without a
 * batch dimension, inputs whose batch dimensions differ, a negative dimension). Any thread
 * holding c; c is only read.
 */
int64_t batch_rows_of(const struct model_call *c)
{
    int64_t rows = -1;

    if (c == NULL || c->n_inputs == 0 || c->inputs == NULL)
        goto out;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const struct mw_tensor *t = &c->inputs[i];

        if (t->ndim < 1 || t->ndim > MW_MAX_DIMS || t->shape[0] < 0 ||
            (i > 0 && t->shape[0] != c->inputs[0].shape[0]) || row_elems(t) == SIZE_MAX)
            goto out;
        if (t->shape[0] > 0 && t->data == NULL)
            goto out;
    }
    rows = c->inputs[0].shape[0];
out:
    return rows;
}

/*
 * True when a and b are calls of the same model whose inputs can be concatenated along dim 0:
 * both batchable (batch_rows_of >= 0), same number of inputs, and each pair has the same dtype,
 * ndim and dims 1..ndim. Any thread holding both calls; nothing is written.
 */
bool batch_compatible(const struct model_call *a, const struct model_call *b)
{
    bool ok = false;

    if (a == NULL || b == NULL || a->model != b->model || a->n_inputs != b->n_inputs)
        goto out;
    if (batch_rows_of(a) < 0 || batch_rows_of(b) < 0)
        goto out;
    for (size_t i = 0; i < a->n_inputs; i++) {
        const struct mw_tensor *x = &a->inputs[i], *y = &b->inputs[i];

        if (x->dtype != y->dtype || x->ndim != y->ndim)
            goto out;
        for (int32_t d = 1; d < x->ndim; d++)
            if (x->shape[d] != y->shape[d])
                goto out;
    }
    ok = true;
out:
    return ok;
}

/*
 * The merged call of calls[0..n): one reference (the caller's), an unbounded arena (each part was
 * bounded by its own call's), every input the concatenation of the parts' along dim 0 in order.
 * BYTES inputs copy the struct mw_bytes elements only: their bytes stay in the parts' arenas, so
 * the parts must be held until the merged call is released. NULL when n is 0, a part is not
 * compatible with calls[0], the rows overflow, or out of memory. Any thread holding the calls.
 */
struct model_call *batch_merge(struct model_call *const *calls, size_t n)
{
    struct model_call *mc = NULL;
    int64_t total = 0, r;

    if (calls == NULL || n == 0 || calls[0] == NULL)
        goto out;
    for (size_t k = 0; k < n; k++) {
        r = batch_rows_of(calls[k]);
        if (r < 0 || (k > 0 && !batch_compatible(calls[0], calls[k])) || r > INT32_MAX ||
            total > INT32_MAX - r)
            goto out;
        total += r;
    }
    mc = model_call_new(calls[0]->model, 0);
    if (mc == NULL || mc->n_inputs != calls[0]->n_inputs)
        goto out_fail;
    /* The merged run must end by the earliest deadline of its calls (a plug-in reads it through
     * deadline_ns and is_cancelled); it has no one request id. */
    for (size_t k = 0; k < n; k++)
        if (calls[k]->deadline_ns != 0 &&
            (mc->deadline_ns == 0 || calls[k]->deadline_ns < mc->deadline_ns))
            mc->deadline_ns = calls[k]->deadline_ns;
    for (size_t i = 0; i < mc->n_inputs; i++) {
        const struct mw_tensor *first = &calls[0]->inputs[i];
        struct mw_tensor *t = &mc->inputs[i];
        size_t esize = dtype_size(first->dtype), per_row = row_elems(first), row_bytes;
        uint8_t *dst;

        if (esize == 0 || per_row == SIZE_MAX || (per_row != 0 && esize > (SIZE_MAX / 4) / per_row))
            goto out_fail;
        row_bytes = per_row * esize;
        if (row_bytes != 0 && (size_t)total > (SIZE_MAX / 4) / row_bytes)
            goto out_fail;
        t->name = first->name;
        t->dtype = first->dtype;
        t->ndim = first->ndim;
        memcpy(t->shape, first->shape, sizeof(t->shape));
        t->shape[0] = total;
        dst = arena_alloc(&mc->arena, (size_t)total * row_bytes > 0 ? (size_t)total * row_bytes : 1);
        if (dst == NULL)
            goto out_fail;
        t->data = dst;
        for (size_t k = 0; k < n; k++) {
            size_t bytes = (size_t)calls[k]->inputs[i].shape[0] * row_bytes;

            if (bytes > 0)
                memcpy(dst, calls[k]->inputs[i].data, bytes);
            dst += bytes;
        }
    }
    goto out;

out_fail:
    model_call_release(mc);
    mc = NULL;
out:
    return mc;
}

/*
 * Allocates every output of c with the merged output's shape but `rows of c` in dim 0, and copies
 * rows [offset, offset + rows) into it; BYTES elements get their bytes copied into c's arena (the
 * merged call is released right after). Returns 0, MWE_MODEL_FAILED (a merged output missing,
 * without a batch dimension, or with fewer rows than offset + rows: logged) or MWE_NOMEM (c's
 * arena bound or out of memory). Thread: the worker that ran merged and holds c.
 */
int batch_split(const struct model_call *merged, struct model_call *c, int64_t offset)
{
    int64_t rows = batch_rows_of(c), shape[MW_MAX_DIMS];
    int rc = 0;

    if (merged == NULL || rows < 0 || offset < 0 || merged->n_outputs != c->n_outputs) {
        rc = MWE_MODEL_FAILED;
        goto out;
    }
    for (size_t o = 0; o < merged->n_outputs; o++) {
        const struct mw_tensor *src = &merged->outputs[o];
        size_t esize = dtype_size(src->dtype), per_row = row_elems(src), count;
        void *dst;

        if (src->data == NULL || per_row == SIZE_MAX || esize == 0 || src->shape[0] < offset ||
            src->shape[0] - offset < rows) {
            log_msg(LOG_ERROR, "batched model run returned outputs without the batch's rows",
                    "model", c->model->name, "output", src->name != NULL ? src->name : "?", NULL);
            rc = MWE_MODEL_FAILED;
            goto out;
        }
        memcpy(shape, src->shape, sizeof(shape));
        shape[0] = rows;
        dst = model_call_output(c, o, src->ndim, shape);
        if (dst == NULL) {
            rc = MWE_NOMEM;
            goto out;
        }
        count = (size_t)rows * per_row;
        if (count == 0)
            continue;
        if (src->dtype != MW_BYTES) {
            memcpy(dst, (const uint8_t *)src->data + (size_t)offset * per_row * esize,
                   count * esize);
            continue;
        }
        for (size_t k = 0; k < count; k++) {
            const struct mw_bytes *from =
                (const struct mw_bytes *)src->data + (size_t)offset * per_row + k;
            struct mw_bytes *to = (struct mw_bytes *)dst + k;
            uint8_t *p;

            if (from->len == 0)
                continue;
            if (from->ptr == NULL) {
                rc = MWE_MODEL_FAILED;
                goto out;
            }
            p = arena_alloc(&c->arena, from->len);
            if (p == NULL) {
                rc = MWE_NOMEM;
                goto out;
            }
            memcpy(p, from->ptr, from->len);
            to->ptr = p;
            to->len = from->len;
        }
    }
out:
    return rc;
}
