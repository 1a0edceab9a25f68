/*
 * The route table and the pipeline hooks that libmicrohttpd's glue calls: begin (after the
 * headers: phases that need no body), handle (the route's handler), finish (asynchronous
 * completion) and complete (the log phase, for every request, refused ones too).
 */
#include <string.h>

#include "api/api.h"
#include "audit/audit.h"
#include "metrics/metrics.h"

static const struct route routes[] = {
    {HTTP_GET, "/", api_h_root, "read", "root", false},
    {HTTP_GET, "/api/v1/health", api_h_health, NULL, "v1_health", false},
    {HTTP_GET, "/api/v1/health/live", api_h_health_live, NULL, "v1_health_live", false},
    {HTTP_GET, "/api/v1/health/ready", api_h_health_ready, NULL, "v1_health_ready", false},
    {HTTP_GET, "/api/v1/models", api_h_models, "read", "v1_models", false},
    {HTTP_GET, "/api/v1/models/{name}", api_h_model, "read", "v1_model", false},
    {HTTP_POST, "/api/v1/models/{name}/predict", api_h_predict, "predict", "v1_model_predict",
     true},
    {HTTP_POST, "/api/v1/predict", api_h_predict, "predict", "v1_predict", true},
    /* ---- Open Inference Protocol v2 ---- */
    {HTTP_GET, "/v2", api_h_v2_server, "read", "v2_server", false},
    {HTTP_GET, "/v2/", api_h_v2_server, "read", "v2_server", false},
    {HTTP_GET, "/v2/health/live", api_h_v2_live, NULL, "v2_health_live", false},
    {HTTP_GET, "/v2/health/ready", api_h_v2_ready, NULL, "v2_health_ready", false},
    {HTTP_GET, "/v2/models/{name}", api_h_v2_model, "read", "v2_model", false},
    {HTTP_GET, "/v2/models/{name}/versions/{version}", api_h_v2_model, "read", "v2_model", false},
    {HTTP_GET, "/v2/models/{name}/ready", api_h_v2_model_ready, "read", "v2_model_ready", false},
    {HTTP_GET, "/v2/models/{name}/versions/{version}/ready", api_h_v2_model_ready, "read",
     "v2_model_ready", false},
    {HTTP_POST, "/v2/models/{name}/infer", api_h_v2_infer, "predict", "v2_infer", true},
    {HTTP_POST, "/v2/models/{name}/versions/{version}/infer", api_h_v2_infer, "predict", "v2_infer",
     true},
    {HTTP_POST, "/v2/repository/index", api_h_v2_repo_index, "admin", "v2_repository_index", true},
    {HTTP_POST, "/v2/repository/models/{name}/load", api_h_v2_repo_load, "admin",
     "v2_repository_load", true},
    {HTTP_POST, "/v2/repository/models/{name}/unload", api_h_v2_repo_unload, "admin",
     "v2_repository_unload", true},
    /* ---- SLA document ---- */
    {HTTP_GET, "/api/v1/sla", api_h_sla, "read", "v1_sla", false},
    /* ---- metrics, OpenAPI, docs ---- */
    {HTTP_GET, "/metrics", api_h_metrics, "metrics", "metrics", false},
    {HTTP_GET, "/openapi.json", api_h_openapi, "read", "openapi", false},
    {HTTP_GET, "/docs", api_h_docs, NULL, "docs", false},
    {HTTP_GET, "/docs/{file}", api_h_docs_asset, NULL, "docs_asset", false},
    /* ---- compliance self-check, dependency inventory ---- */
    {HTTP_GET, "/api/v1/compliance", api_h_compliance, "admin", "v1_compliance", false},
    {HTTP_GET, "/api/v1/sbom", api_h_sbom, "admin", "v1_sbom", false},
    /* The Python template's routes, kept as aliases. */
    {HTTP_GET, "/api", api_h_template_version, "read", "template_version", false},
    {HTTP_GET, "/api/", api_h_template_version, "read", "template_version", false},
    {HTTP_GET, "/api/health", api_h_template_health, NULL, "template_health", false},
    {HTTP_GET, "/api/health/", api_h_template_health, NULL, "template_health", false},
    {HTTP_POST, "/api/predict", api_h_predict, "predict", "template_predict", true},
    {HTTP_POST, "/api/predict/", api_h_predict, "predict", "template_predict", true},
};

