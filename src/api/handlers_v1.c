/*
 * Handlers of the native v1 API and the template's aliases: service info, health, model
 * metadata and record-oriented prediction (decode + validate -> infer inline or on the model's
 * workers -> encode).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "audit/audit.h"

/* GET /: the template's service info {"name","version"}. Route scope "read". I/O thread. */
int api_h_root(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:s, s:s}", "name", "modelwrap", "version", MW_VERSION));
    return HTTP_DONE;
}

/* See api.h. */
bool api_ready(struct api *a, struct request *r, const char **why)
{
    if (!registry_ready(api_registry(a, r))) {
        *why = "a model is not loaded or not ready";
        return false;
    }
    if (a->audit != NULL && !audit_ready(a->audit, why))
        return false;
    *why = NULL;
    return true;
}

/* {"<key>": ready} plus "reason" when not ready; live adds "is_alive": true first. */
static json_t *ready_body(bool live, const char *key, bool ready, const char *why)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (live)
        json_object_set_new(o, "is_alive", json_true());
    json_object_set_new(o, key, json_boolean(ready));
    if (!ready && why != NULL)
        json_object_set_new(o, "reason", json_string(why));
    return o;
}

/* GET /api/v1/health: {"is_alive", "ready"[, "reason"]} (always 200: the process lives). No
 * scope. I/O thread. */
int api_h_health(void *ctx, struct request *r)
{
    const char *why;
    bool ready = api_ready(ctx, r, &why);

    api_reply_json(r, 200, ready_body(true, "ready", ready, why));
    return HTTP_DONE;
}

/* GET /api/v1/health/live: 200 {"is_alive": true} while the process serves requests, whatever
 * the models or the audit trail say (a restart would not help them). No scope. I/O thread. */
int api_h_health_live(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:b}", "is_alive", 1));
    return HTTP_DONE;
}

/* GET /api/v1/health/ready: 200 {"ready": true}, or 503 {"ready": false, "reason"}: a model is not
 * ready in the request's registry snapshot, or the audit trail refuses traffic. No scope. I/O
 * thread. */
int api_h_health_ready(void *ctx, struct request *r)
{
    const char *why;
    bool ready = api_ready(ctx, r, &why);

    api_reply_json(r, ready ? 200 : 503, ready_body(false, "ready", ready, why));
    return HTTP_DONE;
}

/* GET /api/health[/]: the template's liveness probe. No scope. I/O thread. */
int api_h_template_health(void *ctx, struct request *r)
{
    return api_h_health_live(ctx, r);
}

/* GET /api[/]: the template's router root, {"version"} (the server's version). Route scope
 * "read", as GET /. I/O thread. */
int api_h_template_version(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:s}", "version", MW_VERSION));
    return HTTP_DONE;
}

/* GET /api/v1/models: {"models": [...]}, the newest version of each model. Route scope "read".
 * I/O thread. */
int api_h_models(void *ctx, struct request *r)
{
    struct registry *reg = api_registry(ctx, r);
    json_t *list = json_array();
    for (size_t i = 0; list && i < registry_count(reg); i++)
        json_array_append_new(list, model_describe(registry_model_at(reg, i)));
    api_reply_json(r, 200, list ? json_pack("{s:o}", "models", list) : NULL);
    return HTTP_DONE;
}

/* Copies a model's name and version into the request's arena for the log phase, which runs after
 * the request's registry snapshot (and so the model) may be gone. Out of memory leaves them NULL.
 * I/O thread. */
void api_set_model(struct request *r, const struct model *m)
{
    const char *name = model_get_name(m), *version = model_get_version(m);

    api_req(r)->model_name = arena_strndup(&r->arena, name, strlen(name));
    api_req(r)->model_version = arena_strndup(&r->arena, version, strlen(version));
}

/* The model named by the route's {name}, or the default model (their newest versions), from the
 * request's snapshot. NULL after setting the error. */
