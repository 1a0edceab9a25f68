/*
 * config: one immutable configuration from built-in defaults < .env file < environment < flags.
 * One table (config.c) defines every setting once: its environment name MODELWRAP_<NAME>, its flag
 * --<name-with-dashes>, type, default, accepted values and help; --help, check-config and
 * .env.example come from it.
 */
#ifndef MW_CONFIG_H
#define MW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

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
    /* ---- model repository: versions, reload (issue 3) ---- */
    /* ---- authentication and authorization (issue 4) ---- */
    /* ---- transport security: TLS, proxies, CORS, abuse limits (issue 5) ---- */
    /* ---- SLA, rate limits, shared quotas (issue 6) ---- */
    /* ---- audit trail, security events (issue 7) ---- */
    /* ---- metrics, tracing, docs (issue 8) ---- */
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

/* The .env parser, exposed for tests and the fuzzer. Parses `len` bytes of `text` (KEY=VALUE lines;
 * '#' comments; optional "export "; values optionally in single quotes (literal) or double quotes
 * (\n \" \\ escapes); trailing spaces trimmed on unquoted values; inline " #" comment after an
 * unquoted value). Calls cb(key, value, ctx) for each assignment with NUL-terminated copies valid
 * during the call; a non-zero return from cb stops and is returned. Malformed lines return MWE_CONFIG
 * with e naming the line number. Never reads past len. */
typedef int (*dotenv_cb)(const char *key, const char *value, void *ctx);
int dotenv_parse(const char *text, size_t len, dotenv_cb cb, void *ctx, struct mw_error *e);

#endif /* MW_CONFIG_H */
