/*
 * Observability wiring of the application: start-up (metrics, OpenAPI document, docs files, the
 * logged configuration), the log phase's metrics, GET /metrics (this module's counters plus the
 * gauges read at scrape time: models, in-flight requests, build, process, other modules' counters)
 * and the separate metrics listener's application.
 */
#include <jansson.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit/audit.h"
#include "auth/auth.h"
#include "limit/limit.h"
#include "metrics/metrics.h"

/* Calls fn(m, ctx) for every loaded version of every model of reg. */
static void each_version(const struct registry *reg, void (*fn)(const struct model *, void *),
                         void *ctx)
{
    for (size_t i = 0; i < registry_count(reg); i++)
        for (size_t k = 0; k < registry_n_versions(reg, i); k++)
            fn(registry_version_at(reg, i, k), ctx);
}

static void register_series(const struct model *m, void *ctx)
{
    metrics_model_series(ctx, model_get_name(m), model_get_version(m));
}

/* See api.h. Main thread, after api_init and before the server starts. */
int api_obs_init(struct api *a, struct mw_error *e)
{
    const char **names = NULL;
    struct mw_error de = {0};
    int rc = 0;

    config_log(a->cfg, LOG_INFO);
    if (pthread_mutex_init(&a->openapi_lock, NULL) != 0)
        return mw_fail(e, MWE_NOMEM, "cannot create a lock");
    a->obs_ready = true;
    names = calloc(a->app.n_routes ? a->app.n_routes : 1, sizeof(*names));
    if (names == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < a->app.n_routes; i++)
        names[i] = a->app.routes[i].name;
    a->metrics = metrics_new(names, a->app.n_routes, e);
    if (a->metrics == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    each_version(a->reg, register_series, a->metrics);

    if (api_openapi_update(a, a->reg) != 0) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory for the OpenAPI document");
        goto out;
    }

    if (a->cfg->docs_dir != NULL) {
        a->docs = api_docs_load(a->cfg->docs_dir, &de);
        if (a->docs == NULL)
            log_msg(LOG_WARN, "the /docs page is not available", "error", de.msg, "hint",
                    "run `make build` (npm ci in web/) or set MODELWRAP_DOCS_DIR", NULL);
    }
out:
    free(names);
    if (rc != 0)
        api_obs_fini(a);
    return rc;
}

/* See api.h. Main thread, after every server stopped. */
void api_obs_fini(struct api *a)
{
    metrics_free(a->metrics);
    a->metrics = NULL;
    free(a->openapi);
    a->openapi = NULL;
    a->openapi_len = 0;
    free(a->openapi_key);
    a->openapi_key = NULL;
    api_docs_free(a->docs);
    a->docs = NULL;
    if (a->obs_ready)
        pthread_mutex_destroy(&a->openapi_lock);
    a->obs_ready = false;
}

static enum metrics_result call_result(int status)
{
    switch (status) {
    case 0:
        return METRICS_RESULT_SUCCESS;
    case MWE_INVALID_INPUT:
        return METRICS_RESULT_INVALID_INPUT;
    case MWE_DEADLINE:
        return METRICS_RESULT_DEADLINE;
    case MWE_OVERLOADED:
    case MWE_SHUTTING_DOWN:
        return METRICS_RESULT_REJECTED;
    default:
        return METRICS_RESULT_ERROR;
    }
}

/* The model call of a request, once the request is over: its result, queue and compute time and
 * rows. A call that was never submitted (its inputs were refused before) counts nothing. */
static void record_call(struct metrics *m, const struct model_call *c)
{
    const struct model *model = model_call_model(c);
    struct model_call_times t;
    int status = model_call_status(c);
    bool started, finished;
    uint64_t queue_ns = 0, compute_ns = 0, rows;
    int s;

    model_call_get_times(c, &t);
    started = t.started_ns != 0;
    if (model == NULL || (!started && status == 0 && t.done_ns == 0))
        return;
    s = metrics_model_series(m, model_get_name(model), model_get_version(model));
    finished = started && status != MWE_DEADLINE && t.done_ns >= t.started_ns;
    if (started && t.queued_ns != 0 && t.started_ns >= t.queued_ns)
        queue_ns = t.started_ns - t.queued_ns;
    if (finished)
        compute_ns = t.done_ns - t.started_ns;
    metrics_model_call(m, s, call_result(status), started, queue_ns, finished, compute_ns);
    /* One call is one model run, unless the scheduler merged it with others: then the
     * batch's first call reports the merged rows and the others report nothing. */
    if (started && t.batched) {
        if (t.batch_rows > 0)
            metrics_model_batch(m, s, t.batch_rows);
    } else if (started && model_call_rows(c, &rows)) {
        metrics_model_batch(m, s, rows);
    }
}

