/*
 * The audit trail: a preallocated ring of fixed-size records filled by the request threads
 * (lock-free claim, publish flag per slot) and drained in order by one writer thread into every
 * sink; the block and fail-closed policies, sink failure and recovery, flushing at shutdown.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit_int.h"

#define BATCH_BYTES (256 * 1024)         /* a batch stops growing past this many bytes */
#define NAP_NS 1000000ull                /* the writer's short sleep while records keep coming */
#define IDLE_BEFORE_SLEEP_NS 20000000ull /* then it sleeps until signalled */
#define ACK_POLL_NS 2000000ull           /* how often unacknowledged TCP bytes are checked */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SLEEP_MAX_NS 1000000000ull
#define CONNECT_TIMEOUT_NS 5000000000ull /* a collector that does not answer a SYN is failing */

struct slot {
    _Atomic uint64_t seq; /* index + 1 once the record at index is published */
    struct audit_record rec;
};

struct audit {
    /* settings */
    int format;
    int policy;
    int fsync;
    uint64_t fsync_interval_ns;
    uint64_t flush_timeout_ns;
    char host[256];
    long pid;
    size_t cap;
    size_t reserve; /* fail-closed: new requests are refused when fewer slots are free */

    struct slot *slots;
    struct sink *sinks[SINKS_MAX];
    size_t n_sinks;
    struct audit_events *events;

    /* producers and writer */
    _Atomic uint64_t head; /* next index to claim */
    _Atomic uint64_t tail; /* every record below is written everywhere (or given up) */
    pthread_mutex_t mu;
    pthread_cond_t space; /* producers wait for room (block policy) */
    pthread_cond_t work;  /* the writer waits for records */
    atomic_int waiters;
    atomic_bool writer_sleeping;
    atomic_bool reopen;
    atomic_bool stopping;
    atomic_bool kick;             /* the next writer_sleep returns at once (reopen, stop) */
    _Atomic uint64_t deadline_ns; /* shutdown deadline; 0: not shutting down */
    atomic_uint failing;          /* sinks failing now */

    /* counters */
    _Atomic uint64_t written, failed, dropped, events_n;
    _Atomic uint64_t drop_logged_ms;

    pthread_t writer;
    bool writer_started;

    /* writer thread only */
    uint64_t pub; /* every record below is published */
    struct buf enc;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ---- configuration ----------------------------------------------------------------------------
 */

/* Two sinks writing to the same place. */
static bool same_target(const struct sink *a, const struct sink *b)
{
    if (a->type != b->type)
        return false;
    if (a->type == SINK_STDOUT)
        return true;
    return strcmp(a->target, b->target) == 0 && strcmp(a->port, b->port) == 0;
}

/* Parses both sink lists into sinks/n. A security sink that is also an audit sink is dropped
 * (events already go to every audit sink); a sink listed twice in one list is an error. */
static int parse_sinks(const struct config *cfg, struct sink **sinks, size_t *n, struct mw_error *e)
{
    size_t n_main;
    int rc;

    *n = 0;
    rc = sink_parse_list(cfg->audit_log, false, "MODELWRAP_AUDIT_LOG", sinks, n, SINKS_MAX, e);
    if (rc != 0)
        goto out;
    if (*n == 0) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_AUDIT_LOG: no sink (accepted: a path, stdout, "
                     "syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, comma-separated)");
        goto out;
    }
    n_main = *n;
    rc = sink_parse_list(cfg->audit_security_log, true, "MODELWRAP_AUDIT_SECURITY_LOG", sinks, n,
                         SINKS_MAX, e);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < *n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (!same_target(sinks[i], sinks[j]))
                continue;
            if (j < n_main && i >= n_main) {
                sink_free(sinks[i]);
                memmove(&sinks[i], &sinks[i + 1], (*n - i - 1) * sizeof(*sinks));
                (*n)--;
                i--;
                break;
            }
            rc = mw_fail(e, MWE_CONFIG, "%s: '%.100s' is listed twice",
                         i < n_main ? "MODELWRAP_AUDIT_LOG" : "MODELWRAP_AUDIT_SECURITY_LOG",
                         sinks[i]->spec);
            goto out;
        }
    }
out:
    return rc;
}

