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

struct backend_ops;
struct model;
struct model_call;
struct model_pool;
struct registry;
struct registry_versions;
struct sched;

/* A dense row-major tensor of a call (host side only: plug-ins see struct mw_tensor_info). Inputs
 * and outputs live in the call's arena. */
struct mw_tensor {
    const char *name;
    int32_t dtype; /* enum mw_dtype */
    int32_t ndim;
    int64_t shape[MW_MAX_DIMS];
    void *data; /* ndim product elements; struct mw_bytes[] for MW_BYTES */
};

/* The declared signature of one input or output (host side only: plug-ins declare theirs with
 * host->add_input/add_output). shape[i] == -1 marks a variable dimension; when the model accepts
 * a batch, dimension 0 is the batch and is -1. */
struct mw_tensor_spec {
    const char *name;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[MW_MAX_DIMS];
    /* Optional: names of the columns of the last dimension (features for an input). */
    size_t n_names;
    const char *const *names;
    /* Optional: class labels for the last dimension of an output (probabilities per class). */
    size_t n_labels;
    const char *const *labels;
};

/* ---- signatures ------------------------------------------------------------------------------ */

/* A model's inputs and outputs. Owned by the model (strings included); immutable after load. */
struct model_sig {
    size_t n_inputs;
    struct mw_tensor_spec *inputs;
    size_t n_outputs;
    struct mw_tensor_spec *outputs;
    /* n_inputs flags, or NULL: input i may be null or missing in a record (a spec's "optional":
     * true; Python models' Optional[...] fields). Such an element holds 0 / an empty string. */
    bool *optional;
};

/* "FP32" -> MW_FP32 (the Open Inference Protocol names); MW_DTYPE_INVALID when unknown. */
int dtype_parse(const char *s, size_t len);
const char *dtype_name(int dtype);
/* Bytes per element; sizeof(struct mw_bytes) for MW_BYTES; 0 when invalid. */
size_t dtype_size(int dtype);
/* True when every value of `from` is exactly a value of `to` (docs/v2.md lists the pairs). */
bool dtype_lossless(int from, int to);
/* True for integer and floating-point dtypes (not BOOL, not BYTES). */
bool dtype_is_number(int dtype);
/* The range of an integer dtype: [*lo, *hi] (signed ones have *hi <= INT64_MAX; unsigned ones
 * *lo == 0). False, with both 0, for other dtypes. */
bool dtype_int_range(int dtype, int64_t *lo, uint64_t *hi);
/* "an object", "a number", ... : what a JSON value is, for "expected X, got <this>" messages of
 * the records and the V2 tensor codecs. */
const char *mw_json_type_desc(const json_t *v);
/* FP16 / BF16 bits <-> float. The _from_double forms succeed only when d is exactly representable
 * (finite, in range, no rounding), writing the bits to *out. */
float dtype_fp16_to_float(uint16_t h);
float dtype_bf16_to_float(uint16_t h);
/* Room for any element dtype_format_number writes, and its NUL. */
#define DTYPE_NUM_CAP 40
/* Writes element idx of a numeric or BOOL tensor's data as JSON text: integers exactly, floats
 * with the fewest digits that read back to the same value (FP16/BF16 as FP32), "-0.0" for
 * negative zero, "null" when not finite, true/false. Returns false for BYTES or an unknown dtype.
 * Shared by the native records codec and the V2 tensor codec so both print numbers alike. */
bool dtype_format_number(char out[DTYPE_NUM_CAP], int dtype, const void *data, size_t idx);
/* The shortest text of d that reads back as d (as a float when fp32); see dtype_format_number. */
void dtype_format_float(char out[DTYPE_NUM_CAP], double d, bool fp32);
bool dtype_fp16_from_double(double d, uint16_t *out);
bool dtype_bf16_from_double(double d, uint16_t *out);

/* Parses model.json's "signature" member ({"inputs":[...], "outputs":[...]}, each spec
 * {"name","datatype","shape",["names"],["labels"]}) into sig. Returns 0 or MWE_CONFIG with e. */
