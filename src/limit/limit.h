/*
 * limit: what the published SLA promises, enforced. Per-consumer throughput limits (GCRA) in a
 * bounded sharded table or shared across replicas in Redis, the global concurrency limit, and the
 * weekly / dated time windows of scheduled outages and support hours. Knows nothing of HTTP:
 * callers pass a consumer key and get a decision.
 */
#ifndef MW_LIMIT_H
#define MW_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"

/* ---- GCRA (generic cell rate algorithm): one timestamp per consumer -------------------------- */

/* A throughput limit in the form the algorithm uses. */
struct gcra {
    double rate;          /* requests per second, > 0 */
    unsigned burst;       /* requests allowed at once from a full bucket, >= 1 */
    uint64_t interval_ns; /* 1 s / rate, at least 1 */
    uint64_t span_ns;     /* burst * interval_ns: how far the arrival time may run ahead of now */
};

enum limit_source {
    LIMIT_SRC_NONE = 0,     /* no limit applies */
    LIMIT_SRC_LOCAL = 1,    /* this process's table */
    LIMIT_SRC_REDIS = 2,    /* the shared store */
    LIMIT_SRC_FALLBACK = 3, /* the store is down: this process's table with the scaled limit */
};

/* One decision and what the RateLimit-* / Retry-After headers say about it. */
struct limit_decision {
    bool allowed;
    unsigned limit;     /* the quota (the burst); 0 when no limit applies */
    unsigned remaining; /* requests still allowed right now */
    uint64_t reset_ns;  /* until the whole quota is available again */
    uint64_t retry_ns;  /* when denied: until the next request would be allowed (> 0) */
    int source;         /* enum limit_source */
};

/* Fills g for rate (> 0, requests/s) and burst (>= 1; 0 is taken as 1). Spans too long for 64-bit
 * nanoseconds are clamped (about 73 years). Pure; any thread. */
void limit_gcra_init(struct gcra *g, double rate, unsigned burst);
/* One GCRA step on the theoretical arrival time *tat (0: a fresh consumer) at now_ns (monotonic,
 * > 0). Updates *tat only when the request is allowed. Fills d (source left untouched) and returns
 * d->allowed. Pure; the caller serialises access to *tat. */
bool limit_gcra_decide(const struct gcra *g, uint64_t *tat, uint64_t now_ns,
                       struct limit_decision *d);

/* The consumer key every limiter uses: "<tag>:<bytes of a>:<a><b>" (the length prefix keeps
 * ("ab","c") and ("a","bc") apart). a and b may be NULL (empty). Returns the key's length, or 0
 * when it does not fit cap (cap includes the NUL written after it). Any thread. */
#define LIMIT_KEY_MAX 320
size_t limit_key_build(char *out, size_t cap, char tag, const char *a, const char *b);

/* ---- the local table: fixed capacity, sharded, idle entries reused first --------------------- */

struct limit_table;

/* A table tracking at least `capacity` consumers (rounded up to a power of two) in about
 * 16 bytes each; keys are hashed with SipHash under a random per-table key. NULL with e when out of
 * memory or randomness. The caller frees it with limit_table_free. */
struct limit_table *limit_table_new(size_t capacity, struct mw_error *e);
void limit_table_free(struct limit_table *t);
/* Decides one request of the consumer key (len bytes, borrowed) under g at now_ns. A consumer whose
 * bucket is full again takes no room: its slot is reused first. When every slot of the key's set
 * belongs to an active consumer, the one closest to idle is evicted (counted). Thread-safe: one
 * lock per shard, held for a few nanoseconds; never blocks on I/O. */
void limit_table_take(struct limit_table *t, const void *key, size_t len, const struct gcra *g,
                      uint64_t now_ns, struct limit_decision *d);
/* Slots in the table. */
size_t limit_table_capacity(const struct limit_table *t);
/* Consumers whose bucket is not full at now_ns (a scan: for tests and diagnostics). Thread-safe. */
size_t limit_table_active(struct limit_table *t, uint64_t now_ns);
/* Totals since creation: allowed and limited decisions, active consumers evicted. Thread-safe. */
void limit_table_counters(struct limit_table *t, uint64_t *allowed, uint64_t *limited,
                          uint64_t *evicted);

