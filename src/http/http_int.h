/*
 * http_int.h: private to src/http (and to its unit tests and fuzzers). Client addresses and
 * trusted proxies (proxy.c), CORS (cors.c), TLS credentials and mutual TLS (tls.c), and the
 * connection guard: per-address connection limits and request receive deadlines (guard.c).
 */
#ifndef MW_HTTP_INT_H
#define MW_HTTP_INT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "http/http.h"

/* ---- addresses and trusted proxies (proxy.c) ------------------------------------------------- */

/* An IP address: family 4 (a[0..3]) or 6 (a[0..15]); 0 when none. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are always stored as IPv4. */
struct ipaddr {
    uint8_t family;
    uint8_t a[16];
};

#define IPADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Parses exactly n bytes as an IPv4 or IPv6 address (no port, no brackets, no zone). */
bool ipaddr_parse(const char *s, size_t n, struct ipaddr *out);
/* The address of an AF_INET / AF_INET6 socket address; false for other families. */
bool ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *out);
/* Writes the canonical text ("10.0.0.1", "2001:db8::1"); "" for family 0. cap >= 2. */
void ipaddr_format(const struct ipaddr *a, char *out, size_t cap);
/* 127.0.0.0/8 or ::1. */
bool ipaddr_is_loopback(const struct ipaddr *a);

struct cidr {
    struct ipaddr net; /* host bits cleared */
    uint8_t bits;      /* prefix length: 0-32 or 0-128 */
};

/* MODELWRAP_TRUSTED_PROXIES, parsed once at start-up; immutable after. */
struct proxy_list {
    struct cidr *v;
    size_t n;
};

#define PROXY_LIST_MAX 1024 /* entries in MODELWRAP_TRUSTED_PROXIES */

/* Parses "10.0.0.0/8, 192.168.1.7, ::1, fd00::/8" (NULL or "" is an empty list). Host bits set
 * in a CIDR are an error (a typo like 10.0.0.1/8 must not widen trust silently). Returns 0 or
 * MWE_CONFIG with e naming the entry; pl is then empty. Caller frees with proxy_list_fini. */
int proxy_list_parse(const char *spec, struct proxy_list *pl, struct mw_error *e);
void proxy_list_fini(struct proxy_list *pl);
/* Whether a is inside one of the list's networks. */
bool proxy_list_has(const struct proxy_list *pl, const struct ipaddr *a);

enum proxy_proto { PROXY_PROTO_UNKNOWN = 0, PROXY_PROTO_HTTP = 1, PROXY_PROTO_HTTPS = 2 };

/* Header lines of one name that count; with more, the last ones (nearest to us) are kept. */
#define PROXY_MAX_LINES 16
/* Hops of one chain that count; with more, the last ones (nearest to us) are kept. */
#define PROXY_MAX_HOPS 64

/* The forwarding headers of one request, as sent (slices into the request's headers). */
struct proxy_headers {
    struct slice forwarded[PROXY_MAX_LINES]; /* Forwarded (RFC 7239) */
    size_t n_forwarded;
    struct slice xff[PROXY_MAX_LINES]; /* X-Forwarded-For */
    size_t n_xff;
    struct slice xfp[PROXY_MAX_LINES]; /* X-Forwarded-Proto */
    size_t n_xfp;
};

/* Adds one header line to h when its name is one of the three (case-insensitive); keeps the last
 * PROXY_MAX_LINES of each. */
void proxy_headers_add(struct proxy_headers *h, const char *name, size_t name_len,
                       const char *value, size_t value_len);

/*
 * The client behind a trusted peer: walks the chain of Forwarded "for=" nodes (mode
 * PROXY_HEADER_FORWARDED) or of X-Forwarded-For entries (PROXY_HEADER_XFF; the other header is
 * ignored, so a client cannot smuggle in one the gateway does not rewrite) from the right
 * (nearest) to the left, and stops at the first address that is not in pl: that is the client.
 * When every hop is trusted the leftmost one is the client; when a hop is not an IP address
 * ("unknown", an obfuscated node, garbage) the last address that could be checked is kept.
 * *proto is the scheme the client used as its first trusted proxy recorded it (Forwarded
 * "proto=" of that hop; X-Forwarded-Proto at the same position when it has as many entries as
 * X-Forwarded-For, else its last entry), or PROXY_PROTO_UNKNOWN. The caller checks that peer
 * itself is trusted. Never reads past a slice; no allocation; any thread.
 */
