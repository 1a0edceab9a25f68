/*
 * metrics.c: per-thread counter slots (registered once per thread, reused after the thread
 * exits, summed on scrape), fixed-bucket histograms, the model series table and the Prometheus
 * text exposition of it all.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

/* ---- fixed dimensions ------------------------------------------------------------------------ */

static const char *const method_names[] = {"GET",    "HEAD",    "POST",  "PUT",
                                           "DELETE", "OPTIONS", "PATCH", "OTHER"};
#define N_METHODS (sizeof(method_names) / sizeof(method_names[0]))
#define METHOD_OTHER (N_METHODS - 1)

static const char *const class_names[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "none"};
#define N_CLASSES (sizeof(class_names) / sizeof(class_names[0]))

/* Seconds buckets shared by request, queue and compute durations: tree models answer in tens of
 * microseconds, a slow model in seconds. Upper bounds in nanoseconds and as exposition text. */
static const uint64_t dur_bounds_ns[] = {
    100000ull,     250000ull,     500000ull,     1000000ull,    2500000ull,   5000000ull,
    10000000ull,   25000000ull,   50000000ull,   100000000ull,  250000000ull, 500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull};
static const char *const dur_le[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                     "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                     "1",      "2.5",     "5",      "10"};
#define N_DUR (sizeof(dur_bounds_ns) / sizeof(dur_bounds_ns[0]))
_Static_assert(sizeof(dur_le) / sizeof(dur_le[0]) == N_DUR, "one label per duration bucket");

/* Rows per model run. */
static const uint64_t batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384};
static const char *const batch_le[] = {"1",   "2",   "4",   "8",    "16",   "32",   "64",
                                       "128", "256", "512", "1024", "4096", "16384"};
#define N_BATCH (sizeof(batch_bounds) / sizeof(batch_bounds[0]))
_Static_assert(sizeof(batch_le) / sizeof(batch_le[0]) == N_BATCH, "one label per batch bucket");

/* A histogram's cells: one per bucket, one for +Inf, then the sum. The count is their total. */
#define HIST_CELLS(nb) ((nb) + 2)

/* The agreed reason codes (r->outcome) and the family each counts in. */
enum { FAM_AUTH = 0, FAM_LIMIT = 1, FAM_REFUSED = 2, N_FAMS = 3 };
static const struct {
    const char *code;
    int fam;
} reasons[] = {
    {"auth.missing", FAM_AUTH},
    {"auth.invalid_key", FAM_AUTH},
    {"auth.expired_key", FAM_AUTH},
    {"auth.revoked_key", FAM_AUTH},
    {"auth.key_in_query", FAM_AUTH},
    {"auth.invalid_token", FAM_AUTH},
    {"auth.expired_token", FAM_AUTH},
    {"auth.token_lifetime", FAM_AUTH},
    {"auth.insufficient_scope", FAM_AUTH},
    {"auth.blocked", FAM_AUTH},
    {"limit.rate", FAM_LIMIT},
    {"limit.concurrency", FAM_LIMIT},
    {"limit.store_unavailable", FAM_LIMIT},
    {"sla.outage", FAM_REFUSED},
    {"audit.unavailable", FAM_REFUSED},
    /* HTTP framing refused by src/http (framing.c) */
    {"http.content_length_conflict", FAM_REFUSED},
    {"http.content_length_with_transfer_encoding", FAM_REFUSED},
    {"http.transfer_encoding", FAM_REFUSED},
    {"http.header_name", FAM_REFUSED},
    {"http.header_value", FAM_REFUSED},
    {"http.header_line", FAM_REFUSED},
    {"http.host", FAM_REFUSED},
    {"http.uri_nul", FAM_REFUSED},
    {"http.uri_bytes", FAM_REFUSED},
    /* requests libmicrohttpd answered by itself */
    {"http.malformed", FAM_REFUSED},
    {"http.chunked_malformed", FAM_REFUSED},
    {"http.chunk_too_large", FAM_REFUSED},
    {"http.content_length_malformed", FAM_REFUSED},
    {"http.content_length_too_large", FAM_REFUSED},
    {"http.host_missing", FAM_REFUSED},
    {"http.headers_too_large", FAM_REFUSED},
    {"http.uri_too_long", FAM_REFUSED},
    {"http.version_unsupported", FAM_REFUSED},
    /* connections refused before any request */
    {"conn.limit", FAM_REFUSED},
    {"conn.per_ip_limit", FAM_REFUSED},
    {"conn.bad_request_line", FAM_REFUSED},
};
#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))
/* Cells: one per known reason, then one "other" per family. */
#define N_OUTCOME_CELLS (N_REASONS + N_FAMS)

