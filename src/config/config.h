/*
 * config: one immutable configuration from built-in defaults < .env file < environment < flags.
 * One table (CONFIG_SETTINGS, config_int.h) defines every setting once: its environment name
 * MODELWRAP_<NAME>, its flag --<name-with-dashes>, type, default, accepted values and help;
 * --help, check-config and .env.example come from it.
 */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "config/dotenv.h"

enum auth_mode { AUTH_REQUIRED = 0, AUTH_NONE = 1 };
enum io_model { IO_REUSEPORT = 0, IO_POOL = 1 };

struct config {
    /* listen */
    char *host;                 /* MODELWRAP_HOST, "127.0.0.1" */
    uint16_t port;              /* MODELWRAP_PORT, 8000 (0: ephemeral, the bound port is logged) */
    unsigned threads;           /* MODELWRAP_THREADS, 0 = one per core */
    enum io_model io_model;     /* MODELWRAP_IO_MODEL, "reuseport" | "pool" */
    /* models */
    char *models_dir;           /* MODELWRAP_MODELS, "./models" */
    char *default_model;        /* MODELWRAP_DEFAULT_MODEL, NULL = the only model, else "iris" */
    char *model_dir;            /* MODELWRAP_MODEL_DIR, unset: serve the repository models_dir */
    char *model_name;           /* MODELWRAP_MODEL_NAME, unset: model_dir's model.json name */
    unsigned model_workers;     /* MODELWRAP_MODEL_WORKERS, 0 (default for models whose model.json says nothing) */
    unsigned model_queue_size;  /* MODELWRAP_MODEL_QUEUE_SIZE, 1024 */
    unsigned model_timeout_ms;  /* MODELWRAP_MODEL_TIMEOUT_MS, 30000 */
    unsigned max_records;       /* MODELWRAP_MAX_RECORDS, 10000 */
    /* limits */
    size_t max_body_bytes;      /* MODELWRAP_MAX_BODY_BYTES, 1048576 */
    size_t max_header_bytes;    /* MODELWRAP_MAX_HEADER_BYTES, 16384 (431 above) */
    unsigned max_connections;   /* MODELWRAP_MAX_CONNECTIONS, 1024 */
    unsigned max_connections_per_ip; /* MODELWRAP_MAX_CONNECTIONS_PER_IP, 256 */
    unsigned idle_timeout_s;    /* MODELWRAP_IDLE_TIMEOUT, 30 (seconds) */
    unsigned drain_timeout_s;   /* MODELWRAP_DRAIN_TIMEOUT, 10 (seconds) */
    /* logs */
    int log_level;              /* MODELWRAP_LOG_LEVEL, "info": enum log_level */
    /* ---- model repository: versions, reload ---- */
    /* ---- authentication and authorization ---- */
    enum auth_mode auth;        /* MODELWRAP_AUTH, "required" | "none" (loopback only) */
    bool auth_none_behind_proxy; /* MODELWRAP_AUTH_NONE_BEHIND_PROXY, false */
    char *api_keys_file;        /* MODELWRAP_API_KEYS_FILE, "./keys.json" (NULL: no API keys) */
    char *jwt_issuer;           /* MODELWRAP_JWT_ISSUER, unset: no JWT bearer tokens */
    char *jwt_audience;         /* MODELWRAP_JWT_AUDIENCE, unset */
    char *jwks_uri;             /* MODELWRAP_JWKS_URI, unset: discovery from the issuer */
    char *jwks_file;            /* MODELWRAP_JWKS_FILE, unset */
    unsigned jwt_max_lifetime;  /* MODELWRAP_JWT_MAX_LIFETIME, 86400 (seconds, 1-86400) */
    unsigned jwt_leeway;        /* MODELWRAP_JWT_LEEWAY, 60 (seconds of clock skew) */
    char *jwt_algorithms;       /* MODELWRAP_JWT_ALGORITHMS, the asymmetric allow-list */
    char *jwt_hs256_secret_file; /* MODELWRAP_JWT_HS256_SECRET_FILE, unset (a secret) */
    char *jwt_roles_claim;      /* MODELWRAP_JWT_ROLES_CLAIM, unset: roles grant nothing */
    unsigned jwks_cache_ttl;    /* MODELWRAP_JWKS_CACHE_TTL, 3600 (seconds) */
    unsigned jwks_refresh_interval; /* MODELWRAP_JWKS_REFRESH_INTERVAL, 30 (seconds) */
    unsigned auth_failure_limit;  /* MODELWRAP_AUTH_FAILURE_LIMIT, 20 (0: never block) */
    unsigned auth_failure_window; /* MODELWRAP_AUTH_FAILURE_WINDOW, 60 (seconds) */
    unsigned auth_block_time;     /* MODELWRAP_AUTH_BLOCK_TIME, 300 (seconds) */
    /* ---- transport security: TLS, proxies, CORS, abuse limits ---- */
    char *tls_cert;             /* MODELWRAP_TLS_CERT, unset: plain HTTP */
    char *tls_key;              /* MODELWRAP_TLS_KEY, unset */
    char *tls_client_ca;        /* MODELWRAP_TLS_CLIENT_CA, unset: no mutual TLS */
    enum tls_client_auth { TLS_CLIENT_REQUIRED = 0, TLS_CLIENT_OPTIONAL = 1 }
        tls_client_auth;        /* MODELWRAP_TLS_CLIENT_AUTH, "required" | "optional" */
    char *tls_client_scopes;    /* MODELWRAP_TLS_CLIENT_SCOPES, "predict,read" */
    char *tls_priorities;       /* MODELWRAP_TLS_PRIORITIES, TLS 1.2+1.3, FS AEAD suites */
    unsigned hsts_max_age;      /* MODELWRAP_HSTS_MAX_AGE, 31536000 (0: no HSTS header) */
    bool allow_plaintext;       /* MODELWRAP_ALLOW_PLAINTEXT, false */
    char *trusted_proxies;      /* MODELWRAP_TRUSTED_PROXIES, unset: believe no forwarding header */
    enum proxy_header_mode { PROXY_HEADER_XFF = 0, PROXY_HEADER_FORWARDED = 1 }
        proxy_header;           /* MODELWRAP_PROXY_HEADER, "x-forwarded-for" | "forwarded" */
    char *cors_origins;         /* MODELWRAP_CORS_ORIGINS, unset: no CORS */
    bool cors_credentials;      /* MODELWRAP_CORS_CREDENTIALS, false */
    size_t max_uri_bytes;       /* MODELWRAP_MAX_URI_BYTES, 8192 (414 above) */
    unsigned receive_timeout_s; /* MODELWRAP_RECEIVE_TIMEOUT, 30: headers + body deadline */
    unsigned max_json_depth;    /* MODELWRAP_MAX_JSON_DEPTH, 32 */
    unsigned max_json_elements; /* MODELWRAP_MAX_JSON_ELEMENTS, 1000000 */
    /* ---- SLA, rate limits, shared quotas ---- */
    char *rate_limit;           /* MODELWRAP_RATE_LIMIT, "100/s" (rate_parse syntax) or "off" */
    unsigned rate_burst;        /* MODELWRAP_RATE_BURST, 100 */
    unsigned rate_table_size;   /* MODELWRAP_RATE_TABLE_SIZE, 65536 consumers tracked locally */
    unsigned max_concurrency;   /* MODELWRAP_MAX_CONCURRENCY, 0 = no limit */
    char *redis_url;            /* MODELWRAP_REDIS_URL, unset: limits are per process */
    int redis_failure_mode;     /* MODELWRAP_REDIS_FAILURE_MODE, "fail-open" | "fail-closed" */
    unsigned redis_replicas;    /* MODELWRAP_REDIS_REPLICAS, 1 */
    unsigned redis_connect_timeout_ms; /* MODELWRAP_REDIS_CONNECT_TIMEOUT_MS, 200 */
    unsigned redis_timeout_ms;  /* MODELWRAP_REDIS_TIMEOUT_MS, 50 */
    char *redis_prefix;         /* MODELWRAP_REDIS_PREFIX, "modelwrap:rl:" */
    char *sla_support_hours;    /* MODELWRAP_SLA_SUPPORT_HOURS, "Mon-Fri 09:00-17:00 UTC" */
    char *sla_availability;     /* MODELWRAP_SLA_AVAILABILITY, "99.9" (percent) */
    unsigned sla_response_time_ms; /* MODELWRAP_SLA_RESPONSE_TIME_MS, 500 (p99 target) */
    char *sla_outages;          /* MODELWRAP_SLA_OUTAGES, unset: no scheduled outage */
    char *sla_contact_name;     /* MODELWRAP_SLA_CONTACT_NAME, unset */
    char *sla_contact_email;    /* MODELWRAP_SLA_CONTACT_EMAIL, unset */
    char *sla_contact_url;      /* MODELWRAP_SLA_CONTACT_URL, unset */
    /* ---- audit trail, security events ---- */
    char *audit_log;            /* MODELWRAP_AUDIT_LOG, "stdout": sinks, comma-separated */
    int audit_format;           /* MODELWRAP_AUDIT_FORMAT, "json" | "cef": enum audit_format */
    int audit_policy;           /* MODELWRAP_AUDIT_POLICY, "block" | "fail-closed" */
    unsigned audit_queue_size;  /* MODELWRAP_AUDIT_QUEUE_SIZE, 4096 records */
    int audit_fsync;            /* MODELWRAP_AUDIT_FSYNC, "never" | "always" | "interval" */
    unsigned audit_fsync_interval_ms; /* MODELWRAP_AUDIT_FSYNC_INTERVAL_MS, 1000 */
    unsigned audit_flush_timeout_s;   /* MODELWRAP_AUDIT_FLUSH_TIMEOUT, 10 (seconds) */
    char *audit_security_log;   /* MODELWRAP_AUDIT_SECURITY_LOG, unset: no extra event sinks */
    char *audit_business_hours; /* MODELWRAP_AUDIT_BUSINESS_HOURS, unset: no after-hours events */
    char *audit_timezone;       /* MODELWRAP_AUDIT_TIMEZONE, "UTC" */
    size_t audit_large_request_bytes;     /* MODELWRAP_AUDIT_LARGE_REQUEST_BYTES, 524288 (0: off) */
    unsigned audit_large_request_records; /* MODELWRAP_AUDIT_LARGE_REQUEST_RECORDS, 1000 (0: off) */
    unsigned audit_auth_failures;  /* MODELWRAP_AUDIT_AUTH_FAILURES, 10 per window (0: off) */
    unsigned audit_probe_404s;     /* MODELWRAP_AUDIT_PROBE_404S, 20 per window (0: off) */
    unsigned audit_burst_window_s; /* MODELWRAP_AUDIT_BURST_WINDOW, 60 (seconds) */
    unsigned audit_event_dedup_window_s; /* MODELWRAP_AUDIT_EVENT_DEDUP_WINDOW, 300 (seconds) */
    unsigned audit_events_per_minute;    /* MODELWRAP_AUDIT_EVENTS_PER_MINUTE, 60 */
    /* ---- metrics, tracing, docs ---- */
    uint16_t metrics_port;      /* MODELWRAP_METRICS_PORT, 0: no separate metrics listener */
    char *docs_dir;             /* MODELWRAP_DOCS_DIR, "./web" (NULL: no /docs) */
    /* ---- egress proxy, version lifecycle ---- */
    char *egress_proxy;         /* MODELWRAP_EGRESS_PROXY, unset: https_proxy/HTTPS_PROXY or none */
    char *legacy_deprecation;   /* MODELWRAP_LEGACY_DEPRECATION, unset: template routes not deprecated */
    char *legacy_sunset;        /* MODELWRAP_LEGACY_SUNSET, unset: no Sunset header */
    /* where the rest came from */
    char *env_file;             /* MODELWRAP_ENV_FILE, "./.env" (NULL: none); from env/flag only */
};

