/*
 * libFuzzer target for the audit encoders: arbitrary bytes become the strings of an audit record
 * (fields separated by NUL bytes, cut like the real record builder cuts them) and a traceparent;
 * the JSON line must parse back (jansson) and the CEF line must parse back (a CEF parser written
 * here) to exactly the stored values, with invalid UTF-8 as U+FFFD (CEF: controls too). Neither
 * line may hold a line break, and the syslog frame's octet count must be exact.
 * Seed corpus: fuzz/corpus/audit_encode/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__);                      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- the oracle: a strict UTF-8 decoder of its own ------------------------------------------ */

static size_t decode_utf8(const unsigned char *s, size_t len, unsigned *cp)
{
    unsigned c = s[0], v;
    size_t n;
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

/* Whether a line holds a raw control character (C0, DEL, C1) or U+2028/U+2029. */
static int has_line_breaking(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;

    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return 1;
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return 1;
        if (p[i] == 0xE2 && i + 2 < len && p[i + 1] == 0x80 &&
            (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
            return 1;
    }
    return 0;
}

/* What s must read back as: invalid bytes (CEF: also controls but LF/CR, DEL, the C1 controls and
 * U+2028/U+2029) -> U+FFFD. */
static char *expected(const char *s, int cef)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(len * 3 + 1);
    CHECK(out != NULL);
    for (size_t i = 0; i < len;) {
        unsigned cp = 0;
        size_t n = decode_utf8((const unsigned char *)s + i, len - i, &cp);
        if (n == 0 || (cef && ((cp < 0x20 && cp != '\n' && cp != '\r') || cp == 0x7f ||
                               (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029))) {
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
    char *header[7];
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
}

static char *unescape_value(const char *s, size_t len)
{
    char *o = malloc(len + 1);
    size_t k = 0;
    CHECK(o != NULL);
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            o[k++] = s[i];
            continue;
        }
        CHECK(++i < len);
        if (s[i] == 'n')
            o[k++] = '\n';
        else if (s[i] == 'r')
            o[k++] = '\r';
        else {
            CHECK(s[i] == '\\' || s[i] == '=');
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* Parses a line the encoder wrote; aborts on anything that is not well-formed CEF. */
static void cef_parse(const char *line, struct cef *c)
{
    size_t len = strlen(line), i = 4;
    memset(c, 0, sizeof(*c));
    CHECK(strncmp(line, "CEF:", 4) == 0);
    for (int f = 0; f < 7; f++) {
        char *h = malloc(len + 1);
        size_t k = 0;
        CHECK(h != NULL);
        for (;;) {
            CHECK(i < len);
            if (line[i] == '\\') {
                CHECK(i + 1 < len && (line[i + 1] == '\\' || line[i + 1] == '|'));
                h[k++] = line[i + 1];
                i += 2;
                continue;
            }
            if (line[i++] == '|')
                break;
            h[k++] = line[i - 1];
        }
        h[k] = '\0';
        c->header[f] = h;
    }
    const char *ext = line + i;
    size_t elen = len - i, eq[MAX_KV], ks[MAX_KV], n = 0;
    for (size_t j = 0; j < elen; j++) {
        if (ext[j] == '\\') {
            j++;
            continue;
        }
        if (ext[j] != '=')
            continue;
        CHECK(n < MAX_KV);
        size_t s = j;
        while (s > 0 && ext[s - 1] != ' ')
            s--;
        CHECK(s < j && (n == 0 || s > eq[n - 1]));
        eq[n] = j;
        ks[n++] = s;
    }
    CHECK(n > 0 && ks[0] == 0);
    for (size_t k = 0; k < n; k++) {
        size_t vs = eq[k] + 1, ve = k + 1 < n ? ks[k + 1] - 1 : elen;
        CHECK(ve >= vs);
        c->key[k] = strndup(ext + ks[k], eq[k] - ks[k]);
        c->value[k] = unescape_value(ext + vs, ve - vs);
        c->n_kv = k + 1;
    }
}

static const char *cef_get(const struct cef *c, const char *key)
{
    const char *found = NULL;
    for (size_t i = 0; i < c->n_kv; i++) {
        if (strcmp(c->key[i], key) == 0) {
            CHECK(found == NULL); /* a key appears once */
            found = c->value[i];
        }
    }
    return found;
}

/* ---- the target -------------------------------------------------------------------------------
 */

static void check_json(json_t *o, const char *key, const char *stored)
{
    json_t *v = json_object_get(o, key);
    CHECK(v != NULL);
    if (stored[0] == '\0') {
        CHECK(json_is_null(v));
        return;
    }
    char *want = expected(stored, 0);
    CHECK(json_is_string(v));
    CHECK(strcmp(json_string_value(v), want) == 0);
    free(want);
}

static void check_cef(const struct cef *c, const char *key, const char *stored)
{
    const char *v = cef_get(c, key);
    if (stored[0] == '\0') {
        CHECK(v == NULL);
        return;
    }
    char *want = expected(stored, 1);
    CHECK(v != NULL);
    CHECK(strcmp(v, want) == 0);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct audit_record r;
    struct slice seg[12] = {{0}};
    size_t nseg = 0, start = 0;
    struct buf b, frame;
    struct cef c;

    /* fields: NUL-separated segments */
    for (size_t i = 0; i <= size && nseg < 12; i++) {
        if (i == size || data[i] == 0) {
            seg[nseg++] = (struct slice){(const char *)data + start, i - start};
            start = i + 1;
        }
    }
    memset(&r, 0, sizeof(r));
    r.kind = size > 0 && (data[0] & 1) ? AUDIT_EVENT : AUDIT_REQUEST;
    r.sig = r.kind == AUDIT_EVENT ? AUDIT_EV_PROBING : AUDIT_SIG_OK;
    r.status = size > 1 ? data[1] * 3 : 0;
    r.time_ms = size > 2 ? (uint64_t)data[2] << 33 : 0;
    r.count = size;
    r.outcome = "ok";
    r.route = size > 3 && (data[3] & 1) ? "v1_predict" : NULL;
    audit_copy(r.path, sizeof(r.path), seg[0].ptr, seg[0].len);
    audit_copy(r.user_agent, sizeof(r.user_agent), seg[1].ptr, seg[1].len);
    audit_copy(r.principal_id, sizeof(r.principal_id), seg[2].ptr, seg[2].len);
    audit_copy(r.client_id, sizeof(r.client_id), seg[3].ptr, seg[3].len);
    audit_copy(r.key_id, sizeof(r.key_id), seg[4].ptr, seg[4].len);
    audit_copy(r.model, sizeof(r.model), seg[5].ptr, seg[5].len);
    audit_copy(r.model_version, sizeof(r.model_version), seg[6].ptr, seg[6].len);
    audit_copy(r.method, sizeof(r.method), seg[7].ptr, seg[7].len);
    audit_copy(r.request_id, sizeof(r.request_id), seg[8].ptr, seg[8].len);
    audit_copy(r.client, sizeof(r.client), seg[9].ptr, seg[9].len);
    audit_copy(r.peer, sizeof(r.peer), seg[10].ptr, seg[10].len);
    /* the traceparent header is hostile too */
    if (audit_trace_id(seg[11], r.trace_id)) {
        CHECK(strlen(r.trace_id) == 32 && seg[11].len >= 55);
        CHECK(memcmp(r.trace_id, seg[11].ptr + 3, 32) == 0);
    } else {
        CHECK(r.trace_id[0] == '\0');
    }

    buf_init(&b, 1 << 20);
    buf_init(&frame, 1 << 20);

    CHECK(audit_encode_json(&b, &r, "fuzz-host") == 0);
    CHECK(memchr(b.ptr, '\n', b.len) == NULL && memchr(b.ptr, '\r', b.len) == NULL);
    CHECK(!has_line_breaking(b.ptr, b.len));
    json_t *o = json_loadb(b.ptr, b.len, JSON_REJECT_DUPLICATES, NULL);
    CHECK(o != NULL);
    check_json(o, "path", r.path);
    check_json(o, "user_agent", r.user_agent);
    check_json(o, "principal_id", r.principal_id);
    check_json(o, "client_id", r.client_id);
    check_json(o, "key_id", r.key_id);
    check_json(o, "model", r.model);
    check_json(o, "model_version", r.model_version);
    check_json(o, "method", r.method);
    check_json(o, "request_id", r.request_id);
    check_json(o, "client", r.client);
    check_json(o, "peer", r.peer);
    check_json(o, "trace_id", r.trace_id);
    CHECK(json_integer_value(json_object_get(o, "status")) == r.status);
    json_decref(o);

    CHECK(audit_frame_syslog(&frame, &r, "fuzz host", 1, b.ptr, b.len, true) == 0);
    const char *sp = strchr(frame.ptr, ' ');
    CHECK(sp != NULL);
    CHECK(strtoull(frame.ptr, NULL, 10) == frame.len - (size_t)(sp - frame.ptr) - 1);

    buf_reset(&b);
    CHECK(audit_encode_cef(&b, &r, "fuzz-host") == 0);
    CHECK(memchr(b.ptr, '\n', b.len) == NULL && memchr(b.ptr, '\r', b.len) == NULL);
    CHECK(!has_line_breaking(b.ptr, b.len));
    CHECK(strlen(b.ptr) == b.len);
    cef_parse(b.ptr, &c);
    CHECK(strcmp(c.header[4], r.kind == AUDIT_EVENT ? "260" : "100") == 0);
    check_cef(&c, "request", r.path);
    check_cef(&c, "requestClientApplication", r.user_agent);
    check_cef(&c, "suser", r.principal_id);
    check_cef(&c, "cs2", r.client_id);
    check_cef(&c, "cs3", r.key_id);
    check_cef(&c, "cs5", r.model);
    check_cef(&c, "cs6", r.model_version);
    check_cef(&c, "requestMethod", r.method);
    check_cef(&c, "externalId", r.request_id);
    check_cef(&c, "flexString2", r.peer);
    check_cef(&c, "flexString1", r.trace_id);
    if (r.client[0] != '\0' && strchr(r.client, ':') == NULL)
        check_cef(&c, "src", r.client);
    else
        check_cef(&c, "c6a2", r.client);
    cef_free(&c);

    buf_fini(&b);
    buf_fini(&frame);
    return 0;
}