static int events_opts(const struct config *cfg, struct audit_events_opts *o, struct mw_error *e)
{
    struct mw_error pe = {0};
    memset(o, 0, sizeof(*o));
    if (audit_hours_parse(&o->hours, cfg->audit_business_hours, &pe) != 0)
        return mw_fail(e, MWE_CONFIG,
                       "MODELWRAP_AUDIT_BUSINESS_HOURS: %s (e.g. 'Mon-Fri "
                       "08:00-18:00; Sat 10:00-14:00')",
                       pe.msg);
    if (audit_timezone_check(cfg->audit_timezone, e) != 0)
        return MWE_CONFIG;
    o->large_bytes = cfg->audit_large_request_bytes;
    o->large_records = cfg->audit_large_request_records;
    o->auth_failures = cfg->audit_auth_failures;
    o->probe_404s = cfg->audit_probe_404s;
    o->burst_window_s = cfg->audit_burst_window_s;
    o->dedup_window_s = cfg->audit_event_dedup_window_s;
    o->per_minute = cfg->audit_events_per_minute;
    return 0;
}

/* Validates the audit settings without side effects; see audit.h. Any thread. */
int audit_config_check(const struct config *cfg, struct mw_error *e)
{
    struct sink *sinks[SINKS_MAX];
    struct audit_events_opts o;
    size_t n = 0;
    int rc = parse_sinks(cfg, sinks, &n, e);
    for (size_t i = 0; i < n; i++)
        sink_free(sinks[i]);
    if (rc == 0)
        rc = events_opts(cfg, &o, e);
    return rc;
}

/* ---- the ring ---------------------------------------------------------------------------------
 */

static bool past_deadline(struct audit *a)
{
    uint64_t d = atomic_load(&a->deadline_ns);
    return d != 0 && time_mono_ns() >= d;
}

static void count_drop(struct audit *a)
{
    uint64_t now = time_real_ms();
    uint64_t last = atomic_load(&a->drop_logged_ms);
    uint64_t n = atomic_fetch_add(&a->dropped, 1) + 1;
    /* Never silent, never a flood: one line per second at most. */
    if (now >= last + 1000 && atomic_compare_exchange_strong(&a->drop_logged_ms, &last, now))
        log_kv(LOG_ERROR, "audit record dropped: the queue is full", "policy",
               a->policy == AUDIT_POLICY_FAIL_CLOSED ? "fail-closed" : "block", "#dropped_total",
               (long long)n, NULL);
}

/* How long a health probe's record may wait for room in a full ring under the block policy. A
 * burst frees room within milliseconds, so probes stay audited under load; a stuck sink keeps it
 * full, and the probe must still answer (a hung liveness probe restarts a healthy pod). */
#define PROBE_WAIT_NS (UINT64_C(200) * 1000000)
#define WAIT_FOREVER UINT64_MAX

/* Claims the next slot. false when the record must be dropped (fail-closed with a full ring, a
 * full ring for longer than wait_ns, or the shutdown deadline passed). Block policy: waits for
 * room up to wait_ns (WAIT_FOREVER: until the shutdown deadline). */
static bool claim(struct audit *a, uint64_t *idx, uint64_t wait_ns)
{
    uint64_t h = atomic_load(&a->head);
    uint64_t until = 0;

    for (;;) {
        if (h - atomic_load(&a->tail) < a->cap) {
            if (atomic_compare_exchange_weak(&a->head, &h, h + 1)) {
                *idx = h;
                return true;
            }
            continue;
        }
        if (a->policy == AUDIT_POLICY_FAIL_CLOSED || wait_ns == 0 || past_deadline(a))
            return false;
        if (wait_ns != WAIT_FOREVER) {
            uint64_t now = time_mono_ns();
            if (until == 0)
                until = now + wait_ns;
            else if (now >= until)
                return false;
        }
        pthread_mutex_lock(&a->mu);
        atomic_fetch_add(&a->waiters, 1);
        while (atomic_load(&a->head) - atomic_load(&a->tail) >= a->cap && !past_deadline(a) &&
               (until == 0 || time_mono_ns() < until)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->space, &a->mu, &ts);
        }
        atomic_fetch_sub(&a->waiters, 1);
        pthread_mutex_unlock(&a->mu);
        h = atomic_load(&a->head);
    }
}

