/*
 * The OpenAPI 3.1 document, generated once at start-up from the route table and each loaded
 * model's signature (records and prediction schemas with the feature names and types), with the
 * Open Inference Protocol (v2) schemas, the error schema, every status each route can answer, the
 * security schemes and the service's info. Served by GET /openapi.json and `modelwrap openapi`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* ---- small builders -------------------------------------------------------------------------- */

/* Sets obj[key] = v (stolen). A NULL v or a failed set marks *ok false. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
    if (v == NULL || arr == NULL || json_array_append_new(arr, v) != 0)
        *ok = false;
}

/* {"$ref": "#/components/<kind>/<name>"}. */
static json_t *ref(const char *kind, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", buf);
}

/* A schema name safe for components (^[A-Za-z0-9._-]+$) from a model name. */
static void schema_name(char *out, size_t cap, const char *prefix, const char *model)
{
    size_t n = (size_t)snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; model[i] != '\0' && n + 1 < cap; i++) {
        char c = model[i];
        bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '.' || c == '-' || c == '_';
        out[n++] = okc ? c : '_';
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* ---- model schemas --------------------------------------------------------------------------- */

/* The JSON schema of one element of dtype dt, as the records codec accepts and writes it. */
static json_t *dtype_schema(int dt)
{
    switch (dt) {
    case MW_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case MW_UINT8:
        return json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", 0, "maximum", 255);
    case MW_UINT16:
        return json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", 0, "maximum", 65535);
    case MW_UINT32:
        return json_pack("{s:s, s:i, s:I}", "type", "integer", "minimum", 0, "maximum",
                         (json_int_t)UINT32_MAX);
    case MW_UINT64:
        return json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "uint64", "minimum", 0);
    case MW_INT8:
        return json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", -128, "maximum", 127);
    case MW_INT16:
        return json_pack("{s:s, s:i, s:i}", "type", "integer", "minimum", -32768, "maximum", 32767);
    case MW_INT32:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
    case MW_INT64:
        return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
    case MW_FP32:
        return json_pack("{s:s, s:s}", "type", "number", "format", "float");
    case MW_FP64:
        return json_pack("{s:s, s:s}", "type", "number", "format", "double");
    case MW_BYTES:
        return json_pack("{s:s}", "type", "string");
    default:
        return json_object();
    }
}

/* An example element of dtype dt. */
static json_t *dtype_example(int dt)
{
    if (dt == MW_BOOL)
        return json_true();
    if (dt == MW_BYTES)
        return json_string("text");
    if (dt == MW_FP32 || dt == MW_FP64)
        return json_real(1.0);
    return json_integer(1);
}

/* Record_<m>: one record (an object with one member per feature) and an example of it. */
static json_t *record_schema(const struct model *m, enum rec_kind kind, json_t **example)
{
    const struct model_sig *sig = model_get_signature(m);
    json_t *props = json_object(), *req = json_array(), *ex = json_object();
    bool ok = true;
    size_t i;

    if (kind == REC_MATRIX) {
        const struct mw_tensor_spec *s = &sig->inputs[0];
        for (i = 0; i < s->n_names; i++) {
            put(props, s->names[i], dtype_schema(s->dtype), &ok);
            push(req, json_string(s->names[i]), &ok);
            put(ex, s->names[i], dtype_example(s->dtype), &ok);
        }
    } else {
        for (i = 0; i < sig->n_inputs; i++) {
            const struct mw_tensor_spec *s = &sig->inputs[i];
            json_t *vs = dtype_schema(s->dtype);
            /* An optional member (Python's Optional[...]) may be null or missing. */
            if (sig->optional != NULL && sig->optional[i]) {
                json_t *any = json_pack("{s:[o,{s:s}]}", "anyOf", vs, "type", "null");
                put(props, s->name, any, &ok);
            } else {
                put(props, s->name, vs, &ok);
                push(req, json_string(s->name), &ok);
            }
            put(ex, s->name, dtype_example(s->dtype), &ok);
        }
    }
    json_t *schema = json_pack("{s:s, s:s, s:o, s:o, s:b}", "type", "object", "description",
                               "One record: every feature of the model, by name.", "properties",
                               props, "required", req, "additionalProperties", 0);
    if (!ok || schema == NULL) {
        json_decref(schema);
        json_decref(ex);
        return NULL;
    }
    *example = ex;
    return schema;
}

/* The value schema of output spec s in one prediction: a scalar (1-D), an object keyed by the
 * labels (2-D with labels) or nested arrays. */
static json_t *output_schema(const struct mw_tensor_spec *s)
{
    json_t *v;
    bool ok = true;

    if (s->ndim <= 1)
        return dtype_schema(s->dtype);
    if (s->ndim == 2 && s->n_labels > 0 && s->labels != NULL) {
        json_t *props = json_object();
        for (size_t k = 0; k < s->n_labels; k++)
            put(props, s->labels[k] ? s->labels[k] : "", dtype_schema(s->dtype), &ok);
        v = json_pack("{s:s, s:s, s:o}", "type", "object", "description",
                      "One value per class label.", "properties", props);
        if (!ok) {
            json_decref(v);
            return NULL;
        }
        return v;
    }
    v = dtype_schema(s->dtype);
    for (int32_t d = s->ndim - 1; d >= 1 && v != NULL; d--)
        v = json_pack("{s:s, s:o}", "type", "array", "items", v);
    return v;
}

/* Adds Records_<m>, Record_<m>, Prediction_<m>, Predictions_<m> to schemas for a record-shaped
 * model; sets *records_name / *predictions_name (cap bytes each) and *example (a request body). */
