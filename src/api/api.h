/*
 * api: the application on top of the transport. The route table (native v1 API, the template's
 * aliases), the request pipeline (the phase tables of api.c: admission, authentication, limits
 * before the body; decode, infer, encode in the handlers; the log phases for every request), the
 * adapters between HTTP and the phases (struct api_req in the transport's slot) and the handlers.
 */
#ifndef MW_API_H
#define MW_API_H

#include "auth/auth.h"
#include "config/config.h"
#include "http/http.h"
#include "codec/codec.h"
#include "model/model.h"

/* What the api keeps per request, in the transport's opaque slot (http_app.slot_size bytes,
 * zeroed at the request's start, freed with it). Owned by the request's I/O thread, and by the
 * model's worker while a call runs (async_state). Read with api_req(r). */
struct api_req {
    struct principal principal; /* identity (authenticate phase; the mTLS one from the start) */
    bool principal_seen;        /* the transport's client certificate was looked at */
    struct model_call *call;    /* the request's model call (released by the log phase) */
    const void *v2;             /* a V2 inference's decoded request (in the arena), else NULL */
    /* the log phase's model: arena copies of the answering model's name and version */
    const char *model_name;
    const char *model_version;
    /* the application's reference to the registry snapshot this request uses (taken by the first
     * handler that needs it, released by the log phase) */
    void *registry;
    bool limit_slot; /* holds a global concurrency slot (given back by the log phase) */
    /* W3C Trace Context of the request (trace.c): the headers as received when valid, NULL when
     * absent or invalid (then not propagated: none is invented). Arena strings. */
    const char *traceparent;
    const char *tracestate;
    bool trace_read; /* the headers were looked at (api_trace_read is idempotent) */
};

/* The api's state of r (never NULL for a request of an api application). */
static inline struct api_req *api_req(const struct request *r)
{
    return r->slot;
}

#define API_CONN_EVENT_SLOTS 16
#define API_CONN_EVENT_INTERVAL_NS (1000ull * 1000000ull)

struct api {
    const struct config *cfg;
    struct registry *reg;
    struct http_app app;
    /* ---- model repository reload ----
     * `registry` is the current snapshot: request handlers take it with api_registry(a, r) (one
     * reference per request, released at completion); other threads with api_registry_acquire.
     * `reg` above is only for start-up code on the main thread (it follows reloads but holds no
     * reference of its own: never read it from a request). */
    struct registry_current registry;
    /* ---- authentication ---- */
    struct auth *auth; /* set by the caller after api_init (borrowed); NULL: scoped routes 500 */
    /* ---- limits ---- */
    struct limiter *limiter; /* rate and concurrency limits; NULL until api_limits_init */
    struct api_sla *sla;     /* the parsed SLA (outage windows, support hours); idem */
    /* ---- audit ---- */
    struct audit *audit; /* the audit trail (borrowed; set by the caller after api_init) */
    /* ---- metrics, OpenAPI ---- */
    struct metrics *metrics;    /* per-thread counters; NULL until api_obs_init */
    struct http_server *server; /* the main listener (in-flight gauge); set by main, may be NULL */
    char *openapi;              /* the OpenAPI document as JSON text, built at start-up */
    size_t openapi_len;
    char *openapi_key;          /* the models it describes; rebuilt when a reload changes them */
    pthread_mutex_t openapi_lock; /* guards the three above after start-up */
    bool obs_ready;             /* api_obs_init ran (the lock exists) */
    struct api_docs *docs;      /* the /docs files, read at start-up; NULL: not installed */
    /* ---- version lifecycle, SBOM ---- */
    struct api_lifecycle *lifecycle; /* Deprecation/Sunset of the template routes; NULL: off */
    struct api_sbom *sbom;           /* the cached inventory of GET /api/v1/sbom; NULL: none */
    /* ---- connections the transport refused (http_app.conn_event) ----
     * Per reason: occurrences not yet reported in a security event, and when the last event was
     * written (at most one per reason and API_CONN_EVENT_INTERVAL_NS). */
    struct {
        atomic_ullong pending;
        atomic_ullong last_ns;
    } conn_events[API_CONN_EVENT_SLOTS];
};

/* Prepares the application for cfg and reg (both borrowed, must outlive the api). */
void api_init(struct api *a, const struct config *cfg, struct registry *reg);
/* The model layer's worker event hook (model_set_event_hook) writing audit security events;
 * ctx is the struct audit. */
void api_model_event(void *ctx, const char *model, const char *version, int instance,
                     const char *what, int sig);