static void publish(struct audit *a, uint64_t idx)
{
    atomic_store(&a->slots[idx % a->cap].seq, idx + 1);
    if (atomic_load(&a->writer_sleeping)) {
        pthread_mutex_lock(&a->mu);
        pthread_cond_signal(&a->work);
        pthread_mutex_unlock(&a->mu);
    }
}

static int emit(struct audit *a, const struct audit_record *rec, uint64_t wait_ns)
{
    uint64_t idx;
    if (!claim(a, &idx, wait_ns)) {
        count_drop(a);
        return MWE_OVERLOADED;
    }
    a->slots[idx % a->cap].rec = *rec;
    if (rec->kind == AUDIT_EVENT)
        atomic_fetch_add(&a->events_n, 1);
    publish(a, idx);
    return 0;
}

/* Queues a copy of rec; see audit.h. Any thread. */
int audit_emit(struct audit *a, const struct audit_record *rec)
{
    return emit(a, rec, WAIT_FOREVER);
}

/* The log phase of a request; see audit.h. I/O threads. */
static void request_record(struct audit *a, struct request *r, const struct audit_who *who,
                           bool completed, uint64_t records, uint64_t wait_ns)
{
    struct audit_record rec;
    struct audit_record ev[AUDIT_EVENTS_MAX_PER_CHECK];
    uint64_t now_ms = time_real_ms();
    size_t n;

    audit_record_fill(&rec, r, who, completed, records, now_ms, time_mono_ns(),
                      http_header_get(r, "User-Agent"), http_header_get(r, "traceparent"));
    n = audit_events_check(a->events, &rec, now_ms, ev);
    emit(a, &rec, wait_ns);
    for (size_t i = 0; i < n; i++)
        emit(a, &ev[i], wait_ns);
}

/* See audit.h. I/O threads. */
void audit_request(struct audit *a, struct request *r, const struct audit_who *who, bool completed,
                   uint64_t records)
{
    request_record(a, r, who, completed, records, WAIT_FOREVER);
}

/* See audit.h. I/O threads; waits at most PROBE_WAIT_NS. */
void audit_request_nowait(struct audit *a, struct request *r, const struct audit_who *who,
                          bool completed, uint64_t records)
{
    request_record(a, r, who, completed, records, PROBE_WAIT_NS);
}

/* See audit.h. Lock-free; any thread. */
bool audit_ready(struct audit *a, const char **why)
{
    uint64_t used = atomic_load(&a->head) - atomic_load(&a->tail);

    if (a->policy == AUDIT_POLICY_FAIL_CLOSED && !audit_admit(a)) {
        *why = atomic_load(&a->failing) > 0
                   ? "the audit trail is unavailable: a sink is failing "
                     "(MODELWRAP_AUDIT_POLICY=fail-closed refuses requests)"
                   : "the audit trail is unavailable: its queue is nearly full "
                     "(MODELWRAP_AUDIT_POLICY=fail-closed refuses requests)";
        return false;
    }
    if (a->policy != AUDIT_POLICY_FAIL_CLOSED && used >= a->cap) {
        *why = "the audit queue is full: requests wait for the audit trail "
               "(MODELWRAP_AUDIT_POLICY=block)";
        return false;
    }
    *why = NULL;
    return true;
}

/* Fail-closed admission; see audit.h. Lock-free; any thread. */
bool audit_admit(struct audit *a)
{
    if (a->policy != AUDIT_POLICY_FAIL_CLOSED)
        return true;
    if (atomic_load(&a->failing) > 0)
        return false;
    return atomic_load(&a->head) - atomic_load(&a->tail) < a->cap - a->reserve;
}

/* ---- the writer -------------------------------------------------------------------------------
 */

static void sink_failed(struct audit *a, struct sink *s, int err, uint64_t now)
{
    s->failures++;
    atomic_fetch_add(&a->failed, 1);
    s->last_errno = err;
    if (!s->failing) {
        s->failing = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        atomic_fetch_add(&a->failing, 1);
        log_kv(LOG_ERROR, "audit sink failing; records stay queued and are retried", "sink",
               s->spec, "error", strerror(err), "policy",
               a->policy == AUDIT_POLICY_FAIL_CLOSED ? "fail-closed" : "block", NULL);
    } else {
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        log_kv(LOG_DEBUG, "audit sink still failing", "sink", s->spec, "error", strerror(err),
               "#retry_ms", (long long)s->backoff_ms, NULL);
    }
    s->retry_ns = now + (uint64_t)s->backoff_ms * 1000000ull;
}

