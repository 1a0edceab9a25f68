/*
 * In-process HTTPS with GnuTLS under libmicrohttpd: the certificate and key (checked at start-up
 * and swapped atomically on SIGHUP as a reference-counted credential handed out by MHD's
 * certificate callback), the priority string (TLS 1.2+ only), and mutual TLS: client certificate
 * verification during the handshake and the facts of a verified certificate.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"

#define TLS_FILE_MAX (1u << 20) /* bytes of a certificate, key or CA file */
#define TLS_CHAIN_MAX 16        /* certificates in MODELWRAP_TLS_CERT */
#define EXPIRY_WARN_S (30 * 86400)
#define LOG_INTERVAL_NS (10ull * 1000000000ull)

/* One certificate chain and its key. Shared by every handshake that took it; freed when the last
 * reference goes (the "current" role holds one, each connection that used it one). */
struct tls_cred {
    unsigned refs; /* under tls_ctx.lock */
    gnutls_pcert_st pcerts[TLS_CHAIN_MAX];
    unsigned n_pcerts;
    gnutls_privkey_t key;
    time_t not_before;
    time_t not_after;
    char subject[256];
};

struct tls_ctx {
    pthread_mutex_t lock;
    struct tls_cred *cur;
    const char *cert_path; /* cfg's */
    const char *key_path;  /* cfg's */
    const char *priorities;
    char *client_ca_pem; /* NUL-terminated; NULL without mutual TLS */
    bool client_required;
    atomic_ullong log_refused_ns;
};

/* ---- files ----------------------------------------------------------------------------------- */

static void datum_wipe(gnutls_datum_t *d)
{
    if (d->data) {
        explicit_bzero(d->data, d->size);
        free(d->data);
    }
    d->data = NULL;
    d->size = 0;
}

/* Reads a regular file of at most TLS_FILE_MAX bytes, NUL-terminated (not counted in size). */
static int read_file(const char *setting, const char *path, gnutls_datum_t *out,
                     struct mw_error *e)
{
    char *data = NULL;
    size_t len = 0;
    int err;
    int rc = 0;

    out->data = NULL;
    out->size = 0;
    err = mw_file_read(path, TLS_FILE_MAX, MW_FILE_REGULAR, &data, &len);
    if (err == EINVAL)
        rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is not a regular file", setting, path);
    else if (err == ENOMEM)
        rc = mw_fail(e, MWE_NOMEM, "%s: out of memory", setting);
    else if (err != 0 && err != EFBIG)
        rc = mw_fail(e, MWE_CONFIG, "%s: cannot read '%s': %s", setting, path, strerror(err));
    else if (err == EFBIG || len == 0)
        rc = mw_fail(e, MWE_CONFIG, "%s: '%s' is %s (accepted: a PEM file of at most %u bytes)",
                     setting, path, err == 0 ? "empty" : "too large", TLS_FILE_MAX);
    out->data = (unsigned char *)data;
    out->size = (unsigned)len;
    if (rc != 0)
        datum_wipe(out);
    return rc;
}

static void time_text(time_t t, char out[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

/* ---- credentials ----------------------------------------------------------------------------- */

static void cred_free(struct tls_cred *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_pcerts; i++)
        gnutls_pcert_deinit(&c->pcerts[i]);
    if (c->key)
        gnutls_privkey_deinit(c->key);
    free(c);
}

static void cred_release(struct tls_ctx *t, struct tls_cred *c)
{
    bool last;
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    last = --c->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last)
        cred_free(c);
}

/* Loads and checks MODELWRAP_TLS_CERT + MODELWRAP_TLS_KEY. NULL with e. */
static struct tls_cred *cred_load(const struct tls_ctx *t, struct mw_error *e)
{
    gnutls_datum_t cert = {NULL, 0};
    gnutls_datum_t key = {NULL, 0};
    gnutls_certificate_credentials_t check = NULL;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    struct tls_cred *c = NULL;
    char when[32];
    time_t now = time(NULL);
    int rc;

