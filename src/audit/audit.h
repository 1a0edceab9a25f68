/*
 * audit: one record per request (accepted or refused), security events (bursts of authentication
 * failures, after-hours use, large requests, probing...), their JSON-lines and CEF encoders, and
 * the trail itself: a bounded queue drained by a writer thread into files, stdout and syslog.
 */
#ifndef MW_AUDIT_H
#define MW_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/auth.h"
#include "config/config.h"
#include "core/core.h"
#include "http/http.h"

/* Values of the MODELWRAP_AUDIT_* choice settings (their index in the setting's list). */
enum audit_format { AUDIT_FORMAT_JSON = 0, AUDIT_FORMAT_CEF = 1 };
enum audit_policy { AUDIT_POLICY_BLOCK = 0, AUDIT_POLICY_FAIL_CLOSED = 1 };
enum audit_fsync { AUDIT_FSYNC_NEVER = 0, AUDIT_FSYNC_ALWAYS = 1, AUDIT_FSYNC_INTERVAL = 2 };

/* ---- signatures (CEF "Device Event Class ID"; docs/audit.md lists them) -----------------------
 */

enum audit_sig {
    /* one per request, chosen from its status */
    AUDIT_SIG_OK = 100,      /* answered with a status below 400 */
    AUDIT_SIG_AUTHN = 101,   /* 401 */
    AUDIT_SIG_AUTHZ = 102,   /* 403 */
    AUDIT_SIG_LIMITED = 103, /* 429 */
    AUDIT_SIG_REFUSED = 104, /* another 4xx */
    AUDIT_SIG_FAILED = 105,  /* 5xx (or no status at all) */
    AUDIT_SIG_ABORTED = 106, /* the connection ended before the response was sent */
    /* security events */
    AUDIT_EV_AUTH_BURST_ADDR = 200,
    AUDIT_EV_AUTH_BURST_PRINCIPAL = 201,
    AUDIT_EV_AFTER_HOURS = 210,
    AUDIT_EV_LARGE_BYTES = 220,
    AUDIT_EV_LARGE_RECORDS = 221,
    AUDIT_EV_RATE_LIMIT = 230,
    AUDIT_EV_SCOPE = 240,
    AUDIT_EV_TOKEN_LIFETIME = 250,
    AUDIT_EV_PROBING = 260,
    AUDIT_EV_WORKER_DIED = 270, /* a model worker process died or was killed (Python models) */
    AUDIT_EV_CONNECTION = 271, /* a connection refused by the transport (limits, bad request line) */
    AUDIT_EV_SUPPRESSED = 299, /* events held back by the rate limit since the last summary */
};

/* Display name ("Authentication failure burst") and CEF severity (0-10) of a signature; a
 * generic name and 5 for unknown values. Static strings; any thread. */
const char *audit_sig_name(int sig);
int audit_sig_severity(int sig);

/* ---- the record --------------------------------------------------------------------------------
 * Fixed-size, so that the queue is a preallocated ring and building a record allocates nothing.
 * Strings are NUL-terminated copies cut at a UTF-8 boundary (`truncated` says one was cut); they
 * may hold any bytes: the encoders escape them. Never a key, token or payload value. */

#define AUDIT_PATH_MAX 1024
#define AUDIT_UA_MAX 512

struct audit_record {
    int kind;         /* AUDIT_REQUEST or AUDIT_EVENT */
    int sig;          /* enum audit_sig */
    uint64_t time_ms; /* when the request began (events: when detected), epoch ms */
    uint64_t duration_us;
    uint64_t bytes_in, bytes_out;
    uint64_t records;    /* records or batch rows in the request; 0: none or unknown */
    int status;          /* HTTP status; 0 when nothing was answered */
    int principal_kind;  /* enum principal_kind */
    bool aborted;        /* the response was not sent completely */
    bool truncated;      /* a string below was cut to fit */
    const char *outcome; /* reason code (static) */
    const char *route;   /* route name (static) or NULL */
    const char *scope;   /* scope the route needs (static) or NULL */
    char method[16];
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    char trace_id[33]; /* W3C traceparent trace-id, 32 lowercase hex, or "" */
    char client[64];   /* client address */
    char peer[64];     /* the connecting peer when it differs (a trusted proxy), or "" */
    char principal_id[128];
    char client_id[128];
    char key_id[64];
    char model[128];
    char model_version[64];
    char path[AUDIT_PATH_MAX];
    char user_agent[AUDIT_UA_MAX];
    /* security events only */
    uint64_t count;     /* occurrences summarised by this event */
    uint64_t threshold; /* the configured threshold it passed (0: none) */
    unsigned window_s;  /* the window it was counted in (0: none) */
};

enum { AUDIT_REQUEST = 0, AUDIT_EVENT = 1 };

/* Copies at most cap-1 bytes of s (len bytes, stops at a NUL) into out, cut at a UTF-8 boundary,
 * NUL-terminated. Returns true when s had to be cut. */
