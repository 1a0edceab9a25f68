/*
 * Handlers of the native v1 API and the template's aliases: service info, health, model
 * metadata and record-oriented prediction (decode + validate -> infer inline or on the model's
 * workers -> encode).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

int api_h_root(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:s, s:s}", "name", "modelwrap", "version", MW_VERSION));
    return HTTP_DONE;
}

int api_h_health(void *ctx, struct request *r)
{
    struct api *a = ctx;
    api_reply_json(r, 200, json_pack("{s:b, s:b}", "is_alive", 1, "ready",
                                     registry_ready(a->reg)));
    return HTTP_DONE;
}

int api_h_health_live(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:b}", "is_alive", 1));
    return HTTP_DONE;
}

int api_h_health_ready(void *ctx, struct request *r)
{
    struct api *a = ctx;
    bool ready = registry_ready(a->reg);
    api_reply_json(r, ready ? 200 : 503, json_pack("{s:b}", "ready", ready));
    return HTTP_DONE;
}

int api_h_template_health(void *ctx, struct request *r)
{
    return api_h_health_live(ctx, r);
}

int api_h_models(void *ctx, struct request *r)
{
    struct api *a = ctx;
    json_t *list = json_array();
    for (size_t i = 0; list && i < a->reg->n; i++)
        json_array_append_new(list, model_describe(a->reg->models[i]));
    api_reply_json(r, 200, list ? json_pack("{s:o}", "models", list) : NULL);
    return HTTP_DONE;
}

/* The model named by the route's {name}, or the default model. NULL after setting the error. */
static struct model *route_model(struct api *a, struct request *r)
{
    struct model *m;
    if (r->n_params > 0) {
        m = registry_find(a->reg, r->params[0].ptr, r->params[0].len);
        if (!m) {
            char msg[160];
            snprintf(msg, sizeof(msg), "No model named '%.*s'.",
                     (int)(r->params[0].len > 64 ? 64 : r->params[0].len), r->params[0].ptr);
            http_set_error(r, MWE_MODEL_NOT_FOUND, msg);
        }
    } else {
        m = a->reg->default_model;
        if (!m)
            http_set_error(r, MWE_MODEL_NOT_FOUND,
                           "No default model: set MODELWRAP_DEFAULT_MODEL or use "
                           "/api/v1/models/{name}/predict.");
    }
    if (m) {
        r->model_name = m->name;
        r->model_version = m->version;
    }
    return m;
}

int api_h_model(void *ctx, struct request *r)
{
    struct model *m = route_model(ctx, r);
    if (m)
        api_reply_json(r, 200, model_describe(m));
    return HTTP_DONE;
}

/* "application/json", any case, optionally followed by parameters ("; charset=utf-8"). */
static bool is_json_content_type(struct slice ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (!ct.ptr || ct.len < n || strncasecmp(ct.ptr, want, n) != 0)
        return false;
    for (size_t i = n; i < ct.len; i++) {
        if (ct.ptr[i] == ';')
            return true;
        if (ct.ptr[i] != ' ' && ct.ptr[i] != '\t')
            return false;
    }
    return true;
}

static void reply_from_call(struct request *r, struct model_call *c)
{
    switch (c->status) {
    case 0:
        buf_reset(&r->resp);
        if (records_encode(c, &r->resp) != 0)
            http_set_error(r, MWE_NOMEM, NULL);
        else
            http_set_json(r, 200);
        return;
    case MWE_INVALID_INPUT:
        http_set_error(r, MWE_INVALID_INPUT, c->errmsg[0] ? c->errmsg : NULL);
        return;
    case MWE_OVERLOADED:
        http_set_error(r, MWE_OVERLOADED, "The model's queue is full; retry later.");
        http_header_add(r, "Retry-After", "1");
        return;
    case MWE_SHUTTING_DOWN:
        http_set_error(r, MWE_SHUTTING_DOWN, NULL);
        http_header_add(r, "Retry-After", "1");
        return;
    case MWE_DEADLINE:
        http_set_error(r, MWE_DEADLINE, NULL);
        return;
    default:
        http_set_error(r, c->status == MWE_NOMEM ? MWE_NOMEM : MWE_MODEL_FAILED, NULL);
        return;
    }
}

static void on_call_done(struct model_call *c, void *ctx)
{
    struct request *r = ctx;
    atomic_store_explicit(&r->async_state, ASYNC_READY, memory_order_release);
    http_resume(r);
}

int api_h_predict(void *ctx, struct request *r)
{
    struct api *a = ctx;
    struct mw_error e = {0};
    json_error_t jerr;
    json_t *body = NULL;
    struct model_call *c;
    struct model *m = route_model(a, r);
    int rc;

    if (!m)
        return HTTP_DONE;
    if (!atomic_load(&m->ready)) {
        http_set_error(r, MWE_NOT_READY, "The model is not ready.");
        return HTTP_DONE;
    }
    if (!is_json_content_type(http_header_get(r, "Content-Type"))) {
        http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE, NULL);
        return HTTP_DONE;
    }
    body = json_loadb(r->body.ptr ? r->body.ptr : "", r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        char msg[300];
        snprintf(msg, sizeof(msg), "Invalid JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        http_set_error(r, MWE_INVALID_JSON, msg);
        return HTTP_DONE;
    }
    /* The call's memory is bounded: its inputs are at most a few times the body's size. */
    c = model_call_new(m, 8 * a->cfg->max_body_bytes + (1u << 20));
    if (!c) {
        json_decref(body);
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    r->app_data = c; /* released by the log phase */
    rc = records_decode(c, body, m->opts.max_records, &e);
    json_decref(body);
    if (rc != 0) {
        http_set_error(r, rc, e.msg[0] ? e.msg : NULL);
        return HTTP_DONE;
    }
    if (!m->sched) {
        model_call_submit(c, NULL, NULL);
        reply_from_call(r, c);
        return HTTP_DONE;
    }
    /* Suspend before handing the call over: the worker may finish before submit returns. */
    atomic_store_explicit(&r->async_state, ASYNC_WAITING, memory_order_relaxed);
    http_suspend(r);
    rc = model_call_submit(c, on_call_done, r);
    if (rc < 0) {
        c->status = rc;
        on_call_done(c, r);
    }
    return HTTP_ASYNC;
}

void api_predict_finish(struct api *a, struct request *r)
{
    reply_from_call(r, r->app_data);
}