/*
 * Builds the configuration: defaults, then the .env file (path from --env-file / MODELWRAP_ENV_FILE,
 * default "./.env"; a missing default file is fine, a missing named one is an error), then the
 * environment (envp, MODELWRAP_* names), then flags from argv[first_arg..] ("--port 8080" or
 * "--port=8080"). Unknown flags and MODELWRAP_ names are errors (a typo must not be ignored).
 * On error returns MWE_CONFIG and fills e with one line naming the setting, the bad value and the
 * accepted values, e.g. "MODELWRAP_PORT: 'abc' is not a port (accepted: 0-65535)". cfg is then
 * freed.
 */
int config_load(struct config *cfg, int argc, char **argv, int first_arg, char **envp,
                struct mw_error *e);
void config_fini(struct config *cfg);

/* Writes every setting as NAME=value lines (secrets as "<redacted>"), in table order. */
void config_print(const struct config *cfg, FILE *out);
/* Writes the flags help (one line per setting: --flag VALUE, env name, default, help). */
void config_print_help(FILE *out);
/* Writes .env.example contents: a commented block per setting. */
void config_print_env_example(FILE *out);
/* ---- metrics, tracing, docs ---- */
/* Writes the effective configuration as one operational log line at `level`, msg
 * "configuration", one field per setting named like the setting in lower case ("max_body_bytes");
 * secrets as "<redacted>" (config_print's redaction). Any thread. */
void config_log(const struct config *cfg, int level);

#endif /* MW_CONFIG_H */
