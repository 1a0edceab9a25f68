/*
 * modelwrap model plug-in ABI: the only public header. A plug-in is a shared object that exports
 * mw_model_entry(), which returns a const descriptor. Read docs/ABI.md for the compatibility promise.
 * Depends on <stdint.h>, <stddef.h> and <stdbool.h> only.
 */
#ifndef MODELWRAP_MODEL_H
#define MODELWRAP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A host accepts a descriptor whose major equals its own and whose minor is any value; it reads
 * fields past those it knows only when desc->size says they are present. */
#define MW_ABI_MAJOR 1
#define MW_ABI_MINOR 1

/* The symbol the host looks up with dlsym(). */
#define MW_ENTRY_SYMBOL "mw_model_entry"

#define MW_MAX_DIMS 8

/* Element types. Values are fixed forever; new ones are appended. */
enum mw_dtype {
    MW_DTYPE_INVALID = 0,
    MW_BOOL = 1, /* one byte, 0 or 1 */
    MW_UINT8 = 2,
    MW_UINT16 = 3,
    MW_UINT32 = 4,
    MW_UINT64 = 5,
    MW_INT8 = 6,
    MW_INT16 = 7,
    MW_INT32 = 8,
    MW_INT64 = 9,
    MW_FP32 = 10,
    MW_FP64 = 11,
    MW_BYTES = 12, /* elements are struct mw_bytes */
    /* ABI 1.1 */
    MW_FP16 = 13, /* IEEE 754 binary16, stored as its 2 raw bytes (uint16_t bits) */
    MW_BF16 = 14, /* bfloat16: the high 16 bits of an FP32, stored as uint16_t bits */
};

/* One element of a BYTES tensor: not NUL-terminated. */
struct mw_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* A dense row-major tensor. For inputs the host owns everything and it is valid for the duration of
 * run(). For outputs the host allocates data through mw_host.output(). */
struct mw_tensor {
    const char *name;
    int32_t dtype; /* enum mw_dtype */
    int32_t ndim;
    int64_t shape[MW_MAX_DIMS];
    void *data; /* ndim product elements; struct mw_bytes[] for MW_BYTES */
};

/* The declared signature of one input or output. shape[i] == -1 marks a variable dimension; when
 * the model accepts a batch, dimension 0 is the batch and is -1. */
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

/* Log levels for mw_host.log. */
enum mw_log_level { MW_LOG_ERROR = 0, MW_LOG_WARN = 1, MW_LOG_INFO = 2, MW_LOG_DEBUG = 3 };

/* Return codes of load() and run(). Anything else is treated as MW_ERR_INTERNAL. */
enum mw_status {
    MW_OK = 0,
    MW_ERR_INVALID_INPUT = -1, /* the request's data is wrong: the client gets 422 */
    MW_ERR_INTERNAL = -2,      /* the model failed: the client gets 500 */
    MW_ERR_NOMEM = -3,
};

struct mw_call; /* opaque: one call of run(), owned by the host */

/* Services the host gives to the plug-in. Only appended to; check size before using new fields. */
struct mw_host {
    uint32_t size; /* sizeof(struct mw_host) as the host was built */
    /* Memory that lives until the call's outputs have been consumed; NULL when out of memory. Use
     * it for BYTES output elements and scratch space. Never free it. */
    void *(*alloc)(struct mw_call *call, size_t nbytes);
    /* Allocates output number `index` (order of desc->outputs) with the given shape and returns its
     * zeroed data buffer (struct mw_bytes[] for BYTES outputs), or NULL on a bad index/shape or when
     * out of memory. Each output must be allocated exactly once per call. */
    void *(*output)(struct mw_call *call, size_t index, int32_t ndim, const int64_t *shape);
    /* Writes one line to the server's operational log. `call` may be NULL (in load()). */
    void (*log)(struct mw_call *call, int level, const char *message);
    /* A short message returned to the client with MW_ERR_INVALID_INPUT (copied by the host). */
    void (*set_error)(struct mw_call *call, const char *message);
};

/* Descriptor flags. */
#define MW_FLAG_THREAD_SAFE (1u << 0) /* run() may be called concurrently on one state */
#define MW_FLAG_BATCH (1u << 1)       /* dimension 0 of every input and output is the batch */

struct mw_model_desc {
    uint32_t abi_major; /* MW_ABI_MAJOR */
    uint32_t abi_minor; /* MW_ABI_MINOR */
    uint32_t size;      /* sizeof(struct mw_model_desc) as the plug-in was built */
    uint32_t flags;     /* MW_FLAG_* */
    const char *name;   /* the plug-in's own name, for logs */
    const char *version;

    size_t n_inputs;
    const struct mw_tensor_spec *inputs;
    size_t n_outputs;
    const struct mw_tensor_spec *outputs;

    /* Loads the model. `dir` is the model's folder; `config_json` is the "config" object of its
     * model.json as JSON text ("{}" when absent). On success stores the model state in *state. */
    int (*load)(const struct mw_host *host, const char *dir, const char *config_json, void **state);
    /* Runs one call. Inputs match desc->inputs in order, validated by the host against the
     * signature. Allocates every output through host->output(). */
    int (*run)(void *state, const struct mw_host *host, struct mw_call *call,
               const struct mw_tensor *inputs, size_t n_inputs);
    /* Releases the state; called once, after the last run() has returned. */
    void (*free)(void *state);
};

typedef const struct mw_model_desc *(*mw_entry_fn)(void);

/* The entry point every plug-in defines (and exports), declared here so its definition has a
 * prototype the compiler checks against. */
const struct mw_model_desc *mw_model_entry(void);

#ifdef __cplusplus
}
#endif
#endif /* MODELWRAP_MODEL_H */
