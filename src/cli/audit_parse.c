/*
 * Reading audit records back for the access review: JSON lines through jansson, and the Common
 * Event Format (pipe-delimited header, key=value extension with backslash escapes, as
 * src/audit/encode.c writes it) through the small parser below. Every line is untrusted: bounded,
 * never read past its length, a failure is "malformed", never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

int arec_parser_init(struct arec_parser *p)
{
    p->doc = NULL;
    p->scratch = malloc(AREC_LINE_MAX);
    return p->scratch != NULL ? 0 : MWE_NOMEM;
}

void arec_parser_fini(struct arec_parser *p)
{
    json_decref(p->doc);
    p->doc = NULL;
    free(p->scratch);
    p->scratch = NULL;
}

static bool digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool arec_parse_time(const char *s, size_t len, int64_t *ms)
{
    int64_t y, mo, d, h, mi, se, frac = 0;

    /* YYYY-MM-DDTHH:MM:SS[.mmm]Z */
    if (len < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
        s[len - 1] != 'Z')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    if (len == 24) {
        if (s[19] != '.' || !digits(s + 20, 3, &frac))
            return false;
    } else if (len != 20) {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + se * 1000 + frac;
    return true;
}

/* ---- JSON lines ------------------------------------------------------------------------------ */

static struct slice jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    struct slice s = {NULL, 0};
    if (json_is_string(v)) {
        s.ptr = json_string_value(v);
        s.len = json_string_length(v);
    }
    return s;
}

static uint64_t juint(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

static int parse_json(struct arec_parser *p, const char *line, size_t len, struct arec *r)
{
    json_error_t jerr;
    struct slice type, time;
    json_int_t sig, status;

    json_decref(p->doc);
    p->doc = json_loadb(line, len, 0, &jerr);
    if (!json_is_object(p->doc))
        return -1;
    type = jstr(p->doc, "type");
    time = jstr(p->doc, "time");
    if (slice_eq(type, "request"))
        r->type = AREC_REQUEST;
    else if (slice_eq(type, "security_event"))
        r->type = AREC_EVENT;
    else
        return -1;
    if (time.ptr == NULL || !arec_parse_time(time.ptr, time.len, &r->time_ms))
        return -1;
    sig = json_integer_value(json_object_get(p->doc, "signature"));
    status = json_integer_value(json_object_get(p->doc, "status"));
    r->signature = sig > 0 && sig < 100000 ? (int)sig : 0;
    r->status = status > 0 && status < 1000 ? (int)status : 0;
    r->bytes_in = juint(p->doc, "bytes_in");
    r->records = juint(p->doc, "records");
    r->count = juint(p->doc, "count");
    r->name = jstr(p->doc, "name");
    r->client = jstr(p->doc, "client");
    r->principal_kind = jstr(p->doc, "principal_kind");
    r->principal_id = jstr(p->doc, "principal_id");
    r->key_id = jstr(p->doc, "key_id");
    r->client_id = jstr(p->doc, "client_id");
    r->scope = jstr(p->doc, "scope");
    r->route = jstr(p->doc, "route");
    r->model = jstr(p->doc, "model");
    r->outcome = jstr(p->doc, "outcome");
    r->message = jstr(p->doc, "message");
    return 0;
}

/* ---- CEF ------------------------------------------------------------------------------------- */

/* The extension keys the review reads, and where each goes. */
enum {
    K_RT, K_SRC, K_C6A2, K_SUSER, K_CS1, K_CS2, K_CS3, K_CS4, K_CS5, K_ROUTE, K_OUTCOME, K_CN1,
    K_IN, K_CN3, K_CNT, K_MSG, K_N
};
static const struct {
    const char *name;
    size_t len;
} cef_keys[K_N] = {
    {"rt", 2},     {"src", 3},   {"c6a2", 4}, {"suser", 5}, {"cs1", 3},
    {"cs2", 3},    {"cs3", 3},   {"cs4", 3},  {"cs5", 3},   {"destinationServiceName", 22},
    {"outcome", 7}, {"cn1", 3},  {"in", 2},   {"cn3", 3},   {"cnt", 3},
    {"msg", 3},
};

static int key_index(const char *k, size_t n)
{
    for (int i = 0; i < K_N; i++)
        if (cef_keys[i].len == n && memcmp(cef_keys[i].name, k, n) == 0)
            return i;
    return -1;
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Copies value [v, v+n) to *out, unescaping \\ \= \n \r into scratch when it has a backslash. */
static bool unescape(const char *v, size_t n, char *scratch, size_t *used, struct slice *out)
{
    char *dst;
    size_t j = 0;

    if (memchr(v, '\\', n) == NULL) {
        out->ptr = v;
        out->len = n;
        return true;
    }
    if (*used + n > AREC_LINE_MAX)
        return false;
    dst = scratch + *used;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '\\' && i + 1 < n) {
            char e = v[++i];
            c = e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        }
        dst[j++] = c;
    }
    *used += j;
    out->ptr = dst;
    out->len = j;
    return true;
}

