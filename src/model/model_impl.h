/*
 * model_impl.h: the definitions of the model layer's types (struct model, struct model_call, the
 * registry snapshot), the backend interface, the scheduler and dynamic batching. model.h declares
 * these types opaque: everything outside src/model/ uses its accessors. Only src/model/ (its
 * backends included) and the unit tests and fuzzers of those files include this header.
 */
#ifndef MW_MODEL_IMPL_H
#define MW_MODEL_IMPL_H

#include "model/model.h"

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
/* backends/python.c: Python models in worker processes (docs/python-workers.md). */
extern const struct backend_ops backend_python;
extern const struct backend_ops backend_sklearn;
/* True for the backends that run models in worker processes of their own ("python", "sklearn"):
 * their model.json's "instances" sets the scheduler's workers. */
bool backend_is_python(const struct backend_ops *ops);

/* Finds a backend by model.json's "backend" value; NULL when unknown. */
const struct backend_ops *backend_find(const char *name);

/* ---- models ---------------------------------------------------------------------------------- */

/* ---- dynamic batching: model.json's "dynamic_batching" (docs/batching.md). Per model
 * only (no server-wide default), so it lives beside struct model_opts rather than in it. */
struct batch_opts {
    unsigned max;          /* max_batch_size in rows; 0: batching off (the default) */
    unsigned delay_us;     /* max_queue_delay_us from the oldest call's enqueue time */
    unsigned n_preferred;  /* preferred_batch_size entries, increasing, each <= max */
    unsigned preferred[BATCH_MAX_PREFERRED];
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
    /* ---- versions, reference counting, reload ---- */
    atomic_int refs;          /* model_retain / model_release; 1 when model_load returns */
    uint64_t fingerprint;     /* of its folder's files when loaded (repo.c): reloads share a model
                               * whose folder did not change */
    struct model_pool *pool;  /* set by the repository; NULL: the last release frees inline */
    struct model *pool_prev, *pool_next; /* the pool's list of live models (pool lock) */
    struct model *dead_next;  /* the pool's queue of models to free (pool lock) */
    /* ---- dynamic batching ---- */
    struct batch_opts batch; /* read from model.json; checked by sched_new */
    /* ---- Python models ----
     * json_answers: run() answers arbitrary JSON (call->answer) for calls that carry a body
     * (the template's Model class): the records API passes the body and returns the answer.
     * run_many, when set, runs several held calls as one batch itself (instead of batch_merge +
     * batch_split), storing each call's status in rc[]. Set by the backend's load. */
    bool json_answers;
    void (*run_many)(struct model *m, struct model_call **calls, size_t n, int *rc);
    /* Set by a backend that found the model cannot be batched after all (a template model whose
     * answer could not be split): the scheduler stops gathering batches for it. */
    atomic_bool batch_off;
};

/* ---- calls ----------------------------------------------------------------------------------- */

enum call_state { CALL_QUEUED = 0, CALL_RUNNING = 1, CALL_DONE = 2, CALL_EXPIRED = 3 };

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
    /* ---- dynamic batching: set by the worker before the run, read after done ----
     * batched: the call ran as part of a merged backend run; batch_rows: that run's rows on the
     * batch's first call (the one that reports it to the batch-size metric), 0 on the others. */
    bool batched;
    uint64_t batch_rows;
    /* ---- Python models (json_answers) ----
     * body: the request body's JSON text (borrowed: it lives in c->arena), passed unchanged to a
     * template model; answer: the JSON text it answered (in c->arena; NULL until then).
     * request_id: the request's id for the model's log lines (in c->arena; may be NULL). */
    const char *body;
    size_t body_len;
    const char *answer;
    size_t answer_len;
    const char *request_id;
    uint64_t worker_ns; /* time the call spent in a worker process (0: none) */
};

/* ---- scheduler (sched.c) --------------------------------------------------------------------- */

struct sched *sched_new(struct model *m, struct mw_error *e);
/* Refuses new calls, runs or expires every queued call, joins the threads, frees. */
void sched_free(struct sched *s);
/* sched_free without the free: afterwards submissions get MWE_SHUTTING_DOWN and s stays valid
 * until sched_free. Idempotent; not concurrently with sched_free (hold a model reference). */
void sched_shutdown(struct sched *s);
int sched_submit(struct sched *s, struct model_call *c);
size_t sched_pending(const struct sched *s);

/* ---- dynamic batching (batch.c) ------------------------------------------------------
 * Merging the inputs of calls of one MW_FLAG_BATCH model along dimension 0 into one call, and
 * splitting its outputs back. */

/* Rows of c (inputs[0].shape[0]); -1 when c cannot take part in a batch (no input, an input
 * without a batch dimension, or inputs whose batch dimensions differ). */
int64_t batch_rows_of(const struct model_call *c);
/* True when b's inputs can be concatenated to a's: same count, dtypes, ndim and non-batch dims. */
bool batch_compatible(const struct model_call *a, const struct model_call *b);
/* A new call (one reference, unbounded arena) of calls[0]'s model whose every input is the
 * concatenation along dim 0 of the calls' (n >= 1, pairwise batch_compatible, borrowed: BYTES
 * elements point into their arenas, so they must outlive the merged call's run). NULL when out of
 * memory or on bad arguments. Any thread. */
struct model_call *batch_merge(struct model_call *const *calls, size_t n);
/* Copies rows [offset, offset + rows of c) of every output of the completed merged call into c's
 * outputs (allocated with model_call_output; BYTES elements copied into c's arena). 0,
 * MWE_MODEL_FAILED when the merged outputs do not have the batch's rows, MWE_NOMEM when c's
 * arena refuses. Thread: the worker holding both calls. */
int batch_split(const struct model_call *merged, struct model_call *c, int64_t offset);

/* ---- registry -------------------------------------------------------------------------------- */

struct registry {
    size_t n;
    struct model **models; /* sorted by name */
    struct model *default_model; /* may be NULL when there is none */
    /* ---- versions, snapshots, reload ----
     * A registry is an immutable snapshot once built: models[i] is the newest loaded version of
     * its model (what unversioned requests and the v1 API use) and versions[i] lists every loaded
     * version of it, newest first (versions[i].v[0] == models[i]). Reference-counted: readers
     * retain it for the duration of a request; a reload builds a new one that shares every
     * unchanged model. */
    struct registry_versions *versions; /* n entries */
    size_t n_states;
    struct model_state *states; /* what the repository index reports as not served, and why */
    size_t n_unloaded;
    char **unloaded; /* names unloaded through the repository API, sorted: reloads skip them */
    atomic_int refs;
    /* how it was loaded, for the next reload */
    char *dir;
    char *default_name;          /* NULL: the only model, else "iris" */
    struct model_opts defaults;
    bool has_defaults;
    struct model_pool *pool;
    bool single;       /* registry_open_folder's */
    char *single_name; /* registry_open_folder's name (a copy), NULL: model.json's */
};

struct registry_versions {
    size_t n;
    struct model **v; /* newest first */
};

/* A model (or one version of it) the repository has but the snapshot does not serve. */
struct model_state {
    char *name;
    char *version; /* NULL: the whole model */
    char *reason;  /* "unloaded", or the error that refused it */
};

#endif /* MW_MODEL_IMPL_H */
