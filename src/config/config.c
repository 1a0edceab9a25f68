/*
 * config: the one table of settings (CONFIG_SETTINGS below) and everything derived from it: the
 * loader (defaults < .env file < environment < flags), check-config output, --help and
 * .env.example. The .env grammar itself is dotenv.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* ---- the table ------------------------------------------------------------------------------- */

enum stype { T_STRING, T_BOOL, T_UINT, T_SIZE, T_ENUM, T_PORT };

#define F_SECRET 0x1u   /* check-config prints "<redacted>" */
#define F_EMPTY_OK 0x2u /* T_STRING: an empty value means unset (NULL) instead of an error */
#define F_META 0x4u     /* read before the .env file: environment and flag only */
#define F_USERINFO 0x8u /* a URL whose userinfo is a secret: printed with it redacted */

struct setting {
    const char *name; /* "MAX_BODY_BYTES": env MODELWRAP_MAX_BODY_BYTES, flag --max-body-bytes */
    enum stype type;
    const char *def;             /* default, as text parsed like any other source; NULL: unset */
    unsigned long long min, max; /* T_UINT, T_SIZE, T_PORT: accepted range */
    const char *values;          /* T_ENUM: "a|b|c"; the field stores the index */
    unsigned flags;              /* F_* */
    size_t off;                  /* offset of the field in the settings struct */
    const char *help;            /* one line */
};

/*
 * Every setting, once: X(NAME, struct config field, type, default, min, max, enum values, flags,
 * help). The order is the order of check-config, --help, .env.example and docs/configuration.md.
 */