static struct model *route_model(struct api *a, struct request *r)
{
    struct registry *reg = api_registry(a, r);
    struct model *m;
    if (r->n_params > 0) {
        m = registry_find(reg, r->params[0].ptr, r->params[0].len);
        if (!m) {
            char msg[160];
            snprintf(msg, sizeof(msg), "No model named '%.*s'.",
                     (int)(r->params[0].len > 64 ? 64 : r->params[0].len), r->params[0].ptr);
            http_set_error(r, MWE_MODEL_NOT_FOUND, msg);
        }
    } else {
        m = registry_default(reg);
        if (!m)
            http_set_error(r, MWE_MODEL_NOT_FOUND,
                           "No default model: set MODELWRAP_DEFAULT_MODEL or use "
                           "/api/v1/models/{name}/predict.");
    }
    if (m)
        api_set_model(r, m);
    return m;
}

/* GET /api/v1/models/{name}: the newest version's description, or 404. Route scope "read". I/O
 * thread. */
int api_h_model(void *ctx, struct request *r)
{
    struct model *m = route_model(ctx, r);
    if (m)
        api_reply_json(r, 200, model_describe(m));
    return HTTP_DONE;
}

/* The error answer of a call that failed, shared by v1 and V2 (see api.h); adds Retry-After to
 * 503s. I/O thread. */
void api_reply_call_error(struct request *r, const struct model_call *c, int invalid_input)
{
    const char *errmsg = model_call_errmsg(c);

    switch (model_call_status(c)) {
    case MWE_INVALID_INPUT:
        http_set_error(r, invalid_input, errmsg[0] ? errmsg : NULL);
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
    case MWE_MODEL_UNAVAILABLE:
        http_set_error(r, MWE_MODEL_UNAVAILABLE, NULL);
        http_header_add(r, "Retry-After", "1");
        return;
    case MWE_BODY_TOO_LARGE:
        http_set_error(r, MWE_BODY_TOO_LARGE, "The request does not fit the model's worker.");
        return;
    default:
        http_set_error(r, model_call_status(c) == MWE_NOMEM ? MWE_NOMEM : MWE_MODEL_FAILED, NULL);
        return;
    }
}

/* The answer of a template-style Python model (c->answer, validated JSON): unchanged on the
 * template's own routes, {"model","model_version","predictions": <answer>} on the v1 routes. */
static int encode_answer(struct request *r, const struct model_call *c)
{
    const struct model *m = model_call_model(c);
    const char *name = model_get_name(m), *version = model_get_version(m);
    size_t answer_len;
    const char *answer = model_call_answer(c, &answer_len);
    int rc = 0;

    if (r->route != NULL && r->route->name != NULL &&
        strcmp(r->route->name, "template_predict") == 0)
        return buf_append(&r->resp, answer, answer_len);
    rc = buf_append(&r->resp, "{\"model\":\"", 10);
    if (rc == 0)
        rc = buf_append_json_escaped(&r->resp, name, strlen(name));
    if (rc == 0)
        rc = buf_append(&r->resp, "\",\"model_version\":\"", 19);
    if (rc == 0)
        rc = buf_append_json_escaped(&r->resp, version, strlen(version));
    if (rc == 0)
        rc = buf_append(&r->resp, "\",\"predictions\":", 16);
    if (rc == 0)
        rc = buf_append(&r->resp, answer, answer_len);
    if (rc == 0)
        rc = buf_append(&r->resp, "}", 1);
    return rc;
}

static void reply_from_call(struct request *r, struct model_call *c)
{
    if (model_call_status(c) != 0) {
        api_reply_call_error(r, c, MWE_INVALID_INPUT);
        return;
    }
    buf_reset(&r->resp);
    if (model_call_answer(c, NULL) != NULL) {
        if (encode_answer(r, c) != 0)
            http_set_error(r, MWE_NOMEM, NULL);
        else
            http_set_json(r, 200);
        return;
    }
    if (records_encode(c, &r->resp) != 0)
        http_set_error(r, MWE_NOMEM, NULL);
    else
        http_set_json(r, 200);
}

static void on_call_done(struct model_call *c, void *ctx)
{
    struct request *r = ctx;
    atomic_store_explicit(&r->async_state, ASYNC_READY, memory_order_release);
    http_resume(r);
}

