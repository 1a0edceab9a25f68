/*
 * limiter: the rate limiter the API calls. Picks the store (this process's table, or Redis shared
 * by the replicas), applies per-consumer overrides, handles Redis failures by the configured mode
 * (fail-open: the local table with the limit divided by the replica count; fail-closed: refuse),
 * logs the store's transitions and keeps the counters. Also the global concurrency limit.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "limit/limit.h"

/* MODELWRAP_REDIS_FAILURE_MODE is an index into "fail-open|fail-closed". */
_Static_assert(LIMIT_FAIL_OPEN == 0 && LIMIT_FAIL_CLOSED == 1, "REDIS_FAILURE_MODE values order");

struct limiter {
    double rate;    /* default, requests/s; 0: off */
    unsigned burst; /* default */
    struct gcra def;
    unsigned replicas;
    int failure_mode;
    struct limit_table *table; /* local mode; in redis fail-open mode the fallback */
    struct limit_redis *redis; /* NULL: local mode */
    char store_name[300];      /* "host:port" or the socket path, for logs */
    unsigned max_concurrency;
    atomic_long in_flight;
    atomic_ullong redis_allowed;
    atomic_ullong redis_limited;
    atomic_ullong store_errors;
    atomic_ullong fallback;
    atomic_ullong store_rejected;
    atomic_ullong concurrency_rejected;
};

/* Builds the limiter from the configuration; see limit.h. */
struct limiter *limit_new(const struct config *cfg, struct mw_error *e)
{
    struct limiter *l = calloc(1, sizeof(*l));
    struct limit_redis_opts ro;
    struct mw_error ue = {0};
    double rate = 0;

    if (!l) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (!cfg->rate_limit || strcasecmp(cfg->rate_limit, "off") != 0) {
        if (rate_parse(cfg->rate_limit, &rate) != 0) {
            char shown[40];
            snprintf(shown, sizeof(shown), "%.32s", cfg->rate_limit ? cfg->rate_limit : "");
            mw_fail(e, MWE_CONFIG,
                    "MODELWRAP_RATE_LIMIT: '%s' is not a throughput (accepted: N/s, N/m, N/h or "
                    "N/d with N > 0, e.g. 100/s or 2.5/s, or off)",
                    shown);
            goto out_free;
        }
    }
    l->rate = rate;
    l->burst = cfg->rate_burst ? cfg->rate_burst : 1;
    if (rate > 0)
        limit_gcra_init(&l->def, rate, l->burst);
    l->replicas = cfg->redis_replicas ? cfg->redis_replicas : 1;
    l->failure_mode =
        cfg->redis_failure_mode == LIMIT_FAIL_CLOSED ? LIMIT_FAIL_CLOSED : LIMIT_FAIL_OPEN;
    l->max_concurrency = cfg->max_concurrency;
    if (cfg->redis_url) {
        memset(&ro, 0, sizeof(ro));
        if (limit_redis_url_parse(cfg->redis_url, &ro.target, &ue) != 0) {
            mw_fail(e, MWE_CONFIG, "MODELWRAP_REDIS_URL: %s", ue.msg);
            goto out_free;
        }
        ro.connect_timeout_ms = cfg->redis_connect_timeout_ms;
        ro.timeout_ms = cfg->redis_timeout_ms;
        ro.prefix = cfg->redis_prefix;
        if (cfg->redis_prefix && strlen(cfg->redis_prefix) > 128) {
            mw_fail(e, MWE_CONFIG, "MODELWRAP_REDIS_PREFIX: longer than 128 bytes");
            goto out_free;
        }
        if (ro.target.unix_path[0])
            snprintf(l->store_name, sizeof(l->store_name), "%s", ro.target.unix_path);
        else
            snprintf(l->store_name, sizeof(l->store_name), "%s:%u", ro.target.host,
                     (unsigned)ro.target.port);
        l->redis = limit_redis_new(&ro, e);
        explicit_bzero(&ro, sizeof(ro));
        if (!l->redis)
            goto out_free;
    }
    /* The local table: the limiter itself, or the fail-open fallback. Per-key overrides apply even
     * when the default is off, so the table always exists unless Redis fails closed. */
    if (!l->redis || l->failure_mode == LIMIT_FAIL_OPEN) {
        l->table = limit_table_new(cfg->rate_table_size, e);
        if (!l->table)
            goto out_free;
    }
    goto out;

out_free:
    limit_free(l);
    l = NULL;
out:
    explicit_bzero(&ue, sizeof(ue));
    return l;
}

/* Frees l (NULL is fine); see limit.h. Main thread, after the I/O threads stopped. */
void limit_free(struct limiter *l)
{
    if (!l)
        return;
    limit_redis_free(l->redis);
    limit_table_free(l->table);
    free(l);
}