#define CONFIG_SETTINGS(X)                                                                         \
    X(ENV_FILE, env_file, T_STRING, "./.env", 0, 0, NULL, F_EMPTY_OK | F_META,                     \
      "the .env file read before the environment (environment or flag only; empty: none)")         \
    X(HOST, host, T_STRING, "127.0.0.1", 0, 0, NULL, 0,                                            \
      "address to listen on: an IP address or a host name")                                        \
    X(PORT, port, T_PORT, "8000", 0, 65535, NULL, 0,                                               \
      "TCP port to listen on; 0 picks a free port (the bound port is logged)")                     \
    X(THREADS, threads, T_UINT, "0", 0, 256, NULL, 0, "I/O threads; 0 = one per CPU core")         \
    X(IO_MODEL, io_model, T_ENUM, "reuseport", 0, 0, "reuseport|pool", 0,                          \
      "reuseport: one listening socket per I/O thread; pool: one socket shared by a thread pool")  \
    X(MODELS, models_dir, T_STRING, "./models", 0, 0, NULL, 0,                                     \
      "model repository folder (one sub-folder per model)")                                        \
    X(DEFAULT_MODEL, default_model, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                        \
      "model behind /api/predict and /api/v1/predict; unset: the only model if one, else iris")    \
    X(MODEL_DIR, model_dir, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                                \
      "one model folder to serve instead of the repository MODELWRAP_MODELS (KServe's "           \
      "--model_dir, e.g. /mnt/models)")                                                            \
    X(MODEL_NAME, model_name, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                              \
      "the name the model of MODELWRAP_MODEL_DIR is served under (KServe's --model_name); "        \
      "unset: its model.json name")                                                                \
    X(MODEL_WORKERS, model_workers, T_UINT, "0", 0, 256, NULL, 0,                                  \
      "worker threads of a model whose model.json says nothing; 0 = run on the I/O thread")        \
    X(MODEL_QUEUE_SIZE, model_queue_size, T_UINT, "1024", 1, 1000000, NULL, 0,                     \
      "model calls that may wait per model; more are refused with 503")                            \
    X(MODEL_TIMEOUT_MS, model_timeout_ms, T_UINT, "30000", 1, 3600000, NULL, 0,                    \
      "milliseconds a model call may wait and run before it fails with 504")                       \
    X(MAX_RECORDS, max_records, T_UINT, "10000", 1, 10000000, NULL, 0,                             \
      "records per native predict request")                                                        \
    X(MAX_BODY_BYTES, max_body_bytes, T_SIZE, "1048576", 1, 1073741824, NULL, 0,                   \
      "request body size limit; larger bodies get 413")                                            \
    X(MAX_HEADER_BYTES, max_header_bytes, T_SIZE, "16384", 1024, 1048576, NULL, 0,                 \
      "request line and headers size limit; larger get 431")                                       \
    X(MAX_CONNECTIONS, max_connections, T_UINT, "1024", 1, 1000000, NULL, 0,                       \
      "open connections in total")                                                                 \
    X(MAX_CONNECTIONS_PER_IP, max_connections_per_ip, T_UINT, "256", 1, 1000000, NULL, 0,          \
      "open connections per client IP address")                                                    \
    X(IDLE_TIMEOUT, idle_timeout_s, T_UINT, "30", 1, 3600, NULL, 0,                                \
      "seconds an idle connection is kept open")                                                   \
    X(DRAIN_TIMEOUT, drain_timeout_s, T_UINT, "10", 0, 3600, NULL, 0,                              \
      "seconds in-flight requests get to finish after SIGTERM")                                    \
    X(LOG_LEVEL, log_level, T_ENUM, "info", 0, 0, "error|warn|info|debug", 0,                      \
      "operational log level (JSON lines on stderr)")                                              \
    /* ---- model repository: versions, reload ---- */                                   \
    /* ---- authentication and authorization ---- */                                     \
    X(AUTH, auth, T_ENUM, "required", 0, 0, "required|none", 0,                                    \
      "required: every route but liveness/readiness needs a credential; none: loopback only")      \
    X(AUTH_NONE_BEHIND_PROXY, auth_none_behind_proxy, T_BOOL, "false", 0, 0, NULL, 0,              \
      "accept MODELWRAP_AUTH=none with MODELWRAP_TRUSTED_PROXIES (a gateway on this host then "    \
      "exposes an unauthenticated API to whoever reaches it); warned at every start")              \
    X(API_KEYS_FILE, api_keys_file, T_STRING, "./keys.json", 0, 0, NULL, F_EMPTY_OK,               \
      "API key file (hashes only; `modelwrap keys` manages it); reloaded when it changes")         \
    X(JWT_ISSUER, jwt_issuer, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                              \
      "expected iss of JWT bearer tokens; enables them (JWKS by OpenID discovery by default)")     \
    X(JWT_AUDIENCE, jwt_audience, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                          \
      "audience that a JWT's aud must contain (required with MODELWRAP_JWT_ISSUER)")               \
    X(JWKS_URI, jwks_uri, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                                  \
      "URL of the issuer's JWKS (https; http only to loopback); unset: OpenID discovery")          \
    X(JWKS_FILE, jwks_file, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                                \
      "JWKS file with the verification keys, instead of fetching them; reloaded when it changes") \
    X(JWT_MAX_LIFETIME, jwt_max_lifetime, T_UINT, "86400", 1, 86400, NULL, 0,                      \
      "seconds a JWT may live (exp - iat, or exp - now); longer-lived tokens are refused")         \
    X(JWT_LEEWAY, jwt_leeway, T_UINT, "60", 0, 300, NULL, 0,                                       \
      "seconds of clock skew allowed on exp, nbf and iat")                                         \
    X(JWT_ALGORITHMS, jwt_algorithms, T_STRING, "RS256,RS384,RS512,PS256,ES256,ES384,EdDSA", 0, 0, \
      NULL, 0, "JWT signature algorithms accepted with the JWKS (none and HS256 never)")           \
    X(JWT_HS256_SECRET_FILE, jwt_hs256_secret_file, T_STRING, NULL, 0, 0, NULL,                    \
      F_EMPTY_OK | F_SECRET,                                                                       \
      "file with a shared HS256 secret (32+ bytes); then HS256 only, never with a JWKS")           \
    X(JWT_ROLES_CLAIM, jwt_roles_claim, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                    \
      "JWT claim (dotted path, e.g. realm_access.roles) whose roles named like scopes grant them") \
    X(JWKS_CACHE_TTL, jwks_cache_ttl, T_UINT, "3600", 1, 86400, NULL, 0,                           \
      "seconds a fetched JWKS is used before it is fetched again")                                 \
    X(JWKS_REFRESH_INTERVAL, jwks_refresh_interval, T_UINT, "30", 1, 3600, NULL, 0,                \
      "minimum seconds between two JWKS fetches (unknown kid, retries after a failure)")           \
    X(AUTH_FAILURE_LIMIT, auth_failure_limit, T_UINT, "20", 0, 1000000, NULL, 0,                   \
      "authentication failures from one address within the window that block it; 0: never")       \
    X(AUTH_FAILURE_WINDOW, auth_failure_window, T_UINT, "60", 1, 86400, NULL, 0,                   \
      "seconds over which authentication failures are counted")                                   \
    X(AUTH_BLOCK_TIME, auth_block_time, T_UINT, "300", 1, 86400, NULL, 0,                          \
      "seconds a blocked address gets 429 auth.blocked")                                           \
    /* ---- transport security: TLS, proxies, CORS, abuse limits ---- */                 \
    X(TLS_CERT, tls_cert, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                                  \
      "PEM certificate (chain) file; with MODELWRAP_TLS_KEY serves HTTPS (TLS 1.2 and 1.3 only)")  \
    X(TLS_KEY, tls_key, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                                    \
      "PEM private key file (RSA or ECDSA) of MODELWRAP_TLS_CERT; both reload on SIGHUP")          \
    X(TLS_CLIENT_CA, tls_client_ca, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                        \
      "PEM CA certificates that sign client certificates; enables mutual TLS")                     \
    X(TLS_CLIENT_AUTH, tls_client_auth, T_ENUM, "required", 0, 0, "required|optional", 0,          \
      "with MODELWRAP_TLS_CLIENT_CA: required refuses handshakes without a valid client "          \
      "certificate; optional lets them use API keys or tokens")                                    \
    X(TLS_CLIENT_SCOPES, tls_client_scopes, T_STRING, "predict,read", 0, 0, NULL, 0,               \
      "scopes of a verified client certificate, comma-separated (predict, read, admin, metrics)")  \
    X(TLS_PRIORITIES, tls_priorities, T_STRING,                                                    \
      "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-MAC-ALL:+AEAD:"  \
      "%SERVER_PRECEDENCE",                                                                        \
      0, 0, NULL, 0,                                                                               \
      "GnuTLS priority string; the default allows TLS 1.2 and 1.3 with forward-secret AEAD "       \
      "suites only; versions below TLS 1.2 are refused")                                           \
    X(HSTS_MAX_AGE, hsts_max_age, T_UINT, "31536000", 0, 63072000, NULL, 0,                        \
      "max-age of the Strict-Transport-Security header sent over HTTPS; 0: no header")             \
    X(ALLOW_PLAINTEXT, allow_plaintext, T_BOOL, "false", 0, 0, NULL, 0,                            \
      "allow plain HTTP on a non-loopback address (only behind a TLS-terminating gateway)")        \
    X(TRUSTED_PROXIES, trusted_proxies, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                    \
      "comma-separated IPv4/IPv6 addresses or CIDRs whose Forwarded, X-Forwarded-For and "         \
      "X-Forwarded-Proto headers are believed")                                                    \
    X(PROXY_HEADER, proxy_header, T_ENUM, "x-forwarded-for", 0, 0, "x-forwarded-for|forwarded", 0, \
      "the header trusted proxies set: x-forwarded-for (with X-Forwarded-Proto) or forwarded "     \
      "(RFC 7239); the other one is ignored")                                                      \
    X(CORS_ORIGINS, cors_origins, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                          \
      "comma-separated origins (scheme://host[:port]) allowed to call the API from a browser, "    \
      "or *; unset: none")                                                                         \
    X(CORS_CREDENTIALS, cors_credentials, T_BOOL, "false", 0, 0, NULL, 0,                          \
      "answer CORS requests with Access-Control-Allow-Credentials (not with origin *)")            \
    X(MAX_URI_BYTES, max_uri_bytes, T_SIZE, "8192", 256, 1048576, NULL, 0,                         \
      "request URI size limit (path and query); longer get 414")                                   \
    X(RECEIVE_TIMEOUT, receive_timeout_s, T_UINT, "30", 1, 3600, NULL, 0,                          \
      "seconds a client gets to send a request's headers and body once it started (slowloris)")    \
    X(MAX_JSON_DEPTH, max_json_depth, T_UINT, "32", 1, 1000, NULL, 0,                              \
      "nesting depth of a JSON request body; deeper get 400")                                      \
    X(MAX_JSON_ELEMENTS, max_json_elements, T_UINT, "1000000", 1, 100000000, NULL, 0,              \
      "values (numbers, strings, arrays, objects...) in a JSON request body; more get 400")        \
    /* ---- SLA, rate limits, shared quotas ---- */                                      \
    X(RATE_LIMIT, rate_limit, T_STRING, "100/s", 0, 0, NULL, 0,                                    \
      "default throughput limit per consumer, published in the SLA: N/s, N/m, N/h or N/d "         \
      "(N may have a fraction), or off; API keys may override it")                                 \
    X(RATE_BURST, rate_burst, T_UINT, "100", 1, 1000000, NULL, 0,                                  \
      "requests a consumer may send at once before the rate applies (the bucket size)")            \
    X(RATE_TABLE_SIZE, rate_table_size, T_UINT, "65536", 64, 16777216, NULL, 0,                    \
      "consumers the local limiter tracks at once (16 bytes each); idle ones make room first")     \
    X(MAX_CONCURRENCY, max_concurrency, T_UINT, "0", 0, 1000000, NULL, 0,                          \
      "API requests in progress at once in this process; more get 503; 0 = no limit")              \
    X(REDIS_URL, redis_url, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK | F_SECRET,                     \
      "Redis shared by the replicas for rate limits: redis://[[user]:password@]host[:port][/db] "  \
      "or unix:///path; unset: limits are per process")                                            \
    X(REDIS_FAILURE_MODE, redis_failure_mode, T_ENUM, "fail-open", 0, 0, "fail-open|fail-closed",  \
      0,                                                                                           \
      "when Redis does not answer: fail-open enforces the limit divided by "                       \
      "MODELWRAP_REDIS_REPLICAS locally; fail-closed answers 503")                                 \
    X(REDIS_REPLICAS, redis_replicas, T_UINT, "1", 1, 10000, NULL, 0,                              \
      "replicas that share the Redis limits (the divisor of the fail-open local limit)")           \
    X(REDIS_CONNECT_TIMEOUT_MS, redis_connect_timeout_ms, T_UINT, "200", 1, 60000, NULL, 0,        \
      "milliseconds to connect to Redis before the failure mode applies")                          \
    X(REDIS_TIMEOUT_MS, redis_timeout_ms, T_UINT, "50", 1, 60000, NULL, 0,                         \
      "milliseconds Redis gets to answer one rate-limit decision before the failure mode applies") \
    X(REDIS_PREFIX, redis_prefix, T_STRING, "modelwrap:rl:", 0, 0, NULL, 0,                        \
      "prefix of the rate-limit keys in Redis (at most 128 bytes)")                                \
    X(SLA_SUPPORT_HOURS, sla_support_hours, T_STRING, "Mon-Fri 09:00-17:00 UTC", 0, 0, NULL,       \
      F_EMPTY_OK,                                                                                  \
      "published support hours: weekly windows like Mon-Fri 09:00-17:00 UTC-05:00, separated "    \
      "by semicolons")                                                                             \
    X(SLA_AVAILABILITY, sla_availability, T_STRING, "99.9", 0, 0, NULL, 0,                        \
      "published availability target, percent of each calendar month (0-100)")                     \
    X(SLA_RESPONSE_TIME_MS, sla_response_time_ms, T_UINT, "500", 1, 3600000, NULL, 0,              \
      "published response-time target: 99th percentile of predict requests, milliseconds")        \
    X(SLA_OUTAGES, sla_outages, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                            \
      "scheduled outage windows separated by semicolons, weekly like Sun 02:00-04:00 UTC or "      \
      "dated like 2026-01-10T02:00Z/2026-01-10T06:00Z; the API answers 503 during them")           \
    X(SLA_CONTACT_NAME, sla_contact_name, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                  \
      "point of contact published in the SLA and the OpenAPI info.contact: name")                  \
    X(SLA_CONTACT_EMAIL, sla_contact_email, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                \
      "point of contact: email address")                                                           \
    X(SLA_CONTACT_URL, sla_contact_url, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                    \
      "point of contact: URL (http or https)")                                                     \
    /* ---- audit trail, security events ---- */                                         \
    X(AUDIT_LOG, audit_log, T_STRING, "stdout", 0, 0, NULL, 0,                                     \
      "audit sinks, comma-separated: a file path, stdout, syslog+tcp://HOST:PORT, "                \
      "syslog+udp://HOST:PORT (RFC 5424; TCP with octet counting)")                                \
    X(AUDIT_FORMAT, audit_format, T_ENUM, "json", 0, 0, "json|cef", 0,                             \
      "audit record format: JSON lines or Common Event Format")                                    \
    X(AUDIT_POLICY, audit_policy, T_ENUM, "block", 0, 0, "block|fail-closed", 0,                   \
      "when the audit queue is full or a sink fails: block (requests wait for room) or "           \
      "fail-closed (new requests get 503 until the sinks recover)")                                \
    X(AUDIT_QUEUE_SIZE, audit_queue_size, T_UINT, "4096", 16, 1000000, NULL, 0,                    \
      "audit records that may wait for the writer (about 2.5 KiB each)")                           \
    X(AUDIT_FSYNC, audit_fsync, T_ENUM, "interval", 0, 0, "never|always|interval", 0,              \
      "fdatasync of audit files: never, after every batch, or every "                             \
      "MODELWRAP_AUDIT_FSYNC_INTERVAL_MS")                                                         \
    X(AUDIT_FSYNC_INTERVAL_MS, audit_fsync_interval_ms, T_UINT, "1000", 1, 3600000, NULL, 0,       \
      "milliseconds between fdatasyncs of an audit file with MODELWRAP_AUDIT_FSYNC=interval")      \
    X(AUDIT_FLUSH_TIMEOUT, audit_flush_timeout_s, T_UINT, "10", 0, 3600, NULL, 0,                  \
      "seconds the audit writer gets at shutdown to write every queued record")                    \
    X(AUDIT_SECURITY_LOG, audit_security_log, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,              \
      "extra sinks for security events only (same syntax as MODELWRAP_AUDIT_LOG); unset: "         \
      "events go to the audit sinks only")                                                         \
    X(AUDIT_BUSINESS_HOURS, audit_business_hours, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,          \
      "business hours like Mon-Fri 08:00-18:00; Sat 10:00-14:00 (local time of "                   \
      "MODELWRAP_AUDIT_TIMEZONE); use of the API outside them is a security event; unset: none")   \
    X(AUDIT_TIMEZONE, audit_timezone, T_STRING, "UTC", 0, 0, NULL, 0,                              \
      "time zone of the business hours: UTC or a tz database name like America/Toronto")           \
    X(AUDIT_LARGE_REQUEST_BYTES, audit_large_request_bytes, T_SIZE, "524288", 0, 1073741824,       \
      NULL, 0,                                                                                     \
      "a request body at least this large is a security event; 0 = off")                           \
    X(AUDIT_LARGE_REQUEST_RECORDS, audit_large_request_records, T_UINT, "1000", 0, 10000000,       \
      NULL, 0,                                                                                     \
      "a request with at least this many records is a security event; 0 = off")                    \
    X(AUDIT_AUTH_FAILURES, audit_auth_failures, T_UINT, "10", 0, 1000000, NULL, 0,                 \
      "authentication failures from one address or for one principal within "                      \
      "MODELWRAP_AUDIT_BURST_WINDOW that make a security event; 0 = off")                          \
    X(AUDIT_PROBE_404S, audit_probe_404s, T_UINT, "20", 0, 1000000, NULL, 0,                       \
      "404 answers to one address within MODELWRAP_AUDIT_BURST_WINDOW that make a path "           \
      "probing event; 0 = off")                                                                    \
    X(AUDIT_BURST_WINDOW, audit_burst_window_s, T_UINT, "60", 1, 86400, NULL, 0,                   \
      "seconds of the sliding window of the failure and 404 bursts")                               \
    X(AUDIT_EVENT_DEDUP_WINDOW, audit_event_dedup_window_s, T_UINT, "300", 0, 86400, NULL, 0,      \
      "seconds during which one event for one address or principal is reported once (with a "      \
      "count); 0 = report each")                                                                   \
    X(AUDIT_EVENTS_PER_MINUTE, audit_events_per_minute, T_UINT, "60", 1, 1000000, NULL, 0,         \
      "security events written per minute at most; more are counted and summarised")               \
    /* ---- metrics, tracing, docs ---- */                                            \
    X(METRICS_PORT, metrics_port, T_PORT, "0", 0, 65535, NULL, 0,                                  \
      "port of a second listener serving GET /metrics without authentication; 0 = none")           \
    X(DOCS_DIR, docs_dir, T_STRING, "./web", 0, 0, NULL, F_EMPTY_OK,                               \
      "folder of the /docs page: index.html and node_modules/swagger-ui-dist; empty: no /docs")   \
    /* ---- egress proxy, version lifecycle ---- */                                                \
    X(EGRESS_PROXY, egress_proxy, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK | F_USERINFO,              \
      "forward proxy of every outbound request (OpenID discovery, JWKS): "                        \
      "http://[USER:PASSWORD@]HOST:PORT; unset: https_proxy/HTTPS_PROXY and no_proxy/NO_PROXY")    \
    X(LEGACY_DEPRECATION, legacy_deprecation, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,              \
      "date the unversioned routes /api/predict and /api/health are deprecated from, like "       \
      "2026-01-01 or 2026-01-01T00:00:00Z: they answer with Deprecation and Link headers; "        \
      "unset: not deprecated")                                                                    \
    X(LEGACY_SUNSET, legacy_sunset, T_STRING, NULL, 0, 0, NULL, F_EMPTY_OK,                        \
      "date the unversioned routes are to be removed (the Sunset header), like 2026-07-01; "      \
      "needs MODELWRAP_LEGACY_DEPRECATION")

