/*
 * The route table and the pipeline hooks that libmicrohttpd's glue calls: begin (after the
 * headers: phases that need no body), handle (the route's handler), finish (asynchronous
 * completion) and complete (the log phase, for every request, refused ones too).
 */
#include <string.h>

#include "api/api.h"

static const struct route routes[] = {
    {HTTP_GET, "/", api_h_root, "read", "root", false},
    {HTTP_GET, "/api/v1/health", api_h_health, NULL, "v1_health", false},
    {HTTP_GET, "/api/v1/health/live", api_h_health_live, NULL, "v1_health_live", false},
    {HTTP_GET, "/api/v1/health/ready", api_h_health_ready, NULL, "v1_health_ready", false},
    {HTTP_GET, "/api/v1/models", api_h_models, "read", "v1_models", false},
    {HTTP_GET, "/api/v1/models/{name}", api_h_model, "read", "v1_model", false},
    {HTTP_POST, "/api/v1/models/{name}/predict", api_h_predict, "predict", "v1_model_predict", true},
    {HTTP_POST, "/api/v1/predict", api_h_predict, "predict", "v1_predict", true},
    /* ---- Open Inference Protocol v2 (issue 3) ---- */
    /* ---- SLA document (issue 6) ---- */
    /* ---- metrics, OpenAPI, docs (issue 8) ---- */
    /* The Python template's routes, kept as aliases. */
    {HTTP_GET, "/api/health", api_h_template_health, NULL, "template_health", false},
    {HTTP_GET, "/api/health/", api_h_template_health, NULL, "template_health", false},
    {HTTP_POST, "/api/predict", api_h_predict, "predict", "template_predict", true},
    {HTTP_POST, "/api/predict/", api_h_predict, "predict", "template_predict", true},
};

static int on_begin(void *ctx, struct request *r)
{
    /* Phases that need only the headers run here, in order; each either continues (0) or ends
     * the request with an error (an MWE_* code, the response set with http_set_error). The route
     * phase already ran in the transport. */
    struct api *a = ctx;
    int rc = 0;
    (void)a;
    /* ---- SLA: outage windows, global concurrency (issue 6) ---- */
    /* ---- authenticate, authorize (issue 4) ---- */
    /* ---- per-consumer rate limit (issue 6) ---- */
    /* ---- audit fail-closed policy (issue 7) ---- */
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

static void on_complete(void *ctx, struct request *r, bool ok)
{
    struct api *a = ctx;
    (void)a;
    /* ---- audit record, security events (issue 7) ---- */
    /* ---- metrics (issue 8) ---- */
    /* ---- release limits (issue 6) ---- */
    if (r->app_data)
        model_call_release(r->app_data);
    r->app_data = NULL;
    if (!log_enabled(LOG_INFO))
        return;
    long long us = (long long)((time_mono_ns() - r->t_start_ns) / 1000);
    log_kv(LOG_INFO, "request", "request_id", r->id, "method", r->method_str, "path", r->path,
           "route", r->route ? r->route->name : NULL, "#status", (long long)r->status,
           "#duration_us", us, "client", r->client_addr, "model", r->model_name,
           "code", r->err ? mw_errcode(r->err) : NULL, "#bytes_in", (long long)r->bytes_in,
           "#bytes_out", (long long)r->bytes_out, "aborted", ok ? NULL : "true", NULL);
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
