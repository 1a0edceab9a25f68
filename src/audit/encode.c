/*
 * Audit encoders: a record as one JSON line or one Common Event Format line (standard escaping,
 * standard extension keys, labelled custom fields for the rest), and RFC 5424 syslog framing
 * (octet-counted for TCP). Pure functions over struct audit_record; the fuzzer parses them back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit/audit_int.h"

static const char *principal_kind_name(int kind)
{
    switch (kind) {
    case PRINCIPAL_ANONYMOUS:
        return "anonymous";
    case PRINCIPAL_API_KEY:
        return "api-key";
    case PRINCIPAL_JWT:
        return "jwt";
    case PRINCIPAL_MTLS:
        return "mtls";
    default:
        return "none";
    }
}

static const char *action_name(const struct audit_record *rec)
{
    if (rec->aborted)
        return "aborted";
    if (rec->status >= 500 || rec->status < 100)
        return "failed";
    if (rec->status >= 400)
        return "refused";
    return "served";
}

/* The human sentence of a security event. */
static void event_message(const struct audit_record *rec, char *out, size_t cap)
{
    unsigned long long n = (unsigned long long)rec->count;
    unsigned long long t = (unsigned long long)rec->threshold;

    switch (rec->sig) {
    case AUDIT_EV_AUTH_BURST_ADDR:
        snprintf(out, cap,
                 "%llu authentication failures from one address within %u s "
                 "(threshold %llu)",
                 n, rec->window_s, t);
        break;
    case AUDIT_EV_AUTH_BURST_PRINCIPAL:
        snprintf(out, cap,
                 "%llu authentication failures for one principal within %u s "
                 "(threshold %llu)",
                 n, rec->window_s, t);
        break;
    case AUDIT_EV_AFTER_HOURS:
        snprintf(out, cap, "%llu request(s) outside business hours", n);
        break;
    case AUDIT_EV_LARGE_BYTES:
        snprintf(out, cap, "%llu request(s) of at least %llu bytes", n, t);
        break;
    case AUDIT_EV_LARGE_RECORDS:
        snprintf(out, cap, "%llu request(s) of at least %llu records", n, t);
        break;
    case AUDIT_EV_RATE_LIMIT:
        snprintf(out, cap, "%llu request(s) refused by the rate limit", n);
        break;
    case AUDIT_EV_SCOPE:
        snprintf(out, cap, "%llu request(s) refused for lack of a scope", n);
        break;
    case AUDIT_EV_TOKEN_LIFETIME:
        snprintf(out, cap, "%llu token(s) refused for an over-long lifetime", n);
        break;
    case AUDIT_EV_PROBING:
        snprintf(out, cap,
                 "%llu requests for unknown paths from one address within %u s "
                 "(threshold %llu)",
                 n, rec->window_s, t);
        break;
    case AUDIT_EV_WORKER_DIED:
        snprintf(out, cap, "model worker: %s (signal %llu)",
                 rec->outcome != NULL ? rec->outcome : "died", t);
        break;
    case AUDIT_EV_SUPPRESSED:
        snprintf(out, cap, "%llu security event(s) suppressed by the rate limit", n);
        break;
    case AUDIT_EV_CONNECTION:
        snprintf(out, cap, "%llu connection(s) refused by the transport since the last report",
                 n);
        break;
    default:
        snprintf(out, cap, "%llu occurrence(s)", n);
        break;
    }
}

static void rollback(struct buf *b, size_t len)
{
    b->len = len;
    if (b->ptr != NULL)
        b->ptr[len] = '\0';
}

/* ---- JSON -------------------------------------------------------------------------------------
 */

/* ,"key": (first omits the comma). key is one of this file's literals: nothing to escape. */
static int field_key(struct buf *b, const char *key, bool first)
{
    int rc = first ? buf_append(b, "\"", 1) : buf_append(b, ",\"", 2);

    if (rc == 0)
        rc = buf_append_str(b, key);
    if (rc == 0)
        rc = buf_append(b, "\":", 2);
    return rc;
}

/* ,"key":"value" (or null when s is NULL or empty); first omits the comma. */
static int field_str(struct buf *b, const char *key, const char *s, bool first)
{
    int rc = field_key(b, key, first);
    if (rc != 0)
        return rc;
    if (s == NULL || s[0] == '\0')
        return buf_append(b, "null", 4);
    rc = buf_append(b, "\"", 1);
    if (rc == 0)
        rc = buf_append_json_escaped(b, s, strlen(s));
    if (rc == 0)
        rc = buf_append(b, "\"", 1);
    return rc;
}

