/*
 * The audit record: built from a finished request (identity, route, outcome, sizes, timing, user
 * agent, W3C trace id) into a fixed-size struct, with bounded UTF-8-aware copies; the signature
 * table (names and CEF severities).
 */
#include <string.h>

#include "audit/audit_int.h"

static const struct {
    int sig;
    int severity;
    const char *name;
} sigs[] = {
    {AUDIT_SIG_OK, 1, "Request served"},
    {AUDIT_SIG_AUTHN, 5, "Authentication refused"},
    {AUDIT_SIG_AUTHZ, 5, "Authorization refused"},
    {AUDIT_SIG_LIMITED, 4, "Request over a limit"},
    {AUDIT_SIG_REFUSED, 3, "Request refused"},
    {AUDIT_SIG_FAILED, 6, "Request failed"},
    {AUDIT_SIG_ABORTED, 3, "Request aborted"},
    {AUDIT_EV_AUTH_BURST_ADDR, 7, "Authentication failure burst from one address"},
    {AUDIT_EV_AUTH_BURST_PRINCIPAL, 7, "Authentication failure burst for one principal"},
    {AUDIT_EV_AFTER_HOURS, 5, "Request outside business hours"},
    {AUDIT_EV_LARGE_BYTES, 5, "Large request (bytes)"},
    {AUDIT_EV_LARGE_RECORDS, 5, "Large request (records)"},
    {AUDIT_EV_RATE_LIMIT, 6, "Rate limit violation"},
    {AUDIT_EV_SCOPE, 6, "Scope violation"},
    {AUDIT_EV_TOKEN_LIFETIME, 7, "Token with an over-long lifetime refused"},
    {AUDIT_EV_PROBING, 6, "Path probing"},
    {AUDIT_EV_WORKER_DIED, 7, "Model worker process died"},
    {AUDIT_EV_CONNECTION, 6, "Connection refused by the transport"},
    {AUDIT_EV_SUPPRESSED, 4, "Security events suppressed by the rate limit"},
};

/* Name of a signature for the CEF header and the JSON "name"; static. Any thread. */
const char *audit_sig_name(int sig)
{
    for (size_t i = 0; i < MW_ARRAY_LEN(sigs); i++)
        if (sigs[i].sig == sig)
            return sigs[i].name;
    return "Audit record";
}

/* CEF severity (0-10) of a signature. Any thread. */
int audit_sig_severity(int sig)
{
    for (size_t i = 0; i < MW_ARRAY_LEN(sigs); i++)
        if (sigs[i].sig == sig)
            return sigs[i].severity;
    return 5;
}

/* Bounded copy cut at a UTF-8 boundary; see audit.h. Any thread. */
bool audit_copy(char *out, size_t cap, const char *s, size_t len)
{
    size_t n = 0;
    bool cut = false;

    if (cap == 0)
        return len > 0;
    if (s == NULL)
        len = 0;
    while (n < len && s[n] != '\0')
        n++;
    if (n > cap - 1) {
        cut = true;
        n = cap - 1;
        /* Do not end inside a multi-byte sequence: back off over continuation bytes and their
         * lead byte when the sequence would not be complete. */
        size_t k = n;
        while (k > 0 && n - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (k < n && ((unsigned char)s[k] & 0xC0) == 0xC0 &&
            mw_utf8_len((const unsigned char *)s + k, n - k) == 0)
            n = k;
    }
    if (n > 0)
        memcpy(out, s, n);
    out[n] = '\0';
    return cut;
}

static bool is_lower_hex(const char *s, size_t n, bool *all_zero)
{
    *all_zero = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        if (c != '0')
            *all_zero = false;
    }
    return true;
}

