/*
 * metrics: the server's Prometheus metrics. Counters and fixed-bucket histograms live in
 * per-thread slots (each thread writes only its own slot: no lock and no shared atomic on the hot
 * path) and are summed at scrape time into the Prometheus text exposition format (0.0.4), with
 * process metrics read from /proc. Families owned by other modules are written with the helpers.
 */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Content-Type of the text exposition format. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Model series (model name + version pairs) a registry can have metrics for; calls of models past
 * it are not recorded (a warning is logged once). */
#define METRICS_MAX_SERIES 64
/* Threads with a slot of their own; more threads share one slot updated with atomic adds. */
#define METRICS_MAX_SLOTS 512

/* Route index of a request that matched no route (404, 405, a bad request id, ...). */
#define METRICS_NO_ROUTE SIZE_MAX

/* How a model call ended, for modelwrap_model_inferences_total{result}. */
enum metrics_result {
    METRICS_RESULT_SUCCESS = 0,       /* ran and answered */
    METRICS_RESULT_INVALID_INPUT = 1, /* the model refused the inputs */
    METRICS_RESULT_ERROR = 2,         /* the model failed */
    METRICS_RESULT_DEADLINE = 3,      /* the deadline passed, queued or running */
    METRICS_RESULT_REJECTED = 4,      /* never queued: queue full or shutting down */
    METRICS_RESULT_COUNT_ = 5
};

struct metrics;

/* Creates the metrics of one server. route_names[i] is the name of route i of the route table
 * (names may repeat: such routes share their series). Copies what it keeps. NULL with e on out of
 * memory. Thread: any, normally main at start-up. Free with metrics_free. */
struct metrics *metrics_new(const char *const *route_names, size_t n_routes, struct mw_error *e);
/* Frees m. No thread may record into m during or after the call (stop the servers first); threads
 * that recorded into m keep working with another metrics object afterwards. NULL is fine. */
void metrics_free(struct metrics *m);

/* ---- recording (hot path: any thread, lock-free after a thread's first call) ----------------- */

/* One completed HTTP request: route index in the route table given to metrics_new (or
 * METRICS_NO_ROUTE), the method as an HTTP_* bit (src/http/http.h; 0 or several bits count as
 * OTHER), the status sent (0: none, the connection failed) and the time from its first byte. */
void metrics_request(struct metrics *m, size_t route, unsigned method_bit, int status,
                     uint64_t duration_ns);
/* Counts a request's reason code (r->outcome): "auth.*" into modelwrap_auth_failures_total,
 * "limit.*" into modelwrap_rate_limited_requests_total, any other code but "ok" into
 * modelwrap_requests_refused_total (unknown codes as reason "other"). NULL and "ok" count nothing.
 */
void metrics_outcome(struct metrics *m, const char *outcome);
/* The series index of model name+version, registering it on first use (strings copied). Returns
 * -1 when METRICS_MAX_SERIES are taken or out of memory. Lock-free when already registered. */
int metrics_model_series(struct metrics *m, const char *name, const char *version);
/* One model call of series s (ignored when s < 0): its result; queue_ns (time between queueing and
 * the start of the run; 0 for a call run inline) when started; compute_ns when it ran to the end
 * (the model answered, successfully or not). */
void metrics_model_call(struct metrics *m, int s, enum metrics_result result, bool started,
                        uint64_t queue_ns, bool finished, uint64_t compute_ns);
/* One run of the model of series s over `rows` rows: the batch size histogram. Today each call is
 * one batch and the log phase records it; a batching scheduler records each merged batch instead
 * (from its worker thread: any thread may call this). */
void metrics_model_batch(struct metrics *m, int s, uint64_t rows);

/* ---- the exposition -------------------------------------------------------------------------- */

/* Appends every family this module records (HTTP requests and durations, outcomes, model calls)
 * to out, summed over all threads. Series that never moved are left out for the request families;
 * every registered model series and every known reason is written, zeros included. Returns 0,
 * MWE_NOMEM or MWE_BODY_TOO_LARGE (out's max). Thread: any (reads relaxed atomics; concurrent
 * recording goes on: each value is a consistent snapshot of its own cell). */
int metrics_write(struct metrics *m, struct buf *out);
/* Appends the modelwrap_process_* families (CPU seconds, resident and virtual memory, open and
 * maximum file descriptors, threads, start time) read from /proc/self. A value that cannot be read
 * is left out. Returns 0 or a buffer error. Thread: any. */
int metrics_write_process(struct buf *out);

/* One label of a sample: name and value (escaped when written). */
struct metrics_label {
    const char *name;
    const char *value;
};

/* Appends "# HELP name help\n# TYPE name type\n" (type: counter, gauge, histogram, untyped).
 * help must be one line; backslashes are escaped. Returns 0 or a buffer error. */
int metrics_family(struct buf *out, const char *name, const char *type, const char *help);
/* Appends one sample line: name{labels} value, with an integer value (counters, states). Label
 * values are escaped (\\, \", \n). Returns 0 or a buffer error. */
int metrics_sample_u64(struct buf *out, const char *name, const struct metrics_label *labels,
                       size_t n_labels, uint64_t value);
/* The same with a floating-point value (printed so that it reads back to the same double; NaN and
 * infinities as NaN, +Inf, -Inf). */
int metrics_sample_f64(struct buf *out, const char *name, const struct metrics_label *labels,
                       size_t n_labels, double value);

#endif /* MW_METRICS_H */