/* Each field must have the C type its setting type stores. */
#define TYPE_OK_T_STRING(x) _Generic((x), char * : 1, default : 0)
#define TYPE_OK_T_BOOL(x) _Generic((x), bool : 1, default : 0)
#define TYPE_OK_T_UINT(x) _Generic((x), unsigned : 1, default : 0)
#define TYPE_OK_T_SIZE(x) _Generic((x), size_t : 1, default : 0)
#define TYPE_OK_T_PORT(x) _Generic((x), uint16_t : 1, default : 0)
#define TYPE_OK_T_ENUM(x) (sizeof(x) == sizeof(int))
#define CHECK_FIELD(NAME, field, type, def, min, max, values, flags, help)                         \
    _Static_assert(TYPE_OK_##type(((struct config *)0)->field), #field " is not a " #type);
CONFIG_SETTINGS(CHECK_FIELD)
#undef CHECK_FIELD

/* Enum and log level indices are the positions in the values list. */
_Static_assert(IO_REUSEPORT == 0 && IO_POOL == 1, "IO_MODEL values order");
_Static_assert(LOG_ERROR == 0 && LOG_WARN == 1 && LOG_INFO == 2 && LOG_DEBUG == 3,
               "LOG_LEVEL values order");

static const struct setting settings[] = {
#define ROW(NAME, field, type, def, min, max, values, flags, help)                                 \
    {#NAME, type, def, min, max, values, flags, offsetof(struct config, field), help},
    CONFIG_SETTINGS(ROW)
#undef ROW
};

#define ENV_PREFIX "MODELWRAP_"
#define ENV_PREFIX_LEN (sizeof(ENV_PREFIX) - 1)
#define STRING_MAX 4096            /* bytes of a string setting */
#define ENV_FILE_MAX (1024 * 1024) /* bytes of a .env file */
#define SHOW_MAX 48                /* bytes of a bad value quoted in an error */
#define BOOL_VALUES "true|false|1|0|yes|no|on|off"

/* ---- small helpers --------------------------------------------------------------------------- */

/* Writes "--max-body-bytes" for "MAX_BODY_BYTES". */
static void flag_name(const struct setting *s, char *out, size_t size)
{
    size_t i = 0;
    size_t j;

    if (size < 3)
        return;
    out[i++] = '-';
    out[i++] = '-';
    for (j = 0; s->name[j] != '\0' && i + 1 < size; j++) {
        char c = s->name[j];
        out[i++] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[i] = '\0';
}

/* Whether the flag name (without "--", len bytes) is the flag of s. */
static bool flag_matches(const struct setting *s, const char *arg, size_t len)
{
    size_t j;

    for (j = 0; j < len; j++) {
        char c = s->name[j];
        if (c == '\0')
            return false;
        c = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        if (arg[j] != c)
            return false;
    }
    return s->name[len] == '\0';
}

static const struct setting *find_by_env(const struct setting *tab, size_t n, const char *name,
                                         size_t len)
{
    size_t i;

    if (len <= ENV_PREFIX_LEN || memcmp(name, ENV_PREFIX, ENV_PREFIX_LEN) != 0)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(tab[i].name);
        if (nl == len - ENV_PREFIX_LEN && memcmp(tab[i].name, name + ENV_PREFIX_LEN, nl) == 0)
            return &tab[i];
    }
    return NULL;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Copies at most SHOW_MAX bytes of v for an error message: control bytes become '?', a cut value
 * ends in "...". out must hold SHOW_MAX + 4 bytes. */
static void show(const char *v, char *out)
{
    size_t i;

    for (i = 0; v[i] != '\0' && i < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (v[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* Case-insensitive ASCII comparison of s with the len bytes at t. */
static bool eq_nocase_n(const char *s, const char *t, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char a = s[i];
        char b = t[i];
        if (a == '\0')
            return false;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return s[len] == '\0';
}

/* Position of v (case-insensitive) in the "a|b|c" list, or -1. */
static int list_index(const char *list, const char *v)
{
    const char *p = list;
    int idx = 0;

    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (eq_nocase_n(v, p, len))
            return idx;
        if (bar == NULL)
            return -1;
        p = bar + 1;
        idx++;
    }
}

/* Writes item idx of the "a|b|c" list to out ("" when out of range). */
static void list_item(const char *list, int idx, char *out, size_t size)
{
    const char *p = list;
    size_t len;

    while (idx > 0 && p != NULL) {
        p = strchr(p, '|');
        if (p != NULL)
            p++;
        idx--;
    }
    if (p == NULL || idx < 0 || size == 0) {
        if (size > 0)
            out[0] = '\0';
        return;
    }
    len = strcspn(p, "|");
    if (len >= size)
        len = size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Parses 1-20 decimal digits (nothing else) into *out; *overflow is set when they do not fit. */
static bool parse_digits(const char *s, size_t len, unsigned long long *out, bool *overflow)
{
    unsigned long long v = 0;
    size_t i;

    *overflow = false;
    if (len == 0)
        return false;
    for (i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return false;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            *overflow = true;
        else
            v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* What a setting accepts, as shown in errors, --help and the docs. */
static void accepted(const struct setting *s, char *out, size_t size)
{
    switch (s->type) {
    case T_STRING:
        snprintf(out, size, "%s",
                 (s->flags & F_EMPTY_OK) ? "text; empty = unset" : "non-empty text");
        break;
    case T_BOOL:
        snprintf(out, size, "%s", BOOL_VALUES);
        break;
    case T_UINT:
    case T_PORT:
        snprintf(out, size, "%llu-%llu", s->min, s->max);
        break;
    case T_SIZE:
        snprintf(out, size, "integer bytes or with k/m/g suffix, %llu-%llu", s->min, s->max);
        break;
    case T_ENUM:
        snprintf(out, size, "%s", s->values);
        break;
    }
}

/* ---- setting values -------------------------------------------------------------------------- */

static void *field_of(const struct setting *s, void *base)
{
    return (char *)base + s->off;
}

static const void *cfield_of(const struct setting *s, const void *base)
{
    return (const char *)base + s->off;
}

/* Sets s in base from the text val. label names the source ("MODELWRAP_PORT", "--port",
 * ".env line 3: MODELWRAP_PORT"). Returns 0 or MWE_CONFIG with e. */
static int setting_set(const struct setting *s, void *base, const char *label, const char *val,
                       struct mw_error *e)
{
    char acc[128];
    char shown[SHOW_MAX + 4];
    void *field = field_of(s, base);
    size_t len = strlen(val);
    unsigned long long v = 0;
    unsigned long long mult = 1;
    bool overflow = false;
    int rc = 0;

    accepted(s, acc, sizeof(acc));
    show(val, shown);
    switch (s->type) {
    case T_STRING: {
        char *copy = NULL;
        size_t i;

        if (len > STRING_MAX) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is longer than %d bytes", label, shown,
                         STRING_MAX);
            goto out;
        }
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char)val[i];
            if (c < 0x20 || c == 0x7f) {
                rc = mw_fail(e, MWE_CONFIG, "%s: '%s' contains a control character (accepted: %s)",
                             label, shown, acc);
                goto out;
            }
        }
        if (len == 0 && !(s->flags & F_EMPTY_OK)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '' is empty (accepted: %s)", label, acc);
            goto out;
        }
        if (len > 0) {
            copy = strdup(val);
            if (copy == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "%s: out of memory", label);
                goto out;
            }
        }
        free(*(char **)field);
        *(char **)field = copy;
        break;
    }
    case T_BOOL: {
        int idx = list_index(BOOL_VALUES, val);
        if (idx < 0) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not a boolean (accepted: %s)", label, shown,
                         acc);
            goto out;
        }
        *(bool *)field = idx % 2 == 0; /* true|false|1|0|yes|no|on|off: even entries are true */
        break;
    }
    case T_UINT:
    case T_PORT:
        if (!parse_digits(val, len, &v, &overflow)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not %s (accepted: %s)", label, shown,
                         s->type == T_PORT ? "a port" : "an integer", acc);
            goto out;
        }
        if (overflow || v < s->min || v > s->max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is %s (accepted: %s)", label, shown,
                         s->type == T_PORT ? "not a port" : "out of range", acc);
            goto out;
        }
        if (s->type == T_PORT)
            *(uint16_t *)field = (uint16_t)v;
        else
            *(unsigned *)field = (unsigned)v;
        break;
    case T_SIZE:
        if (len > 0) {
            switch (val[len - 1]) {
            case 'k':
            case 'K':
                mult = 1024ull;
                break;
            case 'm':
            case 'M':
                mult = 1024ull * 1024;
                break;
            case 'g':
            case 'G':
                mult = 1024ull * 1024 * 1024;
                break;
            default:
                break;
            }
        }
        if (!parse_digits(val, mult > 1 ? len - 1 : len, &v, &overflow)) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not a size (accepted: %s)", label, shown, acc);
            goto out;
        }
        if (overflow || v > ULLONG_MAX / mult || v * mult < s->min || v * mult > s->max) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is out of range (accepted: %s)", label, shown,
                         acc);
            goto out;
        }
        *(size_t *)field = (size_t)(v * mult);
        break;
    case T_ENUM: {
        int idx = list_index(s->values, val);
        if (idx < 0) {
            rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not one of %s", label, shown, s->values);
            goto out;
        }
        memcpy(field, &idx, sizeof(idx));
        break;
    }
    }
