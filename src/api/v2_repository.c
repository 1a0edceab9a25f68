/*
 * The Open Inference Protocol's model repository extension (POST /v2/repository/index,
 * /v2/repository/models/{m}/load and /unload) and the per-request references to the current
 * registry snapshot (kept by model/registry_current.c).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

/* ---- snapshots: the api's view of model/registry_current.c --------------------------------- */

/* See api.h. Any thread. */
struct registry *api_registry_acquire(struct api *a)
{
    return registry_current_acquire(&a->registry);
}

/* The snapshot of request r, acquired on first use; see api.h. I/O thread. */
struct registry *api_registry(struct api *a, struct request *r)
{
    if (api_req(r)->registry == NULL)
        api_req(r)->registry = api_registry_acquire(a);
    return api_req(r)->registry;
}

/* Releases r's snapshot, if it took one. The log phase (on_complete), once nothing reads a model
 * of it any more. I/O thread. */
void api_registry_put(struct api *a, struct request *r)
{
    registry_release(api_req(r)->registry);
    api_req(r)->registry = NULL;
}

/* See api.h. a->reg follows the published snapshot for start-up code. */
int api_reload(struct api *a, int op, const char *name, size_t len, struct mw_error *e)
{
    return registry_current_reload(&a->registry, op, name, len, &a->reg, e);
}

/* Releases the current snapshot. Main thread, after the servers stopped. */
void api_fini(struct api *a)
{
    registry_current_fini(&a->registry);
    a->reg = NULL;
}

/* ---- the repository extension ---------------------------------------------------------------- */

/* The optional JSON object body of a repository request: *out NULL when the body is empty. 0, or
 * the error already set on r. */
static int optional_body(struct api *a, struct request *r, json_t **out)
{
    struct slice ct = http_header_get(r, "Content-Type");
    struct mw_error e = {0};
    json_error_t jerr;
    char msg[300];
    json_t *j;

    *out = NULL;
    if (r->body.len == 0)
        return 0;
    if (api_refuse_content_encoding(r))
        return MWE_UNSUPPORTED_MEDIA_TYPE;
    if (ct.ptr != NULL && !mw_media_type_is(ct, "application/json")) {
        http_set_error(r, MWE_UNSUPPORTED_MEDIA_TYPE, NULL);
        return MWE_UNSUPPORTED_MEDIA_TYPE;
    }
    if (mw_json_limits_check(r->body.ptr, r->body.len, a->cfg, &e) != 0) {
        http_set_error(r, MWE_INVALID_JSON, e.msg);
        return MWE_INVALID_JSON;
    }
    j = json_loadb(r->body.ptr, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        snprintf(msg, sizeof(msg), "Invalid JSON at line %d, column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        http_set_error(r, MWE_INVALID_JSON, msg);
        return MWE_INVALID_JSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        http_set_error(r, MWE_BAD_REQUEST, "The request body must be a JSON object.");
        return MWE_BAD_REQUEST;
    }
    *out = j;
    return 0;
}

/* Checks body.parameters: an object whose keys are all in `allowed` (NULL-terminated). */
static int check_parameters(struct request *r, const json_t *body, const char *const *allowed)
{
    const json_t *params = json_object_get(body, "parameters"), *v;
    char msg[200];
    const char *key;
    bool ok;

    if (params == NULL)
        return 0;
    if (!json_is_object(params)) {
        http_set_error(r, MWE_BAD_REQUEST, "parameters: expected an object.");
        return MWE_BAD_REQUEST;
    }
    json_object_foreach((json_t *)params, key, v) {
        ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            snprintf(msg, sizeof(msg), "parameters.%.64s: not supported by this server.", key);
            http_set_error(r, MWE_BAD_REQUEST, msg);
            return MWE_BAD_REQUEST;
        }
        if (!json_is_boolean(v)) {
            snprintf(msg, sizeof(msg), "parameters.%.64s: expected a boolean.", key);
            http_set_error(r, MWE_BAD_REQUEST, msg);
            return MWE_BAD_REQUEST;
        }
    }
    return 0;
}