/* See api.h. I/O thread (the log phase), lock-free. */
void api_obs_record(struct api *a, struct request *r)
{
    size_t route = METRICS_NO_ROUTE;

    if (a->metrics == NULL)
        return;
    if (r->route != NULL && r->route >= a->app.routes && r->route < a->app.routes + a->app.n_routes)
        route = (size_t)(r->route - a->app.routes);
    /* The request counter last: a scrape that sees it sees the rest of this request too (the
     * tests wait on it). */
    if (r->app_data != NULL)
        record_call(a->metrics, r->app_data);
    metrics_outcome(a->metrics, r->outcome);
    metrics_request(a->metrics, route, r->method, r->status, time_mono_ns() - r->t_start_ns);
}

/* ---- the scrape ------------------------------------------------------------------------------ */

static int write_build(struct buf *out)
{
    char abi[32];
    snprintf(abi, sizeof(abi), "%d.%d", MW_ABI_MAJOR, MW_ABI_MINOR);
    struct metrics_label l[] = {{"version", MW_VERSION},
                                {"abi", abi},
                                {"libmicrohttpd", MHD_get_version()},
                                {"jansson", jansson_version_str()}};
    int rc = metrics_family(out, "modelwrap_build_info", "gauge",
                            "Always 1; the labels say which build and libraries serve.");
    if (rc == 0)
        rc = metrics_sample_u64(out, "modelwrap_build_info", l, MW_ARRAY_LEN(l), 1);
    return rc;
}

enum model_gauge_kind { MG_READY = 0, MG_DEPTH, MG_LIVE, MG_RESTARTS, MG_WORKER_SECONDS };

struct model_gauges {
    struct buf *out;
    enum model_gauge_kind kind;
    int rc;
};

static void model_gauge(const struct model *m, void *ctx)
{
    struct model_gauges *g = ctx;
    struct metrics_label l[] = {{"model", model_get_name(m)}, {"version", model_get_version(m)}};

    struct model_worker_stats ws;

    if (g->rc != 0)
        return;
    switch (g->kind) {
    case MG_DEPTH:
        g->rc = metrics_sample_u64(g->out, "modelwrap_model_queue_depth", l, 2,
                                   (uint64_t)model_queue_pending(m));
        break;
    case MG_READY:
        g->rc =
            metrics_sample_u64(g->out, "modelwrap_model_ready", l, 2, model_is_ready(m) ? 1 : 0);
        break;
    /* Python models only: their worker processes. */
    case MG_LIVE:
        if (model_worker_stats(m, &ws))
            g->rc = metrics_sample_u64(g->out, "modelwrap_model_workers_live", l, 2, ws.live);
        break;
    case MG_RESTARTS:
        if (model_worker_stats(m, &ws))
            g->rc = metrics_sample_u64(g->out, "modelwrap_model_worker_restarts_total", l, 2,
                                       ws.restarts);
        break;
    case MG_WORKER_SECONDS:
        if (model_worker_stats(m, &ws))
            g->rc = metrics_sample_f64(g->out, "modelwrap_model_worker_seconds_total", l, 2,
                                       (double)ws.worker_ns / 1e9);
        break;
    }
}

/* The state of every version the current snapshot serves. */
static int write_models(struct api *a, struct buf *out)
{
    struct registry *reg = api_registry_acquire(a);
    struct model_gauges g = {out, MG_READY, 0};
    static const struct {
        enum model_gauge_kind kind;
        const char *name, *type, *help;
    } fam[] = {
        {MG_READY, "modelwrap_model_ready", "gauge",
         "1 when the model version is loaded and ready, else 0."},
        {MG_DEPTH, "modelwrap_model_queue_depth", "gauge",
         "Model calls waiting for a worker (0 for models run inline)."},
        {MG_LIVE, "modelwrap_model_workers_live", "gauge",
         "Worker processes of a Python model answering calls now."},
        {MG_RESTARTS, "modelwrap_model_worker_restarts_total", "counter",
         "Worker processes of a Python model started again (death, deadline, recycling)."},
        {MG_WORKER_SECONDS, "modelwrap_model_worker_seconds_total", "counter",
         "Seconds calls of a Python model spent in its worker processes."},
    };

    for (size_t i = 0; i < MW_ARRAY_LEN(fam) && g.rc == 0; i++) {
        g.rc = metrics_family(out, fam[i].name, fam[i].type, fam[i].help);
        g.kind = fam[i].kind;
        each_version(reg, model_gauge, &g);
    }
    if (reg != NULL)
        registry_release(reg);
    return g.rc;
}