static bool model_schemas(json_t *schemas, const struct model *m, unsigned max_records,
                          char *records_name, char *predictions_name, size_t cap, json_t **example)
{
    enum rec_kind kind = records_kind(model_get_signature(m));
    char rec[160], pred[160];
    json_t *rec_example = NULL, *props;
    bool ok = true;

    *example = NULL;
    if (kind == REC_NONE)
        return true;
    schema_name(rec, sizeof(rec), "Record_", model_get_name(m));
    schema_name(records_name, cap, "Records_", model_get_name(m));
    schema_name(pred, sizeof(pred), "Prediction_", model_get_name(m));
    schema_name(predictions_name, cap, "Predictions_", model_get_name(m));

    put(schemas, rec, record_schema(m, kind, &rec_example), &ok);
    if (!ok)
        return false;
    char desc[512];
    snprintf(desc, sizeof(desc), "Records for model '%s' version %s: 1 to %u records.",
             model_get_name(m), model_get_version(m) ? model_get_version(m) : "", max_records);
    put(schemas, records_name,
        json_pack("{s:s, s:s, s:[s], s:{s:{s:s, s:i, s:I, s:o}}, s:b}", "type", "object",
                  "description", desc, "required", "data", "properties", "data", "type", "array",
                  "minItems", 1, "maxItems", (json_int_t)max_records, "items", ref("schemas", rec),
                  "additionalProperties", 0),
        &ok);
    if (model_answers_json(m)) {
        /* A template-style Python model answers whatever its run() returns. */
        put(schemas, pred,
            json_pack("{s:s}", "description",
                      "What the model's run() returned for the request's records (any JSON)."),
            &ok);
        put(schemas, predictions_name,
            json_pack("{s:s, s:[sss], s:{s:{s:s, s:s}, s:{s:s}, s:o}}", "type", "object",
                      "required", "model", "model_version", "predictions", "properties", "model",
                      "type", "string", "const", model_get_name(m), "model_version", "type",
                      "string", "predictions", ref("schemas", pred)),
            &ok);
        *example = json_pack("{s:[o]}", "data", rec_example);
        return ok && *example != NULL;
    }
    props = json_object();
    for (size_t i = 0; i < model_get_signature(m)->n_outputs; i++) {
        const struct mw_tensor_spec *s = &model_get_signature(m)->outputs[i];
        if (s->name != NULL)
            put(props, s->name, output_schema(s), &ok);
    }
    put(schemas, pred,
        json_pack("{s:s, s:s, s:o}", "type", "object", "description",
                  "The model's outputs for one record, by output name.", "properties", props),
        &ok);
    put(schemas, predictions_name,
        json_pack("{s:s, s:[sss], s:{s:{s:s, s:s}, s:{s:s}, s:{s:s, s:o}}}", "type", "object",
                  "required", "model", "model_version", "predictions", "properties", "model",
                  "type", "string", "const", model_get_name(m), "model_version", "type", "string",
                  "predictions", "type", "array", "items", ref("schemas", pred)),
        &ok);
    *example = json_pack("{s:[o]}", "data", rec_example);
    return ok && *example != NULL;
}

/* ---- fixed schemas --------------------------------------------------------------------------- */

