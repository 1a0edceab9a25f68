/*
 * libmicrohttpd glue: starts the daemons (one per thread with SO_REUSEPORT, or one daemon with an
 * internal thread pool; HTTPS when configured), turns MHD's three-or-more access-handler calls
 * into one struct request that goes through the read and route phases (client address behind
 * trusted proxies, CORS preflight, the verified client certificate), collects the body under the
 * size limit and the receive deadline, hands it to the application, and queues the response with
 * the security headers on a later call so keep-alive works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "http/http_int.h"

#define MAX_DAEMONS 256
/* A body we will not use (an error is already decided) is read and dropped up to this many bytes,
 * then answered: clients that send the whole body before reading (most libraries) would otherwise
 * see a reset instead of the error. Beyond it the connection is answered and closed. */
#define DISCARD_MAX (8u << 20)
/* libmicrohttpd's own connection limit per daemon, above ours: connections over our limit must
 * still be accepted (and answered 503) instead of waiting in the kernel's backlog, and idle ones
 * closed to make room take a moment to go. */
#define MHD_LIMIT_SLACK(max) ((max) / 4u + 64u)

struct http_server {
    const struct config *cfg;
    const struct http_app *app;
    size_t n_daemons;
    struct MHD_Daemon *daemons[MAX_DAEMONS];
    uint16_t port;
    atomic_long inflight;
    char id_prefix[17];
    atomic_ullong id_counter;
    /* transport security */
    struct conn_guard *guard;         /* per-address limit, receive deadlines */
    struct tls_ctx *tls;         /* NULL: plain HTTP */
    struct proxy_list proxies;   /* MODELWRAP_TRUSTED_PROXIES */
    struct cors cors;            /* MODELWRAP_CORS_ORIGINS */
    char hsts[48];               /* Strict-Transport-Security value; "" for none */
    atomic_ullong log_window_ns; /* rate limit of libmicrohttpd's messages */
    atomic_uint log_lines;
    atomic_uint log_dropped;
};

/* Our per-connection state (MHD's socket context), or NULL. */
static struct http_conn *conn_state(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* libmicrohttpd keeps its connection as the GnuTLS session's user pointer; its socket context is
 * our state. For the TLS callbacks (an I/O thread, during a handshake). NULL when unknown. */
struct http_conn *http_conn_of_session(gnutls_session_t session)
{
    struct MHD_Connection *conn = gnutls_session_get_ptr(session);
    return conn ? conn_state(conn) : NULL;
}

static unsigned method_parse(const char *m)
{
    switch (m[0]) {
    case 'G':
        return strcmp(m, "GET") == 0 ? HTTP_GET : HTTP_OTHER;
    case 'H':
        return strcmp(m, "HEAD") == 0 ? HTTP_HEAD : HTTP_OTHER;
    case 'P':
        if (strcmp(m, "POST") == 0)
            return HTTP_POST;
        if (strcmp(m, "PUT") == 0)
            return HTTP_PUT;
        return strcmp(m, "PATCH") == 0 ? HTTP_PATCH : HTTP_OTHER;
    case 'D':
        return strcmp(m, "DELETE") == 0 ? HTTP_DELETE : HTTP_OTHER;
    case 'O':
        return strcmp(m, "OPTIONS") == 0 ? HTTP_OPTIONS : HTTP_OTHER;
    default:
        return HTTP_OTHER;
    }
}

/* A request id is 1..128 visible ASCII characters (no spaces or controls: it goes into logs). */
static bool request_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > HTTP_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

static void request_id_generate(struct http_server *s, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned long long n = atomic_fetch_add_explicit(&s->id_counter, 1, memory_order_relaxed);
    size_t p = strlen(s->id_prefix);

    /* "%s%016llx" without printf: one per request */
    if (p > HTTP_REQUEST_ID_MAX - 16)
        p = HTTP_REQUEST_ID_MAX - 16;
    memcpy(out, s->id_prefix, p);
    for (int i = 15; i >= 0; i--, n >>= 4)
        out[p + (size_t)i] = hex[n & 15];
    out[p + 16] = '\0';
}

static void client_addr_text(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

struct header_sum {
    size_t total;
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_len, const char *value, size_t value_len)
{
    struct header_sum *hs = cls;
    hs->total += key_len + value_len + 4; /* ": " and CRLF, as on the wire */
    return MHD_YES;
}

/* See http_int.h. */
bool http_parse_content_length(const char *v, uint64_t *out, bool *bad)
{
    *bad = false;
    if (!v)
        return false;
    uint64_t n = 0;
    if (!*v) {
        *bad = true;
        return false;
    }
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10) {
            *bad = true;
            return false;
        }
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *out = n;
    return true;
}

/* Strict Content-Length: digits only. Returns false when absent; *bad when malformed. */
static bool content_length(struct MHD_Connection *conn, uint64_t *out, bool *bad)
{
    return http_parse_content_length(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH), out,
        bad);
}

