/*
 * The Open Inference Protocol (KServe V2 REST) handlers: server metadata and health, model
 * metadata and readiness (any loaded version), and inference with JSON tensors or the binary
 * tensor data extension, run inline or on the model's workers like the v1 predict.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

/* The V2 extensions this server implements (GET /v2). */
static const char *const extensions[] = {"binary_tensor_data", "model_repository"};

/*
 * GET /v2: {"name","version","extensions"}. Route scope "read". I/O thread.
 */
int api_h_v2_server(void *ctx, struct request *r)
{
    json_t *ext = json_array();

    for (size_t i = 0; ext != NULL && i < MW_ARRAY_LEN(extensions); i++)
        json_array_append_new(ext, json_string(extensions[i]));
    api_reply_json(r, 200,
                   ext != NULL ? json_pack("{s:s, s:s, s:o}", "name", "modelwrap", "version",
                                           MW_VERSION, "extensions", ext)
                               : NULL);
    return HTTP_DONE;
}

/*
 * GET /v2/health/live: 200 {"live": true} while the process serves requests. No scope. I/O
 * thread.
 */
int api_h_v2_live(void *ctx, struct request *r)
{
    api_reply_json(r, 200, json_pack("{s:b}", "live", 1));
    return HTTP_DONE;
}

/*
 * GET /v2/health/ready: 200 {"ready": true} when every loaded model is ready and the audit trail
 * takes traffic, else 400 {"ready": false, "reason"} (the protocol: the status code carries the
 * answer, 4xx for false). No scope. I/O thread.
 */
int api_h_v2_ready(void *ctx, struct request *r)
{
    const char *why;
    bool ready = api_ready(ctx, r, &why);

    api_reply_json(r, ready ? 200 : 400,
                   ready ? json_pack("{s:b}", "ready", 1)
                         : json_pack("{s:b, s:s}", "ready", 0, "reason", why));
    return HTTP_DONE;
}

/* The model of a /v2/models/{name}[/versions/{version}] route from the request's snapshot: the
 * given version, or the newest. NULL after setting a 404. */
static struct model *v2_model(struct api *a, struct request *r)
{
    struct registry *reg = api_registry(a, r);
    const struct registry_versions *vs;
    struct model *m = NULL;
    char msg[300], list[120];
    size_t used = 0;
    int nlen = (int)(r->params[0].len > 64 ? 64 : r->params[0].len);

    vs = registry_versions_of(reg, r->params[0].ptr, r->params[0].len);
    if (registry_versions_count(vs) == 0) {
        snprintf(msg, sizeof(msg), "Unknown model: '%.*s'.", nlen, r->params[0].ptr);
        http_set_error(r, MWE_MODEL_NOT_FOUND, msg);
        goto out;
    }
    if (r->n_params < 2) {
        m = registry_versions_at(vs, 0);
        goto out_found;
    }
    m = registry_find_version(reg, r->params[0].ptr, r->params[0].len, r->params[1].ptr,
                              r->params[1].len);
    if (m == NULL) {
        list[0] = '\0';
        for (size_t k = 0; k < registry_versions_count(vs); k++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "",
                             model_get_version(registry_versions_at(vs, k)));
            if (w < 0 || (size_t)w >= sizeof(list) - used)
                break;
            used += (size_t)w;
        }
        snprintf(msg, sizeof(msg), "Model '%.*s' has no version '%.*s' (loaded: %s).", nlen,
                 r->params[0].ptr, (int)(r->params[1].len > 64 ? 64 : r->params[1].len),
                 r->params[1].ptr, list);
        http_set_error(r, MWE_MODEL_NOT_FOUND, msg);
        goto out;
    }
out_found:
    api_set_model(r, m);
out:
    return m;
}

