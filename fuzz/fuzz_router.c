/*
 * libFuzzer target for router_match on the server's route patterns (a copy of src/api/api.c's
 * table without the handlers): the first byte picks the method, the rest is the path, passed as a
 * slice exactly as long as the input (not NUL-terminated, as the transport passes it). A match
 * must give captures that are non-empty slices of the path without '/', and substituting them
 * into the pattern must give the path back; a 405 must name allowed methods that exclude the one
 * asked. Seeds: fuzz/corpus/router/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define R(m, p) {m, p, NULL, NULL, p, false}
static const struct route routes[] = {
    R(HTTP_GET, "/"),
    R(HTTP_GET, "/api/v1/health"),
    R(HTTP_GET, "/api/v1/health/live"),
    R(HTTP_GET, "/api/v1/health/ready"),
    R(HTTP_GET, "/api/v1/models"),
    R(HTTP_GET, "/api/v1/models/{name}"),
    R(HTTP_POST, "/api/v1/models/{name}/predict"),
    R(HTTP_POST, "/api/v1/predict"),
    R(HTTP_GET, "/v2"),
    R(HTTP_GET, "/v2/"),
    R(HTTP_GET, "/v2/health/live"),
    R(HTTP_GET, "/v2/health/ready"),
    R(HTTP_GET, "/v2/models/{name}"),
    R(HTTP_GET, "/v2/models/{name}/versions/{version}"),
    R(HTTP_GET, "/v2/models/{name}/ready"),
    R(HTTP_GET, "/v2/models/{name}/versions/{version}/ready"),
    R(HTTP_POST, "/v2/models/{name}/infer"),
    R(HTTP_POST, "/v2/models/{name}/versions/{version}/infer"),
    R(HTTP_POST, "/v2/repository/index"),
    R(HTTP_POST, "/v2/repository/models/{name}/load"),
    R(HTTP_POST, "/v2/repository/models/{name}/unload"),
    R(HTTP_GET, "/api/v1/sla"),
    R(HTTP_GET, "/metrics"),
    R(HTTP_GET, "/openapi.json"),
    R(HTTP_GET, "/docs"),
    R(HTTP_GET, "/docs/{file}"),
    R(HTTP_GET, "/api/v1/compliance"),
    R(HTTP_GET, "/api/v1/sbom"),
    R(HTTP_GET, "/api"),
    R(HTTP_GET, "/api/"),
    R(HTTP_GET, "/api/health"),
    R(HTTP_GET, "/api/health/"),
    R(HTTP_POST, "/api/predict"),
    R(HTTP_POST, "/api/predict/"),
    /* more captures than a request can hold: never matches */
    R(HTTP_GET, "/x/{a}/{b}/{c}/{d}/{e}"),
    R(HTTP_PUT | HTTP_DELETE, "/{a}/{b}"),
};

/* Whether pattern with the captures put in place of its "{...}" is exactly path. */
static bool rebuilds(const char *pat, const struct slice *params, size_t n_params,
                     const char *path, size_t len)
{
    size_t at = 0, k = 0;

    for (const char *p = pat; *p != '\0'; p++) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (close == NULL || k >= n_params || params[k].len > len - at ||
                memcmp(path + at, params[k].ptr, params[k].len) != 0)
                return false;
            at += params[k++].len;
            p = close;
        } else {
            if (at >= len || path[at] != *p)
                return false;
            at++;
        }
    }
    return at == len && k == n_params;
}

/* libFuzzer entry point: data is borrowed for the call; never fails (returns 0); a broken
 * invariant aborts. Single-threaded. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned methods[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, 0};
    const struct route *rt = NULL;
    struct slice params[HTTP_MAX_PARAMS];
    size_t n_params = 0, len, i;
    unsigned method, allowed = 0;
    const char *path;
    int rc;

    if (size < 1)
        return 0;
    method = methods[data[0] % MW_ARRAY_LEN(methods)];
    path = (const char *)data + 1;
    len = size - 1;
    rc = router_match(routes, MW_ARRAY_LEN(routes), method, path, len, &rt, params, &n_params,
                      &allowed);
    if (rc == 0) {
        unsigned m = rt != NULL ? rt->methods : 0;
        if (m & HTTP_GET)
            m |= HTTP_HEAD;
        if (rt == NULL || n_params > HTTP_MAX_PARAMS || (m & method) == 0)
            abort();
        for (i = 0; i < n_params; i++)
            if (params[i].len == 0 || params[i].ptr < path ||
                params[i].ptr + params[i].len > path + len ||
                memchr(params[i].ptr, '/', params[i].len) != NULL)
                abort();
        if (!rebuilds(rt->pattern, params, n_params, path, len))
            abort();
    } else if (rc == MWE_METHOD_NOT_ALLOWED) {
        if (allowed == 0 || (allowed & method) != 0)
            abort();
    } else if (rc != MWE_NOT_FOUND) {
        abort();
    }
    return 0;
}