static const char *const result_names[] = {"success", "invalid_input", "error", "deadline",
                                           "rejected"};
_Static_assert(sizeof(result_names) / sizeof(result_names[0]) == METRICS_RESULT_COUNT_,
               "one name per result");

/* Cells of one model series: results, queue histogram, compute histogram, batch histogram. */
#define SERIES_RESULTS 0
#define SERIES_QUEUE (SERIES_RESULTS + METRICS_RESULT_COUNT_)
#define SERIES_COMPUTE (SERIES_QUEUE + HIST_CELLS(N_DUR))
#define SERIES_BATCH (SERIES_COMPUTE + HIST_CELLS(N_DUR))
#define SERIES_CELLS (SERIES_BATCH + HIST_CELLS(N_BATCH))

/* ---- objects --------------------------------------------------------------------------------- */

/* One thread's counters. Only the thread that holds it writes it (relaxed load + store, so no
 * locked instruction), except the shared overflow slot, which takes atomic adds. Scrapes read
 * every cell with relaxed loads. */
struct mslot {
    struct mslot *next; /* owner's list; set before publication, never changed */
    bool in_use;        /* guarded by g_mu */
    bool shared;
    _Atomic uint64_t cells[];
};

struct series {
    char *name;
    char *version;
};

struct metrics {
    uint64_t gen; /* unique per object: thread handles compare it, never the address */
    struct metrics *live_next;

    size_t n_routes;
    size_t *route_name; /* route index -> name index */
    size_t n_names;     /* unique names; name index n_names is "none" (no route) */
    char **names;

    /* cell layout */
    size_t off_req, off_dur, off_outcome, off_series, n_cells;

    _Atomic(struct mslot *) slots; /* append-only list, pushed under g_mu */
    size_t n_slots;                /* guarded by g_mu */
    struct mslot *overflow;        /* shared by threads past METRICS_MAX_SLOTS */

    pthread_mutex_t series_mu; /* serialises registration */
    struct series series[METRICS_MAX_SERIES];
    atomic_size_t n_series; /* published with release after the entry is filled */
    atomic_bool series_full_logged;
};

/* A thread's handle: which object its slot belongs to. Heap-allocated so that the key destructor
 * can find it at thread exit. */
struct tls_handle {
    uint64_t gen;
    struct mslot *slot;
};

/* Process-wide: the live objects (so that a thread exiting after its object was freed touches
 * nothing), the generation counter and the key whose destructor gives a slot back. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics *g_live;
static uint64_t g_gen;
static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static bool g_key_ok;
static _Thread_local struct tls_handle *t_handle;

static struct metrics *live_find(uint64_t gen)
{
    struct metrics *m;

    for (m = g_live; m != NULL; m = m->live_next)
        if (m->gen == gen)
            return m;
    return NULL;
}

/* Gives the slot of handle h back to its object, if that object still lives. g_mu held. */
static void handle_release(struct tls_handle *h)
{
    if (h->slot != NULL && !h->slot->shared && live_find(h->gen) != NULL)
        h->slot->in_use = false;
    h->slot = NULL;
    h->gen = 0;
}

static void handle_destroy(void *p)
{
    struct tls_handle *h = p;

    pthread_mutex_lock(&g_mu);
    handle_release(h);
    pthread_mutex_unlock(&g_mu);
    free(h);
}

static void key_create(void)
{
    g_key_ok = pthread_key_create(&g_key, handle_destroy) == 0;
}

static struct mslot *slot_alloc(const struct metrics *m, bool shared)
{
    struct mslot *s = calloc(1, sizeof(*s) + m->n_cells * sizeof(s->cells[0]));

    if (s != NULL) {
        s->shared = shared;
        for (size_t i = 0; i < m->n_cells; i++)
            atomic_init(&s->cells[i], 0);
    }
    return s;
}

/* The slow path of slot_get: this thread's first record into m (or into m after another object).
 * Takes a free slot, or a new one, or the shared overflow slot. */
static struct mslot *slot_acquire(struct metrics *m)
{
    struct tls_handle *h = t_handle;
    struct mslot *s;