static int field_u64(struct buf *b, const char *key, uint64_t v)
{
    int rc = field_key(b, key, false);

    return rc != 0 ? rc : buf_append_u64(b, v);
}

static int field_int(struct buf *b, const char *key, int v)
{
    int rc = field_key(b, key, false);

    return rc != 0 ? rc : buf_append_i64(b, v);
}

static int field_bool(struct buf *b, const char *key, bool v)
{
    int rc = field_key(b, key, false);

    return rc != 0 ? rc : buf_append(b, v ? "true" : "false", v ? 4 : 5);
}

/* One JSON object for rec (no line end); see audit.h. Any thread. */
int audit_encode_json(struct buf *out, const struct audit_record *rec, const char *host)
{
    size_t mark = out->len;
    char when[32];
    char msg[192];
    bool ev = rec->kind == AUDIT_EVENT;
    int rc;

    time_iso8601_ms(rec->time_ms, when);
    rc = buf_append(out, "{", 1);
    if (rc == 0)
        rc = field_str(out, "type", ev ? "security_event" : "request", true);
    if (rc == 0)
        rc = field_str(out, "time", when, false);
    if (rc == 0)
        rc = field_str(out, "host", host, false);
    if (rc == 0)
        rc = field_int(out, "signature", rec->sig);
    if (rc == 0)
        rc = field_str(out, "name", audit_sig_name(rec->sig), false);
    if (rc == 0)
        rc = field_int(out, "severity", audit_sig_severity(rec->sig));
    if (rc == 0)
        rc = field_str(out, "request_id", rec->request_id, false);
    if (rc == 0)
        rc = field_str(out, "trace_id", rec->trace_id, false);
    if (rc == 0)
        rc = field_str(out, "client", rec->client, false);
    if (rc == 0)
        rc = field_str(out, "peer", rec->peer, false);
    if (rc == 0)
        rc = field_str(out, "principal_kind", principal_kind_name(rec->principal_kind), false);
    if (rc == 0)
        rc = field_str(out, "principal_id", rec->principal_id, false);
    if (rc == 0)
        rc = field_str(out, "client_id", rec->client_id, false);
    if (rc == 0)
        rc = field_str(out, "key_id", rec->key_id, false);
    if (rc == 0)
        rc = field_str(out, "scope", rec->scope, false);
    if (rc == 0)
        rc = field_str(out, "method", rec->method, false);
    if (rc == 0)
        rc = field_str(out, "path", rec->path, false);
    if (rc == 0)
        rc = field_str(out, "route", rec->route, false);
    if (rc == 0)
        rc = field_str(out, "model", rec->model, false);
    if (rc == 0)
        rc = field_str(out, "model_version", rec->model_version, false);
    if (rc == 0)
        rc = field_int(out, "status", rec->status);
    if (rc == 0)
        rc = field_str(out, "outcome", rec->outcome, false);
    if (rc == 0)
        rc = field_u64(out, "bytes_in", rec->bytes_in);
    if (rc == 0)
        rc = field_u64(out, "bytes_out", rec->bytes_out);
    if (rc == 0)
        rc = field_u64(out, "records", rec->records);
    if (rc == 0)
        rc = field_u64(out, "duration_us", rec->duration_us);
    if (rc == 0)
        rc = field_str(out, "user_agent", rec->user_agent, false);
    if (rc == 0)
        rc = field_bool(out, "aborted", rec->aborted);
    if (rc == 0)
        rc = field_bool(out, "truncated", rec->truncated);
    if (rc == 0 && ev) {
        event_message(rec, msg, sizeof(msg));
        rc = field_u64(out, "count", rec->count);
        if (rc == 0)
            rc = field_u64(out, "threshold", rec->threshold);
        if (rc == 0)
            rc = field_u64(out, "window_s", rec->window_s);
        if (rc == 0)
            rc = field_str(out, "message", msg, false);
    }
    if (rc == 0)
        rc = buf_append(out, "}", 1);
    if (rc != 0)
        rollback(out, mark);
    return rc;
}