static void sink_recovered(struct audit *a, struct sink *s)
{
    if (!s->failing)
        return;
    s->failing = false;
    s->backoff_ms = 0;
    atomic_fetch_sub(&a->failing, 1);
    log_kv(LOG_INFO, "audit sink recovered", "sink", s->spec, "#failed_attempts",
           (long long)s->failures, NULL);
}

static void batch_clear(struct sink *s)
{
    buf_reset(&s->batch);
    s->b_n = 0;
    s->b_off = 0;
    s->b_start = s->sent;
}

static bool skipped_by(const struct sink *s, const struct audit_record *rec)
{
    return s->events_only && rec->kind != AUDIT_EVENT;
}

/* Encodes the records from s->sent on (published ones, up to a batch) into s->batch. 0 or
 * MWE_NOMEM when not even one record could be encoded. */
static int batch_build(struct audit *a, struct sink *s)
{
    int rc = 0;

    batch_clear(s);
    while (s->b_n < SINK_BATCH_MAX && s->b_start + s->b_n < a->pub && s->batch.len < BATCH_BYTES) {
        const struct audit_record *rec = &a->slots[(s->b_start + s->b_n) % a->cap].rec;
        size_t mark = s->batch.len;
        if (!skipped_by(s, rec)) {
            buf_reset(&a->enc);
            rc = a->format == AUDIT_FORMAT_CEF ? audit_encode_cef(&a->enc, rec, a->host)
                                               : audit_encode_json(&a->enc, rec, a->host);
            if (rc == 0) {
                if (s->type == SINK_FILE || s->type == SINK_STDOUT) {
                    rc = buf_append(&s->batch, a->enc.ptr, a->enc.len);
                    if (rc == 0)
                        rc = buf_append(&s->batch, "\n", 1);
                } else {
                    rc = audit_frame_syslog(&s->batch, rec, a->host, a->pid, a->enc.ptr, a->enc.len,
                                            s->type == SINK_TCP);
                }
            }
            if (rc != 0) {
                s->batch.len = mark;
                if (s->batch.ptr != NULL)
                    s->batch.ptr[mark] = '\0';
                break;
            }
        }
        s->b_cum[s->b_n++] = s->batch.len;
    }
    return s->b_n > 0 ? 0 : rc;
}

/* Moves a sink with nothing in flight past leading records it skips (request records for a
 * security-only sink), so that a failing security sink does not hold them in the ring. */
static bool skip_unwanted(struct audit *a, struct sink *s)
{
    bool moved = false;
    if (!s->events_only || s->b_n > 0 || s->done != s->sent)
        return false;
    while (s->sent < a->pub && skipped_by(s, &a->slots[s->sent % a->cap].rec)) {
        s->sent++;
        moved = true;
    }
    if (moved) {
        s->done = s->sent; /* nothing was in flight: skipped records are delivered at once */
        s->b_start = s->sent;
    }
    return moved;
}

/* One step of one sink: connect, write what is published, track acknowledgements, sync. Returns
 * true when it moved something; lowers *wake_ns to when it wants to run again. */
