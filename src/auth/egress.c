/*
 * egress: the forward proxy every outbound HTTP(S) request of modelwrap goes through (OpenID
 * discovery and JWKS fetches): MODELWRAP_EGRESS_PROXY, else the standard https_proxy/HTTPS_PROXY
 * with no_proxy/NO_PROXY. Proxy credentials (the URL's userinfo) never reach a log or an error.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

/* The first of the environment variables that is set and not empty, or NULL. */
static const char *env_first(const char *a, const char *b, const char **name)
{
    const char *v = getenv(a);
    if (v != NULL && v[0] != '\0') {
        *name = a;
        return v;
    }
    v = getenv(b);
    if (v != NULL && v[0] != '\0') {
        *name = b;
        return v;
    }
    return NULL;
}

const char *auth_egress_proxy(const struct config *cfg, const char **source)
{
    const char *name = NULL;
    const char *v;

    if (cfg->egress_proxy != NULL) {
        *source = "MODELWRAP_EGRESS_PROXY";
        return cfg->egress_proxy;
    }
    /* libcurl's own order: the lower-case name first. */
    v = env_first("https_proxy", "HTTPS_PROXY", &name);
    *source = name;
    return v;
}

int egress_init(struct egress *eg, const struct config *cfg, struct mw_error *e)
{
    const char *source = NULL;
    const char *proxy = auth_egress_proxy(cfg, &source);
    const char *np_name = NULL;
    const char *np = env_first("no_proxy", "NO_PROXY", &np_name);
    char shown[512];
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    int rc = 0;

    memset(eg, 0, sizeof(*eg));
    if (proxy == NULL)
        goto out;
    mw_url_redact(proxy, shown, sizeof(shown));
    u = curl_url();
    if (u == NULL) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, proxy, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0 &&
         strcmp(scheme, "socks5") != 0 && strcmp(scheme, "socks5h") != 0)) {
        rc = mw_fail(e, MWE_CONFIG,
                     "%s: '%.200s' is not a proxy URL (accepted: http://, https://, socks5://, "
                     "socks5h:// HOST[:PORT], optionally with USER:PASSWORD@)",
                     source, shown);
        goto out;
    }
    curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE);
    curl_url_get(u, CURLUPART_PASSWORD, &pass, CURLU_URLDECODE);
    eg->proxy = strdup(proxy);
    eg->shown = strdup(shown);
    eg->source = source;
    /* An explicit empty no-proxy list: libcurl must not read no_proxy itself behind our back. */
    eg->noproxy = strdup(np != NULL ? np : "");
    if (user != NULL && user[0] != '\0')
        eg->secret[0] = strdup(user);
    if (pass != NULL && pass[0] != '\0')
        eg->secret[1] = strdup(pass);
    if (!eg->proxy || !eg->shown || !eg->noproxy || (user && user[0] && !eg->secret[0]) ||
        (pass && pass[0] && !eg->secret[1])) {
        egress_fini(eg);
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
    }
out:
    if (pass != NULL)
        memset(pass, 0, strlen(pass));
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(u);
    return rc;
}

void egress_fini(struct egress *eg)
{
    size_t i;

    free(eg->proxy);
    free(eg->shown);
    free(eg->noproxy);
    for (i = 0; i < MW_ARRAY_LEN(eg->secret); i++) {
        if (eg->secret[i] != NULL)
            memset(eg->secret[i], 0, strlen(eg->secret[i]));
        free(eg->secret[i]);
    }
    memset(eg, 0, sizeof(*eg));
}

void egress_apply(const struct egress *eg, CURL *c)
{
    /* "" disables every proxy, the environment's included: what egress_init decided is final. */
    curl_easy_setopt(c, CURLOPT_PROXY, eg != NULL && eg->proxy != NULL ? eg->proxy : "");
    if (eg != NULL && eg->proxy != NULL)
        curl_easy_setopt(c, CURLOPT_NOPROXY, eg->noproxy);
}

/* Replaces each occurrence of s in msg (NUL-terminated, in place) with '*'s. */
static void blank(char *msg, const char *s)
{
    size_t n = strlen(s);
    char *p;

    if (n == 0)
        return;
    while ((p = strstr(msg, s)) != NULL)
        memset(p, '*', n);
}

void egress_scrub(const struct egress *eg, char *msg)
{
    size_t i;

    if (eg == NULL)
        return;
    for (i = 0; i < MW_ARRAY_LEN(eg->secret); i++)
        if (eg->secret[i] != NULL)
            blank(msg, eg->secret[i]);
}