/* W3C Trace Context traceparent -> trace-id; see audit.h. Any thread. */
bool audit_trace_id(struct slice tp, char out[33])
{
    bool zero = false;

    out[0] = '\0';
    /* version "-" trace-id "-" parent-id "-" flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 bytes */
    if (tp.ptr == NULL || tp.len < 55)
        return false;
    if (!is_lower_hex(tp.ptr, 2, &zero) || memcmp(tp.ptr, "ff", 2) == 0)
        return false;
    if (tp.ptr[2] != '-' || tp.ptr[35] != '-' || tp.ptr[52] != '-')
        return false;
    /* Version 00 is exactly 55 bytes; later versions may append "-..." fields. */
    if (memcmp(tp.ptr, "00", 2) == 0 ? tp.len != 55 : (tp.len > 55 && tp.ptr[55] != '-'))
        return false;
    if (!is_lower_hex(tp.ptr + 3, 32, &zero) || zero)
        return false;
    if (!is_lower_hex(tp.ptr + 36, 16, &zero) || zero)
        return false;
    if (!is_lower_hex(tp.ptr + 53, 2, &zero))
        return false;
    memcpy(out, tp.ptr + 3, 32);
    out[32] = '\0';
    return true;
}

static int request_sig(int status, bool completed)
{
    if (!completed)
        return AUDIT_SIG_ABORTED;
    if (status == 401)
        return AUDIT_SIG_AUTHN;
    if (status == 403)
        return AUDIT_SIG_AUTHZ;
    if (status == 429)
        return AUDIT_SIG_LIMITED;
    if (status >= 400 && status < 500)
        return AUDIT_SIG_REFUSED;
    if (status >= 500 || status < 100)
        return AUDIT_SIG_FAILED;
    return AUDIT_SIG_OK;
}

#define COPY(field, s, len)                                                                        \
    (rec->truncated |= audit_copy(rec->field, sizeof(rec->field), (s), (len)))
#define COPYZ(field, s) COPY(field, (s), (s) != NULL ? strlen(s) : 0)

/* Builds a request's record; see audit.h. Any thread; no allocation. */
void audit_record_fill(struct audit_record *rec, const struct request *r,
                       const struct audit_who *who, bool completed, uint64_t records,
                       uint64_t now_ms, uint64_t now_ns, struct slice user_agent,
                       struct slice traceparent)
{
    uint64_t dur_ns = now_ns > r->t_start_ns ? now_ns - r->t_start_ns : 0;

    rec->kind = AUDIT_REQUEST;
    rec->status = r->status;
    rec->sig = request_sig(r->status, completed);
    rec->duration_us = dur_ns / 1000;
    rec->time_ms = now_ms >= dur_ns / 1000000 ? now_ms - dur_ns / 1000000 : now_ms;
    rec->bytes_in = r->bytes_in;
    rec->bytes_out = completed ? r->bytes_out : 0;
    rec->records = records;
    rec->principal_kind = who->principal_kind;
    rec->aborted = !completed;
    rec->truncated = false;
    if (r->outcome != NULL)
        rec->outcome = r->outcome;
    else if (r->err != 0)
        rec->outcome = mw_errcode(r->err);
    else
        rec->outcome = completed ? "ok" : "aborted";
    rec->route = r->route != NULL ? r->route->name : NULL;
    rec->scope = r->route != NULL ? r->route->scope : NULL;
    COPYZ(method, r->method_str);
    COPYZ(request_id, r->id);
    COPYZ(client, r->client_addr);
    /* Behind a trusted proxy client_addr is the forwarded client and peer_addr the proxy. */
    rec->peer[0] = '\0';
    if (r->peer_addr[0] != '\0' && strcmp(r->peer_addr, r->client_addr) != 0)
        COPY(peer, r->peer_addr, sizeof(r->peer_addr));
    COPYZ(principal_id, who->principal_id);
    COPYZ(client_id, who->client_id);
    COPYZ(key_id, who->key_id);
    COPYZ(model, who->model);
    COPYZ(model_version, who->model_version);
    COPY(path, r->path, r->path != NULL ? r->path_len : 0);
    mw_path_redact(rec->path);
    COPY(user_agent, user_agent.ptr, user_agent.len);
    audit_trace_id(traceparent, rec->trace_id);
    rec->count = 0;
    rec->threshold = 0;
    rec->window_s = 0;
}