/* Appends the JSON text of j to b (compact). 0 or MWE_NOMEM / MWE_BODY_TOO_LARGE. */
int api_json_dump(struct buf *b, const json_t *j);
/* Sets a 200 JSON response holding j (consumed: decref'd). */
void api_reply_json(struct request *r, int status, json_t *j);

/* Handlers (handlers_v1.c), used by the route table in api.c. */
int api_h_root(void *ctx, struct request *r);
int api_h_health(void *ctx, struct request *r);
int api_h_health_live(void *ctx, struct request *r);
int api_h_health_ready(void *ctx, struct request *r);
int api_h_template_health(void *ctx, struct request *r);
int api_h_template_version(void *ctx, struct request *r);
int api_h_models(void *ctx, struct request *r);
int api_h_model(void *ctx, struct request *r);
int api_h_predict(void *ctx, struct request *r);

/* Completes an asynchronous predict on an I/O thread (called through http_app.finish). */
void api_predict_finish(struct api *a, struct request *r);

/* ---- model repository, Open Inference Protocol ---- */

/* api_init takes over the caller's reference to reg (the first snapshot); api_fini releases the
 * current one. Main thread, after the servers stopped. */
void api_fini(struct api *a);
/* The snapshot request r uses: the current one, retained on first use and released by the log
 * phase (api_registry_put), so a request sees one snapshot from start to end. I/O thread. */
struct registry *api_registry(struct api *a, struct request *r);
void api_registry_put(struct api *a, struct request *r);
/* A new reference to the current snapshot, without a lock (release with registry_release). Any
 * thread. */
struct registry *api_registry_acquire(struct api *a);
/* Runs registry_reload(current, op, name) and publishes the result: new requests see it at once,
 * requests in flight finish on the snapshot they started with, and models nobody uses any more
 * are freed by the pool's reaper. Serialised with other reloads; runs the loads on the calling
 * thread (SIGHUP: main; the repository API: the I/O thread of the admin request). Returns 0
 * (e->code may still report a model a RESCAN refused: see registry_reload) or the error with
 * nothing changed. */
int api_reload(struct api *a, int op, const char *name, size_t len, struct mw_error *e);

/* Readiness: true when every model of r's registry snapshot is ready and the audit trail takes
 * traffic (audit_ready); else false with *why, a static sentence for the probe's "reason". I/O
 * thread. */
bool api_ready(struct api *a, struct request *r, const char **why);
/* Whether rt is a liveness or readiness probe: such requests skip the audit trail's fail-closed
 * admission and never wait for room in its queue, so probes answer while the trail is stuck. */
bool api_route_is_probe(const struct route *rt);
/* Whether r's body arrives with a Content-Encoding other than identity, which no route decodes:
 * then the 415 is set on r and true returned (a gzip body must not be parsed as plain JSON).
 * I/O thread. */
bool api_refuse_content_encoding(struct request *r);
/* Runs the model call c (already api_req(r)->call) inline, returning HTTP_DONE with c->status set, or
 * queues it on the model's workers with the connection suspended, returning HTTP_ASYNC (the
 * answer is then built by http_app.finish -> api_predict_finish). I/O thread. */
int api_call_dispatch(struct request *r, struct model_call *c);
/* The error response for a call that did not succeed (c->status != 0); invalid_input is the
 * error a model's MW_ERR_INVALID_INPUT becomes (v1: MWE_INVALID_INPUT, V2: MWE_BAD_REQUEST). */
void api_reply_call_error(struct request *r, const struct model_call *c, int invalid_input);
/* Copies a model's name and version into r (request arena) for the log phase. */
void api_set_model(struct request *r, const struct model *m);

/* Open Inference Protocol handlers (v2.c, v2_repository.c). */
int api_h_v2_server(void *ctx, struct request *r);
int api_h_v2_live(void *ctx, struct request *r);
int api_h_v2_ready(void *ctx, struct request *r);
int api_h_v2_model(void *ctx, struct request *r);
int api_h_v2_model_ready(void *ctx, struct request *r);
int api_h_v2_infer(void *ctx, struct request *r);
int api_h_v2_repo_index(void *ctx, struct request *r);
int api_h_v2_repo_load(void *ctx, struct request *r);
int api_h_v2_repo_unload(void *ctx, struct request *r);
/* Builds a V2 inference's response once its call completed (api_predict_finish's V2 half). */
void api_v2_finish(struct api *a, struct request *r);

/* ---- transport security: JSON limits ---- */