out:
    return rc;
}

/* Writes the value of s in base as text (NULL strings as ""). */
static void setting_format(const struct setting *s, const void *base, char *out, size_t size)
{
    const void *field = cfield_of(s, base);
    int idx;

    switch (s->type) {
    case T_STRING: {
        const char *str = *(char *const *)field;
        snprintf(out, size, "%s", str != NULL ? str : "");
        break;
    }
    case T_BOOL:
        snprintf(out, size, "%s", *(const bool *)field ? "true" : "false");
        break;
    case T_UINT:
        snprintf(out, size, "%u", *(const unsigned *)field);
        break;
    case T_PORT:
        snprintf(out, size, "%u", (unsigned)*(const uint16_t *)field);
        break;
    case T_SIZE:
        snprintf(out, size, "%zu", *(const size_t *)field);
        break;
    case T_ENUM:
        memcpy(&idx, field, sizeof(idx));
        list_item(s->values, idx, out, size);
        break;
    }
}

/* Rewrites the URL in value (size bytes) with its userinfo redacted. */
static void redact_userinfo(char *value, size_t size)
{
    char tmp[STRING_MAX + 1];

    snprintf(tmp, sizeof(tmp), "%s", value);
    mw_url_redact(tmp, value, size);
}

/* ---- the layers ------------------------------------------------------------------------------ */

