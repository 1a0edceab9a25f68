/*
 * The authentication context: the settings check, start-up (key file, JWKS or HS256 secret), the
 * counters, and the background thread that reloads a changed key file and refreshes the JWKS.
 * The decision is decide.c, scopes and reason codes scopes.c, credential extraction creds.c.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <rhonabwy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth_int.h"

_Static_assert(AUTH_REQUIRED == 0 && AUTH_NONE == 1, "MODELWRAP_AUTH values order");

#define POLL_MS 500          /* how often the key file and JWKS file are checked */
#define SECRET_FILE_MAX 4096 /* bytes of the HS256 secret file */

void auth_stats_get(const struct auth *a, struct auth_stats *out)
{
    struct auth *m = (struct auth *)a; /* atomic loads need a non-const object */
    memset(out, 0, sizeof(*out));
    if (!a)
        return;
    out->successes = atomic_load_explicit(&m->successes, memory_order_relaxed);
    for (int i = 0; i < AUTH_REASON_COUNT; i++)
        out->failures[i] = atomic_load_explicit(&m->failures[i], memory_order_relaxed);
    out->blocks = atomic_load_explicit(&m->blocks, memory_order_relaxed);
    out->keys_loaded = atomic_load_explicit(&m->keys_loaded, memory_order_relaxed);
    out->key_reloads = atomic_load_explicit(&m->key_reloads, memory_order_relaxed);
    out->key_reload_failures = atomic_load_explicit(&m->key_reload_failures, memory_order_relaxed);
    out->jwks_keys = atomic_load_explicit(&m->jwks_keys, memory_order_relaxed);
    out->jwks_refreshes = atomic_load_explicit(&m->jwks_refreshes, memory_order_relaxed);
    out->jwks_refresh_failures =
        atomic_load_explicit(&m->jwks_refresh_failures, memory_order_relaxed);
}

/* ---- loading --------------------------------------------------------------------------------- */

/* Rewrites e as a configuration error "<label>[: <what>]: <its message>". Returns MWE_CONFIG. */
static int prefix_error(struct mw_error *e, const char *label, const char *what)
{
    char msg[sizeof(e->msg)];
    memcpy(msg, e->msg, sizeof(msg));
    msg[sizeof(msg) - 1] = '\0';
    if (what)
        return mw_fail(e, MWE_CONFIG, "%s%s: %s", label, what, msg);
    return mw_fail(e, MWE_CONFIG, "%s: %s", label, msg);
}

static void file_id_of(const char *path, struct file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof(*id));
    if (!path || stat(path, &st) != 0)
        return;
    id->exists = true;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
    id->ctime = st.st_ctim;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static size_t active_keys(const struct auth_keyset *ks, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < auth_keyset_count(ks); i++) {
        const struct auth_key *k = auth_keyset_at(ks, i);
        n += !k->revoked && !(k->expires && k->expires <= now);
    }
    return n;
}

/* Loads the key file and publishes it. With reload_mu held (or before the thread starts).
 * Returns 0, or the error (the set in force stays). */
static int load_keys(struct auth *a, const char *cause, bool *missing, struct mw_error *e)
{
    const char *path = a->cfg->api_keys_file;
    struct auth_keyset *ks;

    file_id_of(path, &a->keys_id);
    ks = auth_keyset_load(path, missing, e);
    if (!ks) {
        atomic_fetch_add(&a->key_reload_failures, 1);
        return e->code ? e->code : MWE_CONFIG;
    }
    log_kv(LOG_INFO, "API keys loaded", "file", path, "cause", cause, "#keys",
           (long long)auth_keyset_count(ks), "#active",
           (long long)active_keys(ks, (int64_t)time(NULL)), NULL);
    atomic_store(&a->keys_loaded, auth_keyset_count(ks));
    atomic_fetch_add(&a->key_reloads, 1);
    snap_publish(&a->keys, ks);
    return 0;
}