    if (read_file("MODELWRAP_TLS_CERT", t->cert_path, &cert, e) != 0 ||
        read_file("MODELWRAP_TLS_KEY", t->key_path, &key, e) != 0)
        goto out_fail;
    c = calloc(1, sizeof(*c));
    if (!c) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out_fail;
    }
    c->refs = 1;
    c->n_pcerts = TLS_CHAIN_MAX;
    rc = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->n_pcerts, &cert, GNUTLS_X509_FMT_PEM,
                                           0);
    if (rc < 0 || c->n_pcerts == 0) {
        c->n_pcerts = 0;
        mw_fail(e, MWE_CONFIG,
                "MODELWRAP_TLS_CERT: '%s' holds no usable PEM certificate chain (at most %d "
                "certificates): %s",
                t->cert_path, TLS_CHAIN_MAX, gnutls_strerror(rc < 0 ? rc : GNUTLS_E_BASE64_DECODING_ERROR));
        goto out_fail;
    }
    if (gnutls_privkey_init(&c->key) < 0) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out_fail;
    }
    rc = gnutls_privkey_import_x509_raw(c->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0) {
        mw_fail(e, MWE_CONFIG,
                "MODELWRAP_TLS_KEY: '%s' holds no usable PEM private key (RSA or ECDSA, not "
                "encrypted): %s",
                t->key_path, gnutls_strerror(rc));
        goto out_fail;
    }
    /* GnuTLS's own check that the key belongs to the certificate. */
    if (gnutls_certificate_allocate_credentials(&check) < 0) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out_fail;
    }
    rc = gnutls_certificate_set_x509_key_mem2(check, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        mw_fail(e, MWE_CONFIG,
                "MODELWRAP_TLS_KEY: the private key in '%s' does not match the certificate in "
                "'%s'",
                t->key_path, t->cert_path);
        goto out_fail;
    }
    if (rc < 0) {
        mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CERT/MODELWRAP_TLS_KEY: GnuTLS refuses the pair "
                               "'%s' / '%s': %s",
                t->cert_path, t->key_path, gnutls_strerror(rc));
        goto out_fail;
    }
    if (gnutls_pcert_export_x509(&c->pcerts[0], &crt) < 0) {
        mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CERT: cannot read the certificate in '%s'",
                t->cert_path);
        goto out_fail;
    }
    c->not_before = gnutls_x509_crt_get_activation_time(crt);
    c->not_after = gnutls_x509_crt_get_expiration_time(crt);
    if (c->not_after == (time_t)-1 || c->not_after < now) {
        time_text(c->not_after, when);
        mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CERT: the certificate in '%s' expired on %s",
                t->cert_path, when);
        goto out_fail;
    }
    if (c->not_before == (time_t)-1 || c->not_before > now) {
        time_text(c->not_before, when);
        mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CERT: the certificate in '%s' is not valid before %s",
                t->cert_path, when);
        goto out_fail;
    }
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.data) {
        size_t n = dn.size < sizeof(c->subject) - 1 ? dn.size : sizeof(c->subject) - 1;
        memcpy(c->subject, dn.data, n);
        c->subject[n] = '\0';
    }
    goto out;
out_fail:
    cred_free(c);
    c = NULL;
out:
    gnutls_free(dn.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (check)
        gnutls_certificate_free_credentials(check);
    datum_wipe(&cert);
    datum_wipe(&key);
    return c;
}

static void log_cred(const char *msg, const struct tls_cred *c)
{
    char after[32];
    time_text(c->not_after, after);
    log_msg(LOG_INFO, msg, "subject", c->subject, "not_after", after, NULL);
    if (c->not_after - time(NULL) < EXPIRY_WARN_S)
        log_msg(LOG_WARN, "the TLS certificate expires in less than 30 days", "subject",
                c->subject, "not_after", after, NULL);
}

/* ---- the priority string --------------------------------------------------------------------- */