static uint64_t num(struct slice s)
{
    int64_t v = 0;
    return s.ptr != NULL && digits(s.ptr, s.len, &v) ? (uint64_t)v : 0;
}

int arec_parse_cef(struct arec_parser *p, const char *line, size_t len, struct arec *r)
{
    const char *field[8];
    size_t flen[8];
    size_t i = 4, start = 4, nf = 0, used = 0;
    struct slice val[K_N];
    const char *ext;
    size_t elen, val_start;
    int cur; /* the key whose value is being read; -1: one the review does not use */
    int64_t sig = 0;

    if (len < 4 || memcmp(line, "CEF:", 4) != 0)
        return -1;
    /* The header: 7 fields (version after "CEF:", vendor, product, version, signature, name,
     * severity), '|'-separated, with \| and \\ escaped. */
    while (i < len && nf < 7) {
        if (line[i] == '\\' && i + 1 < len) {
            i += 2;
            continue;
        }
        if (line[i] == '|') {
            field[nf] = line + start;
            flen[nf] = i - start;
            nf++;
            start = i + 1;
        }
        i++;
    }
    if (nf != 7)
        return -1;
    if (!digits(field[4], flen[4], &sig) || sig >= 100000)
        return -1;
    memset(r, 0, sizeof(*r));
    memset(val, 0, sizeof(val));
    r->signature = (int)sig;
    r->type = sig >= 200 ? AREC_EVENT : AREC_REQUEST;
    if (!unescape(field[5], flen[5], p->scratch, &used, &r->name))
        return -1;
    /* The extension: key=value pairs separated by spaces; a value runs to the space before the
     * next unescaped '=' whose preceding word (after a space) is a key. It must start with one. */
    ext = line + start;
    elen = len - start;
    for (i = 0; i < elen && is_key_char(ext[i]); i++)
        ;
    if (i == 0 || i == elen || ext[i] != '=')
        return -1;
    cur = key_index(ext, i);
    val_start = i + 1;
    for (i = val_start; i < elen; i++) {
        size_t k;
        if (ext[i] == '\\') {
            i++;
            continue;
        }
        if (ext[i] != '=')
            continue;
        k = i;
        while (k > val_start && is_key_char(ext[k - 1]))
            k--;
        if (k == i || k == val_start || ext[k - 1] != ' ')
            continue; /* an '=' inside a value (the encoder escapes them; others may not) */
        if (cur >= 0 && !unescape(ext + val_start, k - 1 - val_start, p->scratch, &used, &val[cur]))
            return -1;
        cur = key_index(ext + k, i - k);
        val_start = i + 1;
    }
    if (cur >= 0 && !unescape(ext + val_start, elen - val_start, p->scratch, &used, &val[cur]))
        return -1;
    if (val[K_RT].ptr == NULL || !digits(val[K_RT].ptr, val[K_RT].len, &r->time_ms))
        return -1;
    r->client = val[K_SRC].ptr != NULL ? val[K_SRC] : val[K_C6A2];
    r->principal_id = val[K_SUSER];
    r->principal_kind = val[K_CS1];
    r->client_id = val[K_CS2];
    r->key_id = val[K_CS3];
    r->scope = val[K_CS4];
    r->model = val[K_CS5];
    r->route = val[K_ROUTE];
    r->outcome = val[K_OUTCOME];
    r->message = val[K_MSG];
    r->status = (int)(num(val[K_CN1]) < 1000 ? num(val[K_CN1]) : 0);
    r->bytes_in = num(val[K_IN]);
    r->records = num(val[K_CN3]);
    r->count = num(val[K_CNT]);
    return 0;
}

int arec_parse_line(struct arec_parser *p, const char *line, size_t len, struct arec *r)
{
    const char *cef;
    const char *brace;

    if (len == 0 || len > AREC_LINE_MAX)
        return -1;
    if (line[0] == '{') {
        memset(r, 0, sizeof(*r));
        return parse_json(p, line, len, r);
    }
    if (len >= 4 && memcmp(line, "CEF:", 4) == 0)
        return arec_parse_cef(p, line, len, r);
    /* Behind a syslog header ("<PRI>1 TIMESTAMP HOST modelwrap PID MSGID - MSG", possibly after
     * an octet count): the record starts at "CEF:" or at the first '{'. */
    cef = memmem(line, len, "CEF:0|", 6);
    if (cef != NULL)
        return arec_parse_cef(p, cef, len - (size_t)(cef - line), r);
    brace = memchr(line, '{', len);
    if (brace != NULL) {
        memset(r, 0, sizeof(*r));
        return parse_json(p, brace, len - (size_t)(brace - line), r);
    }
    return -1;
}