static json_t *fixed_schemas(void)
{
    json_t *s = json_object();
    json_t *tensor_data =
        json_pack("{s:s, s:s, s:{s:[ssss]}}", "description",
                  "Tensor elements, row-major, flat or nested in arrays.", "type", "array", "items",
                  "type", "number", "string", "boolean", "array");
    bool ok = true;

    put(s, "Error",
        json_pack("{s:s, s:s, s:[sss], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}}", "type",
                  "object", "description",
                  "Every error: a message (naming the offending field when there is one), a "
                  "stable code and the request id (also in the X-Request-Id header).",
                  "required", "error", "code", "request_id", "properties", "error", "type",
                  "string", "description", "What went wrong.", "code", "type", "string",
                  "description", "Stable machine-readable code, e.g. invalid_input.", "request_id",
                  "type", "string", "description", "The request's id."),
        &ok);
    put(s, "ServiceInfo",
        json_pack("{s:s, s:[ss], s:{s:{s:s}, s:{s:s}}}", "type", "object", "required", "name",
                  "version", "properties", "name", "type", "string", "version", "type", "string"),
        &ok);
    put(s, "VersionInfo",
        json_pack("{s:s, s:[s], s:{s:{s:s}}}", "type", "object", "required", "version",
                  "properties", "version", "type", "string"),
        &ok);
    put(s, "Health",
        json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s, s:s}}}", "type", "object", "properties",
                  "is_alive", "type", "boolean", "ready", "type", "boolean", "reason", "type",
                  "string", "description", "Why the server is not ready (only when it is not)."),
        &ok);
    put(s, "TensorSpec",
        json_pack("{s:s, s:[sss], s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}}, "
                  "s:{s:s, s:{s:s}}}}",
                  "type", "object", "required", "name", "datatype", "shape", "properties", "name",
                  "type", "string", "datatype", "type", "string", "shape", "type", "array", "items",
                  "type", "integer", "names", "type", "array", "items", "type", "string", "labels",
                  "type", "array", "items", "type", "string"),
        &ok);
    put(s, "ModelMetadata",
        json_pack("{s:s, s:[ss], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:o}, "
                  "s:{s:s, s:o}}}",
                  "type", "object", "required", "name", "version", "properties", "name", "type",
                  "string", "version", "type", "string", "platform", "type", "string",
                  "description", "type", "string", "ready", "type", "boolean", "inputs", "type",
                  "array", "items", ref("schemas", "TensorSpec"), "outputs", "type", "array",
                  "items", ref("schemas", "TensorSpec")),
        &ok);
    put(s, "ModelList",
        json_pack("{s:s, s:{s:{s:s, s:o}}}", "type", "object", "properties", "models", "type",
                  "array", "items", ref("schemas", "ModelMetadata")),
        &ok);
    put(s, "AnyObject", json_pack("{s:s}", "type", "object"), &ok);
    /* Open Inference Protocol (KServe V2 REST). */
    put(s, "V2ServerMetadata",
        json_pack("{s:s, s:[sss], s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}}}", "type", "object",
                  "required", "name", "version", "extensions", "properties", "name", "type",
                  "string", "version", "type", "string", "extensions", "type", "array", "items",
                  "type", "string"),
        &ok);
    put(s, "V2Live",
        json_pack("{s:s, s:{s:{s:s}}}", "type", "object", "properties", "live", "type", "boolean"),
        &ok);
    put(s, "V2Ready",
        json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s, s:s}}}", "type", "object", "properties",
                  "name", "type", "string", "ready", "type", "boolean", "reason", "type", "string",
                  "description", "Why the server is not ready (only when it is not)."),
        &ok);
    put(s, "V2MetadataTensor",
        json_pack("{s:s, s:[sss], s:{s:{s:s}, s:{s:s}, s:{s:s, s:{s:s}}}}", "type", "object",
                  "required", "name", "datatype", "shape", "properties", "name", "type", "string",
                  "datatype", "type", "string", "shape", "type", "array", "items", "type",
                  "integer"),
        &ok);
    put(s, "V2ModelMetadata",
        json_pack("{s:s, s:[ss], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s, s:o}, "
                  "s:{s:s, s:o}}}",
                  "type", "object", "required", "name", "platform", "properties", "name", "type",
                  "string", "versions", "type", "array", "items", "type", "string", "platform",
                  "type", "string", "inputs", "type", "array", "items",
                  ref("schemas", "V2MetadataTensor"), "outputs", "type", "array", "items",
                  ref("schemas", "V2MetadataTensor")),
        &ok);
    put(s, "V2RequestInput",
        json_pack("{s:s, s:[ssss], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s}, s:O}}", "type",
                  "object", "required", "name", "shape", "datatype", "data", "properties", "name",
                  "type", "string", "shape", "type", "array", "items", "type", "integer",
                  "datatype", "type", "string", "parameters", "type", "object", "data",
                  tensor_data),
        &ok);
    put(s, "V2RequestOutput",
        json_pack("{s:s, s:[s], s:{s:{s:s}, s:{s:s}}}", "type", "object", "required", "name",
                  "properties", "name", "type", "string", "parameters", "type", "object"),
        &ok);
    put(s, "V2InferenceRequest",
        json_pack("{s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:o}, s:{s:s, s:o}}}", "type",
                  "object", "required", "inputs", "properties", "id", "type", "string",
                  "parameters", "type", "object", "inputs", "type", "array", "items",
                  ref("schemas", "V2RequestInput"), "outputs", "type", "array", "items",
                  ref("schemas", "V2RequestOutput")),
        &ok);
    put(s, "V2ResponseOutput",
        json_pack("{s:s, s:[ssss], s:{s:{s:s}, s:{s:s, s:{s:s}}, s:{s:s}, s:{s:s}, s:O}}", "type",
                  "object", "required", "name", "shape", "datatype", "data", "properties", "name",
                  "type", "string", "shape", "type", "array", "items", "type", "integer",
                  "datatype", "type", "string", "parameters", "type", "object", "data",
                  tensor_data),
        &ok);
    put(s, "V2InferenceResponse",
        json_pack("{s:s, s:[ss], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:o}}}", "type",
                  "object", "required", "model_name", "outputs", "properties", "model_name", "type",
                  "string", "model_version", "type", "string", "id", "type", "string", "parameters",
                  "type", "object", "outputs", "type", "array", "items",
                  ref("schemas", "V2ResponseOutput")),
        &ok);
    put(s, "V2RepositoryIndexRequest",
        json_pack("{s:s, s:{s:{s:s}}}", "type", "object", "properties", "ready", "type", "boolean"),
        &ok);
    put(s, "V2RepositoryIndex",
        json_pack("{s:s, s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}", "type", "array",
                  "items", "type", "object", "required", "name", "properties", "name", "type",
                  "string", "version", "type", "string", "state", "type", "string", "reason",
                  "type", "string"),
        &ok);
    json_decref(tensor_data);
    if (!ok) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* ---- responses ------------------------------------------------------------------------------- */

static const struct status_doc {
    int status;
    const char *name;
    const char *desc;
} status_docs[] = {
    {400, "BadRequest", "Malformed request: invalid_json, bad_request, invalid_request_id."},
    {401, "Unauthenticated",
     "No or invalid credentials: unauthenticated, invalid_token (WWW-Authenticate says why)."},
    {403, "Forbidden",
     "The credentials lack the route's scope (insufficient_scope), or the origin is not "
     "allowed (origin_not_allowed)."},
    {404, "NotFound", "No such model (model_not_found) or route (not_found)."},
    {408, "RequestTimeout", "The request was not received in time (request_timeout)."},
    {413, "BodyTooLarge",
     "The body exceeds MODELWRAP_MAX_BODY_BYTES (body_too_large), checked from Content-Length "
     "before reading and while reading."},
    {414, "UriTooLong", "The request URI is too long (uri_too_long)."},
    {415, "UnsupportedMediaType", "Content-Type must be application/json."},
    {422, "InvalidInput",
     "The body does not match the model's inputs; the message names the field "
     "(invalid_input)."},
    {429, "RateLimited",
     "Throughput limit reached (rate_limited): Retry-After and RateLimit-* headers say when "
     "to retry."},
    {431, "HeadersTooLarge", "Request headers exceed MODELWRAP_MAX_HEADER_BYTES."},
    {500, "InternalError", "The model failed (model_failed) or an internal error."},
    {503, "Unavailable",
     "Overloaded (the model's queue is full, Retry-After), not ready, shutting down, out of "
     "memory, or an announced outage."},
    {504, "DeadlineExceeded", "The model did not answer within its deadline."},
};

static json_t *error_responses(void)
{
    json_t *r = json_object();
    bool ok = true;

    for (size_t i = 0; i < MW_ARRAY_LEN(status_docs); i++)
        put(r, status_docs[i].name,
            json_pack("{s:s, s:{s:o}, s:{s:{s:o}}}", "description", status_docs[i].desc, "headers",
                      "X-Request-Id", ref("headers", "RequestId"), "content", "application/json",
                      "schema", ref("schemas", "Error")),
            &ok);
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}

static const char *status_name(int status)
{
    for (size_t i = 0; i < MW_ARRAY_LEN(status_docs); i++)
        if (status_docs[i].status == status)
            return status_docs[i].name;
    return "InternalError";
}

