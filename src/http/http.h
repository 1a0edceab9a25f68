/*
 * http: the transport. libmicrohttpd glue (daemons, limits, suspend/resume, completion), the
 * request object every phase works on, response helpers and the method+path router. It knows
 * nothing of models, auth or the api: it exposes what it verified (peer, TLS client certificate)
 * and one opaque per-request slot; the application (src/api) supplies the hooks in struct http_app.
 */
#ifndef MW_HTTP_H
#define MW_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/core.h"

enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_PUT = 1 << 3,
    HTTP_DELETE = 1 << 4,
    HTTP_OPTIONS = 1 << 5,
    HTTP_PATCH = 1 << 6,
    HTTP_OTHER = 1 << 7,
};

#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_RESP_HEADERS 16
#define HTTP_REQUEST_ID_MAX 128

/* ---- router ---------------------------------------------------------------------------------- */

/* One route: methods (HTTP_* mask; GET implies HEAD), a path pattern where a segment "{name}"
 * captures one non-empty segment, a handler and the scope it needs (used by authorization). */
struct request;
typedef int (*route_handler_fn)(void *app_ctx, struct request *r);

struct route {
    unsigned methods;
    const char *pattern;
    route_handler_fn handler;
    const char *scope; /* NULL: no principal needed (liveness/readiness) */
    const char *name;  /* stable name for logs and metrics, e.g. "v1_predict" */
    bool has_body;     /* the route reads a request body */
};

/* Finds the route for method+path. Returns 0 and sets *out and params (slices into path), or
 * MWE_NOT_FOUND, or MWE_METHOD_NOT_ALLOWED with *allowed set to the methods the path takes. */
int router_match(const struct route *routes, size_t n, unsigned method, const char *path,
                 size_t path_len, const struct route **out, struct slice *params,
                 size_t *n_params, unsigned *allowed);
/* Writes "GET, HEAD, POST" for a method mask into out (NUL-terminated, truncated to cap). */
void http_methods_str(unsigned methods, char *out, size_t cap);

/* ---- the request ----------------------------------------------------------------------------- */

/* What the transport verified about the client's TLS certificate (mutual TLS): plain text,
 * control bytes replaced by '?'. All empty when no certificate was verified. */
struct http_client_cert {
    bool verified;         /* a client certificate was presented and verified */
    char subject[128];     /* the subject DN (RFC 4514), or "sha256:<fingerprint>" when longer */
    char cn[128];          /* the subject's common name ("" when none) */
    char san[128];         /* the first DNS, URI or e-mail subject alternative name ("" when none) */
    char fingerprint[65];  /* SHA-256 of the DER certificate, lowercase hex */
};

struct http_header {
    const char *name;  /* static or arena */
    const char *value; /* arena */
};

enum async_state { ASYNC_NONE = 0, ASYNC_WAITING = 1, ASYNC_READY = 2 };

/* One HTTP request from the first header to the completion callback. Owned by http.c; the
 * application reads it and fills the response part. Valid until http_app.complete returns. */
struct request {
    struct arena arena; /* per-request memory, freed at completion */
    void *conn;         /* struct MHD_Connection *, for http.c only */
    struct http_server *server;

    /* read phase */
    char id[HTTP_REQUEST_ID_MAX + 1];
    unsigned method;        /* enum http_method */
    const char *method_str; /* as sent (owned by MHD) */
    const char *path;       /* NUL-terminated, without the query string (owned by MHD) */
    size_t path_len;
    char client_addr[64]; /* the peer's address as text */
    uint64_t t_start_ns;
    uint64_t bytes_in;  /* body bytes received */
    uint64_t bytes_out; /* body bytes queued */
    uint64_t declared_len; /* Content-Length, 0 when absent */
    struct buf body;

    /* route phase */
    const struct route *route;
    struct slice params[HTTP_MAX_PARAMS];
    size_t n_params;

    /* response */
    int status;
    int err; /* MWE_* when the response is an error; 0 otherwise */
    const char *content_type;
    struct buf resp;
    struct http_header headers[HTTP_MAX_RESP_HEADERS];
    size_t n_headers;
    bool responded; /* queued to MHD */

    /* asynchronous completion: the app sets WAITING before http_suspend and READY (release
     * store) before http_resume */
    atomic_int async_state;

    /* the application's per-request state: http_app.slot_size zeroed bytes allocated with the
     * request (NULL when slot_size is 0), opaque to the transport; http_app.slot_free (when set)
     * runs on it right before the request is freed, after `complete` */
    void *slot;

    /* for the log phase */
    const char *outcome; /* reason code of the decision, e.g. "auth.unknown_key" (static) */