    pthread_once(&g_key_once, key_create);
    if (h == NULL && g_key_ok) {
        h = calloc(1, sizeof(*h));
        if (h != NULL && pthread_setspecific(g_key, h) != 0) {
            free(h);
            h = NULL;
        }
        t_handle = h;
    }
    pthread_mutex_lock(&g_mu);
    if (h != NULL)
        handle_release(h);
    for (s = atomic_load_explicit(&m->slots, memory_order_relaxed); s != NULL; s = s->next)
        if (!s->in_use)
            break;
    if (s == NULL && m->n_slots < METRICS_MAX_SLOTS) {
        s = slot_alloc(m, false);
        if (s != NULL) {
            s->next = atomic_load_explicit(&m->slots, memory_order_relaxed);
            atomic_store_explicit(&m->slots, s, memory_order_release);
            m->n_slots++;
        }
    }
    if (s == NULL)
        s = m->overflow;
    else
        s->in_use = true;
    if (h != NULL) {
        h->gen = m->gen;
        h->slot = s;
    }
    pthread_mutex_unlock(&g_mu);
    return s;
}

static inline struct mslot *slot_get(struct metrics *m)
{
    struct tls_handle *h = t_handle;

    if (h != NULL && h->gen == m->gen)
        return h->slot;
    return slot_acquire(m);
}

static inline void cell_add(struct mslot *s, size_t i, uint64_t v)
{
    if (s->shared)
        atomic_fetch_add_explicit(&s->cells[i], v, memory_order_relaxed);
    else
        atomic_store_explicit(&s->cells[i],
                              atomic_load_explicit(&s->cells[i], memory_order_relaxed) + v,
                              memory_order_relaxed);
}

static size_t bucket_of(const uint64_t *bounds, size_t n, uint64_t v)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (v <= bounds[i])
            break;
    return i; /* n: +Inf */
}