void proxy_resolve(const struct proxy_list *pl, const struct ipaddr *peer,
                   const struct proxy_headers *h, int mode, struct ipaddr *client, int *proto);

/* ---- CORS (cors.c) --------------------------------------------------------------------------- */

/* MODELWRAP_CORS_ORIGINS and MODELWRAP_CORS_CREDENTIALS, parsed once; immutable after. */
struct cors {
    bool enabled;     /* some origin is allowed */
    bool any;         /* "*": every origin, never with credentials */
    bool credentials; /* Access-Control-Allow-Credentials: true */
    struct slice *origins;
    size_t n;
    char *storage; /* the origins' bytes */
};

#define CORS_MAX_ORIGINS 256
/* Request headers a browser may send (answer to Access-Control-Request-Headers). */
#define CORS_ALLOW_HEADERS                                                                         \
    "Accept, Authorization, Content-Type, Inference-Header-Content-Length, token, X-API-Key, "    \
    "X-Request-Id"
/* Response headers a browser script may read. */
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "          \
    "RateLimit-Policy, WWW-Authenticate, Inference-Header-Content-Length"
#define CORS_MAX_AGE "600"

/* Parses "https://a.example, http://localhost:3000" or "*" (NULL/"" disables CORS). Each origin
 * is scheme "://" host [":" port], lower case, without path or trailing slash. "*" together with
 * credentials is refused. 0 or MWE_CONFIG with e; c is then disabled. */
int cors_init(struct cors *c, const char *spec, bool credentials, struct mw_error *e);
void cors_fini(struct cors *c);
/* Whether the Origin header value is allowed (exact, case-sensitive comparison). */
bool cors_allows(const struct cors *c, struct slice origin);
/* Answers a preflight for an allowed origin: 204 with Access-Control-Allow-Methods (the methods
 * the path takes), -Allow-Headers, -Max-Age and Vary on the request-method and -headers. The
 * origin-specific headers are added by the transport as for any response with r->origin. Returns
 * 0 or MWE_NOMEM / MWE_INTERNAL (r's header table full). */
int cors_preflight(const struct cors *c, struct request *r, unsigned allowed_methods);

/* ---- the connection guard (guard.c) ---------------------------------------------------------- */

enum conn_state {
    CONN_IDLE = 0,     /* waiting for a request line (after accept or the previous response) */
    CONN_HEADERS = 1,  /* request line in, headers being received */
    CONN_BODY = 2,     /* headers in, body being received */
    CONN_HANDLING = 3, /* request complete: handled, answered or sent */
};

struct tls_cred;

/* Per-connection state: created when libmicrohttpd accepts, freed when it closes (its socket
 * context). Written by the connection's I/O thread; state and t_ns are also read by the
 * guard's watchdog. */
struct http_conn {
    struct http_conn *prev, *next; /* the guard's list (under its lock) */
    int fd;
    struct ipaddr peer;
    char peer_text[IPADDR_TEXT_MAX];
    bool trusted_peer; /* in MODELWRAP_TRUSTED_PROXIES: exempt from the per-address limit */
    bool counted;      /* counted in the per-address table */
    bool refused;      /* over the per-address limit: its socket was shut down */
    bool cut;          /* shut down by the watchdog (under the guard's lock) */
    bool over_limit;   /* over the server-wide connection limit (refused is set too) */
    bool counted_total; /* counted in the server-wide connection count */
    bool evicted;      /* an idle connection closed to make room for a new one */
    bool uri_nul;      /* the current request's URI decodes to a NUL byte (%00) */
    bool uri_bad;      /* the current request's URI, as received, holds a space or a control */
    unsigned long long requests; /* requests recorded on this connection */
    /* plain-HTTP byte accounting: header blocks and bodies of the requests so far, to find bytes
     * no request accounts for when the connection closes (rx_unknown: a chunked body or an early
     * answer made the count inexact) */
    unsigned long long rx_accounted;
    bool rx_unknown;
    atomic_int state;  /* enum conn_state */
    atomic_ullong t_ns; /* guard_now_ns() when the current IDLE or request phase began */
    size_t uri_len;     /* bytes of the current request's URI (path and query) */
    /* TLS (tls.c) */
    struct tls_ctx *tls;         /* set by tls_conn_start */
    struct tls_cred *cred;       /* the certificate this connection's handshake used (a ref) */
    bool client_verified;        /* a client certificate was presented and verified */
    struct http_client_cert *client; /* its facts, built on first use (malloc) */
};

