/*
 * model: the model repository (registry), model calls (inputs, outputs, per-call arena), the
 * scheduler that runs calls inline or on worker threads with deadlines, the backends (built-in
 * XGBoost, C plug-ins through include/modelwrap/model.h) and the records codec of the native API.
 */
#ifndef MW_MODEL_H
#define MW_MODEL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "modelwrap/model.h"

struct model;
struct model_call;
struct sched;

/* ---- signatures ------------------------------------------------------------------------------ */

/* A model's inputs and outputs. Owned by the model (strings included); immutable after load. */
struct model_sig {
    size_t n_inputs;
    struct mw_tensor_spec *inputs;
    size_t n_outputs;
    struct mw_tensor_spec *outputs;
};

/* "FP32" -> MW_FP32 (the Open Inference Protocol names); MW_DTYPE_INVALID when unknown. */
int dtype_parse(const char *s, size_t len);
const char *dtype_name(int dtype);
/* Bytes per element; sizeof(struct mw_bytes) for MW_BYTES; 0 when invalid. */
size_t dtype_size(int dtype);

/* Parses model.json's "signature" member ({"inputs":[...], "outputs":[...]}, each spec
 * {"name","datatype","shape",["names"],["labels"]}) into sig. Returns 0 or MWE_CONFIG with e. */
int model_sig_from_json(struct model_sig *sig, const json_t *signature, struct mw_error *e);
/* Deep copy (used for plug-in descriptors' static signatures). */
int model_sig_copy(struct model_sig *dst, const struct model_sig *src, struct mw_error *e);
void model_sig_fini(struct model_sig *sig);

/* ---- backends -------------------------------------------------------------------------------- */

/* A built-in way of loading and running models. Implementations: backends/xgboost.c ("xgboost"),
 * backends/plugin.c ("plugin", adapts the public ABI). */
struct backend_ops {
    const char *name;
    /* Loads m from its folder m->dir and its parsed model.json (borrowed). Must set m->state,
     * m->flags (MW_FLAG_*) and fill m->sig (which may already hold model.json's "signature", when
     * it had one: the backend checks it or replaces it). Returns 0 or MWE_CONFIG with a message
     * naming the file and the problem. Runs at start-up / reload, on the main thread. */
    int (*load)(struct model *m, const json_t *model_json, struct mw_error *e);
    /* Runs one call: reads call->inputs, allocates outputs with model_call_output(). Returns 0,
     * MWE_INVALID_INPUT (with model_call_set_error) or MWE_MODEL_FAILED. Thread context: any
     * thread; concurrent calls only when m->flags has MW_FLAG_THREAD_SAFE. */
    int (*run)(struct model *m, struct model_call *call);
    /* Frees m->state. */
    void (*free)(struct model *m);
};

extern const struct backend_ops backend_xgboost;
extern const struct backend_ops backend_plugin;
/* Finds a backend by model.json's "backend" value; NULL when unknown. */
const struct backend_ops *backend_find(const char *name);

/* ---- models ---------------------------------------------------------------------------------- */

struct model_opts {
    unsigned workers;     /* 0: run inline on the I/O thread; else worker threads */
    unsigned queue_size;  /* calls waiting beyond this are refused with MWE_OVERLOADED */
    unsigned timeout_ms;  /* deadline of a queued call; MWE_DEADLINE after it */
    unsigned max_records; /* records per native predict request */
};

struct model {
    char *name;
    char *version;
    char *dir;      /* folder holding model.json */
    char *platform; /* e.g. "xgboost", "modelwrap_plugin" */
    char *description;
    const struct backend_ops *ops;
    void *state;    /* the backend's */
    uint32_t flags; /* MW_FLAG_* */
    struct model_sig sig;
    struct model_opts opts;
    struct sched *sched; /* NULL when opts.workers == 0 */
    pthread_mutex_t run_lock; /* serialises run() when not MW_FLAG_THREAD_SAFE */
    atomic_bool ready;
};

/* Loads one model from dir/model.json. NULL on failure with e naming the file and the problem. */
struct model *model_load(const char *dir, const struct model_opts *defaults, struct mw_error *e);
/* Stops the scheduler (finishing queued calls) and frees everything. */
void model_free(struct model *m);
/* The model's public description: {"name","version","platform","description","ready",
 * "inputs":[{"name","datatype","shape",["names"]}], "outputs":[{..., ["labels"]}]}. New reference;
 * NULL when out of memory. */
json_t *model_describe(const struct model *m);

/* ---- calls ----------------------------------------------------------------------------------- */

