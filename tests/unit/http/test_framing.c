/* Unit tests of the framing checks: Content-Length / Transfer-Encoding / Host rules, header name
 * and value characters, and the accounting of the header block, on blocks laid out the way
 * libmicrohttpd 0.9.75 leaves them (line ends and each header's colon overwritten with NULs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/http_int.h"

#define MAX_H 16

/* A request parsed the way libmicrohttpd does it: wire is the request (CRLF or LF line ends, no
 * folding); block receives the NUL-ed copy; the headers point into it. */
struct parsed {
    char block[1024];
    size_t len;
    const char *line_end;
    const char *name[MAX_H], *value[MAX_H];
    size_t name_len[MAX_H], value_len[MAX_H];
    size_t n;
};

static void mhd_parse(struct parsed *p, const char *wire, size_t wire_len)
{
    char *line;
    char *end;
    memset(p, 0, sizeof(*p));
    assert_true(wire_len < sizeof(p->block));
    memcpy(p->block, wire, wire_len);
    line = p->block;
    end = p->block + wire_len;
    for (int first = 1; line < end; first = 0) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *le;
        assert_non_null(nl);
        le = (nl > line && nl[-1] == '\r') ? nl - 1 : nl;
        memset(le, 0, (size_t)(nl - le + 1));
        if (first) {
            p->line_end = le;
        } else if (le == line) {
            p->len = (size_t)(nl + 1 - p->block); /* the empty line ends the block */
            return;
        } else {
            char *colon = strchr(line, ':'); /* stops at a NUL, like libmicrohttpd */
            char *v;
            assert_non_null(colon);
            *colon = '\0';
            v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            p->name[p->n] = line;
            p->name_len[p->n] = strlen(line);
            p->value[p->n] = v;
            p->value_len[p->n] = strlen(v);
            p->n++;
        }
        line = nl + 1;
    }
    fail_msg("no empty line");
}

static int verdict_of(const struct parsed *p, int minor)
{
    struct framing f;
    framing_init(&f, p->block, p->len, p->line_end, minor);
    for (size_t i = 0; i < p->n; i++)
        framing_header(&f, p->name[i], p->name_len[i], p->value[i], p->value_len[i]);
    return framing_finish(&f);
}

static int check(const char *wire, size_t len, int minor)
{
    struct parsed p;
    mhd_parse(&p, wire, len);
    return verdict_of(&p, minor);
}

#define CHECK(lit) check(lit, sizeof(lit) - 1, 1)
#define PARSE(p, lit) mhd_parse(p, lit, sizeof(lit) - 1)

static void test_plain_requests_pass(void **state)
{
    (void)state;
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), FRAMING_OK);
    assert_int_equal(CHECK("GET / HTTP/1.1\nHost: x\n\n"), FRAMING_OK);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\nA: b\r\n\n"), FRAMING_OK);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nA:\r\nB: \t \r\nC: c \r\n\r\n"),
                     FRAMING_OK);
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                           "content-length: 3\r\n\r\n"),
                     FRAMING_OK);
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"),
                     FRAMING_OK);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n"), FRAMING_OK);
    static const char get10[] = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(check(get10, sizeof(get10) - 1, 0), FRAMING_OK);
}

static void test_content_length_and_transfer_encoding(void **state)
{
    (void)state;
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                           "Content-Length: 30\r\n\r\n"),
                     FRAMING_CL_CONFLICT);
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     FRAMING_CL_WITH_TE);
    assert_int_equal(
        CHECK("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
        FRAMING_TE_UNSUPPORTED);
    assert_int_equal(
        CHECK("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
        FRAMING_TE_UNSUPPORTED);
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"),
                     FRAMING_TE_UNSUPPORTED);
    assert_int_equal(CHECK("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked \r\n\r\n"),
                     FRAMING_TE_UNSUPPORTED);
    static const char te10[] = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(check(te10, sizeof(te10) - 1, 0), FRAMING_TE_UNSUPPORTED);
}

static void test_names_values_host(void **state)
{
    (void)state;
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"),
                     FRAMING_HEADER_NAME);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n"), FRAMING_HEADER_NAME);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nA(b): v\r\n\r\n"), FRAMING_HEADER_NAME);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n"), FRAMING_HEADER_VALUE);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nA: b\x7f\r\n\r\n"), FRAMING_HEADER_VALUE);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"), FRAMING_HOST);
    assert_int_equal(CHECK("GET / HTTP/1.1\r\nA: b\r\n\r\n"), FRAMING_HOST);
}

static void test_nul_bytes_are_found(void **state)
{
    static const char in_value[] = "GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\nB: d\r\n\r\n";
    static const char last_value[] = "GET / HTTP/1.1\r\nHost: x\r\nA: b\0c\r\n\r\n";
    static const char in_host[] = "GET / HTTP/1.1\r\nHost: x\0evil\r\n\r\n";
    (void)state;
    assert_int_equal(check(in_value, sizeof(in_value) - 1, 1), FRAMING_HEADER_LINE);
    assert_int_equal(check(last_value, sizeof(last_value) - 1, 1), FRAMING_HEADER_LINE);
    assert_int_equal(check(in_host, sizeof(in_host) - 1, 1), FRAMING_HEADER_LINE);
}

/* A line libmicrohttpd dropped (it starts with a NUL, which ends its header block early: here the
 * block is cut where libmicrohttpd stops), or a folded value it moved elsewhere. */
static void test_unaccounted_bytes(void **state)
{
    struct parsed p;
    static char moved[32];
    (void)state;

    PARSE(&p, "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n");
    p.block[24] = 'Z'; /* a byte between two lines that no header covers */
    assert_int_equal(verdict_of(&p, 1), FRAMING_HEADER_LINE);

    PARSE(&p, "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\r\n");
    p.len += 3; /* the block goes on past the last line */
    assert_int_equal(verdict_of(&p, 1), FRAMING_HEADER_LINE);

    PARSE(&p, "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chu\r\n\r\n");
    memcpy(moved, "Transfer-Encodingnked", 22); /* libmicrohttpd 0.9.75's fold */
    p.name[1] = moved;
    p.name_len[1] = 21;
    assert_int_equal(verdict_of(&p, 1), FRAMING_HEADER_LINE);

    /* no block: only the header rules */
    struct framing f;
    framing_init(&f, NULL, 0, NULL, 1);
    framing_header(&f, "Host", 4, "x", 1);
    framing_header(&f, moved, 21, "chu", 3);
    assert_int_equal(framing_finish(&f), FRAMING_OK);
}

static void test_reason_codes(void **state)
{
    (void)state;
    assert_string_equal(framing_reason_code(FRAMING_CL_CONFLICT), "http.content_length_conflict");
    assert_string_equal(framing_reason_code(FRAMING_URI_NUL), "http.uri_nul");
    assert_string_equal(framing_reason_code(99), "http.malformed");
    assert_string_equal(framing_reason_msg(-1), "The request is malformed.");
    for (int i = 1; i <= FRAMING_URI_BYTES; i++) {
        assert_true(strncmp(framing_reason_code(i), "http.", 5) == 0);
        assert_true(strlen(framing_reason_msg(i)) > 10);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_requests_pass),
        cmocka_unit_test(test_content_length_and_transfer_encoding),
        cmocka_unit_test(test_names_values_host),
        cmocka_unit_test(test_nul_bytes_are_found),
        cmocka_unit_test(test_unaccounted_bytes),
        cmocka_unit_test(test_reason_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
