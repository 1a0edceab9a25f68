/*
 * core: the pieces every other module uses: the error table, bounded buffers, the per-request
 * arena, clocks and the operational log. Depends on libc only.
 */
#ifndef MW_CORE_H
#define MW_CORE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors ---------------------------------------------------------------------------------
 * The one table of errors. X(name, stable code, HTTP status, default message). The enum value of
 * each is negative (MWE_<name>); 0 is success. Append only: codes are part of the API. */
#define MW_ERROR_MAP(X)                                                                           \
    X(BAD_REQUEST, "bad_request", 400, "The request is malformed.")                               \
    X(INVALID_JSON, "invalid_json", 400, "The request body is not valid JSON.")                   \
    X(INVALID_INPUT, "invalid_input", 422, "The request body does not match the model's inputs.") \
    X(INVALID_REQUEST_ID, "invalid_request_id", 400, "X-Request-Id must be 1-128 printable characters.") \
    X(UNAUTHENTICATED, "unauthenticated", 401, "Authentication is required.")                     \
    X(INVALID_TOKEN, "invalid_token", 401, "The credentials are invalid or expired.")             \
    X(INSUFFICIENT_SCOPE, "insufficient_scope", 403, "The credentials lack the scope this route needs.") \
    X(NOT_FOUND, "not_found", 404, "No such route.")                                              \
    X(MODEL_NOT_FOUND, "model_not_found", 404, "No such model.")                                  \
    X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "The method is not allowed on this route.")  \
    X(BODY_TOO_LARGE, "body_too_large", 413, "The request body exceeds the message size limit.")  \
    X(URI_TOO_LONG, "uri_too_long", 414, "The request URI is too long.")                          \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "Content-Type must be application/json.") \
    X(RATE_LIMITED, "rate_limited", 429, "Too many requests.")                                    \
    X(HEADERS_TOO_LARGE, "headers_too_large", 431, "The request headers are too large.")          \
    X(INTERNAL, "internal_error", 500, "Internal server error.")                                  \
    X(MODEL_FAILED, "model_failed", 500, "The model failed to run.")                              \
    X(NOMEM, "out_of_memory", 503, "The server is out of memory.")                                \
    X(OVERLOADED, "overloaded", 503, "The server is overloaded; retry later.")                    \
    X(NOT_READY, "not_ready", 503, "The server is not ready.")                                    \
    X(SHUTTING_DOWN, "shutting_down", 503, "The server is shutting down.")                        \
    X(MODEL_UNAVAILABLE, "model_unavailable", 503, "The model has no live worker; retry later.")  \
    X(DEADLINE, "deadline_exceeded", 504, "The model did not answer in time.")                    \
    X(CONFIG, "invalid_config", 500, "Invalid configuration.")                                    \
    X(IO, "io_error", 500, "Input/output error.")                                                \
    X(REQUEST_TIMEOUT, "request_timeout", 408, "The request was not received in time.")           \
    X(ORIGIN_NOT_ALLOWED, "origin_not_allowed", 403, "This origin may not call the API.")      \
    X(SCHEDULED_OUTAGE, "scheduled_outage", 503, "The API is in a scheduled outage window.")      \
    X(RATE_LIMIT_UNAVAILABLE, "rate_limit_unavailable", 503,                                     \
      "The rate-limit store is unavailable; retry later.")

enum mw_err {
    MWE_OK = 0,
#define MW_X(name, code, status, msg) MWE_##name,
    MWE_FIRST_ = -1000,
    MW_ERROR_MAP(MW_X)
#undef MW_X
    MWE_LAST_
};

/* Stable string id ("invalid_json"), HTTP status and default message of an error. Unknown values
 * map to MWE_INTERNAL. */
const char *mw_strerror(int err);
const char *mw_errcode(int err);
int mw_errstatus(int err);

/* An error with a message that may name the offending field. Embedded by callers; msg is always
 * NUL-terminated. */
struct mw_error {
    int code; /* MWE_* */
    char msg[256];
};

/* Sets e (when non-NULL) and returns code, so callers can `return mw_fail(e, MWE_X, "...")`. */
int mw_fail(struct mw_error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- slices ---------------------------------------------------------------------------------- */

/* Bytes borrowed from someone else; never NUL-terminated by contract. */
struct slice {
    const char *ptr;
    size_t len;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})
