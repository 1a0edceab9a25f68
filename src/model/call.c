/*
 * Model calls: one invocation of a model with its inputs, outputs and per-call arena; reference
 * counting; output allocation checked against the signature; running a call inline (serialised
 * when the model is not thread-safe) or handing it to the model's scheduler.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"

/* No single output may ask for more than this, whatever the arena allows (keeps every size
 * computation far from overflow). */
#define CALL_OUTPUT_MAX_BYTES (SIZE_MAX / 4)

/* See model.h: the decoding budget. Saturates instead of overflowing. Any thread. */
size_t model_call_budget(size_t body_len)
{
    if (body_len > (SIZE_MAX - MODEL_CALL_BUDGET_RESERVE) / MODEL_CALL_BUDGET_FACTOR)
        return SIZE_MAX;
    return MODEL_CALL_BUDGET_FACTOR * body_len + MODEL_CALL_BUDGET_RESERVE;
}

/*
 * A new call of m with one reference (the caller's), n_inputs tensors (name and dtype from the
 * signature, ndim 0, data NULL: the caller fills them from its arena) and n_outputs tensors whose
 * data stays NULL until model_call_output. arena_max bounds everything allocated for the call,
 * these arrays included (0: unlimited). m is borrowed and must outlive the call. NULL when out of
 * memory or past arena_max. Any thread.
 */
struct model_call *model_call_new(struct model *m, size_t arena_max)
{
    struct model_call *c = NULL;

    if (m == NULL)
        goto out;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto out;
    arena_init(&c->arena, arena_max);
    c->model = m;
    atomic_init(&c->refs, 1);
    atomic_init(&c->state, CALL_QUEUED);
    c->n_inputs = m->sig.n_inputs;
    c->n_outputs = m->sig.n_outputs;
    if (c->n_inputs > 0) {
        c->inputs = arena_calloc(&c->arena, c->n_inputs, sizeof(*c->inputs));
        if (c->inputs == NULL)
            goto out_free;
    }
    if (c->n_outputs > 0) {
        c->outputs = arena_calloc(&c->arena, c->n_outputs, sizeof(*c->outputs));
        if (c->outputs == NULL)
            goto out_free;
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        c->inputs[i].name = m->sig.inputs[i].name;
        c->inputs[i].dtype = m->sig.inputs[i].dtype;
    }
    for (size_t i = 0; i < c->n_outputs; i++) {
        c->outputs[i].name = m->sig.outputs[i].name;
        c->outputs[i].dtype = m->sig.outputs[i].dtype;
    }
    goto out;

out_free:
    arena_fini(&c->arena);
    free(c);
    c = NULL;
out:
    return c;
}

/* Takes one more reference. Any thread (atomic). */
void model_call_retain(struct model_call *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

/*
 * Drops one reference; the last one frees the arena (inputs, outputs and everything allocated for
 * the call) and the call. Never touches c->model, which may be gone by then. NULL-safe. Any
 * thread (atomic).
 */
void model_call_release(struct model_call *c)
{
    if (c != NULL && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1) {
        arena_fini(&c->arena);
        free(c);
    }
}

/*
 * Allocates output `index` with the given shape, in the call's arena, zeroed (struct mw_bytes[]
 * for BYTES outputs: {NULL, 0} each), and records the shape in c->outputs[index]. The dtype comes
 * from the signature; ndim must equal the spec's and every fixed dimension must match (variable
 * ones may be 0 or more). NULL on a bad index or shape, a second allocation of the same output,
 * a size that overflows or passes the arena's bound, or out of memory. Thread: the one running
 * the call (a call's arena is not shared).
 */
void *model_call_output(struct model_call *c, size_t index, int32_t ndim, const int64_t *shape)
{
    const struct mw_tensor_spec *spec;
    struct mw_tensor *t;
    size_t count = 1, esize, bytes;
    void *data = NULL;

    if (c == NULL || c->model == NULL || index >= c->n_outputs || index >= c->model->sig.n_outputs)
        goto out;
    spec = &c->model->sig.outputs[index];
    t = &c->outputs[index];
    if (t->data != NULL || ndim != spec->ndim || ndim < 1 || ndim > MW_MAX_DIMS || shape == NULL)
        goto out;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (spec->shape[d] != -1 && shape[d] != spec->shape[d]))
            goto out;
        if ((uint64_t)shape[d] > (uint64_t)CALL_OUTPUT_MAX_BYTES)
            goto out;
        if (shape[d] != 0 && count > CALL_OUTPUT_MAX_BYTES / (size_t)shape[d])
            goto out;
        count *= (size_t)shape[d];
    }
    esize = dtype_size(spec->dtype);
    if (esize == 0 || count > CALL_OUTPUT_MAX_BYTES / esize)
        goto out;
    bytes = count * esize;
    if (c->arena.max != 0 && bytes > c->arena.max - c->arena.total)
        goto out;
    data = arena_calloc(&c->arena, 1, bytes);
    if (data == NULL)
        goto out;
    t->name = spec->name;
    t->dtype = spec->dtype;
    t->ndim = ndim;
    memset(t->shape, 0, sizeof(t->shape));
    memcpy(t->shape, shape, (size_t)ndim * sizeof(shape[0]));
    t->data = data;
