/*
 * Unit tests of the authentication context (src/auth/auth.c) built from a real configuration:
 * the settings checks, the decision for each kind of credential and refusal, scopes, brute-force
 * blocking, counters, the development key, reloads (SIGHUP and a changed file) that keep the old
 * set when the new file is broken, HS256 tokens, and a transport (mTLS) principal.
 */
#include <rhonabwy.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/auth.h"

static char dir[64];
static char keys_path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mw-test-auth.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(keys_path, sizeof(keys_path), "%s/keys.json", dir);
    log_set_level(LOG_ERROR);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Loads a config from NULL-terminated "NAME=value" environment entries. */
static int load_cfg(struct config *cfg, const char *const *env, struct mw_error *e)
{
    const char *full[32] = {"MODELWRAP_ENV_FILE="};
    char *argv[] = {"modelwrap", NULL};
    size_t n = 1;
    for (; env && *env; env++)
        full[n++] = *env;
    full[n] = NULL;
    memset(e, 0, sizeof(*e));
    return config_load(cfg, 1, argv, 1, (char **)full, e);
}

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_config_error(const char *const *env, const char *fragment)
{
    struct config cfg;
    struct mw_error e;
    struct stat st;
    assert_int_equal(load_cfg(&cfg, env, &e), 0);
    if (cfg.api_keys_file && strcmp(cfg.api_keys_file, "./keys.json") == 0) {
        /* A refused configuration must have no side effect: point it at a scratch path that
         * must still not exist afterwards. */
        free(cfg.api_keys_file);
        cfg.api_keys_file = strdup(keys_path);
    }
    assert_int_equal(auth_config_check(&cfg, &e), MWE_CONFIG);
    if (!strstr(e.msg, fragment))
        fail_msg("'%s' lacks '%s'", e.msg, fragment);
    struct auth *a = auth_new(&cfg, &e);
    assert_null(a);
    assert_int_equal(e.code, MWE_CONFIG);
    assert_int_equal(stat(keys_path, &st), -1);
    config_fini(&cfg);
}

/* Writes a key file with the given key objects (consumed). */
static void write_keys(const char *path, json_t *k1, json_t *k2, json_t *k3)
{
    struct mw_error e = {0};
    json_t *doc = json_pack("{s:i, s:[]}", "version", 1, "keys");
    json_t *arr = json_object_get(doc, "keys");
    if (k1)
        json_array_append_new(arr, k1);
    if (k2)
        json_array_append_new(arr, k2);
    if (k3)
        json_array_append_new(arr, k3);
    assert_int_equal(auth_keyfile_write(path, doc, &e), 0);
    json_decref(doc);
}

static struct auth_creds key_creds(const char *key)
{
    struct auth_creds c;
    memset(&c, 0, sizeof(c));
    c.api_key = (struct slice){key, strlen(key)};
    return c;
}

static void test_settings_checks(void **state)
{
    (void)state;
    expect_config_error(ENV("MODELWRAP_AUTH=none", "MODELWRAP_HOST=0.0.0.0"),
                        "'none' is accepted only on a loopback address");
    expect_config_error(ENV("MODELWRAP_JWT_ISSUER=https://id.example"), "MODELWRAP_JWT_AUDIENCE");
    expect_config_error(ENV("MODELWRAP_JWT_AUDIENCE=api"), "MODELWRAP_JWT_ISSUER: required");
    expect_config_error(ENV("MODELWRAP_JWT_ISSUER=https://id.example", "MODELWRAP_JWT_AUDIENCE=a",
                            "MODELWRAP_JWKS_FILE=/x", "MODELWRAP_JWT_HS256_SECRET_FILE=/y"),
                        "never combined");
    expect_config_error(ENV("MODELWRAP_JWT_ISSUER=https://id.example", "MODELWRAP_JWT_AUDIENCE=a",
                            "MODELWRAP_JWKS_FILE=/x", "MODELWRAP_JWKS_URI=https://id.example/k"),
                        "not both");
    expect_config_error(ENV("MODELWRAP_JWT_ISSUER=https://id.example", "MODELWRAP_JWT_AUDIENCE=a",
                            "MODELWRAP_JWKS_URI=http://id.example/keys"),
                        "must use https");
    expect_config_error(
        ENV("MODELWRAP_JWT_ISSUER=http://10.1.2.3:8080", "MODELWRAP_JWT_AUDIENCE=a"),
        "plain http only to a loopback");
    expect_config_error(ENV("MODELWRAP_API_KEYS_FILE="), "needs MODELWRAP_API_KEYS_FILE");
    expect_config_error(ENV("MODELWRAP_JWT_ISSUER=https://id.example", "MODELWRAP_JWT_AUDIENCE=a",
                            "MODELWRAP_JWT_ALGORITHMS=RS256,HS256"),
                        "HS256");
}