struct conn_guard;

/* Starts the guard for cfg (per-address limit MODELWRAP_MAX_CONNECTIONS_PER_IP, deadlines from
 * MODELWRAP_RECEIVE_TIMEOUT and MODELWRAP_IDLE_TIMEOUT) and its watchdog thread. trusted (borrowed,
 * must outlive the guard) lists peers exempt from the per-address limit. NULL with e on failure. */
struct conn_guard *guard_new(const struct config *cfg, const struct proxy_list *trusted,
                        struct mw_error *e);
/* Stops the watchdog and frees. Every connection must have been closed first. */
void guard_free(struct conn_guard *g);
/* A connection was accepted (I/O thread). Returns its state (NULL when out of memory: the caller
 * refuses the connection); ->refused is set, and the socket shut down, when the peer is over its
 * connection limit. */
struct http_conn *guard_conn_open(struct conn_guard *g, int fd, const struct sockaddr *sa);
/* Whether the guard shut c down itself (watchdog, room for a new connection, a limit). The
 * connection's I/O thread. */
bool guard_conn_cut(struct conn_guard *g, struct http_conn *c);
/* The connection is closing (I/O thread, before its socket is closed): forgets and frees c. */
void guard_conn_close(struct conn_guard *g, struct http_conn *c);
/* Phase changes of the connection's current request (I/O thread, no lock). */
void guard_conn_idle(struct http_conn *c);
void guard_conn_request(struct http_conn *c, size_t uri_len);
void guard_conn_phase(struct http_conn *c, int state);
/* The guard's monotonic clock (coarse: milliseconds of resolution), in nanoseconds. */
uint64_t guard_now_ns(void);
/* The time (guard_now_ns) by which the current request must be received. */
uint64_t guard_deadline_ns(const struct conn_guard *g, const struct http_conn *c);
/* Connections closed by the watchdog and refused by the per-address limit, since start. */
unsigned long long guard_closed_slow(const struct conn_guard *g);
unsigned long long guard_refused(const struct conn_guard *g);
/* Open connections in the server-wide count (for tests and metrics). Any thread. */
unsigned guard_open(const struct conn_guard *g);
/* Rate limiter for log lines an attacker could trigger: true at most once per interval_ns. */
bool guard_log_ok(atomic_ullong *last_ns, uint64_t interval_ns);

/* ---- request framing (framing.c) ------------------------------------------------------------ */

enum framing_reason {
    FRAMING_OK = 0,
    FRAMING_CL_CONFLICT = 1,    /* Content-Length lines with different values */
    FRAMING_CL_WITH_TE = 2,     /* Content-Length and Transfer-Encoding */
    FRAMING_TE_UNSUPPORTED = 3, /* Transfer-Encoding other than one "chunked" (or in HTTP/1.0) */
    FRAMING_HEADER_NAME = 4,    /* an empty name, whitespace before the colon, a non-token */
    FRAMING_HEADER_VALUE = 5,   /* a control character (other than HTAB) in a value */
    FRAMING_HEADER_LINE = 6,    /* header-block bytes no header accounts for (fold, NUL) */
    FRAMING_HOST = 7,           /* two Host lines, or none in HTTP/1.1 */
    FRAMING_URI_NUL = 8,        /* a NUL in the URI, raw or percent-encoded */
    FRAMING_URI_BYTES = 9,      /* a space or control character in the URI as received */
};

