/*
 * sla: the service level agreement, published and enforced from one place. The settings are
 * validated once; GET /api/v1/sla publishes them; the pipeline phases here enforce them (outage
 * windows, the concurrency limit, the per-consumer rate limit) with the same values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "limit/limit.h"

struct api_sla {
    double availability; /* percent */
    struct limit_windows support;
    struct limit_windows outages;
};

/* ---- validation ------------------------------------------------------------------------------ */

/* "99.9": digits with an optional fraction, 0 < x <= 100. */
static bool parse_percent(const char *s, double *out)
{
    size_t i = 0;
    size_t int_digits = 0;
    size_t frac_digits = 0;
    char *end = NULL;
    double v;

    if (!s)
        return false;
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (frac_digits == 0)
            return false;
    }
    if (s[i] != '\0' || int_digits == 0 || int_digits > 3 || frac_digits > 6)
        return false;
    v = strtod(s, &end);
    if (end != s + i || !(v > 0) || v > 100)
        return false;
    *out = v;
    return true;
}

/* A plain address: one '@', a non-empty local part, a domain with a dot, no blanks or quotes. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    size_t len = strlen(s);
    size_t i;

    if (!at || at == s || strchr(at + 1, '@') || len > 254 || !strchr(at + 1, '.') ||
        at[1] == '.' || s[len - 1] == '.')
        return false;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '(' || c == ')' ||
            c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

/* http(s)://host... without blanks, quotes or angle brackets. */
static bool url_ok(const char *s)
{
    size_t skip = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
    size_t i;

    if (skip == 0 || s[skip] == '\0' || s[skip] == '/' || strlen(s) > 2048)
        return false;
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\')
            return false;
    }
    return true;
}

static int sla_parse(struct api_sla *s, const struct config *cfg, struct mw_error *e)
{
    char shown[40];
    int rc = 0;

    memset(s, 0, sizeof(*s));
    if (!parse_percent(cfg->sla_availability, &s->availability)) {
        snprintf(shown, sizeof(shown), "%.32s", cfg->sla_availability ? cfg->sla_availability : "");
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_SLA_AVAILABILITY: '%s' is not a percentage (accepted: a number "
                     "above 0 and at most 100, e.g. 99.9)",
                     shown);
        goto out;
    }
    rc = limit_windows_parse(&s->support, cfg->sla_support_hours, true,
                             "MODELWRAP_SLA_SUPPORT_HOURS", e);
    if (rc != 0)
        goto out;
    rc = limit_windows_parse(&s->outages, cfg->sla_outages, false, "MODELWRAP_SLA_OUTAGES", e);
    if (rc != 0)
        goto out;
    if (cfg->sla_contact_email && !email_ok(cfg->sla_contact_email)) {
        snprintf(shown, sizeof(shown), "%.32s", cfg->sla_contact_email);
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_SLA_CONTACT_EMAIL: '%s' is not an email address (accepted: "
                     "name@example.org)",
                     shown);
        goto out;
    }
    if (cfg->sla_contact_url && !url_ok(cfg->sla_contact_url)) {
        snprintf(shown, sizeof(shown), "%.32s", cfg->sla_contact_url);
        rc = mw_fail(e, MWE_CONFIG,
                     "MODELWRAP_SLA_CONTACT_URL: '%s' is not an http(s) URL (accepted: "
                     "https://host/path)",
                     shown);
        goto out;
    }
out:
    return rc;
}

/* Validates without keeping anything; see api.h. Main thread. */
int api_sla_check(const struct config *cfg, struct mw_error *e)
{
    struct api_sla *s = malloc(sizeof(*s));
    struct limiter *l = NULL;
    int rc;

    if (!s)
        return mw_fail(e, MWE_NOMEM, "out of memory");
    rc = sla_parse(s, cfg, e);
    if (rc == 0) {
        l = limit_new(cfg, e);
        if (!l)
            rc = e ? e->code : MWE_CONFIG;
        limit_free(l);
    }
    free(s);
    return rc;
}

/* Builds the SLA and the limiter into a; see api.h. */
int api_limits_init(struct api *a, struct mw_error *e)
{
    const struct config *cfg = a->cfg;
    struct limit_stats st;
    double rate;
    unsigned burst;
    int rc = 0;

    a->sla = malloc(sizeof(*a->sla));
    if (!a->sla) {
        rc = mw_fail(e, MWE_NOMEM, "out of memory");
        goto out;
    }
    rc = sla_parse(a->sla, cfg, e);
    if (rc != 0)
        goto out_free;
    a->limiter = limit_new(cfg, e);
    if (!a->limiter) {
        rc = e ? e->code : MWE_CONFIG;
        goto out_free;
    }
    limit_default(a->limiter, &rate, &burst);
    limit_stats(a->limiter, &st);
    log_kv(LOG_INFO, "limits", "rate_limit", rate > 0 ? cfg->rate_limit : "off", "#burst",
           (long long)burst, "store", st.mode, "failure_mode",
           cfg->redis_url ? st.failure_mode : NULL, "#replicas", (long long)cfg->redis_replicas,
           "#max_concurrency", (long long)cfg->max_concurrency, "#max_body_bytes",
           (long long)cfg->max_body_bytes, "#outage_windows", (long long)a->sla->outages.n, NULL);
    goto out;

out_free:
    api_limits_fini(a);
out:
    return rc;
}

