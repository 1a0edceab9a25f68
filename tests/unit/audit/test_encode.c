/*
 * Unit tests for src/audit/encode.c and record.c: JSON and CEF lines with hostile values (pipes,
 * backslashes, equals signs, newlines, controls, non-ASCII and invalid UTF-8) parsed back by
 * jansson and by a CEF parser written here; RFC 5424 framing; traceparent; bounded copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit/audit.h"

/* ---- an independent oracle: what a value must read back as --------------------------------- */

/* Decodes one UTF-8 sequence (strict: no overlongs, surrogates or > U+10FFFF); 0 if invalid. */
static size_t decode_utf8(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0];
    size_t n;
    unsigned v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 2 && v < 0x80) || (n == 3 && v < 0x800) || (n == 4 && v < 0x10000) ||
        (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 0;
    *cp = v;
    return n;
}

/* s with invalid UTF-8 bytes (and, for CEF, controls other than LF/CR, and DEL) as U+FFFD. */
static char *expected(const char *s, bool cef)
{
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    size_t o = 0;
    assert_non_null(out);
    for (size_t i = 0; i < len;) {
        unsigned cp = 0;
        size_t n = decode_utf8((const unsigned char *)s + i, len - i, &cp);
        bool bad = n == 0 || (cef && ((cp < 0x20 && cp != '\n' && cp != '\r') || cp == 0x7f));
        if (bad) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += n == 0 ? 1 : n;
        } else {
            memcpy(out + o, s + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- a CEF parser -----------------------------------------------------------------------------
 */

#define MAX_KV 64

struct cef {
    char *header[7]; /* Version (after "CEF:"), Vendor, Product, Version, SignatureID, Name, Sev */
    size_t n_kv;
    char *key[MAX_KV];
    char *value[MAX_KV];
};

static void cef_free(struct cef *c)
{
    for (int i = 0; i < 7; i++)
        free(c->header[i]);
    for (size_t i = 0; i < c->n_kv; i++) {
        free(c->key[i]);
        free(c->value[i]);
    }
    memset(c, 0, sizeof(*c));
}

/* Unescapes an extension value (\\ \= \n \r); false on any other escape. */
static bool unescape_value(const char *s, size_t len, char **out)
{
    char *o = malloc(len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            o[k++] = s[i];
            continue;
        }
        if (++i == len) {
            free(o);
            return false;
        }
        switch (s[i]) {
        case '\\':
        case '=':
            o[k++] = s[i];
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        default:
            free(o);
            return false;
        }
    }
    o[k] = '\0';
    *out = o;
    return true;
}

/* Parses one CEF line: 0 on success. */
static int cef_parse(const char *line, struct cef *c)
{
    size_t len = strlen(line);
    size_t i = 4;
    memset(c, 0, sizeof(*c));
    if (strncmp(line, "CEF:", 4) != 0)
        return -1;
    for (int f = 0; f < 7; f++) {
        char *h = malloc(len + 1);
        size_t k = 0;
        for (;;) {
            if (i >= len) {
                free(h);
                return -1;
            }
            if (line[i] == '\\') {
                if (i + 1 >= len || (line[i + 1] != '\\' && line[i + 1] != '|')) {
                    free(h);
                    return -1;
                }
                h[k++] = line[i + 1];
                i += 2;
                continue;
            }
            if (line[i] == '|') {
                i++;
                break;
            }
            h[k++] = line[i++];
        }
        h[k] = '\0';
        c->header[f] = h;
    }
    /* Extensions: every unescaped '=' ends a key that starts after the last space before it. */
    const char *ext = line + i;
    size_t elen = len - i;
    size_t eq[MAX_KV], kstart[MAX_KV];
    size_t n = 0;
    for (size_t j = 0; j < elen; j++) {
        if (ext[j] == '\\') {
            j++;
            continue;
        }
        if (ext[j] != '=')
            continue;
        if (n == MAX_KV)
            return -1;
        size_t ks = j;
        while (ks > 0 && ext[ks - 1] != ' ')
            ks--;
        if (ks == j || (n > 0 && ks <= eq[n - 1]))
            return -1;
        for (size_t q = ks; q < j; q++)
            if (!((ext[q] >= 'a' && ext[q] <= 'z') || (ext[q] >= 'A' && ext[q] <= 'Z') ||
                  (ext[q] >= '0' && ext[q] <= '9') || ext[q] == '_'))
                return -1;
        eq[n] = j;
        kstart[n] = ks;
        n++;
    }
    if (elen > 0 && (n == 0 || kstart[0] != 0))
        return -1;
    for (size_t k = 0; k < n; k++) {
        size_t vstart = eq[k] + 1;
        size_t vend = k + 1 < n ? kstart[k + 1] - 1 : elen; /* minus the separating space */
        c->key[k] = strndup(ext + kstart[k], eq[k] - kstart[k]);
        if (vend < vstart || !unescape_value(ext + vstart, vend - vstart, &c->value[k])) {
            c->n_kv = k + 1;
            return -1;
        }
        c->n_kv = k + 1;
    }
    return 0;
}

static const char *cef_get(const struct cef *c, const char *key)
{
    for (size_t i = 0; i < c->n_kv; i++)
        if (strcmp(c->key[i], key) == 0)
            return c->value[i];
    return NULL;
}

/* ---- fixtures ---------------------------------------------------------------------------------
 */

static const char hostile_path[] =
    "/api/v1/models/a|b\\c=d e\nf\rg\x01h\x7fi caf\xC3\xA9 \xE2\x82\xAC"
    " bad\xFF\xC0\xAF end\\";
static const char hostile_ua[] = "Mozilla/5.0 (x|y) k=v\\w \\= \\n \xF0\x9F\x98\x80 \xED\xA0\x80 "
                                 "tab\there cs1=fake";

static void fill_hostile(struct audit_record *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = AUDIT_REQUEST;
    r->sig = AUDIT_SIG_AUTHN;
    r->time_ms = 1764264101123ull;
    r->duration_us = 1234;
    r->bytes_in = 77;
    r->bytes_out = 99;
    r->records = 3;
    r->status = 401;
    r->principal_kind = PRINCIPAL_API_KEY;
    r->outcome = "auth.invalid_key";
    r->route = "v1_model_predict";
    r->scope = "predict";
    snprintf(r->method, sizeof(r->method), "%s", "POST");
    snprintf(r->request_id, sizeof(r->request_id), "%s", "req=1|x\\y");
    snprintf(r->trace_id, sizeof(r->trace_id), "%s", "4bf92f3577b34da6a3ce929d0e0e4736");
    snprintf(r->client, sizeof(r->client), "%s", "203.0.113.9");
    snprintf(r->peer, sizeof(r->peer), "%s", "10.0.0.1");
    snprintf(r->principal_id, sizeof(r->principal_id), "%s", "user = admin\nrole=root");
    snprintf(r->client_id, sizeof(r->client_id), "%s", "cli|ent");
    snprintf(r->key_id, sizeof(r->key_id), "%s", "k\\1");
    snprintf(r->model, sizeof(r->model), "%s", "iris");
    snprintf(r->model_version, sizeof(r->model_version), "%s", "1");
    snprintf(r->path, sizeof(r->path), "%s", hostile_path);
    snprintf(r->user_agent, sizeof(r->user_agent), "%s", hostile_ua);
}

static void assert_no_line_breaks(const struct buf *b)
{
    assert_null(memchr(b->ptr, '\n', b->len));
    assert_null(memchr(b->ptr, '\r', b->len));
    assert_int_equal(strlen(b->ptr), b->len);
}

/* ---- tests ------------------------------------------------------------------------------------
 */

static void check_json_str(json_t *o, const char *key, const char *raw)
{
    json_t *v = json_object_get(o, key);
    char *want = expected(raw, false);
    assert_non_null(v);
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), want);
    free(want);
}

