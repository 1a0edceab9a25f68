/*
 * Unit tests of src/api/trace.c: W3C Trace Context traceparent and tracestate validation (the
 * header values a client sends; invalid ones must be refused, never crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool tp(const char *s)
{
    return api_traceparent_valid(s, strlen(s));
}

static bool ts(const char *s)
{
    return api_tracestate_valid(s, strlen(s));
}

/* Writes n members "k0=v,k1=v,..." into buf. */
static void members(char *buf, size_t cap, int n)
{
    size_t off = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%sk%d=v", i ? "," : "", i);
}

static void test_traceparent_valid(void **state)
{
    assert_true(tp(TP));
    assert_true(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    assert_true(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff"));
    assert_true(tp("00-00000000000000000000000000000001-0000000000000001-01"));
    /* Only len bytes are read: trailing bytes past len do not matter. */
    assert_true(api_traceparent_valid(TP "garbage", strlen(TP)));
}

static void test_traceparent_invalid(void **state)
{
    assert_false(api_traceparent_valid(NULL, 55));
    assert_false(tp(""));
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0"));   /* 54 */
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011")); /* 56 */
    assert_false(tp("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  /* upper */
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"));
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"));
    assert_false(tp("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")); /* version */
    assert_false(tp("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    assert_false(tp("00-00000000000000000000000000000000-00f067aa0ba902b7-01")); /* zero id */
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")); /* zero parent */
    assert_false(tp("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")); /* separators */
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"));
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"));
    assert_false(tp("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01")); /* not hex */
    assert_false(tp(" 0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    char nul[] = TP;
    nul[10] = '\0';
    assert_false(api_traceparent_valid(nul, sizeof(nul) - 1));
}

static void test_tracestate_valid(void **state)
{
    char buf[600];

    assert_true(ts("congo=t61rcWkgMzE"));
    assert_true(ts("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    assert_true(ts("  rojo=1 ,\tcongo=2  "));
    assert_true(ts(""));
    assert_true(ts(",,  ,")); /* empty members are allowed */
    assert_true(ts("a@b=1"));
    assert_true(ts("1tenant@sys-tem=x")); /* a tenant may start with a digit */
    assert_true(ts("k*_-/=v"));
    assert_true(ts("k= leading spaces"));
    assert_true(ts("k=a b c"));
    assert_true(ts("k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"));
    /* Bounds: 32 members, keys of 256 and values of 256 characters, 512 bytes in all. */
    members(buf, sizeof(buf), 32);
    assert_true(ts(buf));
    memset(buf, 'a', 256);
    snprintf(buf + 256, sizeof(buf) - 256, "=v");
    assert_true(ts(buf));
    buf[0] = 'k';
    buf[1] = '=';
    memset(buf + 2, 'v', 256);
    buf[258] = '\0';
    assert_true(ts(buf));
    memset(buf, ' ', 512);
    buf[0] = 'k', buf[1] = '=', buf[2] = 'v', buf[512] = '\0';
    assert_true(ts(buf));
}

static void test_tracestate_invalid(void **state)
{
    char buf[600];

    assert_false(api_tracestate_valid(NULL, 0));
    assert_false(ts("k"));          /* no '=' */
    assert_false(ts("k="));         /* empty value */
    assert_false(ts("k=   "));      /* blanks only */
    assert_false(ts("=v"));         /* empty key */
    assert_false(ts("Rojo=1"));     /* upper case key */
    assert_false(ts("1a=1"));       /* a simple key starts with a letter */
    assert_false(ts("k=a=b"));      /* '=' in a value */
    assert_false(ts("k=a\tb"));     /* tab in a value */
    assert_false(ts("k=a\x01"));    /* control character */
    assert_false(ts("k=\xc3\xa9")); /* not ASCII */
    assert_false(ts("k=\x7f"));
    assert_false(ts("a=1,b=2,a=3"));         /* duplicate key */
    assert_false(ts("a@=1"));                /* empty system */
    assert_false(ts("@b=1"));                /* empty tenant */
    assert_false(ts("a@1b=1"));              /* system starts with a letter */
    assert_false(ts("a@abcdefghijklmno=1")); /* system of 15 */
    assert_false(ts("a@b@c=1"));
    assert_false(ts("k.x=1"));
    /* 33 members */
    members(buf, sizeof(buf), 33);
    assert_false(ts(buf));
    memset(buf, 'a', 257);
    snprintf(buf + 257, sizeof(buf) - 257, "=v");
    assert_false(ts(buf)); /* key of 257 */
    buf[0] = 'k';
    buf[1] = '=';
    memset(buf + 2, 'v', 257);
    buf[259] = '\0';
    assert_false(ts(buf)); /* value of 257 */
    memset(buf, ' ', 513);
    buf[0] = 'k', buf[1] = '=', buf[2] = 'v', buf[513] = '\0';
    assert_false(ts(buf)); /* 513 bytes */
    char nul[] = "k=v,x=y";
    nul[5] = '\0';
    assert_false(api_tracestate_valid(nul, sizeof(nul) - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent_valid),
        cmocka_unit_test(test_traceparent_invalid),
        cmocka_unit_test(test_tracestate_valid),
        cmocka_unit_test(test_tracestate_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