static void hist_observe(struct mslot *s, size_t base, const uint64_t *bounds, size_t nb,
                         uint64_t v)
{
    cell_add(s, base + bucket_of(bounds, nb, v), 1);
    cell_add(s, base + nb + 1, v);
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

/* See metrics.h. Thread: any. Errors: MWE_NOMEM with e. */
struct metrics *metrics_new(const char *const *route_names, size_t n_routes, struct mw_error *e)
{
    struct metrics *m = calloc(1, sizeof(*m));
    size_t i, j;

    if (m == NULL)
        goto out_nomem;
    m->n_routes = n_routes;
    m->route_name = calloc(n_routes ? n_routes : 1, sizeof(*m->route_name));
    m->names = calloc(n_routes + 1, sizeof(*m->names));
    if (m->route_name == NULL || m->names == NULL)
        goto out_free;
    for (i = 0; i < n_routes; i++) {
        const char *name = route_names[i] != NULL ? route_names[i] : "unnamed";
        for (j = 0; j < m->n_names; j++)
            if (strcmp(m->names[j], name) == 0)
                break;
        if (j == m->n_names) {
            m->names[j] = strdup(name);
            if (m->names[j] == NULL)
                goto out_free;
            m->n_names++;
        }
        m->route_name[i] = j;
    }
    m->off_req = 0;
    m->off_dur = m->off_req + (m->n_names + 1) * N_METHODS * N_CLASSES;
    m->off_outcome = m->off_dur + (m->n_names + 1) * HIST_CELLS(N_DUR);
    m->off_series = m->off_outcome + N_OUTCOME_CELLS;
    m->n_cells = m->off_series + (size_t)METRICS_MAX_SERIES * SERIES_CELLS;
    atomic_init(&m->slots, NULL);
    atomic_init(&m->n_series, 0);
    atomic_init(&m->series_full_logged, false);
    m->overflow = slot_alloc(m, true);
    if (m->overflow == NULL)
        goto out_free;
    if (pthread_mutex_init(&m->series_mu, NULL) != 0)
        goto out_free;
    pthread_mutex_lock(&g_mu);
    m->gen = ++g_gen;
    m->live_next = g_live;
    g_live = m;
    pthread_mutex_unlock(&g_mu);
    return m;

out_free:
    if (m->names != NULL)
        for (j = 0; j < m->n_names; j++)
            free(m->names[j]);
    free(m->names);
    free(m->route_name);
    free(m->overflow);
    free(m);
out_nomem:
    mw_fail(e, MWE_NOMEM, "out of memory for the metrics");
    return NULL;
}

/* See metrics.h. Thread: any, once no thread records into m. */
void metrics_free(struct metrics *m)
{
    struct metrics **pp;
    struct mslot *s, *next;
    size_t i, n;

    if (m == NULL)
        return;
    pthread_mutex_lock(&g_mu);
    for (pp = &g_live; *pp != NULL; pp = &(*pp)->live_next) {
        if (*pp == m) {
            *pp = m->live_next;
            break;
        }
    }
    /* This thread's handle may point into m: forget it so that nothing reads the freed slot. */
    if (t_handle != NULL && t_handle->gen == m->gen) {
        t_handle->gen = 0;
        t_handle->slot = NULL;
    }
    pthread_mutex_unlock(&g_mu);
    for (s = atomic_load_explicit(&m->slots, memory_order_acquire); s != NULL; s = next) {
        next = s->next;
        free(s);
    }
    free(m->overflow);
    n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    for (i = 0; i < n; i++) {
        free(m->series[i].name);
        free(m->series[i].version);
    }
    pthread_mutex_destroy(&m->series_mu);
    for (i = 0; i < m->n_names; i++)
        free(m->names[i]);
    free(m->names);
    free(m->route_name);
    free(m);
}

/* ---- recording ------------------------------------------------------------------------------- */

static size_t method_index(unsigned bit)
{
    size_t i;

    if (bit == 0 || (bit & (bit - 1)) != 0)
        return METHOD_OTHER;
    for (i = 0; i < METHOD_OTHER; i++)
        if (bit == 1u << i)
            return i;
    return METHOD_OTHER;
}

static size_t class_index(int status)
{
    if (status < 100 || status > 599)
        return N_CLASSES - 1;
    return (size_t)(status / 100 - 1);
}

/* See metrics.h. Thread: any; lock-free after the thread's first record. */
void metrics_request(struct metrics *m, size_t route, unsigned method_bit, int status,
                     uint64_t duration_ns)
{
    struct mslot *s = slot_get(m);
    size_t name = route < m->n_routes ? m->route_name[route] : m->n_names;

    cell_add(s,
             m->off_req + (name * N_METHODS + method_index(method_bit)) * N_CLASSES +
                 class_index(status),
             1);
    hist_observe(s, m->off_dur + name * HIST_CELLS(N_DUR), dur_bounds_ns, N_DUR, duration_ns);
}

/* See metrics.h. Thread: any. */
void metrics_outcome(struct metrics *m, const char *outcome)
{
    size_t i, cell;

    if (outcome == NULL || strcmp(outcome, "ok") == 0)
        return;
    for (i = 0; i < N_REASONS; i++)
        if (strcmp(outcome, reasons[i].code) == 0)
            break;
    if (i < N_REASONS)
        cell = i;
    else if (strncmp(outcome, "auth.", 5) == 0)
        cell = N_REASONS + FAM_AUTH;
    else if (strncmp(outcome, "limit.", 6) == 0)
        cell = N_REASONS + FAM_LIMIT;
    else
        cell = N_REASONS + FAM_REFUSED;
    cell_add(slot_get(m), m->off_outcome + cell, 1);
}

static int series_find(struct metrics *m, size_t n, const char *name, const char *version)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(m->series[i].name, name) == 0 && strcmp(m->series[i].version, version) == 0)
            return (int)i;
    return -1;
}

/* See metrics.h. Thread: any; takes series_mu only to register. */
int metrics_model_series(struct metrics *m, const char *name, const char *version)
{
    size_t n;
    int idx;
    char *cn, *cv;

    if (name == NULL)
        return -1;
    if (version == NULL)
        version = "";
    n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    idx = series_find(m, n, name, version);
    if (idx >= 0)
        return idx;
    pthread_mutex_lock(&m->series_mu);
    n = atomic_load_explicit(&m->n_series, memory_order_relaxed);
    idx = series_find(m, n, name, version);
    if (idx >= 0)
        goto out_unlock;
    if (n >= METRICS_MAX_SERIES) {
        if (!atomic_exchange(&m->series_full_logged, true))
            log_msg(LOG_WARN, "metrics: too many model versions, later ones are not recorded",
                    "model", name, "version", version, NULL);
        goto out_unlock;
    }
    cn = strdup(name);
    cv = strdup(version);
    if (cn == NULL || cv == NULL) {
        free(cn);
        free(cv);
        goto out_unlock;
    }
    m->series[n].name = cn;
    m->series[n].version = cv;
    atomic_store_explicit(&m->n_series, n + 1, memory_order_release);
    idx = (int)n;
out_unlock:
    pthread_mutex_unlock(&m->series_mu);
    return idx;
}

