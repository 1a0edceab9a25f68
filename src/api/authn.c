/*
 * The authenticate and authorize phases' HTTP adapter: reads the credentials from the request's
 * headers and query string and the transport's client certificate, asks auth_decide, and turns a
 * refusal into the response (status, WWW-Authenticate or Retry-After, reason code).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"

#define REALM "Bearer realm=\"modelwrap\""

void api_transport_principal(struct api *a, struct request *r)
{
    struct api_req *q = api_req(r);
    const struct http_client_cert *c = &r->client_cert;

    if (q->principal_seen)
        return;
    q->principal_seen = true;
    if (!c->verified)
        return;
    struct auth_cert cert = {c->subject, c->cn, c->san, c->fingerprint};
    auth_cert_principal(a->auth, &cert, &q->principal);
}

static bool query_cred(void *ctx, struct slice name, struct slice value)
{
    bool *found = ctx;
    if (auth_query_is_credential(name, value)) {
        *found = true;
        return false;
    }
    return true;
}

int api_authenticate(struct api *a, struct request *r)
{
    const char *scope = r->route ? r->route->scope : NULL;
    struct principal *p = &api_req(r)->principal;
    struct auth_creds c;
    struct auth_decision d;
    unsigned need;
    char hdr[160];
    int rc;

    if (!scope)
        return 0;
    need = auth_scope_bit(scope, strlen(scope));
    if (!a->auth || !need) {
        /* Fail closed: no authentication context, or a route naming an unknown scope. */
        log_msg(LOG_ERROR, "authorization impossible: refusing", "route", r->route->name, "scope",
                scope, NULL);
        http_set_error(r, MWE_INTERNAL, NULL);
        return MWE_INTERNAL;
    }
    memset(&c, 0, sizeof(c));
    struct principal transport = *p;
    if (transport.kind == PRINCIPAL_MTLS)
        c.transport = &transport;
    if (auth_reads_credentials(a->auth)) {
        auth_creds_from_headers(&c, http_header_get(r, "X-API-Key"), http_header_get(r, "token"),
                                http_header_get(r, "Authorization"));
        http_query_each(r, query_cred, &c.in_query);
    }
    rc = auth_decide(a->auth, &c, r->client_addr, need, p, &d);
    if (rc == 0)
        return 0;

    r->outcome = auth_reason_code(d.reason);
    switch (rc) {
    case MWE_UNAUTHENTICATED:
        http_set_error(r, rc,
                       "Authentication is required: send an API key in the X-API-Key "
                       "header or a bearer token in the Authorization header.");
        http_header_add(r, "WWW-Authenticate", REALM);
        break;
    case MWE_INVALID_TOKEN:
        http_set_error(r, rc, NULL);
        http_header_add(r, "WWW-Authenticate", REALM ", error=\"invalid_token\"");
        break;
    case MWE_BAD_REQUEST:
        http_set_error(r, rc,
                       "Credentials are not accepted in the query string; send them in "
                       "the X-API-Key or Authorization header.");
        http_header_add(r, "WWW-Authenticate", REALM ", error=\"invalid_request\"");
        break;
    case MWE_INSUFFICIENT_SCOPE:
        snprintf(hdr, sizeof(hdr), REALM ", error=\"insufficient_scope\", scope=\"%s\"", scope);
        http_set_error(r, rc, NULL);
        http_header_add(r, "WWW-Authenticate", hdr);
        break;
    default:
        snprintf(hdr, sizeof(hdr), "%u", d.retry_after);
        http_set_error(r, rc,
                       "Too many failed authentication attempts from this address; "
                       "retry later.");
        http_header_add(r, "Retry-After", hdr);
        break;
    }
    log_msg(d.reason == AUTH_MISSING || d.reason == AUTH_BLOCKED ? LOG_INFO : LOG_WARN,
            "authentication refused", "request_id", r->id, "client", r->client_addr, "route",
            r->route->name, "reason", r->outcome, "detail", d.detail, "key_id",
            p->kind == PRINCIPAL_API_KEY ? p->key_id : NULL, NULL);
    return rc;
}