/* Checks a JSON request body against MODELWRAP_MAX_JSON_DEPTH and MODELWRAP_MAX_JSON_ELEMENTS
 * BEFORE it is parsed (jansson has no depth or size option): one bounded pass over the n bytes at
 * p (no NUL needed, never reads past n, no allocation). Elements are values: numbers, strings,
 * literals, arrays and objects (an object member counts once, for its value). Call it right
 * before json_loadb. 0, or MWE_INVALID_JSON (400) with e saying which limit was passed; bodies
 * that are not JSON at all pass and are left to the parser. Any thread. */
int mw_json_limits_check(const char *p, size_t n, const struct config *cfg, struct mw_error *e);

/* ---- SLA, limits ---- */

/* Validates the SLA settings (outage windows, support hours, availability, contact) and builds
 * the limiter (rate limit, Redis, concurrency) into a. Logs the limits in force. Main thread, after
 * api_init. 0, or MWE_CONFIG / MWE_NOMEM with e naming the setting. */
int api_limits_init(struct api *a, struct mw_error *e);
/* Frees what api_limits_init built; after the HTTP servers stopped. Safe when never built. */
void api_limits_fini(struct api *a);
/* The same validation for check-config, without keeping anything. 0 or MWE_CONFIG with e. */
int api_sla_check(const struct config *cfg, struct mw_error *e);
/* ---- authentication (authn.c) ---- */
/* The principal of r's verified client certificate, if any, into api_req(r)->principal (once;
 * header credentials may replace it later). Every request, refused ones too, so the audit record
 * names the certificate. I/O thread. */
void api_transport_principal(struct api *a, struct request *r);
/* The authenticate and authorize phases (HTTP adapter of auth_decide): routes whose scope is NULL
 * pass untouched. Fills api_req(r)->principal, or answers 401 with WWW-Authenticate (missing or
 * invalid credentials), 400 (credentials in the query string), 403 insufficient_scope, 429 with
 * Retry-After (address blocked), 500 when a->auth is NULL or the route names an unknown scope;
 * r->outcome gets the reason code and the operational log the precise reason (never the key or
 * token). 0 or the MWE_* error already set on r. I/O thread, before the body is read. */
int api_authenticate(struct api *a, struct request *r);

/* Pipeline phases (the tables in api.c): outage windows and the concurrency limit before
 * authentication (sla.c), the per-consumer rate limit after it (ratelimit.c), and the release of
 * the concurrency slot in the log phase (sla.c). Each phase returns 0 to continue or an MWE_*
 * error with r's response and r->outcome set. I/O thread. */
int api_sla_admit(struct api *a, struct request *r);
int api_limit_check(struct api *a, struct request *r);
void api_limit_release(struct api *a, struct request *r);
/* The SLA document that GET /api/v1/sla serves, as of now_s (Unix seconds). New reference; NULL
 * when out of memory or before api_limits_init. Any thread. */
json_t *api_sla_document(const struct api *a, int64_t now_s);
/* The point of contact as an OpenAPI Contact object {name, email, url} (members that are set
 * only), from the same settings as the SLA document. New reference; NULL when out of memory. */
json_t *api_sla_contact(const struct config *cfg);
int api_h_sla(void *ctx, struct request *r);

/* ---- metrics, OpenAPI, docs, tracing ---- */

/* Builds what observability needs once the models are loaded: the metrics (every loaded model
 * registered, so its series show zeros before the first call), the OpenAPI document and the /docs
 * files (MODELWRAP_DOCS_DIR; missing files are a warning and /docs answers 503). Logs the
 * effective configuration. Main thread, after api_init. 0 or MWE_NOMEM / MWE_CONFIG with e. */
int api_obs_init(struct api *a, struct mw_error *e);
/* Frees what api_obs_init built; after the servers stopped. Safe on a zeroed part. */
void api_obs_fini(struct api *a);
/* The log phase's metrics for r (route, method, status, duration, reason code, model call). Called
 * by on_complete before api_req(r)->call is released. I/O thread. */
void api_obs_record(struct api *a, struct request *r);
/* The application of the separate metrics listener (MODELWRAP_METRICS_PORT): GET /metrics only,
 * no authentication. app is filled; a must outlive the listener. */
void api_metrics_app(struct api *a, struct http_app *app);