/* ---- refusals libmicrohttpd makes by itself ---------------------------------------------------
 * libmicrohttpd 0.9.75 answers some requests itself (HTML bodies; docs/security.md lists them)
 * and reports each through its logger as "Error processing request (HTTP response code is N
 * ('<body>'))", on the I/O thread of the connection, before the answer is sent. The thread keeps
 * these in `pending`; the request's completion (when its request line was parsed) or the
 * connection's close (when it was not) takes the entry of its status, so each refusal is counted
 * once with the address it came from. An entry nobody takes within PENDING_TTL_NS is reported
 * without an address. */

#define PENDING_MAX 16
#define PENDING_TTL_NS (5ull * 1000000000ull)

struct pending_refusal {
    unsigned status;
    const char *reason;
    uint64_t t_ns;
};

static _Thread_local struct {
    struct pending_refusal v[PENDING_MAX];
    unsigned n;
} pending;

static void conn_event(struct http_server *s, const char *reason, const char *peer, int status)
{
    struct http_conn_event ev = {reason, peer ? peer : "", status};
    if (s->app->conn_event)
        s->app->conn_event(s->app->ctx, &ev);
}

static void pending_drop(unsigned i)
{
    memmove(&pending.v[i], &pending.v[i + 1], (pending.n - i - 1) * sizeof(pending.v[0]));
    pending.n--;
}

/* Reports (without an address) the entries nobody took in time. */
static void pending_expire(struct http_server *s, uint64_t now)
{
    while (pending.n > 0 && now - pending.v[0].t_ns > PENDING_TTL_NS) {
        conn_event(s, pending.v[0].reason, "", (int)pending.v[0].status);
        pending_drop(0);
    }
}

static void pending_push(struct http_server *s, unsigned status, const char *reason)
{
    uint64_t now = time_mono_ns();
    pending_expire(s, now);
    if (pending.n == PENDING_MAX) {
        conn_event(s, pending.v[0].reason, "", (int)pending.v[0].status);
        pending_drop(0);
    }
    pending.v[pending.n++] = (struct pending_refusal){status, reason, now};
}

/* The reason of the oldest pending refusal with this status (any status when 0), removed; NULL
 * when there is none. */
static const char *pending_take(struct http_server *s, unsigned status, unsigned *status_out)
{
    pending_expire(s, time_mono_ns());
    for (unsigned i = 0; i < pending.n; i++) {
        if (status == 0 || pending.v[i].status == status) {
            const char *reason = pending.v[i].reason;
            if (status_out)
                *status_out = pending.v[i].status;
            pending_drop(i);
            return reason;
        }
    }
    return NULL;
}

/* The reason code of one of libmicrohttpd's own error answers, from its status and body. */
static const char *mhd_refusal_reason(unsigned status, const char *line)
{
    if (strstr(line, "chunked encoding"))
        return "http.chunked_malformed";
    if (strstr(line, "chunk size"))
        return "http.chunk_too_large";
    if (strstr(line, "too large value for"))
        return "http.content_length_too_large";
    if (strstr(line, "wrong value for"))
        return "http.content_length_malformed";
    if (strstr(line, "Host:"))
        return "http.host_missing";
    if (strstr(line, "too big"))
        return status == 414 ? "http.uri_too_long" : "http.headers_too_large";
    if (status == 505)
        return "http.version_unsupported";
    return "http.malformed";
}

/* The error the table has for one of libmicrohttpd's statuses (for the audit record's code). */
static int mhd_status_error(unsigned status)
{
    switch (status) {
    case 413:
        return MWE_BODY_TOO_LARGE;
    case 414:
        return MWE_URI_TOO_LONG;
    case 431:
        return MWE_HEADERS_TOO_LARGE;
    default:
        return MWE_BAD_REQUEST;
    }
}

/* ---- framing ----------------------------------------------------------------------------------
 */

static enum MHD_Result framing_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_len, const char *value, size_t value_len)
{
    (void)kind;
    framing_header(cls, key, key_len, value ? value : "", value ? value_len : 0);
    return MHD_YES;
}

/* The framing rules (framing.c) on this request's header block as libmicrohttpd parsed it.
 * FRAMING_OK or the reason to refuse it. */
static int framing_verdict(struct MHD_Connection *conn, struct http_conn *c, const char *url,
                           const char *method, const char *version)
{
    const union MHD_ConnectionInfo *hi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    struct framing f;
    size_t vlen = version ? strlen(version) : 0;

    /* The URI decoded to a NUL (%00), or holds a raw one: the length libmicrohttpd's URI log saw
     * before decoding ends at the first NUL, the request line's URI field ends at the space
     * before the version. */
    if (c && c->uri_nul)
        return FRAMING_URI_NUL;
    if (c && c->uri_bad)
        return FRAMING_URI_BYTES;
    if (c && version && version > url && c->uri_len != (size_t)(version - 1 - url))
        return FRAMING_URI_NUL;
    framing_init(&f, hi ? method : NULL, hi ? hi->header_size : 0, version ? version + vlen : NULL,
                 version && strcmp(version, MHD_HTTP_VERSION_1_0) == 0 ? 0 : 1);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, framing_each, &f);
    if (c) {
        if (hi)
            c->rx_accounted += hi->header_size;
        /* a chunked body's framing bytes are not counted; after a last request the client may
         * have pipelined more that is never read */
        if (!hi || f.n_te > 0 || f.conn_close || f.http_minor == 0)
            c->rx_unknown = true;
    }
    return framing_finish(&f);
}