bool audit_copy(char *out, size_t cap, const char *s, size_t len);

/* What the layers above the transport know of a request, for its record: who called (the
 * principal's kind, enum principal_kind of src/auth, and identifiers) and which model answered.
 * Borrowed for the call; NULL strings count as empty. */
struct audit_who {
    int principal_kind;
    const char *principal_id;
    const char *client_id;
    const char *key_id;
    const char *model;
    const char *model_version;
};

/* Fills rec for request r and who. completed: the response was sent (http_app.complete's ok); records:
 * the request's record count (0: unknown); now_ms/now_ns: wall and monotonic clocks at completion;
 * user_agent and traceparent: the headers' values ({NULL, 0} when absent). Borrows r; copies
 * everything it keeps, so rec outlives r. Any thread; allocates nothing; no errors. */
void audit_record_fill(struct audit_record *rec, const struct request *r,
                       const struct audit_who *who, bool completed,
                       uint64_t records, uint64_t now_ms, uint64_t now_ns, struct slice user_agent,
                       struct slice traceparent);

/* Parses a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>", later versions may append fields)
 * and writes its trace-id (32 lowercase hex + NUL) to out. false (out = "") when invalid. */
bool audit_trace_id(struct slice traceparent, char out[33]);

/* ---- encoders ---------------------------------------------------------------------------------
 * Both append one line to out WITHOUT the line end. Invalid UTF-8 bytes become U+FFFD; JSON
 * escapes controls (RFC 8259); CEF escapes '\' and '|' in the header, '\', '=', LF (\n) and CR (\r)
 * in extension values, and replaces other control characters with U+FFFD. host is the machine's
 * name (may be NULL or ""). 0 or MWE_NOMEM / MWE_BODY_TOO_LARGE (out is then unchanged). */
int audit_encode_json(struct buf *out, const struct audit_record *rec, const char *host);
int audit_encode_cef(struct buf *out, const struct audit_record *rec, const char *host);
/* Appends an RFC 5424 message carrying msg (msg_len bytes): "<PRI>1 TIMESTAMP HOST modelwrap PID
 * MSGID - MSG", facility 13 (log audit), MSGID "audit" or "security"; octet_count prefixes the
 * length and a space (RFC 6587 octet-counting framing, for TCP). Same returns as above. */
int audit_frame_syslog(struct buf *out, const struct audit_record *rec, const char *host, long pid,
                       const char *msg, size_t msg_len, bool octet_count);

/* ---- business hours ----------------------------------------------------------------------------
 * "Mon-Fri 08:00-18:00; Sat 10:00-14:00": entries separated by ';', each days (a day, a range, or
 * a ',' list of them; Mon Tue Wed Thu Fri Sat Sun, any case) and HH:MM-HH:MM (end exclusive, 24:00
 * allowed; an end before the start runs into the next day). One bit per minute of the week. */
struct audit_hours {
    bool set;
    unsigned long id; /* unique per parse: keys the per-thread cache of the current minute */
    uint8_t bits[7 * 1440 / 8];
};

/* Parses spec into h (NULL or empty: not set, every minute counts as business hours). 0 or
 * MWE_CONFIG with e naming the problem. No allocation; any thread. */
int audit_hours_parse(struct audit_hours *h, const char *spec, struct mw_error *e);
/* Whether local weekday wday (0 = Sunday, as struct tm), hour and minute are business hours. */
bool audit_hours_contains(const struct audit_hours *h, int wday, int hour, int minute);
/* Whether the instant t (epoch seconds) falls in business hours in the process' time zone
 * (localtime_r: thread-safe; the zone is set once at start-up by audit_new). The answer for the
 * current minute is cached per thread. */
bool audit_hours_contains_time(const struct audit_hours *h, time_t t);
/* Checks a time zone name: "UTC" or a file of the tz database (TZDIR or /usr/share/zoneinfo).
 * 0 or MWE_CONFIG with e. */
int audit_timezone_check(const char *tz, struct mw_error *e);

/* ---- security events ---------------------------------------------------------------------------
 * The detector counts, per source address and per principal, what finished requests show and
 * turns threshold crossings into event records. Each (signature, address or principal) is emitted
 * at most once per dedup window (its count says how many occurrences it stands for), and all events
 * together at most `per_minute` per minute: the others are counted and summarised by an
 * AUDIT_EV_SUPPRESSED event. Memory is bounded (a fixed table; the stalest entries are reused). */

struct audit_events_opts {
    struct audit_hours hours; /* after-hours events when hours.set */
    uint64_t large_bytes;     /* 0: off */
    uint64_t large_records;   /* 0: off */
    unsigned auth_failures;   /* failures in burst_window_s that make a burst; 0: off */
    unsigned probe_404s;      /* 404s in burst_window_s that make probing; 0: off */
    unsigned burst_window_s;  /* >= 1 */
    unsigned dedup_window_s;  /* 0: every occurrence (still rate-limited) */
    unsigned per_minute;      /* >= 1 */
};