static bool sink_step(struct audit *a, struct sink *s, uint64_t now, uint64_t *wake_ns)
{
    bool progress = skip_unwanted(a, s);
    uint64_t old_sent = s->sent, old_done = s->done;
    int rc;

    if (s->failing && now < s->retry_ns) {
        *wake_ns = min_u64(*wake_ns, s->retry_ns);
        return progress;
    }
    if ((s->type == SINK_TCP || s->type == SINK_UDP) && s->fd < 0) {
        rc = sink_connect(s);
        s->connect_ns = now;
        /* A new connection: what the old one did not deliver is sent again. */
        s->sent = s->done;
        batch_clear(s);
        if (rc != 0) {
            sink_failed(a, s, -rc, now);
            *wake_ns = min_u64(*wake_ns, s->retry_ns);
            return progress;
        }
        if (!s->connecting)
            sink_recovered(a, s);
    }
    if (s->type == SINK_TCP && s->connecting) {
        rc = sink_poll_connect(s);
        if (rc < 0) {
            sink_failed(a, s, -rc, now);
            *wake_ns = min_u64(*wake_ns, s->retry_ns);
            return progress;
        }
        if (rc == 0 && now - s->connect_ns >= CONNECT_TIMEOUT_NS) {
            sink_close(s);
            sink_failed(a, s, ETIMEDOUT, now);
            *wake_ns = min_u64(*wake_ns, s->retry_ns);
            return progress;
        }
        if (rc == 0) {
            *wake_ns = min_u64(*wake_ns, now + ACK_POLL_NS);
            return progress;
        }
        sink_recovered(a, s);
    }
    if (s->reopen && s->b_n == 0) {
        s->reopen = false;
        rc = sink_reopen(s);
        if (rc != 0)
            log_kv(LOG_ERROR, "cannot reopen the audit file; still writing the old one", "path",
                   s->target, "error", strerror(rc), NULL);
        else
            log_msg(LOG_INFO, "audit file reopened", "path", s->target, NULL);
    }
    if (s->b_n == 0 && s->sent < a->pub) {
        rc = batch_build(a, s);
        if (rc != 0) {
            sink_failed(a, s, ENOMEM, now);
            *wake_ns = min_u64(*wake_ns, s->retry_ns);
            return progress;
        }
    }
    if (s->b_n > 0) {
        size_t off = s->b_off;
        rc = s->b_off < s->batch.len ? sink_write(s) : 1;
        sink_progress(s, a->cap);
        if (rc < 0) {
            sink_failed(a, s, -rc, now);
            *wake_ns = min_u64(*wake_ns, s->retry_ns);
            return progress || s->sent != old_sent;
        }
        if (s->b_off > off || rc == 1)
            sink_recovered(a, s);
        if (rc == 1) {
            if (s->type == SINK_FILE && a->fsync == AUDIT_FSYNC_ALWAYS) {
                rc = sink_sync(s);
                if (rc != 0) {
                    sink_failed(a, s, -rc, now);
                    *wake_ns = min_u64(*wake_ns, s->retry_ns);
                    return progress || s->sent != old_sent;
                }
                s->synced_ns = now;
            }
            s->b_start = s->sent;
            s->b_n = 0;
            s->b_off = 0;
            buf_reset(&s->batch);
        } else {
            *wake_ns = min_u64(*wake_ns, now + ACK_POLL_NS);
        }
    }
    if (s->type == SINK_TCP) {
        sink_update_acks(s, a->cap);
        if (s->done < s->sent)
            *wake_ns = min_u64(*wake_ns, now + ACK_POLL_NS);
    } else if (!(s->type == SINK_FILE && a->fsync == AUDIT_FSYNC_ALWAYS && s->b_n > 0)) {
        s->done = s->sent;
    }
    if (s->type == SINK_FILE && a->fsync == AUDIT_FSYNC_INTERVAL && s->dirty) {
        if (now >= s->synced_ns + a->fsync_interval_ns) {
            if (sink_sync(s) == 0)
                s->synced_ns = now;
        } else {
            *wake_ns = min_u64(*wake_ns, s->synced_ns + a->fsync_interval_ns);
        }
    }
    return progress || s->sent != old_sent || s->done != old_done;
}

/* The slowest sink's `done` frees the ring. */
static void release(struct audit *a)
{
    uint64_t t = UINT64_MAX;
    uint64_t old = atomic_load(&a->tail);
    for (size_t i = 0; i < a->n_sinks; i++)
        t = min_u64(t, a->sinks[i]->done);
    if (t <= old)
        return;
    atomic_store(&a->tail, t);
    atomic_fetch_add(&a->written, t - old);
    if (atomic_load(&a->waiters) > 0) {
        pthread_mutex_lock(&a->mu);
        pthread_cond_broadcast(&a->space);
        pthread_mutex_unlock(&a->mu);
    }
}