/* ---- operations ------------------------------------------------------------------------------ */

enum route_kind {
    RK_OTHER,
    RK_ROOT,
    RK_TEMPLATE_VERSION,
    RK_HEALTH,
    RK_MODELS,
    RK_MODEL,
    RK_PREDICT,
    RK_METRICS,
    RK_OPENAPI,
    RK_DOCS,
    RK_V2_SERVER,
    RK_V2_LIVE,
    RK_V2_READY,
    RK_V2_MODEL,
    RK_V2_MODEL_READY,
    RK_V2_INFER,
    RK_V2_REPO_INDEX,
    RK_V2_REPO_OTHER,
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static enum route_kind route_kind(const struct route *rt)
{
    const char *p = rt->pattern;

    if (rt->handler == api_h_predict)
        return RK_PREDICT;
    if (rt->handler == api_h_root)
        return RK_ROOT;
    if (rt->handler == api_h_template_version)
        return RK_TEMPLATE_VERSION;
    if (rt->handler == api_h_health || rt->handler == api_h_health_live ||
        rt->handler == api_h_health_ready || rt->handler == api_h_template_health)
        return RK_HEALTH;
    if (rt->handler == api_h_models)
        return RK_MODELS;
    if (rt->handler == api_h_model)
        return RK_MODEL;
    if (rt->handler == api_h_metrics)
        return RK_METRICS;
    if (rt->handler == api_h_openapi)
        return RK_OPENAPI;
    if (rt->handler == api_h_docs || rt->handler == api_h_docs_asset)
        return RK_DOCS;
    if (!starts_with(p, "/v2"))
        return RK_OTHER;
    if (strcmp(p, "/v2") == 0 || strcmp(p, "/v2/") == 0)
        return RK_V2_SERVER;
    if (strcmp(p, "/v2/health/live") == 0)
        return RK_V2_LIVE;
    if (strcmp(p, "/v2/health/ready") == 0)
        return RK_V2_READY;
    if (starts_with(p, "/v2/repository/"))
        return ends_with(p, "/index") ? RK_V2_REPO_INDEX : RK_V2_REPO_OTHER;
    if (starts_with(p, "/v2/models/")) {
        if (ends_with(p, "/infer"))
            return RK_V2_INFER;
        if (ends_with(p, "/ready"))
            return RK_V2_MODEL_READY;
        return RK_V2_MODEL;
    }
    return RK_OTHER;
}

static const char *route_summary(const struct route *rt, enum route_kind k)
{
    static const struct {
        const char *name;
        const char *summary;
    } known[] = {
        {"root", "Service name and version"},
        {"v1_health", "Liveness and readiness"},
        {"v1_health_live", "Liveness probe"},
        {"v1_health_ready", "Readiness probe: 503 until every model is loaded"},
        {"v1_models", "Every model and its signature"},
        {"v1_model", "One model's signature"},
        {"v1_model_predict", "Predict with a model: records in, predictions out"},
        {"v1_predict", "Predict with the default model: records in, predictions out"},
        {"template_version", "Service version (the Python template's route)"},
        {"template_health", "Liveness (the Python template's route)"},
        {"template_predict", "Predict with the default model (the Python template's route)"},
        {"v1_sla", "The service level agreement: targets, limits, support hours, contact"},
        {"v1_compliance", "The Standards on APIs checklist evaluated on this deployment"},
        {"v1_sbom", "The dependency inventory (CycloneDX 1.5 JSON)"},
    };
    for (size_t i = 0; i < MW_ARRAY_LEN(known); i++)
        if (rt->name != NULL && strcmp(rt->name, known[i].name) == 0)
            return known[i].summary;
    switch (k) {
    case RK_METRICS:
        return "Prometheus metrics (text exposition format)";
    case RK_OPENAPI:
        return "This OpenAPI document";
    case RK_DOCS:
        return "The interactive documentation page and its files";
    case RK_V2_SERVER:
        return "Open Inference Protocol: server metadata";
    case RK_V2_LIVE:
        return "Open Inference Protocol: server liveness";
    case RK_V2_READY:
        return "Open Inference Protocol: server readiness";
    case RK_V2_MODEL:
        return "Open Inference Protocol: model metadata";
    case RK_V2_MODEL_READY:
        return "Open Inference Protocol: model readiness";
    case RK_V2_INFER:
        return "Open Inference Protocol: inference";
    case RK_V2_REPO_INDEX:
        return "Open Inference Protocol: model repository index";
    case RK_V2_REPO_OTHER:
        return "Open Inference Protocol: model repository operation";
    default:
        return rt->name != NULL ? rt->name : "operation";
    }
}

static const char *route_tag(const struct route *rt, enum route_kind k)
{
    if (starts_with(rt->pattern, "/v2"))
        return "Open Inference Protocol (v2)";
    if (starts_with(rt->pattern, "/api/v1"))
        return "Native API (v1)";
    if (starts_with(rt->pattern, "/api/"))
        return "Template compatibility";
    return "Service";
}

/* What the per-model parts of the document need. */
struct model_docs {
    json_t *records_ref;     /* request body schema of {name}/predict (anyOf), or NULL */
    json_t *predictions_ref; /* 200 schema of {name}/predict */
    json_t *examples;        /* {model: {summary, value}} */
    json_t *default_records; /* the default model's, or NULL */
    json_t *default_predictions;
    json_t *default_example;
    json_t *default_answer; /* a template-style Python default model: what /api/predict answers */
    json_t *model_names; /* enum of the {name} parameter */
};

static json_t *body_schema(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static void add_status(json_t *responses, int status, bool *ok)
{
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    if (json_object_get(responses, code) == NULL)
        put(responses, code, ref("responses", status_name(status)), ok);
}

/* The 200 response and the request body of an operation of kind k. */
static void success_and_body(enum route_kind k, const struct route *rt, const struct model_docs *md,
                             json_t *op, json_t *responses, bool *ok)
{
    json_t *content = NULL, *body = NULL;
    const char *desc = "OK";

    switch (k) {
    case RK_ROOT:
        content = body_schema(ref("schemas", "ServiceInfo"));
        break;
    case RK_TEMPLATE_VERSION:
        content = body_schema(ref("schemas", "VersionInfo"));
        break;
    case RK_HEALTH:
        content = body_schema(ref("schemas", "Health"));
        break;
    case RK_MODELS:
        content = body_schema(ref("schemas", "ModelList"));
        break;
    case RK_MODEL:
        content = body_schema(ref("schemas", "ModelMetadata"));
        break;
    case RK_PREDICT: {
        bool by_name = strstr(rt->pattern, "{") != NULL;
        json_t *rs = by_name ? md->records_ref : md->default_records;
        json_t *ps = by_name ? md->predictions_ref : md->default_predictions;
        desc = "The predictions, one per record, in order.";
        if (!by_name && md->default_answer != NULL && strcmp(rt->name, "template_predict") == 0) {
            /* The template's route answers what the model's run() returned, unwrapped. */
            desc = "What the default model's run() returned.";
            ps = md->default_answer;
        }
        content = body_schema(ps != NULL ? json_incref(ps) : ref("schemas", "AnyObject"));
        json_t *media = json_pack("{s:o}", "schema",
                                  rs != NULL ? json_incref(rs) : ref("schemas", "AnyObject"));
        if (media != NULL && by_name && json_object_size(md->examples) > 0)
            put(media, "examples", json_incref(md->examples), ok);
        else if (media != NULL && !by_name && md->default_example != NULL)
            put(media, "example", json_incref(md->default_example), ok);
        body = json_pack("{s:b, s:{s:o}}", "required", 1, "content", "application/json", media);
        break;
    }
    case RK_METRICS:
        content =
            json_pack("{s:{s:{s:s}}}", "text/plain; version=0.0.4", "schema", "type", "string");
        desc = "Every metric family in the Prometheus text exposition format.";
        break;
    case RK_OPENAPI:
        content = body_schema(ref("schemas", "AnyObject"));
        break;
    case RK_DOCS:
        content = json_pack("{s:{s:{s:s}}}", "text/html", "schema", "type", "string");
        break;
    case RK_V2_SERVER:
        content = body_schema(ref("schemas", "V2ServerMetadata"));
        break;
    case RK_V2_LIVE:
        content = body_schema(ref("schemas", "V2Live"));
        break;
    case RK_V2_READY:
    case RK_V2_MODEL_READY:
        content = body_schema(ref("schemas", "V2Ready"));
        break;
    case RK_V2_MODEL:
        content = body_schema(ref("schemas", "V2ModelMetadata"));
        break;
    case RK_V2_INFER: {
        /* JSON, or the binary tensor extension: a JSON header of Inference-Header-Content-Length
         * bytes followed by the raw tensors. */
        static const char bin_desc[] =
            "Binary tensor extension: the JSON inference header (Inference-Header-Content-Length "
            "bytes), then each tensor's raw little-endian bytes.";
        content = body_schema(ref("schemas", "V2InferenceResponse"));
        if (content != NULL)
            put(content, "application/octet-stream",
                json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "description", bin_desc),
                ok);
        json_t *req = body_schema(ref("schemas", "V2InferenceRequest"));
        if (req != NULL)
            put(req, "application/octet-stream",
                json_pack("{s:{s:s, s:s}}", "schema", "type", "string", "description", bin_desc),
                ok);
        body = json_pack("{s:b, s:o}", "required", 1, "content", req);
        break;
    }
    case RK_V2_REPO_INDEX:
        content = body_schema(ref("schemas", "V2RepositoryIndex"));
        body = json_pack("{s:b, s:o}", "required", 0, "content",
                         body_schema(ref("schemas", "V2RepositoryIndexRequest")));
        break;
    default:
        content = body_schema(ref("schemas", "AnyObject"));
        break;
    }
    if (body == NULL && rt->has_body) /* a route this file does not know yet */
        body = json_pack("{s:b, s:o}", "required", 0, "content",
                         body_schema(ref("schemas", "AnyObject")));
    put(responses, "200",
        json_pack("{s:s, s:{s:o}, s:o}", "description", desc, "headers", "X-Request-Id",
                  ref("headers", "RequestId"), "content", content),
        ok);
    if (body != NULL)
        put(op, "requestBody", body, ok);
    else if (rt->has_body)
        *ok = false; /* out of memory */
}

/* The statuses an operation can answer besides 200. */
static void error_statuses(enum route_kind k, const struct route *rt, json_t *responses, bool *ok)
{
    static const int always[] = {400, 403, 408, 413, 414, 431, 500, 503};
    bool model_param = strstr(rt->pattern, "{") != NULL &&
                       (k == RK_MODEL || k == RK_PREDICT || k == RK_V2_MODEL ||
                        k == RK_V2_MODEL_READY || k == RK_V2_INFER || k == RK_V2_REPO_OTHER);

    for (size_t i = 0; i < MW_ARRAY_LEN(always); i++)
        add_status(responses, always[i], ok);
    if (rt->scope != NULL) {
        add_status(responses, 401, ok);
        add_status(responses, 429, ok);
    }
    if (model_param || k == RK_PREDICT || k == RK_DOCS)
        add_status(responses, 404, ok);
    if (k == RK_PREDICT || k == RK_V2_INFER) {
        add_status(responses, 415, ok);
        add_status(responses, 422, ok);
        add_status(responses, 504, ok);
    }
}

static json_t *security_for(const struct config *cfg, const struct route *rt, bool oidc)
{
    json_t *sec = json_array();
    bool ok = true;

    if (rt->scope == NULL)
        return sec; /* public: liveness and readiness probes */
    push(sec, json_pack("{s:[]}", "ApiKeyHeader"), &ok);
    push(sec, json_pack("{s:[]}", "TemplateToken"), &ok);
    push(sec, json_pack("{s:[]}", "BearerJWT"), &ok);
    if (oidc)
        push(sec, json_pack("{s:[s]}", "OpenIdConnect", rt->scope), &ok);
    if (cfg->auth == AUTH_NONE)
        push(sec, json_object(), &ok); /* MODELWRAP_AUTH=none: credentials are optional */
    if (!ok) {
        json_decref(sec);
        return NULL;
    }
    return sec;
}

/* "GET" etc. for one method bit, as an OpenAPI operation key. */
static const char *method_key(unsigned bit)
{
    switch (bit) {
    case HTTP_GET:
        return "get";
    case HTTP_POST:
        return "post";
    case HTTP_PUT:
        return "put";
    case HTTP_DELETE:
        return "delete";
    case HTTP_PATCH:
        return "patch";
    case HTTP_OPTIONS:
        return "options";
    default:
        return NULL; /* HEAD comes with GET; OTHER is not a method */
    }
}

static json_t *path_params(const struct route *rt, enum route_kind k, const struct model_docs *md)
{
    json_t *params = json_array();
    const char *p = rt->pattern;
    bool ok = true;

    while ((p = strchr(p, '{')) != NULL) {
        const char *close = strchr(p, '}');
        if (close == NULL)
            break;
        char name[64];
        size_t n = (size_t)(close - p - 1);
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, p + 1, n);
        name[n] = '\0';
        json_t *schema = json_pack("{s:s}", "type", "string");
        if (k == RK_DOCS) {
            json_t *files = json_array();
            for (size_t i = 0; api_docs_file_name(i) != NULL; i++)
                push(files, json_string(api_docs_file_name(i)), &ok);
            put(schema, "enum", files, &ok);
        } else if ((k == RK_MODEL || k == RK_PREDICT) && json_array_size(md->model_names) > 0)
            put(schema, "enum", json_incref(md->model_names), &ok);
        push(params,
             json_pack("{s:s, s:s, s:b, s:o}", "name", name, "in", "path", "required", 1, "schema",
                       schema),
             &ok);
        p = close + 1;
    }
    for (size_t i = 0; i < 3; i++) {
        static const char *const hdrs[] = {"RequestIdParam", "TraceParent", "TraceState"};
        push(params, ref("parameters", hdrs[i]), &ok);
    }
    if (k == RK_V2_INFER)
        push(params,
             json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:i}}", "name",
                       "Inference-Header-Content-Length", "in", "header", "description",
                       "With a binary body: the length of its JSON header in bytes.", "required", 0,
                       "schema", "type", "integer", "minimum", 0),
             &ok);
    if (!ok) {
        json_decref(params);
        return NULL;
    }
    return params;
}

