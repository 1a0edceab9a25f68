/*
 * The authentication decision without HTTP: an API key or a JWT checked against the lock-free
 * snapshots, the transport's mTLS principal, the route's scope, brute-force blocking and the
 * counters; and the principal of a verified client certificate.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"

#define KEY_MIN_LEN 16 /* shorter credentials are not even hashed */
#define KEY_MAX_LEN 256

/* ---- the decision ---------------------------------------------------------------------------- */

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int check_key(struct auth *a, struct slice key, int64_t now, struct principal *p,
                     struct auth_decision *d)
{
    unsigned char digest[32];
    struct snap_ref ref;
    const struct auth_keyset *ks;
    const struct auth_key *k;
    int reason = -1;

    if (!a->cfg->api_keys_file) {
        d->detail = "API keys are disabled (MODELWRAP_API_KEYS_FILE is empty)";
        return AUTH_INVALID_KEY;
    }
    if (key.len < KEY_MIN_LEN || key.len > KEY_MAX_LEN) {
        d->detail = "malformed API key (length)";
        return AUTH_INVALID_KEY;
    }
    if (auth_sha256(key.ptr, key.len, digest) != 0) {
        d->detail = "cannot hash the key";
        return AUTH_INVALID_KEY;
    }
    ks = snap_acquire(&a->keys, &ref);
    k = auth_keyset_find(ks, digest);
    if (!k) {
        d->detail = "unknown API key";
        reason = AUTH_INVALID_KEY;
    } else if (k->revoked) {
        d->detail = "revoked API key";
        reason = AUTH_REVOKED_KEY;
    } else if (k->expires && k->expires <= now) {
        d->detail = "expired API key";
        reason = AUTH_EXPIRED_KEY;
    }
    if (k) {
        /* Who it was is useful in the log even when refused: the id is not a secret. */
        p->kind = PRINCIPAL_API_KEY;
        copy_text(p->id, sizeof(p->id), k->id);
        copy_text(p->key_id, sizeof(p->key_id), k->id);
        copy_text(p->name, sizeof(p->name), k->owner);
        p->client_id[0] = '\0';
        p->scopes = reason < 0 ? k->scopes : 0;
        p->rate = k->rate;
        p->burst = k->burst;
    }
    snap_release(&ref);
    return reason;
}

static int check_token(struct auth *a, struct slice token, int64_t now, struct principal *p,
                       struct auth_decision *d)
{
    struct snap_ref ref;
    const struct jwt_keys *keys;
    int st;

    if (!a->jwt_enabled) {
        d->detail = "bearer tokens are not configured (MODELWRAP_JWT_ISSUER is unset)";
        return AUTH_INVALID_TOKEN;
    }
    keys = snap_acquire(&a->jwks, &ref);
    st = jwt_verify(&a->pol, keys, token.ptr, token.len, now, p, &d->detail);
    snap_release(&ref);
    switch (st) {
    case JWT_OK:
        return -1;
    case JWT_EXPIRED:
        return AUTH_EXPIRED_TOKEN;
    case JWT_LIFETIME:
        return AUTH_TOKEN_LIFETIME;
    case JWT_UNKNOWN_KID:
        auth_jwks_want_refresh(a);
        return AUTH_INVALID_TOKEN;
    default:
        return AUTH_INVALID_TOKEN;
    }
}

static int err_of(int reason)
{
    switch (reason) {
    case AUTH_MISSING:
        return MWE_UNAUTHENTICATED;
    case AUTH_KEY_IN_QUERY:
        return MWE_BAD_REQUEST;
    case AUTH_INSUFFICIENT_SCOPE:
        return MWE_INSUFFICIENT_SCOPE;
    case AUTH_BLOCKED:
        return MWE_RATE_LIMITED;
    default:
        return MWE_INVALID_TOKEN;
    }
}

int auth_decide(struct auth *a, const struct auth_creds *c, const char *client, unsigned need,
                struct principal *out, struct auth_decision *d)
{
    struct principal p;
    uint64_t mono = time_mono_ns();
    int64_t now = (int64_t)time(NULL);
    int reason = -1;

    memset(d, 0, sizeof(*d));
    memset(&p, 0, sizeof(p));
    if (a->mode == AUTH_NONE) {
        p.kind = PRINCIPAL_ANONYMOUS;
        copy_text(p.id, sizeof(p.id), "anonymous");
        p.scopes = SCOPE_ALL;
        goto out;
    }
    if (auth_lockout_blocked(&a->lockout, client, mono, &d->retry_after)) {
        d->detail = "the address is blocked after repeated authentication failures";
        reason = AUTH_BLOCKED;
        goto out;
    }
    if (c->in_query) {
        d->detail = "credentials in the query string";
        reason = AUTH_KEY_IN_QUERY;
    } else if (c->api_key.len > 0) {
        reason = check_key(a, c->api_key, now, &p, d);
    } else if (c->bearer.len > sizeof(AUTH_KEY_PREFIX) - 1 &&
               memcmp(c->bearer.ptr, AUTH_KEY_PREFIX, sizeof(AUTH_KEY_PREFIX) - 1) == 0) {
        reason = check_key(a, c->bearer, now, &p, d); /* an API key sent as a bearer token */
    } else if (c->bearer.len > 0) {
        reason = check_token(a, c->bearer, now, &p, d);
    } else if (c->transport && c->transport->kind == PRINCIPAL_MTLS && !c->bad_header) {
        p = *c->transport; /* verified by the TLS layer */
        reason = -1;
    } else if (c->bad_header) {
        d->detail = "the Authorization header is not `Bearer <token>`";
        reason = AUTH_INVALID_TOKEN;
    } else {
        d->detail = "no credentials";
        reason = AUTH_MISSING;
        goto out;
    }
    if (reason >= 0) {
        if (auth_lockout_fail(&a->lockout, client, mono)) {
            atomic_fetch_add_explicit(&a->blocks, 1, memory_order_relaxed);
            log_msg(LOG_WARN, "address blocked after repeated authentication failures", "client",
                    client, NULL);
        }
        goto out;
    }
    if (need && !(p.scopes & need)) {
        d->detail = "the credentials lack the route's scope";
        reason = AUTH_INSUFFICIENT_SCOPE;
    }
out:
    *out = p;
    if (reason >= 0) {
        d->reason = reason;
        atomic_fetch_add_explicit(&a->failures[reason], 1, memory_order_relaxed);
        return err_of(reason);
    }
    atomic_fetch_add_explicit(&a->successes, 1, memory_order_relaxed);
    return 0;
}

/* ---- the transport's facts ------------------------------------------------------------------- */

bool auth_reads_credentials(const struct auth *a)
{
    return a != NULL && a->mode != AUTH_NONE;
}

void auth_cert_principal(const struct auth *a, const struct auth_cert *cert, struct principal *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = PRINCIPAL_MTLS;
    p->scopes = a != NULL ? a->cert_scopes : 0;
    snprintf(p->id, sizeof(p->id), "%s", cert->subject);
    snprintf(p->key_id, sizeof(p->key_id), "x509:%.32s", cert->fingerprint);
    snprintf(p->client_id, sizeof(p->client_id), "%s", cert->san);
    snprintf(p->name, sizeof(p->name), "%s",
             cert->cn[0] ? cert->cn : (cert->san[0] ? cert->san : cert->subject));
}