/* Frees the strings of a settings struct and leaves them NULL. */
static void table_fini(const struct setting *tab, size_t n, void *base)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (tab[i].type == T_STRING) {
            char **p = field_of(&tab[i], base);
            free(*p);
            *p = NULL;
        }
    }
}

/* Applies the MODELWRAP_* entries of envp (all of them, or only `only` when non-NULL); *hit is set
 * when `only` was found. Unknown MODELWRAP_ names are errors. */
static int apply_env(const struct setting *tab, size_t n, void *base, char **envp,
                     const struct setting *only, bool *hit, struct mw_error *e)
{
    size_t i;
    int rc = 0;

    for (i = 0; envp != NULL && envp[i] != NULL; i++) {
        const char *entry = envp[i];
        const char *eq = strchr(entry, '=');
        const struct setting *s;
        char label[64];

        if (eq == NULL || !has_prefix(entry, ENV_PREFIX))
            continue;
        s = find_by_env(tab, n, entry, (size_t)(eq - entry));
        if (s == NULL) {
            char name[SHOW_MAX + 4];
            char *cut = strndup(entry, (size_t)(eq - entry));
            if (cut == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "environment: out of memory");
                goto out;
            }
            show(cut, name);
            free(cut);
            rc =
                mw_fail(e, MWE_CONFIG, "%s: unknown setting in the environment (see --help)", name);
            goto out;
        }
        if (only != NULL && s != only)
            continue;
        snprintf(label, sizeof(label), ENV_PREFIX "%s", s->name);
        rc = setting_set(s, base, label, eq + 1, e);
        if (rc != 0)
            goto out;
        if (hit != NULL)
            *hit = true;
    }
