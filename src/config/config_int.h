/*
 * config_int.h: private to src/config: the settings table and the helpers its three users
 * (settings.c, load.c, print.c) share. Nobody outside src/config includes it.
 */
#ifndef MW_CONFIG_INT_H
#define MW_CONFIG_INT_H

#include "config/config.h"

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

#define ENV_PREFIX "MODELWRAP_"
#define ENV_PREFIX_LEN (sizeof(ENV_PREFIX) - 1)
#define STRING_MAX 4096            /* bytes of a string setting */
#define ENV_FILE_MAX (1024 * 1024) /* bytes of a .env file */
#define SHOW_MAX 48                /* bytes of a bad value quoted in an error */
#define BOOL_VALUES "true|false|1|0|yes|no|on|off"

#define CONFIG_COUNT_ROW(NAME, field, type, def, min, max, values, flags, help) +1
#define CONFIG_N_SETTINGS (0 CONFIG_SETTINGS(CONFIG_COUNT_ROW))

/* The table, one row per CONFIG_SETTINGS line, in its order (settings.c). */
extern const struct setting config_settings[CONFIG_N_SETTINGS];

/* Writes "--max-body-bytes" for "MAX_BODY_BYTES" into out (size bytes). */
void setting_flag_name(const struct setting *s, char *out, size_t size);
/* Copies at most SHOW_MAX bytes of v for an error message: control bytes become '?', a cut value
 * ends in "...". out must hold SHOW_MAX + 4 bytes. */
void setting_show(const char *v, char *out);
/* What s accepts, as shown in errors, --help and the docs ("0-65535", "json|cef"). */
void setting_accepted(const struct setting *s, char *out, size_t size);
/* The field of s inside the settings struct at base. */
void *setting_field(const struct setting *s, void *base);
/* Parses and validates val for s into its field at base; label names the source in errors
 * ("MODELWRAP_PORT", "--port", ".env line 3: MODELWRAP_PORT"). 0 or MWE_CONFIG with e. */
int setting_set(const struct setting *s, void *base, const char *label, const char *val,
                struct mw_error *e);
/* The value of s at base as text (what setting_set reads back), "" when unset. */
void setting_format(const struct setting *s, const void *base, char *out, size_t size);

#endif /* MW_CONFIG_INT_H */