static int priorities_check(const char *prio, struct mw_error *e)
{
    gnutls_priority_t p = NULL;
    const char *err_pos = NULL;
    const unsigned *list = NULL;
    bool modern = false;
    bool weak = false;
    int n;
    int rc = gnutls_priority_init(&p, prio, &err_pos);

    if (rc < 0) {
        rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_PRIORITIES: GnuTLS refuses it at '%.40s': %s",
                     err_pos ? err_pos : prio, gnutls_strerror(rc));
        goto out;
    }
    rc = 0;
    n = gnutls_priority_protocol_list(p, &list);
    for (int i = 0; i < n; i++) {
        gnutls_protocol_t v = (gnutls_protocol_t)list[i];
        if (v == GNUTLS_SSL3 || v == GNUTLS_TLS1_0 || v == GNUTLS_TLS1_1) {
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_TLS_PRIORITIES: it enables %s; modelwrap serves TLS 1.2 and "
                         "1.3 only (add -VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2)",
                         gnutls_protocol_get_name(v));
            goto out;
        }
        if (v == GNUTLS_TLS1_2 || v == GNUTLS_TLS1_3)
            modern = true;
    }
    if (!modern) {
        rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_PRIORITIES: it enables neither TLS 1.2 nor 1.3");
        goto out;
    }
    for (unsigned i = 0;; i++) {
        unsigned idx;
        unsigned char id[2];
        gnutls_kx_algorithm_t kx;
        gnutls_cipher_algorithm_t cipher;
        gnutls_mac_algorithm_t mac;
        gnutls_protocol_t min;
        int r = gnutls_priority_get_cipher_suite_index(p, i, &idx);
        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (r < 0 || !gnutls_cipher_suite_info(idx, id, &kx, &cipher, &mac, &min))
            continue;
        if (mac != GNUTLS_MAC_AEAD ||
            (kx != GNUTLS_KX_ECDHE_RSA && kx != GNUTLS_KX_ECDHE_ECDSA &&
             kx != GNUTLS_KX_DHE_RSA && kx != GNUTLS_KX_UNKNOWN))
            weak = true; /* GNUTLS_KX_UNKNOWN: a TLS 1.3 suite (always forward secret) */
    }
    if (weak)
        log_msg(LOG_WARN,
                "MODELWRAP_TLS_PRIORITIES allows cipher suites without forward secrecy or "
                "authenticated encryption",
                NULL);
out:
    if (p)
        gnutls_priority_deinit(p);
    return rc;
}

/* ---- public ---------------------------------------------------------------------------------- */

/* See http_int.h. Main thread at start-up; *out owned by the caller (tls_free). */
int tls_new(const struct config *cfg, struct tls_ctx **out,
            struct mw_error *e)
{
    struct tls_ctx *t = NULL;
    gnutls_datum_t ca = {NULL, 0};
    gnutls_x509_crt_t *cas = NULL;
    unsigned n_cas = 0;
    int rc = 0;

    *out = NULL;
    if (!cfg->tls_cert && !cfg->tls_key) {
        if (cfg->tls_client_ca)
            rc = mw_fail(e, MWE_CONFIG, "MODELWRAP_TLS_CLIENT_CA needs MODELWRAP_TLS_CERT and "
                                        "MODELWRAP_TLS_KEY (mutual TLS is part of HTTPS)");
        goto out;
    }
    if (!cfg->tls_cert || !cfg->tls_key) {
        rc = mw_fail(e, MWE_CONFIG, "%s is set but %s is not: HTTPS needs both",
                     cfg->tls_cert ? "MODELWRAP_TLS_CERT" : "MODELWRAP_TLS_KEY",
                     cfg->tls_cert ? "MODELWRAP_TLS_KEY" : "MODELWRAP_TLS_CERT");
        goto out;
    }
    rc = priorities_check(cfg->tls_priorities, e);
    if (rc != 0)
        goto out;
    t = calloc(1, sizeof(*t));
    if (!t) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->cert_path = cfg->tls_cert;
    t->key_path = cfg->tls_key;
    t->priorities = cfg->tls_priorities;
    t->client_required = cfg->tls_client_auth == TLS_CLIENT_REQUIRED;
    t->cur = cred_load(t, e);
    if (!t->cur) {
        rc = e ? e->code : MWE_CONFIG;
        goto out_fail;
    }
    if (cfg->tls_client_ca) {
        rc = read_file("MODELWRAP_TLS_CLIENT_CA", cfg->tls_client_ca, &ca, e);
        if (rc != 0)
            goto out_fail;
        if (gnutls_x509_crt_list_import2(&cas, &n_cas, &ca, GNUTLS_X509_FMT_PEM, 0) < 0 ||
            n_cas == 0) {
            rc = mw_fail(e, MWE_CONFIG,
                         "MODELWRAP_TLS_CLIENT_CA: '%s' holds no PEM CA certificate",
                         cfg->tls_client_ca);
            goto out_fail;
        }
        t->client_ca_pem = (char *)ca.data; /* NUL-terminated by read_file */
        ca.data = NULL;
    }
    log_cred("TLS enabled", t->cur);
    log_msg(LOG_INFO, "TLS client certificates", "mode",
            !t->client_ca_pem ? "off" : t->client_required ? "required" : "optional", NULL);
    *out = t;
    goto out;
out_fail:
    tls_free(t);
out:
    for (unsigned i = 0; i < n_cas; i++)
        gnutls_x509_crt_deinit(cas[i]);
    gnutls_free(cas);
    datum_wipe(&ca);
    return rc;
}