/* libmicrohttpd's URI decoding, refusing a NUL: "%00" would cut the path (and a query
 * argument) short without a trace. */
static size_t unescape_uri(void *cls, struct MHD_Connection *conn, char *uri)
{
    size_t n = MHD_http_unescape(uri);
    (void)cls;
    if (memchr(uri, '\0', n)) {
        struct http_conn *c = conn_state(conn);
        if (c)
            c->uri_nul = true;
    }
    return n;
}

static void request_free(struct request *r)
{
    const struct http_app *app = r->server->app;
    if (r->slot != NULL && app->slot_free != NULL)
        app->slot_free(app->ctx, r->slot);
    buf_fini(&r->body);
    buf_fini(&r->resp);
    arena_fini(&r->arena);
    free(r);
}

static bool has_resp_header(const struct request *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return true;
    return false;
}

/* The headers every response carries (item 5 of the transport issue), and CORS's. */
static void security_headers(struct http_server *s, struct request *r, struct MHD_Response *resp)
{
    static const char csp[] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                              "form-action 'none'";

    if (!has_resp_header(r, "X-Content-Type-Options"))
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (!has_resp_header(r, "Cache-Control"))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->https && s->hsts[0])
        MHD_add_response_header(resp, "Strict-Transport-Security", s->hsts);
    if (r->content_type && strncasecmp(r->content_type, "text/html", 9) == 0 &&
        !has_resp_header(r, "Content-Security-Policy"))
        MHD_add_response_header(resp, "Content-Security-Policy", csp);
    if (!s->cors.enabled)
        return;
    if (!s->cors.any)
        MHD_add_response_header(resp, "Vary", "Origin");
    if (r->origin.ptr) {
        /* r->origin is MHD's NUL-terminated header value, an exact configured match. */
        MHD_add_response_header(resp, "Access-Control-Allow-Origin",
                                s->cors.any ? "*" : r->origin.ptr);
        if (s->cors.credentials)
            MHD_add_response_header(resp, "Access-Control-Allow-Credentials", "true");
        MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    }
}

static void queue_response(struct http_server *s, struct request *r)
{
    struct MHD_Connection *conn = r->conn;
    struct MHD_Response *resp;
    size_t len = r->resp.len;

    if (r->status == 0)
        http_set_error(r, MWE_INTERNAL, NULL);
    len = r->resp.len;
    if (len > 0) {
        resp = MHD_create_response_from_buffer_with_free_callback(len, r->resp.ptr, free);
        if (resp) {
            r->resp.ptr = NULL; /* the response owns it now */
            buf_fini(&r->resp);
        }
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) {
        r->responded = true;
        return; /* MHD closes the connection when the final call queues nothing */
    }
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    for (size_t i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    security_headers(s, r, resp);
    r->bytes_out = len;
    MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->responded = true;
}

static enum MHD_Result collect_forwarding(void *cls, enum MHD_ValueKind kind, const char *key,
                                          size_t key_len, const char *value, size_t value_len)
{
    proxy_headers_add(cls, key, key_len, value, value_len);
    return MHD_YES;
}

/* The client address and scheme behind a trusted peer (Forwarded / X-Forwarded-*). */
static void resolve_client(struct http_server *s, struct request *r, struct http_conn *c)
{
    struct proxy_headers h;
    struct ipaddr client;
    int proto = PROXY_PROTO_UNKNOWN;

    h.n_forwarded = h.n_xff = h.n_xfp = 0;
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, collect_forwarding, &h);
    if (h.n_forwarded == 0 && h.n_xff == 0 && h.n_xfp == 0)
        return;
    proxy_resolve(&s->proxies, &c->peer, &h, (int)s->cfg->proxy_header, &client, &proto);
    ipaddr_format(&client, r->client_addr, sizeof(r->client_addr));
    if (proto == PROXY_PROTO_HTTPS)
        r->https = true;
    else if (proto == PROXY_PROTO_HTTP)
        r->https = false;
}

/* CORS preflight (OPTIONS with Origin and Access-Control-Request-Method), answered before
 * routing since routes do not list OPTIONS. True when the request was answered here. */
static bool cors_preflight_begin(struct http_server *s, struct request *r)
{
    const struct route *rt = NULL;
    struct slice params[HTTP_MAX_PARAMS];
    size_t n_params = 0;
    unsigned allowed = 0;
    int rc;

    if (r->method != HTTP_OPTIONS || !http_header_get(r, "Origin").ptr ||
        !http_header_get(r, "Access-Control-Request-Method").ptr)
        return false;
    r->preflight = true;
    if (!r->origin.ptr) {
        http_set_error(r, MWE_ORIGIN_NOT_ALLOWED, NULL);
        return true;
    }
    rc = router_match(s->app->routes, s->app->n_routes, 0, r->path, r->path_len, &rt, params,
                      &n_params, &allowed);
    if (rc != MWE_METHOD_NOT_ALLOWED) {
        http_set_error(r, MWE_NOT_FOUND, NULL);
        return true;
    }
    if (cors_preflight(&s->cors, r, allowed) != 0)
        http_set_error(r, MWE_INTERNAL, NULL);
    return true;
}

