/* Unit tests of the method+path router and the Allow header text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

static int h(void *ctx, struct request *r)
{
    (void)ctx;
    (void)r;
    return HTTP_DONE;
}

static const struct route routes[] = {
    {HTTP_GET, "/", h, NULL, "root", false},
    {HTTP_GET, "/api/v1/models", h, NULL, "models", false},
    {HTTP_GET, "/api/v1/models/{name}", h, NULL, "model", false},
    {HTTP_POST, "/api/v1/models/{name}/predict", h, NULL, "predict", true},
    {HTTP_DELETE, "/api/v1/models/{name}", h, NULL, "model_delete", false},
    {HTTP_GET, "/a/{x}/b/{y}", h, NULL, "two", false},
};

static int match(const char *path, unsigned method, const struct route **rt, struct slice *p,
                 size_t *np, unsigned *allowed)
{
    return router_match(routes, MW_ARRAY_LEN(routes), method, path, strlen(path), rt, p, np,
                        allowed);
}

static void test_exact_and_params(void **state)
{
    const struct route *rt = NULL;
    struct slice p[HTTP_MAX_PARAMS];
    size_t np = 0;
    unsigned allowed = 0;

    assert_int_equal(match("/", HTTP_GET, &rt, p, &np, &allowed), 0);
    assert_string_equal(rt->name, "root");
    assert_int_equal(match("/api/v1/models/iris", HTTP_GET, &rt, p, &np, &allowed), 0);
    assert_string_equal(rt->name, "model");
    assert_int_equal(np, 1);
    assert_int_equal(p[0].len, 4);
    assert_memory_equal(p[0].ptr, "iris", 4);
    assert_int_equal(match("/api/v1/models/iris/predict", HTTP_POST, &rt, p, &np, &allowed), 0);
    assert_string_equal(rt->name, "predict");
    assert_int_equal(match("/a/1/b/22", HTTP_GET, &rt, p, &np, &allowed), 0);
    assert_int_equal(np, 2);
    assert_memory_equal(p[1].ptr, "22", 2);
    /* HEAD is implied by GET. */
    assert_int_equal(match("/api/v1/models", HTTP_HEAD, &rt, p, &np, &allowed), 0);
}

static void test_not_found(void **state)
{
    const struct route *rt = NULL;
    struct slice p[HTTP_MAX_PARAMS];
    size_t np = 0;
    unsigned allowed = 0;
    const char *paths[] = {"", "/api", "/api/v1/models/", "/api/v1/models//predict",
                           "/api/v1/models/iris/predict/", "/api/v1/modelsx", "//",
                           "/a/1/b/", "/a//b/2"};
    for (size_t i = 0; i < MW_ARRAY_LEN(paths); i++)
        assert_int_equal(match(paths[i], HTTP_GET, &rt, p, &np, &allowed), MWE_NOT_FOUND);
}

static void test_method_not_allowed(void **state)
{
    const struct route *rt = NULL;
    struct slice p[HTTP_MAX_PARAMS];
    size_t np = 0;
    unsigned allowed = 0;
    char text[64];

    assert_int_equal(match("/api/v1/models/iris", HTTP_POST, &rt, p, &np, &allowed),
                     MWE_METHOD_NOT_ALLOWED);
    assert_int_equal(allowed, HTTP_GET | HTTP_HEAD | HTTP_DELETE);
    http_methods_str(allowed, text, sizeof(text));
    assert_string_equal(text, "GET, HEAD, DELETE");
    assert_int_equal(match("/api/v1/models/iris/predict", HTTP_GET, &rt, p, &np, &allowed),
                     MWE_METHOD_NOT_ALLOWED);
    http_methods_str(allowed, text, sizeof(text));
    assert_string_equal(text, "POST");
    /* Truncation keeps whole names and a NUL. */
    http_methods_str(HTTP_GET | HTTP_HEAD | HTTP_POST, text, 10);
    assert_string_equal(text, "GET, HEAD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_params),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