static json_t *operation(const struct config *cfg, const struct route *rt, const char *op_id,
                         const struct model_docs *md, bool oidc)
{
    enum route_kind k = route_kind(rt);
    json_t *op = json_object(), *responses = json_object();
    char desc[256];
    bool ok = true;

    put(op, "operationId", json_string(op_id), &ok);
    put(op, "summary", json_string(route_summary(rt, k)), &ok);
    put(op, "tags", json_pack("[s]", route_tag(rt, k)), &ok);
    /* The template routes announced as deprecated (Deprecation header) are so in the document. */
    if (cfg->legacy_deprecation != NULL && rt->name != NULL && strncmp(rt->name, "template_", 9) == 0)
        put(op, "deprecated", json_true(), &ok);
    if (rt->scope != NULL)
        snprintf(desc, sizeof(desc),
                 "Needs the `%s` scope (an API key header, or a bearer JWT with that scope).",
                 rt->scope);
    else
        snprintf(desc, sizeof(desc), "Public: no credentials needed.");
    put(op, "description", json_string(desc), &ok);
    if (rt->scope != NULL)
        put(op, "x-required-scope", json_string(rt->scope), &ok);
    put(op, "parameters", path_params(rt, k, md), &ok);
    success_and_body(k, rt, md, op, responses, &ok);
    error_statuses(k, rt, responses, &ok);
    put(op, "responses", responses, &ok);
    put(op, "security", security_for(cfg, rt, oidc), &ok);
    if (!ok) {
        json_decref(op);
        return NULL;
    }
    return op;
}