static int write_inflight(const struct api *a, struct buf *out)
{
    long n = a->server != NULL ? http_server_inflight(a->server) : 0;
    int rc = metrics_family(out, "modelwrap_http_requests_in_flight", "gauge",
                            "Requests begun and not yet completed on the API listener.");
    if (rc == 0)
        rc = metrics_sample_u64(out, "modelwrap_http_requests_in_flight", NULL, 0,
                                n > 0 ? (uint64_t)n : 0);
    return rc;
}

/* One family with one unlabelled sample. */
static int single(struct buf *out, const char *name, const char *type, const char *help, uint64_t v)
{
    int rc = metrics_family(out, name, type, help);
    if (rc == 0)
        rc = metrics_sample_u64(out, name, NULL, 0, v);
    return rc;
}

/* One family with a sample per value of one label. */
static int by_label(struct buf *out, const char *name, const char *type, const char *help,
                    const char *label, const char *const *values, const uint64_t *v, size_t n)
{
    int rc = metrics_family(out, name, type, help);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct metrics_label l[] = {{label, values[i]}};
        rc = metrics_sample_u64(out, name, l, 1, v[i]);
    }
    return rc;
}

static const char *const ok_failed[] = {"success", "failure"};

/* The authentication module's counters (src/auth: auth_stats_get). Refusals by reason are
 * modelwrap_auth_failures_total, counted from each request's reason code. */
static int write_auth(const struct api *a, struct buf *out)
{
    struct auth_stats st;
    int rc;

    if (a->auth == NULL)
        return 0;
    auth_stats_get(a->auth, &st);
    rc = single(out, "modelwrap_auth_successes_total", "counter",
                "Requests that authenticated and had the route's scope.", st.successes);
    if (rc == 0)
        rc = single(out, "modelwrap_auth_blocks_total", "counter",
                    "Client addresses blocked after repeated authentication failures.", st.blocks);
    if (rc == 0)
        rc = single(out, "modelwrap_api_keys", "gauge", "API keys in the key set in force.",
                    st.keys_loaded);
    if (rc == 0) {
        uint64_t v[] = {st.key_reloads, st.key_reload_failures};
        rc = by_label(out, "modelwrap_api_key_reloads_total", "counter",
                      "Loads of the API key file, by result (a failure keeps the set in force).",
                      "result", ok_failed, v, 2);
    }
    if (rc == 0)
        rc = single(out, "modelwrap_jwks_keys", "gauge",
                    "JWT verification keys in the key set in force.", st.jwks_keys);
    if (rc == 0) {
        uint64_t v[] = {st.jwks_refreshes, st.jwks_refresh_failures};
        rc = by_label(out, "modelwrap_jwks_refreshes_total", "counter",
                      "JWKS loads and fetches, by result (a failure keeps the set in force).",
                      "result", ok_failed, v, 2);
    }
    return rc;
}

/* The limiter's counters (src/limit: limit_stats). 429s by reason are
 * modelwrap_rate_limited_requests_total. */
static int write_limits(const struct api *a, struct buf *out)
{
    static const char *const results[] = {"allowed", "limited"};
    struct limit_stats st;
    int rc;

    if (a->limiter == NULL)
        return 0;
    limit_stats(a->limiter, &st);
    uint64_t dec[] = {st.allowed, st.limited};
    rc = by_label(out, "modelwrap_rate_limit_decisions_total", "counter",
                  "Throughput limit decisions, by result.", "result", results, dec, 2);
    if (rc == 0)
        rc = single(out, "modelwrap_rate_limit_store_errors_total", "counter",
                    "Decisions the shared store (Redis) could not answer.", st.store_errors);
    if (rc == 0)
        rc = single(out, "modelwrap_rate_limit_fallback_total", "counter",
                    "Decisions taken locally while the shared store was down (fail-open).",
                    st.fallback);
    if (rc == 0)
        rc = single(out, "modelwrap_rate_limit_evictions_total", "counter",
                    "Consumers evicted from a full local limiter table.", st.evicted);
    if (rc == 0 && st.mode != NULL && strcmp(st.mode, "redis") == 0)
        rc = single(out, "modelwrap_rate_limit_store_up", "gauge",
                    "1 when the last decision that needed the shared store (Redis) reached it.",
                    st.store_up ? 1 : 0);
    if (rc == 0)
        rc = single(out, "modelwrap_concurrency_in_use", "gauge",
                    "API requests holding a concurrency slot.",
                    st.in_flight > 0 ? (uint64_t)st.in_flight : 0);
    if (rc == 0)
        rc = single(out, "modelwrap_concurrency_limit", "gauge",
                    "Most API requests in progress at once (0: no limit).", st.max_concurrency);
    return rc;
}