enum call_state { CALL_QUEUED = 0, CALL_RUNNING = 1, CALL_DONE = 2, CALL_EXPIRED = 3 };

typedef void (*call_done_fn)(struct model_call *call, void *ctx);

/* One invocation of a model. Reference-counted: the requester holds one reference and the
 * scheduler one while queued or running, so a request that gave up (deadline) can go away while
 * the model still runs. All its memory comes from its arena. */
struct model_call {
    struct arena arena;
    struct model *model; /* borrowed; the registry outlives every call */
    size_t n_inputs;
    struct mw_tensor *inputs;  /* n_inputs, in the order of model->sig.inputs */
    size_t n_outputs;
    struct mw_tensor *outputs; /* model->sig.n_outputs entries; data NULL until allocated */
    int status;                /* MWE_* after the call completed */
    char errmsg[256];          /* set with MWE_INVALID_INPUT */

    /* scheduling (owned by sched.c) */
    atomic_int refs;
    atomic_int state; /* enum call_state */
    uint64_t deadline_ns;
    uint64_t t_queued_ns, t_started_ns, t_done_ns;
    call_done_fn done;
    void *done_ctx;
    struct model_call *next;
};

/* A new call with one reference and n_inputs zeroed input tensors; NULL when out of memory.
 * arena_max bounds the call's memory (0: unlimited). */
struct model_call *model_call_new(struct model *m, size_t arena_max);
void model_call_retain(struct model_call *c);
void model_call_release(struct model_call *c);
/* Allocates output `index` with the given shape (dtype from the signature); zeroed. NULL on a bad
 * index/shape, a second allocation, or out of memory. */
void *model_call_output(struct model_call *c, size_t index, int32_t ndim, const int64_t *shape);
void model_call_set_error(struct model_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs the call now on this thread (serialised when the model is not thread-safe), then checks
 * every output was allocated. Returns and stores in c->status 0 or an MWE_* code. */
int model_call_run(struct model_call *c);
/* model_call_run without storing anything in c (status, timings): the scheduler's worker uses it
 * and publishes the result only if the call did not expire meanwhile (sched.c). */
int model_call_exec(struct model_call *c);

/* Runs c inline when the model has no workers (returns 0 or the status, `done` is not called), or
 * queues it and returns 1: `done(c, ctx)` is then called exactly once from another thread, with
 * c->status set (MWE_DEADLINE when the deadline passed first). Returns MWE_OVERLOADED when the
 * queue is full and MWE_SHUTTING_DOWN while stopping (done is not called then). */
int model_call_submit(struct model_call *c, call_done_fn done, void *ctx);

/* ---- scheduler (sched.c) --------------------------------------------------------------------- */

struct sched *sched_new(struct model *m, struct mw_error *e);
/* Refuses new calls, runs or expires every queued call, joins the threads, frees. */
void sched_free(struct sched *s);
int sched_submit(struct sched *s, struct model_call *c);
size_t sched_pending(const struct sched *s);

/* ---- registry -------------------------------------------------------------------------------- */

struct registry {
    size_t n;
    struct model **models; /* sorted by name */
    struct model *default_model; /* may be NULL when there is none */
};

/* Loads every models/<name>/model.json under dir. default_name selects the default model (NULL:
 * the only model, else "iris"). NULL on the first failure with e naming the file and problem;
 * nothing stays loaded then. */
struct registry *registry_load(const char *dir, const char *default_name,
                               const struct model_opts *defaults, struct mw_error *e);
void registry_free(struct registry *r);
struct model *registry_find(const struct registry *r, const char *name, size_t len);
bool registry_ready(const struct registry *r);

/* ---- records codec (records.c): the native API's JSON ------------------------------------------
 * A model is record-shaped when its inputs are either one [-1, F] numeric tensor with F names (a
 * record is an object with those names) or 1-D [-1] tensors (a record member per input name). */

/* Decodes {"data":[{...}, ...]} (already parsed by the caller) into c->inputs. Validates types,
 * finiteness, unknown and missing members, 1 <= records <= max_records. On failure returns
 * MWE_INVALID_INPUT (or MWE_BAD_REQUEST for a body that is not an object with "data") with e->msg
 * naming the place, e.g. "data[3].petal_width: expected a number, got a string". */
int records_decode(struct model_call *c, const json_t *body, unsigned max_records, struct mw_error *e);
/* Appends {"model":..., "model_version":..., "predictions":[...]} for a completed call. */
int records_encode(const struct model_call *c, struct buf *out);

#endif /* MW_MODEL_H */
