/*
 * libmicrohttpd glue: starts the daemons (one per thread with SO_REUSEPORT, or one daemon with an
 * internal thread pool), turns MHD's three-or-more access-handler calls into one struct request
 * that goes through the read and route phases, collects the body under the size limit, hands it
 * to the application, and queues the response on a later call so keep-alive works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"

#define MAX_DAEMONS 256
/* A body we will not use (an error is already decided) is read and dropped up to this many bytes,
 * then answered: clients that send the whole body before reading (most libraries) would otherwise
 * see a reset instead of the error. Beyond it the connection is answered and closed. */
#define DISCARD_MAX (8u << 20)

struct http_server {
    const struct config *cfg;
    const struct http_app *app;
    size_t n_daemons;
    struct MHD_Daemon *daemons[MAX_DAEMONS];
    uint16_t port;
    atomic_long inflight;
    char id_prefix[17];
    atomic_ullong id_counter;
};

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
    unsigned long long n = atomic_fetch_add_explicit(&s->id_counter, 1, memory_order_relaxed);
    snprintf(out, HTTP_REQUEST_ID_MAX + 1, "%s%016llx", s->id_prefix, n);
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

/* Strict Content-Length: digits only. Returns false when absent; *bad when malformed. */
static bool content_length(struct MHD_Connection *conn, uint64_t *out, bool *bad)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
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

static void request_free(struct request *r)
{
    buf_fini(&r->body);
    buf_fini(&r->resp);
    arena_fini(&r->arena);
    free(r);
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
    r->bytes_out = len;
    MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->responded = true;
}

/* The read and route phases: everything that needs only the headers. */
static void begin_request(struct http_server *s, struct request *r, struct MHD_Connection *conn,
                          const char *url, const char *method)
{
    const struct config *cfg = s->cfg;
    const char *rid;
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
    client_addr_text(conn, r->client_addr, sizeof(r->client_addr));

    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, "X-Request-Id", 12, &rid,
                                      &rid_len) == MHD_YES) {
        if (request_id_valid(rid, rid_len)) {
            memcpy(r->id, rid, rid_len);
            r->id[rid_len] = '\0';
        } else {
            request_id_generate(s, r->id);
            http_set_error(r, MWE_INVALID_REQUEST_ID, NULL);
            return;
        }
    } else {
        request_id_generate(s, r->id);
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
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_server *s = cls;
    struct request *r = *con_cls;

    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        arena_init(&r->arena, 0);
        buf_init(&r->body, s->cfg->max_body_bytes);
        buf_init(&r->resp, SIZE_MAX / 2);
        r->conn = conn;
        r->server = s;
        r->t_start_ns = time_mono_ns();
        *con_cls = r;
        atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);
        begin_request(s, r, conn, url, method);
        /* Answering on this first call makes MHD close the connection without reading the body:
         * do it only when the client waits for "100 Continue" (it then sends no body) or declared
         * a body too large to drop; other errors are answered after the body. */
        if (r->err && (r->declared_len > DISCARD_MAX ||
                       http_header_get(r, "Expect").len > 0))
            queue_response(s, r);
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->responded)
            return MHD_YES;
        r->bytes_in += n;
        if (r->err) {
            /* An error is already decided: drop the body, up to a bound. */
            if (r->bytes_in > DISCARD_MAX)
                queue_response(s, r);
            return MHD_YES;
        }
        int rc = buf_append(&r->body, upload_data, n);
        if (rc != 0) {
            char msg[128];
            snprintf(msg, sizeof(msg), "The request body exceeds the message size limit of %zu bytes.",
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
    int st = atomic_load_explicit(&r->async_state, memory_order_acquire);
    if (st == ASYNC_WAITING)
        return MHD_YES;
    if (st == ASYNC_READY) {
        s->app->finish(s->app->ctx, r);
        queue_response(s, r);
        return MHD_YES;
    }
    if (!r->err && s->app->handle(s->app->ctx, r) == HTTP_ASYNC)
        return MHD_YES;
    queue_response(s, r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct request *r = *con_cls;

    if (!r)
        return;
    *con_cls = NULL;
    s->app->complete(s->app->ctx, r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->responded);
    request_free(r);
    atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_release);
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                              va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
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
    return mw_fail(e, MWE_CONFIG, "MODELWRAP_HOST: '%s' is not an IPv4 or IPv6 address",
                   cfg->host);
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
    size_t mem_limit = cfg->max_header_bytes * 2 + 32 * 1024;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, &ss},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)conn_limit, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->max_connections_per_ip, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)mem_limit, NULL},
        {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, pool ? 0 : 1, NULL},
        {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)pool, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, on_access, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        mw_fail(e, MWE_IO, "cannot listen on %s port %u: %s", cfg->host, (unsigned)port,
                errno ? strerror(errno) : "libmicrohttpd refused the options");
    return d;
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

    if (cfg->io_model == IO_POOL) {
        s->daemons[0] = start_daemon(s, cfg->port, threads, cfg->max_connections, e);
        if (!s->daemons[0])
            goto out_fail;
        s->n_daemons = 1;
    } else {
        /* One daemon per thread on the same port (SO_REUSEPORT): the kernel spreads connections
         * evenly, which one shared listening socket does not. */
        unsigned per = cfg->max_connections / threads;
        uint16_t port = cfg->port;
        for (unsigned i = 0; i < threads; i++) {
            s->daemons[i] = start_daemon(s, port, 0, per ? per : 1, e);
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
    free(s);
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