out:
    return rc;
}

/* Applies the flags argv[first..argc) (all, or only `only` when non-NULL); *hit is set when `only`
 * was found. "--name value", "--name=value"; a bool flag followed by another flag or the end means
 * true. Unknown flags and other arguments are errors. */
static int apply_flags(const struct setting *tab, size_t n, void *base, int argc, char **argv,
                       int first, const struct setting *only, bool *hit, struct mw_error *e)
{
    char shown[SHOW_MAX + 4];
    int i;
    int rc = 0;

    for (i = first < 0 ? 0 : first; i < argc && argv != NULL && argv[i] != NULL; i++) {
        const char *arg = argv[i];
        const char *name;
        const char *eq;
        const char *val;
        const struct setting *s = NULL;
        size_t name_len;
        size_t k;
        char label[64];

        if (!has_prefix(arg, "--") || arg[2] == '\0') {
            show(arg, shown);
            rc = mw_fail(e, MWE_CONFIG,
                         "'%s': unexpected argument (settings are --name VALUE or --name=VALUE)",
                         shown);
            goto out;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        for (k = 0; k < n && s == NULL; k++)
            if (flag_matches(&tab[k], name, name_len))
                s = &tab[k];
        if (s == NULL) {
            char *cut = strndup(arg, name_len + 2);
            if (cut == NULL) {
                rc = mw_fail(e, MWE_CONFIG, "flags: out of memory");
                goto out;
            }
            show(cut, shown);
            free(cut);
            rc = mw_fail(e, MWE_CONFIG, "%s: unknown flag (see --help)", shown);
            goto out;
        }
        flag_name(s, label, sizeof(label));
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc && argv[i + 1] != NULL && !has_prefix(argv[i + 1], "--")) {
            val = argv[++i];
        } else if (s->type == T_BOOL) {
            val = "true";
        } else {
            char acc[128];
            accepted(s, acc, sizeof(acc));
            rc = mw_fail(e, MWE_CONFIG, "%s: missing value (accepted: %s)", label, acc);
            goto out;
        }
        if (only != NULL && s != only)
            continue;
        rc = setting_set(s, base, label, val, e);
        if (rc != 0)
            goto out;
        if (hit != NULL)
            *hit = true;
    }
out:
    return rc;
}