/* The peer's address (and the client's, until the forwarding headers are read) and the scheme. */
static void request_addresses(struct http_server *s, struct request *r, struct MHD_Connection *conn)
{
    struct http_conn *c = r->hconn;
    r->tls = s->tls != NULL;
    r->https = r->tls;
    if (c && c->peer_text[0])
        memcpy(r->peer_addr, c->peer_text, sizeof(c->peer_text));
    else
        client_addr_text(conn, r->peer_addr, sizeof(r->peer_addr));
    memcpy(r->client_addr, r->peer_addr, sizeof(r->client_addr));
}

/* A new request on conn (its request line just arrived). NULL when out of memory. */
static struct request *request_new(struct http_server *s, struct MHD_Connection *conn,
                                   struct http_conn *c)
{
    /* The application's slot follows the request in the same allocation, max-aligned. */
    size_t head =
        (sizeof(struct request) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
    size_t slot = s->app->slot_size;
    struct request *r = calloc(1, head + slot);
    if (!r)
        return NULL;
    if (slot > 0)
        r->slot = (char *)r + head;
    arena_init(&r->arena, 0);
    buf_init(&r->body, s->cfg->max_body_bytes);
    buf_init(&r->resp, SIZE_MAX / 2);
    r->conn = conn;
    r->server = s;
    r->hconn = c;
    r->t_start_ns = time_mono_ns();
    return r;
}

/* The read and route phases: everything that needs only the headers. */
static void begin_request(struct http_server *s, struct request *r, struct MHD_Connection *conn,
                          const char *url, const char *method, const char *version)
{
    struct http_conn *c = r->hconn;
    const struct config *cfg = s->cfg;
    const char *rid = NULL;
    size_t rid_len = 0;
    struct header_sum hs = {0};
    uint64_t clen = 0;
    bool clen_bad = false;
    unsigned allowed = 0;
    int rc;

    r->method = method_parse(method);
    r->method_str = method;
    r->path = url;
    r->path_len = strlen(url);
    request_addresses(s, r, conn);
    if (c && c->trusted_peer)
        resolve_client(s, r, c);
    if (s->cors.enabled) { /* early, so that a browser can read every answer, errors too */
        struct slice origin = http_header_get(r, "Origin");
        if (origin.ptr && cors_allows(&s->cors, origin))
            r->origin = origin;
    }

    bool rid_ok = true;
    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "X-Request-Id", 12, &rid, &rid_len) ==
            MHD_YES &&
        request_id_valid(rid, rid_len)) {
        memcpy(r->id, rid, rid_len);
        r->id[rid_len] = '\0';
    } else {
        rid_ok = rid == NULL;
        request_id_generate(s, r->id);
    }
    /* Ambiguous framing first: the answer closes the connection, so that no byte of this
     * request can be read as the start of another one. */
    int fv = framing_verdict(conn, c, url, method, version);
    if (fv != FRAMING_OK) {
        http_set_error(r, MWE_BAD_REQUEST, framing_reason_msg(fv));
        r->outcome = framing_reason_code(fv);
        r->close = true;
        return;
    }
    if (!rid_ok) {
        http_set_error(r, MWE_INVALID_REQUEST_ID, NULL);
        return;
    }

    if (c && c->uri_len > cfg->max_uri_bytes) {
        char msg[128];
        snprintf(msg, sizeof(msg), "The request URI (%zu bytes) exceeds the limit of %zu bytes.",
                 c->uri_len, cfg->max_uri_bytes);
        http_set_error(r, MWE_URI_TOO_LONG, msg);
        return;
    }
    if (c && c->client_verified) { /* mutual TLS: what the application authenticates */
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (ci && ci->tls_session)
            tls_conn_client_cert(s->tls, c, ci->tls_session, &r->client_cert);
    }

    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, sum_header, &hs);
    if (hs.total > cfg->max_header_bytes) {
        http_set_error(r, MWE_HEADERS_TOO_LARGE, NULL);
        return;
    }
    if (content_length(conn, &clen, &clen_bad))
        r->declared_len = clen;
    if (clen > cfg->max_body_bytes) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "The request body (%llu bytes) exceeds the message size limit of %zu bytes.",
                 (unsigned long long)clen, cfg->max_body_bytes);
        http_set_error(r, MWE_BODY_TOO_LARGE, msg);
        return;
    }
    if (clen_bad) {
        http_set_error(r, MWE_BAD_REQUEST, "Content-Length is malformed.");
        return;
    }
    if (s->cors.enabled && cors_preflight_begin(s, r))
        return;

    rc = router_match(s->app->routes, s->app->n_routes, r->method, r->path, r->path_len, &r->route,
                      r->params, &r->n_params, &allowed);
    if (rc == MWE_METHOD_NOT_ALLOWED) {
        char allow[96];
        http_methods_str(allowed, allow, sizeof(allow));
        http_set_error(r, rc, NULL);
        http_header_add(r, "Allow", allow);
        return;
    }
    if (rc != 0) {
        http_set_error(r, rc, NULL);
        return;
    }
    rc = s->app->begin(s->app->ctx, r);
    if (rc != 0 && r->err == 0)
        http_set_error(r, rc, NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct request *r = *con_cls;

    if (!r || !r->started) {
        struct http_conn *c = conn_state(conn);
        if (!c || c->refused)
            return MHD_NO; /* over a connection limit (already shut down), or out of memory */
        guard_conn_phase(c, CONN_BODY);
        if (!r) { /* the URI log callback was out of memory */
            r = request_new(s, conn, c);
            if (!r)
                return MHD_NO;
            *con_cls = r;
        }
        /* in flight from its headers on (a client stalled inside its headers does not hold up
         * the drain) */
        r->started = true;
        atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
        c->requests++;
        begin_request(s, r, conn, url, method, version);
        /* Answering on this first call makes MHD close the connection without reading the body:
         * do it only when the client waits for "100 Continue" (it then sends no body), declared
         * a body too large to drop, or framed the request ambiguously; other errors are answered
         * after the body. */
        if (r->err &&
            (r->close || r->declared_len > DISCARD_MAX || http_header_get(r, "Expect").len > 0))
            queue_response(s, r);
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES;
        r->bytes_in += n;
        if (guard_now_ns() > guard_deadline_ns(s->guard, r->hconn)) {
            /* A body that trickles in (slowloris). libmicrohttpd 0.9.75 sends a queued response
             * only once the whole body is in, so the connection is closed instead; the log phase
             * records the 408. */
            char msg[128];
            snprintf(msg, sizeof(msg), "The request body was not received within %u seconds.",
                     s->cfg->receive_timeout_s);
            http_set_error(r, MWE_REQUEST_TIMEOUT, msg);
            return MHD_NO;
        }
        if (r->err) {
            /* An error is already decided: drop the body, up to a bound. */
            if (r->bytes_in > DISCARD_MAX)
                queue_response(s, r);
            return MHD_YES;
        }
        int rc = buf_append(&r->body, upload_data, n);
        if (rc != 0) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "The request body exceeds the message size limit of %zu bytes.",
                     s->cfg->max_body_bytes);
            http_set_error(r, rc == MWE_BODY_TOO_LARGE ? MWE_BODY_TOO_LARGE : MWE_NOMEM,
                           rc == MWE_BODY_TOO_LARGE ? msg : NULL);
            buf_fini(&r->body); /* what was read so far is not needed any more */
        }
        return MHD_YES;
    }

    /* The final call, or the call after a resume. */
    if (r->responded)
        return MHD_YES;
    guard_conn_phase(r->hconn, CONN_HANDLING);
    int st = atomic_load_explicit(&r->async_state, memory_order_acquire);
    if (st == ASYNC_WAITING)
        return MHD_YES;
    if (st == ASYNC_READY) {
        s->app->finish(s->app->ctx, r);
        queue_response(s, r);
        return MHD_YES;
    }
    if (!r->err && !r->preflight && s->app->handle(s->app->ctx, r) == HTTP_ASYNC)
        return MHD_YES;
    queue_response(s, r);
    return MHD_YES;
}

