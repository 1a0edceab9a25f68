/*
 * The connection guard: one exact server-wide connection count (MODELWRAP_MAX_CONNECTIONS) and a
 * per-address limit (MODELWRAP_MAX_CONNECTIONS_PER_IP; trusted proxies are exempt), both held
 * across every I/O thread's daemon; at the server-wide limit the connection idle the longest is
 * closed to make room, and only when none is idle is the new one refused. And a watchdog thread
 * that shuts down connections whose request is not received in time (slowloris): libmicrohttpd's
 * own timeout is an idle timeout, which a client sending one byte a second never trips.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http/http_int.h"

#define WATCH_PERIOD_MS 250
#define LOG_INTERVAL_NS (10ull * 1000000000ull)
/* A refused connection gets this long to read its 503 before it is shut down for good. */
#define REFUSED_LINGER_NS (1000ull * 1000000ull)

struct ipcount {
    struct ipaddr ip;
    uint32_t count; /* 0: free slot */
};

struct conn_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool thread_started;
    bool stop;
    struct http_conn *head; /* every open connection */
    struct ipcount *table;  /* open addressing, linear probing */
    size_t mask;
    unsigned per_ip;
    unsigned max_total;   /* MODELWRAP_MAX_CONNECTIONS */
    unsigned open;        /* connections in the server-wide count (under the lock) */
    atomic_uint open_pub; /* the same, for lock-free readers */
    uint64_t receive_ns;
    uint64_t idle_ns;
    const struct proxy_list *trusted;
    atomic_ullong closed_slow;
    atomic_ullong refused;
    atomic_ullong refused_total; /* refused at the server-wide limit */
    atomic_ullong evicted;       /* idle connections closed to make room */
    atomic_ullong log_slow_ns;
    atomic_ullong log_refused_ns;
    atomic_ullong log_total_ns;
};

/* The guard's clock: CLOCK_MONOTONIC_COARSE (a few ms of resolution, several times cheaper than
 * the precise clock) is plenty for deadlines counted in seconds, and it is read on every request.
 * Any thread. */
uint64_t guard_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* True at most once per interval_ns for a given *last_ns (any thread, lock-free). */
bool guard_log_ok(atomic_ullong *last_ns, uint64_t interval_ns)
{
    unsigned long long now = time_mono_ns();
    unsigned long long last = atomic_load_explicit(last_ns, memory_order_relaxed);
    if (last != 0 && now - last < interval_ns)
        return false;
    return atomic_compare_exchange_strong(last_ns, &last, now);
}