#define AUDIT_EVENTS_MAX_PER_CHECK 8

struct audit_events;

/* A detector with opts (copied). NULL when out of memory. Free with audit_events_free. */
struct audit_events *audit_events_new(const struct audit_events_opts *opts);
void audit_events_free(struct audit_events *ev);
/* Checks one finished request's record at wall time now_ms; writes the events it raises into out
 * (up to AUDIT_EVENTS_MAX_PER_CHECK) and returns their number. Thread-safe (striped locks; only
 * requests that can raise an event take one); no allocation. */
size_t audit_events_check(struct audit_events *ev, const struct audit_record *req, uint64_t now_ms,
                          struct audit_record *out);
/* Events held back by the rate limit so far (each also counted in a later summary event). */
uint64_t audit_events_suppressed(struct audit_events *ev);

/* ---- the trail ---------------------------------------------------------------------------------
 * Records go into a bounded ring (MODELWRAP_AUDIT_QUEUE_SIZE) and a writer thread writes them, in
 * order, to every sink of MODELWRAP_AUDIT_LOG (events also to MODELWRAP_AUDIT_SECURITY_LOG). A
 * record leaves the ring only when every sink it goes to took it (a TCP collector acknowledged its
 * bytes). When the ring is full or a sink fails, MODELWRAP_AUDIT_POLICY decides: block (the request
 * thread waits for space) or fail-closed (audit_admit refuses new requests until it recovers). */

struct audit;

struct audit_stats {
    uint64_t written; /* records that reached all their sinks */
    uint64_t failed;  /* failed write / connect attempts (records stay queued and are retried) */
    uint64_t pending; /* records queued and not yet written everywhere */
    uint64_t dropped; /* records given up: fail-closed with a full ring, or shutdown timeout */
    uint64_t events;  /* security events queued */
    uint64_t events_suppressed; /* security events held back by the rate limit */
    unsigned sinks;             /* configured sinks */
    unsigned sinks_failing;
};

/* Checks the MODELWRAP_AUDIT_* settings of cfg without opening anything (check-config). 0 or
 * MWE_CONFIG with e naming the setting. Any thread. */
int audit_config_check(const struct config *cfg, struct mw_error *e);
/* Opens the sinks (files must open; a syslog collector that is down only makes its sink failing),
 * sets the process time zone for business hours (TZ, once: call before other threads start), and
 * starts the writer thread. Borrows cfg only during the call. NULL with e on failure. Main thread.
 */
struct audit *audit_new(const struct config *cfg, struct mw_error *e);
/* Fail-closed check for a new request: false when the policy is fail-closed and a sink is failing
 * or the ring is nearly full (the request must then be refused with 503). Always true with the
 * block policy. Lock-free; any thread. */
bool audit_admit(struct audit *a);
/* The log phase of request r (who: see audit_record_fill): builds its record, runs the security-event detector and queues the
 * record and its events. completed: the response was sent; records: records in the request (0:
 * unknown). Blocks only under the block policy while the ring is full. Borrows r. I/O threads. */
void audit_request(struct audit *a, struct request *r, const struct audit_who *who, bool completed,
                   uint64_t records);
/* audit_request for a health probe: waits at most 200 ms for room, whatever the policy (a probe
 * must answer while the trail is stuck, and stay audited through a burst); past that its record
 * is dropped and counted. */
void audit_request_nowait(struct audit *a, struct request *r, const struct audit_who *who,
                          bool completed, uint64_t records);
/* Whether the audit trail lets the server take traffic, for readiness: false, with *why (a static
 * sentence), when fail-closed refuses new requests (audit_admit) or when the block policy's ring
 * is full (new requests would wait). Lock-free; any thread. */
bool audit_ready(struct audit *a, const char **why);
/* Queues a copy of rec (a request record or an event). 0, or MWE_OVERLOADED when it was dropped
 * (fail-closed with a full ring, or shutting down past the deadline; counted in `dropped`). */
int audit_emit(struct audit *a, const struct audit_record *rec);
/* Asks the writer to reopen the file sinks (log rotation, SIGHUP). Any thread; returns at once. */
void audit_reopen(struct audit *a);
/* Starts the shutdown clock: from now on, records wait at most MODELWRAP_AUDIT_FLUSH_TIMEOUT
 * seconds for room in the ring and audit_free waits at most until the same deadline. Call before
 * stopping the HTTP server. Main thread. */
void audit_shutdown(struct audit *a);
/* Writes every queued record (until the deadline set by audit_shutdown, or the flush timeout from
 * now when it was not called), stops the writer, closes the sinks and frees a. Records that could
 * not be written by then are counted as dropped and logged. NULL is fine. Main thread. */
void audit_free(struct audit *a);
/* A snapshot of the counters. Any thread. */
void audit_get_stats(struct audit *a, struct audit_stats *out);

#endif /* MW_AUDIT_H */