bool slice_eq(struct slice a, const char *cstr);
bool slice_eq_nocase(struct slice a, const char *cstr);

/* ---- bounded dynamic buffer (curl's dynbuf) -------------------------------------------------- */

struct buf {
    char *ptr; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this fail with MWE_BODY_TOO_LARGE */
};

void buf_init(struct buf *b, size_t max);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
/* Each returns 0, MWE_NOMEM, or MWE_BODY_TOO_LARGE when max would be passed (b is unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* The hot-path appenders (no printf): a NUL-terminated string, and a decimal integer. */
int buf_append_str(struct buf *b, const char *s);
int buf_append_u64(struct buf *b, uint64_t v);
int buf_append_i64(struct buf *b, int64_t v);
/* Writes v in decimal to out (at least 21 bytes), no NUL; returns the length. */
size_t fmt_u64(char *out, uint64_t v);
/* The same for a signed value ("-" first when negative); out holds at least 21 bytes. */
size_t fmt_i64(char *out, int64_t v);

/* ---- arena (h2o / nginx pools) --------------------------------------------------------------- */

struct arena_chunk;
struct arena {
    struct arena_chunk *head;
    size_t total; /* bytes handed out, for limits */
    size_t max;   /* 0: unlimited; otherwise allocations past it fail */
};

void arena_init(struct arena *a, size_t max);
/* Frees every chunk; the arena can be reused after. */
void arena_fini(struct arena *a);
/* 16-byte aligned memory valid until arena_fini; NULL when out of memory or past max. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t count, size_t size);
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* ---- time ------------------------------------------------------------------------------------ */

uint64_t time_mono_ns(void);
uint64_t time_real_ms(void);
/* Writes "2026-11-27T17:21:41.123Z" (24 chars + NUL); out must hold 32 bytes. */
void time_iso8601_ms(uint64_t epoch_ms, char out[32]);

/* ---- operational log: JSON lines on stderr ---------------------------------------------------
 * Thread-safe; each line is written with one write(2). Field values are JSON-escaped. */

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(int level);
bool log_enabled(int level);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* log_msg(LOG_INFO, "model loaded", "model", "iris", "version", "1", NULL): msg, then pairs of
 * string key/value; a NULL value is skipped. */
void log_msg(int level, const char *msg, ...);
/* Like log_msg but the trailing key/values may include integers: pass keys prefixed with '#' and a
 * long long value, e.g. log_kv(LOG_INFO, "request", "#status", 200LL, "path", p, NULL). */
void log_kv(int level, const char *msg, ...);
/* log_kv for lines written once per request: kept in a per-thread buffer between
 * log_buffer_start() and log_buffer_stop() and written at least every 100 ms (and at thread exit,
 * at log_buffer_stop and at exit()); any other line of the same thread writes them first. */
void log_kv_bulk(int level, const char *msg, ...);
int log_buffer_start(void);
void log_buffer_stop(void);

/* ---- snapshots (snap.c): an immutable object read without a lock, replaced atomically ---------
 * One scheme for every shared read-mostly object (key sets, JWKS, the model registry). Readers
 * publish the pointer they use in a per-thread hazard slot (a thread claims a slot index on first
 * use, shared by every snap, and gives it back when it exits). A writer swaps the pointer and
 * retires the old object; a retired object is freed by the first reclaim that finds no slot
 * holding it: at once when no reader has it, else by the writer's next publish or by the last
 * reader's snap_release. Neither side waits for the other: a reader retries only when a publish
 * races its acquire, a writer never waits for readers (except when SNAP_RETIRED objects are all
 * still held, which needs that many publishes during one reader's hold).
 *
 * Memory orders: the hazard store and the re-load of `cur` in snap_acquire, the exchange of `cur`,
 * the store of `n_retired` and the slot loads of a reclaim are sequentially consistent (each side
 * stores, then loads what the other stores: Dekker's pattern, which acquire/release alone does not
 * order). snap_release's slot store is sequentially consistent too, so the reclaim that sees the
 * slot empty also sees every access the reader made before it (release/acquire through the
 * slot). */

#define SNAP_SLOTS 1024  /* threads that may hold a hazard slot at once; more use `overflow` */
#define SNAP_RETIRED 64  /* retired objects a snap keeps waiting for their readers */