/* See api.h. */
bool api_route_is_probe(const struct route *rt)
{
    return rt != NULL &&
           (rt->handler == api_h_health || rt->handler == api_h_health_live ||
            rt->handler == api_h_health_ready || rt->handler == api_h_template_health ||
            rt->handler == api_h_v2_live || rt->handler == api_h_v2_ready);
}

static int on_begin(void *ctx, struct request *r)
{
    /* Phases that need only the headers run here, in order; each either continues (0) or ends
     * the request with an error (an MWE_* code, the response set with http_set_error). The route
     * phase already ran in the transport. */
    struct api *a = ctx;
    int rc = 0;
    (void)a;
    /* ---- tracing: first, so that refused requests carry it too ---- */
    api_trace_read(r, true);
    /* ---- version lifecycle: before any refusal, so that every answer carries it ---- */
    api_lifecycle_headers(a, r);
    /* ---- SLA: outage windows, global concurrency ---- */
    rc = api_sla_admit(a, r);
    if (rc != 0)
        return rc;
    /* ---- authenticate, authorize ---- */
    rc = auth_begin(a->auth, r);
    if (rc != 0)
        return rc;
    /* ---- per-consumer rate limit ---- */
    rc = api_limit_check(a, r);
    if (rc != 0)
        return rc;
    /* ---- audit fail-closed policy; probes answer (readiness says why) ---- */
    if (a->audit != NULL && !api_route_is_probe(r->route) && !audit_admit(a->audit)) {
        r->outcome = "audit.unavailable";
        http_set_error(r, MWE_OVERLOADED, "The audit trail is unavailable; retry later.");
        http_header_add(r, "Retry-After", "1");
        return MWE_OVERLOADED;
    }
    return rc;
}

static int on_handle(void *ctx, struct request *r)
{
    return r->route->handler(ctx, r);
}

static void on_finish(void *ctx, struct request *r)
{
    api_predict_finish(ctx, r);
}

static void log_request(struct request *r, bool ok);

static void on_complete(void *ctx, struct request *r, bool ok)
{
    struct api *a = ctx;
    (void)a;
    /* Trace headers of a request refused before `begin`, for the audit record and the log. */
    api_trace_read(r, false);
    /* ---- audit record, security events ---- */
    if (a->audit != NULL) {
        /* The records in the request: the batch dimension of the model call's first input. */
        const struct model_call *call = r->app_data;
        uint64_t n_records = 0;
        if (call == NULL || !model_call_rows(call, &n_records))
            n_records = 0;
        if (api_route_is_probe(r->route))
            audit_request_nowait(a->audit, r, ok, n_records);
        else
            audit_request(a->audit, r, ok, n_records);
    }
    /* ---- metrics ---- */
    api_obs_record(a, r);
    /* ---- release limits ---- */
    api_limit_release(a, r);
    if (r->app_data)
        model_call_release(r->app_data);
    r->app_data = NULL;
    if (log_enabled(LOG_INFO))
        log_request(r, ok);
    /* ---- model registry snapshot: last, once nothing above reads a model (the log
     * line reads r->model_name, which the snapshot owns) ---- */
    api_registry_put(a, r);
}

/* The reasons http.c reports through conn_event, each with a slot of its own (the last slot is
 * shared by any other). */
static const char *const conn_reasons[API_CONN_EVENT_SLOTS - 1] = {
    "conn.limit",
    "conn.per_ip_limit",
    "conn.bad_request_line",
    "http.malformed",
    "http.uri_too_long",
    "http.version_unsupported",
    "http.headers_too_large",
    "http.host_missing",
    "http.content_length_malformed",
    "http.content_length_too_large",
};

/* A connection the transport refused before any request (http_app.conn_event; I/O threads): the
 * refusal counter by reason, every time, and a security event (signature 271) with the peer's
 * address, at most once per reason and second; its count says how many refusals it stands for
 * since the previous one, so a flood of bad connections cannot flood the trail. */