/* A request libmicrohttpd refused by itself, with the status it answered: made into a request
 * the log phase records like any other (its method is not known; its path is the start of the
 * URI as received). */
static void mhd_refused_request(struct http_server *s, struct request *r,
                                struct MHD_Connection *conn, unsigned status)
{
    const char *reason = pending_take(s, status, NULL);
    request_id_generate(s, r->id);
    r->path = r->uri_head;
    r->path_len = strlen(r->uri_head);
    request_addresses(s, r, conn);
    r->status = (int)status;
    r->err = mhd_status_error(status);
    r->outcome = reason ? reason : mhd_refusal_reason(status, "");
    r->responded = true;
    if (r->hconn)
        r->hconn->requests++;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct request *r = *con_cls;
    struct http_conn *c = conn_state(conn);
    bool mhd_answered = false;
    bool ok;

    if (c) /* the next request's deadline starts with its request line */
        guard_conn_idle(c);
    if (!r)
        return;
    *con_cls = NULL;
    if (!r->responded && toe == MHD_REQUEST_TERMINATED_WITH_ERROR) {
        /* libmicrohttpd answered by itself (a malformed header block or chunk), or nothing was
         * answered (the connection failed). */
        const union MHD_ConnectionInfo *si =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
        unsigned status = si ? si->http_status : 0;
        if (!r->started && (!c || !c->refused) && status >= 400) {
            mhd_refused_request(s, r, conn, status);
            mhd_answered = true;
        } else if (r->started && status >= 400) {
            const char *reason = pending_take(s, status, NULL);
            r->status = (int)status;
            r->err = mhd_status_error(status);
            r->outcome = reason ? reason : mhd_refusal_reason(status, "");
            r->responded = true;
            mhd_answered = true;
        }
    }
    if (!r->started && (!r->responded || (c && c->refused))) {
        /* Never seen by the handler and nothing to record: over a connection limit (reported
         * when it was refused), or the connection ended inside the header block. */
        request_free(r);
        return;
    }
    if (c) {
        c->rx_accounted += r->bytes_in;
        if (!r->started || r->close || r->bytes_in != r->declared_len)
            c->rx_unknown = true;
    }
    ok = r->responded && (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || mhd_answered);
    bool started = r->started;
    s->app->complete(s->app->ctx, r, ok);
    request_free(r);
    if (started)
        atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_release);
}