static void publish_jwks(struct auth *a, struct jwt_keys *ks, size_t skipped, const char *cause,
                         const char *source, const struct mw_error *e)
{
    log_kv(LOG_INFO, "JWKS loaded", "source", source, "cause", cause, "#keys", (long long)ks->n,
           "#skipped", (long long)skipped, "skipped_reason", skipped ? e->msg : NULL, NULL);
    atomic_store(&a->jwks_keys, ks->n);
    atomic_fetch_add(&a->jwks_refreshes, 1);
    snap_publish(&a->jwks, ks);
}

/* Loads the JWKS file and publishes it. With reload_mu held (or before the thread starts). */
static int load_jwks_file(struct auth *a, const char *cause, struct mw_error *e)
{
    struct jwt_keys *ks = NULL;
    size_t skipped = 0;
    json_t *doc;
    int rc = 0;

    file_id_of(a->cfg->jwks_file, &a->jwks_file_id);
    doc = jwks_read_file(a->cfg->jwks_file, e);
    if (doc)
        ks = jwt_keys_from_jwks(doc, &skipped, e);
    json_decref(doc);
    if (!ks) {
        atomic_fetch_add(&a->jwks_refresh_failures, 1);
        rc = e->code ? e->code : MWE_CONFIG;
        goto out;
    }
    publish_jwks(a, ks, skipped, cause, a->cfg->jwks_file, e);
out:
    return rc;
}

/* Fetches the JWKS (URI or discovery) and publishes it; on failure the cached keys stay. Any
 * thread but an I/O thread (it blocks up to the curl timeouts). */
static int fetch_jwks(struct auth *a, const char *cause, struct mw_error *e)
{
    const char *source = a->cfg->jwks_uri ? a->cfg->jwks_uri : a->cfg->jwt_issuer;
    struct jwt_keys *ks = NULL;
    size_t skipped = 0;
    json_t *doc = jwks_fetch(a->cfg->jwt_issuer, a->cfg->jwks_uri, &a->egress, e);
    int rc = 0;

    if (doc)
        ks = jwt_keys_from_jwks(doc, &skipped, e);
    json_decref(doc);
    if (!ks) {
        atomic_fetch_add(&a->jwks_refresh_failures, 1);
        log_msg(LOG_WARN, "JWKS refresh failed; the cached keys stay in force", "source", source,
                "cause", cause, "error", e->msg, NULL);
        rc = e->code ? e->code : MWE_IO;
        goto out;
    }
    publish_jwks(a, ks, skipped, cause, source, e);
out:
    return rc;
}

/* Reads the HS256 secret file (trailing CR/LF removed) and publishes it. */
static int load_secret(struct auth *a, struct mw_error *e)
{
    const char *path = a->cfg->jwt_hs256_secret_file;
    unsigned char buf[SECRET_FILE_MAX + 1];
    struct jwt_keys *ks;
    struct stat st;
    size_t len = 0;
    char why[128];
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_JWT_HS256_SECRET_FILE: %s: %s", path,
                     strerror_r(errno, why, sizeof(why)));
        goto out;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
        log_msg(LOG_WARN, "the HS256 secret file is readable by other users (chmod 600)", "file",
                path, NULL);
    for (;;) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof(buf))
            break;
    }
    close(fd);
    if (len > SECRET_FILE_MAX) {
        rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_JWT_HS256_SECRET_FILE: %s: larger than %d bytes",
                     path, SECRET_FILE_MAX);
        goto out;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    ks = jwt_keys_hmac(buf, len, e);
    if (!ks) {
        rc = prefix_error(e, "MODELWRAP_JWT_HS256_SECRET_FILE: ", path);
        goto out;
    }
    atomic_store(&a->jwks_keys, 1);
    atomic_fetch_add(&a->jwks_refreshes, 1);
    snap_publish(&a->jwks, ks);
out:
    memset(buf, 0, sizeof(buf));
    return rc;
}

/* ---- the background thread ------------------------------------------------------------------- */