/* ---- the document ---------------------------------------------------------------------------- */

static json_t *build_models(const struct config *cfg, const struct registry *reg, json_t *schemas,
                            struct model_docs *md)
{
    json_t *records = json_array(), *preds = json_array();
    bool ok = true;

    md->examples = json_object();
    md->model_names = json_array();
    for (size_t i = 0; i < registry_count(reg) && ok; i++) {
        const struct model *m = registry_model_at(reg, i);
        char rn[160], pn[160];
        json_t *example = NULL;
        push(md->model_names, json_string(model_get_name(m)), &ok);
        if (!model_schemas(schemas, m,
                           model_get_max_records(m) ? model_get_max_records(m) : cfg->max_records,
                           rn, pn, sizeof(rn), &example)) {
            ok = false;
            break;
        }
        if (example == NULL)
            continue; /* not record-shaped: only the Open Inference Protocol takes it */
        push(records, ref("schemas", rn), &ok);
        push(preds, ref("schemas", pn), &ok);
        put(md->examples, model_get_name(m),
            json_pack("{s:s, s:O}", "summary", model_get_name(m), "value", example), &ok);
        if (m == registry_default(reg)) {
            md->default_records = ref("schemas", rn);
            md->default_predictions = ref("schemas", pn);
            md->default_example = json_incref(example);
            if (model_answers_json(m)) {
                char an[160];
                schema_name(an, sizeof(an), "Prediction_", model_get_name(m));
                md->default_answer = ref("schemas", an);
            }
        }
        json_decref(example);
    }
    if (ok && json_array_size(records) == 1) {
        md->records_ref = json_incref(json_array_get(records, 0));
        md->predictions_ref = json_incref(json_array_get(preds, 0));
    } else if (ok && json_array_size(records) > 1) {
        md->records_ref = json_pack("{s:O}", "anyOf", records);
        md->predictions_ref = json_pack("{s:O}", "anyOf", preds);
    }
    json_decref(records);
    json_decref(preds);
    return ok ? md->examples : NULL;
}