/* Frees the limiter and the SLA; see api.h. Main thread. */
void api_limits_fini(struct api *a)
{
    limit_free(a->limiter);
    a->limiter = NULL;
    free(a->sla);
    a->sla = NULL;
}

/* ---- enforcement ----------------------------------------------------------------------------- */

/* Routes without a scope (health probes, the docs page's static files): no principal needed,
 * never limited (ratelimit.c has the same rule), never in an outage. */
static bool exempt(const struct route *rt)
{
    return rt == NULL || rt->scope == NULL;
}

/* The consumer API: what a scheduled outage stops (admin and metrics go on for the operators).
 * The SLA document is not stopped: during an outage it is what explains it. */
static bool outage_applies(const struct route *rt)
{
    return rt != NULL && rt->scope != NULL && rt->handler != api_h_sla &&
           (strcmp(rt->scope, "predict") == 0 || strcmp(rt->scope, "read") == 0);
}

static void add_uint_header(struct request *r, const char *name, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, v);
    http_header_add(r, name, text);
}

/* Outage windows, then the concurrency limit; see api.h. */
int api_sla_admit(struct api *a, struct request *r)
{
    int64_t now_s;
    int64_t until = 0;
    int rc = 0;

    if (!a->sla || !a->limiter || exempt(r->route))
        goto out;
    if (outage_applies(r->route) && a->sla->outages.n > 0) {
        now_s = (int64_t)(time_real_ms() / 1000);
        if (limit_windows_active(&a->sla->outages, now_s, &until)) {
            char iso[32];
            char msg[160];
            time_iso8601_ms((uint64_t)until * 1000u, iso);
            snprintf(msg, sizeof(msg),
                     "The API is in a scheduled outage window until %s; see /api/v1/sla.", iso);
            rc = MWE_SCHEDULED_OUTAGE;
            http_set_error(r, rc, msg);
            add_uint_header(r, "Retry-After", (uint64_t)(until - now_s > 0 ? until - now_s : 1));
            r->outcome = "sla.outage";
            goto out;
        }
    }
    if (!limit_enter(a->limiter)) {
        rc = MWE_OVERLOADED;
        http_set_error(r, rc, "Too many requests are in progress; retry later.");
        http_header_add(r, "Retry-After", "1");
        r->outcome = "limit.concurrency";
        goto out;
    }
    api_req(r)->limit_slot = true;
out:
    return rc;
}

/* Gives back the concurrency slot; see api.h. */
void api_limit_release(struct api *a, struct request *r)
{
    if (api_req(r)->limit_slot && a->limiter)
        limit_leave(a->limiter);
    api_req(r)->limit_slot = false;
}

/* ---- the document ---------------------------------------------------------------------------- */

static json_t *iso_time(int64_t s)
{
    char iso[32];
    if (s < 0)
        return json_null();
    time_iso8601_ms((uint64_t)s * 1000u, iso);
    return json_string(iso);
}

