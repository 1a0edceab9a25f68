/* Unit tests of TLS set-up: the start-up checks of the certificate, key, client CA and priority
 * string (each failure names the setting and the problem), and reload. Test certificates are made
 * with openssl at run time in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/http_int.h"

#define DEFAULT_PRIO                                                                               \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-MAC-ALL:+AEAD:"  \
    "%SERVER_PRECEDENCE"

static char g_dir[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static const char *path(const char *name)
{
    static char buf[8][160];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", g_dir, name);
    return buf[i];
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/mw-test-tls-XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    sh("cd %s && "
       "openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 30 "
       "-subj /CN=rsa.test 2>/dev/null && "
       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key "
       "-out ec.crt -days 30 -subj /CN=ec.test 2>/dev/null && "
       "openssl req -new -newkey rsa:2048 -nodes -keyout old.key -out old.csr -subj /CN=old.test "
       "2>/dev/null && "
       "openssl x509 -req -in old.csr -signkey old.key -days -1 -out old.crt 2>/dev/null && "
       "printf 'not a certificate\\n' > garbage.pem && "
       "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
       "-out ca.crt -days 30 -subj /CN=ca.test 2>/dev/null",
       g_dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sh("rm -rf %s", g_dir);
    return 0;
}

static void cfg_init(struct config *cfg, const char *cert, const char *key)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tls_cert = (char *)cert;
    cfg->tls_key = (char *)key;
    cfg->tls_priorities = (char *)DEFAULT_PRIO;
    cfg->tls_client_auth = TLS_CLIENT_REQUIRED;
}

/* Expects tls_new to fail with a message containing each of the fragments. */
static void expect_fail(const struct config *cfg, const char *frag1, const char *frag2)
{
    struct tls_ctx *t = (struct tls_ctx *)1;
    struct mw_error e = {0};
    assert_int_equal(tls_new(cfg, &t, &e), MWE_CONFIG);
    assert_null(t);
    if (!strstr(e.msg, frag1) || (frag2 && !strstr(e.msg, frag2)))
        fail_msg("unexpected message: %s", e.msg);
}

