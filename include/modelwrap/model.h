/*
 * modelwrap model plug-in ABI 2: the only public header. A plug-in is a shared object that exports
 * one function, mw_plugin_init (MW_ENTRY_SYMBOL, type mw_init_fn). The host calls it once after
 * dlopen() with its table of services; the plug-in checks in with MW_PLUGIN_CHECK_IN, reads its
 * configuration, loads what it needs, declares its signature and its run/free callbacks, and
 * returns MW_OK or a status with a message set through host->fail. docs/ABI.md gives the
 * compatibility promise and a complete example. Depends on <stdbool.h>, <stddef.h>, <stdint.h>.
 */
#ifndef MODELWRAP_MODEL_H
#define MODELWRAP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The host refuses a plug-in whose major differs from its own; any minor of the same major is
 * accepted (a minor only appends members to struct mw_host and to the sized structs below). */
#define MW_ABI_MAJOR 2
#define MW_ABI_MINOR 0

/* The symbol the host looks up with dlsym(). Never changes. */
#define MW_ENTRY_SYMBOL "mw_plugin_init"

/* The most dimensions of a tensor this header's host accepts. */
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
    MW_FP16 = 13,  /* IEEE 754 binary16, stored as its 2 raw bytes (uint16_t bits) */
    MW_BF16 = 14,  /* bfloat16: the high 16 bits of an FP32, stored as uint16_t bits */
};

/* One element of a BYTES tensor: not NUL-terminated. Frozen: it travels in arrays. */
struct mw_bytes {
    const uint8_t *ptr;
    size_t len;
};

/* Statuses of every host call and plug-in callback. Values are fixed forever. */
enum mw_status {
    MW_OK = 0,
    MW_ERR_INVALID_INPUT = -1, /* run(): the request's data is wrong: the client gets 422 */
    MW_ERR_INTERNAL = -2,      /* the model failed: the client gets 500 */
    MW_ERR_NOMEM = -3,
    MW_ERR_ABSENT = -4, /* config getter: no such key */
    MW_ERR_TYPE = -5,   /* config getter: the value has another JSON type */
    MW_ERR_USAGE = -6,  /* a host call with a bad argument or at the wrong time (see its comment) */
    MW_ERR_VERSION = -7 /* check_in: the plug-in's major is not the host's */
};

/* Log levels for host->log. */
enum mw_log_level { MW_LOG_ERROR = 0, MW_LOG_WARN = 1, MW_LOG_INFO = 2, MW_LOG_DEBUG = 3 };

/* Model flags (struct mw_model.flags). */
#define MW_FLAG_THREAD_SAFE (1u << 0) /* run() may be called concurrently on one state */
#define MW_FLAG_BATCH (1u << 1)       /* dimension 0 of every input and output is the batch */

struct mw_plugin; /* opaque: the plug-in being loaded; valid only during mw_plugin_init */
struct mw_call;   /* opaque: one call of run(); valid only during that run() */
struct mw_host;

/* What the plug-in registers with host->set_model. Sized: set .size = sizeof(struct mw_model);
 * the host reads only the first .size bytes, so members appended later keep their default. */
struct mw_model {
    uint32_t size;
    uint32_t flags;      /* MW_FLAG_* */
    const char *name;    /* the plug-in's own name, for logs (copied) */
    const char *version; /* its version, for logs (copied) */
    void *state;         /* passed to run and free */
    /* One call: read the inputs with host->input, allocate every output with host->output. */
    int (*run)(void *state, const struct mw_host *host, struct mw_call *call);
    /* Called once, after the last run() has returned (may be NULL). */
    void (*free)(void *state);
};

/* One input of a call, as host->input fills it. Sized: set .size = sizeof(struct mw_tensor_info)
 * before the call; the host writes only the first .size bytes. */
struct mw_tensor_info {
    uint32_t size;
    int32_t dtype; /* enum mw_dtype, the declared one */
    int32_t ndim;
    const int64_t *shape; /* ndim dimensions, valid during run() */
    const void *data;     /* row-major elements; struct mw_bytes[] for MW_BYTES */
    size_t count;         /* number of elements (the product of shape) */
    const char *name;
};

/* The services of the host. The host owns it; it outlives the plug-in. Members are only ever
 * appended: before using one newer than MW_ABI 2.0, test MW_HOST_HAS(host, member). */
struct mw_host {
    /* ---- frozen for every major: size, version, check_in ---- */
    uint32_t size; /* sizeof(struct mw_host) as the host was built */
    uint32_t abi_major;
    uint32_t abi_minor;
    /* The first call of mw_plugin_init (use MW_PLUGIN_CHECK_IN). Refuses, with MW_ERR_VERSION and
     * a message naming both versions, a major that is not the host's. Every other call but
     * fail made before it succeeds is refused (MW_ERR_USAGE, or NULL). */
    int (*check_in)(struct mw_plugin *p, uint32_t major, uint32_t minor, uint32_t host_size);