static void model_docs_fini(struct model_docs *md)
{
    json_decref(md->records_ref);
    json_decref(md->predictions_ref);
    json_decref(md->examples);
    json_decref(md->default_records);
    json_decref(md->default_predictions);
    json_decref(md->default_example);
    json_decref(md->default_answer);
    json_decref(md->model_names);
}

static json_t *build_info(const struct config *cfg, const struct registry *reg, bool v2)
{
    struct buf d;
    json_t *info;

    buf_init(&d, 16384);
    buf_appendf(&d,
                "modelwrap serves machine-learning models over HTTP: the native API under "
                "`/api/v1` (records in, predictions out), the Python template's routes%s.\n\n"
                "**Models**:",
                v2 ? " and the Open Inference Protocol (KServe V2 REST) under `/v2`" : "");
    for (size_t i = 0; i < registry_count(reg); i++) {
        const struct model *m = registry_model_at(reg, i);
        buf_appendf(&d, "%s `%s` version %s%s", i ? "," : "", model_get_name(m),
                    model_get_version(m) ? model_get_version(m) : "?",
                    m == registry_default(reg) ? " (default)" : "");
    }
    buf_appendf(&d,
                ".\n\n**Service levels** (`GET /api/v1/sla` has the details): availability "
                "target %s%% per month, 99th percentile of predictions within %u ms, support "
                "hours %s; throughput %s per consumer (burst %u; 429 with Retry-After above); "
                "request bodies up to %zu bytes (413 above), at most %u records per request; a "
                "model call that takes longer than %u ms answers 504.",
                cfg->sla_availability ? cfg->sla_availability : "?", cfg->sla_response_time_ms,
                cfg->sla_support_hours ? cfg->sla_support_hours : "not published",
                cfg->rate_limit ? cfg->rate_limit : "unlimited", cfg->rate_burst,
                cfg->max_body_bytes, cfg->max_records, cfg->model_timeout_ms);
    if (cfg->sla_outages != NULL)
        buf_appendf(&d, " Scheduled outages (503): %s.", cfg->sla_outages);
    buf_appendf(&d,
                "\n\n**Errors** are JSON `{\"error\", \"code\", \"request_id\"}`. Send "
                "`X-Request-Id` to correlate, and W3C `traceparent`/`tracestate` to join a "
                "trace: valid ones are echoed and logged.\n\n**Authentication**: %s",
                cfg->auth == AUTH_NONE
                    ? "disabled on this server (MODELWRAP_AUTH=none)."
                    : "an API key in `X-API-Key` (or the template's `token` header), or "
                      "`Authorization: Bearer <JWT>`; each route names the scope it needs.");
    info = json_pack("{s:s, s:s, s:s}", "title", "modelwrap", "version", MW_VERSION, "description",
                     d.ptr != NULL ? d.ptr : "");
    buf_fini(&d);
    if (info != NULL && (cfg->sla_contact_name || cfg->sla_contact_email || cfg->sla_contact_url)) {
        /* The SLA's point of contact (MODELWRAP_SLA_CONTACT_*). */
        json_t *contact = json_object();
        bool ok = contact != NULL;
        if (cfg->sla_contact_name)
            put(contact, "name", json_string(cfg->sla_contact_name), &ok);
        if (cfg->sla_contact_email)
            put(contact, "email", json_string(cfg->sla_contact_email), &ok);
        if (cfg->sla_contact_url)
            put(contact, "url", json_string(cfg->sla_contact_url), &ok);
        put(info, "contact", contact, &ok);
        if (!ok) {
            json_decref(info);
            return NULL;
        }
    }
    return info;
}

static json_t *security_schemes(const struct config *cfg, bool *oidc)
{
    bool ok = true;
    json_t *s = json_pack(
        "{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}", "ApiKeyHeader",
        "type", "apiKey", "in", "header", "name", "X-API-Key", "description",
        "An API key (`modelwrap keys`): identifies the consumer for usage tracking and limits.",
        "TemplateToken", "type", "apiKey", "in", "header", "name", "token", "description",
        "The same API key in the Python template's `token` header.", "BearerJWT", "type", "http",
        "scheme", "bearer", "bearerFormat", "JWT", "description",
        "An OAuth 2.0 access token (JWT) from the configured issuer, valid 24 h at most; its "
        "scopes must include the route's.");

    *oidc = false;
    if (s != NULL && cfg->jwt_issuer != NULL && cfg->jwt_issuer[0] != '\0') {
        /* OpenID Connect Discovery 1.0: the issuer + /.well-known/openid-configuration. */
        char url[4200];
        size_t n = strlen(cfg->jwt_issuer);
        while (n > 0 && cfg->jwt_issuer[n - 1] == '/')
            n--;
        snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration", (int)n,
                 cfg->jwt_issuer);
        put(s, "OpenIdConnect",
            json_pack("{s:s, s:s, s:s}", "type", "openIdConnect", "openIdConnectUrl", url,
                      "description",
                      "The issuer's discovery document (MODELWRAP_JWT_ISSUER): tokens from it "
                      "are accepted as bearer JWTs."),
            &ok);
        *oidc = ok;
    }
    if (s == NULL || !ok) {
        json_decref(s);
        return NULL;
    }
    return s;
}