struct snap_slot {
    _Atomic(void *) hp;
    char pad[64 - sizeof(void *)]; /* one slot per cache line: no false sharing between readers */
};

struct snap {
    _Atomic(void *) cur;
    void (*free_fn)(void *);
    pthread_mutex_t wlock;   /* serialises writers and reclaims; guards retired[] */
    atomic_long overflow;    /* readers of threads that found no free slot */
    atomic_size_t n_retired; /* entries of retired[]: a release reclaims when non-zero */
    atomic_bool recheck;     /* a release found wlock busy: its holder reclaims again */
    void *retired[SNAP_RETIRED];
    struct snap_slot slots[SNAP_SLOTS];
};

/* What snap_acquire protected, for snap_release. On the reader's stack. */
struct snap_ref {
    struct snap *s;
    int slot; /* -1: counted in overflow */
};

/* Prepares s (caller-owned memory) holding initial (may be NULL), which s now owns; free_fn frees
 * retired objects (NULL: s owns nothing). Any thread, before any other use. */
void snap_init(struct snap *s, void *initial, void (*free_fn)(void *));
/* Frees the current object, every retired one and the lock. No reader or writer may be active. */
void snap_fini(struct snap *s);
/* Returns the current object (NULL when none) and protects it until snap_release(ref): it stays
 * valid and unchanged until then. Lock-free; any thread; a thread may hold one reference per snap
 * at a time. */
void *snap_acquire(struct snap *s, struct snap_ref *ref);
/* Ends the protection of snap_acquire; frees retired objects nobody holds any more (on this
 * thread) when a publish left some. */
void snap_release(struct snap_ref *ref);
/* Makes next (may be NULL; s owns it) current and retires the previous object, freed as soon as
 * no reader holds it (maybe before this returns). Writers are serialised; readers never wait. Any
 * thread, also one holding a reference on s (but such a thread must not publish SNAP_RETIRED
 * times before its release: the last publish would wait for room, that is for itself). */
void snap_publish(struct snap *s, void *next);
/* Frees the retired objects no reader holds. Never waits for a reader. Any thread. */
void snap_reclaim(struct snap *s);
/* The current object without protection: only for the writer (serialised with every publish) or
 * a holder of its own reference to the object. */
void *snap_current(struct snap *s);
/* Retired objects not freed yet (for tests and metrics). Any thread. */
size_t snap_retired(struct snap *s);

/* ---- misc ------------------------------------------------------------------------------------ */

/* Appends s (len bytes) to b as a JSON string body, escaped, without the surrounding quotes. */
int buf_append_json_escaped(struct buf *b, const char *s, size_t len);
/* Fills out with n random bytes from getrandom(2); returns 0 or MWE_IO. */
int mw_random(void *out, size_t n);
/* Constant-time comparison of two equal-length byte strings. */
bool mw_ct_equal(const void *a, const void *b, size_t n);

/* Client-supplied text quoted in an error message is cut to MW_CLIP_MAX bytes. */
#define MW_CLIP_MAX 64
#define MW_CLIP_CAP (MW_CLIP_MAX + 4)
/* Copies at most MW_CLIP_MAX bytes of s (len bytes; NULL is "") into dst for a message: control
 * bytes become '?', a cut never splits a UTF-8 sequence and is marked "...". Returns dst. */
const char *mw_clip(char dst[MW_CLIP_CAP], const char *s, size_t len);

/* The code point of the valid n-byte UTF-8 sequence at s when it is a C1 control (U+0080 to
 * U+009F, NEL included) or a line or paragraph separator (U+2028, U+2029), else 0. Valid raw in
 * JSON, they break line-oriented readers (collectors splitting on NEL or U+2028), so every JSON
 * line the server writes escapes them and CEF replaces them like the C0 controls. Any thread. */
unsigned mw_line_breaking_cp(const unsigned char *s, size_t n);

/* A 64-bit finalizer (MurmurHash3's fmix64): spreads every input bit over the result, for hash
 * table slots keyed by addresses or ids. Not a cryptographic hash. */