static size_t ip_hash(const struct ipaddr *a)
{
    uint64_t h = 1469598103934665603ull;
    size_t len = a->family == 4 ? 4 : 16;
    h = (h ^ a->family) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ a->a[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static bool ip_equal(const struct ipaddr *a, const struct ipaddr *b)
{
    return a->family == b->family && memcmp(a->a, b->a, a->family == 4 ? 4 : 16) == 0;
}

/* The slot of a, or the free slot where it goes; NULL when the table is full. Under the lock. */
static struct ipcount *table_slot(struct conn_guard *g, const struct ipaddr *a)
{
    size_t i = ip_hash(a) & g->mask;
    for (size_t probes = 0; probes <= g->mask; probes++) {
        struct ipcount *s = &g->table[i];
        if (s->count == 0 || ip_equal(&s->ip, a))
            return s;
        i = (i + 1) & g->mask;
    }
    return NULL;
}

/* Empties slot i, moving later entries of the probe run back (no tombstones). Under the lock. */
static void table_delete(struct conn_guard *g, size_t i)
{
    size_t j = i;
    g->table[i].count = 0;
    for (;;) {
        size_t k;
        j = (j + 1) & g->mask;
        if (g->table[j].count == 0)
            return;
        k = ip_hash(&g->table[j].ip) & g->mask;
        /* The entry at j may move to i unless its home k lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        g->table[i] = g->table[j];
        g->table[j].count = 0;
        i = j;
    }
}

static const char *phase_name(int st)
{
    switch (st) {
    case CONN_IDLE:
        return "request line";
    case CONN_HEADERS:
        return "headers";
    default:
        return "body";
    }
}

/* The watchdog: every WATCH_PERIOD_MS, shuts down connections stuck receiving a request. The
 * socket stays open (libmicrohttpd closes it when it sees the shutdown), and the guard's lock
 * keeps it from being closed and reused while we look at it: libmicrohttpd notifies the close
 * (guard_conn_close, which takes the lock) before it closes the descriptor. */
static void *watchdog(void *arg)
{
    struct conn_guard *g = arg;

    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec ts;
        uint64_t now;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stop)
            break;
        now = guard_now_ns();
        for (struct http_conn *c = g->head; c; c = c->next) {
            int st = atomic_load_explicit(&c->state, memory_order_acquire);
            uint64_t t = atomic_load_explicit(&c->t_ns, memory_order_relaxed);
            uint64_t limit;
            if (c->cut)
                continue;
            if (c->refused) { /* its 503 had time to leave; the client may not read it */
                if (now > t && now - t > REFUSED_LINGER_NS) {
                    shutdown(c->fd, SHUT_RDWR);
                    c->cut = true;
                }
                continue;
            }
            if (st == CONN_IDLE) /* a request line that trickles in: MHD's idle timer never fires */
                limit = g->idle_ns + g->receive_ns;
            else if (st == CONN_HEADERS)
                limit = g->receive_ns;
            else if (st == CONN_BODY) /* the body normally gets a 408 on its next chunk first */
                limit = g->receive_ns + g->idle_ns;
            else
                continue;
            if (now <= t || now - t <= limit)
                continue;
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            unsigned long long n = atomic_fetch_add(&g->closed_slow, 1) + 1;
            if (guard_log_ok(&g->log_slow_ns, LOG_INTERVAL_NS))
                log_kv(LOG_WARN, "connection closed: request not received in time", "client",
                       c->peer_text, "phase", phase_name(st), "#receive_timeout_s",
                       (long long)(g->receive_ns / 1000000000ull), "#closed_total",
                       (long long)n, NULL);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* See http_int.h. Main thread at start-up. */
struct conn_guard *guard_new(const struct config *cfg, const struct proxy_list *trusted,
                        struct mw_error *e)
{
    struct conn_guard *g = calloc(1, sizeof(*g));
    pthread_condattr_t ca;
    size_t cap = 64;

    if (!g) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        return NULL;
    }
    while (cap < 2 * (size_t)cfg->max_connections)
        cap *= 2;
    g->table = calloc(cap, sizeof(*g->table));
    if (!g->table) {
        mw_fail(e, MWE_NOMEM, "out of memory (connection table)");
        free(g);
        return NULL;
    }
    g->mask = cap - 1;
    g->per_ip = cfg->max_connections_per_ip;
    g->max_total = cfg->max_connections;
    g->receive_ns = (uint64_t)cfg->receive_timeout_s * 1000000000ull;
    g->idle_ns = (uint64_t)cfg->idle_timeout_s * 1000000000ull;
    g->trusted = trusted;
    pthread_mutex_init(&g->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, watchdog, g) != 0) {
        mw_fail(e, MWE_IO, "cannot start the connection watchdog: %s", strerror(errno));
        guard_free(g);
        return NULL;
    }
    g->thread_started = true;
    return g;
}

/* See http_int.h. Main thread, after every daemon stopped. */
void guard_free(struct conn_guard *g)
{
    if (!g)
        return;
    if (g->thread_started) {
        pthread_mutex_lock(&g->lock);
        g->stop = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
    }
    while (g->head) { /* only when a daemon failed to stop cleanly */
        struct http_conn *c = g->head;
        g->head = c->next;
        free(c);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g->table);
    free(g);
}

/* The connection to close to make room: the one idle (between requests, or accepted and silent)
 * the longest. NULL when every connection is busy. Under the lock. */
static struct http_conn *idle_victim(struct conn_guard *g)
{
    struct http_conn *best = NULL;
    uint64_t best_t = 0;
    for (struct http_conn *c = g->head; c; c = c->next) {
        uint64_t t;
        if (!c->counted_total || c->cut || c->refused ||
            atomic_load_explicit(&c->state, memory_order_acquire) != CONN_IDLE)
            continue;
        t = atomic_load_explicit(&c->t_ns, memory_order_relaxed);
        if (!best || t <= best_t) { /* the list is newest first: ties go to the oldest */
            best = c;
            best_t = t;
        }
    }
    return best;
}

/* See http_int.h. The I/O thread that accepted fd. */
struct http_conn *guard_conn_open(struct conn_guard *g, int fd, const struct sockaddr *sa)
{
    struct http_conn *c = calloc(1, sizeof(*c));
    bool evicted = false;
    if (!c)
        return NULL;
    c->fd = fd;
    if (ipaddr_from_sockaddr(sa, &c->peer))
        ipaddr_format(&c->peer, c->peer_text, sizeof(c->peer_text));
    c->trusted_peer = g->trusted && c->peer.family && proxy_list_has(g->trusted, &c->peer);
    atomic_init(&c->state, CONN_IDLE);
    atomic_init(&c->t_ns, guard_now_ns());

    pthread_mutex_lock(&g->lock);
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    if (!c->trusted_peer && c->peer.family) {
        struct ipcount *s = table_slot(g, &c->peer);
        if (s && s->count < g->per_ip) {
            if (s->count == 0)
                s->ip = c->peer;
            s->count++;
            c->counted = true;
        } else {
            c->refused = true;
            c->cut = true; /* shut down below, at once */
        }
    }
    if (!c->refused && g->open >= g->max_total) {
        /* The victim's socket is shut down under the lock: libmicrohttpd notifies its close
         * (guard_conn_close takes the lock) before it closes the descriptor, so fd is still its. */
        struct http_conn *v = idle_victim(g);
        if (v) {
            shutdown(v->fd, SHUT_RDWR);
            v->cut = true;
            v->evicted = true;
            v->counted_total = false;
            g->open--;
            evicted = true;
        }
    }
    if (!c->refused) {
        if (g->open < g->max_total) {
            g->open++;
            c->counted_total = true;
        } else {
            c->refused = true;
            c->over_limit = true;
        }
    }
    atomic_store_explicit(&g->open_pub, g->open, memory_order_relaxed);
    pthread_mutex_unlock(&g->lock);

    if (evicted)
        atomic_fetch_add(&g->evicted, 1);
    if (c->over_limit) {
        /* The caller answers 503 and shuts the socket down; the watchdog closes it after
         * REFUSED_LINGER_NS at the latest. */
        unsigned long long n = atomic_fetch_add(&g->refused_total, 1) + 1;
        if (guard_log_ok(&g->log_total_ns, LOG_INTERVAL_NS))
            log_kv(LOG_WARN, "connection refused: server-wide connection limit, none idle",
                   "client", c->peer_text, "#limit", (long long)g->max_total, "#refused_total",
                   (long long)n, NULL);
    } else if (c->refused) {
        unsigned long long n = atomic_fetch_add(&g->refused, 1) + 1;
        shutdown(fd, SHUT_RDWR);
        if (guard_log_ok(&g->log_refused_ns, LOG_INTERVAL_NS))
            log_kv(LOG_WARN, "connection refused: per-address connection limit", "client",
                   c->peer_text, "#limit", (long long)g->per_ip, "#refused_total",
                   (long long)n, NULL);
    }
    return c;
}

/* See http_int.h. The connection's I/O thread. */
bool guard_conn_cut(struct conn_guard *g, struct http_conn *c)
{
    bool cut;
    pthread_mutex_lock(&g->lock);
    cut = c->cut || c->refused;
    pthread_mutex_unlock(&g->lock);
    return cut;
}

/* See http_int.h. The connection's I/O thread. */
void guard_conn_close(struct conn_guard *g, struct http_conn *c)
{
    pthread_mutex_lock(&g->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted) {
        struct ipcount *s = table_slot(g, &c->peer);
        if (s && s->count > 0 && --s->count == 0)
            table_delete(g, (size_t)(s - g->table));
    }
    if (c->counted_total && g->open > 0) {
        g->open--;
        atomic_store_explicit(&g->open_pub, g->open, memory_order_relaxed);
    }
    pthread_mutex_unlock(&g->lock);
    free(c);
}

/* Waiting for the next request (after accept or a response). The connection's I/O thread. */
void guard_conn_idle(struct http_conn *c)
{
    atomic_store_explicit(&c->t_ns, guard_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&c->state, CONN_IDLE, memory_order_release);
}

/* A request line arrived: the receive deadline starts. The connection's I/O thread. */
void guard_conn_request(struct http_conn *c, size_t uri_len)
{
    c->uri_len = uri_len;
    atomic_store_explicit(&c->t_ns, guard_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&c->state, CONN_HEADERS, memory_order_release);
}

/* CONN_BODY or CONN_HANDLING: the deadline's start stays. The connection's I/O thread. */
void guard_conn_phase(struct http_conn *c, int state)
{
    atomic_store_explicit(&c->state, state, memory_order_release);
}

/* See http_int.h. Any thread. */
uint64_t guard_deadline_ns(const struct conn_guard *g, const struct http_conn *c)
{
    return atomic_load_explicit(&((struct http_conn *)c)->t_ns, memory_order_relaxed) +
           g->receive_ns;
}

/* Connections the watchdog shut down since start (for tests and metrics). Any thread. */
unsigned long long guard_closed_slow(const struct conn_guard *g)
{
    return atomic_load(&((struct conn_guard *)g)->closed_slow);
}

/* Connections refused by the per-address limit since start. Any thread. */
unsigned long long guard_refused(const struct conn_guard *g)
{
    return atomic_load(&((struct conn_guard *)g)->refused);
}

/* Connections in the server-wide count. Any thread. */
unsigned guard_open(const struct conn_guard *g)
{
    return atomic_load_explicit(&((struct conn_guard *)g)->open_pub, memory_order_relaxed);
}