/* A request line arrived (before its headers): the receive deadline starts, and the request
 * begins here so that one libmicrohttpd refuses before our handler runs is still recorded. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    struct http_conn *c = conn_state(conn);
    struct request *r;
    size_t len = uri ? strlen(uri) : 0;

    if (c) {
        guard_conn_request(c, len);
        c->uri_nul = false;
        c->uri_bad = false;
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)uri[i];
            if (b <= 0x20 || b == 0x7f) {
                c->uri_bad = true;
                break;
            }
        }
    }
    r = request_new(s, conn, c);
    if (r && uri) {
        size_t n = len < sizeof(r->uri_head) - 1 ? len : sizeof(r->uri_head) - 1;
        memcpy(r->uri_head, uri, n);
        r->uri_head[n] = '\0';
    }
    return r; /* NULL: on_access creates it */
}

/* The bytes a plain-HTTP connection received that no request accounts for, when it closes between
 * requests: a request line libmicrohttpd dropped without an answer (no method, no space), or one
 * the client never finished. A stray empty line before a request line (RFC 9112 2.2 tolerates
 * one) is not counted. TLS connections are not checked (the record layer adds bytes), nor ones
 * whose count became inexact. */
static bool unaccounted_bytes(const struct http_conn *c)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (c->tls || c->rx_unknown)
        return false;
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(ti.tcpi_bytes_received))
        return false;
    return ti.tcpi_bytes_received > c->rx_accounted + 2 * (c->requests + 1);
}

/* A connection closes with no request in progress: was a request line refused on it? */
static void closed_between_requests(struct http_server *s, struct http_conn *c)
{
    unsigned status = 0;
    const char *reason;

    if (atomic_load(&c->state) != CONN_IDLE || guard_conn_cut(s->guard, c))
        return;
    reason = pending_take(s, 0, &status);
    if (reason)
        conn_event(s, reason, c->peer_text, (int)status);
    else if (unaccounted_bytes(c))
        conn_event(s, "conn.bad_request_line", c->peer_text, 0);
}

/* A connection over the server-wide limit when no connection is idle: a 503 with Retry-After
 * written straight to the socket (nothing was read from it; the send buffer of a new socket takes
 * it whole), then the write side shut down. TLS connections are closed without an answer. */
static void refuse_over_limit(struct http_server *s, struct http_conn *c)
{
    static const char body[] = "{\"error\":\"The server is at its connection limit; retry "
                               "later.\",\"code\":\"overloaded\",\"request_id\":\"";
    char id[HTTP_REQUEST_ID_MAX + 1];
    char msg[512];
    int n;

    conn_event(s, "conn.limit", c->peer_text, s->tls ? 0 : 503);
    if (s->tls) {
        shutdown(c->fd, SHUT_RDWR);
        return;
    }
    request_id_generate(s, id);
    n = snprintf(msg, sizeof(msg),
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                 "Retry-After: 1\r\nX-Request-Id: %s\r\nX-Content-Type-Options: nosniff\r\n"
                 "Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n"
                 "%s%s\"}",
                 id, sizeof(body) - 1 + strlen(id) + 2, body, id);
    if (n > 0 && (size_t)n < sizeof(msg))
        (void)!send(c->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(c->fd, SHUT_WR);
}

/* A connection was accepted (before any byte is read; for TLS before the handshake) or is about
 * to be closed. Our per-connection state is MHD's socket context. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *s = cls;
    struct http_conn *c;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        c = *socket_context;
        *socket_context = NULL;
        if (!c)
            return;
        closed_between_requests(s, c);
        if (s->tls)
            tls_conn_end(s->tls, c);
        guard_conn_close(s->guard, c);
        return;
    }
    const union MHD_ConnectionInfo *fdi =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!fdi)
        return;
    c = guard_conn_open(s->guard, fdi->connect_fd, ai ? ai->client_addr : NULL);
    *socket_context = c;
    if (!c) {
        shutdown(fdi->connect_fd, SHUT_RDWR);
        return;
    }
    if (c->over_limit) {
        refuse_over_limit(s, c);
        return;
    }
    if (c->refused) {
        conn_event(s, "conn.per_ip_limit", c->peer_text, 0);
        return;
    }
    if (s->tls) {
        const union MHD_ConnectionInfo *ti =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ti || !ti->tls_session || tls_conn_start(s->tls, c, ti->tls_session) != 0) {
            c->refused = true;
            shutdown(fdi->connect_fd, SHUT_RDWR);
        }
    }
}

/* libmicrohttpd's messages are mostly about clients (bad TLS handshakes, scanners): at most
 * MHD_LOG_BURST lines per MHD_LOG_WINDOW_NS, then a count of what was dropped. */
#define MHD_LOG_BURST 20u
#define MHD_LOG_WINDOW_NS (10ull * 1000000000ull)

#define MHD_ERROR_PREFIX "Error processing request (HTTP response code is "

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *s = cls;
    char line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    if (s && strncmp(line, MHD_ERROR_PREFIX, sizeof(MHD_ERROR_PREFIX) - 1) == 0) {
        /* one of libmicrohttpd's own error answers: accounted for whether or not it is logged */
        unsigned status = 0;
        for (const char *p = line + sizeof(MHD_ERROR_PREFIX) - 1; *p >= '0' && *p <= '9'; p++)
            status = status * 10 + (unsigned)(*p - '0');
        if (status >= 400 && status <= 599)
            pending_push(s, status, mhd_refusal_reason(status, line));
    }
    if (s) {
        unsigned long long now = time_mono_ns();
        unsigned long long start = atomic_load(&s->log_window_ns);
        if (now - start > MHD_LOG_WINDOW_NS &&
            atomic_compare_exchange_strong(&s->log_window_ns, &start, now)) {
            unsigned dropped = atomic_exchange(&s->log_dropped, 0);
            atomic_store(&s->log_lines, 0);
            if (dropped)
                log_kv(LOG_WARN, "libmicrohttpd messages suppressed", "#count", (long long)dropped,
                       NULL);
        }
        if (atomic_fetch_add(&s->log_lines, 1) >= MHD_LOG_BURST) {
            atomic_fetch_add(&s->log_dropped, 1);
            return;
        }
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_msg(LOG_WARN, "libmicrohttpd", "detail", line, NULL);
}

static int listen_addr(const struct config *cfg, uint16_t port, struct sockaddr_storage *ss,
                       bool *v6, struct mw_error *e)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, cfg->host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *v6 = true;
        return 0;
    }
    return mw_fail(e, MWE_CONFIG, "MODELWRAP_HOST: '%s' is not an IPv4 or IPv6 address", cfg->host);
}