static void check_files(struct auth *a)
{
    struct file_id now;
    struct mw_error e = {0};

    pthread_mutex_lock(&a->reload_mu);
    if (a->cfg->api_keys_file) {
        file_id_of(a->cfg->api_keys_file, &now);
        if (!file_id_eq(&now, &a->keys_id)) {
            if (!now.exists) {
                a->keys_id = now;
                log_msg(LOG_WARN, "the API key file disappeared; the keys in force stay", "file",
                        a->cfg->api_keys_file, NULL);
            } else if (load_keys(a, "file changed", NULL, &e) != 0) {
                log_msg(LOG_WARN, "API key file refused; the keys in force stay", "error", e.msg,
                        NULL);
            }
        }
    }
    if (a->jwks_source == JWKS_FILE) {
        file_id_of(a->cfg->jwks_file, &now);
        if (now.exists && !file_id_eq(&now, &a->jwks_file_id) &&
            load_jwks_file(a, "file changed", &e) != 0)
            log_msg(LOG_WARN, "JWKS file refused; the keys in force stay", "error", e.msg, NULL);
    }
    pthread_mutex_unlock(&a->reload_mu);
}

static void *bg_main(void *arg)
{
    struct auth *a = arg;
    uint64_t last_fetch = time_mono_ns();
    uint64_t next_fetch = last_fetch + a->ttl_ns;
    bool pending = false;

    if (a->jwks_source == JWKS_REMOTE && atomic_load(&a->jwks_keys) == 0)
        next_fetch = last_fetch + a->min_interval_ns; /* the start-up fetch failed: retry soon */
    while (!atomic_load(&a->stop)) {
        struct pollfd pfd = {.fd = a->wake[0], .events = POLLIN, .revents = 0};
        char drain[64];
        uint64_t now;

        if (poll(&pfd, 1, POLL_MS) > 0 && (pfd.revents & POLLIN)) {
            while (read(a->wake[0], drain, sizeof(drain)) > 0)
                ;
            pending = true;
        }
        if (atomic_load(&a->stop))
            break;
        check_files(a);
        if (a->jwks_source != JWKS_REMOTE)
            continue;
        now = time_mono_ns();
        if (now >= next_fetch || (pending && now - last_fetch >= a->min_interval_ns)) {
            struct mw_error e = {0};
            int rc;
            pthread_mutex_lock(&a->reload_mu);
            rc = fetch_jwks(a, pending ? "refresh requested" : "cache expired", &e);
            pthread_mutex_unlock(&a->reload_mu);
            pending = false;
            last_fetch = time_mono_ns();
            next_fetch = last_fetch + (rc == 0 ? a->ttl_ns : a->min_interval_ns);
        }
    }
    return NULL;
}

/* See auth_int.h. Lock-free; never blocks (the pipe is non-blocking). */
void auth_jwks_want_refresh(struct auth *a)
{
    unsigned long long now, last;

    if (a->jwks_source != JWKS_REMOTE)
        return;
    now = time_mono_ns();
    last = atomic_load(&a->last_trigger_ns);
    if (last != 0 && now - last < a->min_interval_ns)
        return;
    if (!atomic_compare_exchange_strong(&a->last_trigger_ns, &last, now))
        return;
    if (write(a->wake[1], "k", 1) < 0) {
        /* Full pipe: a refresh is already pending. */
    }
}

/* ---- set-up ---------------------------------------------------------------------------------- */

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static bool libs_ok;