static void test_off(void **state)
{
    struct config cfg;
    struct tls_ctx *t = (struct tls_ctx *)1;
    struct mw_error e = {0};
    (void)state;

    cfg_init(&cfg, NULL, NULL);
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    assert_null(t);
    cfg.tls_client_ca = (char *)path("ca.crt");
    expect_fail(&cfg, "MODELWRAP_TLS_CLIENT_CA needs MODELWRAP_TLS_CERT", NULL);
    cfg_init(&cfg, path("rsa.crt"), NULL);
    expect_fail(&cfg, "MODELWRAP_TLS_CERT is set but MODELWRAP_TLS_KEY is not", NULL);
    cfg_init(&cfg, NULL, path("rsa.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_KEY is set but MODELWRAP_TLS_CERT is not", NULL);
}

static void test_valid_pairs(void **state)
{
    struct config cfg;
    struct tls_ctx *t = NULL;
    struct mw_error e = {0};
    (void)state;

    cfg_init(&cfg, path("rsa.crt"), path("rsa.key"));
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    assert_non_null(t);
    assert_string_equal(tls_priorities(t), DEFAULT_PRIO);
    assert_null(tls_client_ca_pem(t));
    assert_non_null(tls_cert_callback());
    assert_int_equal(tls_reload(t, &e), 0);
    tls_free(t);

    cfg_init(&cfg, path("ec.crt"), path("ec.key"));
    cfg.tls_client_ca = (char *)path("ca.crt");
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    assert_non_null(tls_client_ca_pem(t));
    assert_non_null(strstr(tls_client_ca_pem(t), "BEGIN CERTIFICATE"));
    tls_free(t);
}

static void test_bad_files(void **state)
{
    struct config cfg;
    (void)state;

    cfg_init(&cfg, path("missing.crt"), path("rsa.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_CERT: cannot read", "No such file or directory");
    cfg_init(&cfg, path("rsa.crt"), path("missing.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_KEY: cannot read", "missing.key");
    cfg_init(&cfg, g_dir, path("rsa.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_CERT", "not a regular file");
    cfg_init(&cfg, path("garbage.pem"), path("rsa.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_CERT", "no usable PEM certificate");
    cfg_init(&cfg, path("rsa.crt"), path("garbage.pem"));
    expect_fail(&cfg, "MODELWRAP_TLS_KEY", "no usable PEM private key");
    cfg_init(&cfg, path("rsa.crt"), path("ec.key"));
    expect_fail(&cfg, "does not match the certificate", "rsa.crt");
    cfg_init(&cfg, path("ec.crt"), path("rsa.key"));
    expect_fail(&cfg, "does not match the certificate", "ec.crt");
    cfg_init(&cfg, path("old.crt"), path("old.key"));
    expect_fail(&cfg, "MODELWRAP_TLS_CERT: the certificate in", "expired on");
    cfg_init(&cfg, path("rsa.crt"), path("rsa.key"));
    cfg.tls_client_ca = (char *)path("garbage.pem");
    expect_fail(&cfg, "MODELWRAP_TLS_CLIENT_CA", "no PEM CA certificate");
    cfg.tls_client_ca = (char *)path("nope.pem");
    expect_fail(&cfg, "MODELWRAP_TLS_CLIENT_CA: cannot read", NULL);
}

static void test_priorities(void **state)
{
    struct config cfg;
    struct tls_ctx *t = NULL;
    struct mw_error e = {0};
    (void)state;

    cfg_init(&cfg, path("rsa.crt"), path("rsa.key"));
    cfg.tls_priorities = (char *)"NORMAL:+NOPE";
    expect_fail(&cfg, "MODELWRAP_TLS_PRIORITIES: GnuTLS refuses it at '+NOPE'", NULL);
    cfg.tls_priorities = (char *)"NORMAL:+VERS-TLS1.1";
    expect_fail(&cfg, "MODELWRAP_TLS_PRIORITIES: it enables TLS1.", "TLS 1.2 and 1.3 only");
    cfg.tls_priorities = (char *)"NORMAL:-VERS-ALL:+VERS-TLS1.0";
    expect_fail(&cfg, "MODELWRAP_TLS_PRIORITIES: it enables TLS1.0", NULL);
    cfg.tls_priorities = (char *)"NORMAL:-VERS-ALL:+VERS-DTLS1.2";
    expect_fail(&cfg, "neither TLS 1.2 nor 1.3", NULL);
    /* an operator's own string that stays at TLS 1.2+ is accepted (with a warning if weak) */
    cfg.tls_priorities = (char *)"NORMAL:-VERS-ALL:+VERS-TLS1.2";
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    tls_free(t);
    cfg.tls_priorities = (char *)"SECURE256:-VERS-ALL:+VERS-TLS1.3";
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    tls_free(t);
}

static void test_reload(void **state)
{
    struct config cfg;
    struct tls_ctx *t = NULL;
    struct mw_error e = {0};
    char live_crt[160];
    char live_key[160];
    (void)state;

    /* the context keeps the configured paths: they must outlive it */
    snprintf(live_crt, sizeof(live_crt), "%s", path("live.crt"));
    snprintf(live_key, sizeof(live_key), "%s", path("live.key"));
    sh("cp %s %s && cp %s %s", path("rsa.crt"), live_crt, path("rsa.key"), live_key);
    cfg_init(&cfg, live_crt, live_key);
    assert_int_equal(tls_new(&cfg, &t, &e), 0);
    /* a half-replaced pair is refused and the old credential stays */
    sh("cp %s %s", path("ec.crt"), live_crt);
    assert_int_equal(tls_reload(t, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "does not match"));
    sh("cp %s %s", path("ec.key"), live_key);
    assert_int_equal(tls_reload(t, &e), 0);
    sh("cp %s %s && cp %s %s", path("old.crt"), live_crt, path("old.key"),
       live_key);
    assert_int_equal(tls_reload(t, &e), MWE_CONFIG);
    if (!strstr(e.msg, "expired"))
        fail_msg("unexpected message: %s", e.msg);
    unlink(live_crt);
    assert_int_equal(tls_reload(t, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "cannot read"));
    tls_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off),        cmocka_unit_test(test_valid_pairs),
        cmocka_unit_test(test_bad_files),  cmocka_unit_test(test_priorities),
        cmocka_unit_test(test_reload),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