/* See api.h. */
bool api_refuse_content_encoding(struct request *r)
{
    struct slice enc = http_header_get(r, "Content-Encoding");

    if (enc.ptr == NULL || slice_eq_nocase(enc, "identity"))
        return false;
    http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE,
                   "Content-Encoding is not supported: send the body uncompressed.");
    return true;
}

/* POST /api/v1/models/{name}/predict, /api/v1/predict and the template's /api/predict[/]:
 * records in, predictions out, on the newest version of the model (or the default model). 415
 * (a Content-Encoding, another Content-Type), 400, 422 for the body; the call's own errors
 * (api_reply_call_error). Route scope "predict". I/O thread; HTTP_ASYNC when the model runs on
 * its workers. */
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
    if (!model_is_ready(m)) {
        http_set_error(r, MWE_NOT_READY, "The model is not ready.");
        /* Loading, or restarting its workers: a client may try again soon. */
        http_header_add(r, "Retry-After", "1");
        return HTTP_DONE;
    }
    if (api_refuse_content_encoding(r))
        return HTTP_DONE;
    if (!mw_media_type_is(http_header_get(r, "Content-Type"), "application/json")) {
        http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE, NULL);
        return HTTP_DONE;
    }
    /* depth and element limits, before jansson sees the body */
    if (mw_json_limits_check(r->body.ptr ? r->body.ptr : "", r->body.len, a->cfg, &e) != 0) {
        http_set_error(r, MWE_INVALID_JSON, e.msg);
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
    /* The decoding budget, the same rule as V2's. */
    c = model_call_new(m, model_call_budget(r->body.len));
    if (!c) {
        json_decref(body);
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    api_req(r)->call = c; /* released by the log phase */
    /* For the model's own log lines (Python workers' tracebacks, a plug-in's host->log) and
     * a plug-in's host->request_id; NULL if no memory. */
    (void)model_call_set_request_id(c, r->id);
    /* A template model gets the body itself, once it passed the signature (if any). */
    if (model_answers_json(m) && model_call_set_body(c, r->body.ptr, r->body.len) != 0) {
        json_decref(body);
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    if (model_answers_json(m) && model_get_signature(m)->n_inputs == 0)
        rc = json_is_object(body) ? 0
                                  : mw_fail(&e, MWE_BAD_REQUEST, "body: expected a JSON object");
    else
        rc = records_decode(c, body, model_get_max_records(m), &e);
    json_decref(body);
    if (rc != 0) {
        http_set_error(r, rc, e.msg[0] ? e.msg : NULL);
        return HTTP_DONE;
    }
    if (api_call_dispatch(r, c) == HTTP_ASYNC)
        return HTTP_ASYNC;
    reply_from_call(r, c);
    return HTTP_DONE;
}

/*
 * Runs c inline (HTTP_DONE, c->status set) or hands it to the model's workers with the connection
 * suspended (HTTP_ASYNC; on_call_done resumes it and http_app.finish answers). The suspend comes
 * before the hand-over: the worker may finish before submit returns. A refused submission is
 * answered like a completed call. I/O thread.
 */
int api_call_dispatch(struct request *r, struct model_call *c)
{
    int rc;

    if (!model_has_workers(model_call_model(c))) {
        model_call_submit(c, NULL, NULL);
        return HTTP_DONE;
    }
    atomic_store_explicit(&r->async_state, ASYNC_WAITING, memory_order_relaxed);
    http_suspend(r);
    rc = model_call_submit(c, on_call_done, r);
    if (rc < 0) {
        model_call_fail(c, rc);
        on_call_done(c, r);
    }
    return HTTP_ASYNC;
}

/* http_app.finish: builds the answer of an asynchronous call once its worker resumed the
 * connection, V2 (api_req(r)->v2 set) or v1. I/O thread. */
void api_predict_finish(struct api *a, struct request *r)
{
    if (api_req(r)->v2 != NULL) {
        api_v2_finish(a, r);
        return;
    }
    reply_from_call(r, api_req(r)->call);
}
