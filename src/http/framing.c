/*
 * Request framing checks (RFC 9112 section 6) on what libmicrohttpd parsed: one Content-Length,
 * no Content-Length next to Transfer-Encoding, Transfer-Encoding exactly "chunked", header names
 * that are tokens, header values without control characters, one Host. And an accounting check:
 * every byte of the header block must belong to a header libmicrohttpd reports, so a line it
 * folded, cut at a NUL or dropped cannot change the request's framing without being seen.
 */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* Case-insensitive equality of name (len bytes) and the NUL-terminated want. */
static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

static bool all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\0')
            return false;
    return true;
}

static void fail(struct framing *f, int reason)
{
    if (f->reason == FRAMING_OK)
        f->reason = reason;
}

/* See http_int.h. */
void framing_init(struct framing *f, const char *block, size_t block_len, const char *line_end,
                  int http_minor)
{
    memset(f, 0, sizeof(*f));
    f->http_minor = http_minor;
    if (block != NULL && line_end != NULL && line_end >= block && line_end <= block + block_len) {
        f->block = block;
        f->block_end = block + block_len;
        f->expect = line_end;
    }
}

/* A header line's terminator is 1 (LF) or 2 (CRLF) bytes that libmicrohttpd overwrote with NULs;
 * the next line starts right after. */
static void layout_header(struct framing *f, const char *name, size_t name_len, const char *value,
                          size_t value_len)
{
    const char *p;
    size_t gap;

    if (f->block == NULL)
        return;
    /* Pointers outside the block (a header libmicrohttpd moved: an obs-folded line) are compared,
     * never read. */
    if (name < f->expect || name > f->block_end || value < name || value > f->block_end ||
        (size_t)(f->block_end - value) < value_len || (size_t)(value - name) <= name_len) {
        fail(f, FRAMING_HEADER_LINE);
        return;
    }
    gap = (size_t)(name - f->expect);
    if (gap < 1 || gap > 2 || !all_zero(f->expect, gap)) {
        fail(f, FRAMING_HEADER_LINE);
        return;
    }
    /* name, then the colon (now a NUL), then optional whitespace, then the value */
    p = name + name_len;
    if (*p != '\0') {
        fail(f, FRAMING_HEADER_LINE);
        return;
    }
    for (p++; p < value; p++)
        if (*p != ' ' && *p != '\t') {
            fail(f, FRAMING_HEADER_LINE);
            return;
        }
    f->expect = value + value_len;
}

/* See http_int.h. */
void framing_header(struct framing *f, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    f->n_headers++;
    layout_header(f, name, name_len, value, value_len);
    if (name_len == 0)
        fail(f, FRAMING_HEADER_NAME);
    for (size_t i = 0; i < name_len; i++)
        if (!is_tchar((unsigned char)name[i])) {
            fail(f, FRAMING_HEADER_NAME);
            break;
        }
    for (size_t i = 0; i < value_len; i++) {
        unsigned char c = (unsigned char)value[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            fail(f, FRAMING_HEADER_VALUE);
            break;
        }
    }
    /* the headers that frame the request, told apart by length first (this runs per header) */
    switch (name_len) {
    case 14:
        if (name_is(name, name_len, "Content-Length")) {
            if (f->n_cl > 0 && (value_len != f->cl_len || memcmp(value, f->cl, value_len) != 0))
                fail(f, FRAMING_CL_CONFLICT);
            if (f->n_cl == 0) {
                f->cl = value;
                f->cl_len = value_len;
            }
            f->n_cl++;
        }
        break;
    case 17:
        /* libmicrohttpd decodes exactly one coding, "chunked", named on the first line: anything
         * else it would read as a body of unknown length until the connection closes. */
        if (name_is(name, name_len, "Transfer-Encoding")) {
            if (f->n_te > 0 || !name_is(value, value_len, "chunked"))
                fail(f, FRAMING_TE_UNSUPPORTED);
            f->n_te++;
        }
        break;
    case 10:
        if (name_is(name, name_len, "Connection"))
            for (size_t i = 0; i + 5 <= value_len; i++)
                if (strncasecmp(value + i, "close", 5) == 0)
                    f->conn_close = true;
        break;
    case 4:
        if (name_is(name, name_len, "Host")) {
            if (f->n_host > 0)
                fail(f, FRAMING_HOST);
            f->n_host++;
        }
        break;
    default:
        break;
    }
}

/* See http_int.h. */
int framing_finish(struct framing *f)
{
    if (f->block != NULL && f->reason == FRAMING_OK) {
        /* the last line's terminator and the empty line: 2 to 4 NULs, nothing else */
        size_t gap = f->expect <= f->block_end ? (size_t)(f->block_end - f->expect) : 0;
        if (gap < 2 || gap > 4 || !all_zero(f->expect, gap))
            fail(f, FRAMING_HEADER_LINE);
    }
    if (f->n_te > 0 && f->n_cl > 0)
        fail(f, FRAMING_CL_WITH_TE);
    if (f->n_te > 0 && f->http_minor == 0) /* RFC 9112 6.1: faulty framing from HTTP/1.0 */
        fail(f, FRAMING_TE_UNSUPPORTED);
    if (f->n_host == 0 && f->http_minor >= 1) /* RFC 9112 3.2 */
        fail(f, FRAMING_HOST);
    return f->reason;
}

static const struct {
    const char *code;
    const char *msg;
} reasons[] = {
    [FRAMING_OK] = {"ok", ""},
    [FRAMING_CL_CONFLICT] = {"http.content_length_conflict",
                             "The request has Content-Length headers with different values."},
    [FRAMING_CL_WITH_TE] = {"http.content_length_with_transfer_encoding",
                            "The request has both Content-Length and Transfer-Encoding."},
    [FRAMING_TE_UNSUPPORTED] = {"http.transfer_encoding",
                                "Transfer-Encoding must be exactly one 'chunked' (HTTP/1.1)."},
    [FRAMING_HEADER_NAME] = {"http.header_name",
                             "A header name is empty or not a token (whitespace before the "
                             "colon?)."},
    [FRAMING_HEADER_VALUE] = {"http.header_value", "A header value holds a control character."},
    [FRAMING_HEADER_LINE] = {"http.header_line",
                             "A header line is malformed (folded, or holds a NUL byte)."},
    [FRAMING_HOST] = {"http.host", "An HTTP/1.1 request needs exactly one Host header."},
    [FRAMING_URI_NUL] = {"http.uri_nul", "The request URI holds a NUL byte."},
    [FRAMING_URI_BYTES] = {"http.uri_bytes",
                           "The request URI holds a space or a control character."},
};

/* See http_int.h. */
const char *framing_reason_code(int reason)
{
    if (reason < 0 || (size_t)reason >= sizeof(reasons) / sizeof(reasons[0]))
        return "http.malformed";
    return reasons[reason].code;
}

const char *framing_reason_msg(int reason)
{
    if (reason <= 0 || (size_t)reason >= sizeof(reasons) / sizeof(reasons[0]))
        return "The request is malformed.";
    return reasons[reason].msg;
}