/* Frees t and its current credential. After every daemon stopped (no connection holds a
 * credential any more). NULL is fine. */
void tls_free(struct tls_ctx *t)
{
    if (!t)
        return;
    cred_release(t, t->cur);
    pthread_mutex_destroy(&t->lock);
    free(t->client_ca_pem);
    free(t);
}

/* See http_int.h. Main thread (SIGHUP); handshakes on I/O threads keep running meanwhile. */
int tls_reload(struct tls_ctx *t, struct mw_error *e)
{
    struct tls_cred *fresh = cred_load(t, e);
    struct tls_cred *old;

    if (!fresh)
        return e ? e->code : MWE_CONFIG;
    pthread_mutex_lock(&t->lock);
    old = t->cur;
    t->cur = fresh;
    pthread_mutex_unlock(&t->lock);
    cred_release(t, old);
    log_cred("TLS certificate reloaded", fresh);
    return 0;
}

/* The priority string for MHD_OPTION_HTTPS_PRIORITIES: cfg's, valid while cfg lives. */
const char *tls_priorities(const struct tls_ctx *t)
{
    return t->priorities;
}

/* The client CA PEM text for MHD_OPTION_HTTPS_MEM_TRUST (NULL without mutual TLS); owned by t,
 * valid until tls_free. */
const char *tls_client_ca_pem(const struct tls_ctx *t)
{
    return t->client_ca_pem;
}

/* libmicrohttpd's certificate callback (an I/O thread, during a handshake): pins the current
 * credential to the connection, so a reload never frees what a handshake uses. */
static int cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                   gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    struct http_conn *c = http_conn_of_session(session);
    struct tls_ctx *t = c ? c->tls : NULL;
    struct tls_cred *cred;
    struct tls_cred *old;

    if (!t)
        return -1;
    pthread_mutex_lock(&t->lock);
    cred = t->cur;
    cred->refs++;
    old = c->cred;
    c->cred = cred;
    pthread_mutex_unlock(&t->lock);
    cred_release(t, old); /* a renegotiation: the first handshake's credential */
    *pcert = cred->pcerts;
    *pcert_length = cred->n_pcerts;
    *pkey = cred->key;
    return 0;
}

/* The function for MHD_OPTION_HTTPS_CERT_CALLBACK (static; any thread). */
gnutls_certificate_retrieve_function2 *tls_cert_callback(void)
{
    return cert_cb;
}

/* Verifies the client certificate as it arrives (an I/O thread, during the handshake): signed by
 * MODELWRAP_TLS_CLIENT_CA, valid now, usable for TLS client authentication. A non-zero return
 * fails the handshake. */