static void test_json_round_trip(void **state)
{
    struct audit_record r;
    struct buf b;
    json_error_t jerr;
    json_t *o;

    (void)state;
    fill_hostile(&r);
    buf_init(&b, 1 << 20);
    assert_int_equal(audit_encode_json(&b, &r, "host|1"), 0);
    assert_no_line_breaks(&b);
    o = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL)
        fail_msg("not JSON: %s: %s", jerr.text, b.ptr);
    check_json_str(o, "path", hostile_path);
    check_json_str(o, "user_agent", hostile_ua);
    check_json_str(o, "principal_id", r.principal_id);
    check_json_str(o, "request_id", r.request_id);
    check_json_str(o, "client_id", r.client_id);
    check_json_str(o, "key_id", r.key_id);
    check_json_str(o, "host", "host|1");
    assert_string_equal(json_string_value(json_object_get(o, "type")), "request");
    assert_string_equal(json_string_value(json_object_get(o, "time")), "2025-11-27T17:21:41.123Z");
    assert_string_equal(json_string_value(json_object_get(o, "principal_kind")), "api-key");
    assert_string_equal(json_string_value(json_object_get(o, "outcome")), "auth.invalid_key");
    assert_string_equal(json_string_value(json_object_get(o, "scope")), "predict");
    assert_string_equal(json_string_value(json_object_get(o, "peer")), "10.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 401);
    assert_int_equal(json_integer_value(json_object_get(o, "signature")), 101);
    assert_int_equal(json_integer_value(json_object_get(o, "severity")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_in")), 77);
    assert_int_equal(json_integer_value(json_object_get(o, "bytes_out")), 99);
    assert_int_equal(json_integer_value(json_object_get(o, "records")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "duration_us")), 1234);
    assert_true(json_is_false(json_object_get(o, "aborted")));
    assert_null(json_object_get(o, "count")); /* event fields only on events */
    json_decref(o);

    /* Empty strings are null, every key is always there. */
    memset(&r, 0, sizeof(r));
    r.outcome = "ok";
    buf_reset(&b);
    assert_int_equal(audit_encode_json(&b, &r, NULL), 0);
    o = json_loadb(b.ptr, b.len, 0, &jerr);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "principal_id")));
    assert_true(json_is_null(json_object_get(o, "trace_id")));
    assert_true(json_is_null(json_object_get(o, "host")));
    assert_true(json_is_null(json_object_get(o, "route")));
    assert_string_equal(json_string_value(json_object_get(o, "principal_kind")), "none");
    assert_int_equal(json_object_size(o), 29);
    json_decref(o);
    buf_fini(&b);
}