/* ---- CEF --------------------------------------------------------------------------------------
 */

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Appends s escaped for a CEF header field (header) or an extension value (!header). */
static int cef_escape(struct buf *b, const char *s, bool header)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    size_t i = 0;
    int rc = 0;

    while (i < len && rc == 0) {
        size_t run = i;
        /* The longest run of bytes that need nothing. */
        while (run < len) {
            unsigned char c = p[run];
            if (c >= 0x80) {
                size_t n = mw_utf8_len(p + run, len - run);
                if (n == 0 || mw_line_breaking_cp(p + run, n) != 0)
                    break;
                run += n;
                continue;
            }
            if (c < 0x20 || c == 0x7f || c == '\\' || (header ? c == '|' : c == '='))
                break;
            run++;
        }
        if (run > i) {
            rc = buf_append(b, p + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        size_t n = c >= 0x80 ? mw_utf8_len(p + i, len - i) : 0;
        if (n > 0) {
            /* a C1 control or U+2028/U+2029: replaced like the C0 controls */
            rc = buf_append(b, replacement, 3);
            i += n;
            continue;
        }
        if (c == '\\')
            rc = buf_append(b, "\\\\", 2);
        else if (header && c == '|')
            rc = buf_append(b, "\\|", 2);
        else if (!header && c == '=')
            rc = buf_append(b, "\\=", 2);
        else if (!header && c == '\n')
            rc = buf_append(b, "\\n", 2);
        else if (!header && c == '\r')
            rc = buf_append(b, "\\r", 2);
        else
            rc = buf_append(b, replacement, 3); /* another control, or an invalid UTF-8 byte */
        i++;
    }
    return rc;
}

/* " key=value" (nothing when value is NULL or empty); first omits the space. */
static int cef_ext(struct buf *b, const char *key, const char *value, bool *first)
{
    int rc;
    if (value == NULL || value[0] == '\0')
        return 0;
    rc = buf_appendf(b, "%s%s=", *first ? "" : " ", key);
    *first = false;
    if (rc == 0)
        rc = cef_escape(b, value, false);
    return rc;
}

/* A labelled custom field: " csN=value csNLabel=label" (nothing when value is empty). */
static int cef_labelled(struct buf *b, const char *key, const char *value, const char *label,
                        bool *first)
{
    char lkey[32];
    int rc;
    if (value == NULL || value[0] == '\0')
        return 0;
    rc = cef_ext(b, key, value, first);
    snprintf(lkey, sizeof(lkey), "%sLabel", key);
    if (rc == 0)
        rc = cef_ext(b, lkey, label, first);
    return rc;
}

static int cef_num(struct buf *b, const char *key, uint64_t v, bool *first)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRIu64, v);
    return cef_ext(b, key, num, first);
}

static bool is_ipv4_text(const char *s)
{
    return s[0] != '\0' && strchr(s, ':') == NULL;
}