static struct MHD_Daemon *start_daemon(struct http_server *s, uint16_t port, unsigned pool,
                                       unsigned conn_limit, struct mw_error *e)
{
    const struct config *cfg = s->cfg;
    struct sockaddr_storage ss;
    bool v6 = false;
    if (listen_addr(cfg, port, &ss, &v6, e) != 0)
        return NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    /* A connection's libmicrohttpd pool holds the request line and headers, the read buffer of the
     * body and the response headers; libmicrohttpd zeroes all of it before every request on a
     * keep-alive connection. Headers up to the limit plus 16 KiB: half the memset of the earlier
     * 2 x limit + 32 KiB (8 % -> 4 % of the CPU in docs/BENCHMARKS.md's profile). */
    size_t mem_limit = cfg->max_header_bytes + 16 * 1024;
    /* The per-address connection limit is the guard's (one count across every daemon, trusted
     * proxies exempt), not MHD's per-daemon MHD_OPTION_PER_IP_CONNECTION_LIMIT. */
    struct MHD_OptionItem opts[16] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)conn_limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem_limit, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, pool ? 0 : 1, NULL},
        /* Not libmicrohttpd's strict mode: in 0.9.75 it answers a request without Host with its
         * status line and headers twice, and closes on a space in the URI without an answer;
         * framing.c applies both rules with a JSON 400 instead. */
        {MHD_OPTION_STRICT_FOR_CLIENT, 0, NULL},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape_uri, NULL},
        {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)pool, NULL},
    };
    size_t n = 9;
    if (s->tls) {
        flags |= MHD_USE_TLS;
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    /* libmicrohttpd 0.9.75 ignores the TLS pointer options inside MHD_OPTION_ARRAY: they are
     * varargs here (each list ends early with MHD_OPTION_END when it does not apply). */
    const char *ca = s->tls ? tls_client_ca_pem(s->tls) : NULL;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_ARRAY, opts,
        s->tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, tls_cert_callback(),
        MHD_OPTION_HTTPS_PRIORITIES, s->tls ? tls_priorities(s->tls) : NULL,
        ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ca, MHD_OPTION_END);
    if (!d)
        mw_fail(e, MWE_IO, "cannot listen on %s port %u: %s", cfg->host, (unsigned)port,
                errno ? strerror(errno) : "libmicrohttpd refused the options");
    return d;
}

/* The transport-security parts of the server: trusted proxies, CORS, TLS (or the plaintext
 * policy), HSTS and the connection guard. 0 or MWE_* with e. */