static void check_cef(const struct cef *c, const char *key, const char *raw)
{
    const char *v = cef_get(c, key);
    char *want = expected(raw, true);
    if (v == NULL)
        fail_msg("CEF key %s missing", key);
    assert_string_equal(v, want);
    free(want);
}

static void test_cef_round_trip(void **state)
{
    struct audit_record r;
    struct buf b;
    struct cef c;

    (void)state;
    fill_hostile(&r);
    buf_init(&b, 1 << 20);
    assert_int_equal(audit_encode_cef(&b, &r, "web-1"), 0);
    assert_no_line_breaks(&b);
    if (cef_parse(b.ptr, &c) != 0)
        fail_msg("not CEF: %s", b.ptr);
    assert_string_equal(c.header[0], "0");
    assert_string_equal(c.header[1], "modelwrap");
    assert_string_equal(c.header[2], "modelwrap");
    assert_string_equal(c.header[3], MW_VERSION);
    assert_string_equal(c.header[4], "101");
    assert_string_equal(c.header[5], "Authentication refused");
    assert_string_equal(c.header[6], "5");
    check_cef(&c, "request", hostile_path);
    check_cef(&c, "requestClientApplication", hostile_ua);
    check_cef(&c, "suser", r.principal_id);
    check_cef(&c, "externalId", r.request_id);
    check_cef(&c, "cs2", r.client_id);
    check_cef(&c, "cs3", r.key_id);
    check_cef(&c, "src", "203.0.113.9");
    check_cef(&c, "flexString2", "10.0.0.1");
    check_cef(&c, "flexString2Label", "peer");
    check_cef(&c, "flexString1", r.trace_id);
    check_cef(&c, "rt", "1764264101123");
    check_cef(&c, "dvchost", "web-1");
    check_cef(&c, "outcome", "auth.invalid_key");
    check_cef(&c, "act", "refused");
    check_cef(&c, "requestMethod", "POST");
    check_cef(&c, "cs1", "api-key");
    check_cef(&c, "cs1Label", "principalKind");
    check_cef(&c, "cs4", "predict");
    check_cef(&c, "cs5", "iris");
    check_cef(&c, "cn1", "401");
    check_cef(&c, "in", "77");
    check_cef(&c, "out", "99");
    check_cef(&c, "cn2", "1234");
    check_cef(&c, "cn3", "3");
    check_cef(&c, "destinationServiceName", "v1_model_predict");
    assert_null(cef_get(&c, "c6a2"));
    assert_null(cef_get(&c, "cnt"));
    /* "cs1=fake" inside the user agent must not become a key */
    size_t n_cs1 = 0;
    for (size_t i = 0; i < c.n_kv; i++)
        n_cs1 += strcmp(c.key[i], "cs1") == 0;
    assert_int_equal(n_cs1, 1);
    cef_free(&c);

    /* IPv6 clients go to c6a2 (src is IPv4 only); empty values are omitted. */
    memset(&r, 0, sizeof(r));
    r.sig = AUDIT_SIG_OK;
    r.status = 200;
    r.outcome = "ok";
    snprintf(r.client, sizeof(r.client), "%s", "2001:db8::1");
    buf_reset(&b);
    assert_int_equal(audit_encode_cef(&b, &r, ""), 0);
    assert_int_equal(cef_parse(b.ptr, &c), 0);
    assert_null(cef_get(&c, "src"));
    check_cef(&c, "c6a2", "2001:db8::1");
    check_cef(&c, "c6a2Label", "Source IPv6 Address");
    assert_null(cef_get(&c, "suser"));
    assert_null(cef_get(&c, "dvchost"));
    check_cef(&c, "act", "served");
    cef_free(&c);
    buf_fini(&b);
}