/* See metrics.h. Thread: any. */
void metrics_model_call(struct metrics *m, int s, enum metrics_result result, bool started,
                        uint64_t queue_ns, bool finished, uint64_t compute_ns)
{
    struct mslot *slot;
    size_t base;

    if (s < 0 || s >= METRICS_MAX_SERIES || (unsigned)result >= METRICS_RESULT_COUNT_)
        return;
    slot = slot_get(m);
    base = m->off_series + (size_t)s * SERIES_CELLS;
    cell_add(slot, base + SERIES_RESULTS + (size_t)result, 1);
    if (started)
        hist_observe(slot, base + SERIES_QUEUE, dur_bounds_ns, N_DUR, queue_ns);
    if (finished)
        hist_observe(slot, base + SERIES_COMPUTE, dur_bounds_ns, N_DUR, compute_ns);
}

/* See metrics.h. Thread: any. */
void metrics_model_batch(struct metrics *m, int s, uint64_t rows)
{
    if (s < 0 || s >= METRICS_MAX_SERIES)
        return;
    hist_observe(slot_get(m), m->off_series + (size_t)s * SERIES_CELLS + SERIES_BATCH, batch_bounds,
                 N_BATCH, rows);
}

/* ---- exposition helpers ---------------------------------------------------------------------- */

/* Appends s with the exposition format's escapes: backslash, newline, and (in label values) the
 * double quote. */
static int put_escaped(struct buf *out, const char *s, bool quote)
{
    int rc = 0;
    size_t start = 0, i;

    for (i = 0; rc == 0 && s[i] != '\0'; i++) {
        const char *esc = NULL;
        if (s[i] == '\\')
            esc = "\\\\";
        else if (s[i] == '\n')
            esc = "\\n";
        else if (quote && s[i] == '"')
            esc = "\\\"";
        if (esc != NULL) {
            rc = buf_append(out, s + start, i - start);
            if (rc == 0)
                rc = buf_append(out, esc, 2);
            start = i + 1;
        }
    }
    if (rc == 0)
        rc = buf_append(out, s + start, i - start);
    return rc;
}

/* See metrics.h. Thread: any. */
int metrics_family(struct buf *out, const char *name, const char *type, const char *help)
{
    int rc = buf_appendf(out, "# HELP %s ", name);

    if (rc == 0)
        rc = put_escaped(out, help, false);
    if (rc == 0)
        rc = buf_appendf(out, "\n# TYPE %s %s\n", name, type);
    return rc;
}

/* name[suffix]{labels[,le="le"]} value\n */
static int put_sample(struct buf *out, const char *name, const char *suffix,
                      const struct metrics_label *labels, size_t n, const char *le,
                      const char *value)
{
    int rc = buf_appendf(out, "%s%s", name, suffix);
    size_t i;

    if (rc == 0 && (n > 0 || le != NULL))
        rc = buf_append(out, "{", 1);
    for (i = 0; rc == 0 && i < n; i++) {
        rc = buf_appendf(out, "%s%s=\"", i > 0 ? "," : "", labels[i].name);
        if (rc == 0)
            rc = put_escaped(out, labels[i].value != NULL ? labels[i].value : "", true);
        if (rc == 0)
            rc = buf_append(out, "\"", 1);
    }
    if (rc == 0 && le != NULL)
        rc = buf_appendf(out, "%sle=\"%s\"", n > 0 ? "," : "", le);
    if (rc == 0 && (n > 0 || le != NULL))
        rc = buf_append(out, "}", 1);
    if (rc == 0)
        rc = buf_appendf(out, " %s\n", value);
    return rc;
}

/* See metrics.h. Thread: any. */
int metrics_sample_u64(struct buf *out, const char *name, const struct metrics_label *labels,
                       size_t n_labels, uint64_t value)
{
    char v[32];

    snprintf(v, sizeof(v), "%" PRIu64, value);
    return put_sample(out, name, "", labels, n_labels, NULL, v);
}

