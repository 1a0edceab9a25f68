/*
 * modelwrap's command line: `serve` (the default), `check-config`, `version`, `help`. The only
 * file outside the library: it wires config -> models -> api -> http and owns the signals.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "api/api.h"
#include "audit/audit.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/core.h"
#include "http/http.h"
#include "model/model.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: modelwrap [serve] [--flag value ...]\n"
            "       modelwrap check-config [--flag value ...]\n"
            "       modelwrap env-example      (prints .env.example: every setting, documented)\n"
            "       modelwrap keys create|list|revoke ...   (API keys; `modelwrap keys help`)\n"
            "       modelwrap openapi [--flag value ...]  (prints the OpenAPI document)\n"
            "       modelwrap compliance [--format text|json] [--flag value ...]\n"
            "                          (the Standards on APIs checklist; docs/compliance.md)\n"
            "       modelwrap sbom [--check TRACKER.json] [--flag value ...]\n"
            "                          (CycloneDX 1.5 inventory; vulnerability check)\n"
            "       modelwrap audit report [--since 7d] [--format text|json|csv] FILE...\n"
            "       modelwrap init python|sklearn|plugin NAME [--dir PARENT]  (a new model folder)\n"
            "       modelwrap test-model DIR [--reference FILE]  (runs DIR/reference.json)\n"
            "       modelwrap version\n"
            "       modelwrap help\n\n"
            "Serves the models of a model repository over HTTP. Every setting is a flag, an\n"
            "environment variable MODELWRAP_<NAME> or a line of the .env file (flags win over\n"
            "the environment, which wins over .env, which wins over the defaults).\n\n"
            "Settings:\n");
    config_print_help(out);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits until no request is in flight or deadline_ns passes; true when drained. */
static bool wait_drained(const struct http_server *s, uint64_t deadline_ns)
{
    while (http_server_inflight(s) > 0) {
        if (time_mono_ns() >= deadline_ns)
            return false;
        sleep_ms(5);
    }
    return true;
}

static void log_models(const struct registry *reg)
{
    log_kv(LOG_INFO, "models ready", "#count", (long long)registry_count(reg), "default",
           registry_default(reg) ? model_get_name(registry_default(reg)) : NULL, NULL);
}