/* See api.h. Thread: any; reads its arguments only. */
json_t *api_openapi_build(const struct config *cfg, const struct registry *reg,
                          const struct route *routes, size_t n_routes)
{
    struct model_docs md = {0};
    json_t *doc = NULL, *paths = json_object(), *schemas = fixed_schemas(), *ids = json_object();
    bool ok = paths != NULL && schemas != NULL && ids != NULL, oidc = false, v2 = false;
    json_t *schemes = security_schemes(cfg, &oidc);

    if (build_models(cfg, reg, schemas, &md) == NULL)
        ok = false;
    for (size_t i = 0; ok && i < n_routes; i++) {
        const struct route *rt = &routes[i];
        json_t *item = json_object_get(paths, rt->pattern);

        if (starts_with(rt->pattern, "/v2"))
            v2 = true;
        unsigned n_methods = 0;

        if (item == NULL) {
            item = json_object();
            put(paths, rt->pattern, item, &ok);
            if (!ok)
                break;
        }
        for (unsigned bit = 1; bit <= HTTP_OTHER; bit <<= 1)
            if ((rt->methods & bit) && method_key(bit) != NULL)
                n_methods++;
        for (unsigned bit = 1; ok && bit <= HTTP_OTHER; bit <<= 1) {
            const char *key = method_key(bit);
            char id[160];
            if (!(rt->methods & bit) || key == NULL || json_object_get(item, key) != NULL)
                continue;
            /* operationIds are unique: aliases of one name get _2, _3... */
            const char *base = rt->name != NULL ? rt->name : "op";
            if (n_methods > 1)
                snprintf(id, sizeof(id), "%s_%s", base, key);
            else
                snprintf(id, sizeof(id), "%s", base);
            json_int_t seen = json_integer_value(json_object_get(ids, id));
            put(ids, id, json_integer(seen + 1), &ok);
            if (seen > 0) {
                size_t len = strlen(id);
                snprintf(id + len, sizeof(id) - len, "_%" JSON_INTEGER_FORMAT, seen + 1);
            }
            put(item, key, operation(cfg, rt, id, &md, oidc), &ok);
        }
    }
    if (ok) {
        json_t *comps = json_pack(
            "{s:O, s:o, s:O, s:{s:{s:s, s:{s:s}}}, s:{s:{s:s, s:s, s:s, s:b, s:{s:s, s:i}}, "
            "s:{s:s, s:s, s:s, s:b, s:{s:s, s:s}}, s:{s:s, s:s, s:s, s:b, s:{s:s, s:i}}}}",
            "schemas", schemas, "responses", error_responses(), "securitySchemes", schemes,
            "headers", "RequestId", "description", "The request's id (sent or generated).",
            "schema", "type", "string", "parameters", "RequestIdParam", "name", "X-Request-Id",
            "in", "header", "description",
            "Your id for this request (1-128 visible ASCII characters); generated when absent.",
            "required", 0, "schema", "type", "string", "maxLength", HTTP_REQUEST_ID_MAX,
            "TraceParent", "name", "traceparent", "in", "header", "description",
            "W3C Trace Context traceparent (version 00); echoed and logged when valid.", "required",
            0, "schema", "type", "string", "pattern", "^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            "TraceState", "name", "tracestate", "in", "header", "description",
            "W3C Trace Context tracestate (with a valid traceparent); echoed and logged.",
            "required", 0, "schema", "type", "string", "maxLength", API_TRACESTATE_MAX);
        doc = json_pack("{s:s, s:o, s:[{s:s, s:s}], s:[{s:s}, {s:s}, {s:s}, {s:s}], s:O, s:o}",
                        "openapi", "3.1.0", "info", build_info(cfg, reg, v2), "servers", "url", "/",
                        "description", "This server", "tags", "name", "Native API (v1)", "name",
                        "Open Inference Protocol (v2)", "name", "Template compatibility", "name",
                        "Service", "paths", paths, "components", comps);
    }
    json_decref(paths);
    json_decref(schemas);
    json_decref(schemes);
    json_decref(ids);
    model_docs_fini(&md);
    return doc;
}

/* What the document says about the models: every served model (name, version and the object's
 * address, so that a reload of the same version with another signature counts as a change) and
 * the default model. Malloc'ed text; NULL when out of memory. */
static char *models_key(const struct registry *reg)
{
    struct buf k;
    char *out;

    buf_init(&k, 1u << 20);
    buf_appendf(&k, "default=%s;",
                registry_default(reg) != NULL ? model_get_name(registry_default(reg)) : "");
    for (size_t i = 0; i < registry_count(reg); i++) {
        const struct model *m = registry_model_at(reg, i);
        buf_appendf(&k, "%s/%s@%p;", model_get_name(m),
                    model_get_version(m) ? model_get_version(m) : "", (const void *)m);
    }
    out = k.ptr != NULL ? strdup(k.ptr) : NULL;
    buf_fini(&k);
    return out;
}

/* See api.h. Rebuilds a->openapi when reg's models differ from those it describes. Main thread at
 * start-up, or an I/O thread with a->openapi_lock held. 0, or MWE_NOMEM (the old document stays).
 */
int api_openapi_update(struct api *a, const struct registry *reg)
{
    char *key = models_key(reg);
    json_t *doc;
    char *text;
    int rc = 0;

    if (key == NULL)
        return MWE_NOMEM;
    if (a->openapi != NULL && a->openapi_key != NULL && strcmp(key, a->openapi_key) == 0)
        goto out;
    doc = api_openapi_build(a->cfg, reg, a->app.routes, a->app.n_routes);
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        rc = MWE_NOMEM;
        goto out;
    }
    free(a->openapi);
    free(a->openapi_key);
    a->openapi = text;
    a->openapi_len = strlen(text);
    a->openapi_key = key;
    key = NULL;
out:
    free(key);
    return rc;
}

/* GET /openapi.json: the document of the models this request sees (built at start-up, rebuilt
 * once after a reload changed them). I/O thread; takes openapi_lock. */
int api_h_openapi(void *ctx, struct request *r)
{
    struct api *a = ctx;
    int rc;

    if (!a->obs_ready) {
        http_set_error(r, MWE_NOT_READY, "The OpenAPI document is not available.");
        return HTTP_DONE;
    }
    pthread_mutex_lock(&a->openapi_lock);
    rc = api_openapi_update(a, api_registry(a, r));
    buf_reset(&r->resp);
    if (rc == 0 || a->openapi != NULL)
        rc = buf_append(&r->resp, a->openapi, a->openapi_len);
    pthread_mutex_unlock(&a->openapi_lock);
    if (rc != 0) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    http_set_json(r, 200);
    return HTTP_DONE;
}