/* See metrics.h. Thread: any. */
int metrics_sample_f64(struct buf *out, const char *name, const struct metrics_label *labels,
                       size_t n_labels, double value)
{
    char v[40];

    if (isnan(value))
        snprintf(v, sizeof(v), "NaN");
    else if (isinf(value))
        snprintf(v, sizeof(v), "%s", value > 0 ? "+Inf" : "-Inf");
    else
        for (int prec = 15; prec <= 17; prec++) {
            /* the shortest text that reads back as the same double */
            snprintf(v, sizeof(v), "%.*g", prec, value);
            if (strtod(v, NULL) == value)
                break;
        }
    return put_sample(out, name, "", labels, n_labels, NULL, v);
}

/* Writes a histogram's samples from its cells (non-cumulative buckets, +Inf, sum). seconds: the
 * sum is in nanoseconds and is written in seconds. */
static int put_histogram(struct buf *out, const char *name, const struct metrics_label *labels,
                         size_t n, const uint64_t *cells, const char *const *le, size_t nb,
                         bool seconds)
{
    char v[48];
    uint64_t cum = 0, sum = cells[nb + 1];
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < nb; i++) {
        cum += cells[i];
        snprintf(v, sizeof(v), "%" PRIu64, cum);
        rc = put_sample(out, name, "_bucket", labels, n, le[i], v);
    }
    cum += cells[nb];
    snprintf(v, sizeof(v), "%" PRIu64, cum);
    if (rc == 0)
        rc = put_sample(out, name, "_bucket", labels, n, "+Inf", v);
    if (seconds)
        snprintf(v, sizeof(v), "%" PRIu64 ".%09" PRIu64, sum / 1000000000u, sum % 1000000000u);
    else
        snprintf(v, sizeof(v), "%" PRIu64, sum);
    if (rc == 0)
        rc = put_sample(out, name, "_sum", labels, n, NULL, v);
    snprintf(v, sizeof(v), "%" PRIu64, cum);
    if (rc == 0)
        rc = put_sample(out, name, "_count", labels, n, NULL, v);
    return rc;
}

static uint64_t hist_count(const uint64_t *cells, size_t nb)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i <= nb; i++)
        n += cells[i];
    return n;
}

/* ---- the scrape ------------------------------------------------------------------------------ */

/* Sums every slot into tot (m->n_cells entries). */
static void aggregate(struct metrics *m, uint64_t *tot)
{
    struct mslot *s;
    size_t i;

    for (i = 0; i < m->n_cells; i++)
        tot[i] = atomic_load_explicit(&m->overflow->cells[i], memory_order_relaxed);
    for (s = atomic_load_explicit(&m->slots, memory_order_acquire); s != NULL; s = s->next)
        for (i = 0; i < m->n_cells; i++)
            tot[i] += atomic_load_explicit(&s->cells[i], memory_order_relaxed);
}

static const char *route_label(const struct metrics *m, size_t name)
{
    return name < m->n_names ? m->names[name] : "none";
}

static int write_requests(struct metrics *m, const uint64_t *tot, struct buf *out)
{
    size_t name, meth, cls;
    int rc;

    rc = metrics_family(out, "modelwrap_http_requests_total", "counter",
                        "HTTP requests completed, by route name, method and status class.");
    for (name = 0; rc == 0 && name <= m->n_names; name++) {
        for (meth = 0; rc == 0 && meth < N_METHODS; meth++) {
            for (cls = 0; rc == 0 && cls < N_CLASSES; cls++) {
                uint64_t v = tot[m->off_req + (name * N_METHODS + meth) * N_CLASSES + cls];
                struct metrics_label l[] = {{"route", route_label(m, name)},
                                            {"method", method_names[meth]},
                                            {"status", class_names[cls]}};
                if (v > 0)
                    rc = metrics_sample_u64(out, "modelwrap_http_requests_total", l, 3, v);
            }
        }
    }
    if (rc == 0)
        rc = metrics_family(out, "modelwrap_http_request_duration_seconds", "histogram",
                            "Time from a request's first byte to its completion, by route name.");
    for (name = 0; rc == 0 && name <= m->n_names; name++) {
        const uint64_t *cells = tot + m->off_dur + name * HIST_CELLS(N_DUR);
        struct metrics_label l[] = {{"route", route_label(m, name)}};
        if (hist_count(cells, N_DUR) > 0)
            rc = put_histogram(out, "modelwrap_http_request_duration_seconds", l, 1, cells, dur_le,
                               N_DUR, true);
    }
    return rc;
}