/* ---- the shared store: Redis through hiredis ------------------------------------------------- */

/* Where Redis is: redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket[?db=N]. */
struct limit_redis_target {
    char host[256];      /* empty for a Unix socket */
    uint16_t port;       /* 6379 when not given */
    char unix_path[108]; /* empty for TCP */
    char user[128];      /* empty: none (Redis 6 ACL user) */
    char password[256];  /* empty: no AUTH; percent-decoded */
    unsigned db;         /* SELECT db when non-zero */
};

/* Parses url into t (overwritten). Percent escapes are decoded in user and password. Returns 0 or
 * MWE_CONFIG with e naming the problem (never quoting the password). Any thread. */
int limit_redis_url_parse(const char *url, struct limit_redis_target *t, struct mw_error *e);

struct limit_redis_opts {
    struct limit_redis_target target;
    unsigned connect_timeout_ms;
    unsigned timeout_ms; /* each command */
    const char *prefix;  /* prepended to every key, copied */
};

struct limit_redis;

/* A store for o (copied). Connects lazily: one connection per calling thread, kept in thread-local
 * storage, freed when the thread exits or by limit_redis_free for the calling thread. NULL with e
 * when out of memory. */
struct limit_redis *limit_redis_new(const struct limit_redis_opts *o, struct mw_error *e);
/* Frees the store and the calling thread's connection. Other threads that used it must have
 * exited (their connections were freed then). */
void limit_redis_free(struct limit_redis *r);
/* Decides one request of key (len bytes) under g with one atomic server-side script (EVALSHA,
 * loaded again on NOSCRIPT), on the calling thread's connection (connected on demand with the
 * connect timeout, then each command with the command timeout). A dead connection is replaced;
 * after a failed connection attempt the thread waits (exponential backoff, 50 ms to 1 s) before the
 * next one unless another thread saw the store recover. Returns 0 with d (source LIMIT_SRC_REDIS)
 * or MWE_IO with why (NUL-terminated, cap bytes) when the store did not answer. *changed is set to
 * +1 when this call saw the store come back, -1 when it saw it go away, else 0. Blocks the calling
 * thread for at most the two timeouts. Thread-safe. */
int limit_redis_take(struct limit_redis *r, const void *key, size_t len, const struct gcra *g,
                     struct limit_decision *d, int *changed, char *why, size_t cap);
/* Whether the last decision that reached the store (any thread) succeeded. Thread-safe. */
bool limit_redis_up(const struct limit_redis *r);

/* ---- the limiter: default limit, store and failure mode from the configuration --------------- */

enum limit_failure_mode { LIMIT_FAIL_OPEN = 0, LIMIT_FAIL_CLOSED = 1 };

/* Counters for the metrics endpoint. */
struct limit_stats {
    const char *mode;         /* "off" (no default limit), "local" or "redis" */
    const char *failure_mode; /* "fail-open" or "fail-closed" (redis mode) */
    bool store_up;            /* redis mode: the last decision that reached Redis succeeded */
    uint64_t allowed;         /* decisions, every source */
    uint64_t limited;         /* 429s */
    uint64_t store_errors;    /* decisions Redis could not answer */
    uint64_t fallback;        /* fail-open decisions taken locally while Redis was down */
    uint64_t store_rejected;  /* fail-closed 503s */
    uint64_t evicted;         /* active consumers evicted from a full local table */
    uint64_t concurrency_rejected;
    long in_flight;           /* requests holding a concurrency slot */
    unsigned max_concurrency; /* 0: no limit */
};

struct limiter;