int model_sig_from_json(struct model_sig *sig, const json_t *signature, struct mw_error *e);
/* Deep copy (used for plug-in descriptors' static signatures). */
int model_sig_copy(struct model_sig *dst, const struct model_sig *src, struct mw_error *e);
void model_sig_fini(struct model_sig *sig);

/* ---- backends -------------------------------------------------------------------------------- */

/* Worker life-cycle events of out-of-process backends (a worker died, was killed past its
 * deadline): the API layer turns them into security/audit events. One hook per process, set at
 * start-up before any model loads; NULL: none. what is a static string. Any thread. */
typedef void (*model_event_fn)(void *ctx, const char *model, const char *version, int instance,
                               const char *what, int signal);
void model_set_event_hook(model_event_fn fn, void *ctx);
void model_event(const struct model *m, int instance, const char *what, int signal);

/* The worker processes of an out-of-process model, for metrics. */
struct model_worker_stats {
    unsigned instances; /* configured */
    unsigned live;      /* answering calls now */
    uint64_t restarts;  /* processes started again after a death, a deadline or recycling */
    uint64_t worker_ns; /* time calls spent waiting for a worker's answer */
};
/* Fills out and returns true for a model of an out-of-process backend; false otherwise. Any
 * thread holding a reference to m. */
bool model_worker_stats(const struct model *m, struct model_worker_stats *out);

/* ---- models ---------------------------------------------------------------------------------- */

#define BATCH_MAX_ROWS 4096     /* the largest max_batch_size a model.json may ask */
#define BATCH_MAX_DELAY_US 1000000 /* the largest max_queue_delay_us */
#define BATCH_MAX_PREFERRED 16  /* entries of preferred_batch_size */

struct model_opts {
    unsigned workers;     /* 0: run inline on the I/O thread; else worker threads */
    unsigned queue_size;  /* calls waiting beyond this are refused with MWE_OVERLOADED */
    unsigned timeout_ms;  /* deadline of a queued call; MWE_DEADLINE after it */
    unsigned max_records; /* records per native predict request */
};

/* Loads one model from dir/model.json. NULL on failure with e naming the file and the problem. */
struct model *model_load(const char *dir, const struct model_opts *defaults, struct mw_error *e);
/* Stops the scheduler (finishing queued calls) and frees everything, whatever the reference
 * count (use model_release for shared models). */
void model_free(struct model *m);
/* The versioned layout's model_load: the model is `name` version `version` whatever the folder is
 * called; model.json's "name" and "version", when present, must say the same, and
 * "version_policy" belongs to the model's folder, not to a version's. */
struct model *model_load_version(const char *dir, const char *name, const char *version,
                                 const struct model_opts *defaults, struct mw_error *e);
/* model_load for a model served as `name` (model_name_ok) whatever model.json's "name" says: the
 * single-model repository of KServe, whose --model_name is the InferenceService's name. */
struct model *model_load_as(const char *dir, const char *name, const struct model_opts *defaults,
                            struct mw_error *e);
/* Reference counting: a registry snapshot holds one reference on each of its models, so a model
 * shared by two snapshots lives until both are gone. The last release frees the model: on the
 * pool's reaper thread when m->pool is set (stopping a scheduler joins threads and may wait for a
 * running call: never on an I/O thread), inline otherwise. Any thread. */
void model_retain(struct model *m);
void model_release(struct model *m);
/* Graceful shutdown: marks m not ready and stops its scheduler (queued calls still run or expire,
 * every waiting requester gets its answer; later submissions get MWE_SHUTTING_DOWN). The model
 * stays valid until its last release. Main thread, holding a reference. */
void model_shutdown(struct model *m);
/* The model's public description: {"name","version","platform","description","ready",
 * "inputs":[{"name","datatype","shape",["names"]}], "outputs":[{..., ["labels"]}]}. New reference;
 * NULL when out of memory. */
json_t *model_describe(const struct model *m);

/* What the api and the cli read of a model (access.c). Strings are borrowed: valid while the
 * caller holds a reference to m or to a snapshot that serves it. Any thread. */