static void libs_init(void)
{
    libs_ok = r_global_init() == RHN_OK && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* Prints the development key once, as Jupyter prints its token: one write so that it is not
 * interleaved with log lines. */
static void announce_dev_key(const struct config *cfg, const char *key)
{
    char msg[1024];
    char port[16];
    int n;

    if (cfg->port)
        snprintf(port, sizeof(port), "%u", (unsigned)cfg->port);
    else
        snprintf(port, sizeof(port), "PORT");
    n = snprintf(msg, sizeof(msg),
                 "\nmodelwrap: no API key file existed, so %s was created with one development "
                 "key\n(scopes predict, read). It is shown only this once:\n\n    %s\n\n"
                 "Try it:\n    curl -s -H 'X-API-Key: %s' http://%s:%s/api/v1/models\n\n"
                 "Manage keys with `modelwrap keys create|list|revoke` (docs/security.md).\n\n",
                 cfg->api_keys_file, key, key, cfg->host, port);
    if (n > 0 &&
        write(STDERR_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0) {
        /* Nothing more to do: stderr is gone. */
    }
    memset(msg, 0, sizeof(msg));
}

static int check_settings(const struct config *cfg, struct mw_error *e)
{
    bool asym = cfg->jwks_uri || cfg->jwks_file;
    int rc = 0;

    if (cfg->auth == AUTH_NONE) {
        if (!auth_host_is_loopback(cfg->host))
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_AUTH: 'none' is accepted only on a loopback "
                         "address (MODELWRAP_HOST is '%.64s')",
                         cfg->host);
        /* Loopback is no protection when a gateway on the same host forwards to it: trusting a
         * proxy says one does. */
        else if (cfg->trusted_proxies && !cfg->auth_none_behind_proxy)
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_AUTH: 'none' with MODELWRAP_TRUSTED_PROXIES set means a "
                         "gateway forwards to this loopback address and exposes an "
                         "unauthenticated API; use MODELWRAP_AUTH=required, or accept the risk "
                         "explicitly with MODELWRAP_AUTH_NONE_BEHIND_PROXY=true");
        goto out;
    }
    if (cfg->jwt_issuer && !cfg->jwt_audience) {
        rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_JWT_AUDIENCE: required with MODELWRAP_JWT_ISSUER");
        goto out;
    }
    if (!cfg->jwt_issuer && (cfg->jwt_audience || asym || cfg->jwt_hs256_secret_file)) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_JWT_ISSUER: required with MODELWRAP_JWT_AUDIENCE, "
                     "MODELWRAP_JWKS_URI, MODELWRAP_JWKS_FILE or "
                     "MODELWRAP_JWT_HS256_SECRET_FILE");
        goto out;
    }
    if (cfg->jwks_uri && cfg->jwks_file) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_JWKS_FILE: give MODELWRAP_JWKS_URI or "
                     "MODELWRAP_JWKS_FILE, not both");
        goto out;
    }
    if (cfg->jwt_hs256_secret_file && asym) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_JWT_HS256_SECRET_FILE: HS256 is never combined with "
                     "asymmetric keys (unset MODELWRAP_JWKS_URI and MODELWRAP_JWKS_FILE)");
        goto out;
    }
    if (!cfg->api_keys_file && !cfg->jwt_issuer) {
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_AUTH: 'required' needs MODELWRAP_API_KEYS_FILE or "
                     "MODELWRAP_JWT_ISSUER (or MODELWRAP_AUTH=none on a loopback address)");
        goto out;
    }
    if (cfg->jwks_uri)
        rc = jwks_url_check("MODELWRAP_JWKS_URI", cfg->jwks_uri, e);
    else if (cfg->jwt_issuer && !cfg->jwks_file && !cfg->jwt_hs256_secret_file)
        rc = jwks_url_check("MODELWRAP_JWT_ISSUER (OpenID discovery)", cfg->jwt_issuer, e);
out:
    return rc;
}

int auth_config_check(const struct config *cfg, struct mw_error *e)
{
    unsigned algs = 0;
    int rc = check_settings(cfg, e);
    if (rc == 0 && cfg->auth == AUTH_REQUIRED && cfg->jwt_issuer && !cfg->jwt_hs256_secret_file)
        rc = jwt_algs_parse(cfg->jwt_algorithms, &algs, e);
    if (rc == 0 && cfg->auth == AUTH_NONE && cfg->trusted_proxies)
        log_msg(
            LOG_WARN,
            "MODELWRAP_AUTH=none behind trusted proxies (MODELWRAP_AUTH_NONE_BEHIND_PROXY=true): "
            "every request the gateway forwards gets every scope without a credential",
            "trusted_proxies", cfg->trusted_proxies, NULL);
    if (rc == 0 && auth_has_outbound(cfg)) {
        struct egress eg;
        rc = egress_init(&eg, cfg, e);
        egress_fini(&eg);
    }
    return rc;
}