out:
    return data;
}

/*
 * Stores a printf-style message for the client (with MWE_INVALID_INPUT) in c->errmsg, truncated to
 * fit. Thread: the one running the call.
 */
void model_call_set_error(struct model_call *c, const char *fmt, ...)
{
    va_list ap;

    if (c != NULL && fmt != NULL) {
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
        va_end(ap);
    }
}

/*
 * Runs the backend on c and checks the result, storing nothing in c itself (no status, no
 * timings): the scheduler publishes them only when the call was not answered by its deadline
 * meanwhile. Serialises on m->run_lock unless the model is MW_FLAG_THREAD_SAFE. Returns 0,
 * MWE_INVALID_INPUT, MWE_NOMEM or MWE_MODEL_FAILED (any other backend status, or an output the
 * backend did not allocate; both are logged). Thread: any; the caller owns a reference.
 */
int model_call_exec(struct model_call *c)
{
    struct model *m = c->model;
    bool serial = (m->flags & MW_FLAG_THREAD_SAFE) == 0;
    int rc;

    if (m->ops == NULL || m->ops->run == NULL) {
        log_msg(LOG_ERROR, "model has no run function", "model", m->name, NULL);
        rc = MWE_MODEL_FAILED;
        goto out;
    }
    if (serial)
        pthread_mutex_lock(&m->run_lock);
    rc = m->ops->run(m, c);
    if (serial)
        pthread_mutex_unlock(&m->run_lock);

    switch (rc) {
    case 0:
    case MWE_INVALID_INPUT:
    case MWE_MODEL_FAILED:
    case MWE_NOMEM:
    case MWE_DEADLINE:          /* out-of-process backends: the worker missed the deadline */
    case MWE_MODEL_UNAVAILABLE: /* or died */
    case MWE_BODY_TOO_LARGE:
        break;
    default:
        log_kv(LOG_ERROR, "model run returned an unexpected status", "model", m->name, "#status",
               (long long)rc, NULL);
        rc = MWE_MODEL_FAILED;
        goto out;
    }
    if (rc != 0 || c->answer != NULL)
        goto out;
    for (size_t i = 0; i < c->n_outputs; i++) {
        if (c->outputs[i].data == NULL) {
            log_msg(LOG_ERROR, "model did not allocate an output", "model", m->name, "output",
                    c->outputs[i].name, NULL);
            rc = MWE_MODEL_FAILED;
            goto out;
        }
    }
out:
    return rc;
}

/*
 * Runs c now on the calling thread (see model_call_exec) and records t_started_ns, t_done_ns and
 * c->status. Returns the status: 0 or an MWE_* code. Thread: any; the caller owns the call and is
 * its only user meanwhile.
 */
int model_call_run(struct model_call *c)
{
    int rc;

    c->t_started_ns = time_mono_ns();
    rc = model_call_exec(c);
    c->t_done_ns = time_mono_ns();
    c->status = rc;
    return rc;
}

/*
 * Runs c inline when the model has no scheduler (returns its status; done is not called), or
 * queues it with deadline now + opts.timeout_ms and returns 1: done(c, ctx) then comes exactly
 * once, from a worker or the watchdog thread, with c->status set. After a done with MWE_DEADLINE
 * the model may still be running the call: read c->status only, then release. Returns
 * MWE_OVERLOADED / MWE_SHUTTING_DOWN (done is not called) when the scheduler refuses it. The
 * caller keeps its own reference throughout and releases it after done (or after a refusal).
 * Thread: any.
 */
int model_call_submit(struct model_call *c, call_done_fn done, void *ctx)
{
    struct model *m = c->model;
    uint64_t now;
    int rc;

    if (m->sched == NULL) {
        rc = model_call_run(c);
        goto out;
    }
    if (done == NULL) {
        rc = MWE_INTERNAL;
        goto out;
    }
    now = time_mono_ns();
    c->t_queued_ns = now;
    c->deadline_ns = now + (uint64_t)m->opts.timeout_ms * UINT64_C(1000000);
    atomic_store(&c->state, CALL_QUEUED);
    c->done = done;
    c->done_ctx = ctx;
    rc = sched_submit(m->sched, c);
    if (rc == 0)
        rc = 1;
out:
    return rc;
}