/* Builds the limiter from cfg (borrowed during the call only): MODELWRAP_RATE_LIMIT ("off" or a
 * rate_parse() throughput), MODELWRAP_RATE_BURST, MODELWRAP_RATE_TABLE_SIZE,
 * MODELWRAP_MAX_CONCURRENCY and the MODELWRAP_REDIS_* settings. No connection is made here. NULL
 * with e (MWE_CONFIG naming the setting) on a bad value, or MWE_NOMEM. Main thread. */
struct limiter *limit_new(const struct config *cfg, struct mw_error *e);
/* Frees l. No thread may be inside limit_take; I/O threads that used Redis must have exited. */
void limit_free(struct limiter *l);
/* The default limit (0 rate when "off"). */
void limit_default(const struct limiter *l, double *rate, unsigned *burst);
/* Decides one request of the consumer key (len bytes, borrowed). rate/burst: a per-consumer
 * override, 0 for the default. No limit applies when the effective rate is 0 (d->limit 0,
 * allowed). Returns 0 with d filled, or MWE_RATE_LIMIT_UNAVAILABLE when Redis cannot answer and
 * the failure mode is fail-closed (d->retry_ns says when to retry). Logs once per transition of
 * the store (unavailable / recovered), never per request. Thread-safe; I/O threads. */
int limit_take(struct limiter *l, const char *key, size_t len, double rate, unsigned burst,
               struct limit_decision *d);
/* Takes a global concurrency slot: false (counted) when MODELWRAP_MAX_CONCURRENCY are in use.
 * Always true when there is no limit. Every true must be paired with one limit_leave. Lock-free;
 * any thread. */
bool limit_enter(struct limiter *l);
void limit_leave(struct limiter *l);
/* Fills s with the counters. Thread-safe (relaxed reads: each value is exact, the set is not a
 * snapshot). */
void limit_stats(struct limiter *l, struct limit_stats *s);

/* ---- time windows: scheduled outages, support hours -------------------------------------------
 * A list of windows separated by ';'. Each is either weekly, "DAYS HH:MM-HH:MM ZONE" (DAYS: Mon,
 * Mon-Fri, Fri-Mon, Sat,Sun or daily; the end may be 24:00, and an end at or before the start
 * means the next day; ZONE: UTC, UTC+HH:MM or UTC-HH:MM), or dated,
 * "YYYY-MM-DDTHH:MM[:SS]Z/YYYY-MM-DDTHH:MM[:SS]Z" (UTC, end after start). */

#define LIMIT_WINDOWS_MAX 32
#define LIMIT_WINDOW_TEXT_MAX 96

struct limit_window {
    bool weekly;
    uint8_t days;     /* weekly: bit d set for local weekday d (0 Monday .. 6 Sunday) */
    int32_t start_s;  /* weekly: local second of the day it starts */
    int32_t len_s;    /* weekly: length, 1..86400 */
    int32_t offset_s; /* weekly: local time = UTC + offset_s */
    int64_t from_s;   /* dated: [from_s, to_s) in Unix seconds */
    int64_t to_s;
    char text[LIMIT_WINDOW_TEXT_MAX]; /* as written, blanks trimmed: for the SLA document */
};

struct limit_windows {
    size_t n;
    struct limit_window w[LIMIT_WINDOWS_MAX];
};

/* Parses text (NULL or empty: no windows) into ws (overwritten). weekly_only refuses dated windows.
 * label names the setting in errors. Returns 0 or MWE_CONFIG with e saying which window is wrong
 * and what is accepted. Any thread. */
int limit_windows_parse(struct limit_windows *ws, const char *text, bool weekly_only,
                        const char *label, struct mw_error *e);
/* True when now_s (Unix seconds) falls inside a window; *until_s (optional) is then the end of the
 * outage, following windows that overlap or touch. Pure; any thread. */
bool limit_windows_active(const struct limit_windows *ws, int64_t now_s, int64_t *until_s);
/* The occurrence of w in progress at now_s, else the next one: [*start_s, *end_s). False when
 * there is none (a dated window that is over). Pure; any thread. */
bool limit_window_next(const struct limit_window *w, int64_t now_s, int64_t *start_s,
                       int64_t *end_s);

#endif /* MW_LIMIT_H */
