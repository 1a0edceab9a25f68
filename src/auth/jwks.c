/*
 * Fetching verification keys: the JWKS from a URI or through the issuer's OpenID discovery
 * document, with libcurl (TLS verification on, no redirects, timeouts, a size limit; plain HTTP
 * only to a loopback host), and from a file.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 10000L

bool auth_host_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    char buf[64];
    size_t n;

    if (!host)
        return false;
    if (strcmp(host, "localhost") == 0)
        return true;
    n = strlen(host);
    if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
        memcpy(buf, host + 1, n - 2); /* "[::1]" as a URL writes it */
        buf[n - 2] = '\0';
        host = buf;
    }
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return true;
        return memcmp(a6.s6_addr, v4mapped, 12) == 0 && a6.s6_addr[12] == 127;
    }
    return false;
}

int jwks_url_check(const char *label, const char *url, struct mw_error *e)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    int rc = 0;

    if (!u) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        rc = mw_fail(e, MWE_CONFIG, "%s: '%.200s' is not a URL", label, url);
        goto out;
    }
    if (strcmp(scheme, "https") == 0)
        goto out;
    if (strcmp(scheme, "http") == 0 && auth_host_is_loopback(host))
        goto out;
    rc = mw_fail(e, MWE_CONFIG,
                 "%s: '%.200s' must use https (plain http only to a loopback address)", label, url);
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

struct body {
    struct buf b;
    bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *body = userdata;
    size_t n = size * nmemb;
    if (buf_append(&body->b, ptr, n) != 0) {
        body->too_big = true;
        return 0; /* aborts the transfer */
    }
    return n;
}

json_t *jwks_http_get_json(const char *url, const struct egress *eg, struct mw_error *e)
{
    struct body body = {.too_big = false};
    char errbuf[CURL_ERROR_SIZE] = "";
    json_error_t jerr;
    json_t *doc = NULL;
    CURL *c = NULL;
    long status = 0;
    CURLcode cc;

    buf_init(&body.b, JWKS_FETCH_MAX);
    if (jwks_url_check("URL", url, e) != 0)
        goto out;
    c = curl_easy_init();
    if (!c) {
        mw_fail(e, MWE_NOMEM, "cannot start libcurl");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JWKS_FETCH_MAX);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "modelwrap/" MW_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    egress_apply(eg, c);
    cc = curl_easy_perform(c);
    if (body.too_big) {
        mw_fail(e, MWE_IO, "%.200s: the answer is larger than %u bytes", url, JWKS_FETCH_MAX);
        goto out;
    }
    if (cc != CURLE_OK) {
        mw_fail(e, MWE_IO, "%.200s: %s%s", url, errbuf[0] ? errbuf : curl_easy_strerror(cc),
                eg != NULL && eg->proxy != NULL ? " (through the egress proxy)" : "");
        egress_scrub(eg, e->msg);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        mw_fail(e, MWE_IO, "%.200s: HTTP status %ld", url, status);
        goto out;
    }
    doc = json_loadb(body.b.ptr ? body.b.ptr : "", body.b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        mw_fail(e, MWE_IO, "%.200s: not JSON: %.120s", url, jerr.text);
out:
    if (c)
        curl_easy_cleanup(c);
    buf_fini(&body.b);
    return doc;
}

json_t *jwks_fetch(const char *issuer, const char *jwks_uri, const struct egress *eg,
                   struct mw_error *e)
{
    json_t *disc = NULL;
    json_t *jwks = NULL;
    char *url = NULL;
    const json_t *v;
    size_t n;

    if (jwks_uri) {
        jwks = jwks_http_get_json(jwks_uri, eg, e);
        goto out;
    }
    /* OpenID Connect Discovery 1.0, section 4: the issuer without a trailing slash, then the
     * well-known path. */
    n = strlen(issuer);
    while (n > 0 && issuer[n - 1] == '/')
        n--;
    url = malloc(n + 40);
    if (!url) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    snprintf(url, n + 40, "%.*s/.well-known/openid-configuration", (int)n, issuer);
    disc = jwks_http_get_json(url, eg, e);
    if (!disc)
        goto out;
    v = json_object_get(disc, "issuer");
    if (!json_is_string(v) || strcmp(json_string_value(v), issuer) != 0) {
        mw_fail(e, MWE_IO, "%.200s: the discovery document names another issuer", url);
        goto out;
    }
    v = json_object_get(disc, "jwks_uri");
    if (!json_is_string(v)) {
        mw_fail(e, MWE_IO, "%.200s: the discovery document has no jwks_uri", url);
        goto out;
    }
    jwks = jwks_http_get_json(json_string_value(v), eg, e);
out:
    json_decref(disc);
    free(url);
    return jwks;
}

json_t *jwks_read_file(const char *path, struct mw_error *e)
{
    json_error_t jerr;
    json_t *doc = NULL;
    char why[128];
    char *data = NULL;
    size_t len = 0;
    int err = mw_file_read(path, JWKS_FETCH_MAX, 0, &data, &len);

    if (err == EFBIG) {
        mw_fail(e, MWE_IO, "%s: larger than %u bytes", path, JWKS_FETCH_MAX);
        goto out;
    }
    if (err == ENOMEM) {
        mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (err != 0) {
        mw_fail(e, MWE_IO, "%s: %s", path, strerror_r(err, why, sizeof(why)));
        goto out;
    }
    doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        mw_fail(e, MWE_CONFIG, "%s: line %d: %.120s", path, jerr.line, jerr.text);
out:
    free(data);
    return doc;
}