static void test_event_fields(void **state)
{
    struct audit_record r;
    struct buf b;
    struct cef c;
    json_t *o;

    (void)state;
    fill_hostile(&r);
    r.kind = AUDIT_EVENT;
    r.sig = AUDIT_EV_AUTH_BURST_ADDR;
    r.count = 12;
    r.threshold = 10;
    r.window_s = 60;
    buf_init(&b, 1 << 20);
    assert_int_equal(audit_encode_cef(&b, &r, "h"), 0);
    assert_int_equal(cef_parse(b.ptr, &c), 0);
    assert_string_equal(c.header[4], "200");
    assert_string_equal(c.header[6], "7");
    check_cef(&c, "cnt", "12");
    assert_non_null(strstr(cef_get(&c, "msg"), "12 authentication failures"));
    assert_non_null(strstr(cef_get(&c, "msg"), "threshold 10"));
    cef_free(&c);
    buf_reset(&b);
    assert_int_equal(audit_encode_json(&b, &r, "h"), 0);
    o = json_loads(b.ptr, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "security_event");
    assert_int_equal(json_integer_value(json_object_get(o, "signature")), 200);
    assert_int_equal(json_integer_value(json_object_get(o, "count")), 12);
    assert_int_equal(json_integer_value(json_object_get(o, "threshold")), 10);
    assert_int_equal(json_integer_value(json_object_get(o, "window_s")), 60);
    assert_string_equal(json_string_value(json_object_get(o, "name")),
                        "Authentication failure burst from one address");
    json_decref(o);
    buf_fini(&b);
}

static void test_signatures(void **state)
{
    static const int all[] = {100, 101, 102, 103, 104, 105, 106, 200, 201,
                              210, 220, 221, 230, 240, 250, 260, 299};
    (void)state;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int sev = audit_sig_severity(all[i]);
        assert_true(sev >= 0 && sev <= 10);
        assert_string_not_equal(audit_sig_name(all[i]), "Audit record");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(audit_sig_name(all[i]), audit_sig_name(all[j]));
    }
    assert_string_equal(audit_sig_name(12345), "Audit record");
}