static int security_init(struct http_server *s, struct mw_error *e)
{
    const struct config *cfg = s->cfg;
    struct ipaddr host;
    int rc;

    rc = proxy_list_parse(cfg->trusted_proxies, &s->proxies, e);
    if (rc == 0)
        rc = cors_init(&s->cors, cfg->cors_origins, cfg->cors_credentials, e);
    if (rc == 0)
        rc = tls_new(cfg, &s->tls, e);
    if (rc != 0)
        return rc;
    if (!s->tls && ipaddr_parse(cfg->host, strlen(cfg->host), &host) &&
        !ipaddr_is_loopback(&host)) {
        if (!cfg->allow_plaintext)
            return mw_fail(e, MWE_CONFIG,
                           "refusing to serve plain HTTP on %s: set MODELWRAP_TLS_CERT and "
                           "MODELWRAP_TLS_KEY, or MODELWRAP_ALLOW_PLAINTEXT=true when a "
                           "TLS-terminating gateway is in front",
                           cfg->host);
        log_msg(LOG_WARN,
                "serving plain HTTP on a non-loopback address (MODELWRAP_ALLOW_PLAINTEXT): only "
                "safe behind a TLS-terminating gateway",
                "host", cfg->host, NULL);
    }
    if (cfg->hsts_max_age > 0)
        snprintf(s->hsts, sizeof(s->hsts), "max-age=%u", cfg->hsts_max_age);
    s->guard = guard_new(cfg, &s->proxies, e);
    return s->guard ? 0 : (e ? e->code : MWE_IO);
}

/* Frees what security_init built; after every daemon stopped. */
static void security_fini(struct http_server *s)
{
    guard_free(s->guard);
    s->guard = NULL;
    tls_free(s->tls);
    s->tls = NULL;
    cors_fini(&s->cors);
    proxy_list_fini(&s->proxies);
}

struct http_server *http_server_new(const struct config *cfg, const struct http_app *app,
                                    struct mw_error *e)
{
    struct http_server *s = calloc(1, sizeof(*s));
    unsigned char rnd[8];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = cfg->threads ? cfg->threads : (unsigned)(cores > 0 ? cores : 1);

    if (!s) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        return NULL;
    }
    if (threads > MAX_DAEMONS)
        threads = MAX_DAEMONS;
    s->cfg = cfg;
    s->app = app;
    if (mw_random(rnd, sizeof(rnd)) != 0)
        memset(rnd, 0, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(s->id_prefix + 2 * i, 3, "%02x", rnd[i]);
    if (security_init(s, e) != 0)
        goto out_fail;

    /* The server-wide limit is the guard's (one exact count over every daemon and thread, idle
     * connections closed first); each daemon's own limit sits above it, so that libmicrohttpd
     * keeps accepting and the guard decides. libmicrohttpd divides a pool daemon's limit between
     * its threads. */
    unsigned mhd_limit = cfg->max_connections + MHD_LIMIT_SLACK(cfg->max_connections);
    if (cfg->io_model == IO_POOL) {
        s->daemons[0] = start_daemon(s, cfg->port, threads, mhd_limit * threads, e);
        if (!s->daemons[0])
            goto out_fail;
        s->n_daemons = 1;
    } else {
        /* One daemon per thread on the same port (SO_REUSEPORT): the kernel spreads connections
         * evenly, which one shared listening socket does not. */
        uint16_t port = cfg->port;
        for (unsigned i = 0; i < threads; i++) {
            s->daemons[i] = start_daemon(s, port, 0, mhd_limit, e);
            if (!s->daemons[i])
                goto out_fail;
            s->n_daemons++;
            if (port == 0) {
                const union MHD_DaemonInfo *di =
                    MHD_get_daemon_info(s->daemons[0], MHD_DAEMON_INFO_BIND_PORT);
                port = di ? di->port : 0;
            }
        }
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemons[0], MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    return s;

out_fail:
    for (size_t i = 0; i < s->n_daemons; i++)
        MHD_stop_daemon(s->daemons[i]);
    security_fini(s);
    free(s);
    return NULL;
}

uint16_t http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_quiesce(struct http_server *s)
{
    for (size_t i = 0; i < s->n_daemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemons[i]);
        if (fd != MHD_INVALID_SOCKET)
            close(fd);
    }
}

long http_server_inflight(const struct http_server *s)
{
    return atomic_load_explicit(&((struct http_server *)s)->inflight, memory_order_acquire);
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_daemons; i++)
        MHD_stop_daemon(s->daemons[i]);
    security_fini(s);
    free(s);
}

/* See http.h. Main thread (SIGHUP). */
int http_server_reload_tls(struct http_server *s, struct mw_error *e)
{
    return s->tls ? tls_reload(s->tls, e) : 0;
}

void http_suspend(struct request *r)
{
    MHD_suspend_connection(r->conn);
}

void http_resume(struct request *r)
{
    MHD_resume_connection(r->conn);
}

struct slice http_header_get(struct request *r, const char *name)
{
    const char *v = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, name, strlen(name), &v, &len) !=
        MHD_YES)
        return (struct slice){NULL, 0};
    return (struct slice){v, len};
}

/* Query-string arguments, for the authentication phase (credentials refused there). */
struct query_iter {
    http_kv_fn fn;
    void *ctx;
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_len, const char *value, size_t value_len)
{
    struct query_iter *it = cls;
    (void)kind;
    return it->fn(it->ctx, (struct slice){key, key_len},
                  (struct slice){value ? value : "", value ? value_len : 0})
               ? MHD_YES
               : MHD_NO;
}

void http_query_each(struct request *r, http_kv_fn fn, void *ctx)
{
    struct query_iter it = {fn, ctx};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_arg, &it);
}