/* The audit trail's counters (src/audit: audit_get_stats). */
static int write_audit(const struct api *a, struct buf *out)
{
    static const char *const sink_states[] = {"ok", "failing"};
    static const char *const event_results[] = {"queued", "suppressed"};
    struct audit_stats st;
    int rc;

    if (a->audit == NULL)
        return 0;
    audit_get_stats(a->audit, &st);
    rc = single(out, "modelwrap_audit_records_written_total", "counter",
                "Audit records that reached every sink.", st.written);
    if (rc == 0)
        rc = single(out, "modelwrap_audit_records_dropped_total", "counter",
                    "Audit records given up (a full queue, or the shutdown timeout).", st.dropped);
    if (rc == 0)
        rc = single(out, "modelwrap_audit_write_failures_total", "counter",
                    "Failed audit write or connect attempts (the records stay queued).", st.failed);
    if (rc == 0)
        rc = single(out, "modelwrap_audit_records_pending", "gauge",
                    "Audit records queued and not yet written everywhere.", st.pending);
    if (rc == 0) {
        uint64_t v[] = {st.sinks >= st.sinks_failing ? st.sinks - st.sinks_failing : 0,
                        st.sinks_failing};
        rc = by_label(out, "modelwrap_audit_sinks", "gauge", "Audit sinks, by state.", "state",
                      sink_states, v, 2);
    }
    if (rc == 0) {
        uint64_t v[] = {st.events, st.events_suppressed};
        rc = by_label(out, "modelwrap_security_events_total", "counter",
                      "Security events detected, by result (suppressed by the event rate limit).",
                      "result", event_results, v, 2);
    }
    return rc;
}

/* Every family, in a stable order. */
static int write_all(struct api *a, struct buf *out)
{
    int rc = 0;

    if (a->metrics != NULL)
        rc = metrics_write(a->metrics, out);
    if (rc == 0)
        rc = write_inflight(a, out);
    if (rc == 0)
        rc = write_models(a, out);
    if (rc == 0)
        rc = write_auth(a, out);
    if (rc == 0)
        rc = write_limits(a, out);
    if (rc == 0)
        rc = write_audit(a, out);
    if (rc == 0)
        rc = write_build(out);
    if (rc == 0)
        rc = metrics_write_process(out);
    return rc;
}

/* GET /metrics (scope metrics on the API listener; no authentication on the separate metrics
 * listener). I/O thread; reads per-thread counters without locks. */
int api_h_metrics(void *ctx, struct request *r)
{
    struct api *a = ctx;

    buf_reset(&r->resp);
    if (write_all(a, &r->resp) != 0) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    r->status = 200;
    r->content_type = METRICS_CONTENT_TYPE;
    http_header_add(r, "Cache-Control", "no-store");
    return HTTP_DONE;
}

/* ---- the separate metrics listener ----------------------------------------------------------- */

static const struct route metrics_routes[] = {
    {HTTP_GET, "/metrics", api_h_metrics, NULL, "metrics", false},
};

static int mon_begin(void *ctx, struct request *r)
{
    return 0;
}

static int mon_handle(void *ctx, struct request *r)
{
    return r->route->handler(ctx, r);
}

static void mon_finish(void *ctx, struct request *r)
{
    /* Never asynchronous: nothing to finish. */
}

static void mon_complete(void *ctx, struct request *r, bool ok)
{
    if (!log_enabled(LOG_DEBUG))
        return;
    log_kv(LOG_DEBUG, "metrics request", "request_id", r->id, "path", r->path, "#status",
           (long long)r->status, "client", r->client_addr, NULL);
}

/* See api.h. Main thread. */
void api_metrics_app(struct api *a, struct http_app *app)
{
    memset(app, 0, sizeof(*app));
    app->ctx = a;
    app->routes = metrics_routes;
    app->n_routes = MW_ARRAY_LEN(metrics_routes);
    app->begin = mon_begin;
    app->handle = mon_handle;
    app->finish = mon_finish;
    app->complete = mon_complete;
    app->conn_event = a->app.conn_event; /* the same refusal counters and events */
}
