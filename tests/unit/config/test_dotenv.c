/*
 * Unit tests of dotenv_parse (src/config/dotenv.c): the .env grammar (quotes, escapes, comments,
 * export, CRLF, missing final newline), malformed lines with their numbers, NUL bytes, line limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/dotenv.h"

#define MAX_PAIRS 16

struct pairs {
    size_t n;
    char *key[MAX_PAIRS];
    char *value[MAX_PAIRS];
    int stop_at; /* return 42 from the callback at this pair (1-based); 0: never */
};

static int collect(const char *key, const char *value, void *ctx)
{
    struct pairs *p = ctx;

    if (p->n == MAX_PAIRS)
        return -1;
    p->key[p->n] = strdup(key);
    p->value[p->n] = strdup(value);
    p->n++;
    if (p->stop_at != 0 && (size_t)p->stop_at == p->n)
        return 42;
    return 0;
}

static void pairs_free(struct pairs *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->value[i]);
    }
    memset(p, 0, sizeof(*p));
}

/* Parses text from a heap copy of exactly len bytes, so that ASan catches any read past len. */
static int parse_n(const char *text, size_t len, struct pairs *p, struct mw_error *e)
{
    char *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, text, len);
    memset(e, 0, sizeof(*e));
    rc = dotenv_parse(copy, len, collect, p, e);
    free(copy);
    return rc;
}

static int parse(const char *text, struct pairs *p, struct mw_error *e)
{
    return parse_n(text, strlen(text), p, e);
}

/* Expects text to parse into the given key/value pairs (NULL-terminated list). */
static void expect_pairs(const char *text, ...)
{
    struct pairs p = {0};
    struct mw_error e;
    va_list ap;
    size_t i = 0;
    const char *k;

    assert_int_equal(parse(text, &p, &e), 0);
    va_start(ap, text);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        assert_true(i < p.n);
        assert_string_equal(p.key[i], k);
        assert_string_equal(p.value[i], v);
        i++;
    }
    va_end(ap);
    assert_int_equal(p.n, i);
    pairs_free(&p);
}

static void expect_error(const char *text, size_t len, const char *msg)
{
    struct pairs p = {0};
    struct mw_error e;

    assert_int_equal(parse_n(text, len, &p, &e), MWE_CONFIG);
    assert_int_equal(e.code, MWE_CONFIG);
    assert_string_equal(e.msg, msg);
    pairs_free(&p);
}

#define EXPECT_ERROR(text, msg) expect_error((text), sizeof(text) - 1, (msg))

static void test_basic(void **state)
{
    (void)state;
    expect_pairs("A=1\nB_2=two\n_c=x y\n", "A", "1", "B_2", "two", "_c", "x y", NULL);
    expect_pairs("", NULL);
    expect_pairs("\n\n   \n\t\n", NULL);
    expect_pairs("  A = 1  \n", "A", "1", NULL);
    expect_pairs("A=\nB=\"\"\nC=''\n", "A", "", "B", "", "C", "", NULL);
    expect_pairs("A=a=b=c\n", "A", "a=b=c", NULL);
    expect_pairs("A=1\nA=2\n", "A", "1", "A", "2", NULL);
}

static void test_no_trailing_newline_and_crlf(void **state)
{
    (void)state;
    expect_pairs("A=1\nB=2", "A", "1", "B", "2", NULL);
    expect_pairs("A=1\r\nB=2\r\n", "A", "1", "B", "2", NULL);
    expect_pairs("A=1\r\nB=\"x y\"\r\nC='z'\r\n# c\r\n\r\n", "A", "1", "B", "x y", "C", "z", NULL);
    expect_pairs("A=1\r", "A", "1", NULL);
    expect_pairs("\xEF\xBB\xBF"
                 "A=1\n",
                 "A", "1", NULL); /* byte order mark */
}

static void test_comments(void **state)
{
    (void)state;
    expect_pairs("# a comment\n  # indented\nA=1 # inline\nB=x#y\nC=x\t# tab\nD= # only\n", "A",
                 "1", "B", "x#y", "C", "x", "D", "", NULL);
    expect_pairs("E='a # b' # c\nF=\"a # b\"#c\n", "E", "a # b", "F", "a # b", NULL);
    expect_pairs("G=#not-a-comment\n", "G", "#not-a-comment", NULL);
}

static void test_export(void **state)
{
    (void)state;
    expect_pairs("export A=1\nexport\tB=2\n  export   C = 3\n", "A", "1", "B", "2", "C", "3", NULL);
    expect_pairs("export=1\nexportX=2\n", "export", "1", "exportX", "2", NULL);
    EXPECT_ERROR("export \n", "line 1: expected KEY=VALUE with KEY like [A-Za-z_][A-Za-z0-9_]*");
    EXPECT_ERROR("export A\n",
                 "line 1: expected '=' after the key (KEY like [A-Za-z_][A-Za-z0-9_]*)");
}

static void test_quotes_and_escapes(void **state)
{
    (void)state;
    expect_pairs("A='lit \\n \"x\" $y'\n", "A", "lit \\n \"x\" $y", NULL);
    expect_pairs("B=\"l1\\nl2 \\\"q\\\" back\\\\slash\"\n", "B", "l1\nl2 \"q\" back\\slash", NULL);
    expect_pairs("C=\"  keep spaces  \"\nD='  too  '\n", "C", "  keep spaces  ", "D", "  too  ",
                 NULL);
    expect_pairs("E=\"it's\"\nF='say \"hi\"'\n", "E", "it's", "F", "say \"hi\"", NULL);
    expect_pairs("G=a'b\"c\n", "G", "a'b\"c", NULL); /* quotes inside an unquoted value */
    expect_pairs("H=\"x\"   \n", "H", "x", NULL);
    EXPECT_ERROR("A=1\nB=\"x\\ty\"\n", "line 2: unknown escape '\\t' in double quotes "
                                       "(accepted: \\n \\\" \\\\)");
}