/* The default limit: *rate 0 when off. Any thread. */
void limit_default(const struct limiter *l, double *rate, unsigned *burst)
{
    *rate = l->rate;
    *burst = l->burst;
}

/* The fail-open share of one replica: the limit and the burst divided by the replica count. */
static void fallback_gcra(const struct limiter *l, const struct gcra *g, struct gcra *out)
{
    unsigned burst = (g->burst + l->replicas - 1) / l->replicas;
    limit_gcra_init(out, g->rate / l->replicas, burst ? burst : 1);
}

/* One decision; see limit.h. */
int limit_take(struct limiter *l, const char *key, size_t len, double rate, unsigned burst,
               struct limit_decision *d)
{
    struct gcra own;
    struct gcra fb;
    const struct gcra *g = &l->def;
    char why[256];
    int changed = 0;
    int rc = 0;

    memset(d, 0, sizeof(*d));
    if (!(rate > 0) || !isfinite(rate))
        rate = l->rate;
    if (burst == 0)
        burst = l->burst;
    if (!(rate > 0)) {
        d->allowed = true;
        d->source = LIMIT_SRC_NONE;
        goto out;
    }
    if (rate != l->rate || burst != l->burst) {
        limit_gcra_init(&own, rate, burst);
        g = &own;
    }
    if (!l->redis) {
        limit_table_take(l->table, key, len, g, time_mono_ns(), d);
        goto out;
    }
    rc = limit_redis_take(l->redis, key, len, g, d, &changed, why, sizeof(why));
    if (changed < 0)
        log_msg(LOG_WARN, "rate-limit store unavailable", "store", l->store_name, "failure_mode",
                l->failure_mode == LIMIT_FAIL_CLOSED ? "fail-closed" : "fail-open", "error", why,
                NULL);
    else if (changed > 0)
        log_msg(LOG_INFO, "rate-limit store recovered", "store", l->store_name, NULL);
    if (rc == 0) {
        atomic_fetch_add_explicit(d->allowed ? &l->redis_allowed : &l->redis_limited, 1,
                                  memory_order_relaxed);
        goto out;
    }
    atomic_fetch_add_explicit(&l->store_errors, 1, memory_order_relaxed);
    if (l->failure_mode == LIMIT_FAIL_CLOSED) {
        atomic_fetch_add_explicit(&l->store_rejected, 1, memory_order_relaxed);
        memset(d, 0, sizeof(*d));
        d->limit = g->burst;
        d->retry_ns = 1000000000u;
        rc = MWE_RATE_LIMIT_UNAVAILABLE;
        goto out;
    }
    fallback_gcra(l, g, &fb);
    limit_table_take(l->table, key, len, &fb, time_mono_ns(), d);
    d->source = LIMIT_SRC_FALLBACK;
    atomic_fetch_add_explicit(&l->fallback, 1, memory_order_relaxed);
    rc = 0;
out:
    return rc;
}

/* Takes a concurrency slot; see limit.h. */
bool limit_enter(struct limiter *l)
{
    long n;

    if (l->max_concurrency == 0)
        return true;
    n = atomic_fetch_add_explicit(&l->in_flight, 1, memory_order_relaxed) + 1;
    if (n > (long)l->max_concurrency) {
        atomic_fetch_sub_explicit(&l->in_flight, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&l->concurrency_rejected, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

/* Gives back a slot taken by a successful limit_enter. Any thread. */
void limit_leave(struct limiter *l)
{
    if (l->max_concurrency != 0)
        atomic_fetch_sub_explicit(&l->in_flight, 1, memory_order_relaxed);
}

/* Reads the counters; see limit.h. */
void limit_stats(struct limiter *l, struct limit_stats *s)
{
    uint64_t ta = 0, tl = 0, tv = 0;

    memset(s, 0, sizeof(*s));
    if (l->table)
        limit_table_counters(l->table, &ta, &tl, &tv);
    s->mode = l->redis ? "redis" : l->rate > 0 ? "local" : "off";
    s->failure_mode = l->failure_mode == LIMIT_FAIL_CLOSED ? "fail-closed" : "fail-open";
    s->store_up = l->redis ? limit_redis_up(l->redis) : true;
    s->allowed = ta + atomic_load_explicit(&l->redis_allowed, memory_order_relaxed);
    s->limited = tl + atomic_load_explicit(&l->redis_limited, memory_order_relaxed);
    s->store_errors = atomic_load_explicit(&l->store_errors, memory_order_relaxed);
    s->fallback = atomic_load_explicit(&l->fallback, memory_order_relaxed);
    s->store_rejected = atomic_load_explicit(&l->store_rejected, memory_order_relaxed);
    s->evicted = tv;
    s->concurrency_rejected = atomic_load_explicit(&l->concurrency_rejected, memory_order_relaxed);
    s->in_flight = atomic_load_explicit(&l->in_flight, memory_order_relaxed);
    s->max_concurrency = l->max_concurrency;
}