/* The framing check of one request's header block, fed one header line at a time in wire order.
 * Plain data; no allocation. */
struct framing {
    const char *block, *block_end; /* the request line and header block, or NULL: no layout */
    const char *expect;            /* where the current line ends (layout) */
    const char *cl;                /* the first Content-Length value */
    size_t cl_len;
    unsigned n_cl, n_te, n_host, n_headers;
    int http_minor;  /* 0: HTTP/1.0; 1: HTTP/1.1 (or a later 1.x, which is read as 1.1) */
    bool conn_close; /* a Connection header names "close" */
    int reason;      /* the first enum framing_reason found */
};

/*
 * Starts the check. block..block+block_len is libmicrohttpd 0.9.75's buffer of the request line
 * and headers (its request-header size from the method's first byte), in which it replaced each
 * line end (CRLF or LF) and each header's colon with NULs; line_end points at the end of the
 * request line's HTTP version. With block NULL only the header rules apply. http_minor: 0 for
 * HTTP/1.0, 1 for HTTP/1.1. Reads only inside the block.
 */
void framing_init(struct framing *f, const char *block, size_t block_len, const char *line_end,
                  int http_minor);
/* One header line (name and value as libmicrohttpd reports them, in wire order). */
void framing_header(struct framing *f, const char *name, size_t name_len, const char *value,
                    size_t value_len);
/* The verdict: FRAMING_OK or the first problem found. */
int framing_finish(struct framing *f);
/* The reason code ("http.content_length_conflict", for logs, audit and metrics) and the error
 * message of a verdict. Static strings. */
const char *framing_reason_code(int reason);
const char *framing_reason_msg(int reason);

/* ---- TLS (tls.c) ----------------------------------------------------------------------------- */

struct tls_ctx;

/* Prepares HTTPS from cfg: loads and checks the certificate and key (readable, PEM, a matching
 * pair, valid now), the client CA (mutual TLS) and the priority string (valid, TLS 1.2 or later
 * only). *out is NULL when TLS is not configured. 0 or MWE_CONFIG with e naming the setting and the problem. */
int tls_new(const struct config *cfg, struct tls_ctx **out, struct mw_error *e);
void tls_free(struct tls_ctx *t);
/* Re-reads the certificate and key; swaps them in when valid (any thread; handshakes in progress
 * keep the credential they took). 0 or MWE_CONFIG with e, the old credential then stays. */
int tls_reload(struct tls_ctx *t, struct mw_error *e);
/* For libmicrohttpd's options: the priority string, the client CA PEM text (NULL without mutual
 * TLS), and the certificate callback (a gnutls_certificate_retrieve_function2). */
const char *tls_priorities(const struct tls_ctx *t);
const char *tls_client_ca_pem(const struct tls_ctx *t);
gnutls_certificate_retrieve_function2 *tls_cert_callback(void);
/* A TLS connection was accepted (before its handshake): sets up client certificate checks.
 * 0, or -1 when the connection must be refused. */
int tls_conn_start(struct tls_ctx *t, struct http_conn *c, gnutls_session_t session);
/* The connection is closing: releases its credential and certificate facts. */
void tls_conn_end(struct tls_ctx *t, struct http_conn *c);
/* Fills *p with the facts of the connection's verified client certificate (built once per
 * connection); false when there is none. */
bool tls_conn_client_cert(struct tls_ctx *t, struct http_conn *c, gnutls_session_t session,
                          struct http_client_cert *p);

/* The http_conn of a TLS session (the MHD connection's socket context), or NULL. (http.c) */
struct http_conn *http_conn_of_session(gnutls_session_t session);

/* A Content-Length value (v: NUL-terminated, or NULL when the header is absent): digits only, at
 * most UINT64_MAX - 6 (the largest the overflow check lets through). Returns true with *out set;
 * false when absent, or with *bad set when malformed (empty, a non-digit, too large). Any thread. */
bool http_parse_content_length(const char *v, uint64_t *out, bool *bad);

#endif /* MW_HTTP_INT_H */