static int write_outcomes(struct metrics *m, const uint64_t *tot, struct buf *out)
{
    static const struct {
        const char *name;
        const char *help;
        size_t prefix; /* bytes of the code before the reason label */
    } fams[N_FAMS] = {
        [FAM_AUTH] = {"modelwrap_auth_failures_total",
                      "Requests refused by authentication or authorization, by reason.", 5},
        [FAM_LIMIT] = {"modelwrap_rate_limited_requests_total",
                       "Requests refused by a throughput or concurrency limit, by reason.", 6},
        [FAM_REFUSED] = {"modelwrap_requests_refused_total",
                         "Requests and connections refused for another reason (SLA outage window, "
                         "audit trail unavailable, HTTP framing, connection limits), by reason "
                         "code.",
                         0},
    };
    size_t f, i;
    int rc = 0;

    for (f = 0; rc == 0 && f < N_FAMS; f++) {
        rc = metrics_family(out, fams[f].name, "counter", fams[f].help);
        for (i = 0; rc == 0 && i < N_REASONS; i++) {
            if (reasons[i].fam != (int)f)
                continue;
            struct metrics_label l[] = {{"reason", reasons[i].code + fams[f].prefix}};
            rc = metrics_sample_u64(out, fams[f].name, l, 1, tot[m->off_outcome + i]);
        }
        if (rc == 0) {
            struct metrics_label l[] = {{"reason", "other"}};
            rc = metrics_sample_u64(out, fams[f].name, l, 1, tot[m->off_outcome + N_REASONS + f]);
        }
    }
    return rc;
}

static int write_models(struct metrics *m, const uint64_t *tot, struct buf *out)
{
    size_t n = atomic_load_explicit(&m->n_series, memory_order_acquire);
    size_t s, k;
    int rc;

    rc = metrics_family(out, "modelwrap_model_inferences_total", "counter",
                        "Model calls by model, version and result (success, invalid_input, "
                        "error, deadline, rejected).");
    for (s = 0; rc == 0 && s < n; s++) {
        const uint64_t *cells = tot + m->off_series + s * SERIES_CELLS;
        for (k = 0; rc == 0 && k < METRICS_RESULT_COUNT_; k++) {
            struct metrics_label l[] = {{"model", m->series[s].name},
                                        {"version", m->series[s].version},
                                        {"result", result_names[k]}};
            rc = metrics_sample_u64(out, "modelwrap_model_inferences_total", l, 3,
                                    cells[SERIES_RESULTS + k]);
        }
    }
    static const struct {
        const char *name;
        const char *help;
        size_t off;
        const char *const *le;
        size_t nb;
        bool seconds;
    } hists[] = {
        {"modelwrap_model_queue_duration_seconds",
         "Time a model call waited for a worker (0 when run inline), by model and version.",
         SERIES_QUEUE, dur_le, N_DUR, true},
        {"modelwrap_model_compute_duration_seconds",
         "Time the model spent computing a call, by model and version.", SERIES_COMPUTE, dur_le,
         N_DUR, true},
        {"modelwrap_model_batch_size", "Rows per model run, by model and version.", SERIES_BATCH,
         batch_le, N_BATCH, false},
    };
    for (k = 0; rc == 0 && k < MW_ARRAY_LEN(hists); k++) {
        rc = metrics_family(out, hists[k].name, "histogram", hists[k].help);
        for (s = 0; rc == 0 && s < n; s++) {
            struct metrics_label l[] = {{"model", m->series[s].name},
                                        {"version", m->series[s].version}};
            rc = put_histogram(out, hists[k].name, l, 2,
                               tot + m->off_series + s * SERIES_CELLS + hists[k].off, hists[k].le,
                               hists[k].nb, hists[k].seconds);
        }
    }
    return rc;
}

/* See metrics.h. Thread: any. */
int metrics_write(struct metrics *m, struct buf *out)
{
    uint64_t *tot = malloc(m->n_cells * sizeof(*tot));
    int rc;

    if (tot == NULL)
        return MWE_NOMEM;
    aggregate(m, tot);
    rc = write_requests(m, tot, out);
    if (rc == 0)
        rc = write_outcomes(m, tot, out);
    if (rc == 0)
        rc = write_models(m, tot, out);
    free(tot);
    return rc;
}