static inline uint64_t mw_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* The prefix of modelwrap API keys ("mw_" + 43 base62 characters, src/auth/keys.c). */
#define MW_KEY_PREFIX "mw_"
/* Credential-shaped segments of a URL path, which a client may paste there by mistake, are
 * replaced in the audit record and the request log as the query string is left out of both: a
 * segment of MW_KEY_PREFIX and at least MW_REDACT_KEY_MIN base62 characters becomes
 * "mw_<redacted>"; a compact-JWS-shaped segment ("eyJ", base64url, exactly two dots, at least
 * MW_REDACT_JWT_MIN bytes) becomes "<redacted>". */
#define MW_REDACT_KEY_MIN 16
#define MW_REDACT_JWT_MIN 20
/* Whether the len bytes at path hold a credential-shaped segment. Any thread. */
bool mw_path_has_secret(const char *path, size_t len);
/* Redacts, in place, the credential-shaped segments of the NUL-terminated path s (the markers are
 * shorter than what they replace); returns the new length. Any thread. */
size_t mw_path_redact(char *s);

/* Parses a throughput such as "100/s", "6000/m", "2.5/s" or "50000/h" (a positive finite number,
 * '/', and s|sec|second, m|min|minute, h|hour, d|day) into requests per second. 0 or MWE_CONFIG.
 * Shared by the settings, the API key file and the limiter so they all read one syntax. */
int rate_parse(const char *s, double *per_sec);
/* Copies url to out (size bytes, truncated) with the userinfo of its authority replaced by
 * "<redacted>": the form in which a URL that may carry credentials is printed. Any thread. */
void mw_url_redact(const char *url, char *out, size_t size);
/* Runs argv[0] (a path; no PATH search) with argv and exactly envp, stdin and stderr on
 * /dev/null and no other inherited descriptor, appending its stdout to out (bounded by out's
 * maximum). Kills it when timeout_ms passes or the output is too large. 0 with *exit_status (-1:
 * killed by a signal; MW_SPAWN_REAPED_ELSEWHERE: a SIGCHLD reaper of the process collected it
 * first, status unknown), or MWE_IO / MWE_DEADLINE with e. Any thread (posix_spawn, never fork). */
#define MW_SPAWN_REAPED_ELSEWHERE (-2)
int mw_spawn_capture(char *const argv[], char *const envp[], unsigned timeout_ms,
                     struct buf *out, int *exit_status, struct mw_error *e);

/* ---- text ------------------------------------------------------------------------------------ */

/* Length (1-4) of the valid UTF-8 sequence at s[0..len) (RFC 3629: overlong forms, surrogates,
 * code points past U+10FFFF and truncated sequences are invalid), 0 when invalid or len is 0. An
 * ASCII byte, NUL included, is a sequence of 1. Any thread. */
size_t mw_utf8_len(const unsigned char *s, size_t len);
/* Whether the len bytes at s are all valid UTF-8 (len 0 is). Any thread. */
bool mw_utf8_valid(const void *s, size_t len);
/* Whether the Content-Type value ct is the media type want ("application/json": type/subtype,
 * lower case) in any case, alone or followed by optional whitespace and ";" parameters (RFC 9110
 * 8.3.1); a NULL ct.ptr (no header) is false. ct is borrowed. Any thread. */
bool mw_media_type_is(struct slice ct, const char *want);
/* The next item of a list separated by commas, spaces and tabs (empty items are skipped), as in
 * "predict, read" or "a,b c": true with item (a slice of the list) and *p moved past it, false at
 * the end. Start with *p at the NUL-terminated list; a NULL *p is an empty list. Any thread. */
bool mw_list_next(const char **p, struct slice *item);

/* ---- files ----------------------------------------------------------------------------------- */

#define MW_FILE_REGULAR 1u            /* refuse anything but a regular file (EINVAL) */
#define MW_FILE_NOT_WORLD_WRITABLE 2u /* refuse a file other users may write (EPERM) */
/* Reads the whole file at path, at most max bytes, into a new buffer, NUL-terminated (the NUL is
 * not counted in *len): *out is the caller's to free. Works on files whose size fstat does not
 * know (/proc, pipes) too. Returns 0, or an errno value with *out NULL: EFBIG when the file holds
 * more than max bytes (also when it grows past max while being read), ENOMEM, or open(2)/read(2)'s.
 * Any thread. */
int mw_file_read(const char *path, size_t max, unsigned flags, char **out, size_t *len);

#define MW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* MW_CORE_H */
