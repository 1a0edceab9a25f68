/*
 * The per-consumer rate limit phase: the consumer key of the request's principal (else its client
 * address), one decision of the limiter (local or Redis), the RateLimit-* headers, and 429 with
 * Retry-After past the limit (503 when the shared store is unavailable).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "limit/limit.h"

/* Routes without a scope (health probes, the docs page's static files): never limited. The same
 * rule as the SLA's admission (sla.c). */
static bool exempt(const struct route *rt)
{
    return rt == NULL || rt->scope == NULL;
}

static uint64_t ceil_s(uint64_t ns)
{
    return (ns + 999999999u) / 1000000000u;
}

static void add_uint_header(struct request *r, const char *name, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, v);
    http_header_add(r, name, text);
}

/* A NUL-terminated copy of a fixed-size field, whether or not its writer terminated it. */
#define FIELD_COPY(dst, field)                                                                     \
    do {                                                                                           \
        size_t n_ = strnlen((field), sizeof(field));                                               \
        memcpy((dst), (field), n_);                                                                \
        (dst)[n_] = '\0';                                                                          \
    } while (0)

/* The consumer a request counts against: the principal, else the client address. */
static size_t consumer_key(const struct request *r, char *out, size_t cap)
{
    const struct principal *p = &api_req(r)->principal;
    char a[sizeof(p->id) + 1];
    char b[sizeof(p->client_id) + 1];

    switch (p->kind) {
    case PRINCIPAL_API_KEY:
        if (p->id[0])
            FIELD_COPY(a, p->id);
        else
            FIELD_COPY(a, p->key_id);
        return limit_key_build(out, cap, 'k', a, NULL);
    case PRINCIPAL_JWT:
        FIELD_COPY(a, p->id);
        FIELD_COPY(b, p->client_id);
        return limit_key_build(out, cap, 'j', a, b);
    case PRINCIPAL_MTLS:
        FIELD_COPY(a, p->id);
        return limit_key_build(out, cap, 'm', a, NULL);
    default:
        FIELD_COPY(a, r->client_addr);
        return limit_key_build(out, cap, 'a', a, NULL);
    }
}

/* The per-consumer rate limit; see api.h. */
int api_limit_check(struct api *a, struct request *r)
{
    struct limit_decision d;
    char key[LIMIT_KEY_MAX];
    size_t len;
    int rc = 0;

    if (!a->limiter || exempt(r->route))
        goto out;
    len = consumer_key(r, key, sizeof(key));
    if (len == 0) {
        /* Cannot happen with the bounded principal fields; refuse rather than not count. */
        rc = MWE_INTERNAL;
        http_set_error(r, rc, NULL);
        goto out;
    }
    rc = limit_take(a->limiter, key, len, api_req(r)->principal.rate, api_req(r)->principal.burst,
                    &d);
    if (rc == MWE_RATE_LIMIT_UNAVAILABLE) {
        http_set_error(r, rc, NULL);
        add_uint_header(r, "Retry-After", ceil_s(d.retry_ns) ? ceil_s(d.retry_ns) : 1);
        r->outcome = "limit.store_unavailable";
        goto out;
    }
    if (d.limit == 0)
        goto out; /* no limit applies */
    add_uint_header(r, "RateLimit-Limit", d.limit);
    add_uint_header(r, "RateLimit-Remaining", d.remaining);
    add_uint_header(r, "RateLimit-Reset", ceil_s(d.reset_ns));
    if (!d.allowed) {
        uint64_t retry = ceil_s(d.retry_ns);
        double rate;
        unsigned burst;
        char msg[192];
        limit_default(a->limiter, &rate, &burst);
        if (api_req(r)->principal.rate > 0)
            rate = api_req(r)->principal.rate;
        snprintf(
            msg, sizeof(msg),
            "Too many requests: the limit is %g per second with bursts of %u; retry in %" PRIu64
            " s.",
            rate, d.limit, retry);
        rc = MWE_RATE_LIMITED;
        http_set_error(r, rc, msg);
        add_uint_header(r, "Retry-After", retry ? retry : 1);
        r->outcome = "limit.rate";
    }
out:
    return rc;
}