struct envfile_ctx {
    const struct setting *tab;
    size_t n;
    void *base;
    const char *shown_path; /* for messages: ".env" for "./.env" */
    struct mw_error *e;
    bool cb_failed; /* the error in e comes from the callback, already labelled */
};

/* Applies one KEY=VALUE of the .env file: MODELWRAP_ names must be known settings. */
static int envfile_assign(const char *key, const char *value, size_t line, void *vctx)
{
    struct envfile_ctx *ctx = vctx;
    const struct setting *s;
    char label[192];
    char name[SHOW_MAX + 4];
    int rc = 0;

    if (!has_prefix(key, ENV_PREFIX))
        goto out;
    s = find_by_env(ctx->tab, ctx->n, key, strlen(key));
    show(key, name);
    if (s == NULL) {
        rc = mw_fail(ctx->e, MWE_CONFIG, "%s line %zu: %s: unknown setting (see --help)",
                     ctx->shown_path, line, name);
        goto out_failed;
    }
    if (s->flags & F_META) {
        char flag[64];
        flag_name(s, flag, sizeof(flag));
        rc = mw_fail(ctx->e, MWE_CONFIG,
                     "%s line %zu: %s: cannot be set in a .env file (use the environment or %s)",
                     ctx->shown_path, line, name, flag);
        goto out_failed;
    }
    snprintf(label, sizeof(label), "%s line %zu: %s", ctx->shown_path, line, name);
    rc = setting_set(s, ctx->base, label, value, ctx->e);
    if (rc != 0)
        goto out_failed;
    goto out;
out_failed:
    ctx->cb_failed = true;
out:
    return rc;
}

/* Reads and applies the .env file named by the F_META setting ef. explicit: named by the
 * environment or a flag (then a missing file is an error); label names that source. */
static int apply_env_file(const struct setting *tab, size_t n, void *base, const struct setting *ef,
                          bool explicit, const char *label, struct mw_error *e)
{
    const char *path = *(char **)field_of(ef, base);
    char shown_path[SHOW_MAX + 4];
    char reason[128];
    struct envfile_ctx ctx;
    char *text = NULL;
    size_t len = 0;
    int err;
    int rc = 0;

    if (path == NULL)
        goto out;
    show(has_prefix(path, "./") && path[2] != '\0' ? path + 2 : path, shown_path);
    err = mw_file_read(path, ENV_FILE_MAX, 0, &text, &len);
    if (err == ENOENT && !explicit)
        goto out;
    if (err == EFBIG) {
        show(path, shown_path);
        rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is larger than %d bytes", label, shown_path,
                     ENV_FILE_MAX);
        goto out;
    }
    if (err != 0) {
        show(path, shown_path);
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot read '%s': %s", label, shown_path,
                     strerror_r(err, reason, sizeof(reason)));
        goto out;
    }
    ctx = (struct envfile_ctx){tab, n, base, shown_path, e, false};
    rc = dotenv_scan(text, len, envfile_assign, &ctx, e);
    if (rc != 0 && !ctx.cb_failed && e != NULL) {
        /* e says "line 3: ..." from the parser: name the file too. */
        char msg[sizeof(e->msg)];
        memcpy(msg, e->msg, sizeof(msg));
        mw_fail(e, rc, "%s %s", shown_path, msg);
    }
out:
    free(text);
    return rc;
}

/* Loads a settings struct (zeroed by the caller) from the table: defaults < .env < environment <
 * flags. On error the struct is freed again. */
static int table_load(const struct setting *tab, size_t n, void *base, int argc, char **argv,
                      int first, char **envp, struct mw_error *e)
{
    const struct setting *ef = NULL;
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        char label[64];
        if (tab[i].def == NULL)
            continue;
        snprintf(label, sizeof(label), "default of " ENV_PREFIX "%s", tab[i].name);
        rc = setting_set(&tab[i], base, label, tab[i].def, e);
        if (rc != 0)
            goto out;
    }
    for (i = 0; i < n; i++)
        if (tab[i].flags & F_META)
            ef = &tab[i];
    if (ef != NULL) {
        /* The .env path comes first, from the environment and flags only. */
        bool by_env = false;
        bool by_flag = false;
        char label[64];

        rc = apply_env(tab, n, base, envp, ef, &by_env, e);
        if (rc != 0)
            goto out;
        rc = apply_flags(tab, n, base, argc, argv, first, ef, &by_flag, e);
        if (rc != 0)
            goto out;
        if (by_flag)
            flag_name(ef, label, sizeof(label));
        else
            snprintf(label, sizeof(label), ENV_PREFIX "%s", ef->name);
        rc = apply_env_file(tab, n, base, ef, by_env || by_flag, label, e);
        if (rc != 0)
            goto out;
    }
    rc = apply_env(tab, n, base, envp, NULL, NULL, e);
    if (rc != 0)
        goto out;
    rc = apply_flags(tab, n, base, argc, argv, first, NULL, NULL, e);
out:
    if (rc != 0)
        table_fini(tab, n, base);
    return rc;
}

static void table_print(const struct setting *tab, size_t n, const void *base, FILE *out)
{
    char value[STRING_MAX + 1];
    size_t i;

    for (i = 0; i < n; i++) {
        setting_format(&tab[i], base, value, sizeof(value));
        if (tab[i].flags & F_USERINFO)
            redact_userinfo(value, sizeof(value));
        if ((tab[i].flags & F_SECRET) && value[0] != '\0')
            fprintf(out, ENV_PREFIX "%s=<redacted>\n", tab[i].name);
        else
            fprintf(out, ENV_PREFIX "%s=%s\n", tab[i].name, value);
    }
}

/* ---- public ---------------------------------------------------------------------------------- */

/* Fills cfg (overwritten, not freed first) from defaults, the .env file, envp, argv[first_arg..].
 * Owns nothing passed in; cfg's strings are owned by cfg until config_fini. Reentrant: no global
 * state, call from any thread (normally the main thread at start-up and reload). Returns 0, or
 * MWE_CONFIG with one line in e naming the source, the value and what is accepted; cfg is then
 * already freed (all strings NULL). */