static void test_syslog_frame(void **state)
{
    struct audit_record r;
    struct buf b;
    const char *msg = "{\"a\":1}";
    char pre[64];
    size_t n = 0;
    const char *sp;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.sig = AUDIT_SIG_OK;
    r.time_ms = 1764264101123ull;
    buf_init(&b, 1 << 20);
    assert_int_equal(audit_frame_syslog(&b, &r, "my host\x01", 42, msg, strlen(msg), true), 0);
    sp = strchr(b.ptr, ' ');
    assert_non_null(sp);
    memcpy(pre, b.ptr, (size_t)(sp - b.ptr));
    pre[sp - b.ptr] = '\0';
    for (const char *p = pre; *p; p++)
        n = n * 10 + (size_t)(*p - '0');
    assert_int_equal(n, b.len - (size_t)(sp - b.ptr) - 1); /* octet count */
    /* facility 13 (log audit) * 8 + informational (6) = 110 */
    assert_string_equal(sp + 1, "<110>1 2025-11-27T17:21:41.123Z my_host_ modelwrap 42 audit - "
                                "{\"a\":1}");

    buf_reset(&b);
    r.kind = AUDIT_EVENT;
    r.sig = AUDIT_EV_AUTH_BURST_ADDR; /* CEF 7 -> error (3) */
    assert_int_equal(audit_frame_syslog(&b, &r, NULL, 7, "x", 1, false), 0);
    assert_string_equal(b.ptr, "<107>1 2025-11-27T17:21:41.123Z - modelwrap 7 security - x");
    buf_fini(&b);
}

static void test_encoders_fail_cleanly(void **state)
{
    struct audit_record r;
    struct buf b;

    (void)state;
    fill_hostile(&r);
    buf_init(&b, 64);
    assert_int_equal(buf_append(&b, "keep", 4), 0);
    assert_int_equal(audit_encode_json(&b, &r, "h"), MWE_BODY_TOO_LARGE);
    assert_int_equal(b.len, 4);
    assert_string_equal(b.ptr, "keep");
    assert_int_equal(audit_encode_cef(&b, &r, "h"), MWE_BODY_TOO_LARGE);
    assert_string_equal(b.ptr, "keep");
    buf_fini(&b);
}

static void test_copy_cuts_at_utf8_boundary(void **state)
{
    char out[6];
    (void)state;
    /* "ab" + euro sign (3 bytes) + "c": 5 bytes fit in 6 only if the euro is whole */
    assert_false(audit_copy(out, sizeof(out), "ab\xE2\x82\xAC", 5));
    assert_string_equal(out, "ab\xE2\x82\xAC");
    assert_true(audit_copy(out, sizeof(out), "abc\xE2\x82\xAC", 6));
    assert_string_equal(out, "abc"); /* not "abc\xE2\x82" */
    assert_true(audit_copy(out, sizeof(out), "abcdefgh", 8));
    assert_string_equal(out, "abcde");
    assert_false(audit_copy(out, sizeof(out), "a\0bcdefgh", 9)); /* stops at a NUL */
    assert_string_equal(out, "a");
    assert_false(audit_copy(out, sizeof(out), NULL, 3));
    assert_string_equal(out, "");
    /* an invalid byte at the cut is kept (the encoders replace it) */
    assert_true(audit_copy(out, sizeof(out), "abcd\xFFzz", 7));
    assert_string_equal(out, "abcd\xFF");
}

static void test_trace_id(void **state)
{
    char id[33];
    static const char ok[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    (void)state;
    assert_true(audit_trace_id((struct slice){ok, sizeof(ok) - 1}, id));
    assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    static const char *const bad[] = {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 is exactly 55 */
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(audit_trace_id((struct slice){bad[i], strlen(bad[i])}, id));
        assert_string_equal(id, "");
    }
    static const char later[] = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
    assert_true(audit_trace_id((struct slice){later, sizeof(later) - 1}, id));
    assert_false(audit_trace_id((struct slice){NULL, 0}, id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_cef_round_trip),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_syslog_frame),
        cmocka_unit_test(test_encoders_fail_cleanly),
        cmocka_unit_test(test_copy_cuts_at_utf8_boundary),
        cmocka_unit_test(test_trace_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