static void on_conn_event(void *ctx, const struct http_conn_event *ev)
{
    struct api *a = ctx;
    size_t slot = API_CONN_EVENT_SLOTS - 1;

    for (size_t i = 0; i < MW_ARRAY_LEN(conn_reasons); i++)
        if (conn_reasons[i] && strcmp(conn_reasons[i], ev->reason) == 0) {
            slot = i;
            break;
        }
    if (a->metrics != NULL)
        metrics_outcome(a->metrics, ev->reason);
    atomic_fetch_add(&a->conn_events[slot].pending, 1);
    if (a->audit == NULL)
        return;
    uint64_t now = time_mono_ns();
    unsigned long long last = atomic_load(&a->conn_events[slot].last_ns);
    if (last != 0 && now - last < API_CONN_EVENT_INTERVAL_NS)
        return;
    if (!atomic_compare_exchange_strong(&a->conn_events[slot].last_ns, &last, now))
        return;
    struct audit_record rec;
    memset(&rec, 0, sizeof(rec));
    rec.kind = AUDIT_EVENT;
    rec.sig = AUDIT_EV_CONNECTION;
    rec.time_ms = time_real_ms();
    rec.status = ev->status;
    rec.outcome = ev->reason; /* static (http.c) */
    rec.count = atomic_exchange(&a->conn_events[slot].pending, 0);
    rec.window_s = last != 0 ? (unsigned)((now - last) / 1000000000ull) : 0;
    audit_copy(rec.client, sizeof(rec.client), ev->peer, strlen(ev->peer));
    audit_emit(a->audit, &rec);
    log_kv(LOG_WARN, "connection refused by the transport", "reason", rec.outcome, "client",
           ev->peer, "#status", (long long)ev->status, "#count", (long long)rec.count, NULL);
}

static void log_request(struct request *r, bool ok)
{
    long long us = (long long)((time_mono_ns() - r->t_start_ns) / 1000);
    const char *path = r->path;
    char *copy;

    /* An API key or token pasted into the path is not written to the log (nor to the audit). */
    if (path != NULL && mw_path_has_secret(path, r->path_len)) {
        copy = arena_strndup(&r->arena, path, r->path_len);
        if (copy != NULL)
            mw_path_redact(copy);
        path = copy != NULL ? copy : "<redacted>";
    }
    log_kv_bulk(LOG_INFO, "request", "request_id", r->id, "method", r->method_str, "path", path,
                "route", r->route ? r->route->name : NULL, "#status", (long long)r->status,
                "#duration_us", us, "client", r->client_addr, "model", r->model_name, "code",
                r->err ? mw_errcode(r->err) : NULL, "#bytes_in", (long long)r->bytes_in,
                "#bytes_out", (long long)r->bytes_out, "aborted", ok ? NULL : "true", "traceparent",
                r->traceparent, "tracestate", r->tracestate, NULL);
}

void api_init(struct api *a, const struct config *cfg, struct registry *reg)
{
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->reg = reg;
    a->app.ctx = a;
    a->app.routes = routes;
    a->app.n_routes = MW_ARRAY_LEN(routes);
    a->app.begin = on_begin;
    a->app.handle = on_handle;
    a->app.finish = on_finish;
    a->app.complete = on_complete;
    a->app.conn_event = on_conn_event;
    /* ---- model registry snapshot: the api holds reg's reference from now on ---- */
    registry_current_init(&a->registry, reg);
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return buf_append(data, buffer, size) == 0 ? 0 : -1;
}

int api_json_dump(struct buf *b, const json_t *j)
{
    if (json_dump_callback(j, dump_cb, b, JSON_COMPACT) != 0)
        return MWE_NOMEM;
    return 0;
}

void api_reply_json(struct request *r, int status, json_t *j)
{
    buf_reset(&r->resp);
    if (!j || api_json_dump(&r->resp, j) != 0)
        http_set_error(r, MWE_NOMEM, NULL);
    else
        http_set_json(r, status);
    json_decref(j);
}

/*
 * model_set_event_hook's function (ctx: the struct audit): a worker process of an out-of-process
 * model died or was killed, written as security event 270 with the model, its version, what
 * happened (outcome) and the signal (threshold). Any thread (the model's supervisor or worker).
 */
void api_model_event(void *ctx, const char *model, const char *version, int instance,
                     const char *what, int sig)
{
    struct audit_record rec;

    if (ctx == NULL)
        return;
    memset(&rec, 0, sizeof(rec));
    rec.kind = AUDIT_EVENT;
    rec.sig = AUDIT_EV_WORKER_DIED;
    rec.time_ms = time_real_ms();
    rec.outcome = what;
    rec.count = 1;
    rec.threshold = sig > 0 ? (uint64_t)sig : 0;
    rec.truncated = audit_copy(rec.model, sizeof(rec.model), model, model ? strlen(model) : 0);
    rec.truncated |= audit_copy(rec.model_version, sizeof(rec.model_version), version,
                                version ? strlen(version) : 0);
    (void)instance;
    audit_emit(ctx, &rec);
}