static json_t *tensors_json(size_t n, const struct mw_tensor_spec *specs)
{
    json_t *arr = json_array(), *o, *shape;
    int rc = arr == NULL;

    for (size_t i = 0; rc == 0 && i < n; i++) {
        o = json_object();
        shape = json_array();
        rc |= json_array_append_new(arr, o);
        rc |= json_object_set_new(o, "name", json_string(specs[i].name));
        rc |= json_object_set_new(o, "datatype", json_string(dtype_name(specs[i].dtype)));
        rc |= json_object_set_new(o, "shape", shape);
        for (int32_t d = 0; rc == 0 && d < specs[i].ndim; d++)
            rc |= json_array_append_new(shape, json_integer((json_int_t)specs[i].shape[d]));
    }
    if (rc != 0) {
        json_decref(arr);
        arr = NULL;
    }
    return arr;
}

/*
 * GET /v2/models/{m}[/versions/{v}]: {"name","versions" (every loaded version, newest first),
 * "platform","inputs","outputs"} of that version (default: the newest). 404 unknown. Route scope
 * "read". I/O thread.
 */
int api_h_v2_model(void *ctx, struct request *r)
{
    struct model *m = v2_model(ctx, r);
    const struct registry_versions *vs;
    json_t *o, *versions;
    int rc;

    if (m == NULL)
        return HTTP_DONE;
    vs = registry_versions_of(api_registry(ctx, r), model_get_name(m), strlen(model_get_name(m)));
    o = json_object();
    versions = json_array();
    rc = o == NULL || versions == NULL;
    rc |= json_object_set_new(o, "name", json_string(model_get_name(m)));
    for (size_t k = 0; k < registry_versions_count(vs); k++)
        rc |= json_array_append_new(versions,
                                    json_string(model_get_version(registry_versions_at(vs, k))));
    rc |= json_object_set(o, "versions", versions);
    rc |= json_object_set_new(o, "platform", json_string(model_get_platform(m)));
    rc |= json_object_set_new(
        o, "inputs",
        tensors_json(model_get_signature(m)->n_inputs, model_get_signature(m)->inputs));
    rc |= json_object_set_new(
        o, "outputs",
        tensors_json(model_get_signature(m)->n_outputs, model_get_signature(m)->outputs));
    json_decref(versions);
    if (rc != 0) {
        json_decref(o);
        o = NULL;
    }
    api_reply_json(r, 200, o);
    return HTTP_DONE;
}

/*
 * GET /v2/models/{m}[/versions/{v}]/ready: 200 {"name","ready":true}, 400 {"name","ready":false}
 * while it stops, 404 unknown. Route scope "read". I/O thread.
 */
int api_h_v2_model_ready(void *ctx, struct request *r)
{
    struct model *m = v2_model(ctx, r);
    bool ready;

    if (m == NULL)
        return HTTP_DONE;
    ready = model_is_ready(m);
    api_reply_json(r, ready ? 200 : 400,
                   json_pack("{s:s, s:b}", "name", model_get_name(m), "ready", ready));
    return HTTP_DONE;
}

/* Builds the response of r's completed V2 call. */
static void v2_reply(struct request *r)
{
    struct model_call *c = api_req(r)->call;
    const struct v2_request *req = api_req(r)->v2;
    struct mw_error e = {0};
    size_t header_len = 0;
    bool binary = false;
    char num[24];
    int rc;

    if (model_call_status(c) != 0) {
        api_reply_call_error(r, c, MWE_BAD_REQUEST);
        return;
    }
    buf_reset(&r->resp);
    rc = tensor_encode_response(c, req, &r->resp, &header_len, &binary, &e);
    if (rc != 0) {
        http_set_error(r, rc == MWE_BAD_REQUEST || rc == MWE_MODEL_FAILED ? rc : MWE_NOMEM,
                       e.msg[0] ? e.msg : NULL);
        return;
    }
    if (!binary) {
        http_set_json(r, 200);
        return;
    }
    r->status = 200;
    r->content_type = "application/octet-stream";
    snprintf(num, sizeof(num), "%zu", header_len);
    if (http_header_add(r, "Inference-Header-Content-Length", num) != 0)
        http_set_error(r, MWE_NOMEM, NULL);
}