int config_load(struct config *cfg, int argc, char **argv, int first_arg, char **envp,
                struct mw_error *e)
{
    memset(cfg, 0, sizeof(*cfg));
    return table_load(settings, MW_ARRAY_LEN(settings), cfg, argc, argv, first_arg, envp, e);
}

/* Frees cfg's strings and leaves them NULL; safe to call twice. Main thread, no errors. */
void config_fini(struct config *cfg)
{
    table_fini(settings, MW_ARRAY_LEN(settings), cfg);
}

/* Writes MODELWRAP_NAME=value for every setting in table order (secrets as "<redacted>", unset
 * strings empty). All lines but MODELWRAP_ENV_FILE's read back as a .env file give the same
 * configuration. Borrows cfg and out; any thread. */
void config_print(const struct config *cfg, FILE *out)
{
    table_print(settings, MW_ARRAY_LEN(settings), cfg, out);
}

/* ---- metrics, tracing, docs ---- */

/* Position of each setting in the table, to pass its key and value to log_msg by name. */
#define LOG_INDEX(NAME, field, type, def, min, max, values, flags, help) LOG_IDX_##NAME,
enum { CONFIG_SETTINGS(LOG_INDEX) LOG_N_SETTINGS };
#undef LOG_INDEX
#define LOG_VALUE_MAX 1024 /* bytes of one value in the log line (the line is cut at 8 KiB) */

/* See config.h. One line, so that a log pipeline sees the whole configuration at once. Borrows
 * cfg; any thread. Out of memory: a line saying so instead. */
void config_log(const struct config *cfg, int level)
{
    char keys[LOG_N_SETTINGS][64];
    char(*vals)[LOG_VALUE_MAX] = NULL;
    size_t i, j;

    if (!log_enabled(level))
        return;
    vals = calloc(LOG_N_SETTINGS, sizeof(*vals));
    if (vals == NULL) {
        log_msg(level, "configuration", "error", "out of memory", NULL);
        return;
    }
    for (i = 0; i < MW_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        for (j = 0; s->name[j] != '\0' && j + 1 < sizeof(keys[i]); j++)
            keys[i][j] = (s->name[j] >= 'A' && s->name[j] <= 'Z') ? (char)(s->name[j] - 'A' + 'a')
                                                                 : s->name[j];
        keys[i][j] = '\0';
        setting_format(s, cfg, vals[i], sizeof(vals[i]));
        if (s->flags & F_USERINFO)
            redact_userinfo(vals[i], sizeof(vals[i]));
        if ((s->flags & F_SECRET) && vals[i][0] != '\0')
            snprintf(vals[i], sizeof(vals[i]), "<redacted>");
    }
#define LOG_ARG(NAME, field, type, def, min, max, values, flags, help)                              \
    keys[LOG_IDX_##NAME], vals[LOG_IDX_##NAME],
    log_msg(level, "configuration", CONFIG_SETTINGS(LOG_ARG) NULL);
#undef LOG_ARG
    free(vals);
}

/* Writes the settings part of --help: one line per setting with its flag, value shape,
 * environment name, help, default and accepted values. Borrows out; any thread. */
void config_print_help(FILE *out)
{
    size_t flag_w = 0;
    size_t env_w = 0;
    size_t i;

    for (i = 0; i < MW_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        size_t fl = strlen(s->name) + 2 + 1 + 6; /* --name [BOOL] */
        if (s->type == T_ENUM)
            fl = strlen(s->name) + 3 + strlen(s->values);
        if (fl > flag_w)
            flag_w = fl;
        if (ENV_PREFIX_LEN + strlen(s->name) > env_w)
            env_w = ENV_PREFIX_LEN + strlen(s->name);
    }
    fprintf(out, "Settings (precedence: built-in defaults < .env file < environment < flags):\n");
    for (i = 0; i < MW_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        static const char *const shape[] = {
            [T_STRING] = "TEXT", [T_BOOL] = "[BOOL]", [T_UINT] = "N",
            [T_SIZE] = "SIZE",   [T_ENUM] = "",       [T_PORT] = "PORT",
        };
        char flag[64];
        char col[128];
        char env[64];
        char acc[128];

        flag_name(s, flag, sizeof(flag));
        snprintf(col, sizeof(col), "%s %s", flag, s->type == T_ENUM ? s->values : shape[s->type]);
        snprintf(env, sizeof(env), ENV_PREFIX "%s", s->name);
        accepted(s, acc, sizeof(acc));
        fprintf(out, "  %-*s  %-*s  %s (default: %s; accepted: %s)\n", (int)flag_w, col, (int)env_w,
                env, s->help, s->def != NULL ? s->def : "unset", acc);
    }
}

/* Writes the text of .env.example: a header, then for every setting that a .env file may hold a
 * "# help (default: X)" line and a commented "#MODELWRAP_NAME=default" line. The committed
 * .env.example must equal this output (a unit test checks). Borrows out; any thread. */
void config_print_env_example(FILE *out)
{
    size_t i;

    fputs("# modelwrap configuration. Copy this file to .env and uncomment the lines you change.\n"
          "# Precedence: built-in defaults < .env file < environment < command-line flags.\n"
          "# Every MODELWRAP_<NAME> also has a flag --<name-with-dashes>:\n"
          "# MODELWRAP_MAX_BODY_BYTES is --max-body-bytes. Unknown MODELWRAP_* names are errors.\n"
          "# The path of this file is set with MODELWRAP_ENV_FILE or --env-file (default ./.env).\n"
          "# Sizes accept k/m/g suffixes (KiB, MiB, GiB). docs/configuration.md lists the\n"
          "# accepted values.\n"
          "# Generated from src/config/config.c (config_print_env_example): do not edit by hand.\n",
          out);
    for (i = 0; i < MW_ARRAY_LEN(settings); i++) {
        const struct setting *s = &settings[i];
        if (s->flags & F_META)
            continue;
        fprintf(out, "\n# %s (default: %s)\n", s->help, s->def != NULL ? s->def : "unset");
        fprintf(out, "#" ENV_PREFIX "%s=%s\n", s->name, s->def != NULL ? s->def : "");
    }
}