static void test_auth_none(void **state)
{
    struct config cfg;
    struct mw_error e;
    struct principal p;
    struct auth_decision d;
    struct auth_creds c;
    struct auth *a;
    (void)state;

    assert_int_equal(load_cfg(&cfg, ENV("MODELWRAP_AUTH=none", "MODELWRAP_HOST=::1"), &e), 0);
    a = auth_new(&cfg, &e);
    assert_non_null(a);
    memset(&c, 0, sizeof(c));
    assert_int_equal(auth_decide(a, &c, "::1", SCOPE_ADMIN, &p, &d), 0);
    assert_int_equal(p.kind, PRINCIPAL_ANONYMOUS);
    assert_int_equal(p.scopes, SCOPE_ALL);
    auth_free(a);
    config_fini(&cfg);
}

static void test_keys_decisions(void **state)
{
    char good[AUTH_KEY_LEN + 1], reader[AUTH_KEY_LEN + 1], old[AUTH_KEY_LEN + 1],
        gone[AUTH_KEY_LEN + 1], unknown[AUTH_KEY_LEN + 1], env_keys[200];
    struct config cfg;
    struct mw_error e;
    struct principal p;
    struct auth_decision d;
    struct auth_creds c;
    struct auth_stats st;
    struct auth *a;
    int64_t now = (int64_t)time(NULL);
    (void)state;

    auth_key_generate(good);
    auth_key_generate(reader);
    auth_key_generate(old);
    auth_key_generate(gone);
    auth_key_generate(unknown);
    json_t *revoked = auth_key_json("gone", NULL, SCOPE_ALL, gone, now - 100, 0, NULL, 0);
    json_object_set_new(revoked, "revoked", json_string("2020-01-01T00:00:00Z"));
    write_keys(keys_path,
               auth_key_json("good", "Alice", SCOPE_PREDICT | SCOPE_READ, good, now, 0, "10/s", 20),
               auth_key_json("old", NULL, SCOPE_ALL, old, now - 1000, now - 10, NULL, 0), revoked);
    snprintf(env_keys, sizeof(env_keys), "MODELWRAP_API_KEYS_FILE=%s", keys_path);
    assert_int_equal(load_cfg(&cfg, ENV(env_keys, "MODELWRAP_AUTH_FAILURE_LIMIT=4"), &e), 0);
    a = auth_new(&cfg, &e);
    assert_non_null(a);

    c = key_creds(good);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_PREDICT, &p, &d), 0);
    assert_int_equal(p.kind, PRINCIPAL_API_KEY);
    assert_string_equal(p.id, "good");
    assert_string_equal(p.key_id, "good");
    assert_string_equal(p.name, "Alice");
    assert_int_equal(p.scopes, SCOPE_PREDICT | SCOPE_READ);
    assert_true(p.rate == 10.0);
    assert_int_equal(p.burst, 20);

    /* The same key as a bearer token. */
    memset(&c, 0, sizeof(c));
    c.bearer = (struct slice){good, strlen(good)};
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), 0);

    c = key_creds(good);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_ADMIN, &p, &d), MWE_INSUFFICIENT_SCOPE);
    assert_int_equal(d.reason, AUTH_INSUFFICIENT_SCOPE);

    c = key_creds(unknown);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_INVALID_KEY);
    assert_int_equal(p.kind, PRINCIPAL_NONE);

    c = key_creds(old);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_EXPIRED_KEY);
    assert_string_equal(p.key_id, "old");
    assert_int_equal(p.scopes, 0);

    c = key_creds(gone);
    assert_int_equal(auth_decide(a, &c, "192.0.2.2", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_REVOKED_KEY);

    c = key_creds("short");
    assert_int_equal(auth_decide(a, &c, "192.0.2.2", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_INVALID_KEY);

    memset(&c, 0, sizeof(c));
    assert_int_equal(auth_decide(a, &c, "192.0.2.3", SCOPE_READ, &p, &d), MWE_UNAUTHENTICATED);
    assert_int_equal(d.reason, AUTH_MISSING);

    c = key_creds(good);
    c.in_query = true;
    assert_int_equal(auth_decide(a, &c, "192.0.2.3", SCOPE_READ, &p, &d), MWE_BAD_REQUEST);
    assert_int_equal(d.reason, AUTH_KEY_IN_QUERY);

    memset(&c, 0, sizeof(c));
    c.bad_header = true;
    assert_int_equal(auth_decide(a, &c, "192.0.2.3", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_INVALID_TOKEN);

    /* A JWT when JWT is not configured. */
    memset(&c, 0, sizeof(c));
    c.bearer = (struct slice){"a.b.c", 5};
    assert_int_equal(auth_decide(a, &c, "192.0.2.4", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(d.reason, AUTH_INVALID_TOKEN);

    auth_stats_get(a, &st);
    assert_int_equal(st.successes, 2);
    assert_int_equal(st.failures[AUTH_INSUFFICIENT_SCOPE], 1);
    assert_int_equal(st.failures[AUTH_INVALID_KEY], 2);
    assert_int_equal(st.failures[AUTH_EXPIRED_KEY], 1);
    assert_int_equal(st.failures[AUTH_REVOKED_KEY], 1);
    assert_int_equal(st.failures[AUTH_MISSING], 1);
    assert_int_equal(st.failures[AUTH_KEY_IN_QUERY], 1);
    assert_int_equal(st.failures[AUTH_INVALID_TOKEN], 2);
    assert_int_equal(st.keys_loaded, 3);
    assert_int_equal(st.key_reloads, 1);
    assert_int_equal(st.blocks, 0);

    /* Brute force: 192.0.2.1 failed twice (unknown, expired); two more block it, even for a
     * valid key; missing credentials and scope refusals did not count. */
    c = key_creds(unknown);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    c = key_creds(good);
    assert_int_equal(auth_decide(a, &c, "192.0.2.1", SCOPE_READ, &p, &d), MWE_RATE_LIMITED);
    assert_int_equal(d.reason, AUTH_BLOCKED);
    assert_true(d.retry_after > 0 && d.retry_after <= 300);
    assert_int_equal(auth_decide(a, &c, "192.0.2.9", SCOPE_READ, &p, &d), 0);
    auth_stats_get(a, &st);
    assert_int_equal(st.blocks, 1);
    assert_int_equal(st.failures[AUTH_BLOCKED], 1);

    /* A transport (mTLS) principal is used when no header credential is present. */
    struct principal cert = {.kind = PRINCIPAL_MTLS, .id = "CN=batch", .scopes = SCOPE_PREDICT};
    memset(&c, 0, sizeof(c));
    c.transport = &cert;
    assert_int_equal(auth_decide(a, &c, "192.0.2.8", SCOPE_PREDICT, &p, &d), 0);
    assert_int_equal(p.kind, PRINCIPAL_MTLS);
    assert_string_equal(p.id, "CN=batch");
    assert_int_equal(auth_decide(a, &c, "192.0.2.8", SCOPE_ADMIN, &p, &d), MWE_INSUFFICIENT_SCOPE);
    c = key_creds(reader); /* a header credential wins over the certificate */
    c.transport = &cert;
    assert_int_equal(auth_decide(a, &c, "192.0.2.8", SCOPE_PREDICT, &p, &d), MWE_INVALID_TOKEN);

    auth_free(a);
    config_fini(&cfg);
    unlink(keys_path);
}

/* Polls auth_decide for key until it returns want, for up to 5 s. */
static int wait_for(struct auth *a, const char *key, int want)
{
    struct principal p;
    struct auth_decision d;
    struct auth_creds c = key_creds(key);
    int rc = -1;
    for (int i = 0; i < 250; i++) {
        rc = auth_decide(a, &c, "198.51.100.1", SCOPE_READ, &p, &d);
        if (rc == want)
            break;
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    return rc;
}

static void test_reload(void **state)
{
    char k1[AUTH_KEY_LEN + 1], k2[AUTH_KEY_LEN + 1], env_keys[200];
    struct config cfg;
    struct mw_error e;
    struct auth_stats st;
    struct auth *a;
    (void)state;

    auth_key_generate(k1);
    auth_key_generate(k2);
    write_keys(keys_path, auth_key_json("one", NULL, SCOPE_READ, k1, 0, 0, NULL, 0), NULL, NULL);
    snprintf(env_keys, sizeof(env_keys), "MODELWRAP_API_KEYS_FILE=%s", keys_path);
    assert_int_equal(load_cfg(&cfg, ENV(env_keys, "MODELWRAP_AUTH_FAILURE_LIMIT=0"), &e), 0);
    a = auth_new(&cfg, &e);
    assert_non_null(a);
    assert_int_equal(wait_for(a, k1, 0), 0);
    assert_int_equal(wait_for(a, k2, MWE_INVALID_TOKEN), MWE_INVALID_TOKEN);

    /* The background thread sees the new file. */
    write_keys(keys_path, auth_key_json("two", NULL, SCOPE_READ, k2, 0, 0, NULL, 0), NULL, NULL);
    assert_int_equal(wait_for(a, k2, 0), 0);
    assert_int_equal(wait_for(a, k1, MWE_INVALID_TOKEN), MWE_INVALID_TOKEN);

    /* A broken file keeps the set in force (SIGHUP and the watcher alike). */
    FILE *f = fopen(keys_path, "w");
    fputs("{\"version\": 1, \"keys\": [", f);
    fclose(f);
    auth_reload(a);
    struct timespec ts = {1, 200000000}; /* more than one poll period */
    nanosleep(&ts, NULL);
    assert_int_equal(wait_for(a, k2, 0), 0);
    auth_stats_get(a, &st);
    assert_true(st.key_reload_failures >= 1);
    assert_int_equal(st.keys_loaded, 1);

    /* SIGHUP reload of a good file. */
    write_keys(keys_path, auth_key_json("one", NULL, SCOPE_READ, k1, 0, 0, NULL, 0), NULL, NULL);
    auth_reload(a);
    assert_int_equal(wait_for(a, k1, 0), 0);
    auth_free(a);
    config_fini(&cfg);
    unlink(keys_path);
}

static void test_dev_key(void **state)
{
    char env_keys[200], env_host[64];
    struct config cfg;
    struct mw_error e;
    struct stat st;
    struct auth *a;
    (void)state;

    snprintf(env_keys, sizeof(env_keys), "MODELWRAP_API_KEYS_FILE=%s", keys_path);
    /* Not on a non-loopback address: no file is created, the server starts without keys. */
    snprintf(env_host, sizeof(env_host), "MODELWRAP_HOST=0.0.0.0");
    assert_int_equal(load_cfg(&cfg, ENV(env_keys, env_host), &e), 0);
    a = auth_new(&cfg, &e);
    assert_non_null(a);
    assert_int_equal(stat(keys_path, &st), -1);
    auth_free(a);
    config_fini(&cfg);

    /* On loopback: one development key with predict and read. */
    assert_int_equal(load_cfg(&cfg, ENV(env_keys), &e), 0);
    a = auth_new(&cfg, &e);
    assert_non_null(a);
    assert_int_equal(stat(keys_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct auth_keyset *ks = auth_keyset_load(keys_path, NULL, &e);
    assert_non_null(ks);
    assert_int_equal(auth_keyset_count(ks), 1);
    assert_string_equal(auth_keyset_at(ks, 0)->id, "dev");
    assert_int_equal(auth_keyset_at(ks, 0)->scopes, SCOPE_PREDICT | SCOPE_READ);
    auth_keyset_free(ks);
    auth_free(a);
    config_fini(&cfg);

    /* A broken key file stops start-up. */
    FILE *f = fopen(keys_path, "w");
    fputs("{}", f);
    fclose(f);
    assert_int_equal(load_cfg(&cfg, ENV(env_keys), &e), 0);
    assert_null(auth_new(&cfg, &e));
    assert_non_null(strstr(e.msg, "MODELWRAP_API_KEYS_FILE"));
    config_fini(&cfg);
    unlink(keys_path);
}

static void test_hs256_tokens(void **state)
{
    static const char secret[] = "an-hs256-secret-of-more-than-32-bytes!";
    char secret_path[160], env_secret[200];
    struct config cfg;
    struct mw_error e;
    struct principal p;
    struct auth_decision d;
    struct auth_creds c;
    struct auth *a;
    jwk_t *k = NULL;
    jwt_t *jwt = NULL;
    int64_t now = (int64_t)time(NULL);
    (void)state;

    snprintf(secret_path, sizeof(secret_path), "%s/hs256.secret", dir);
    FILE *f = fopen(secret_path, "w");
    fprintf(f, "%s\n", secret);
    fclose(f);
    chmod(secret_path, 0600);
    snprintf(env_secret, sizeof(env_secret), "MODELWRAP_JWT_HS256_SECRET_FILE=%s", secret_path);
    assert_int_equal(load_cfg(&cfg,
                              ENV("MODELWRAP_API_KEYS_FILE=", "MODELWRAP_JWT_ISSUER=test-iss",
                                  "MODELWRAP_JWT_AUDIENCE=test-aud", env_secret),
                              &e),
                     0);
    a = auth_new(&cfg, &e);
    if (!a)
        fail_msg("%s", e.msg);

    r_jwk_init(&k);
    r_jwk_import_from_symmetric_key(k, (const unsigned char *)secret, strlen(secret));
    r_jwt_init(&jwt);
    r_jwt_set_sign_alg(jwt, R_JWA_ALG_HS256);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", "test-iss", "aud",
                               "test-aud", "sub", "bob", "iat", (json_int_t)now, "exp",
                               (json_int_t)(now + 300), "scope", "predict");
    r_jwt_set_full_claims_json_t(jwt, claims);
    json_decref(claims);
    char *token = r_jwt_serialize_signed(jwt, k, 0);
    assert_non_null(token);
    memset(&c, 0, sizeof(c));
    c.bearer = (struct slice){token, strlen(token)};
    assert_int_equal(auth_decide(a, &c, "192.0.2.50", SCOPE_PREDICT, &p, &d), 0);
    assert_int_equal(p.kind, PRINCIPAL_JWT);
    assert_string_equal(p.id, "bob");
    assert_int_equal(auth_decide(a, &c, "192.0.2.50", SCOPE_READ, &p, &d), MWE_INSUFFICIENT_SCOPE);
    /* API keys are disabled: a key is refused. */
    c = key_creds("mw_0123456789012345678901234567890123456789abc");
    assert_int_equal(auth_decide(a, &c, "192.0.2.50", SCOPE_READ, &p, &d), MWE_INVALID_TOKEN);
    r_free(token);
    r_jwt_free(jwt);
    r_jwk_free(k);
    auth_free(a);
    config_fini(&cfg);

    /* A short secret stops start-up. */
    f = fopen(secret_path, "w");
    fputs("short\n", f);
    fclose(f);
    assert_int_equal(load_cfg(&cfg,
                              ENV("MODELWRAP_API_KEYS_FILE=", "MODELWRAP_JWT_ISSUER=test-iss",
                                  "MODELWRAP_JWT_AUDIENCE=test-aud", env_secret),
                              &e),
                     0);
    assert_null(auth_new(&cfg, &e));
    assert_non_null(strstr(e.msg, "32 bytes"));
    config_fini(&cfg);
    unlink(secret_path);
}

static void test_reason_codes(void **state)
{
    (void)state;
    assert_string_equal(auth_reason_code(AUTH_MISSING), "auth.missing");
    assert_string_equal(auth_reason_code(AUTH_INVALID_KEY), "auth.invalid_key");
    assert_string_equal(auth_reason_code(AUTH_EXPIRED_KEY), "auth.expired_key");
    assert_string_equal(auth_reason_code(AUTH_REVOKED_KEY), "auth.revoked_key");
    assert_string_equal(auth_reason_code(AUTH_KEY_IN_QUERY), "auth.key_in_query");
    assert_string_equal(auth_reason_code(AUTH_INVALID_TOKEN), "auth.invalid_token");
    assert_string_equal(auth_reason_code(AUTH_EXPIRED_TOKEN), "auth.expired_token");
    assert_string_equal(auth_reason_code(AUTH_TOKEN_LIFETIME), "auth.token_lifetime");
    assert_string_equal(auth_reason_code(AUTH_INSUFFICIENT_SCOPE), "auth.insufficient_scope");
    assert_string_equal(auth_reason_code(AUTH_BLOCKED), "auth.blocked");
    assert_null(auth_reason_code(AUTH_REASON_COUNT));
    assert_null(auth_reason_code(-1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_checks), cmocka_unit_test(test_auth_none),
        cmocka_unit_test(test_keys_decisions),  cmocka_unit_test(test_reload),
        cmocka_unit_test(test_dev_key),         cmocka_unit_test(test_hs256_tokens),
        cmocka_unit_test(test_reason_codes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