    /* ---- during mw_plugin_init ---- */
    /* Sets the load error that the host shows in its start-up error, printf-style; returns
     * MW_ERR_INTERNAL so that `return host->fail(p, "...", ...);` ends the init. */
    int (*fail)(struct mw_plugin *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    /* The model's folder (absolute or as configured), for the plug-in's own files. */
    const char *(*model_dir)(struct mw_plugin *p);
    /* Members of model.json's "config" object by key. Strings and JSON text stay valid until
     * mw_plugin_init returns: copy what you keep. Return MW_OK, MW_ERR_ABSENT or MW_ERR_TYPE
     * (*out untouched). config_json gives any member's compact JSON text ("[1,2]", "\"a\""). */
    int (*config_string)(struct mw_plugin *p, const char *key, const char **out);
    int (*config_number)(struct mw_plugin *p, const char *key, double *out);
    int (*config_bool)(struct mw_plugin *p, const char *key, bool *out);
    int (*config_json)(struct mw_plugin *p, const char *key, const char **out);
    /* Declare the signature, in order: each input or output has a name (unique in its list), a
     * dtype and ndim (1..MW_MAX_DIMS) dimensions, each -1 (variable) or >= 1; with MW_FLAG_BATCH
     * dimension 0 must be -1. The host copies everything. At least one input and one output. */
    int (*add_input)(struct mw_plugin *p, const char *name, int32_t dtype, int32_t ndim,
                     const int64_t *shape);
    int (*add_output)(struct mw_plugin *p, const char *name, int32_t dtype, int32_t ndim,
                      const int64_t *shape);
    /* Names of the columns of the last dimension of the tensor added last (features of an input,
     * class labels of an output): n must equal that dimension. */
    int (*set_names)(struct mw_plugin *p, size_t n, const char *const *names);
    int (*set_labels)(struct mw_plugin *p, size_t n, const char *const *labels);
    /* Registers the callbacks and state (run is required). Call it last, once. */
    int (*set_model)(struct mw_plugin *p, const struct mw_model *model);

    /* ---- during run() ---- */
    /* Input `index` (order of add_input): MW_OK, or MW_ERR_USAGE on a bad index or size. */
    int (*input)(struct mw_call *call, size_t index, struct mw_tensor_info *out);
    /* Allocates output `index` (order of add_output) with the given shape and returns its zeroed
     * data (struct mw_bytes[] for BYTES), or NULL on a bad index/shape, a second allocation of the
     * same output, or out of memory. Every output must be allocated once per call. */
    void *(*output)(struct mw_call *call, size_t index, int32_t ndim, const int64_t *shape);
    /* Memory that lives until the call's outputs are consumed (BYTES elements, scratch): NULL
     * when out of memory. Never free it. */
    void *(*alloc)(struct mw_call *call, size_t nbytes);
    /* The message the client gets with MW_ERR_INVALID_INPUT, printf-style (copied, truncated). */
    void (*set_error)(struct mw_call *call, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    /* The request's id (the X-Request-Id the client sees), or "" when the call has none. */
    const char *(*request_id)(struct mw_call *call);
    /* The call's deadline on CLOCK_MONOTONIC in nanoseconds, or 0 when it has none. */
    uint64_t (*deadline_ns)(struct mw_call *call);
    /* True once nobody waits for the answer (the deadline passed): stop and return any status. */
    bool (*is_cancelled)(struct mw_call *call);

    /* ---- any time ---- */
    /* Writes one line to the server's operational log at `level`, printf-style, tagged with the
     * model and, in run(), the request id. `call` may be NULL (in mw_plugin_init and free). */
    void (*log)(struct mw_call *call, int level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
};

/* True when the host's table has `member` (a plug-in built against a newer minor checks this
 * before calling a member the running host may predate). */
#define MW_HOST_HAS(host, member)                                                                  \
    ((host)->size >= offsetof(struct mw_host, member) + sizeof((host)->member))

/* The first statement of mw_plugin_init: checks in with the host's version and returns on
 * refusal (the host has already set the message). */
#define MW_PLUGIN_CHECK_IN(host, p)                                                                \
    do {                                                                                           \
        int mw_rc_ = (host)->check_in((p), MW_ABI_MAJOR, MW_ABI_MINOR,                             \
                                      (uint32_t)sizeof(struct mw_host));                           \
        if (mw_rc_ != MW_OK)                                                                       \
            return mw_rc_;                                                                         \
    } while (0)

/* The entry function's type. Returns MW_OK once set_model succeeded, else a status (the message
 * set with host->fail). When it fails the host calls no callback (not even free): release what
 * was allocated before returning. */
typedef int (*mw_init_fn)(const struct mw_host *host, struct mw_plugin *p);

#ifdef __cplusplus
}
#endif
#endif /* MODELWRAP_MODEL_H */