bool auth_has_outbound(const struct config *cfg)
{
    return cfg->auth == AUTH_REQUIRED && cfg->jwt_issuer != NULL && cfg->jwks_file == NULL &&
           cfg->jwt_hs256_secret_file == NULL;
}

static int setup_jwt(struct auth *a, struct mw_error *e)
{
    const struct config *cfg = a->cfg;
    int rc = 0;

    a->jwt_enabled = true;
    a->pol.issuer = cfg->jwt_issuer;
    a->pol.audience = cfg->jwt_audience;
    a->pol.leeway = cfg->jwt_leeway;
    a->pol.max_lifetime = cfg->jwt_max_lifetime;
    a->pol.roles_claim = cfg->jwt_roles_claim;
    if (cfg->jwt_hs256_secret_file) {
        a->jwks_source = JWKS_HMAC;
        a->pol.algs = JWT_HS256;
        rc = load_secret(a, e);
        goto out;
    }
    rc = jwt_algs_parse(cfg->jwt_algorithms, &a->pol.algs, e);
    if (rc != 0)
        goto out;
    if (cfg->jwks_file) {
        a->jwks_source = JWKS_FILE;
        rc = load_jwks_file(a, "start-up", e);
        if (rc != 0)
            rc = prefix_error(e, "MODELWRAP_JWKS_FILE", NULL);
        goto out;
    }
    a->jwks_source = JWKS_REMOTE;
    rc = egress_init(&a->egress, cfg, e);
    if (rc != 0)
        goto out;
    log_kv(LOG_INFO, "outbound requests", "egress_proxy", a->egress.shown, "source",
           a->egress.source, "no_proxy", a->egress.proxy ? a->egress.noproxy : NULL, NULL);
    if (fetch_jwks(a, "start-up", e) != 0)
        log_msg(LOG_WARN, "no JWKS yet: bearer tokens are refused until a fetch succeeds", NULL);
    memset(e, 0, sizeof(*e));
out:
    return rc;
}

static int setup_keys(struct auth *a, struct mw_error *e)
{
    const struct config *cfg = a->cfg;
    bool missing = false;
    char key[AUTH_KEY_LEN + 1];
    int rc = 0;

    if (load_keys(a, "start-up", &missing, e) == 0)
        goto out;
    if (!missing) {
        rc = prefix_error(e, "MODELWRAP_API_KEYS_FILE", NULL);
        goto out;
    }
    atomic_store(&a->key_reload_failures, 0);
    if (!auth_host_is_loopback(cfg->host)) {
        log_msg(LOG_WARN, "no API key file: API keys are refused until it exists", "file",
                cfg->api_keys_file, NULL);
        goto out;
    }
    rc = auth_keyfile_create_dev(cfg->api_keys_file, "dev",
                                 "development key created by modelwrap serve",
                                 SCOPE_PREDICT | SCOPE_READ, key, e);
    if (rc != 0) {
        rc = prefix_error(e, "MODELWRAP_API_KEYS_FILE: cannot create a development key file", NULL);
        goto out;
    }
    log_msg(LOG_WARN, "created a development API key file (key printed once on stderr)", "file",
            cfg->api_keys_file, NULL);
    announce_dev_key(cfg, key);
    memset(key, 0, sizeof(key));
    rc = load_keys(a, "start-up", NULL, e);
out:
    return rc;
}

/* The scopes of a verified client certificate could not be parsed: name the setting. */
static void scopes_fail(struct mw_error *e)
{
    char why[sizeof(e->msg)];
    memcpy(why, e->msg, sizeof(why));
    mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CLIENT_SCOPES: %s", why);
}

struct auth *auth_new(const struct config *cfg, struct mw_error *e)
{
    size_t size = (sizeof(struct auth) + 63) & ~(size_t)63;
    struct auth *a = NULL;