static int verify_cb(gnutls_session_t session)
{
    struct http_conn *c = http_conn_of_session(session);
    struct tls_ctx *t = c ? c->tls : NULL;
    unsigned n = 0;
    unsigned status = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    int rc;

    if (!t)
        return -1;
    if (!peers || n == 0) {
        if (!t->client_required)
            return 0;
        if (guard_log_ok(&t->log_refused_ns, LOG_INTERVAL_NS))
            log_msg(LOG_WARN, "TLS handshake refused: no client certificate", "client",
                    c->peer_text, NULL);
        return -1;
    }
    rc = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (rc < 0 || status != 0) {
        if (guard_log_ok(&t->log_refused_ns, LOG_INTERVAL_NS)) {
            gnutls_datum_t why = {NULL, 0};
            if (rc >= 0)
                gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &why, 0);
            log_msg(LOG_WARN, "TLS handshake refused: client certificate not valid", "client",
                    c->peer_text, "reason",
                    rc < 0 ? gnutls_strerror(rc) : why.data ? (const char *)why.data : "?",
                    NULL);
            gnutls_free(why.data);
        }
        return -1;
    }
    c->client_verified = true;
    return 0;
}

/* See http_int.h. The connection's I/O thread, before its handshake. */
int tls_conn_start(struct tls_ctx *t, struct http_conn *c, gnutls_session_t session)
{
    static atomic_ullong log_ns;

    c->tls = t;
    if (http_conn_of_session(session) != c) {
        /* The certificate callback could not find this connection: refuse loudly rather than
         * serve without a pinned credential. */
        if (guard_log_ok(&log_ns, LOG_INTERVAL_NS))
            log_msg(LOG_ERROR, "TLS: cannot map a GnuTLS session to its connection "
                               "(unexpected libmicrohttpd version)", NULL);
        return -1;
    }
    if (t->client_ca_pem) {
        gnutls_session_set_verify_function(session, verify_cb);
        if (t->client_required)
            gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
    }
    return 0;
}

/* See http_int.h. The connection's I/O thread, as it closes. */
void tls_conn_end(struct tls_ctx *t, struct http_conn *c)
{
    cred_release(t, c->cred);
    c->cred = NULL;
    free(c->client);
    c->client = NULL;
}

/* Copies at most cap-1 bytes of a certificate string, control bytes as '?'. */
static void copy_text(char *out, size_t cap, const char *s, size_t n)
{
    size_t i;
    if (n > cap - 1)
        n = cap - 1;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    out[i] = '\0';
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The facts of a verified client certificate: the subject DN (RFC 4514; "sha256:" and its
 * fingerprint when the DN is too long), the CN, the first DNS, URI or e-mail SAN and the SHA-256
 * fingerprint. What they grant is the application's decision (src/auth). */
static struct http_client_cert *cert_build(gnutls_session_t session)
{
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t dn = {NULL, 0};
    struct http_client_cert *p = NULL;
    unsigned char fp[32];
    size_t fp_len = sizeof(fp);
    char fp_hex[65];

    if (!peers || n == 0 || gnutls_x509_crt_init(&crt) < 0)
        goto out;
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, fp, &fp_len) < 0 || fp_len != 32)
        goto out;
    p = calloc(1, sizeof(*p));
    if (!p)
        goto out;
    hex(fp, 32, fp_hex);
    p->verified = true;
    memcpy(p->fingerprint, fp_hex, sizeof(p->fingerprint));
    if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.data && dn.size > 0 &&
        dn.size < sizeof(p->subject))
        copy_text(p->subject, sizeof(p->subject), (const char *)dn.data, dn.size);
    else
        snprintf(p->subject, sizeof(p->subject), "sha256:%s", fp_hex);
    {
        char buf[256];
        size_t size = sizeof(buf);
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) >= 0)
            copy_text(p->cn, sizeof(p->cn), buf, size);
    }
    for (unsigned i = 0; i < 64; i++) {
        char buf[256];
        size_t size = sizeof(buf);
        unsigned critical = 0;
        int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, &critical);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (type == GNUTLS_SAN_DNSNAME || type == GNUTLS_SAN_URI || type == GNUTLS_SAN_RFC822NAME) {
            copy_text(p->san, sizeof(p->san), buf, size);
            break;
        }
    }
out:
    gnutls_free(dn.data);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    return p;
}

/* See http_int.h. The connection's I/O thread. */
bool tls_conn_client_cert(struct tls_ctx *t, struct http_conn *c, gnutls_session_t session,
                          struct http_client_cert *p)
{
    if (!c->client_verified)
        return false;
    if (!c->client)
        c->client = cert_build(session);
    if (!c->client)
        return false;
    *p = *c->client;
    return true;
}