/* One CEF line for rec (no line end); see audit.h. Any thread. */
int audit_encode_cef(struct buf *out, const struct audit_record *rec, const char *host)
{
    size_t mark = out->len;
    char num[24];
    char msg[192];
    bool first = true;
    int rc;

    rc = buf_append(out, "CEF:0|modelwrap|modelwrap|", 26);
    if (rc == 0)
        rc = cef_escape(out, MW_VERSION, true);
    if (rc == 0)
        rc = buf_appendf(out, "|%d|", rec->sig);
    if (rc == 0)
        rc = cef_escape(out, audit_sig_name(rec->sig), true);
    if (rc == 0)
        rc = buf_appendf(out, "|%d|", audit_sig_severity(rec->sig));

    if (rc == 0)
        rc = cef_num(out, "rt", rec->time_ms, &first);
    if (rc == 0)
        rc = cef_ext(out, "dvchost", host, &first);
    if (rc == 0)
        rc = cef_ext(out, "externalId", rec->request_id, &first);
    if (rc == 0 && is_ipv4_text(rec->client))
        rc = cef_ext(out, "src", rec->client, &first);
    else if (rc == 0)
        rc = cef_labelled(out, "c6a2", rec->client, "Source IPv6 Address", &first);
    if (rc == 0)
        rc = cef_ext(out, "suser", rec->principal_id, &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs1", principal_kind_name(rec->principal_kind), "principalKind",
                          &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs2", rec->client_id, "clientId", &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs3", rec->key_id, "keyId", &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs4", rec->scope, "scope", &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs5", rec->model, "model", &first);
    if (rc == 0)
        rc = cef_labelled(out, "cs6", rec->model_version, "modelVersion", &first);
    if (rc == 0)
        rc = cef_ext(out, "requestMethod", rec->method, &first);
    if (rc == 0)
        rc = cef_ext(out, "request", rec->path, &first);
    if (rc == 0)
        rc = cef_ext(out, "destinationServiceName", rec->route, &first);
    if (rc == 0)
        rc = cef_ext(out, "outcome", rec->outcome, &first);
    if (rc == 0)
        rc = cef_ext(out, "act", action_name(rec), &first);
    if (rc == 0) {
        snprintf(num, sizeof(num), "%d", rec->status);
        rc = cef_labelled(out, "cn1", num, "httpStatus", &first);
    }
    if (rc == 0)
        rc = cef_num(out, "in", rec->bytes_in, &first);
    if (rc == 0)
        rc = cef_num(out, "out", rec->bytes_out, &first);
    if (rc == 0) {
        snprintf(num, sizeof(num), "%" PRIu64, rec->duration_us);
        rc = cef_labelled(out, "cn2", num, "durationMicroseconds", &first);
    }
    if (rc == 0) {
        snprintf(num, sizeof(num), "%" PRIu64, rec->records);
        rc = cef_labelled(out, "cn3", num, "records", &first);
    }
    if (rc == 0)
        rc = cef_ext(out, "requestClientApplication", rec->user_agent, &first);
    if (rc == 0)
        rc = cef_labelled(out, "flexString1", rec->trace_id, "traceId", &first);
    if (rc == 0)
        rc = cef_labelled(out, "flexString2", rec->peer, "peer", &first);
    if (rc == 0 && rec->truncated)
        rc = cef_ext(out, "reason", "truncated", &first);
    if (rc == 0 && rec->kind == AUDIT_EVENT) {
        event_message(rec, msg, sizeof(msg));
        rc = cef_num(out, "cnt", rec->count, &first);
        if (rc == 0)
            rc = cef_ext(out, "msg", msg, &first);
    }
    if (rc != 0)
        rollback(out, mark);
    return rc;
}

/* ---- syslog -----------------------------------------------------------------------------------
 */

/* RFC 5424 severity for a CEF severity: 0-1 informational, 2-4 notice, 5-6 warning, 7-8 error,
 * 9-10 critical. */
static int syslog_severity(int cef)
{
    if (cef <= 1)
        return 6;
    if (cef <= 4)
        return 5;
    if (cef <= 6)
        return 4;
    if (cef <= 8)
        return 3;
    return 2;
}

/* RFC 5424 framing; see audit.h. Any thread. */
int audit_frame_syslog(struct buf *out, const struct audit_record *rec, const char *host, long pid,
                       const char *msg, size_t msg_len, bool octet_count)
{
    enum { FACILITY_LOG_AUDIT = 13 };
    size_t mark = out->len;
    char when[32];
    char hostname[256];
    char head[400];
    size_t h = 0;
    int n;
    int rc;

    /* HOSTNAME is 1-255 printable US-ASCII characters, or "-". */
    if (host != NULL)
        for (; host[h] != '\0' && h < sizeof(hostname) - 1; h++)
            hostname[h] = (host[h] > 32 && host[h] < 127) ? host[h] : '_';
    if (h == 0)
        hostname[h++] = '-';
    hostname[h] = '\0';
    time_iso8601_ms(rec->time_ms, when);
    n = snprintf(head, sizeof(head), "<%d>1 %s %s modelwrap %ld %s - ",
                 FACILITY_LOG_AUDIT * 8 + syslog_severity(audit_sig_severity(rec->sig)), when,
                 hostname, pid, rec->kind == AUDIT_EVENT ? "security" : "audit");
    if (n < 0 || (size_t)n >= sizeof(head))
        return MWE_INTERNAL;
    rc = 0;
    if (octet_count)
        rc = buf_appendf(out, "%zu ", (size_t)n + msg_len);
    if (rc == 0)
        rc = buf_append(out, head, (size_t)n);
    if (rc == 0)
        rc = buf_append(out, msg, msg_len);
    if (rc != 0)
        rollback(out, mark);
    return rc;
}