const char *model_get_name(const struct model *m);
const char *model_get_version(const struct model *m);
const char *model_get_platform(const struct model *m); /* e.g. "xgboost", "modelwrap_plugin" */
const char *model_get_description(const struct model *m); /* NULL when none */
const char *model_get_dir(const struct model *m);         /* the folder holding its model.json */
const char *model_get_backend(const struct model *m);     /* model.json's "backend"; "unknown" */
/* Inputs and outputs; immutable after load. */
const struct model_sig *model_get_signature(const struct model *m);
/* Records per native predict request. */
unsigned model_get_max_records(const struct model *m);
/* Of its folder's files when loaded: equal for a model a reload shares. */
uint64_t model_get_fingerprint(const struct model *m);
bool model_is_ready(const struct model *m);
/* Its backend runs it in worker processes ("python", "sklearn"): calls carry the request id for
 * the lines the workers log. */
bool model_is_python(const struct model *m);
/* run() answers arbitrary JSON for calls carrying a body (the template's Model class). */
bool model_answers_json(const struct model *m);
/* Calls go to worker threads (model_call_submit may return 1), not inline. */
bool model_has_workers(const struct model *m);
/* Calls waiting in its scheduler's queue; 0 without workers. */
size_t model_queue_pending(const struct model *m);

/* ---- calls ----------------------------------------------------------------------------------- */

typedef void (*call_done_fn)(struct model_call *call, void *ctx);

/*
 * The decoding budget, one rule for the native records API and the Open Inference Protocol: a
 * call's arena (its input tensors, BYTES copies and outputs) may hold at most
 * MODEL_CALL_BUDGET_FACTOR bytes per byte of the request body actually received, plus
 * MODEL_CALL_BUDGET_RESERVE for the model's outputs. The decoders check every declared size
 * (shape, binary_data_size, record count) against the data present before allocating anything
 * proportional to it, so no valid request reaches the bound through its inputs (the widest input
 * expansion, a JSON BYTES element "" of 3 bytes, takes 32) and a request that declares more than
 * it carries is a 400. docs/security.md ("Decoding budget") states it for operators.
 */
#define MODEL_CALL_BUDGET_FACTOR ((size_t)16)
#define MODEL_CALL_BUDGET_RESERVE ((size_t)16 << 20)
/* The arena bound of a call decoded from body_len bytes of request body. Any thread. */
size_t model_call_budget(size_t body_len);
/* A new call with one reference and n_inputs zeroed input tensors; NULL when out of memory.
 * arena_max bounds the call's memory (0: unlimited; requests use model_call_budget). */
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

/* What the api and the cli read of a call (access.c). Any thread holding a reference to c,
 * after it completed for the results. */
/* The model it runs (borrowed: the snapshot the request holds keeps it alive). */
struct model *model_call_model(const struct model_call *c);
/* MWE_* after the call completed (0: success). */
int model_call_status(const struct model_call *c);
/* The message set with MWE_INVALID_INPUT; "" when none. */
const char *model_call_errmsg(const struct model_call *c);
/* Records a refused submission as the call's result: the caller answers it like a completed
 * call. Before submission only. */
void model_call_fail(struct model_call *c, int status);
/* The JSON text a json-answers model answered (*len its length); NULL until then. */
const char *model_call_answer(const struct model_call *c, size_t *len);
/* Output i once the call completed; NULL for an index out of range. */
const struct mw_tensor *model_call_output_at(const struct model_call *c, size_t i);
/* The batch dimension of the first input: true with *rows when there is one (ndim >= 1, a
 * shape[0] >= 0). */
bool model_call_rows(const struct model_call *c, uint64_t *rows);
/* Copies the request body (len bytes, NUL added) / the request id into c's arena for the model.
 * 0 or MWE_NOMEM. Before submission. */
int model_call_set_body(struct model_call *c, const char *body, size_t len);
int model_call_set_request_id(struct model_call *c, const char *id);
/* When the call was queued, started and finished (time_mono_ns; 0: not reached) and whether it
 * ran in a merged batch (batch_rows: that batch's rows on its first call, 0 on the others). */