/* The OpenAPI 3.1 document of this server: paths from the route table (v1, template aliases, v2
 * and the rest), each model's records and prediction schemas from its signature, the error
 * schema, every status each route can answer, the security schemes (API key headers, bearer JWT,
 * OpenID Connect discovery when MODELWRAP_JWT_ISSUER is set) and info (version, contact, SLA).
 * New reference; NULL when out of memory. Any thread; reads cfg, reg and routes only. */
json_t *api_openapi_build(const struct config *cfg, const struct registry *reg,
                          const struct route *routes, size_t n_routes);
/* Makes a->openapi (and a->openapi_key) describe reg's models, rebuilding only when they changed
 * (a reload). Main thread at start-up, or with a->openapi_lock held. 0 or MWE_NOMEM (the previous
 * document stays). */
int api_openapi_update(struct api *a, const struct registry *reg);

/* The /docs page and its renderer's files (swagger-ui-dist), read into memory. */
struct api_docs;
/* Reads dir/index.html, dir/docs-init.js and the renderer's files from
 * dir/node_modules/swagger-ui-dist. NULL with e (MWE_CONFIG naming the missing file) when one is
 * missing or larger than 16 MiB. Main thread. */
struct api_docs *api_docs_load(const char *dir, struct mw_error *e);
void api_docs_free(struct api_docs *d);
/* Name i of the files served under /docs/ ("docs-init.js", ...); NULL past the last. */
const char *api_docs_file_name(size_t i);

/* W3C Trace Context. */
#define API_TRACEPARENT_LEN 55
#define API_TRACESTATE_MAX 512
#define API_TRACESTATE_MAX_MEMBERS 32
/* True for a version-00 traceparent (see trace.c); len bytes at s, no NUL needed. */
bool api_traceparent_valid(const char *s, size_t len);
/* True for a well-formed, bounded tracestate (see trace.c). */
bool api_tracestate_valid(const char *s, size_t len);
/* Reads r's traceparent/tracestate once into api_req(r) (valid ones only)
 * and, when echo, adds them to the response headers. I/O thread. */
void api_trace_read(struct request *r, bool echo);

/* Handlers (obs.c, openapi.c, docs.c). */
int api_h_metrics(void *ctx, struct request *r);
int api_h_openapi(void *ctx, struct request *r);
int api_h_docs(void *ctx, struct request *r);
int api_h_docs_asset(void *ctx, struct request *r);

/* ---- version lifecycle (lifecycle.c) ---- */
/* Validates MODELWRAP_LEGACY_DEPRECATION / _SUNSET (dates, order). 0 or MWE_CONFIG with e. */
int api_lifecycle_check(const struct config *cfg, struct mw_error *e);
/* Builds the headers of the deprecated template routes (nothing when not configured). Main
 * thread, before the server starts; api_lifecycle_fini frees after it stopped. */
int api_lifecycle_init(struct api *a, struct mw_error *e);
void api_lifecycle_fini(struct api *a);
/* Adds Deprecation, Sunset and Link to r when its route is a deprecated template route. I/O
 * thread; every answer of the route, refusals included. */
void api_lifecycle_headers(const struct api *a, struct request *r);

/* ---- compliance self-check (compliance.c) ---- */
/* Evaluates cfg and the models of reg (borrowed; NULL: none) against the Standards on APIs
 * checklist: {"checklist","result","summary":{met,not_met,not_applicable},"items":[{"id",
 * "title","status":"met"|"not_met"|"not_applicable","settings":[...],"detail"}]}. A new
 * reference, NULL when out of memory; *n_unmet (may be NULL) gets the items not met. Any
 * thread. */
json_t *api_compliance_report(const struct config *cfg, const struct registry *reg,
                              size_t *n_unmet);
/* Logs one warning per item not met (start-up). */
void api_compliance_log(const struct config *cfg, const struct registry *reg);
int api_h_compliance(void *ctx, struct request *r);

/* ---- dependency inventory (sbom.c) ---- */
/* The CycloneDX 1.5 document of this process: loaded libraries (Debian packages), the docs
 * page's npm packages, the models of reg (borrowed; NULL: none). Spawns dpkg-query and each Python
 * model's interpreter (bounded, timed out). A new reference, or NULL with e. Any thread but an
 * I/O thread of a busy server (it blocks for the subprocesses). */
json_t *api_sbom_build(const struct config *cfg, const struct registry *reg, struct mw_error *e);
int api_h_sbom(void *ctx, struct request *r);
/* The cache of GET /api/v1/sbom: main thread, before the server starts / after it stopped. */
int api_sbom_init(struct api *a, struct mw_error *e);
void api_sbom_fini(struct api *a);

#endif /* MW_API_H */