    if (auth_config_check(cfg, e) != 0)
        goto out;
    pthread_once(&libs_once, libs_init);
    if (!libs_ok) {
        mw_fail(e, MWE_INTERNAL, "cannot initialise Rhonabwy or libcurl");
        goto out;
    }
    a = aligned_alloc(64, size); /* struct auth_lockout's shards are cache-line aligned */
    if (!a) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    memset(a, 0, size);
    a->cfg = cfg;
    a->mode = cfg->auth;
    a->wake[0] = a->wake[1] = -1;
    snap_init(&a->keys, NULL, (void (*)(void *))auth_keyset_free);
    snap_init(&a->jwks, NULL, jwt_keys_free_void);
    pthread_mutex_init(&a->reload_mu, NULL);
    auth_lockout_init(&a->lockout, cfg->auth_failure_limit, cfg->auth_failure_window,
                      cfg->auth_block_time);
    a->ttl_ns = (uint64_t)cfg->jwks_cache_ttl * 1000000000ull;
    a->min_interval_ns = (uint64_t)cfg->jwks_refresh_interval * 1000000000ull;
    if (auth_scopes_parse(cfg->tls_client_scopes, &a->cert_scopes, e) != 0) {
        scopes_fail(e);
        goto out_fail;
    }

    if (a->mode == AUTH_NONE) {
        log_msg(LOG_WARN, "MODELWRAP_AUTH=none: every caller gets every scope (loopback only)",
                "host", cfg->host, NULL);
        goto out;
    }
    if (cfg->api_keys_file && setup_keys(a, e) != 0)
        goto out_fail;
    if (cfg->jwt_issuer && setup_jwt(a, e) != 0)
        goto out_fail;
    if (pipe2(a->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        mw_fail(e, MWE_IO, "cannot create a pipe: %s", strerror(errno));
        goto out_fail;
    }
    if (pthread_create(&a->thread, NULL, bg_main, a) != 0) {
        mw_fail(e, MWE_IO, "cannot start the authentication thread");
        goto out_fail;
    }
    a->thread_started = true;
    log_kv(LOG_INFO, "authentication ready", "api_keys", cfg->api_keys_file, "jwt_issuer",
           cfg->jwt_issuer, "#failure_limit", (long long)cfg->auth_failure_limit, NULL);
    goto out;
out_fail:
    auth_free(a);
    a = NULL;
out:
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    if (a->thread_started) {
        atomic_store(&a->stop, true);
        if (write(a->wake[1], "s", 1) < 0) {
            /* The thread notices `stop` within POLL_MS anyway. */
        }
        pthread_join(a->thread, NULL);
    }
    if (a->wake[0] >= 0)
        close(a->wake[0]);
    if (a->wake[1] >= 0)
        close(a->wake[1]);
    snap_fini(&a->keys);
    snap_fini(&a->jwks);
    egress_fini(&a->egress);
    auth_lockout_fini(&a->lockout);
    pthread_mutex_destroy(&a->reload_mu);
    free(a);
}

void auth_reload(struct auth *a)
{
    struct mw_error e = {0};

    if (!a || a->mode == AUTH_NONE)
        return;
    pthread_mutex_lock(&a->reload_mu);
    if (a->cfg->api_keys_file && load_keys(a, "SIGHUP", NULL, &e) != 0)
        log_msg(LOG_WARN, "API key file refused; the keys in force stay", "error", e.msg, NULL);
    if (a->jwks_source == JWKS_FILE && load_jwks_file(a, "SIGHUP", &e) != 0)
        log_msg(LOG_WARN, "JWKS file refused; the keys in force stay", "error", e.msg, NULL);
    if (a->jwks_source == JWKS_HMAC && load_secret(a, &e) != 0)
        log_msg(LOG_WARN, "HS256 secret refused; the secret in force stays", "error", e.msg, NULL);
    pthread_mutex_unlock(&a->reload_mu);
    if (a->jwks_source == JWKS_REMOTE && write(a->wake[1], "r", 1) < 0) {
        /* Full pipe: a refresh is already pending. */
    }
}