struct model_call_times {
    uint64_t queued_ns, started_ns, done_ns;
    bool batched;
    uint64_t batch_rows;
};
void model_call_get_times(const struct model_call *c, struct model_call_times *out);

/* ---- registry -------------------------------------------------------------------------------- */

/* A registry snapshot is immutable once built: model i (0 <= i < registry_count, sorted by name)
 * is the newest loaded version of its model (what unversioned requests and the v1 API use) and
 * its versions are listed newest first (version 0 is model i). Reference-counted: readers retain
 * it for the duration of a request; a reload builds a new one sharing every unchanged model.
 * The accessors (access.c) borrow: valid while the caller holds the snapshot. Any thread. */
size_t registry_count(const struct registry *r);
struct model *registry_model_at(const struct registry *r, size_t i);
/* The model behind /api/predict and /api/v1/predict; NULL when there is none. */
struct model *registry_default(const struct registry *r);
size_t registry_n_versions(const struct registry *r, size_t i);
struct model *registry_version_at(const struct registry *r, size_t i, size_t k);
/* The repository folder it was loaded from. */
const char *registry_get_dir(const struct registry *r);
/* The entries of registry_versions_of's answer, newest first. */
size_t registry_versions_count(const struct registry_versions *vs);
struct model *registry_versions_at(const struct registry_versions *vs, size_t k);

/* Loads every model of the repository dir (models/<name>/model.json and the
 * versioned layout below) without a pool: registry_open with pool NULL. default_name selects the
 * default model (NULL: the only model, else "iris"). NULL on the first failure with e naming the
 * file and problem; nothing stays loaded then. */
struct registry *registry_load(const char *dir, const char *default_name,
                               const struct model_opts *defaults, struct mw_error *e);
/* Drops one reference (registry_release): the last frees the snapshot and releases its models. */
void registry_free(struct registry *r);
/* The newest loaded version of the model named by the len bytes at name; NULL when none. */
struct model *registry_find(const struct registry *r, const char *name, size_t len);
bool registry_ready(const struct registry *r);

/* ---- model repository: versions, snapshots, reload (repo.c) ----------------------------
 * Layout: <dir>/<model>/model.json (one version: model.json's "version", default "1") and/or
 * <dir>/<model>/<version>/model.json (one folder per version). <dir>/<model>/model.json without a
 * "backend" next to version folders only holds model-level settings: "name", "description" and
 * "version_policy" ({"latest": N} (default 1), {"all": {}}, {"specific": ["1", "3"]}; Triton's
 * {"latest": {"num_versions": N}} and {"specific": {"versions": [1, 3]}} too). docs/v2.md. */

struct repo_opts {
    const char *dir;                   /* the repository folder */
    const char *default_name;          /* NULL or "": the only model, else "iris" */
    const struct model_opts *defaults; /* NULL: built-in */
    struct model_pool *pool;           /* NULL: models are freed inline by their last release */
};

enum repo_op {
    REPO_RESCAN = 0, /* SIGHUP: every model of the repository (but the unloaded ones) */
    REPO_LOAD = 1,   /* load or reload one model (forced), the others stay as they are */
    REPO_UNLOAD = 2, /* stop serving one model until it is loaded again */
};

/* Start-up: loads the repository; NULL on the first problem with e naming the file (nothing stays
 * loaded). One reference; release with registry_release. Main thread. */
struct registry *registry_open(const struct repo_opts *o, struct mw_error *e);
/* registry_open of a single-model repository (KServe's --model_dir): o->dir is one model folder
 * (either layout), not a folder of them, served under `name` whatever its model.json says
 * (KServe's --model_name; NULL: model.json's "name", else the folder's). Reloads keep this. */
struct registry *registry_open_folder(const struct repo_opts *o, const char *name,
                                      struct mw_error *e);