static void test_malformed_lines(void **state)
{
    (void)state;
    EXPECT_ERROR("A=1\n\nB='open\nC=3\n", "line 3: unterminated single quote");
    EXPECT_ERROR("A=\"open\n", "line 1: unterminated double quote");
    EXPECT_ERROR("A=1\nB=\"ends with backslash\\\"\n", "line 2: unterminated double quote");
    EXPECT_ERROR("A=\"\\", "line 1: unterminated double quote");
    EXPECT_ERROR("# c\nA=\"x\" y\n", "line 2: unexpected text after the closing quote");
    EXPECT_ERROR("A='x'y\n", "line 1: unexpected text after the closing quote");
    EXPECT_ERROR("A=1\nJUSTTEXT\n", "line 2: expected '=' after the key "
                                    "(KEY like [A-Za-z_][A-Za-z0-9_]*)");
    EXPECT_ERROR("1A=x\n", "line 1: expected KEY=VALUE with KEY like [A-Za-z_][A-Za-z0-9_]*");
    EXPECT_ERROR("A=1\r\nB=2\r\n=x\r\n", "line 3: expected KEY=VALUE with KEY like "
                                         "[A-Za-z_][A-Za-z0-9_]*");
    EXPECT_ERROR("A-B=x\n", "line 1: expected '=' after the key (KEY like [A-Za-z_][A-Za-z0-9_]*)");
    EXPECT_ERROR("A B=x\n", "line 1: expected '=' after the key (KEY like [A-Za-z_][A-Za-z0-9_]*)");
    EXPECT_ERROR("\xC3\xA9=x\n", "line 1: expected KEY=VALUE with KEY like [A-Za-z_][A-Za-z0-9_]*");
}

static void test_nul_bytes(void **state)
{
    (void)state;
    EXPECT_ERROR("A=1\nB=x\0y\n", "line 2: contains a NUL byte");
    EXPECT_ERROR("\0", "line 1: contains a NUL byte");
    EXPECT_ERROR("A=1\n# c\0omment\n", "line 2: contains a NUL byte");
    EXPECT_ERROR("A=1\nB=\"x\0\"\n", "line 2: contains a NUL byte");
}

static void test_len_is_respected(void **state)
{
    struct pairs p = {0};
    struct mw_error e;

    (void)state;
    /* Only the first 3 bytes count: "A=1". */
    assert_int_equal(parse_n("A=1\nB=2\n", 3, &p, &e), 0);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.value[0], "1");
    pairs_free(&p);
    /* A quote cut by len is unterminated, not read beyond. */
    expect_error("A=\"abc\"", 5, "line 1: unterminated double quote");
    /* NULL text with len 0 is an empty file. */
    memset(&e, 0, sizeof(e));
    assert_int_equal(dotenv_parse(NULL, 0, collect, &p, &e), 0);
    assert_int_equal(p.n, 0);
}

static void test_line_limit(void **state)
{
    size_t n = 65536 + 64;
    char *text = malloc(n);
    struct pairs p = {0};
    struct mw_error e;

    (void)state;
    assert_non_null(text);
    /* Line 2 of exactly 65536 bytes: accepted. */
    memcpy(text, "A=1\nB=", 6);
    memset(text + 6, 'x', 65536 - 2);
    assert_int_equal(parse_n(text, 4 + 65536, &p, &e), 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(strlen(p.value[1]), 65536 - 2);
    pairs_free(&p);
    /* The same with CRLF: the CR is not part of the line. */
    text[4 + 65536] = '\r';
    text[4 + 65537] = '\n';
    assert_int_equal(parse_n(text, 4 + 65538, &p, &e), 0);
    pairs_free(&p);
    /* 65537 bytes: refused, naming the line. */
    text[4 + 65536] = 'x';
    expect_error(text, 4 + 65537, "line 2: longer than 65536 bytes");
    /* Also a comment line. */
    text[4] = '#';
    expect_error(text, 4 + 65537, "line 2: longer than 65536 bytes");
    free(text);
}

static void test_callback_stops(void **state)
{
    struct pairs p = {0};
    struct mw_error e;

    (void)state;
    p.stop_at = 2;
    assert_int_equal(parse("A=1\nB=2\nC=3\n", &p, &e), 42);
    assert_int_equal(p.n, 2);
    pairs_free(&p);
}

struct lines {
    size_t n;
    size_t line[4];
};

static int note_line(const char *key, const char *value, size_t line, void *ctx)
{
    struct lines *l = ctx;

    (void)key;
    (void)value;
    if (l->n == 4)
        return -1;
    l->line[l->n++] = line;
    return 0;
}

/* dotenv_scan numbers the physical lines (1-based) past a BOM, comments, blanks and CRLF. */
static void test_scan_line_numbers(void **state)
{
    static const char text[] = "\xEF\xBB\xBF# c\r\nA=1\r\n\n  \nexport B='x'\nC=\"y\" # z";
    struct lines l = {0};
    struct mw_error e = {0};

    (void)state;
    assert_int_equal(dotenv_scan(text, sizeof(text) - 1, note_line, &l, &e), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.line[0], 2);
    assert_int_equal(l.line[1], 5);
    assert_int_equal(l.line[2], 6);
    assert_int_equal(dotenv_scan("A=1\n\nB", 7, note_line, &l, &e), MWE_CONFIG);
    assert_non_null(strstr(e.msg, "line 3"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_line_numbers),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_no_trailing_newline_and_crlf),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_quotes_and_escapes),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_len_is_respected),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