/* See api.h: the V2 half of http_app.finish. I/O thread. */
void api_v2_finish(struct api *a, struct request *r)
{
    v2_reply(r);
}

/*
 * POST /v2/models/{m}[/versions/{v}]/infer. A JSON body (Content-Type application/json or none),
 * or with Inference-Header-Content-Length a JSON header followed by binary tensors
 * (application/octet-stream or none), or with Inference-Header-Content-Length: 0 one input's raw
 * data. 404 unknown model or version, 503 not ready, 415 other media types or a Content-Encoding,
 * 400 with the offending place for anything malformed or not matching the signature; the model's
 * own refusal (MW_ERR_INVALID_INPUT) is 400 too; 500 model failure, 503 queue full, 504 deadline.
 * Route scope "predict". I/O thread (the model may run on its workers meanwhile).
 */
int api_h_v2_infer(void *ctx, struct request *r)
{
    struct api *a = ctx;
    struct model *m = v2_model(a, r);
    struct slice ct, ihcl;
    struct v2_request *req;
    struct model_call *c;
    struct mw_error e = {0};
    const char *body = r->body.ptr != NULL ? r->body.ptr : "";
    size_t len = r->body.len, hlen = len;
    bool framed;
    int rc;

    if (m == NULL)
        return HTTP_DONE;
    if (!model_is_ready(m)) {
        http_set_error(r, MWE_NOT_READY, "The model is not ready.");
        /* Loading, or restarting its workers: a client may try again soon. */
        http_header_add(r, "Retry-After", "1");
        return HTTP_DONE;
    }
    if (api_refuse_content_encoding(r))
        return HTTP_DONE;
    ct = http_header_get(r, "Content-Type");
    ihcl = http_header_get(r, "Inference-Header-Content-Length");
    framed = ihcl.ptr != NULL;
    if (framed) {
        if (binary_header_length(ihcl, len, &hlen, &e) != 0) {
            http_set_error(r, MWE_BAD_REQUEST, e.msg);
            return HTTP_DONE;
        }
        if (ct.ptr != NULL && !mw_media_type_is(ct, "application/octet-stream") &&
            !(mw_media_type_is(ct, "application/json") && hlen == len)) {
            http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE,
                           "With Inference-Header-Content-Length the Content-Type must be "
                           "application/octet-stream.");
            return HTTP_DONE;
        }
    } else if (ct.ptr != NULL && !mw_media_type_is(ct, "application/json")) {
        http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE,
                       "Content-Type must be application/json, or application/octet-stream with "
                       "Inference-Header-Content-Length (binary tensor data).");
        return HTTP_DONE;
    }

    /* depth and element limits (MODELWRAP_MAX_JSON_*) before jansson sees the JSON */
    if (!(framed && hlen == 0) && mw_json_limits_check(body, hlen, a->cfg, &e) != 0) {
        http_set_error(r, MWE_INVALID_JSON, e.msg);
        return HTTP_DONE;
    }
    c = model_call_new(m, model_call_budget(len));
    req = arena_calloc(&r->arena, 1, sizeof(*req));
    if (c == NULL || req == NULL) {
        model_call_release(c);
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    api_req(r)->call = c; /* released by the log phase */
    api_req(r)->v2 = req;
    /* For the model's own log lines (Python workers' tracebacks, a plug-in's host->log) and
     * a plug-in's host->request_id; NULL if no memory. */
    (void)model_call_set_request_id(c, r->id);
    if (framed && hlen == 0)
        rc = tensor_decode_raw(c, &r->arena, (const uint8_t *)body, len, req, &e);
    else
        rc = tensor_decode_request(c, &r->arena, body, hlen, (const uint8_t *)body + hlen,
                                   len - hlen, model_get_max_records(m), req, &e);
    if (rc != 0) {
        http_set_error(r, rc, e.msg[0] ? e.msg : NULL);
        return HTTP_DONE;
    }
    if (api_call_dispatch(r, c) == HTTP_ASYNC)
        return HTTP_ASYNC;
    v2_reply(r);
    return HTTP_DONE;
}