/* A new snapshot from cur (borrowed, unchanged) and the repository as it is now, for op on the
 * model `name` (len bytes; ignored for REPO_RESCAN). Unchanged models are shared with cur.
 * REPO_RESCAN: a model whose new state fails to load keeps the versions cur has (logged, and
 * reported by registry_index); e->code is then set to the first such error although a snapshot
 * is returned (0 when everything loaded). NULL with e when nothing can change: the repository
 * cannot be read or holds no model (RESCAN), the model is unknown (MWE_MODEL_NOT_FOUND) or fails to
 * load (REPO_LOAD; MWE_CONFIG / MWE_NOMEM). Runs loads: the caller's thread (main, or the I/O
 * thread of an admin request), serialised by the caller. */
struct registry *registry_reload(struct registry *cur, int op, const char *name, size_t len,
                                 struct mw_error *e);
/* Reference counting of snapshots (any thread; the last release frees the registry and releases
 * its models). registry_free is registry_release. */
void registry_retain(struct registry *r);
void registry_release(struct registry *r);
/* Version `version` (vlen bytes) of model `name`; NULL when not loaded. Any thread. */
struct model *registry_find_version(const struct registry *r, const char *name, size_t len,
                                    const char *version, size_t vlen);
/* Every loaded version of model `name`, newest first; NULL when not loaded. Any thread. */
const struct registry_versions *registry_versions_of(const struct registry *r, const char *name,
                                                     size_t len);
/* The repository extension's index: [{"name","version","state":"READY"|"UNAVAILABLE","reason"}]:
 * the loaded versions, the states of r and the models of the repository folder that r does not
 * know (read now); ready_only keeps the READY ones. New reference, NULL when out of memory. */
json_t *registry_index(const struct registry *r, bool ready_only);

/* ---- the current snapshot (registry_current.c) -----------------------------------------------
 * The registry being served, behind a core snap: readers take a reference without a lock, a
 * reload publishes a new snapshot and the previous one loses the reference held here as soon as
 * no reader is between loading it and retaining it (core.h's snapshots; nobody ever waits). */
struct registry_current {
    struct snap snap;            /* struct registry *: one reference of its own */
    pthread_mutex_t reload_lock; /* serialises reloads: SIGHUP and the repository API */
};

/* Makes r (may be NULL) current, taking over the caller's reference. Before any other use. */
void registry_current_init(struct registry_current *c, struct registry *r);
/* Releases the current snapshot. No reader or reload may be active (main thread, at exit). */
void registry_current_fini(struct registry_current *c);
/* A new reference to the current snapshot (release with registry_release). Lock-free; any
 * thread. */
struct registry *registry_current_acquire(struct registry_current *c);
/* The current snapshot without a reference: for the thread that installed it (start-up code on
 * the main thread) and for tests; never for a request. */
struct registry *registry_current_peek(struct registry_current *c);
/* registry_reload(current, op, name) and, when it returns a snapshot, publishes it and logs
 * "model repository reloaded": new readers see it at once, readers that hold the previous one keep
 * it until their release. *published (when not NULL) gets the new snapshot (no reference),
 * written under the reload lock. Serialised with other reloads; runs the loads on the calling
 * thread. 0 (e->code may still report a model a RESCAN refused: see registry_reload) or the error
 * (MWE_INTERNAL when e said nothing) with nothing changed. */
int registry_current_reload(struct registry_current *c, int op, const char *name, size_t len,
                            struct registry **published, struct mw_error *e);

/* The pool of live models: it frees released models on its own reaper thread and stops every
 * live model's scheduler at shutdown. */
struct model_pool *model_pool_new(struct mw_error *e);
/* model_shutdown on every live model. Main thread (graceful shutdown, after the drain). */
void model_pool_shutdown(struct model_pool *p);
/* Waits until the reaper has freed every model released so far. Any thread but the reaper. */
void model_pool_flush(struct model_pool *p);
/* Live models (loaded and not yet freed). Any thread. */
size_t model_pool_live(struct model_pool *p);
/* Frees what was released, stops the reaper, detaches models still referenced (their last
 * release then frees them inline) and frees p. NULL-safe. Main thread, at exit. */
void model_pool_free(struct model_pool *p);

#endif /* MW_MODEL_H */
