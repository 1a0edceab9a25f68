/*
 * mw_url_redact: the one place a URL that may carry credentials (a proxy, Redis) is turned into
 * something printable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_redact(void **state)
{
    static const char *const cases[][2] = {
        {"http://user:pw@proxy:3128", "http://<redacted>@proxy:3128"},
        {"http://user:p@ss@proxy:3128/x@y", "http://<redacted>@proxy:3128/x@y"},
        {"http://proxy:3128", "http://proxy:3128"},
        {"http://proxy:3128/path?u=a@b", "http://proxy:3128/path?u=a@b"},
        {"socks5h://u@10.0.0.1:1080", "socks5h://<redacted>@10.0.0.1:1080"},
        {"user:pw@proxy:3128", "<redacted>@proxy:3128"},
        {"", ""},
    };
    char out[128];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mw_url_redact(cases[i][0], out, sizeof(out));
        assert_string_equal(out, cases[i][1]);
    }
    /* A small output is cut, never overrun, and never shows the secret's tail. */
    mw_url_redact("http://user:secret@proxy:3128", out, 12);
    assert_int_equal(strlen(out), 11);
    assert_null(strstr(out, "secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_redact)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