    /* ---- transport facts: TLS, proxies, CORS ---- */
    char peer_addr[64];  /* the direct peer; client_addr is the first untrusted hop */
    bool tls;            /* this connection is TLS (in-process HTTPS) */
    bool https;          /* the client's scheme is https: TLS here, or a trusted proxy says so */
    struct http_client_cert client_cert; /* the verified client certificate (mutual TLS) */
    struct slice origin; /* Origin allowed by MODELWRAP_CORS_ORIGINS (else {NULL, 0}; MHD's) */
    bool preflight;      /* a CORS preflight, answered by the transport (no route, no begin) */
    struct http_conn *hconn; /* per-connection state (http.c only) */
    /* ---- HTTP framing ---- */
    bool started;   /* the access handler saw it (false: libmicrohttpd refused it by itself) */
    bool close;     /* answer, then close the connection (ambiguous framing) */
    char uri_head[256]; /* the first bytes of the URI as received, for a request libmicrohttpd
                         * refuses before our handler sees it */
};

/* Value of a request header (case-insensitive name), or {NULL, 0} when absent. */
struct slice http_header_get(struct request *r, const char *name);
/* Calls fn(ctx, name, value) for each query-string argument (unescaped, owned by MHD,
 * valid until the request ends) until fn returns false. I/O thread of the request. */
typedef bool (*http_kv_fn)(void *ctx, struct slice name, struct slice value);
void http_query_each(struct request *r, http_kv_fn fn, void *ctx);
/* Adds a response header; value copied into the arena. 0 or MWE_NOMEM / MWE_INTERNAL (full). */
int http_header_add(struct request *r, const char *name, const char *value);
/* Sets a JSON response: status and the body already appended to r->resp. */
void http_set_json(struct request *r, int status);
/* Replaces any response with the JSON error body {"error","code","request_id"} for err. msg may
 * be NULL (the table's message). */
void http_set_error(struct request *r, int err, const char *msg);
/* Suspends the connection (before handing work to another thread) / resumes it (any thread). */
void http_suspend(struct request *r);
void http_resume(struct request *r);

/* ---- the application hooks ------------------------------------------------------------------- */

enum { HTTP_DONE = 0, HTTP_ASYNC = 1 };

/* What http_app.conn_event reports. Borrowed for the call. */
struct http_conn_event {
    const char *reason; /* static reason code: "conn.limit", "conn.per_ip_limit",
                         * "conn.bad_request_line", or libmicrohttpd's "http.*" reasons */
    const char *peer;   /* the peer's address as text; "" when it could not be tied to one */
    int status;         /* the status answered; 0: closed without an answer */
};

struct http_app {
    void *ctx;
    const struct route *routes;
    size_t n_routes;
    /* Headers are in and the route matched (r->route set, r->params filled). Runs before the body
     * is read. Return 0 to continue, or an MWE_* error (r may carry a message set with
     * http_set_error): the request is then answered with it without reading the body. */
    int (*begin)(void *ctx, struct request *r);
    /* Called once the whole body is in (and on every route without a body): runs the route's
     * handler through the pipeline. Returns HTTP_DONE with the response in r, or HTTP_ASYNC after
     * http_suspend: the app later sets async_state READY and calls http_resume, and http.c then
     * calls `finish` on an I/O thread to build the response. */
    int (*handle)(void *ctx, struct request *r);
    void (*finish)(void *ctx, struct request *r);
    /* After the response was sent or the connection failed (ok false): the log phase. Never called for a request that `begin` never saw. */
    void (*complete)(void *ctx, struct request *r, bool ok);
    /* A connection-level refusal, where no request reaches `complete`: a connection over the
     * server-wide or per-address limit, or a request line libmicrohttpd refused or that the
     * client never finished. Called once per occurrence, from an I/O thread; may be NULL. */
    void (*conn_event)(void *ctx, const struct http_conn_event *ev);
    /* Bytes of the per-request slot (r->slot) and the hook that releases what the application
     * hung on it (may be NULL; runs after `complete`, and for a request `complete` never saw). */
    size_t slot_size;
    void (*slot_free)(void *ctx, void *slot);
};

/* ---- the server ------------------------------------------------------------------------------ */

struct http_server;

/* Starts listening with cfg's address, threads, io model and limits. NULL with e on failure
 * (address in use, bad address...). cfg and app must outlive the server. */
struct http_server *http_server_new(const struct config *cfg, const struct http_app *app,
                                    struct mw_error *e);
/* The bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting new connections (graceful shutdown's first step). */
void http_server_quiesce(struct http_server *s);
/* Requests begun and not yet completed. */
long http_server_inflight(const struct http_server *s);
/* Stops every daemon and frees. No connection may be suspended without a pending resume. */
void http_server_free(struct http_server *s);

/* ---- transport security ---- */

/* SIGHUP: re-reads MODELWRAP_TLS_CERT and MODELWRAP_TLS_KEY and, when they are a valid pair,
 * swaps them in atomically: new handshakes get the new certificate, open connections keep theirs.
 * Main thread. 0 (also when TLS is off), or MWE_CONFIG with e naming the problem; the server
 * then keeps the certificate it had. */
int http_server_reload_tls(struct http_server *s, struct mw_error *e);

#endif /* MW_HTTP_H */