/* The contact object; see api.h. */
json_t *api_sla_contact(const struct config *cfg)
{
    json_t *c = json_object();

    if (!c)
        return NULL;
    if ((cfg->sla_contact_name &&
         json_object_set_new(c, "name", json_string(cfg->sla_contact_name))) ||
        (cfg->sla_contact_email &&
         json_object_set_new(c, "email", json_string(cfg->sla_contact_email))) ||
        (cfg->sla_contact_url &&
         json_object_set_new(c, "url", json_string(cfg->sla_contact_url)))) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *windows_json(const struct limit_windows *ws, int64_t now_s)
{
    json_t *list = json_array();
    size_t i;

    for (i = 0; list && i < ws->n; i++) {
        int64_t start;
        int64_t end;
        json_t *w;
        bool next = limit_window_next(&ws->w[i], now_s, &start, &end);
        w = json_pack("{s:s, s:s, s:o, s:o}", "window", ws->w[i].text, "repeats",
                      ws->w[i].weekly ? "weekly" : "once", "next_start",
                      next ? iso_time(start) : json_null(), "next_end",
                      next ? iso_time(end) : json_null());
        if (!w || json_array_append_new(list, w) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

/* The throughput part of the document. */
static json_t *throughput_json(const struct config *cfg, double rate, unsigned burst)
{
    if (!(rate > 0))
        return json_pack("{s:s, s:s, s:b}", "limit", "off", "overrides", "per API key (key file)",
                         "shared_across_replicas", cfg->redis_url != NULL);
    return json_pack("{s:s, s:f, s:i, s:s, s:s, s:b, s:[s,s,s,s], s:s}", "limit", cfg->rate_limit,
                     "requests_per_second", rate, "burst", (int)burst, "per",
                     "consumer: API key, token subject and client, certificate subject, or "
                     "client address",
                     "overrides", "per API key (key file)", "shared_across_replicas",
                     cfg->redis_url != NULL, "headers", "RateLimit-Limit", "RateLimit-Remaining",
                     "RateLimit-Reset", "Retry-After", "exceeded",
                     "429 Too Many Requests with Retry-After");
}

/* The SLA document; see api.h. Every value comes from the settings the enforcement reads. */
json_t *api_sla_document(const struct api *a, int64_t now_s)
{
    const struct config *cfg = a->cfg;
    double rate;
    unsigned burst;
    int64_t until = 0;
    bool in_outage;
    json_t *doc;

    if (!a->sla || !a->limiter)
        return NULL;
    limit_default(a->limiter, &rate, &burst);
    in_outage = limit_windows_active(&a->sla->outages, now_s, &until);
    doc = json_object();
    if (!doc)
        return NULL;
    /* json_object_set_new takes (and releases on failure) the value, NULL included. */
    if (json_object_set_new(doc, "service",
                            json_pack("{s:s, s:s}", "name", "modelwrap", "version", MW_VERSION)) ||
        json_object_set_new(
            doc, "support_hours",
            json_pack("{s:o, s:o, s:b}", "schedule",
                      cfg->sla_support_hours ? json_string(cfg->sla_support_hours) : json_null(),
                      "windows", windows_json(&a->sla->support, now_s), "open_now",
                      limit_windows_active(&a->sla->support, now_s, NULL))) ||
        json_object_set_new(doc, "availability",
                            json_pack("{s:f, s:s}", "target_percent", a->sla->availability,
                                      "period", "calendar month")) ||
        json_object_set_new(doc, "response_time",
                            json_pack("{s:i, s:i, s:s}", "target_ms",
                                      (int)cfg->sla_response_time_ms, "percentile", 99,
                                      "applies_to", "predict requests, measured at the server")) ||
        json_object_set_new(doc, "throughput", throughput_json(cfg, rate, burst)) ||
        json_object_set_new(doc, "message_size",
                            json_pack("{s:I, s:s}", "max_body_bytes",
                                      (json_int_t)cfg->max_body_bytes, "exceeded",
                                      "413 Content Too Large")) ||
        json_object_set_new(doc, "concurrency",
                            json_pack("{s:o, s:s}", "max_in_flight",
                                      cfg->max_concurrency
                                          ? json_integer((json_int_t)cfg->max_concurrency)
                                          : json_null(),
                                      "exceeded", "503 Service Unavailable with Retry-After")) ||
        json_object_set_new(
            doc, "scheduled_outages",
            json_pack("{s:b, s:o, s:o, s:s}", "in_outage_now", in_outage, "until",
                      in_outage ? iso_time(until) : json_null(), "windows",
                      windows_json(&a->sla->outages, now_s), "during",
                      "503 Service Unavailable with Retry-After at the end of the window; "
                      "health endpoints keep answering")) ||
        json_object_set_new(doc, "contact", api_sla_contact(cfg))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static int sla_dump_cb(const char *buffer, size_t size, void *data)
{
    return buf_append(data, buffer, size) == 0 ? 0 : -1;
}

/* GET /api/v1/sla. I/O thread. The document's reals are configured values ("99.9", "0.1/s"):
 * jansson's default of 17 significant digits would print the binary double (99.900000000000006);
 * 15 digits give back the decimal text of any value configured with up to 15 of them. */
int api_h_sla(void *ctx, struct request *r)
{
    struct api *a = ctx;
    json_t *doc = api_sla_document(a, (int64_t)(time_real_ms() / 1000));

    if (!doc) {
        http_set_error(r, a->sla ? MWE_NOMEM : MWE_NOT_READY, NULL);
        return HTTP_DONE;
    }
    buf_reset(&r->resp);
    if (json_dump_callback(doc, sla_dump_cb, &r->resp, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0)
        http_set_error(r, MWE_NOMEM, NULL);
    else
        http_set_json(r, 200);
    json_decref(doc);
    return HTTP_DONE;
}