static int cmd_serve(int argc, char **argv, int first)
{
    struct config cfg;
    struct mw_error e = {0};
    struct registry *reg = NULL;
    struct http_server *srv = NULL;
    struct model_opts defaults;
    struct api api;
    /* ---- model repository: the pool frees released models off the I/O threads ---- */
    struct model_pool *pool = NULL;
    /* ---- metrics listener: MODELWRAP_METRICS_PORT ---- */
    struct http_server *msrv = NULL;
    struct config mcfg;
    struct http_app mapp;
    struct audit *audit = NULL;
    sigset_t sigs;
    int sig = 0, ret = 1;
    uint64_t t0 = time_mono_ns();

    if (config_load(&cfg, argc, argv, first, environ, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        return 2;
    }
    log_set_level(cfg.log_level);

    /* Signals are taken synchronously by this thread only: block them before any thread starts
     * so that every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* ---- audit trail: before any other thread starts (it sets TZ once) ---- */
    audit = audit_new(&cfg, &e);
    if (!audit) {
        log_msg(LOG_ERROR, "cannot start the audit trail", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_config;
    }
    /* Python models' worker deaths become security events (before any model loads). */
    model_set_event_hook(api_model_event, audit);

    cli_model_defaults(&cfg, &defaults);
    pool = model_pool_new(&e);
    reg = pool ? cli_open_models(&cfg, &defaults, pool, &e) : NULL;
    if (!reg) {
        log_msg(LOG_ERROR, "cannot load the model repository", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_config;
    }
    log_models(reg);
    api_compliance_log(&cfg, reg); /* one warning per checklist item not met */

    api_init(&api, &cfg, reg);
    api.audit = audit;
    /* ---- authentication ---- */
    api.auth = auth_new(&cfg, &e);
    if (!api.auth) {
        log_msg(LOG_ERROR, "cannot set up authentication", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_registry;
    }
    /* ---- SLA, limits ---- */
    if (api_limits_init(&api, &e) != 0) {
        log_msg(LOG_ERROR, "invalid SLA or limit settings", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_registry;
    }
    /* ---- version lifecycle of the template routes, the inventory's cache ---- */
    if (api_lifecycle_init(&api, &e) != 0 || api_sbom_init(&api, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_registry;
    }
    /* ---- metrics, OpenAPI, docs, metrics listener ---- */
    if (api_obs_init(&api, &e) != 0) {
        log_msg(LOG_ERROR, "cannot prepare metrics and the OpenAPI document", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_registry;
    }
    if (cfg.metrics_port != 0) {
        /* A second, small listener with GET /metrics only and no authentication: the same
         * address and transport settings on its own port, one thread. */
        mcfg = cfg;
        mcfg.port = cfg.metrics_port;
        mcfg.threads = 1;
        mcfg.io_model = IO_POOL;
        api_metrics_app(&api, &mapp);
        msrv = http_server_new(&mcfg, &mapp, &e);
        if (!msrv) {
            log_msg(LOG_ERROR, "cannot start the metrics listener", "error", e.msg, NULL);
            fprintf(stderr, "modelwrap: MODELWRAP_METRICS_PORT: %s\n", e.msg);
            goto out_registry;
        }
        log_kv(LOG_INFO, "metrics listening", "host", cfg.host, "#port",
               (long long)http_server_port(msrv), NULL);
    }
    srv = http_server_new(&cfg, &api.app, &e);
    if (!srv) {
        log_msg(LOG_ERROR, "cannot start the HTTP server", "error", e.msg, NULL);
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_registry;
    }
    /* Published before "listening": whoever reads that line may scrape at once. */
    api.server = srv;            /* the in-flight gauge */
    if (log_buffer_start() != 0) /* request lines buffered per thread */
        log_msg(LOG_WARN, "request log lines are written one by one", NULL);
    log_kv(LOG_INFO, "listening", "host", cfg.host, "#port", (long long)http_server_port(srv),
           "io_model", cfg.io_model == IO_POOL ? "pool" : "reuseport", "#startup_us",
           (long long)((time_mono_ns() - t0) / 1000), "version", MW_VERSION, NULL);

    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_msg(LOG_INFO, "SIGHUP received: reloading", NULL);
            /* ---- reload: models , API keys , TLS certificate ,
             * audit files ---- */
            if (api_reload(&api, REPO_RESCAN, NULL, 0, &e) != 0) /* all stay as they are */
                log_msg(LOG_ERROR, "model repository not reloaded", "error", e.msg, NULL);
            else if (e.code != 0) /* refused models keep their loaded versions */
                log_msg(LOG_WARN, "model repository reloaded, some models refused", "error", e.msg,
                        NULL);
            audit_reopen(audit);   /* rotated audit files */
            auth_reload(api.auth); /* key file, JWKS file, JWKS refetch */
            if (http_server_reload_tls(srv, &e) != 0) /* the old certificate stays */
                log_msg(LOG_ERROR, "TLS certificate not reloaded", "error", e.msg, NULL);
            if (msrv && http_server_reload_tls(msrv, &e) != 0) /* metrics listener */
                log_msg(LOG_ERROR, "TLS certificate of the metrics listener not reloaded", "error",
                        e.msg, NULL);
            continue;
        }
        break;
    }

    /* Graceful shutdown: stop accepting, let in-flight requests finish within the drain
     * timeout, then stop the model workers (which answer whatever is still queued) and the
     * daemons. Suspended connections must all be resumed before MHD_stop_daemon. */
    log_kv(LOG_INFO, "shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", "#inflight",
           (long long)http_server_inflight(srv), NULL);
    http_server_quiesce(srv);
    bool drained =
        wait_drained(srv, time_mono_ns() + (uint64_t)cfg.drain_timeout_s * 1000000000ull);
    model_pool_shutdown(pool); /* every live model, of any snapshot still in use */
    if (!drained)
        wait_drained(srv, time_mono_ns() + 1000000000ull);
    log_buffer_stop(); /* every request line before "stopped" */
    log_kv(LOG_INFO, "stopped", "drained", drained ? "true" : "false", "#inflight",
           (long long)http_server_inflight(srv), NULL);
    audit_shutdown(audit); /* the last records wait at most the flush timeout */
    http_server_free(srv);
    ret = 0;

out_registry:
    http_server_free(msrv); /* NULL when none */
    api_obs_fini(&api);     /* after the servers stopped */
    auth_free(api.auth);    /* after the servers stopped */
    api_limits_fini(&api);  /* after the servers stopped */
    api_lifecycle_fini(&api);
    api_sbom_fini(&api);
    api_fini(&api); /* the current snapshot (reg may have been replaced by reloads) */
out_config:
    model_pool_free(pool); /* after the reaper freed every released model */
    model_set_event_hook(NULL, NULL);
    audit_free(audit);     /* after every server stopped: writes every queued record */
    config_fini(&cfg);
    return ret;
}

static int cmd_check_config(int argc, char **argv, int first)
{
    struct config cfg;
    struct mw_error e = {0};
    struct model_opts defaults;
    struct registry *reg;

    if (config_load(&cfg, argc, argv, first, environ, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        return 2;
    }
    config_print(&cfg, stdout);
    log_set_level(LOG_WARN);
    /* ---- authentication ---- */
    if (auth_config_check(&cfg, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        config_fini(&cfg);
        return 2;
    }
    /* ---- SLA, limits ---- */
    if (api_sla_check(&cfg, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        config_fini(&cfg);
        return 2;
    }
    if (api_lifecycle_check(&cfg, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        config_fini(&cfg);
        return 2;
    }
    /* ---- audit trail ---- */
    if (audit_config_check(&cfg, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        config_fini(&cfg);
        return 2;
    }
    cli_model_defaults(&cfg, &defaults);
    reg = cli_open_models(&cfg, &defaults, NULL, &e);
    if (!reg) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        config_fini(&cfg);
        return 2;
    }
    printf("# models: %zu loaded from %s", registry_count(reg), registry_get_dir(reg));
    if (registry_default(reg))
        printf(", default '%s'", model_get_name(registry_default(reg)));
    printf("\n# configuration OK\n");
    registry_free(reg);
    config_fini(&cfg);
    return 0;
}

/* ---- openapi ---- */
/* `modelwrap openapi [--flag value ...]`: loads the configuration and the models like `serve` and
 * prints the OpenAPI document that GET /openapi.json would serve (indented JSON). */
static int cmd_openapi(int argc, char **argv, int first)
{
    struct config cfg;
    struct mw_error e = {0};
    struct model_opts defaults;
    struct registry *reg;
    struct api api;
    json_t *doc;
    int ret = 2;

    if (config_load(&cfg, argc, argv, first, environ, &e) != 0) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        return 2;
    }
    log_set_level(LOG_WARN);
    cli_model_defaults(&cfg, &defaults);
    /* The repository as `serve` loads it (versions included); models freed inline. */
    reg = cli_open_models(&cfg, &defaults, NULL, &e);
    if (!reg) {
        fprintf(stderr, "modelwrap: %s\n", e.msg);
        goto out_config;
    }
    api_init(&api, &cfg, reg); /* takes over reg's reference; api_fini releases it */
    doc = api_openapi_build(&cfg, reg, api.app.routes, api.app.n_routes);
    if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0) {
        fprintf(stderr, "modelwrap: cannot write the OpenAPI document\n");
        ret = 1;
    } else {
        ret = 0;
    }
    json_decref(doc);
    api_fini(&api);
out_config:
    config_fini(&cfg);
    return ret;
}

static int cmd_version(void)
{
    int major = 0, minor = 0, patch = 0;
    XGBoostVersion(&major, &minor, &patch);
    printf("modelwrap %s (plug-in ABI %d.%d; libmicrohttpd %s, jansson %s, xgboost %d.%d.%d)\n",
           MW_VERSION, MW_ABI_MAJOR, MW_ABI_MINOR, MHD_get_version(), jansson_version_str(), major,
           minor, patch);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";

    cli_kserve_args(argc, argv); /* a KServe ClusterServingRuntime's arguments */
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc, argv, argc > 1 ? 2 : 1);
    if (strncmp(cmd, "--", 2) == 0 && strcmp(cmd, "--help") != 0 && strcmp(cmd, "--version") != 0)
        return cmd_serve(argc, argv, 1);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc, argv, 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        return cmd_version();
    if (strcmp(cmd, "env-example") == 0) {
        config_print_env_example(stdout);
        return 0;
    }
    /* ---- subcommands: keys , openapi ---- */
    if (strcmp(cmd, "openapi") == 0)
        return cmd_openapi(argc, argv, 2);
    if (strcmp(cmd, "keys") == 0)
        return auth_keys_cli(argc, argv, 2);
    /* ---- subcommands: compliance, sbom, audit report ---- */
    if (strcmp(cmd, "compliance") == 0)
        return cli_compliance(argc, argv, 2, environ);
    if (strcmp(cmd, "sbom") == 0)
        return cli_sbom(argc, argv, 2, environ);
    if (strcmp(cmd, "audit") == 0)
        return cli_audit(argc, argv, 2, environ);
    if (strcmp(cmd, "init") == 0)
        return cli_init(argc, argv, 2);
    if (strcmp(cmd, "test-model") == 0)
        return cli_test_model(argc, argv, 2);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "modelwrap: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
