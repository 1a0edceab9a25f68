/*
 * The compliance self-check: the effective configuration and the served models measured against
 * each item of the Government of Canada Standards on APIs checklist that a setting decides. One
 * evaluation feeds `modelwrap compliance`, GET /api/v1/compliance and the start-up warnings.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"

enum { ST_MET, ST_NOT_MET, ST_NA };
static const char *const status_names[] = {"met", "not_met", "not_applicable"};

struct item {
    const char *id;
    const char *title;
    int status;
    const char *settings; /* the settings responsible, comma-separated */
    char detail[320];
};

static void set(struct item *it, int status, const char *settings, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set(struct item *it, int status, const char *settings, const char *fmt, ...)
{
    va_list ap;

    it->status = status;
    it->settings = settings;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
    va_end(ap);
}

static void transport(const struct config *cfg, struct item *it)
{
    if (cfg->tls_cert != NULL)
        set(it, ST_MET, "MODELWRAP_TLS_CERT,MODELWRAP_TLS_PRIORITIES",
            "HTTPS in modelwrap; MODELWRAP_TLS_PRIORITIES admits TLS 1.2 and 1.3 only");
    else if (cfg->allow_plaintext && cfg->trusted_proxies != NULL)
        set(it, ST_MET, "MODELWRAP_ALLOW_PLAINTEXT,MODELWRAP_TRUSTED_PROXIES",
            "plain HTTP behind the TLS gateway of MODELWRAP_TRUSTED_PROXIES (%.160s); the "
            "gateway must offer TLS 1.2+ only",
            cfg->trusted_proxies);
    else if (cfg->allow_plaintext)
        set(it, ST_NOT_MET, "MODELWRAP_ALLOW_PLAINTEXT,MODELWRAP_TRUSTED_PROXIES",
            "plain HTTP on %.64s with no trusted gateway named (set MODELWRAP_TRUSTED_PROXIES "
            "to the TLS gateway, or MODELWRAP_TLS_CERT)",
            cfg->host);
    else
        set(it, ST_NOT_MET, "MODELWRAP_TLS_CERT",
            "plain HTTP on the loopback address %.64s: development only (set MODELWRAP_TLS_CERT "
            "and MODELWRAP_TLS_KEY, or serve behind a TLS gateway)",
            cfg->host);
}

static void authentication(const struct config *cfg, struct item *it)
{
    if (cfg->auth != AUTH_REQUIRED) {
        set(it, ST_NOT_MET, "MODELWRAP_AUTH",
            "MODELWRAP_AUTH=none: every caller gets every scope without a credential");
        return;
    }
    set(it, ST_MET, "MODELWRAP_AUTH", "credentials required on every route but the health "
        "probes:%s%s%s",
        cfg->api_keys_file ? " API keys" : "", cfg->jwt_issuer ? " JWT bearer tokens" : "",
        cfg->tls_client_ca ? " client certificates" : "");
}

static void token_lifetime(const struct config *cfg, struct item *it)
{
    if (cfg->auth != AUTH_REQUIRED || cfg->jwt_issuer == NULL)
        set(it, ST_NA, "MODELWRAP_JWT_ISSUER", "no JWT bearer tokens accepted");
    else if (cfg->jwt_max_lifetime < 86400)
        set(it, ST_MET, "MODELWRAP_JWT_MAX_LIFETIME",
            "tokens living longer than %u s are refused", cfg->jwt_max_lifetime);
    else
        set(it, ST_NOT_MET, "MODELWRAP_JWT_MAX_LIFETIME",
            "tokens living a full %u s are accepted; set a lifetime below 24 h (86400 s)",
            cfg->jwt_max_lifetime);
}

/* A schema validates: every input has a datatype and every dimension but the batch one fixed. */
static bool spec_is_schema(const struct mw_tensor_spec *sp)
{
    int32_t d;

    if (sp->dtype <= 0 || sp->ndim < 1)
        return false;
    for (d = 1; d < sp->ndim; d++)
        if (sp->shape[d] < 0)
            return false;
    return true;
}

static void input_schemas(const struct registry *reg, struct item *it)
{
    size_t i, j, k, checked = 0;

    if (registry_count(reg) == 0) {
        set(it, ST_NA, "MODELWRAP_MODELS", "no model served");
        return;
    }
    for (i = 0; i < registry_count(reg); i++) {
        size_t nv = registry_n_versions(reg, i);
        for (j = 0; j < nv; j++) {
            const struct model *m = registry_version_at(reg, i, j);
            const struct model_sig *sig = model_get_signature(m);
            const char *version = model_get_version(m);
            if (sig->n_inputs == 0) {
                set(it, ST_NOT_MET, "MODELWRAP_MODELS",
                    "model '%.64s' version %.32s declares no inputs (model.json \"signature\")",
                    model_get_name(m), version ? version : "-");
                return;
            }
            for (k = 0; k < sig->n_inputs; k++) {
                if (!spec_is_schema(&sig->inputs[k])) {
                    set(it, ST_NOT_MET, "MODELWRAP_MODELS",
                        "model '%.64s' version %.32s: input '%.64s' has an open shape (only the "
                        "batch dimension may be -1); declare it in model.json \"signature\"",
                        model_get_name(m), version ? version : "-",
                        sig->inputs[k].name ? sig->inputs[k].name : "?");
                    return;
                }
            }
            checked++;
        }
    }
    set(it, ST_MET, "MODELWRAP_MODELS",
        "%zu model version(s), each input with a datatype and a fixed shape", checked);
}

static void limits(const struct config *cfg, struct item *it)
{
    if (cfg->rate_limit == NULL || strcasecmp(cfg->rate_limit, "off") == 0)
        set(it, ST_NOT_MET, "MODELWRAP_RATE_LIMIT",
            "no per-consumer throughput limit (MODELWRAP_RATE_LIMIT=off)");
    else
        set(it, ST_MET, "MODELWRAP_RATE_LIMIT,MODELWRAP_RATE_BURST,MODELWRAP_MAX_BODY_BYTES",
            "%.64s per consumer (burst %u), messages up to %zu bytes", cfg->rate_limit,
            cfg->rate_burst, cfg->max_body_bytes);
}

static void sla(const struct config *cfg, struct item *it)
{
    if (cfg->sla_contact_name == NULL || (cfg->sla_contact_email == NULL &&
                                          cfg->sla_contact_url == NULL))
        set(it, ST_NOT_MET,
            "MODELWRAP_SLA_CONTACT_NAME,MODELWRAP_SLA_CONTACT_EMAIL,MODELWRAP_SLA_CONTACT_URL",
            "no point of contact: the SLA's contact is empty and OpenAPI info.contact absent "
            "(set MODELWRAP_SLA_CONTACT_NAME and an email or URL)");
    else if (cfg->sla_support_hours == NULL || cfg->sla_availability == NULL)
        set(it, ST_NOT_MET, "MODELWRAP_SLA_SUPPORT_HOURS,MODELWRAP_SLA_AVAILABILITY",
            "the SLA publishes no %s",
            cfg->sla_support_hours == NULL ? "support hours" : "availability target");
    else
        set(it, ST_MET,
            "MODELWRAP_SLA_CONTACT_NAME,MODELWRAP_SLA_SUPPORT_HOURS,MODELWRAP_SLA_AVAILABILITY,"
            "MODELWRAP_SLA_RESPONSE_TIME_MS",
            "GET /api/v1/sla: contact %.64s, support %.64s, availability %.16s%%, p99 %u ms",
            cfg->sla_contact_name, cfg->sla_support_hours, cfg->sla_availability,
            cfg->sla_response_time_ms);
}

/* Whether a sink list holds a syslog sink (the central collector). */
static bool has_central(const char *sinks)
{
    return sinks != NULL &&
           (strstr(sinks, "syslog+tcp://") != NULL || strstr(sinks, "syslog+udp://") != NULL);
}

static void audit_sink(const struct config *cfg, struct item *it)
{
    if (has_central(cfg->audit_log))
        set(it, ST_MET, "MODELWRAP_AUDIT_LOG,MODELWRAP_AUDIT_FORMAT",
            "audit records (%s) go to a central syslog collector",
            cfg->audit_format == 1 ? "CEF" : "JSON");
    else
        set(it, ST_NOT_MET, "MODELWRAP_AUDIT_LOG",
            "audit records go to '%.120s' only: add a syslog+tcp:// or syslog+udp:// sink of "
            "the central log collector",
            cfg->audit_log ? cfg->audit_log : "");
}

static void security_events(const struct config *cfg, struct item *it)
{
    const char *off = NULL;

    if (cfg->audit_business_hours == NULL)
        off = "MODELWRAP_AUDIT_BUSINESS_HOURS";
    else if (cfg->audit_auth_failures == 0)
        off = "MODELWRAP_AUDIT_AUTH_FAILURES";
    else if (cfg->audit_probe_404s == 0)
        off = "MODELWRAP_AUDIT_PROBE_404S";
    else if (cfg->audit_large_request_bytes == 0 && cfg->audit_large_request_records == 0)
        off = "MODELWRAP_AUDIT_LARGE_REQUEST_BYTES";
    if (off != NULL)
        set(it, ST_NOT_MET, off, "%s is unset or 0: that detector is off", off);
    else
        set(it, ST_MET,
            "MODELWRAP_AUDIT_BUSINESS_HOURS,MODELWRAP_AUDIT_AUTH_FAILURES,"
            "MODELWRAP_AUDIT_PROBE_404S,MODELWRAP_AUDIT_LARGE_REQUEST_BYTES",
            "after-hours use (%.64s), authentication failure bursts, path probing and large "
            "requests are reported",
            cfg->audit_business_hours);
}

static void egress(const struct config *cfg, struct item *it)
{
    const char *source = NULL;
    const char *proxy;
    char shown[256];

    if (!auth_has_outbound(cfg)) {
        set(it, ST_NA, "MODELWRAP_EGRESS_PROXY",
            "no outbound call configured (no OpenID discovery or JWKS URL)");
        return;
    }
    proxy = auth_egress_proxy(cfg, &source);
    if (proxy == NULL) {
        set(it, ST_NOT_MET, "MODELWRAP_EGRESS_PROXY",
            "OpenID discovery / JWKS fetches go out directly: set MODELWRAP_EGRESS_PROXY (or "
            "HTTPS_PROXY)");
        return;
    }
    mw_url_redact(proxy, shown, sizeof(shown));
    set(it, ST_MET, "MODELWRAP_EGRESS_PROXY", "outbound fetches go through %.200s (from %s)",
        shown, source);
}

static void versioned(const struct config *cfg, struct item *it)
{
    if (cfg->legacy_deprecation != NULL)
        set(it, ST_MET, "MODELWRAP_LEGACY_DEPRECATION,MODELWRAP_LEGACY_SUNSET",
            "/api/v1 and /v2; the unversioned template routes are deprecated since %.40s%s%.40s",
            cfg->legacy_deprecation, cfg->legacy_sunset ? ", sunset " : "",
            cfg->legacy_sunset ? cfg->legacy_sunset : "");
    else
        set(it, ST_NOT_MET, "MODELWRAP_LEGACY_DEPRECATION",
            "/api/v1 and /v2 are versioned, but the template's unversioned /api/predict and "
            "/api/health are served with no deprecation notice");
}

#define N_ITEMS 10

static void evaluate(const struct config *cfg, const struct registry *reg,
                     struct item items[N_ITEMS])
{
    static const struct {
        const char *id, *title;
    } defs[N_ITEMS] = {
        {"transport_security", "TLS 1.2+ or a trusted TLS gateway"},
        {"authentication", "authentication required"},
        {"token_lifetime", "token lifetime under 24 h"},
        {"input_schemas", "input schemas for every model"},
        {"consumer_limits", "per-consumer throughput limit and message size limit"},
        {"sla_contact", "SLA published with a point of contact"},
        {"central_audit", "audit trail sent to a central log collector"},
        {"security_events", "security events enabled"},
        {"egress_proxy", "outbound calls through a forward (egress) proxy"},
        {"api_versioned", "API versioned"},
    };
    size_t i;

    for (i = 0; i < N_ITEMS; i++) {
        memset(&items[i], 0, sizeof(items[i]));
        items[i].id = defs[i].id;
        items[i].title = defs[i].title;
    }
    transport(cfg, &items[0]);
    authentication(cfg, &items[1]);
    token_lifetime(cfg, &items[2]);
    input_schemas(reg, &items[3]);
    limits(cfg, &items[4]);
    sla(cfg, &items[5]);
    audit_sink(cfg, &items[6]);
    security_events(cfg, &items[7]);
    egress(cfg, &items[8]);
    versioned(cfg, &items[9]);
}

/* The settings list "A,B" as a JSON array. */
static json_t *settings_json(const char *list)
{
    json_t *a = json_array();
    const char *p = list;

    while (a != NULL && p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p = comma ? comma + 1 : NULL;
    }
    return a;
}

json_t *api_compliance_report(const struct config *cfg, const struct registry *reg,
                              size_t *n_unmet)
{
    struct item items[N_ITEMS];
    size_t counts[3] = {0, 0, 0};
    json_t *list = json_array();
    json_t *doc = NULL;
    size_t i;

    evaluate(cfg, reg, items);
    if (list == NULL)
        return NULL;
    for (i = 0; i < N_ITEMS; i++) {
        counts[items[i].status]++;
        if (json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o, s:s}", "id", items[i].id,
                                                  "title", items[i].title, "status",
                                                  status_names[items[i].status], "settings",
                                                  settings_json(items[i].settings), "detail",
                                                  items[i].detail)) != 0) {
            json_decref(list);
            return NULL;
        }
    }
    doc = json_pack("{s:s, s:s, s:{s:I, s:I, s:I}, s:o}", "checklist",
                    "Government of Canada Standards on APIs", "result",
                    counts[ST_NOT_MET] ? "not_met" : "met", "summary", "met",
                    (json_int_t)counts[ST_MET], "not_met", (json_int_t)counts[ST_NOT_MET],
                    "not_applicable", (json_int_t)counts[ST_NA], "items", list);
    if (n_unmet != NULL)
        *n_unmet = counts[ST_NOT_MET];
    return doc;
}

void api_compliance_log(const struct config *cfg, const struct registry *reg)
{
    struct item items[N_ITEMS];
    size_t i;

    evaluate(cfg, reg, items);
    for (i = 0; i < N_ITEMS; i++)
        if (items[i].status == ST_NOT_MET)
            log_msg(LOG_WARN, "compliance item not met", "item", items[i].id, "title",
                    items[i].title, "settings", items[i].settings, "detail", items[i].detail,
                    NULL);
}

/* GET /api/v1/compliance (scope admin). I/O thread: the evaluation reads settings and the
 * current model snapshot only. */
int api_h_compliance(void *ctx, struct request *r)
{
    struct api *a = ctx;
    const struct registry *reg = api_registry(a, r);
    json_t *doc = api_compliance_report(a->cfg, reg, NULL);

    if (doc == NULL) {
        http_set_error(r, MWE_NOMEM, NULL);
        return HTTP_DONE;
    }
    api_reply_json(r, 200, doc);
    return HTTP_DONE;
}