static void scan_published(struct audit *a)
{
    uint64_t h = atomic_load(&a->head);
    while (a->pub < h &&
           atomic_load_explicit(&a->slots[a->pub % a->cap].seq, memory_order_acquire) == a->pub + 1)
        a->pub++;
}

static bool all_written(struct audit *a)
{
    return atomic_load(&a->tail) == atomic_load(&a->head);
}

/* Sleeps until a record is published, a flag is raised or wake_ns passes. */
static void writer_sleep(struct audit *a, uint64_t wake_ns, uint64_t now)
{
    struct timespec ts;
    uint64_t ns = wake_ns > now ? wake_ns - now : 0;
    if (ns > SLEEP_MAX_NS)
        ns = SLEEP_MAX_NS;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec += (long)(ns % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    atomic_store(&a->writer_sleeping, true);
    /* Re-check after announcing the sleep: a producer that published before it saw the flag. */
    if (atomic_load(&a->slots[a->pub % a->cap].seq) != a->pub + 1 &&
        !atomic_exchange(&a->kick, false))
        pthread_cond_timedwait(&a->work, &a->mu, &ts);
    atomic_store(&a->writer_sleeping, false);
    pthread_mutex_unlock(&a->mu);
}

static void *writer_main(void *arg)
{
    struct audit *a = arg;
    uint64_t idle_since = time_mono_ns();

    for (;;) {
        uint64_t now = time_mono_ns();
        uint64_t wake = now + SLEEP_MAX_NS;
        bool progress = false;

        if (atomic_exchange(&a->reopen, false))
            for (size_t i = 0; i < a->n_sinks; i++)
                if (a->sinks[i]->type == SINK_FILE)
                    a->sinks[i]->reopen = true;
        scan_published(a);
        for (size_t i = 0; i < a->n_sinks; i++)
            progress |= sink_step(a, a->sinks[i], now, &wake);
        release(a);
        if (atomic_load(&a->stopping)) {
            scan_published(a);
            if (all_written(a) || past_deadline(a))
                break;
            wake = min_u64(wake, atomic_load(&a->deadline_ns));
        }
        if (progress) {
            idle_since = now;
            /* Let records gather while the queue is far from full: writing as soon as any is
             * there made one write(2) per ~2 records under load (0.45 writes per request at 53k
             * req/s); a nap of NAP_NS makes each write carry a millisecond of records. */
            if (!atomic_load(&a->stopping) && atomic_load(&a->waiters) == 0 &&
                atomic_load(&a->head) - atomic_load(&a->tail) < a->cap / 4) {
                struct timespec ts = {0, (long)NAP_NS};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (now - idle_since < IDLE_BEFORE_SLEEP_NS) {
            /* Records are probably still coming: nap instead of asking producers to signal. */
            struct timespec ts = {0, (long)NAP_NS};
            if (wake > now)
                ts.tv_nsec = (long)min_u64(NAP_NS, wake - now);
            nanosleep(&ts, NULL);
            continue;
        }
        writer_sleep(a, wake, now);
    }
    for (size_t i = 0; i < a->n_sinks; i++)
        sink_sync(a->sinks[i]);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------------
 */

/* Opens the sinks and starts the writer; see audit.h. Main thread, before other threads start. */
struct audit *audit_new(const struct config *cfg, struct mw_error *e)
{
    struct audit *a = calloc(1, sizeof(*a));
    struct audit_events_opts eo;

    if (a == NULL) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->space, NULL);
    pthread_cond_init(&a->work, NULL);
    buf_init(&a->enc, SIZE_MAX / 2);
    a->format = cfg->audit_format;
    a->policy = cfg->audit_policy;
    a->fsync = cfg->audit_fsync;
    a->fsync_interval_ns = (uint64_t)cfg->audit_fsync_interval_ms * 1000000ull;
    a->flush_timeout_ns = (uint64_t)cfg->audit_flush_timeout_s * 1000000000ull;
    a->cap = cfg->audit_queue_size < 16 ? 16 : cfg->audit_queue_size;
    a->reserve = a->cap / 8;
    a->pid = (long)getpid();
    if (gethostname(a->host, sizeof(a->host) - 1) != 0)
        a->host[0] = '\0';

    if (parse_sinks(cfg, a->sinks, &a->n_sinks, e) != 0)
        goto out_fail;
    if (events_opts(cfg, &eo, e) != 0)
        goto out_fail;
    if (eo.hours.set) {
        /* Business hours are local time: localtime_r reads TZ. Set once, before any other
         * thread starts (setenv is not thread-safe), and load the zone now. */
        setenv("TZ", cfg->audit_timezone, 1);
        tzset();
    }
    a->events = audit_events_new(&eo);
    a->slots = calloc(a->cap, sizeof(*a->slots));
    if (a->events == NULL || a->slots == NULL) {
        mw_fail(e, MWE_NOMEM, "out of memory (audit queue of %zu records)", a->cap);
        goto out_fail;
    }
    for (size_t i = 0; i < a->n_sinks; i++) {
        if (sink_open(a->sinks[i], a->cap, e) != 0)
            goto out_fail;
        if (a->sinks[i]->failing) {
            a->sinks[i]->backoff_ms = BACKOFF_MIN_MS;
            atomic_fetch_add(&a->failing, 1);
        }
    }
    if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
        mw_fail(e, MWE_INTERNAL, "cannot start the audit writer thread");
        goto out_fail;
    }
    a->writer_started = true;
    log_kv(LOG_INFO, "audit trail ready", "format", a->format == AUDIT_FORMAT_CEF ? "cef" : "json",
           "policy", a->policy == AUDIT_POLICY_FAIL_CLOSED ? "fail-closed" : "block", "#sinks",
           (long long)a->n_sinks, "#queue", (long long)a->cap, NULL);
    return a;

out_fail:
    audit_free(a);
    return NULL;
}

/* Asks the writer to reopen the files; see audit.h. Any thread. */
void audit_reopen(struct audit *a)
{
    atomic_store(&a->reopen, true);
    atomic_store(&a->kick, true);
    pthread_mutex_lock(&a->mu);
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
}

/* Starts the shutdown clock; see audit.h. Main thread. */
void audit_shutdown(struct audit *a)
{
    uint64_t zero = 0;
    if (a == NULL)
        return;
    atomic_compare_exchange_strong(&a->deadline_ns, &zero, time_mono_ns() + a->flush_timeout_ns);
    pthread_mutex_lock(&a->mu);
    pthread_cond_broadcast(&a->space);
    pthread_mutex_unlock(&a->mu);
}

/* Flushes, stops and frees; see audit.h. Main thread. */
void audit_free(struct audit *a)
{
    if (a == NULL)
        return;
    if (a->writer_started) {
        audit_shutdown(a);
        atomic_store(&a->stopping, true);
        atomic_store(&a->kick, true);
        pthread_mutex_lock(&a->mu);
        pthread_cond_signal(&a->work);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->writer, NULL);
        uint64_t head = atomic_load(&a->head), tail = atomic_load(&a->tail);
        if (head > tail) {
            atomic_fetch_add(&a->dropped, head - tail);
            log_kv(LOG_ERROR, "audit records not written before the flush timeout", "#lost",
                   (long long)(head - tail), "#flush_timeout_ms",
                   (long long)(a->flush_timeout_ns / 1000000), NULL);
        }
        log_kv(LOG_INFO, "audit trail closed", "#written", (long long)atomic_load(&a->written),
               "#dropped", (long long)atomic_load(&a->dropped), "#failed_attempts",
               (long long)atomic_load(&a->failed), NULL);
    }
    for (size_t i = 0; i < a->n_sinks; i++)
        sink_free(a->sinks[i]);
    audit_events_free(a->events);
    free(a->slots);
    buf_fini(&a->enc);
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->space);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

/* Counter snapshot; see audit.h. Any thread. */
void audit_get_stats(struct audit *a, struct audit_stats *out)
{
    uint64_t head = atomic_load(&a->head), tail = atomic_load(&a->tail);
    memset(out, 0, sizeof(*out));
    out->written = atomic_load(&a->written);
    out->failed = atomic_load(&a->failed);
    out->pending = head > tail ? head - tail : 0;
    out->dropped = atomic_load(&a->dropped);
    out->events = atomic_load(&a->events_n);
    out->events_suppressed = audit_events_suppressed(a->events);
    out->sinks = (unsigned)a->n_sinks;
    out->sinks_failing = atomic_load(&a->failing);
}