/* POST /v2/repository/index, body empty, {} or {"ready": true}: every model of the repository with
 * its state (registry_index). Route scope "admin". I/O thread; lists the repository folder. */
int api_h_v2_repo_index(void *ctx, struct request *r)
{
    const json_t *ready;
    json_t *body = NULL;

    if (optional_body(ctx, r, &body) != 0)
        return HTTP_DONE;
    ready = json_object_get(body, "ready");
    if (ready != NULL && !json_is_boolean(ready)) {
        http_set_error(r, MWE_BAD_REQUEST, "ready: expected a boolean.");
        goto out;
    }
    api_reply_json(r, 200, registry_index(api_registry(ctx, r), json_is_true(ready)));
out:
    json_decref(body);
    return HTTP_DONE;
}

/* The answer to a reload that failed: unknown model 404, out of memory 503, else 400 (the
 * repository extension's "typically 400") with the reason. */
static void reload_error(struct request *r, int rc, const struct mw_error *e)
{
    const char *msg = e->msg[0] ? e->msg : NULL;

    if (rc == MWE_MODEL_NOT_FOUND || rc == MWE_NOMEM)
        http_set_error(r, rc, msg);
    else
        http_set_error(r, MWE_BAD_REQUEST, msg);
}

/* {"name": name, "state": "READY", "versions": [...]} of the model now current. */
static json_t *model_state(struct api *a, const char *name, size_t len, bool loaded)
{
    struct registry *reg = api_registry_acquire(a);
    const struct registry_versions *vs = registry_versions_of(reg, name, len);
    json_t *o = json_object(), *versions = json_array();
    int rc = o == NULL || versions == NULL;

    rc |= json_object_set_new(o, "name", json_stringn(name, len));
    rc |= json_object_set_new(o, "state", json_string(loaded && vs ? "READY" : "UNAVAILABLE"));
    for (size_t k = 0; vs != NULL && loaded && k < registry_versions_count(vs); k++)
        rc |= json_array_append_new(versions,
                                    json_string(model_get_version(registry_versions_at(vs, k))));
    rc |= json_object_set(o, "versions", versions);
    json_decref(versions);
    registry_release(reg);
    if (rc != 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* POST /v2/repository/models/{m}/load and /unload. */
static int load_or_unload(struct api *a, struct request *r, int op)
{
    static const char *const load_params[] = {NULL};
    static const char *const unload_params[] = {"unload_dependents", NULL};
    struct mw_error e = {0};
    json_t *body = NULL;
    int rc;

    if (optional_body(a, r, &body) != 0)
        return HTTP_DONE;
    if (check_parameters(r, body, op == REPO_LOAD ? load_params : unload_params) != 0)
        goto out;
    rc = api_reload(a, op, r->params[0].ptr, r->params[0].len, &e);
    if (rc != 0) {
        reload_error(r, rc, &e);
        goto out;
    }
    api_reply_json(r, 200, model_state(a, r->params[0].ptr, r->params[0].len, op == REPO_LOAD));
out:
    json_decref(body);
    return HTTP_DONE;
}

/* POST /v2/repository/models/{m}/load (body empty or {"parameters": {}}): loads or reloads m
 * from the repository (forced, its versions per its policy) and makes it servable again after an
 * unload; 200 {"name","state","versions"}, 404 unknown, 400 with the load error (the loaded
 * versions keep serving). Route scope "admin". Runs the load on this I/O thread. */
int api_h_v2_repo_load(void *ctx, struct request *r)
{
    return load_or_unload(ctx, r, REPO_LOAD);
}

/* POST /v2/repository/models/{m}/unload: stops serving m (requests in flight finish) until it is
 * loaded again, SIGHUP included; 200 {"name","state":"UNAVAILABLE"}, 404 unknown. Route scope
 * "admin". I/O thread. */
int api_h_v2_repo_unload(void *ctx, struct request *r)
{
    return load_or_unload(ctx, r, REPO_UNLOAD);
}
